"""XEP-0045 multi-user chat: rooms, occupants, messages, history, disco,
multi-session nicks, dropped sessions and limits, with several clients."""

import socket
import time

import pytest

from rawxmpp import RawClient, disco_features, disco_identities, q
from rawxmpp import NS_DISCO_INFO, NS_DISCO_ITEMS
from muclib import (Occ, codes, item, body, error, form_fields,
                          muc_domain, NS_MUC_USER, NS_DATA, NS_DELAY,
                          PRESENCE, MESSAGE, submit_form)


@pytest.fixture
def users(server, passwords):
    made = []

    def mk(user, resource="r1"):
        o = Occ(server, user, passwords[user], resource)
        made.append(o)
        return o
    yield mk
    for o in made:
        o.close()
    # Let the server finish the exits before the fixture stops it.
    time.sleep(0.3)


def test_service_disco(server, users):
    a = users("alice")
    host_items = a.iq("get", server.domain,
                      "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
    jids = [i.get("jid") for i in host_items.iter(q(NS_DISCO_ITEMS, "item"))]
    assert muc_domain(server) in jids
    info = a.c.disco_info(muc_domain(server))
    assert ("conference", "text") in disco_identities(info)
    feats = disco_features(info)
    assert "http://jabber.org/protocol/muc" in feats
    assert "jabber:x:conference" in feats
    # Another iq to the service: an error, never silence.
    r = a.iq("get", muc_domain(server), "<query xmlns='jabber:iq:version'/>")
    assert error(r) == ("cancel", "service-unavailable")


def test_create_locked_then_instant(server, users):
    a, b = users("alice"), users("bob")
    a.join_raw("lock", "Alice")
    p = a.recv_presence("lock")
    assert {201, 110} <= codes(p)
    assert item(p).get("affiliation") == "owner"
    assert item(p).get("role") == "moderator"
    # Locked until the owner configures it.
    b.join_raw("lock", "Bob")
    p = b.recv_presence("lock")
    assert error(p) == ("cancel", "item-not-found")
    # The owner accepts the default configuration: an instant room.
    r = a.owner_set("lock", "<x xmlns='%s' type='submit'/>" % NS_DATA)
    assert r.get("type") == "result"
    p, others = b.join("lock", "Bob")
    assert [o.get("from") for o in others] == [a.room("lock") + "/Alice"]
    assert item(p).get("role") == "participant"
    assert 201 not in codes(p)
    seen = a.recv_presence("lock")
    assert seen.get("from") == a.room("lock") + "/Bob"
    # Semi-anonymous: the moderator sees Bob's JID, Bob does not see Alice's.
    assert item(seen).get("jid") == b.jid
    assert item(others[0]).get("jid") is None


def test_presence_without_x_is_not_a_join(server, users):
    # XEP-0045 7.2.18 since 1.32: no groupchat 1.0 join, a kick instead;
    # the room is not created, so the next MUC join creates it.
    a, b = users("alice"), users("bob")
    a.join_raw("gc10", "Alice", x=False)
    p = a.recv_presence("gc10")
    assert p.get("type") == "unavailable"
    assert {110, 307, 333} <= codes(p)
    p, _ = b.join("gc10", "Bob")
    assert 201 in codes(p)


def test_groupchat_subject_and_history(server, users):
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("hist", "Alice")
    b.join("hist", "Bob")
    a.recv_presence("hist")
    for i in range(5):
        a.say("hist", "m%d" % i)
    got_a = [body(a.recv_groupchat()) for _ in range(5)]
    got_b = [body(b.recv_groupchat()) for _ in range(5)]
    assert got_a == got_b == ["m0", "m1", "m2", "m3", "m4"]
    # Subject by the moderator; a participant may not change it.
    a.send("<message to='%s' type='groupchat'><subject>Topic</subject>"
           "</message>" % a.room("hist"))
    s = b.recv_message(pred=lambda e: e.findtext(
        q("jabber:client", "subject")) == "Topic")
    assert s.get("from") == a.room("hist") + "/Alice"
    b.send("<message to='%s' type='groupchat' id='s1'><subject>Mine"
           "</subject></message>" % b.room("hist"))
    e = b.recv_message(pred=lambda e: e.get("type") == "error")
    assert error(e) == ("auth", "forbidden")
    # History, then the subject, on join; each history item has a delay.
    p, _ = c.join("hist", "Carol")
    assert [body(m) for m in c.history] == ["m0", "m1", "m2", "m3", "m4"]
    assert all(m.find(q(NS_DELAY, "delay")).get("from") == c.room("hist")
               for m in c.history)
    assert c.subject == "Topic"
    # maxstanzas, maxchars, seconds, since.
    c.leave("hist", "Carol")
    c.recv_presence("hist")
    c.join("hist", "Carol", history={"maxstanzas": "2"})
    assert [body(m) for m in c.history] == ["m3", "m4"]
    for hist_attr in ({"maxchars": "0"}, {"seconds": "0"},
                      {"since": "2999-01-01T00:00:00Z"}):
        c.leave("hist", "Carol")
        c.recv_presence("hist")
        c.join("hist", "Carol", history=hist_attr)
        assert c.history == [], hist_attr
    c.leave("hist", "Carol")
    c.recv_presence("hist")
    c.join("hist", "Carol", history={"since": "2000-01-01T00:00:00Z",
                                     "maxchars": "100000"})
    assert len(c.history) == 5


def test_private_messages(server, users):
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("pm", "Alice")
    b.join("pm", "Bob")
    a.send("<message to='%s/Bob' type='chat'><body>psst</body></message>"
           % a.room("pm"))
    m = b.recv_message()
    assert m.get("from") == a.room("pm") + "/Alice" and body(m) == "psst"
    assert m.find(q(NS_MUC_USER, "x")) is not None
    a.send("<message to='%s/Nobody' type='chat' id='x'><body>?</body>"
           "</message>" % a.room("pm"))
    assert error(a.recv_message(pred=lambda e: e.get("type") == "error")) \
        == ("cancel", "item-not-found")
    # Not an occupant.
    c.send("<message to='%s/Bob' type='chat' id='y'><body>hi</body>"
           "</message>" % c.room("pm"))
    assert error(c.recv_message())[1] == "not-acceptable"
    # Groupchat to an occupant JID.
    a.send("<message to='%s/Bob' type='groupchat' id='z'><body>hi</body>"
           "</message>" % a.room("pm"))
    assert error(a.recv_message(pred=lambda e: e.get("type") == "error")) \
        == ("modify", "bad-request")
    # Room configured without private messages.
    r = a.owner_set("pm", submit_form({"muc#roomconfig_allowpm": "none"}))
    assert r.get("type") == "result"
    b.send("<message to='%s/Alice' type='chat' id='w'><body>no</body>"
           "</message>" % b.room("pm"))
    assert error(b.recv_message(pred=lambda e: e.get("type") == "error")) \
        == ("auth", "forbidden")


def test_nick_change_and_leave(server, users):
    a, b = users("alice"), users("bob")
    a.create("nick", "Alice")
    b.join("nick", "Bob")
    a.recv_presence("nick")
    b.send("<presence to='%s/Alice'/>" % b.room("nick"))
    e = b.recv_presence("nick")
    assert error(e) == ("cancel", "conflict")
    b.send("<presence to='%s/Robert'/>" % b.room("nick"))
    gone = a.recv_presence("nick")
    assert gone.get("type") == "unavailable" and 303 in codes(gone)
    assert item(gone).get("nick") == "Robert"
    back = a.recv_presence("nick")
    assert back.get("from") == a.room("nick") + "/Robert"
    mine = b.recv_presence("nick")
    assert {303, 110} <= codes(mine)
    assert 110 in codes(b.recv_presence("nick"))
    # Status change is broadcast.
    b.send("<presence to='%s/Robert'><show>away</show></presence>"
           % b.room("nick"))
    p = a.recv_presence("nick")
    assert p.find(q("jabber:client", "show")).text == "away"
    b.recv_presence("nick")
    b.leave("nick", "Robert")
    p = b.recv_presence("nick")
    assert p.get("type") == "unavailable" and 110 in codes(p)
    p = a.recv_presence("nick")
    assert p.get("type") == "unavailable"
    assert p.get("from") == a.room("nick") + "/Robert"
    # Without a nick: jid-malformed.
    b.send("<presence to='%s'/>" % b.room("nick"))
    assert error(b.recv_presence("nick")) == ("modify", "jid-malformed")


def test_temporary_room_vanishes(server, users):
    a = users("alice")
    a.create("temp", "Alice")
    info = a.c.disco_info(a.room("temp"))
    assert "muc_temporary" in disco_features(info)
    a.leave("temp", "Alice")
    a.recv_presence("temp")
    info = a.c.disco_info(a.room("temp"))
    assert error(info) == ("cancel", "item-not-found")


def test_room_disco_and_listing(server, users):
    a = users("alice")
    a.create("pub", "Alice", {"muc#roomconfig_roomname": "Public room",
                              "muc#roomconfig_roomdesc": "for all"})
    a.create("hidden", "Alice", {"muc#roomconfig_publicroom": "0",
                                 "muc#roomconfig_moderatedroom": "1",
                                 "muc#roomconfig_whois": "anyone"})
    items = a.iq("get", a.domain, "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
    listed = {i.get("jid"): i.get("name")
              for i in items.iter(q(NS_DISCO_ITEMS, "item"))}
    assert listed == {a.room("pub"): "Public room"}
    info = a.c.disco_info(a.room("pub"))
    feats = disco_features(info)
    assert {"http://jabber.org/protocol/muc", "muc_public", "muc_open",
            "muc_unmoderated", "muc_semianonymous", "muc_unsecured",
            "muc_temporary"} <= feats
    form = info.find(q(NS_DISCO_INFO, "query")).find(q(NS_DATA, "x"))
    f = form_fields(form)
    assert f["FORM_TYPE"] == ["http://jabber.org/protocol/muc#roominfo"]
    assert f["muc#roominfo_description"] == ["for all"]
    assert f["muc#roominfo_occupants"] == ["1"]
    feats = disco_features(a.c.disco_info(a.room("hidden")))
    assert {"muc_hidden", "muc_moderated", "muc_nonanonymous"} <= feats


def test_self_ping(server, users):
    a, b = users("alice"), users("bob")
    a.create("ping", "Alice")
    r = a.iq("get", a.room("ping") + "/Alice", "<ping xmlns='urn:xmpp:ping'/>")
    assert r.get("type") == "result"
    r = b.iq("get", b.room("ping") + "/Alice", "<ping xmlns='urn:xmpp:ping'/>")
    assert error(r) == ("modify", "not-acceptable")


def test_multi_session_nick(server, users):
    a1, a2, b = users("alice", "r1"), users("alice", "r2"), users("bob")
    a1.create("multi", "Alice")
    b.join("multi", "Bob")
    a1.recv_presence("multi")
    p, others = a2.join("multi", "Alice")
    assert {o.get("from") for o in others} == {a2.room("multi") + "/Bob"}
    # Bob sees no second Alice.
    b.nothing(0.5, lambda e: e.tag == PRESENCE and
              e.get("from", "").startswith(b.room("multi")))
    b.say("multi", "to both")
    assert body(a1.recv_groupchat()) == "to both"
    assert body(a2.recv_groupchat()) == "to both"
    # Private messages reach both sessions.
    b.send("<message to='%s/Alice' type='chat'><body>pm</body></message>"
           % b.room("multi"))
    assert body(a1.recv_message()) == "pm"
    assert body(a2.recv_message()) == "pm"
    # One session leaves: only it hears so.
    a2.leave("multi", "Alice")
    p = a2.recv_presence("multi")
    assert p.get("type") == "unavailable" and 110 in codes(p)
    b.nothing(0.5, lambda e: e.tag == PRESENCE and
              e.get("from", "").startswith(b.room("multi")))
    a1.leave("multi", "Alice")
    p = b.recv_presence("multi")
    assert p.get("type") == "unavailable"


def test_dropped_session_is_unavailable(server, users, passwords):
    a = users("alice")
    a.create("drop", "Alice")
    bob = Occ(server, "bob", passwords["bob"])
    bob.join("drop", "Bob")
    a.recv_presence("drop")
    # The socket goes away without unavailable presence or stream end.
    (bob.c.tls or bob.c.sock).shutdown(socket.SHUT_RDWR)
    bob.c.close()
    p = a.recv_presence("drop")
    assert p.get("type") == "unavailable"
    assert p.get("from") == a.room("drop") + "/Bob"


def test_password_members_only_and_max_users(server, users):
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("secret", "Alice", {
        "muc#roomconfig_passwordprotectedroom": "1",
        "muc#roomconfig_roomsecret": "s3cret"})
    assert "muc_passwordprotected" in disco_features(
        a.c.disco_info(a.room("secret")))
    b.join_raw("secret", "Bob")
    assert error(b.recv_presence("secret")) == ("auth", "not-authorized")
    b.join_raw("secret", "Bob", password="wrong")
    assert error(b.recv_presence("secret")) == ("auth", "not-authorized")
    b.join("secret", "Bob", password="s3cret")

    a.create("members", "Alice", {"muc#roomconfig_membersonly": "1"})
    b.join_raw("members", "Bob")
    assert error(b.recv_presence("members")) == \
        ("auth", "registration-required")
    r = a.admin("members", "<item jid='%s' affiliation='member'/>" % b.bare)
    assert r.get("type") == "result"
    p, _ = b.join("members", "Bob")
    assert item(p).get("affiliation") == "member"

    a.create("small", "Alice", {"muc#roomconfig_maxusers": "2"})
    b.join("small", "Bob")
    c.join_raw("small", "Carol")
    assert error(c.recv_presence("small")) == \
        ("cancel", "service-unavailable")
    # A value over the service's cap is refused, naming the field.
    r = a.owner_set("small", submit_form(
        {"muc#roomconfig_maxusers": "99999999"}))
    assert error(r) == ("modify", "not-acceptable")
    assert "maxusers" in r.find(q("jabber:client", "error")).find(
        q("urn:ietf:params:xml:ns:xmpp-stanzas", "text")).text


def test_not_occupant_and_unknown_room(server, users):
    a, b = users("alice"), users("bob")
    a.create("closed", "Alice")
    b.say("closed", "hi")
    assert error(b.recv_message())[1] == "not-acceptable"
    b.say("nosuchroom", "hi")
    assert error(b.recv_message()) == ("cancel", "item-not-found")
    r = b.iq("get", b.room("nosuchroom"), "<query xmlns='%s'/>"
             % NS_DISCO_INFO)
    assert error(r) == ("cancel", "item-not-found")


def test_nick_prepared_and_members_only_switch(server, users):
    a, b = users("alice"), users("bob")
    a.create("prep", "Alice")
    # A fullwidth letter: resourceprep (NFKC) changes the nick (210).
    b.join_raw("prep", "\uff22ob")
    p = b.recv_presence("prep")
    while 110 not in codes(p):
        p = b.recv_presence("prep")
    assert 210 in codes(p)
    assert p.get("from") == b.room("prep") + "/Bob"
    a.recv_presence("prep")
    # Other iqs between occupants are relayed (XEP-0045 17.4), under an id
    # of the room's, each side seeing only the other's occupant JID.
    iq = "{jabber:client}iq"
    a.send("<iq type='get' id='q1' to='%s/Bob'><query xmlns='urn:example:"
           "q'/></iq>" % a.room("prep"))
    got = b.c.recv(lambda e: e.tag == iq and e.get("type") == "get")
    assert got.get("from") == a.room("prep") + "/Alice"
    assert got.get("id") != "q1"
    b.send("<iq type='result' id='%s' to='%s'/>"
           % (got.get("id"), got.get("from")))
    r = a.c.recv(lambda e: e.tag == iq and e.get("id") == "q1")
    assert r.get("type") == "result"
    assert r.get("from") == a.room("prep") + "/Bob"
    # Made members-only, the room removes Bob (322); Alice is the owner.
    r = a.owner_set("prep", submit_form({"muc#roomconfig_membersonly": "1"}))
    assert r.get("type") == "result"
    p = b.recv_presence("prep")
    assert p.get("type") == "unavailable" and {322, 110} <= codes(p)
    p = a.recv_presence("prep")
    assert p.get("type") == "unavailable" and 322 in codes(p)
