"""mod_offline: XEP-0160 offline messages (RFC 6121 8.5.2.2)."""

import json
import re
import time
from datetime import datetime, timedelta, timezone

from rawxmpp import NS_CLIENT, RawClient, disco_features, q, stanza_error
from slix import login, run

NS_DELAY = "urn:xmpp:delay"


def logged_in(server, passwords, user, resource=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def count(server, user="bob"):
    r = server.ctl_ok("--json", "offline-count", server.jid(user))
    return json.loads(r.stdout)["count"]


def wait_count(server, n, user="bob", timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        c = count(server, user)
        if c == n or time.monotonic() > deadline:
            return c
        time.sleep(0.05)


def no_message(c, timeout=0.5):
    try:
        el = c.recv(q(NS_CLIENT, "message"), timeout=timeout)
    except TimeoutError:
        return True
    raise AssertionError("unexpected message %s" % el.get("id"))


def send_and_store(server, sender, n_before, bodies, type_="chat"):
    ids = [sender.message("bob@localhost", b, type_=type_) for b in bodies]
    assert wait_count(server, n_before + len(bodies)) == \
        n_before + len(bodies)
    return ids


def test_disco_feature(server, passwords):
    c = logged_in(server, passwords, "alice")
    assert "msgoffline" in disco_features(c.disco_info())
    c.close()


def test_stored_then_delivered_with_delay(server, passwords):
    alice = logged_in(server, passwords, "alice")
    before = datetime.now(timezone.utc)
    alice.message("bob@localhost", "while you were out", id_="m1")
    assert wait_count(server, 1) == 1

    async def body():
        bob = await login(server, "bob", passwords["bob"])
        try:
            bob.send_presence()
            msg = await bob.recv_message()
            assert msg["id"] == "m1"
            assert msg["body"] == "while you were out"
            assert msg["from"] == alice.jid
            assert msg["type"] == "chat"
            delay = msg.xml.find(q(NS_DELAY, "delay"))
            assert delay is not None
            assert delay.get("from") == "localhost"
            stamp = delay.get("stamp")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
                                stamp), stamp
            t = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S") \
                .replace(tzinfo=timezone.utc)
            assert before - timedelta(seconds=2) <= t <= \
                datetime.now(timezone.utc)
        finally:
            await bob.close()
    run(body())
    assert wait_count(server, 0) == 0
    alice.close()


def test_order_kept(server, passwords):
    alice = logged_in(server, passwords, "alice")
    ids = send_and_store(server, alice, 0, ["one", "two", "three", "four",
                                             "five"])
    bob = logged_in(server, passwords, "bob")
    bob.presence(1)
    got = [bob.recv_message().get("id") for _ in ids]
    assert got == ids
    no_message(bob, 0.3)
    assert wait_count(server, 0) == 0
    # Delivered once: a second session gets nothing.
    bob2 = logged_in(server, passwords, "bob", resource="second")
    bob2.presence(1)
    no_message(bob2, 0.3)
    for c in (alice, bob, bob2):
        c.close()


def test_survives_restart(server, passwords):
    alice = logged_in(server, passwords, "alice")
    ids = send_and_store(server, alice, 0, ["before", "the", "restart"])
    alice.close()
    server.restart()
    assert count(server) == 3
    bob = logged_in(server, passwords, "bob")
    bob.presence()
    got = [bob.recv_message() for _ in ids]
    assert [m.get("id") for m in got] == ids
    assert all(m.find(q(NS_DELAY, "delay")) is not None for m in got)
    assert wait_count(server, 0) == 0
    bob.close()
    # Deleted for good: nothing comes back after another restart.
    server.restart()
    assert count(server) == 0


def test_quota_full_service_unavailable(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("offline", max_messages=2)
    srv.start()
    alice = logged_in(srv, passwords, "alice")
    send_and_store(srv, alice, 0, ["a", "b"])
    alice.message("bob@localhost", "c", id_="over")
    el = alice.recv(lambda e: e.get("id") == "over")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    assert el.get("from") == "bob@localhost"
    assert count(srv) == 2
    # The count is read back from the store after a restart.
    alice.close()
    srv.restart()
    alice = logged_in(srv, passwords, "alice")
    alice.message("bob@localhost", "d", id_="over2")
    el = alice.recv(lambda e: e.get("id") == "over2")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    # Delivering frees the room.
    bob = logged_in(srv, passwords, "bob")
    bob.presence()
    assert [bob.recv_message().find(q(NS_CLIENT, "body")).text
            for _ in range(2)] == ["a", "b"]
    bob.close()
    assert wait_count(srv, 0) == 0
    send_and_store(srv, alice, 0, ["e"])
    alice.close()


def test_headline_groupchat_error_not_stored(server, passwords):
    alice = logged_in(server, passwords, "alice")
    alice.message("bob@localhost", "news", id_="h1", type_="headline")
    # groupchat to an account without resources: RFC 6121 8.5.2.2.1 says
    # an error; error messages are ignored silently.
    alice.message("bob@localhost", "room", id_="g1", type_="groupchat")
    el = alice.recv(lambda e: e.get("id") == "g1")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    alice.send("<message to='bob@localhost' type='error' id='e1'>"
               "<error type='cancel'><item-not-found "
               "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
               "</message>")
    # A bare chat state is not worth storing either (XEP-0160 4).
    alice.send("<message to='bob@localhost' type='chat' id='cs1'>"
               "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
               "</message>")
    alice.message("bob@localhost", "normal", id_="n1", type_="normal")
    assert wait_count(server, 1) == 1
    alice.sync()
    # Nothing else came back to the sender (no error for the headline).
    assert not [e for e in alice.pending
                if e.get("id") in ("h1", "e1", "cs1", "n1")]
    bob = logged_in(server, passwords, "bob")
    bob.presence()
    assert bob.recv_message().get("id") == "n1"
    no_message(bob, 0.3)
    alice.close()
    bob.close()


def test_negative_priority_gets_nothing(server, passwords):
    alice = logged_in(server, passwords, "alice")
    send_and_store(server, alice, 0, ["x1", "x2"])
    neg = logged_in(server, passwords, "bob", resource="neg")
    neg.presence(-5)
    neg.sync()
    no_message(neg, 0.5)
    assert count(server) == 2
    # While only a negative resource is there, messages are still stored.
    send_and_store(server, alice, 2, ["x3"])
    pos = logged_in(server, passwords, "bob", resource="pos")
    pos.presence(3)
    assert [pos.recv_message().find(q(NS_CLIENT, "body")).text
            for _ in range(3)] == ["x1", "x2", "x3"]
    assert wait_count(server, 0) == 0
    no_message(neg, 0.2)
    for c in (alice, neg, pos):
        c.close()


def test_negative_session_raising_priority(server, passwords):
    alice = logged_in(server, passwords, "alice")
    send_and_store(server, alice, 0, ["later"])
    bob = logged_in(server, passwords, "bob")
    bob.presence(-1)
    bob.sync()
    no_message(bob, 0.3)
    # RFC 6121 / XEP-0160: delivered at the next non-negative presence.
    bob.presence(0)
    assert bob.recv_message().find(q(NS_CLIENT, "body")).text == "later"
    assert wait_count(server, 0) == 0
    # Later presences of the same session do not deliver again.
    bob.presence(2)
    no_message(bob, 0.3)
    alice.close()
    bob.close()


def test_two_resources(server, passwords):
    alice = logged_in(server, passwords, "alice")
    send_and_store(server, alice, 0, ["r1", "r2"])
    # Two resources bound at once; both become available together.
    a = logged_in(server, passwords, "bob", resource="a")
    b = logged_in(server, passwords, "bob", resource="b")
    a.presence(1)
    b.presence(1)
    got = []
    for c in (a, b):
        try:
            while True:
                got.append((c.jid, c.recv_message(timeout=0.7).find(
                    q(NS_CLIENT, "body")).text))
        except TimeoutError:
            pass
    # Each message exactly once, in order, on one resource.
    assert sorted(x[1] for x in got) == ["r1", "r2"]
    assert len({x[0] for x in got}) == 1
    assert [x[1] for x in got] == ["r1", "r2"]
    assert wait_count(server, 0) == 0
    # Online now: new messages go straight to the resources.
    alice.message("bob@localhost", "live", id_="live")
    assert a.recv_message().get("id") == "live"
    assert b.recv_message().get("id") == "live"
    assert count(server) == 0
    for c in (alice, a, b):
        c.close()


def test_full_jid_to_absent_resource_stored(server, passwords):
    alice = logged_in(server, passwords, "alice")
    alice.message("bob@localhost/gone", "for a resource", id_="f1")
    assert wait_count(server, 1) == 1
    bob = logged_in(server, passwords, "bob")
    bob.presence()
    m = bob.recv_message()
    assert m.get("id") == "f1"
    alice.close()
    bob.close()


def test_commands(server, passwords):
    alice = logged_in(server, passwords, "alice")
    send_and_store(server, alice, 0, ["c1", "c2", "c3"])
    r = server.ctl_ok("offline-count", "bob@localhost")
    assert re.search(r"count:\s*3", r.stdout), r.stdout
    assert count(server, "carol") == 0
    r = server.ctl_ok("--json", "offline-clear", "bob@localhost")
    assert json.loads(r.stdout)["deleted"] == 3
    assert count(server) == 0
    # Not an account of this host / not an account JID.
    r = server.ctl("offline-count", "bob@elsewhere.example")
    assert r.returncode == 1
    r = server.ctl("offline-count", "localhost")
    assert r.returncode == 1
    bob = logged_in(server, passwords, "bob")
    bob.presence()
    no_message(bob, 0.3)
    alice.close()
    bob.close()


def test_reload_unload_keeps_messages(server, passwords):
    alice = logged_in(server, passwords, "alice")
    send_and_store(server, alice, 0, ["kept1", "kept2"])
    # carol's session has state in the module's session slot.
    carol = logged_in(server, passwords, "carol")
    carol.presence()
    carol.sync()
    # Unloaded with messages stored (and a user's state in memory), then
    # loaded again with another quota: nothing lost, nothing leaked.
    server.remove_module("offline")
    server.save()
    server.ctl_ok("reload")
    assert server.ctl("offline-count", "bob@localhost").returncode != 0
    server.add_module("offline", max_messages=5)
    server.save()
    server.ctl_ok("reload")
    assert wait_count(server, 2) == 2
    bob = logged_in(server, passwords, "bob")
    bob.presence()
    assert [bob.recv_message().find(q(NS_CLIENT, "body")).text
            for _ in range(2)] == ["kept1", "kept2"]
    assert wait_count(server, 0) == 0
    carol.close()
    alice.close()
    bob.close()


def test_session_gone_before_delivery_keeps_messages(server, passwords):
    """A delivery refers to its session by reference: when the session
    ends during the delivery, what was not written to it stays stored, and
    the next session gets it, in order, once."""
    alice = logged_in(server, passwords, "alice")
    ids = send_and_store(server, alice, 0, ["m%d" % i for i in range(150)])
    bob = logged_in(server, passwords, "bob", resource="gone")
    # Presence and the end of the stream in one write: the delivery is
    # queued, then its session goes while the first page is read.
    bob.send("<presence/></stream:stream>")
    bob.close()
    time.sleep(0.3)
    left = count(server)
    assert 0 <= left <= 150
    bob = logged_in(server, passwords, "bob", resource="here")
    bob.presence()
    got = []
    while len(got) < left:
        got.append(bob.recv(q(NS_CLIENT, "message")).get("id"))
    assert got == ids[150 - left:]
    # A second available presence of the same session delivers nothing
    # more: one delivery per session.
    bob.presence(priority=1)
    assert no_message(bob)
    assert wait_count(server, 0) == 0
    bob.close()
    alice.close()
