"""mod_carbons: XEP-0280 Message Carbons."""

import asyncio

from rawxmpp import NS_CLIENT, RawClient, disco_features, q, stanza_error
from slix import login, run

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"


def client(server, passwords, user, resource, priority=None, enable=False):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    if enable:
        assert set_carbons(c, "enable").get("type") == "result"
    c.presence(priority)
    c.sync()
    return c


def set_carbons(c, op, type_="set", to=None):
    return c.iq(type_, "<%s xmlns='%s'/>" % (op, NS_CARBONS), to=to)


def drain(c):
    """Messages that arrived before a round trip to the server."""
    c.sync()
    got = [e for e in c.pending if e.tag == q(NS_CLIENT, "message")]
    for e in got:
        c.pending.remove(e)
    return got


def carbon(el, direction):
    """The forwarded message inside a carbon, after checking the wrapper."""
    w = el.find(q(NS_CARBONS, direction))
    assert w is not None, "not a %s carbon" % direction
    inner = w.find(q(NS_FORWARD, "forwarded")).find(q(NS_CLIENT, "message"))
    assert inner is not None
    return inner


def alice_three(server, passwords, p1=5, p2=1, p3=1):
    """alice/one and alice/two enable carbons, alice/three does not."""
    a1 = client(server, passwords, "alice", "one", p1, enable=True)
    a2 = client(server, passwords, "alice", "two", p2, enable=True)
    a3 = client(server, passwords, "alice", "three", p3)
    bob = client(server, passwords, "bob", "home", 0)
    return a1, a2, a3, bob


def close(*cs):
    for c in cs:
        c.close()


def test_disco_feature(server, passwords):
    c = client(server, passwords, "alice", "x")
    assert NS_CARBONS in disco_features(c.disco_info())
    c.close()


def test_inbound_to_full_jid(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    bob.message("alice@localhost/three", "to three", id_="f3")
    orig = a3.recv_message()
    assert orig.get("id") == "f3" and orig.find(q(NS_CARBONS, "received")) \
        is None
    for c in (a1, a2):
        (m,) = drain(c)
        assert m.get("from") == "alice@localhost"
        assert m.get("to") == c.jid
        assert m.get("type") == "chat"
        inner = carbon(m, "received")
        assert inner.get("id") == "f3"
        assert inner.get("from") == bob.jid
        assert inner.get("to") == "alice@localhost/three"
        assert inner.find(q(NS_CLIENT, "body")).text == "to three"
    assert drain(a3) == []
    # To an enabled resource: only the other enabled one gets a copy.
    bob.message("alice@localhost/two", "to two", id_="f2")
    assert a2.recv_message().get("id") == "f2"
    (m,) = drain(a1)
    assert carbon(m, "received").get("id") == "f2"
    assert drain(a2) == [] and drain(a3) == []
    close(a1, a2, a3, bob)


def test_inbound_to_bare_jid(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    # Original to the highest priority (one); a copy to two only.
    bob.message("alice@localhost", "to bare", id_="b1")
    assert a1.recv_message().get("id") == "b1"
    (m,) = drain(a2)
    assert carbon(m, "received").get("id") == "b1"
    assert drain(a1) == [] and drain(a3) == []
    # Same priority for one and two: both get the original, no copies.
    a2.presence(5)
    a2.sync()
    bob.message("alice@localhost", "both", id_="b2")
    for c in (a1, a2):
        (m,) = drain(c) or [c.recv_message()]
        assert m.get("id") == "b2"
        assert m.find(q(NS_CARBONS, "received")) is None
    assert drain(a3) == []
    # A negative-priority enabled resource never gets the original, so
    # it gets a copy.
    a2.presence(-1)
    a2.sync()
    bob.message("alice@localhost", "neg", id_="b3")
    assert a1.recv_message().get("id") == "b3"
    (m,) = drain(a2)
    assert carbon(m, "received").get("id") == "b3"
    close(a1, a2, a3, bob)


def test_outbound_sent_copies(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    a1.message("bob@localhost", "from one", id_="s1")
    assert bob.recv_message().get("id") == "s1"
    (m,) = drain(a2)
    assert m.get("from") == "alice@localhost" and m.get("to") == a2.jid
    inner = carbon(m, "sent")
    assert inner.get("id") == "s1"
    assert inner.get("from") == a1.jid
    assert inner.get("to") == "bob@localhost"
    assert drain(a1) == [] and drain(a3) == []
    # The sender need not have carbons enabled itself.
    a3.message("bob@localhost/home", "from three", id_="s3")
    assert bob.recv_message().get("id") == "s3"
    for c in (a1, a2):
        (m,) = drain(c)
        assert carbon(m, "sent").get("id") == "s3"
    assert drain(a3) == []
    close(a1, a2, a3, bob)


def test_message_between_own_resources(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    a3.message("alice@localhost/one", "note to self", id_="own")
    assert a1.recv_message().get("id") == "own"
    (m,) = drain(a2)
    assert carbon(m, "received").get("id") == "own"
    assert drain(a1) == [] and drain(a3) == []
    close(a1, a2, a3, bob)


def test_eligibility(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    # normal with a body: copied; normal without one, headline: not.
    bob.message("alice@localhost", "normal", id_="n1", type_="normal")
    assert a1.recv_message().get("id") == "n1"
    (m,) = drain(a2)
    assert carbon(m, "received").get("id") == "n1"
    bob.send("<message to='alice@localhost/one' id='n2'>"
             "<thread>t</thread></message>")
    assert a1.recv_message().get("id") == "n2"
    assert drain(a2) == []
    bob.message("alice@localhost/one", "news", id_="h1", type_="headline")
    assert a1.recv_message().get("id") == "h1"
    assert drain(a2) == []
    # A receipt (XEP-0184) in a normal message: IM payload, copied.
    bob.send("<message to='alice@localhost/one' id='rc1'>"
             "<received xmlns='urn:xmpp:receipts' id='x'/></message>")
    assert a1.recv_message().get("id") == "rc1"
    (m,) = drain(a2)
    assert carbon(m, "received").get("id") == "rc1"
    # A private message from a room occupant is not copied.
    bob.send("<message to='alice@localhost/one' type='chat' id='pm1'>"
             "<body>psst</body>"
             "<x xmlns='http://jabber.org/protocol/muc#user'/></message>")
    assert a1.recv_message().get("id") == "pm1"
    assert drain(a2) == []
    # A carbon is never copied again.
    bob.send("<message to='alice@localhost/one' type='chat' id='cc1'>"
             "<received xmlns='%s'><forwarded xmlns='%s'><message "
             "xmlns='jabber:client' to='x@localhost' from='y@localhost' "
             "type='chat'><body>fake</body></message></forwarded>"
             "</received></message>" % (NS_CARBONS, NS_FORWARD))
    assert a1.recv_message().get("id") == "cc1"
    assert drain(a2) == []
    close(a1, a2, a3, bob)


def test_private_and_no_copy(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    for i, hint in enumerate(("<private xmlns='%s'/>" % NS_CARBONS,
                              "<no-copy xmlns='urn:xmpp:hints'/>",
                              "<private xmlns='%s'/><no-copy "
                              "xmlns='urn:xmpp:hints'/>" % NS_CARBONS)):
        # Inbound.
        bob.send("<message to='alice@localhost' type='chat' id='p%d'>"
                 "<body>secret</body>%s</message>" % (i, hint))
        assert a1.recv_message().get("id") == "p%d" % i
        assert drain(a2) == []
        # Outbound.
        a1.send("<message to='bob@localhost' type='chat' id='o%d'>"
                "<body>secret</body>%s</message>" % (i, hint))
        assert bob.recv_message().get("id") == "o%d" % i
        assert drain(a2) == [] and drain(a3) == []
    close(a1, a2, a3, bob)


def test_disable(server, passwords):
    a1, a2, a3, bob = alice_three(server, passwords)
    assert set_carbons(a2, "disable").get("type") == "result"
    # Repeated requests are not errors (XEP-0280 9.1).
    assert set_carbons(a2, "disable").get("type") == "result"
    assert set_carbons(a1, "enable").get("type") == "result"
    bob.message("alice@localhost/three", "x", id_="d1")
    assert a3.recv_message().get("id") == "d1"
    (m,) = drain(a1)
    assert carbon(m, "received").get("id") == "d1"
    assert drain(a2) == []
    a3.message("bob@localhost", "y", id_="d2")
    assert bob.recv_message().get("id") == "d2"
    assert len(drain(a1)) == 1 and drain(a2) == []
    # Enabled again, to the server's address this time.
    el = set_carbons(a2, "enable", to="localhost")
    assert el.get("type") == "result"
    bob.message("alice@localhost/three", "z", id_="d3")
    assert a3.recv_message().get("id") == "d3"
    assert len(drain(a2)) == 1
    close(a1, a2, a3, bob)


def test_iq_errors(server, passwords):
    a = client(server, passwords, "alice", "one")
    bob = client(server, passwords, "bob", "home")
    assert stanza_error(set_carbons(a, "enable", "get"))[1] == "bad-request"
    assert stanza_error(set_carbons(a, "disable", "get"))[1] == \
        "bad-request"
    el = set_carbons(a, "enable", to="bob@localhost")
    assert stanza_error(el) == ("cancel", "not-allowed")
    el = set_carbons(a, "disable", to="bob@localhost")
    assert stanza_error(el) == ("cancel", "not-allowed")
    # Not enabled by those refusals: bob's other resource sees nothing.
    bob2 = client(server, passwords, "bob", "other")
    a.message("bob@localhost/home", "hi", id_="e1")
    assert bob.recv_message().get("id") == "e1"
    assert drain(bob2) == []
    close(a, bob, bob2)


def test_slixmpp_plugin(server, passwords):
    async def body():
        a = await login(server, "alice", passwords["alice"], resource="slix")
        b = await login(server, "bob", passwords["bob"], resource="slix")
        other = None
        try:
            a.register_plugin("xep_0280")
            got = asyncio.get_running_loop().create_future()
            a.add_event_handler("carbon_received",
                                lambda m: got.done() or got.set_result(m))
            await a["xep_0280"].enable(timeout=10)
            a.send_presence(ppriority=0)
            other = await login(server, "alice", passwords["alice"],
                                resource="main")
            other.send_presence(ppriority=10)
            await asyncio.sleep(0.3)
            b.send_message(mto="alice@localhost", mbody="via slixmpp",
                           mtype="chat")
            m = await asyncio.wait_for(got, 10)
            fwd = m["carbon_received"]
            assert fwd["body"] == "via slixmpp"
            assert str(m["from"]) == "alice@localhost"
        finally:
            for c in (a, b, other):
                if c is not None:
                    await c.close()
    run(body())


def test_inbound_to_absent_resource(server, passwords):
    """A chat to a full JID nobody is bound to is delivered as to the bare
    JID (RFC 6121 8.5.3.2.1): the enabled resources that do not get it get
    a copy, as for a bare-JID message."""
    a1, a2, a3, bob = alice_three(server, passwords)
    bob.message("alice@localhost/gone", "to nobody", id_="g1")
    assert a1.recv_message().get("id") == "g1"
    (m,) = drain(a2)
    inner = carbon(m, "received")
    assert inner.get("id") == "g1"
    assert inner.get("to") == "alice@localhost/gone"
    assert drain(a1) == [] and drain(a3) == []
    close(a1, a2, a3, bob)
