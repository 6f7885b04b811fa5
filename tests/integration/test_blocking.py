"""mod_blocking: XEP-0191 blocklists, pushes, enforcement, persistence."""

import time

from rawxmpp import NS_CLIENT, RawClient, disco_features, q, stanza_error

NS_BLOCK = "urn:xmpp:blocking"
NS_BLOCK_ERR = "urn:xmpp:blocking:errors"


def client(srv, passwords, user, resource=None, presence=True):
    c = RawClient(srv.c2s_port)
    c.login(user, passwords[user], resource=resource)
    if presence:
        c.presence()
        c.sync()
    return c


def blocklist(c):
    el = c.iq("get", "<blocklist xmlns='%s'/>" % NS_BLOCK)
    assert el.get("type") == "result", el.attrib
    bl = el.find(q(NS_BLOCK, "blocklist"))
    return sorted(i.get("jid") for i in bl.findall(q(NS_BLOCK, "item")))


def block(c, *jids, verb="block"):
    items = "".join("<item jid='%s'/>" % j for j in jids)
    return c.iq("set", "<%s xmlns='%s'>%s</%s>" % (verb, NS_BLOCK, items,
                                                    verb))


def nothing_arrives(c, tag, wait=0.5, sender=""):
    try:
        el = c.recv(lambda e: e.tag == q(NS_CLIENT, tag) and
                    e.get("from", "").startswith(sender), timeout=wait)
    except TimeoutError:
        return True
    raise AssertionError("unexpected %s: %s" % (tag, el.attrib))


def message_from(c, sender):
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("from", "").startswith(sender))


def test_block_enforce_unblock(server, passwords):
    alice = client(server, passwords, "alice", "a1")
    bob = client(server, passwords, "bob", "b1")
    assert "urn:xmpp:blocking" in disco_features(alice.disco_info())
    assert blocklist(alice) == []
    assert block(alice, "bob@localhost").get("type") == "result"
    assert blocklist(alice) == ["bob@localhost"]

    # bob -> alice: not delivered, bob gets service-unavailable.
    bob.message("alice@localhost", "hello?", id_="m1")
    err = bob.recv(lambda e: e.get("id") == "m1")
    assert stanza_error(err) == ("cancel", "service-unavailable")
    bob.message("alice@localhost/a1", "hello full?", id_="m2")
    err = bob.recv(lambda e: e.get("id") == "m2")
    assert stanza_error(err)[1] == "service-unavailable"
    # Presence from bob is dropped, without error.
    bob.send("<presence to='alice@localhost'/>")
    bob.send("<presence to='alice@localhost/a1'/>")
    # iq get from bob: service-unavailable.
    el = bob.iq("get", "<ping xmlns='urn:xmpp:ping'/>",
                to="alice@localhost/a1")
    assert stanza_error(el)[1] == "service-unavailable"
    nothing_arrives(alice, "message")
    nothing_arrives(alice, "presence", wait=0.1, sender="bob@")

    # alice -> bob: refused with not-acceptable + <blocked/>.
    alice.message("bob@localhost", "hi bob", id_="m3")
    err = alice.recv(lambda e: e.get("id") == "m3")
    assert stanza_error(err)[1] == "not-acceptable"
    assert err.find(q(NS_CLIENT, "error")).find(
        q(NS_BLOCK_ERR, "blocked")) is not None
    el = alice.iq("get", "<ping xmlns='urn:xmpp:ping'/>",
                  to="bob@localhost/b1")
    assert stanza_error(el)[1] == "not-acceptable"
    nothing_arrives(bob, "message", wait=0.2)

    # carol is not concerned.
    carol = client(server, passwords, "carol")
    carol.message("alice@localhost", "from carol")
    assert message_from(alice, "carol@localhost").find(
        q(NS_CLIENT, "body")).text == "from carol"

    # Unblocking restores both directions.
    assert block(alice, "bob@localhost", verb="unblock").get("type") == \
        "result"
    assert blocklist(alice) == []
    bob.message("alice@localhost", "again")
    assert message_from(alice, "bob@localhost").find(
        q(NS_CLIENT, "body")).text == "again"
    alice.message("bob@localhost", "welcome back")
    assert message_from(bob, "alice@localhost").find(
        q(NS_CLIENT, "body")).text == "welcome back"
    for c in (alice, bob, carol):
        c.close()


def test_domain_and_full_jid_items(server, passwords):
    alice = client(server, passwords, "alice")
    bob1 = client(server, passwords, "bob", "one")
    bob2 = client(server, passwords, "bob", "two")
    assert block(alice, "bob@localhost/one").get("type") == "result"
    bob1.message("alice@localhost", "from one", id_="x1")
    assert stanza_error(bob1.recv(lambda e: e.get("id") == "x1"))[1] == \
        "service-unavailable"
    bob2.message("alice@localhost", "from two")
    assert message_from(alice, "bob@localhost/two") is not None
    # The domain blocks every account of it.
    assert block(alice, "localhost").get("type") == "result"
    bob2.message("alice@localhost", "blocked now", id_="x2")
    assert stanza_error(bob2.recv(lambda e: e.get("id") == "x2"))[1] == \
        "service-unavailable"
    # Unblock all.
    assert alice.iq("set", "<unblock xmlns='%s'/>" % NS_BLOCK).get(
        "type") == "result"
    assert blocklist(alice) == []
    bob2.message("alice@localhost", "free")
    assert message_from(alice, "bob@localhost/two") is not None
    for c in (alice, bob1, bob2):
        c.close()


def test_pushes_to_requesting_resources(server, passwords):
    a1 = client(server, passwords, "alice", "one")
    a2 = client(server, passwords, "alice", "two")
    a3 = client(server, passwords, "alice", "three")
    blocklist(a2)                       # a3 never asks: no pushes for it
    assert block(a1, "carol@localhost", "bob@localhost").get("type") == \
        "result"
    push = a2.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                   e.get("type") == "set")
    items = push.find(q(NS_BLOCK, "block")).findall(q(NS_BLOCK, "item"))
    assert sorted(i.get("jid") for i in items) == ["bob@localhost",
                                                   "carol@localhost"]
    assert push.get("to") == a2.jid
    a2.send("<iq type='result' id='%s'/>" % push.get("id"))
    nothing_arrives(a3, "iq", wait=0.3)
    assert block(a1, "carol@localhost", verb="unblock").get("type") == \
        "result"
    push = a2.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                   e.get("type") == "set")
    items = push.find(q(NS_BLOCK, "unblock")).findall(q(NS_BLOCK, "item"))
    assert [i.get("jid") for i in items] == ["carol@localhost"]
    for c in (a1, a2, a3):
        c.close()


def test_bad_requests(server, passwords):
    alice = client(server, passwords, "alice", presence=False)
    assert stanza_error(block(alice)) == ("modify", "bad-request")
    el = alice.iq("set", "<block xmlns='%s'><item/></block>" % NS_BLOCK)
    assert stanza_error(el) == ("modify", "bad-request")
    el = block(alice, "a@b@c")
    assert stanza_error(el) == ("modify", "jid-malformed")
    assert blocklist(alice) == []
    # Only the account itself manages its list.
    el = alice.iq("get", "<blocklist xmlns='%s'/>" % NS_BLOCK,
                  to="bob@localhost")
    assert stanza_error(el) is not None
    alice.close()


def test_persistent_over_restart(server, passwords):
    alice = client(server, passwords, "alice", presence=False)
    assert block(alice, "bob@localhost", "evil.example").get("type") == \
        "result"
    alice.close()
    server.restart()
    bob = client(server, passwords, "bob")
    alice = client(server, passwords, "alice")
    assert blocklist(alice) == ["bob@localhost", "evil.example"]
    bob.message("alice@localhost", "still?", id_="p1")
    assert stanza_error(bob.recv(lambda e: e.get("id") == "p1"))[1] == \
        "service-unavailable"
    # Offline: a blocked sender's message is not stored either.
    alice.close()
    time.sleep(0.2)
    bob.message("alice@localhost", "while away", id_="p2")
    assert stanza_error(bob.recv(lambda e: e.get("id") == "p2"))[1] == \
        "service-unavailable"
    bob.close()
    alice = client(server, passwords, "alice")
    nothing_arrives(alice, "message", wait=0.5)
    alice.close()


def test_block_sends_unavailable_to_subscribed_contact(server_factory,
                                                      passwords):
    server = server_factory(start=False)
    server.set_log("debug")
    server.start()
    server.ctl_ok("roster-add", "alice@localhost", "bob@localhost",
                  "--subscription=both")
    server.ctl_ok("roster-add", "bob@localhost", "alice@localhost",
                  "--subscription=both")
    bob = client(server, passwords, "bob", "b1")
    alice = client(server, passwords, "alice", "a1")
    alice.iq("get", "<query xmlns='jabber:iq:roster'/>")
    assert block(alice, "bob@localhost").get("type") == "result"
    server.wait_log("unavailable presence of alice@localhost to "
                    "bob@localhost")
    # carol, without a subscription, is not told.
    assert block(alice, "carol@localhost").get("type") == "result"
    alice.sync()
    assert "presence of alice@localhost to carol" not in server.log()
    # Routed to bob's bare JID, mod_presence delivers it to his resources.
    bob.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
             e.get("from") == alice.jid and e.get("type") == "unavailable")
    alice.close()
    bob.close()


def test_replies_addressed_and_in_order(server, passwords):
    """Requests sent at once are answered in order, each to the full JID
    with its id and from the account's bare JID (the iq had no 'to'); the
    session that asked for the list is the one that gets the push."""
    alice = client(server, passwords, "alice", "desk", presence=False)
    other = client(server, passwords, "alice", "lap", presence=False)
    alice.send("<iq type='get' id='g1'><blocklist xmlns='%s'/></iq>"
               % NS_BLOCK)
    alice.send("<iq type='set' id='b1'><block xmlns='%s'>"
               "<item jid='bob@localhost'/></block></iq>" % NS_BLOCK)
    alice.send("<iq type='get' id='g2'><blocklist xmlns='%s'/></iq>"
               % NS_BLOCK)
    replies = []
    while len(replies) < 3:
        el = alice.recv(lambda e: e.tag == q(NS_CLIENT, "iq"))
        if el.get("type") == "set":
            push = el
            alice.send("<iq type='result' id='%s'/>" % el.get("id"))
            continue
        replies.append(el)
    assert [e.get("id") for e in replies] == ["g1", "b1", "g2"]
    for e in replies:
        assert e.get("type") == "result", e.attrib
        assert e.get("to") == "alice@localhost/desk"
        assert e.get("from") == "alice@localhost"
    lists = [sorted(i.get("jid") for i in e.find(q(NS_BLOCK, "blocklist"))
                    .findall(q(NS_BLOCK, "item")))
             for e in (replies[0], replies[2])]
    assert lists == [[], ["bob@localhost"]]
    assert push.find(q(NS_BLOCK, "block")) is not None
    nothing_arrives(other, "iq", wait=0.3)
    alice.close()
    other.close()
