"""XEP-0198 Stream Management (issue 16), statement by statement: the
feature, enabling, acknowledgements both ways, resumption on a new
connection (TCP or WebSocket), stale and foreign resumes, and what
happens to the stanzas of a session nobody resumes."""

import time
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import NS_CLIENT, RawClient, StreamClosed, q
from test_websocket import WsClient

NS_SM = "urn:xmpp:sm:3"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def sm(tag):
    return q(NS_SM, tag)


def enable(c, resume=True):
    c.send("<enable xmlns='%s'%s/>" % (NS_SM, " resume='true'" if resume
                                       else ""))
    return c.recv(lambda e: e.tag in (sm("enabled"), sm("failed")))


def messages(c, n, timeout=5):
    return [c.recv(q(NS_CLIENT, "message"), timeout=timeout)
            for _ in range(n)]


def bodies(els):
    return [e.findtext(q(NS_CLIENT, "body")) for e in els]


def drop(c):
    """The connection dies without a closing </stream:stream>."""
    c.close()


def bob_and_alice(srv, passwords):
    """bob and alice logged in and available; alice's full JID."""
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    bob.presence()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"])
    alice.presence()
    return bob, alice, jid


def resume(srv, passwords, previd, h, user="alice"):
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, passwords[user], bind=False)
    c.send("<resume xmlns='%s' previd='%s' h='%d'/>" % (NS_SM, previd, h))
    return c, c.recv(lambda e: e.tag in (sm("resumed"), sm("failed")))


@pytest.fixture
def sm_server(server_factory):
    srv = server_factory(start=False)
    srv.set_limits(resume_timeout="30")
    srv.start()
    return srv


def test_feature_after_authentication(sm_server, passwords):
    """Section 2: the server advertises <sm/> with the features of the
    stream restarted after SASL."""
    c = RawClient(sm_server.c2s_port, domain=sm_server.domain)
    feats = c.open()
    assert feats.find(sm("sm")) is None
    c.close()
    c = RawClient(sm_server.c2s_port, domain=sm_server.domain)
    c.login("alice", passwords["alice"], bind=False)
    assert c.features.find(sm("sm")) is not None
    c.close()


def test_enable_before_bind_fails_after_bind_succeeds(sm_server, passwords):
    """Section 3: enabling before a resource is bound is an
    unexpected-request; after binding the server answers <enabled/> with an
    id, resume='true' and its max."""
    c = RawClient(sm_server.c2s_port, domain=sm_server.domain)
    c.login("alice", passwords["alice"], bind=False)
    r = enable(c)
    assert r.tag == sm("failed")
    assert r.find(q(NS_STANZAS, "unexpected-request")) is not None
    c.bind()
    r = enable(c)
    assert r.tag == sm("enabled")
    assert r.get("resume") in ("true", "1") and r.get("id")
    assert int(r.get("max")) == 30
    # A second <enable/> on the same stream fails.
    assert enable(c).tag == sm("failed")
    c.close()


def test_without_resume_no_id(sm_server, passwords):
    c = RawClient(sm_server.c2s_port, domain=sm_server.domain)
    c.login("alice", passwords["alice"])
    r = enable(c, resume=False)
    assert r.tag == sm("enabled") and r.get("id") is None
    c.close()


def test_server_answers_r_with_handled_count(sm_server, passwords):
    """Section 4: <a h/> carries the number of stanzas the server handled
    since enabling."""
    c = RawClient(sm_server.c2s_port, domain=sm_server.domain)
    c.login("alice", passwords["alice"])
    c.presence()
    enable(c)
    for i in range(3):
        c.send("<message to='bob@localhost' type='chat'><body>%d</body>"
               "</message>" % i)
    c.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.send("<r xmlns='%s'/>" % NS_SM)
    a = c.recv(sm("a"))
    assert a.get("h") == "4"
    c.close()


def test_every_r_gets_its_a(sm_server, passwords):
    """Section 4: "When an <r/> element ("request") is received, the
    recipient MUST acknowledge it by sending an <a/> element", also when
    several come before what they cover is stored (messages to an offline
    account, each acknowledged only once its offline copy is committed).
    h never goes back, and each <a/> counts at least every stanza sent
    before its <r/>: an <r/> waits for its own stanzas, not for a later
    one's."""
    c = RawClient(sm_server.c2s_port, domain=sm_server.domain)
    c.login("alice", passwords["alice"])
    enable(c)
    for chunk in range(3):
        c.send("".join("<message to='carol@localhost' type='chat'>"
                       "<body>%d</body></message>" % i for i in range(200)))
        c.send("<r xmlns='%s'/>" % NS_SM)
    hs = [int(c.recv(sm("a"), timeout=30).get("h")) for _ in range(3)]
    assert hs == sorted(hs)
    assert [h >= 200 * (i + 1) for i, h in enumerate(hs)] == [True] * 3, hs
    assert hs[-1] == 600
    c.close()


def test_server_requests_acks_and_too_high_h_is_an_error(sm_server,
                                                         passwords):
    """Section 4: the server asks with <r/> for what it sent; an h larger
    than what was sent ends the stream (undefined-condition)."""
    srv = sm_server
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"])
    enable(alice)
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    bob.message(jid, "one")
    messages(alice, 1)
    alice.recv(sm("r"))
    alice.send("<a xmlns='%s' h='1'/>" % NS_SM)
    alice.send("<a xmlns='%s' h='5'/>" % NS_SM)
    assert alice.expect_stream_error() == "undefined-condition"
    bob.close()


def answer_r_until(c, n_messages):
    """Read until n_messages more messages came, answering each <r/> of
    the server with the stanzas received so far (c.handled)."""
    got = []
    while len(got) < n_messages:
        el = c.recv(lambda e: e.tag in (q(NS_CLIENT, "message"), sm("r")))
        if el.tag == sm("r"):
            c.send("<a xmlns='%s' h='%d'/>" % (NS_SM, c.handled))
        else:
            c.handled += 1
            got.append(el)
    return got


def test_a_client_that_answers_every_r_stays_under_max_unacked(
        server_factory, passwords):
    """Section 4: a server may ask for acknowledgements only now and then
    ("e.g., every 5 stanzas"); ours asks often enough that a client which
    answers every <r/> (and sends no <a/> of its own) is never cut off at
    <limits max-unacked>, however small: 60 messages to it one after the
    other, with 16 allowed unacknowledged."""
    srv = server_factory(start=False)
    srv.set_limits(max_unacked="16")
    srv.start()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"])
    enable(alice, resume=False)
    alice.handled = 0
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    for i in range(60):
        bob.message(jid, "n%d" % i)
        assert bodies(answer_r_until(alice, 1)) == ["n%d" % i]
    alice.send("<iq type='get' id='still'><ping xmlns='urn:xmpp:ping'/>"
               "</iq>")
    assert alice.recv(lambda e: e.get("id") == "still").get("type") == \
        "result"
    bob.close()
    alice.close()


def test_what_went_out_while_r_waited_is_asked_for_in_turn(sm_server,
                                                           passwords):
    """Section 4: the server learns what the client handled only from <a/>.
    Messages delivered after our <r/> and before its <a/> are not covered
    by that <a/>: the server asks again for them without waiting for more
    traffic, and the next <a/> covers them."""
    srv = sm_server
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"])
    enable(alice, resume=False)
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    bob.message(jid, "one")
    assert bodies(messages(alice, 1)) == ["one"]
    alice.recv(sm("r"))
    bob.message(jid, "two")
    bob.message(jid, "three")
    assert bodies(messages(alice, 2)) == ["two", "three"]
    alice.send("<a xmlns='%s' h='1'/>" % NS_SM)
    alice.recv(sm("r"))
    alice.send("<a xmlns='%s' h='3'/>" % NS_SM)
    # h = 3 covered every message: an h beyond it is one too many.
    alice.send("<a xmlns='%s' h='4'/>" % NS_SM)
    assert alice.expect_stream_error() == "undefined-condition"
    bob.close()


def test_resume_after_lost_connection(sm_server, passwords):
    """Section 5: the session survives its connection; a resume with the
    last h the client handled gets <resumed h/> and every stanza after h,
    including those sent while the client was away; its contacts never saw
    it go unavailable."""
    srv = sm_server
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob_jid = bob.login("bob", passwords["bob"])
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"], resource="phone")
    enabled = enable(alice)
    alice.send("<message to='%s' type='chat'><body>hi</body></message>"
               % bob_jid)
    messages(bob, 1)
    for b in ("m1", "m2"):
        bob.send("<message to='%s' type='chat'><body>%s</body></message>"
                 % (jid, b))
    assert bodies(messages(alice, 2)) == ["m1", "m2"]
    drop(alice)
    time.sleep(0.3)
    for b in ("m3", "m4"):
        bob.send("<message to='%s' type='chat'><body>%s</body></message>"
                 % (jid, b))
    # The client had handled m1 only.
    c, r = resume(srv, passwords, enabled.get("id"), 1)
    assert r.tag == sm("resumed"), ET.tostring(r)
    assert r.get("previd") == enabled.get("id")
    assert r.get("h") == "1"
    assert bodies(messages(c, 3)) == ["m2", "m3", "m4"]
    # The resumed stream is the old session: same full JID, still bound.
    c.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
    c.recv(lambda e: e.get("id") == "p")
    bob.send("<message to='%s' type='chat'><body>m5</body></message>" % jid)
    assert bodies(messages(c, 1)) == ["m5"]
    # The counters go on: the server handled one more stanza of ours.
    c.send("<r xmlns='%s'/>" % NS_SM)
    assert c.recv(sm("a")).get("h") == "2"
    with pytest.raises(TimeoutError):
        bob.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                 e.get("type") == "unavailable", timeout=0.5)
    c.close()
    bob.close()


def test_resume_of_an_open_session_closes_the_old_connection(sm_server,
                                                             passwords):
    srv = sm_server
    old = RawClient(srv.c2s_port, domain=srv.domain)
    old.login("alice", passwords["alice"])
    enabled = enable(old)
    c, r = resume(srv, passwords, enabled.get("id"), 0)
    assert r.tag == sm("resumed")
    assert old.wait_closed(timeout=5)
    c.send("<r xmlns='%s'/>" % NS_SM)
    assert c.recv(sm("a")) is not None
    c.close()


def test_stale_and_foreign_resumes_fail(sm_server, passwords):
    """Section 5: an unknown or expired id is item-not-found; so is the
    session of another account (no one resumes someone else's)."""
    srv = sm_server
    c, r = resume(srv, passwords, "0123456789abcdef", 0)
    assert r.tag == sm("failed")
    assert r.find(q(NS_STANZAS, "item-not-found")) is not None
    # The stream goes on: the client may bind a new session.
    c.bind()
    c.close()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    alice.login("alice", passwords["alice"])
    enabled = enable(alice)
    drop(alice)
    c, r = resume(srv, passwords, enabled.get("id"), 0, user="bob")
    assert r.tag == sm("failed")
    assert r.find(q(NS_STANZAS, "item-not-found")) is not None
    c.close()


def test_resume_over_websocket(sm_server, passwords):
    """A session lost on TCP resumes over XMPP over WebSocket."""
    srv = sm_server
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"])
    enabled = enable(alice)
    drop(alice)
    time.sleep(0.3)
    bob.send("<message to='%s' type='chat'><body>while away</body>"
             "</message>" % jid)
    w = WsClient(srv)
    w.open()
    assert w.scram("alice", passwords["alice"]).tag.endswith("success")
    w.open()
    w.send("<resume xmlns='%s' previd='%s' h='0'/>"
           % (NS_SM, enabled.get("id")))
    r = w.recv()
    assert r.tag == sm("resumed"), r.tag
    m = w.recv()
    assert m.findtext(q(NS_CLIENT, "body")) == "while away"
    # Acknowledgements are elements of their own, one to a frame too.
    w.send("<r xmlns='%s'/>" % NS_SM)
    a = w.recv()
    while a.tag == sm("r"):
        a = w.recv()
    assert a.tag == sm("a") and a.get("h") == "0", a.tag
    w.close()
    bob.close()


def test_unacknowledged_messages_go_offline_when_nobody_resumes(
        server_factory, passwords):
    """Section 5 and issue 16: when the wait ends, what the client did not
    acknowledge is delivered as if the session had not been there (offline
    storage here), once."""
    srv = server_factory(start=False)
    srv.set_limits(resume_timeout="2")
    srv.start()
    bob, alice, jid = bob_and_alice(srv, passwords)
    enable(alice)
    bob.send("<message to='%s' type='chat'><body>acked</body></message>"
             % jid)
    messages(alice, 1)
    alice.send("<a xmlns='%s' h='1'/>" % NS_SM)
    bob.send("<message to='%s' type='chat'><body>not acked</body>"
             "</message>" % jid)
    messages(alice, 1)
    drop(alice)
    time.sleep(0.3)
    bob.send("<message to='alice@localhost' type='chat'><body>while away"
             "</body></message>")
    srv.wait_log("not resumed in time")
    deadline = time.time() + 10
    while "count: 2" not in srv.ctl("offline-count", "alice@localhost").stdout:
        assert time.time() < deadline, "the messages did not reach storage"
        time.sleep(0.1)
    fresh = RawClient(srv.c2s_port, domain=srv.domain)
    fresh.login("alice", passwords["alice"])
    fresh.presence()
    got = sorted(bodies(messages(fresh, 2)))
    assert got == ["not acked", "while away"]
    with pytest.raises(TimeoutError):
        fresh.recv(q(NS_CLIENT, "message"), timeout=1)
    # Routed again, not archived again (XEP-0313: one row a message).
    from test_cluster import archived_bodies
    assert sorted(archived_bodies(fresh, "bob@localhost")) == [
        "acked", "not acked", "while away"]
    fresh.close()
    bob.close()


def offline_count(srv, jid):
    out = srv.ctl_ok("offline-count", jid).stdout
    return int(out.split("count:")[1].split()[0])


@pytest.mark.parametrize("ending", ["lost, no resumption",
                                    "closed cleanly", "kicked"])
def test_unacknowledged_messages_of_a_session_that_ends_go_offline(
        sm_server, passwords, ending):
    """Section 4: the server SHOULD treat what the client did not
    acknowledge like a stanza sent to an unavailable resource: here
    offline storage, once, archived once; whatever ended the session (a
    lost connection without resumption, a clean </stream:stream>, an
    admin's kick), not only a hibernation that timed out."""
    srv = sm_server
    bob, alice, jid = bob_and_alice(srv, passwords)
    assert enable(alice, resume=ending != "lost, no resumption"
                  ).tag == sm("enabled")
    bob.send("<message to='%s' type='chat'><body>acked</body></message>"
             % jid)
    messages(alice, 1)
    alice.send("<a xmlns='%s' h='1'/>" % NS_SM)
    for i in range(3):
        bob.send("<message to='%s' type='chat'><body>not acked %d</body>"
                 "</message>" % (jid, i))
    messages(alice, 3)
    if ending == "lost, no resumption":
        drop(alice)
    elif ending == "closed cleanly":
        alice.stream_end()
    else:
        srv.ctl_ok("kick-session", jid)
    deadline = time.time() + 10
    while offline_count(srv, "alice@localhost") != 3:
        assert time.time() < deadline, "the messages did not reach storage"
        time.sleep(0.1)
    assert "alice" not in srv.ctl_ok("sessions").stdout
    fresh = RawClient(srv.c2s_port, domain=srv.domain)
    fresh.login("alice", passwords["alice"])
    fresh.presence()
    assert sorted(bodies(messages(fresh, 3))) == [
        "not acked %d" % i for i in range(3)]
    with pytest.raises(TimeoutError):
        fresh.recv(q(NS_CLIENT, "message"), timeout=1)
    from test_cluster import archived_bodies
    assert sorted(archived_bodies(fresh, "bob@localhost")) == [
        "acked"] + ["not acked %d" % i for i in range(3)]
    fresh.close()
    bob.close()


def test_too_many_unacknowledged_stanzas_end_the_stream(server_factory,
                                                         passwords):
    srv = server_factory(start=False)
    srv.set_limits(max_unacked="16")
    srv.start()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    jid = alice.login("alice", passwords["alice"])
    enable(alice)
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    for i in range(20):
        bob.send("<message to='%s' type='chat'><body>%d</body></message>"
                 % (jid, i))
    assert alice.expect_stream_error() == "policy-violation"
    # What did not reach alice goes to offline storage: let it land before
    # the test's server stops.
    last, same = None, 0
    while same < 3:
        now = srv.ctl("offline-count", "alice@localhost").stdout
        same = same + 1 if now == last else 0
        last = now
        time.sleep(0.2)
    bob.close()


def test_slixmpp_enables_and_resumes(sm_server, passwords):
    """slixmpp's own XEP-0198 plugin, as it ships: it enables stream
    management with resumption, loses its connection, connects again,
    resumes, and gets the message sent while it was away."""
    import asyncio
    from slix import Client, run

    srv = sm_server

    async def go():
        c = Client(srv.jid("alice") + "/bot", passwords["alice"],
                   srv.c2s_port)
        c.register_plugin("xep_0198")
        loop = asyncio.get_running_loop()
        enabled, resumed = loop.create_future(), loop.create_future()
        c.add_event_handler("sm_enabled", lambda e: enabled.done() or
                            enabled.set_result(e))
        c.add_event_handler("session_resumed", lambda e: resumed.done() or
                            resumed.set_result(e))
        await c.start()
        await asyncio.wait_for(enabled, 10)
        bob = RawClient(srv.c2s_port, domain=srv.domain)
        bob.login("bob", passwords["bob"])
        c.abort()
        await asyncio.sleep(0.5)
        bob.send("<message to='%s/bot' type='chat'><body>while away</body>"
                 "</message>" % srv.jid("alice"))
        c.connect(("127.0.0.1", srv.c2s_port), force_starttls=True)
        await asyncio.wait_for(resumed, 10)
        m = await c.recv_message()
        assert m["body"] == "while away"
        bob.close()
        await c.close()

    run(go())


def test_acknowledged_means_stored_kill_9_included(server_factory,
                                                   passwords):
    """Issue 16: the server acknowledges a stanza only once what it caused
    that must be stored is committed.  2,000 messages to an offline
    account, <r/>, and emberd killed with SIGKILL the moment the <a/>
    comes: after a restart, every acknowledged message is in storage."""
    srv = server_factory(start=False)
    srv.add_module("offline", **{"max-messages": "5000"})
    srv.start()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    alice.login("alice", passwords["alice"])
    enable(alice, resume=False)
    n = 2000
    alice.send("".join("<message to='bob@localhost' type='chat' id='m%d'>"
                       "<body>message %d</body></message>" % (i, i)
                       for i in range(n)))
    alice.send("<r xmlns='%s'/>" % NS_SM)
    h = int(alice.recv(sm("a"), timeout=60).get("h"))
    srv.kill9()
    assert h == n
    srv.start()
    count = srv.ctl_ok("offline-count", "bob@localhost").stdout
    assert int(count.split(":")[1]) >= h, count
