"""A phone's day as one test (issue 16): every mobile feature at once, as
Conversations uses them, against one emberd with its default modules.

alice's phone logs in, enables stream management with resumption and
push (the app server is carol's session, a real XMPP entity answering
the publish), joins a room, goes inactive (XEP-0352), and loses its TCP
connection without closing the stream.  While it is away bob writes to
her and mentions her in the room; the app server is told.  The phone
resumes on a new connection: every message arrives exactly once, in
order, and a MAM query (XEP-0313) returns the same messages with the
same stanza-ids."""

import time

from rawxmpp import NS_CLIENT, RawClient, q

NS_SM = "urn:xmpp:sm:3"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_CSI = "urn:xmpp:csi:0"
NS_MAM = "urn:xmpp:mam:2"
NS_SID = "urn:xmpp:sid:0"
NS_MUC = "http://jabber.org/protocol/muc"
NS_FWD = "urn:xmpp:forward:0"


def join(c, room, nick, create=False):
    c.send("<presence to='%s/%s'><x xmlns='%s'/></presence>"
           % (room, nick, NS_MUC))
    c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
           e.get("from") == "%s/%s" % (room, nick))
    if create:
        r = c.iq("set", "<query xmlns='%s#owner'><x xmlns='jabber:x:data'"
                 " type='submit'/></query>" % NS_MUC, to=room)
        assert r.get("type") == "result"


def stanza_id(m, by):
    for sid in m.iter(q(NS_SID, "stanza-id")):
        if sid.get("by") == by:
            return sid.get("id")
    return None


def test_a_phones_day(server_factory, passwords):
    srv = server_factory(start=False)
    srv.set_limits(resume_timeout="60")
    srv.start()
    room = "lounge@conference." + srv.domain
    alice_bare = "alice@" + srv.domain

    app = RawClient(srv.c2s_port, domain=srv.domain)
    app_jid = app.login("carol", passwords["carol"])
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    bob.presence()
    join(bob, room, "bob", create=True)

    phone = RawClient(srv.c2s_port, domain=srv.domain)
    phone.login("alice", passwords["alice"], resource="phone")
    phone.presence()
    phone.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
    enabled = phone.recv(q(NS_SM, "enabled"))
    # XEP-0198 4: the client's h counts stanzas from here on.
    base = phone.stanzas_in
    r = phone.iq("set", "<enable xmlns='%s' jid='%s' node='n1'/>"
                 % (NS_PUSH, app_jid))
    assert r.get("type") == "result"
    join(phone, room, "alice")
    phone.send("<inactive xmlns='%s'/>" % NS_CSI)
    # A round trip: everything the server sent before it has been read.
    phone.send("<r xmlns='%s'/>" % NS_SM)
    phone.recv(q(NS_SM, "a"))
    handled = phone.stanzas_in - base

    # The network goes; the stream is not closed.
    phone.close()
    srv.wait_log("waiting 60 s for the client to resume")

    for i in range(3):
        bob.message(alice_bare, "while away %d" % i)
    bob.send("<message to='%s' type='groupchat'><body>alice, look at this"
             "</body></message>" % room)

    # The app server hears of it (XEP-0357) and answers.
    iq = app.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                  e.find(q(NS_PUBSUB, "pubsub")) is not None, timeout=10)
    pub = iq.find(q(NS_PUBSUB, "pubsub")).find(q(NS_PUBSUB, "publish"))
    assert pub.get("node") == "n1"
    app.send("<iq type='result' id='%s' to='%s'/>"
             % (iq.get("id"), iq.get("from")))

    # Resume on a new connection with the count of stanzas the phone
    # handled before the drop.
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"], bind=False)
    c.send("<resume xmlns='%s' previd='%s' h='%d'/>"
           % (NS_SM, enabled.get("id"), handled))
    resumed = c.recv(lambda e: e.tag in (q(NS_SM, "resumed"),
                                         q(NS_SM, "failed")))
    assert resumed.tag == q(NS_SM, "resumed")
    c.send("<active xmlns='%s'/>" % NS_CSI)
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 4 and time.monotonic() < deadline:
        m = c.recv(q(NS_CLIENT, "message"), timeout=10)
        if m.findtext(q(NS_CLIENT, "body")) is not None:
            got.append(m)
    bodies = [m.findtext(q(NS_CLIENT, "body")) for m in got]
    chats = [m for m in got if m.get("type") == "chat"]
    assert [m.findtext(q(NS_CLIENT, "body")) for m in chats] == \
        ["while away 0", "while away 1", "while away 2"], bodies
    assert "alice, look at this" in bodies
    # Exactly once: nothing more comes.
    c.send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
    extra = []
    while True:
        e = c.recv(lambda e: e.tag == q(NS_CLIENT, "message") or
                   e.get("id") == "sync", timeout=5)
        if e.get("id") == "sync":
            break
        if e.findtext(q(NS_CLIENT, "body")) is not None:
            extra.append(e.findtext(q(NS_CLIENT, "body")))
    assert extra == []

    # The archive has the same messages, with the same stanza-ids.
    c.send("<iq type='set' id='mam'><query xmlns='%s' queryid='q1'><x "
           "xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
           "type='hidden'><value>%s</value></field><field var='with'>"
           "<value>bob@%s</value></field></x></query></iq>"
           % (NS_MAM, NS_MAM, srv.domain))
    archived = []
    while True:
        e = c.recv(lambda e: e.tag == q(NS_CLIENT, "message") or
                   e.get("id") == "mam", timeout=10)
        if e.get("id") == "mam":
            assert e.get("type") == "result"
            break
        res = e.find(q(NS_MAM, "result"))
        if res is None:
            continue
        fwd = res.find(q(NS_FWD, "forwarded"))
        inner = fwd.find(q(NS_CLIENT, "message"))
        archived.append((res.get("id"),
                         inner.findtext(q(NS_CLIENT, "body"))))
    assert [b for _, b in archived] == \
        ["while away 0", "while away 1", "while away 2"]
    assert [stanza_id(m, alice_bare) for m in chats] == \
        [i for i, _ in archived]
    c.close()
    bob.close()
    app.close()

