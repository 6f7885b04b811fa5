"""XEP-0352 Client State Indication (issue 16): an inactive client is
sent only what is urgent; the rest waits, in order, the latest presence of
each contact only, until it is active again or something urgent comes."""

import pytest

from rawxmpp import NS_CLIENT, RawClient, q

NS_CSI = "urn:xmpp:csi:0"
CHATSTATE = ("<message to='%s' type='chat'><composing "
             "xmlns='http://jabber.org/protocol/chatstates'/></message>")


@pytest.fixture
def pair(server, passwords):
    alice = RawClient(server.c2s_port, domain=server.domain)
    jid = alice.login("alice", passwords["alice"])
    alice.presence()
    alice.recv(q(NS_CLIENT, "presence"))      # her own, RFC 6121 4.2.2
    bob = RawClient(server.c2s_port, domain=server.domain)
    bob.login("bob", passwords["bob"])
    yield alice, jid, bob
    alice.close()
    bob.close()


def inactive(c):
    """<inactive/>, and a round trip: later stanzas of others find it
    in force."""
    c.send("<inactive xmlns='%s'/>" % NS_CSI)
    c.iq("get", "<ping xmlns='urn:xmpp:ping'/>", to="localhost")


def nothing(c, timeout=0.7):
    with pytest.raises(TimeoutError):
        el = c.recv(lambda e: e.tag in (q(NS_CLIENT, "message"),
                                        q(NS_CLIENT, "presence"),
                                        q(NS_CLIENT, "iq")), timeout=timeout)
        raise AssertionError("got %s" % el.tag)


def test_feature_after_authentication(server, passwords):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login("alice", passwords["alice"], bind=False)
    assert c.features.find(q(NS_CSI, "csi")) is not None
    c.close()


def test_state_before_bind_is_refused(server, passwords):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login("alice", passwords["alice"], bind=False)
    c.send("<inactive xmlns='%s'/>" % NS_CSI)
    assert c.expect_stream_error() == "not-authorized"


def test_inactive_holds_until_something_urgent(pair):
    alice, jid, bob = pair
    inactive(alice)
    bob.send("<presence to='%s'><status>first</status></presence>" % jid)
    bob.send(CHATSTATE % jid)
    bob.send("<presence to='%s'><status>second</status></presence>" % jid)
    nothing(alice)
    # A message with a body goes at once, and takes what waited with it,
    # in order.
    bob.send("<message to='%s' type='chat'><body>hello</body></message>"
             % jid)
    got = [alice.recv(lambda e: e.tag in (q(NS_CLIENT, "message"),
                                          q(NS_CLIENT, "presence")))
           for _ in range(3)]
    assert [e.tag.split("}")[1] for e in got] == ["presence", "message",
                                                  "message"]
    # Only the latest presence of the sender was kept.
    assert got[0].findtext(q(NS_CLIENT, "status")) == "second"
    assert got[2].findtext(q(NS_CLIENT, "body")) == "hello"
    nothing(alice)


def test_iq_is_not_held(pair):
    alice, jid, bob = pair
    inactive(alice)
    bob.send("<iq type='get' id='v1' to='%s'><query xmlns='urn:example:"
             "csi-test'/></iq>" % jid)
    iq = alice.recv(q(NS_CLIENT, "iq"), timeout=3)
    assert iq.get("id") == "v1"


def test_active_flushes(pair):
    alice, jid, bob = pair
    inactive(alice)
    bob.send(CHATSTATE % jid)
    nothing(alice)
    alice.send("<active xmlns='%s'/>" % NS_CSI)
    m = alice.recv(q(NS_CLIENT, "message"), timeout=3)
    assert m.find("{http://jabber.org/protocol/chatstates}composing") \
        is not None
    # Active again: nothing waits any more.
    bob.send(CHATSTATE % jid)
    alice.recv(q(NS_CLIENT, "message"), timeout=3)


def test_what_waits_is_bounded(pair):
    alice, jid, bob = pair
    inactive(alice)
    for _ in range(150):
        bob.send(CHATSTATE % jid)
    n = 0
    try:
        while True:
            alice.recv(q(NS_CLIENT, "message"), timeout=1.5)
            n += 1
    except TimeoutError:
        pass
    assert n == 100
