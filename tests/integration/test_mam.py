"""XEP-0313 Message Archive Management (urn:xmpp:mam:2) and XEP-0359
stanza ids for accounts (issue 16), statement by statement."""

import time
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import NS_CLIENT, RawClient, q, stanza_error

NS_MAM = "urn:xmpp:mam:2"
NS_SID = "urn:xmpp:sid:0"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_DATA = "jabber:x:data"


def form(**fields):
    out = ["<x xmlns='%s' type='submit'><field var='FORM_TYPE' "
           "type='hidden'><value>%s</value></field>" % (NS_DATA, NS_MAM)]
    for k, v in fields.items():
        vals = v if isinstance(v, list) else [v]
        out.append("<field var='%s'>%s</field>" % (
            k.replace("_", "-"), "".join("<value>%s</value>" % x
                                         for x in vals)))
    return "".join(out) + "</x>"


def query(c, fields=None, rsm="", flip=False, qid="q1"):
    """(results, fin): the result messages of one query, then its fin."""
    c.send("<iq type='set' id='%s'><query xmlns='%s' queryid='%s'>%s%s%s"
           "</query></iq>" % (qid, NS_MAM, qid, form(**fields) if fields
                              else "", rsm, "<flip-page/>" if flip else ""))
    results = []
    while True:
        el = c.recv(lambda e: (e.tag == q(NS_CLIENT, "iq") and
                               e.get("id") == qid) or
                    (e.tag == q(NS_CLIENT, "message") and
                     e.find(q(NS_MAM, "result")) is not None))
        if el.tag == q(NS_CLIENT, "iq"):
            return results, el
        results.append(el.find(q(NS_MAM, "result")))


def body_of(result):
    m = result.find(q(NS_FWD, "forwarded")).find(q(NS_CLIENT, "message"))
    return m.findtext(q(NS_CLIENT, "body"))


def rsm_set(max_=None, after=None, before=None):
    out = "<set xmlns='%s'>" % NS_RSM
    if max_ is not None:
        out += "<max>%d</max>" % max_
    if after is not None:
        out += "<after>%s</after>" % after
    if before is not None:
        out += "<before>%s</before>" % before if before else "<before/>"
    return out + "</set>"


@pytest.fixture
def pair(server, passwords):
    alice = RawClient(server.c2s_port, domain=server.domain)
    alice.login("alice", passwords["alice"])
    alice.presence()
    bob = RawClient(server.c2s_port, domain=server.domain)
    bob.login("bob", passwords["bob"])
    bob.presence()
    yield alice, bob
    alice.close()
    bob.close()


def chat(frm, to, body, extra=""):
    frm.send("<message to='%s' type='chat'><body>%s</body>%s</message>"
             % (to, body, extra))


def recv_chat(c, body):
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.findtext(q(NS_CLIENT, "body")) == body)


def test_features_on_the_account(pair):
    """Section 7 and XEP-0359 section 6: the account advertises both."""
    alice, _ = pair
    r = alice.iq("get", "<query xmlns='http://jabber.org/protocol/"
                 "disco#info'/>", to="alice@localhost")
    feats = {f.get("var") for f in r.iter(
        "{http://jabber.org/protocol/disco#info}feature")}
    assert {NS_MAM, NS_SID} <= feats


def test_received_message_has_a_stanza_id_that_names_it(pair):
    """XEP-0359 section 4 and XEP-0313 section 5.1: the archive adds
    <stanza-id by=account/>, and the same id names the archived copy."""
    alice, bob = pair
    chat(bob, "alice@localhost", "hello alice")
    m = recv_chat(alice, "hello alice")
    sid = m.find(q(NS_SID, "stanza-id"))
    assert sid is not None and sid.get("by") == "alice@localhost"
    results, fin = query(alice)
    assert fin.get("type") == "result"
    mine = [r for r in results if r.get("id") == sid.get("id")]
    assert len(mine) == 1
    assert body_of(mine[0]) == "hello alice"
    assert mine[0].get("queryid") == "q1"
    stamp = mine[0].find(q(NS_FWD, "forwarded")).find(q(NS_DELAY, "delay"))
    assert stamp is not None and stamp.get("stamp").endswith("Z")


def test_sent_messages_are_archived_too(pair):
    alice, bob = pair
    chat(alice, "bob@localhost", "from alice")
    recv_chat(bob, "from alice")
    results, _ = query(alice)
    assert [body_of(r) for r in results] == ["from alice"]
    results, _ = query(bob)
    assert [body_of(r) for r in results] == ["from alice"]


def test_forged_stanza_id_is_removed(pair):
    """XEP-0359 section 4: a stanza-id with by= the account, from anyone
    else, is not passed on."""
    alice, bob = pair
    chat(bob, "alice@localhost", "forged",
         "<stanza-id xmlns='%s' by='alice@localhost' id='666'/>" % NS_SID)
    m = recv_chat(alice, "forged")
    ids = [s.get("id") for s in m.findall(q(NS_SID, "stanza-id"))]
    assert "666" not in ids and len(ids) == 1


def test_what_is_not_archived(pair):
    """Section 5.1.1: no chat states alone, no no-store hints, no
    errors or headlines."""
    alice, bob = pair
    bob.send("<message to='alice@localhost' type='chat'><active xmlns="
             "'http://jabber.org/protocol/chatstates'/></message>")
    chat(bob, "alice@localhost", "not kept", "<no-store xmlns="
         "'urn:xmpp:hints'/>")
    bob.send("<message to='alice@localhost' type='headline'><body>news"
             "</body></message>")
    chat(bob, "alice@localhost", "kept")
    recv_chat(alice, "kept")
    results, _ = query(alice)
    assert [body_of(r) for r in results] == ["kept"]


def test_paging_forward_backward_and_flip(pair):
    """Section 4.3 with XEP-0059: max, after, before (empty: the last
    page), complete on the last page, flip-page."""
    alice, bob = pair
    for i in range(25):
        chat(bob, "alice@localhost", "m%02d" % i)
    recv_chat(alice, "m24")
    page, fin = query(alice, rsm=rsm_set(10))
    fin_el = fin.find(q(NS_MAM, "fin"))
    assert [body_of(r) for r in page] == ["m%02d" % i for i in range(10)]
    assert fin_el.get("complete") in (None, "false")
    s = fin_el.find(q(NS_RSM, "set"))
    assert s.findtext(q(NS_RSM, "first")) == page[0].get("id")
    assert s.findtext(q(NS_RSM, "last")) == page[-1].get("id")
    page2, fin = query(alice, rsm=rsm_set(10, after=page[-1].get("id")),
                       qid="q2")
    assert [body_of(r) for r in page2] == ["m%02d" % i for i in range(10, 20)]
    page3, fin = query(alice, rsm=rsm_set(10, after=page2[-1].get("id")),
                       qid="q3")
    assert [body_of(r) for r in page3] == ["m%02d" % i for i in range(20, 25)]
    assert fin.find(q(NS_MAM, "fin")).get("complete") == "true"
    last, fin = query(alice, rsm=rsm_set(10, before=""), qid="q4")
    assert [body_of(r) for r in last] == ["m%02d" % i for i in range(15, 25)]
    prev, fin = query(alice, rsm=rsm_set(10, before=last[0].get("id")),
                      qid="q5")
    assert [body_of(r) for r in prev] == ["m%02d" % i for i in range(5, 15)]
    flipped, fin = query(alice, rsm=rsm_set(10, before=""), flip=True,
                         qid="q6")
    assert [body_of(r) for r in flipped] == ["m%02d" % i
                                             for i in range(24, 14, -1)]
    assert fin.find(q(NS_MAM, "fin")).find(q(NS_MAM, "flip-page")) \
        is not None


def test_filters_with_time_and_ids(server, pair, passwords):
    """Section 4.1: with, start, end; the extended before-id, after-id
    and ids."""
    alice, bob = pair
    carol = RawClient(server.c2s_port, domain=server.domain)
    carol.login("carol", passwords["carol"])
    chat(bob, "alice@localhost", "b1")
    recv_chat(alice, "b1")
    chat(carol, "alice@localhost", "c1")
    recv_chat(alice, "c1")
    time.sleep(1.1)
    mid = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(0.1)
    chat(bob, "alice@localhost", "b2")
    recv_chat(alice, "b2")
    allr, _ = query(alice)
    ids = {body_of(r): r.get("id") for r in allr}
    r, _ = query(alice, {"with": "bob@localhost"})
    assert [body_of(x) for x in r] == ["b1", "b2"]
    r, _ = query(alice, {"start": mid})
    assert [body_of(x) for x in r] == ["b2"]
    r, _ = query(alice, {"end": mid})
    assert [body_of(x) for x in r] == ["b1", "c1"]
    r, _ = query(alice, {"after_id": ids["b1"]})
    assert [body_of(x) for x in r] == ["c1", "b2"]
    r, _ = query(alice, {"before_id": ids["b2"]})
    assert [body_of(x) for x in r] == ["b1", "c1"]
    r, _ = query(alice, {"ids": [ids["b2"], ids["b1"]]})
    assert [body_of(x) for x in r] == ["b2", "b1"]
    # "If any UID ... is not present in the archive, the server MUST
    # return an item-not-found error" (4.1.2).
    _, fin = query(alice, {"after_id": "123"}, qid="bad")
    assert stanza_error(fin)[1] == "item-not-found"
    _, fin = query(alice, {"start": "yesterday"}, qid="bad2")
    assert stanza_error(fin)[1] == "bad-request"
    carol.close()


def test_form_and_metadata(pair):
    """Sections 4.1.1 and 4.1 (metadata): the query form lists its fields;
    metadata names the first and last items."""
    alice, bob = pair
    r = alice.iq("get", "<metadata xmlns='%s'/>" % NS_MAM)
    md = r.find(q(NS_MAM, "metadata"))
    assert md is not None and len(list(md)) == 0
    r = alice.iq("get", "<query xmlns='%s'/>" % NS_MAM)
    x = r.find(q(NS_MAM, "query")).find(q(NS_DATA, "x"))
    vars_ = {f.get("var") for f in x.findall(q(NS_DATA, "field"))}
    assert {"FORM_TYPE", "with", "start", "end", "before-id", "after-id",
            "ids"} <= vars_
    chat(bob, "alice@localhost", "first")
    chat(bob, "alice@localhost", "last")
    recv_chat(alice, "last")
    allr, _ = query(alice)
    r = alice.iq("get", "<metadata xmlns='%s'/>" % NS_MAM)
    md = r.find(q(NS_MAM, "metadata"))
    assert md.find(q(NS_MAM, "start")).get("id") == allr[0].get("id")
    assert md.find(q(NS_MAM, "end")).get("id") == allr[-1].get("id")
    assert md.find(q(NS_MAM, "end")).get("timestamp").endswith("Z")


def test_preferences(pair):
    """Section 6: default never, with an always list; the answer echoes
    what is in force."""
    alice, bob = pair
    r = alice.iq("get", "<prefs xmlns='%s'/>" % NS_MAM)
    assert r.find(q(NS_MAM, "prefs")).get("default") == "always"
    r = alice.iq("set", "<prefs xmlns='%s' default='never'><always><jid>"
                 "carol@localhost</jid></always><never/></prefs>" % NS_MAM)
    p = r.find(q(NS_MAM, "prefs"))
    assert p.get("default") == "never"
    assert [j.text for j in p.find(q(NS_MAM, "always"))] == \
        ["carol@localhost"]
    chat(bob, "alice@localhost", "not archived")
    recv_chat(alice, "not archived")
    results, _ = query(alice)
    assert results == []
    r = alice.iq("set", "<prefs xmlns='%s' default='always'><always/>"
                 "<never><jid>bob@localhost</jid></never></prefs>" % NS_MAM)
    chat(bob, "alice@localhost", "still not")
    recv_chat(alice, "still not")
    assert query(alice)[0] == []
    r = alice.iq("set", "<prefs xmlns='%s' default='sometimes'/>" % NS_MAM)
    assert stanza_error(r)[1] == "bad-request"


def test_archive_is_the_owners_only(pair):
    alice, bob = pair
    chat(bob, "alice@localhost", "private")
    recv_chat(alice, "private")
    bob.send("<iq type='set' id='spy' to='alice@localhost'><query "
             "xmlns='%s'/></iq>" % NS_MAM)
    r = bob.recv(lambda e: e.get("id") == "spy")
    assert r.get("type") == "error"


def test_offline_copy_carries_the_id_and_archive_survives_restart(
        server_factory, passwords):
    srv = server_factory()
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    chat(bob, "alice@localhost", "while offline")
    deadline = time.time() + 10
    while "count: 1" not in srv.ctl("offline-count",
                                    "alice@localhost").stdout:
        assert time.time() < deadline
        time.sleep(0.1)
    bob.close()
    srv.restart()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    alice.login("alice", passwords["alice"])
    alice.presence()
    m = recv_chat(alice, "while offline")
    sid = m.find(q(NS_SID, "stanza-id"))
    results, _ = query(alice)
    assert [r.get("id") for r in results] == [sid.get("id")]
    alice.close()


def test_retention_and_account_deletion(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("mam", retention="2")
    srv.start()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    alice.login("alice", passwords["alice"])
    alice.presence()
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    chat(bob, "alice@localhost", "short-lived")
    recv_chat(alice, "short-lived")
    assert len(query(alice)[0]) == 1
    deadline = time.time() + 10
    while query(alice, qid="again")[0]:
        assert time.time() < deadline, "not purged"
        time.sleep(0.5)
    chat(bob, "alice@localhost", "kept a while")
    recv_chat(alice, "kept a while")
    out = srv.ctl_ok("--json", "mam-browse", "alice@localhost").stdout
    assert "kept a while" in out
    alice.close()
    srv.ctl_ok("deluser", "alice@localhost")
    srv.ctl_ok("adduser", "alice@localhost", input="pw-new-alice\n"
               "pw-new-alice\n")
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    alice.login("alice", "pw-new-alice")
    assert query(alice, qid="after")[0] == []
    alice.close()
    bob.close()


def test_slixmpp_reads_the_archive(pair, server, passwords):
    """slixmpp's own XEP-0313 plugin, as it ships, pages through the
    archive."""
    import asyncio
    from slix import Client, run

    alice, bob = pair
    for i in range(7):
        chat(bob, "alice@localhost", "s%d" % i)
    recv_chat(alice, "s6")

    async def go():
        c = Client(server.jid("alice") + "/slix", passwords["alice"],
                   server.c2s_port)
        c.register_plugin("xep_0313")
        await c.start()
        got = []
        async for m in c["xep_0313"].iterate(rsm={"max": 3}):
            got.append(m["mam_result"]["forwarded"]["stanza"]["body"])
        await c.close()
        return got

    assert run(go()) == ["s%d" % i for i in range(7)]


def test_message_to_oneself_is_archived_once(pair):
    alice, _ = pair
    chat(alice, "alice@localhost", "note to self")
    recv_chat(alice, "note to self")
    results, _ = query(alice)
    assert [body_of(r) for r in results] == ["note to self"]
