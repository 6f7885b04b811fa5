"""Delivery between users (RFC 6120 section 10, RFC 6121 section 8)."""

from rawxmpp import NS_CLIENT, RawClient, StreamClosed, q, stanza_error
from slix import login, run


def body_of(msg):
    b = msg.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def test_message_full_and_bare_slixmpp(server, passwords):
    async def body():
        a = await login(server, "alice", passwords["alice"])
        b = await login(server, "bob", passwords["bob"], resource="laptop")
        try:
            b.send_presence()
            # The presence has been processed once this round trip is back.
            await b["xep_0199"].ping(jid="localhost", timeout=10)
            a.send_message(mto="bob@localhost/laptop", mbody="to full",
                           mtype="chat")
            m = await b.recv_message()
            assert m["body"] == "to full"
            assert m["from"] == a.boundjid
            assert m["to"] == b.boundjid

            a.send_message(mto="bob@localhost", mbody="to bare",
                           mtype="chat")
            m = await b.recv_message()
            assert m["body"] == "to bare"
            assert m["from"] == a.boundjid
        finally:
            await a.close()
            await b.close()
    run(body())


def test_bare_jid_priorities(server, passwords):
    high = RawClient(server.c2s_port)
    high.login("bob", passwords["bob"], resource="high")
    low = RawClient(server.c2s_port)
    low.login("bob", passwords["bob"], resource="low")
    neg = RawClient(server.c2s_port)
    neg.login("bob", passwords["bob"], resource="neg")
    for c, prio in ((high, 5), (low, 1), (neg, -1)):
        c.presence(prio)
        c.sync()

    alice = RawClient(server.c2s_port)
    alice.login("alice", passwords["alice"], resource="a")
    alice.message("bob@localhost", "bare", id_="bare1")
    # Markers to each full JID: routed after the bare message, so anything
    # the bare message produced on a session arrives before its marker.
    for r in ("high", "low", "neg"):
        alice.message("bob@localhost/" + r, "marker", id_="mark-" + r)

    m = high.recv_message()
    assert m.get("id") == "bare1" and body_of(m) == "bare"
    assert m.get("from") == "alice@localhost/a"
    assert high.recv_message().get("id") == "mark-high"
    assert low.recv_message().get("id") == "mark-low", \
        "lower-priority resource got the bare message"
    assert neg.recv_message().get("id") == "mark-neg", \
        "negative-priority resource got the bare message"

    # Equal highest priorities: both get it.
    low.presence(5)
    low.sync()
    alice.message("bob@localhost", "both", id_="bare2")
    assert high.recv_message().get("id") == "bare2"
    assert low.recv_message().get("id") == "bare2"
    for c in (alice, high, low, neg):
        c.close()


def test_message_to_unavailable_full_jid(server, passwords):
    bob = RawClient(server.c2s_port)
    bob.login("bob", passwords["bob"], resource="here")
    bob.presence(0)
    bob.sync()
    alice = RawClient(server.c2s_port)
    alice.login("alice", passwords["alice"])
    # RFC 6121 8.5.3.2.1: chat to an unavailable resource goes to the
    # bare JID's available resources.
    alice.message("bob@localhost/gone", "redirected", id_="r1")
    m = bob.recv_message()
    assert m.get("id") == "r1"
    assert m.get("to") in ("bob@localhost/gone", "bob@localhost/here",
                           "bob@localhost")
    # An iq to an unavailable full JID: service-unavailable.
    el = alice.iq("get", "<query xmlns='urn:example:x'/>",
                  to="bob@localhost/gone")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    alice.close()
    bob.close()


def test_iq_between_full_jids(server, passwords):
    bob = RawClient(server.c2s_port)
    bob_jid = bob.login("bob", passwords["bob"], resource="r")
    alice = RawClient(server.c2s_port)
    alice_jid = alice.login("alice", passwords["alice"])
    alice.send("<iq type='get' id='q1' to='%s'>"
               "<query xmlns='urn:example:custom'/></iq>" % bob_jid)
    el = bob.recv(q(NS_CLIENT, "iq"))
    assert el.get("from") == alice_jid and el.get("id") == "q1"
    bob.send("<iq type='result' id='q1' to='%s'/>" % alice_jid)
    el = alice.recv(lambda e: e.get("id") == "q1")
    assert el.get("type") == "result" and el.get("from") == bob_jid
    alice.close()
    bob.close()


def test_from_is_stamped(server, passwords):
    bob = RawClient(server.c2s_port)
    bob.login("bob", passwords["bob"], resource="r")
    bob.presence(1)
    bob.sync()
    alice = RawClient(server.c2s_port)
    alice_jid = alice.login("alice", passwords["alice"])
    # A forged 'from' is either replaced by the real one or the stream is
    # closed with invalid-from (RFC 6120 8.1.2.1); never delivered as is.
    alice.send("<message to='bob@localhost/r' from='carol@localhost/x' "
               "id='f1' type='chat'><body>spoof</body></message>")
    try:
        alice.message("bob@localhost/r", "marker", id_="f2")
        alice.sync()
        stamped = True
    except (StreamClosed, OSError):
        try:
            alice.expect_stream_error()
        except (AssertionError, TimeoutError, OSError):
            pass
        assert alice.stream_error == "invalid-from"
        stamped = False
    if stamped:
        m = bob.recv_message()
        assert m.get("id") == "f1" and m.get("from") == alice_jid
        m = bob.recv_message()
        assert m.get("id") == "f2" and m.get("from") == alice_jid
    else:
        bob.sync()
        for m in bob.pending:
            assert m.get("from") != "carol@localhost/x"
    alice.close()
    bob.close()
