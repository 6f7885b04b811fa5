"""RFC 6121 delivery rules that real clients notice (issue 14): what the
user receives, and in which order, when a contact approves a
subscription; what a probe without a subscription gets."""

from rawxmpp import NS_CLIENT, RawClient, q
from test_presence import NS_ROSTER, connect, is_push, send


def kind(el):
    if is_push(el):
        item = el.find(q(NS_ROSTER, "query")).find(q(NS_ROSTER, "item"))
        return "push:%s" % item.get("subscription")
    if el.tag == q(NS_CLIENT, "presence"):
        return "presence:%s:%s" % ((el.get("from") or "").split("/")[0],
                                   el.get("type") or "available")
    return el.tag


def test_approval_arrives_before_the_contacts_presence(server, passwords):
    """3.1.5: the contact's server routes "subscribed", pushes, and then
    sends the contact's current presence; 3.1.6: the user's server
    delivers the approval and pushes the item with subscription "to".
    The presence must not overtake them (a client that sees presence
    from a contact it is not subscribed to drops it)."""
    a = connect(server, passwords, "alice")
    b = connect(server, passwords, "bob", status="here")
    send(a, "bob@localhost", "subscribe")
    b.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
           e.get("type") == "subscribe")
    a.sync()
    a.pending.clear()
    send(b, "alice@localhost", "subscribed")
    seen = []
    while "presence:bob@localhost:available" not in seen:
        el = a.recv(lambda e: True, timeout=5)
        if is_push(el):
            a.send("<iq type='result' id='%s'/>" % el.get("id"))
        seen.append(kind(el))
    avail = seen.index("presence:bob@localhost:available")
    assert "presence:bob@localhost:subscribed" in seen[:avail], seen
    assert "push:to" in seen[:avail], seen
    a.close()
    b.close()


def test_probe_without_subscription_gets_unsubscribed(server, passwords):
    """4.3.2: a probe from someone the contact has no subscription from is
    answered "unsubscribed", from the contact's bare JID, which cancels
    the subscription the prober believed it had (3.2.3).  Alice's roster
    says she is subscribed to Bob; Bob's roster knows nothing of it (a
    restored backup, say)."""
    server.ctl_ok("roster-add", "--user=alice@localhost",
                  "--contact=bob@localhost", "--subscription=to")
    b = connect(server, passwords, "bob")
    a = connect(server, passwords, "alice")
    a.sync()
    a.pending.clear()
    a.send("<presence to='bob@localhost' type='probe'/>")
    el = a.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                e.get("type") == "unsubscribed", timeout=5)
    assert el.get("from") == "bob@localhost"
    a.recv(lambda e: is_push(e) and e.find(q(NS_ROSTER, "query")).find(
        q(NS_ROSTER, "item")).get("subscription") == "none", timeout=5)
    a.close()
    b.close()
