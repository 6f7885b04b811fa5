"""mod_presence: RFC 6121 sections 3 and 4 -- subscriptions (handshake,
pre-approval, requests kept for offline users, cancellations), broadcast,
probes at login, directed presence, unavailable for dropped sessions."""

import json
import time

from rawxmpp import NS_CLIENT, RawClient, q
from slix import login, run

NS_ROSTER = "jabber:iq:roster"


def connect(server, passwords, user, resource=None, roster=True,
            presence=True, status=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    if roster:
        el = c.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
        assert el.get("type") == "result"
    if presence:
        c.presence(extra="<status>%s</status>" % status if status else "")
    return c


def is_presence(frm=None, type_=None, bare=False):
    def match(el):
        if el.tag != q(NS_CLIENT, "presence"):
            return False
        f = el.get("from") or ""
        if bare:
            f = f.split("/")[0]
        if frm is not None and f != frm:
            return False
        return el.get("type") == type_
    return match


def recv_presence(c, frm=None, type_=None, bare=False, timeout=5):
    return c.recv(is_presence(frm, type_, bare), timeout=timeout)


def no_presence(c, frm=None, type_=None, bare=False, wait=0.4):
    try:
        el = c.recv(is_presence(frm, type_, bare), timeout=wait)
    except TimeoutError:
        return
    raise AssertionError("unexpected presence from %s type %s"
                         % (el.get("from"), el.get("type")))


def is_push(el):
    return (el.tag == q(NS_CLIENT, "iq") and el.get("type") == "set" and
            el.find(q(NS_ROSTER, "query")) is not None)


def recv_push(c, jid, timeout=5):
    el = c.recv(lambda e: is_push(e) and
                e.find(q(NS_ROSTER, "query")).find(
                    q(NS_ROSTER, "item")).get("jid") == jid,
                timeout=timeout)
    c.send("<iq type='result' id='%s'/>" % el.get("id"))
    item = el.find(q(NS_ROSTER, "query")).find(q(NS_ROSTER, "item"))
    return item.get("subscription"), item.get("ask"), item.get("approved")


def roster_item(c, jid):
    el = c.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
    for it in el.find(q(NS_ROSTER, "query")).findall(q(NS_ROSTER, "item")):
        if it.get("jid") == jid:
            return it.get("subscription"), it.get("ask"), it.get("approved")
    return None


def send(c, to, type_):
    c.send("<presence to='%s' type='%s'/>" % (to, type_))


def wait_pending(server, user, contact, timeout=5):
    """Until the request of contact is stored in user's roster."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = server.ctl_ok("--json", "roster-list", user)
        res = json.loads(r.stdout)
        res = res.get("result", res)
        if any(i["jid"] == contact and i["pending_in"]
               for i in res["items"]):
            return
        time.sleep(0.05)
    raise AssertionError("the request was not stored")


def mutual(server, a="alice", b="bob"):
    for x, y in ((a, b), (b, a)):
        server.ctl_ok("roster-add", server.jid(x), server.jid(y),
                      "--subscription=both")


def test_handshake_to_both(server, passwords):
    a = connect(server, passwords, "alice", status="here")
    b = connect(server, passwords, "bob", status="there")
    send(a, "bob@localhost", "subscribe")
    assert recv_push(a, "bob@localhost") == ("none", "subscribe", None)
    el = recv_presence(b, "alice@localhost", "subscribe")
    assert el.get("to") == "bob@localhost"
    send(b, "alice@localhost", "subscribed")
    assert recv_push(b, "alice@localhost") == ("from", None, None)
    assert recv_push(a, "bob@localhost") == ("to", None, None)
    recv_presence(a, "bob@localhost", "subscribed")
    el = recv_presence(a, b.jid)            # bob's current presence
    assert el.find(q(NS_CLIENT, "status")).text == "there"
    # The other way round.
    send(b, "alice@localhost", "subscribe")
    assert recv_push(b, "alice@localhost") == ("from", "subscribe", None)
    recv_presence(a, "bob@localhost", "subscribe")
    send(a, "bob@localhost", "subscribed")
    assert recv_push(a, "bob@localhost") == ("both", None, None)
    assert recv_push(b, "alice@localhost") == ("both", None, None)
    recv_presence(b, "alice@localhost", "subscribed")
    recv_presence(b, a.jid)
    assert roster_item(a, "bob@localhost") == ("both", None, None)
    assert roster_item(b, "alice@localhost") == ("both", None, None)
    # Broadcast of a change reaches the subscriber.
    a.send("<presence><show>away</show></presence>")
    el = recv_presence(b, a.jid)
    assert el.find(q(NS_CLIENT, "show")).text == "away"
    # Answering again changes nothing and goes nowhere.
    send(a, "bob@localhost", "subscribed")
    no_presence(b, "alice@localhost", "subscribed")
    a.close()
    b.close()


def test_preapproval(server, passwords):
    a = connect(server, passwords, "alice")
    assert a.features.find(q("urn:xmpp:features:pre-approval",
                             "sub")) is not None
    b = connect(server, passwords, "bob")
    send(a, "bob@localhost", "subscribed")       # approve before asked
    assert recv_push(a, "bob@localhost") == ("none", None, "true")
    no_presence(b, "alice@localhost", "subscribed")
    send(b, "alice@localhost", "subscribe")
    assert recv_push(b, "alice@localhost") == ("none", "subscribe", None)
    assert recv_push(a, "bob@localhost") == ("from", None, None)
    recv_presence(b, "alice@localhost", "subscribed")
    assert recv_push(b, "alice@localhost") == ("to", None, None)
    recv_presence(b, a.jid)
    no_presence(a, "bob@localhost", "subscribe")
    a.close()
    b.close()


def test_request_to_offline_user_kept_until_answered(server, passwords):
    a = connect(server, passwords, "alice")
    send(a, "bob@localhost", "subscribe")
    assert recv_push(a, "bob@localhost") == ("none", "subscribe", None)
    a.close()
    wait_pending(server, "bob@localhost", "alice@localhost")
    # Not in bob's roster while unanswered, delivered at each login, also
    # after a restart.
    server.restart()
    for _ in range(2):
        b = connect(server, passwords, "bob")
        recv_presence(b, "alice@localhost", "subscribe")
        assert roster_item(b, "alice@localhost") is None
        b.close()
    b = connect(server, passwords, "bob")
    recv_presence(b, "alice@localhost", "subscribe")
    send(b, "alice@localhost", "subscribed")
    assert recv_push(b, "alice@localhost") == ("from", None, None)
    b.close()
    b = connect(server, passwords, "bob")
    no_presence(b, "alice@localhost", "subscribe")
    b.close()
    a = connect(server, passwords, "alice")
    assert roster_item(a, "bob@localhost") == ("to", None, None)
    a.close()


def test_denied_request(server, passwords):
    a = connect(server, passwords, "alice")
    b = connect(server, passwords, "bob")
    send(a, "bob@localhost", "subscribe")
    assert recv_push(a, "bob@localhost") == ("none", "subscribe", None)
    recv_presence(b, "alice@localhost", "subscribe")
    send(b, "alice@localhost", "unsubscribed")
    recv_presence(a, "bob@localhost", "unsubscribed")
    assert recv_push(a, "bob@localhost") == ("none", None, None)
    b.close()
    b = connect(server, passwords, "bob")
    no_presence(b, "alice@localhost", "subscribe")
    a.close()
    b.close()


def test_subscribe_to_unknown_account(server, passwords):
    a = connect(server, passwords, "alice")
    send(a, "nobody@localhost", "subscribe")
    assert recv_push(a, "nobody@localhost") == ("none", "subscribe", None)
    recv_presence(a, "nobody@localhost", "unsubscribed")
    assert recv_push(a, "nobody@localhost") == ("none", None, None)
    a.close()


def test_probe_answers_at_login(server, passwords):
    mutual(server)
    a = connect(server, passwords, "alice", resource="desk", status="in")
    a2 = connect(server, passwords, "alice", resource="phone", status="out")
    b = connect(server, passwords, "bob")
    got = {}
    for _ in range(2):
        el = recv_presence(b, "alice@localhost", bare=True)
        got[el.get("from")] = el.find(q(NS_CLIENT, "status")).text
    assert got == {a.jid: "in", a2.jid: "out"}
    # And alice's resources see bob come online.
    recv_presence(a, b.jid)
    recv_presence(a2, b.jid)
    # carol, not subscribed, sees nothing.
    c = connect(server, passwords, "carol")
    no_presence(c, "alice@localhost", bare=True)
    for x in (a, a2, b, c):
        x.close()


def test_own_resources_see_each_other(server, passwords):
    a1 = connect(server, passwords, "alice", resource="one", status="1")
    a2 = connect(server, passwords, "alice", resource="two", status="2")
    el = recv_presence(a2, a1.jid)
    assert el.find(q(NS_CLIENT, "status")).text == "1"
    recv_presence(a1, a2.jid)
    a2.send("<presence type='unavailable'/>")
    recv_presence(a1, a2.jid, "unavailable")
    a1.close()
    a2.close()


def test_unavailable_when_client_drops(server, passwords):
    mutual(server)
    b = connect(server, passwords, "bob")
    a = connect(server, passwords, "alice")
    recv_presence(b, a.jid)
    a.sock.close() if a.tls is None else a.tls.close()  # no </stream>
    el = recv_presence(b, a.jid, "unavailable")
    assert el.get("to") == "bob@localhost"
    # A clean unavailable works as well.
    a = connect(server, passwords, "alice")
    recv_presence(b, a.jid)
    a.send("<presence type='unavailable'><status>bye</status></presence>")
    el = recv_presence(b, a.jid, "unavailable")
    assert el.find(q(NS_CLIENT, "status")).text == "bye"
    a.close()
    b.close()


def test_directed_presence(server, passwords):
    b = connect(server, passwords, "bob", resource="res")
    c = connect(server, passwords, "carol")
    # carol is no contact, yet presence to bob's bare JID reaches his
    # available resources (RFC 6121 8.5.2.1.2)...
    c.send("<presence to='bob@localhost'><status>hi</status></presence>")
    el = recv_presence(b, c.jid)
    assert el.find(q(NS_CLIENT, "status")).text == "hi"
    # ...so does presence to a full JID, and its end is announced.
    c.send("<presence to='%s'><status>hello</status></presence>" % b.jid)
    el = recv_presence(b, c.jid)
    assert el.find(q(NS_CLIENT, "status")).text == "hello"
    c.send("<presence type='unavailable'/>")
    recv_presence(b, c.jid, "unavailable")
    # Directed again, then the connection drops.
    c.send("<presence/>")
    c.send("<presence to='%s'/>" % b.jid)
    recv_presence(b, c.jid)
    c.close()
    recv_presence(b, c.jid, "unavailable")
    b.close()


def test_unsubscribe_and_unsubscribed(server, passwords):
    mutual(server)
    a = connect(server, passwords, "alice")
    b = connect(server, passwords, "bob")
    recv_presence(a, b.jid)
    recv_presence(b, a.jid)
    # alice stops following bob.
    send(a, "bob@localhost", "unsubscribe")
    assert recv_push(a, "bob@localhost") == ("from", None, None)
    assert recv_push(b, "alice@localhost") == ("to", None, None)
    recv_presence(b, "alice@localhost", "unsubscribe")
    recv_presence(a, b.jid, "unavailable")
    # bob still gets alice's presence; then alice cancels it.
    a.send("<presence><show>dnd</show></presence>")
    recv_presence(b, a.jid)
    send(a, "bob@localhost", "unsubscribed")
    assert recv_push(a, "bob@localhost") == ("none", None, None)
    assert recv_push(b, "alice@localhost") == ("none", None, None)
    recv_presence(b, "alice@localhost", "unsubscribed")
    recv_presence(b, a.jid, "unavailable")
    a.send("<presence><show>chat</show></presence>")
    no_presence(b, a.jid)
    a.close()
    b.close()


def test_roster_remove_cancels_subscriptions(server, passwords):
    mutual(server)
    a = connect(server, passwords, "alice")
    b = connect(server, passwords, "bob")
    recv_presence(a, b.jid)
    el = a.iq("set", "<query xmlns='%s'><item jid='bob@localhost' "
              "subscription='remove'/></query>" % NS_ROSTER)
    assert el.get("type") == "result"
    assert recv_push(a, "bob@localhost")[0] == "remove"
    recv_presence(b, "alice@localhost", "unsubscribe")
    recv_presence(b, "alice@localhost", "unsubscribed")
    recv_presence(b, a.jid, "unavailable")
    assert roster_item(b, "alice@localhost") == ("none", None, None)
    a.close()
    b.close()


def test_slixmpp_subscription(server, passwords):
    async def body():
        a = await login(server, "alice", passwords["alice"])
        b = await login(server, "bob", passwords["bob"])
        try:
            for c in (a, b):
                await c.get_roster()
                c.send_presence()
            # slixmpp answers requests by itself (auto_authorize).
            a.send_presence(pto="bob@localhost", ptype="subscribe")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                item = a.client_roster["bob@localhost"]
                if item["to"]:
                    break
                await __import__("asyncio").sleep(0.05)
            assert a.client_roster["bob@localhost"]["to"]
            assert b.client_roster["alice@localhost"]["from"]
        finally:
            await a.close()
            await b.close()
    run(body())
