"""XEP-0313 archives of MUC rooms (conference.HOST) with XEP-0359 stanza
ids by the room, statement by statement: sections 3.3 (the archive is on
the room's bare JID), 3.5 (stanza-id by the room), 4 (queries, filters,
paging, flip-page), 6 (metadata), 7 (what a room stores and who may read
it, real JIDs), 8 (disco), 10 (security)."""

import time
import xml.etree.ElementTree as ET

import pytest

import slix
from rawxmpp import NS_CLIENT, q, disco_features
from muclib import Occ, body, error, form_fields, submit_form, NS_MUC_USER, \
    NS_DATA

from test_mam import NS_MAM, NS_SID, NS_RSM, NS_FWD, NS_DELAY, \
    form as mam_form, rsm_set

NS_OWNER = "http://jabber.org/protocol/muc#owner"
ARCHIVING = "muc#roomconfig_enablearchiving"


_qids = iter(range(1, 1 << 30))


def query(occ, room, fields=None, rsm="", flip=False):
    """(results, fin iq) of one query to the room's archive."""
    qid = "mq%d" % next(_qids)
    occ.send("<iq type='set' id='%s' to='%s'><query xmlns='%s' queryid='%s'>"
             "%s%s%s</query></iq>" % (
                 qid, occ.room(room), NS_MAM, qid,
                 mam_form(**fields) if fields else "", rsm,
                 "<flip-page/>" if flip else ""))
    results = []
    while True:
        el = occ.recv(lambda e: (e.tag == q(NS_CLIENT, "iq") and
                                 e.get("id") == qid) or
                      (e.tag == q(NS_CLIENT, "message") and
                       e.find(q(NS_MAM, "result")) is not None and
                       e.find(q(NS_MAM, "result")).get("queryid") == qid))
        if el.tag == q(NS_CLIENT, "iq"):
            return results, el
        assert el.get("from") == occ.room(room)
        results.append(el.find(q(NS_MAM, "result")))


def forwarded(result):
    return result.find(q(NS_FWD, "forwarded")).find(q(NS_CLIENT, "message"))


def bodies(results):
    return [body(forwarded(r)) for r in results]


def fin_set(fin):
    f = fin.find(q(NS_MAM, "fin"))
    s = f.find(q(NS_RSM, "set"))
    return f, s.findtext(q(NS_RSM, "first")), s.findtext(q(NS_RSM, "last"))


def say_all(occs, speaker, room, texts):
    """speaker says each text; every occupant in occs receives each one.
    Returns the messages speaker got back."""
    mine = []
    for t in texts:
        speaker.say(room, t)
        for o in occs:
            m = o.recv_message(pred=lambda e, t=t: e.get("type") ==
                               "groupchat" and body(e) == t)
            if o is speaker:
                mine.append(m)
    return mine


@pytest.fixture
def trio(server, passwords):
    occs = [Occ(server, u, passwords[u]) for u in ("alice", "bob", "carol")]
    yield occs
    for o in occs:
        o.close()
    time.sleep(0.2)


def test_room_advertises_mam_and_stanza_ids(trio):
    """Section 8: an archiving JID advertises urn:xmpp:mam:2 and
    #extended; XEP-0359 section 6: and urn:xmpp:sid:0."""
    a, _, _ = trio
    a.create("adv", "Alice")
    feats = disco_features(a.c.disco_info(a.room("adv")))
    assert {NS_MAM, NS_MAM + "#extended", NS_SID} <= feats


def test_stanza_id_by_the_room_names_the_archived_copy(trio):
    """Section 3.5: the room adds <stanza-id by=room/>, the same for every
    occupant; section 4.3: the result id is that id, the forwarded message
    is as occupants saw it (from room/nick, no 'to'), with a delay; 7.1.2:
    stored once, not once per occupant."""
    a, b, _ = trio
    a.create("sid", "Alice")
    b.join("sid", "Bob")
    a.say("sid", "one message")
    got = [o.recv_message(pred=lambda e: body(e) == "one message")
           for o in (a, b)]
    ids = set()
    for m in got:
        sids = [s for s in m.findall(q(NS_SID, "stanza-id"))
                if s.get("by") == a.room("sid")]
        assert len(sids) == 1
        ids.add(sids[0].get("id"))
    assert len(ids) == 1
    results, fin = query(b, "sid")
    assert fin.get("type") == "result"
    assert [r.get("id") for r in results] == list(ids)
    fm = forwarded(results[0])
    assert fm.get("from") == a.room("sid") + "/Alice"
    assert fm.get("to") is None
    assert fm.get("type") == "groupchat"
    assert body(fm) == "one message"
    delay = results[0].find(q(NS_FWD, "forwarded")).find(q(NS_DELAY, "delay"))
    assert delay is not None and delay.get("stamp").endswith("Z")
    f, first, last = fin_set(fin)
    assert f.get("complete") == "true"
    assert first == last == ids.pop()


def test_forged_stanza_id_of_the_room_is_removed(trio):
    """XEP-0359 section 4: a stanza-id by the room that the sender put in
    is not passed on; the room's own replaces it."""
    a, b, _ = trio
    a.create("forge", "Alice")
    b.join("forge", "Bob")
    b.send("<message to='%s' type='groupchat'><body>forged</body>"
           "<stanza-id xmlns='%s' by='%s' id='fake-1'/></message>"
           % (b.room("forge"), NS_SID, b.room("forge")))
    m = a.recv_message(pred=lambda e: body(e) == "forged")
    sids = [s for s in m.findall(q(NS_SID, "stanza-id"))
            if s.get("by") == a.room("forge")]
    assert len(sids) == 1 and sids[0].get("id") != "fake-1"


def test_private_messages_and_chat_states_are_not_archived(trio):
    """Section 7.1.2: no private messages in a room archive; section 7.1:
    what has content is stored (a state notification is not)."""
    a, b, _ = trio
    a.create("pm", "Alice")
    b.join("pm", "Bob")
    b.send("<message to='%s/Alice' type='chat'><body>psst</body></message>"
           % b.room("pm"))
    a.recv_message(pred=lambda e: body(e) == "psst")
    b.send("<message to='%s' type='groupchat'><active xmlns='http://jabber."
           "org/protocol/chatstates'/></message>" % b.room("pm"))
    say_all([a, b], b, "pm", ["public"])
    results, _ = query(a, "pm")
    assert bodies(results) == ["public"]


def test_anyone_not_banned_may_read_an_open_room(trio):
    """Section 7.1.2: open rooms may be read by users who never entered;
    an outcast may not (forbidden, section 10.1)."""
    a, b, c = trio
    a.create("open", "Alice")
    say_all([a], a, "open", ["hello"])
    results, fin = query(c, "open")
    assert fin.get("type") == "result" and bodies(results) == ["hello"]
    r = a.admin("open", "<item jid='%s' affiliation='outcast'/>" % c.bare)
    assert r.get("type") == "result"
    results, fin = query(c, "open")
    assert results == [] and error(fin) == ("auth", "forbidden")


def test_members_only_room_archive_is_for_members(trio):
    """Section 7.1.2: in a members-only room only owners, admins and
    members may query; section 10.1: others get forbidden."""
    a, b, c = trio
    a.create("club", "Alice", {"muc#roomconfig_membersonly": "1"})
    r = a.admin("club", "<item jid='%s' affiliation='member'/>" % b.bare)
    assert r.get("type") == "result"
    say_all([a], a, "club", ["members only"])
    results, fin = query(c, "club")
    assert results == [] and error(fin) == ("auth", "forbidden")
    results, fin = query(b, "club")
    assert fin.get("type") == "result"
    assert bodies(results) == ["members only"]
    r = c.iq("get", c.room("club"), "<metadata xmlns='%s'/>" % NS_MAM)
    assert error(r) == ("auth", "forbidden")


def real_jid_of(result):
    x = forwarded(result).find(q(NS_MUC_USER, "x"))
    if x is None:
        return None
    it = x.find(q(NS_MUC_USER, "item"))
    return it.get("jid") if it is not None else None


def test_semi_anonymous_room_does_not_leak_real_jids(trio):
    """Section 7.1.2: a real JID is shown only to who may see it (a
    moderator of a semi-anonymous room); section 10.5: an <x/> the sender
    put in is stripped; section 4.1.1: 'with' names the publisher, the
    occupant JID."""
    a, b, c = trio
    a.create("masks", "Alice")      # semi-anonymous by default
    b.join("masks", "Bob")
    b.send("<message to='%s' type='groupchat'><body>I am the owner</body>"
           "<x xmlns='%s'><item jid='%s' affiliation='owner'/></x></message>"
           % (b.room("masks"), NS_MUC_USER, a.jid))
    a.recv_message(pred=lambda e: body(e) == "I am the owner")
    b.recv_message(pred=lambda e: body(e) == "I am the owner")
    say_all([a, b], a, "masks", ["from alice"])
    for asker in (b, c):
        results, _ = query(asker, "masks")
        assert bodies(results) == ["I am the owner", "from alice"]
        for r in results:
            raw = ET.tostring(forwarded(r)).decode()
            assert "alice@" not in raw and "bob@" not in raw
            assert forwarded(r).find(q(NS_MUC_USER, "x")) is None
        results, _ = query(asker, "masks", {"with": b.jid})
        assert results == []
        results, _ = query(asker, "masks",
                           {"with": asker.room("masks") + "/Bob"})
        assert bodies(results) == ["I am the owner"]
    # The owner, a moderator, sees who said what, as the room knew it.
    results, _ = query(a, "masks")
    assert [real_jid_of(r) for r in results] == [b.jid, a.jid]


def test_non_anonymous_room_shows_real_jids(trio):
    """Section 7.1.2: in a non-anonymous room the results carry the
    sender's full JID in <x xmlns=muc#user><item jid/></x>."""
    a, b, c = trio
    a.create("open-faces", "Alice", {"muc#roomconfig_whois": "anyone"})
    b.join("open-faces", "Bob")
    say_all([a, b], b, "open-faces", ["visible"])
    results, _ = query(c, "open-faces")
    assert [real_jid_of(r) for r in results] == [b.jid]


def test_paging_filters_and_metadata(trio):
    """Sections 4.1 (start/end, before-id/after-id, ids), 4.4 (RSM
    paging, the last page, complete), 4.4 flip-page, 6 (metadata), and
    item-not-found for an unknown id."""
    a, _, _ = trio
    a.create("pages", "Alice")
    texts = ["m%d" % i for i in range(7)]
    mine = say_all([a], a, "pages", texts)
    ids = [m.find(q(NS_SID, "stanza-id")).get("id") for m in mine]

    results, fin = query(a, "pages", rsm=rsm_set(max_=3))
    f, first, last = fin_set(fin)
    assert bodies(results) == texts[:3] and f.get("complete") != "true"
    assert (first, last) == (ids[0], ids[2])
    results, fin = query(a, "pages", rsm=rsm_set(max_=3, after=last))
    assert bodies(results) == texts[3:6]
    results, fin = query(a, "pages", rsm=rsm_set(max_=3, after=ids[5]))
    assert bodies(results) == texts[6:]
    assert fin_set(fin)[0].get("complete") == "true"

    results, fin = query(a, "pages", rsm=rsm_set(max_=2, before=""))
    assert bodies(results) == texts[5:]
    results, fin = query(a, "pages", rsm=rsm_set(max_=2, before=ids[5]))
    assert bodies(results) == texts[3:5]
    results, _ = query(a, "pages", rsm=rsm_set(max_=3), flip=True)
    assert bodies(results) == list(reversed(texts[:3]))

    results, _ = query(a, "pages", {"after-id": ids[1],
                                    "before-id": ids[4]})
    assert bodies(results) == texts[2:4]
    results, _ = query(a, "pages", {"ids": [ids[6], ids[0]]})
    assert bodies(results) == ["m6", "m0"]
    results, fin = query(a, "pages", rsm=rsm_set(after="999"))
    assert error(fin) == ("cancel", "item-not-found")
    results, fin = query(a, "pages", {"after-id": "nope"})
    assert error(fin) == ("cancel", "item-not-found")

    results, _ = query(a, "pages")
    stamps = [r.find(q(NS_FWD, "forwarded")).find(q(NS_DELAY, "delay"))
              .get("stamp") for r in results]
    results, _ = query(a, "pages", {"start": stamps[5]})
    assert bodies(results) == texts[5:]
    results, _ = query(a, "pages", {"end": stamps[1]})
    assert bodies(results) == texts[:2]

    r = a.iq("get", a.room("pages"), "<metadata xmlns='%s'/>" % NS_MAM)
    md = r.find(q(NS_MAM, "metadata"))
    assert md.find(q(NS_MAM, "start")).get("id") == ids[0]
    assert md.find(q(NS_MAM, "end")).get("id") == ids[6]


def test_form_and_unknown_field(trio):
    """Section 4.1.1: the form lists the fields; a field the server does
    not know gets feature-not-implemented."""
    a, _, _ = trio
    a.create("form", "Alice")
    r = a.iq("get", a.room("form"), "<query xmlns='%s'/>" % NS_MAM)
    x = r.find(q(NS_MAM, "query")).find(q(NS_DATA, "x"))
    assert {"with", "start", "end", "before-id", "after-id",
            "ids"} <= set(form_fields(x))
    results, fin = query(a, "form", {"{urn:example}full-text": "x"})
    assert error(fin) == ("cancel", "feature-not-implemented")


def test_subject_changes_are_archived(trio):
    """Section 7.1.2: subject changes are stored as well."""
    a, _, _ = trio
    a.create("topic", "Alice")
    a.send("<message to='%s' type='groupchat'><subject>New topic</subject>"
           "</message>" % a.room("topic"))
    m = a.recv_message(pred=lambda e: e.findtext(q(NS_CLIENT, "subject"))
                       == "New topic")
    assert m.find(q(NS_SID, "stanza-id")) is not None
    results, _ = query(a, "topic")
    assert [forwarded(r).findtext(q(NS_CLIENT, "subject"))
            for r in results] == ["New topic"]


def test_archiving_off_in_the_room_config(trio):
    """Section 8: a room that keeps no archive does not advertise it; its
    messages carry no stanza-id; a query is refused."""
    a, b, _ = trio
    a.create("quiet", "Alice")
    form = a.owner_get("quiet").find(q(NS_OWNER, "query")).find(
        q(NS_DATA, "x"))
    assert form_fields(form)[ARCHIVING] == ["1"]
    r = a.owner_set("quiet", submit_form({ARCHIVING: "0"}))
    assert r.get("type") == "result"
    feats = disco_features(a.c.disco_info(a.room("quiet")))
    assert NS_MAM not in feats and NS_SID not in feats
    b.join("quiet", "Bob")
    mine = say_all([a, b], a, "quiet", ["not kept"])
    assert mine[0].find(q(NS_SID, "stanza-id")) is None
    results, fin = query(b, "quiet")
    assert results == [] and error(fin) == ("cancel", "service-unavailable")
    # ejabberd's field name, which Conversations sends too, turns it on.
    r = a.owner_set("quiet", submit_form({"mam": "1"}))
    assert r.get("type") == "result"
    results, fin = query(b, "quiet")
    assert fin.get("type") == "result" and results == []


def test_module_default_off(server_factory, passwords):
    """default-archiving="false": new rooms keep no archive until their
    owner turns it on."""
    srv = server_factory(start=False)
    srv.add_module("muc", default_archiving="false")
    srv.start()
    a = Occ(srv, "alice", passwords["alice"])
    try:
        a.create("off", "Alice")
        assert NS_MAM not in disco_features(a.c.disco_info(a.room("off")))
        a.create("on", "Alice", {ARCHIVING: "1"})
        assert NS_MAM in disco_features(a.c.disco_info(a.room("on")))
    finally:
        a.close()
        time.sleep(0.2)


def test_no_mam_module_no_room_archive(server_factory, passwords):
    """Without mod_mam on the host no room offers an archive, nor the
    field to turn one on."""
    srv = server_factory(start=False)
    srv.remove_module("mam")
    srv.start()
    a = Occ(srv, "alice", passwords["alice"])
    try:
        a.create("bare", "Alice")
        assert NS_MAM not in disco_features(a.c.disco_info(a.room("bare")))
        form = a.owner_get("bare").find(q(NS_OWNER, "query")).find(
            q(NS_DATA, "x"))
        assert ARCHIVING not in form_fields(form)
        mine = say_all([a], a, "bare", ["x"])
        assert mine[0].find(q(NS_SID, "stanza-id")) is None
    finally:
        a.close()
        time.sleep(0.2)


def test_archive_survives_a_restart(server, passwords):
    """A persistent room keeps its archive, ids included; a temporary
    room ends with the server, and so does its archive."""
    a = Occ(server, "alice", passwords["alice"])
    c = Occ(server, "carol", passwords["carol"])
    a.create("kept", "Alice", {"muc#roomconfig_persistentroom": "1"})
    mine = say_all([a], a, "kept", ["before restart"])
    sid = mine[0].find(q(NS_SID, "stanza-id")).get("id")
    c.create("passing", "Carol")
    say_all([c], c, "passing", ["said in a temporary room"])
    a.close()
    c.close()
    time.sleep(0.3)
    server.restart()
    b = Occ(server, "bob", passwords["bob"])
    try:
        results, _ = query(b, "kept")
        assert bodies(results) == ["before restart"]
        assert results[0].get("id") == sid
        b.create("passing", "Bob")
        results, _ = query(b, "passing")
        assert results == []
    finally:
        b.close()
        time.sleep(0.2)


def test_destroying_the_room_deletes_its_archive(trio):
    """A destroyed room's archive goes with it: a new room of the same
    name starts empty (an empty <metadata/>, section 6)."""
    a, b, _ = trio
    a.create("doomed", "Alice", {"muc#roomconfig_persistentroom": "1"})
    say_all([a], a, "doomed", ["last words"])
    r = a.owner_set("doomed", "<destroy/>")
    assert r.get("type") == "result"
    a.recv_presence("doomed")
    b.create("doomed", "Bob")
    results, _ = query(b, "doomed")
    assert results == []
    r = b.iq("get", b.room("doomed"), "<metadata xmlns='%s'/>" % NS_MAM)
    assert list(r.find(q(NS_MAM, "metadata"))) == []


def test_temporary_room_archive_goes_when_the_room_does(trio):
    a, b, _ = trio
    a.create("brief", "Alice")
    say_all([a], a, "brief", ["ephemeral"])
    a.leave("brief", "Alice")
    a.recv_presence("brief")
    b.create("brief", "Bob")
    results, _ = query(b, "brief")
    assert results == []


def test_reloaded_module_ends_temporary_rooms_and_their_archives(
        server, passwords):
    """A temporary room that ends with its module (a reload that changes
    the module's options) takes its archive along."""
    c = Occ(server, "carol", passwords["carol"])
    c.create("passing", "Carol")
    say_all([c], c, "passing", ["said in a temporary room"])
    server.add_module("muc", message_burst="30")
    server.save()
    server.ctl_ok("reload")
    b = Occ(server, "bob", passwords["bob"])
    try:
        b.create("passing", "Bob")
        results, _ = query(b, "passing")
        assert results == []
    finally:
        b.close()
        c.close()
        time.sleep(0.2)


def test_admins_browse_and_delete_a_room_archive(server, trio):
    """mam-browse and mam-delete take a room's bare JID too."""
    a, _, _ = trio
    a.create("audited", "Alice")
    say_all([a], a, "audited", ["on the record"])
    room = a.room("audited")
    out = server.ctl_ok("--json", "mam-browse", room).stdout
    assert "on the record" in out
    server.ctl_ok("mam-delete", room)
    results, _ = query(a, "audited")
    assert results == []
    r = server.ctl("mam-browse", "room@elsewhere.example")
    assert r.returncode != 0


def test_slixmpp_xep_0313_against_a_room(server, passwords):
    """slixmpp's own XEP-0313 plugin pages through a room's archive."""
    a = Occ(server, "alice", passwords["alice"])
    a.create("slixroom", "Alice")
    say_all([a], a, "slixroom", ["s%d" % i for i in range(5)])

    async def go():
        c = await slix.login(server, "bob", passwords["bob"])
        try:
            c.register_plugin("xep_0313")
            room = a.room("slixroom")
            got = []
            async for m in c.plugin["xep_0313"].iterate(
                    jid=room, rsm={"max": 2}):
                assert str(m["from"]) == room
                fwd = m["mam_result"]["forwarded"]["stanza"]
                assert str(fwd["from"]) == room + "/Alice"
                got.append(fwd["body"])
            return got
        finally:
            await c.close()
    try:
        assert slix.run(go()) == ["s%d" % i for i in range(5)]
    finally:
        a.close()
        time.sleep(0.2)


def test_mention_wakes_an_away_member_phone(server, passwords):
    """XEP-0357 for rooms: a registered member (XEP-0045 7.10, reserved
    nickname) who is not in the room is woken when a groupchat message
    names that nickname, through the push service its phone enabled;
    other messages and unregistered nicknames wake nobody."""
    NS_PUSH = "urn:xmpp:push:0"
    NS_PUBSUB = "http://jabber.org/protocol/pubsub"
    b = Occ(server, "bob", passwords["bob"])
    app = Occ(server, "carol", passwords["carol"])
    b.create("ring", "Bob")
    r = b.admin("ring", "<item jid='alice@%s' affiliation='member' "
                "nick='Alice'/>" % server.domain)
    assert r.get("type") == "result"
    alice = Occ(server, "alice", passwords["alice"])
    r = alice.c.iq("set", "<enable xmlns='%s' jid='%s' node='n1'/>"
                   % (NS_PUSH, app.jid))
    assert r.get("type") == "result"
    alice.close()

    def publishes(timeout):
        try:
            iq = app.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                          e.find(q(NS_PUBSUB, "pubsub")) is not None,
                          timeout=timeout)
        except TimeoutError:
            return None
        app.send("<iq type='result' id='%s' to='%s'/>"
                 % (iq.get("id"), iq.get("from")))
        return iq

    try:
        say_all([b], b, "ring", ["nothing for anyone", "Alicea is not her",
                                 "hello Bob"])
        assert publishes(1.0) is None
        say_all([b], b, "ring", ["alice: are you there?"])
        iq = publishes(5)
        assert iq is not None and iq.get("from") == "alice@" + server.domain
        pub = iq.find(q(NS_PUBSUB, "pubsub")).find(q(NS_PUBSUB, "publish"))
        assert pub.get("node") == "n1"
        # Default summaries name neither the text nor the sender.
        assert b"are you there" not in ET.tostring(iq)
    finally:
        b.close()
        app.close()
        time.sleep(0.2)
