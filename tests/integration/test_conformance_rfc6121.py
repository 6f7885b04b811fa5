"""RFC 6121 (XMPP IM) conformance, written from the specification's
statements rather than from Ember's code: roster pushes, subscription
handling, presence broadcast and probes, and the delivery rules of
section 8 as a client sees them.  doc/conformance.md maps every statement
to its test; statements already covered by test_roster.py,
test_presence.py, test_routing.py, test_offline.py and
test_rfc6121_order.py are referenced there, not repeated here.

One emberd serves the whole module; each test makes its own accounts.
"""

import itertools
import xml.etree.ElementTree as ET

import pytest

from harness import EMBERCTL, EMBERD, Server
from rawxmpp import NS_CLIENT, RawClient, q, stanza_error

NS_ROSTER = "jabber:iq:roster"
PRESENCE = q(NS_CLIENT, "presence")
MESSAGE = q(NS_CLIENT, "message")

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    if not EMBERD.exists() or not EMBERCTL.exists():
        pytest.fail("%s not built (EMBER_BUILD names the build directory)"
                    % EMBERD, pytrace=False)
    s = Server(tmp_path_factory.mktemp("rfc6121"))
    s.add_plain_listener()
    s.start()
    yield s
    s.stop()
    mark = s.sanitizer_report()
    if mark:
        print(s.log())
        pytest.fail("sanitizer report in emberd log: %s" % mark,
                    pytrace=False)


@pytest.fixture
def users(srv):
    """users(n) -> n fresh bare JIDs (password: the localpart)."""
    def make(n=1):
        out = []
        for _ in range(n):
            name = "c6121u%d" % next(_ids)
            srv.adduser(name, name)
            out.append("%s@%s" % (name, srv.domain))
        return out
    return make


@pytest.fixture
def clients(srv):
    """clients(jid, resource=None, presence=None, roster=False) -> a bound
    RawClient (available with that priority when presence is not None,
    interested when roster is true), closed at the end of the test."""
    made = []

    def make(jid, resource=None, presence=None, roster=False):
        c = RawClient(srv.plain_port, srv.domain)
        user = jid.split("@")[0]
        c.login(user, user, resource=resource)
        if roster:
            el = c.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
            assert el.get("type") == "result"
        if presence is not None:
            c.presence(presence)
        c.sync()
        c.pending.clear()
        made.append(c)
        return c
    yield make
    for c in made:
        c.stream_end()
        c.close()


def rel(srv, user, contact, sub):
    """Set user's roster item for contact (administratively)."""
    srv.ctl_ok("roster-add", user, contact, "--subscription=" + sub)


def settle(*cs):
    """Round trip each client, then forget what it was sent so far."""
    for c in cs:
        c.sync()
        c.pending.clear()


def presence_from(frm, type_=None, bare=False):
    def match(el):
        if el.tag != PRESENCE:
            return False
        f = el.get("from") or ""
        if bare:
            f = f.split("/")[0]
        return f == frm and el.get("type") == type_
    return match


def msg(id_):
    return lambda e: e.tag == MESSAGE and e.get("id") == id_


def is_push(el):
    return (el.tag == q(NS_CLIENT, "iq") and el.get("type") == "set" and
            el.find(q(NS_ROSTER, "query")) is not None)


def push_for(jid):
    def match(el):
        if not is_push(el):
            return False
        items = el.find(q(NS_ROSTER, "query")).findall(q(NS_ROSTER, "item"))
        return any(i.get("jid") == jid for i in items)
    return match


def recv_push(c, jid, timeout=5):
    el = c.recv(push_for(jid), timeout=timeout)
    c.send("<iq type='result' id='%s'/>" % el.get("id"))
    return el.find(q(NS_ROSTER, "query")).find(q(NS_ROSTER, "item"))


def nothing(c, pred=None, timeout=0.6):
    try:
        el = c.recv(pred, timeout=timeout)
    except TimeoutError:
        return
    raise AssertionError("unexpected: %s" % ET.tostring(el)[:300])


# ---- 2 rosters ----------------------------------------------------------

def test_roster_push_carries_exactly_one_item(srv, users, clients):
    """2.1.6: a roster push contains one and only one item, even when the
    change touched the roster of a user with several contacts."""
    a, b, c = users(3)
    ca = clients(a, roster=True)
    for contact in (b, c):
        el = ca.iq("set", "<query xmlns='%s'><item jid='%s'/></query>"
                   % (NS_ROSTER, contact))
        assert el.get("type") == "result"
        push = ca.recv(is_push)
        ca.send("<iq type='result' id='%s'/>" % push.get("id"))
        items = push.find(q(NS_ROSTER, "query")).findall(q(NS_ROSTER, "item"))
        assert [i.get("jid") for i in items] == [contact]


# ---- 3 subscriptions ----------------------------------------------------

def test_subscribe_to_full_jid_is_treated_as_bare(srv, users, clients):
    """3.1.2: a subscription request addressed to a full JID is handled
    as if addressed to the contact's bare JID."""
    a, b = users(2)
    ca = clients(a, roster=True, presence=0)
    cb = clients(b, resource="desk", roster=True, presence=0)
    ca.send("<presence to='%s' type='subscribe'/>" % cb.jid)
    el = cb.recv(presence_from(a, "subscribe"))
    assert el.get("to") == b
    assert recv_push(ca, b).get("ask") == "subscribe"


def test_subscribe_auto_answered_when_already_approved(srv, users, clients):
    """3.1.3: when the user already has a subscription from the contact,
    the contact's server answers 'subscribed' itself and does not bother
    the contact."""
    a, b = users(2)
    rel(srv, b, a, "from")          # b already lets a see its presence
    ca = clients(a, roster=True, presence=0)
    cb = clients(b, roster=True, presence=0)
    ca.send("<presence to='%s' type='subscribe'/>" % b)
    ca.recv(presence_from(b, "subscribed"))
    nothing(cb, presence_from(a, "subscribe"))


def test_subscribe_delivered_to_every_available_resource(srv, users,
                                                         clients):
    """3.1.3: an inbound request goes to all of the contact's available
    resources (a negative priority included), not to sessions that have
    sent no presence."""
    a, b = users(2)
    ca = clients(a, roster=True, presence=0)
    hi = clients(b, resource="hi", presence=5)
    neg = clients(b, resource="neg", presence=-3)
    quiet = clients(b, resource="quiet")            # connected only
    ca.send("<presence to='%s' type='subscribe'/>" % b)
    hi.recv(presence_from(a, "subscribe"))
    neg.recv(presence_from(a, "subscribe"))
    nothing(quiet, presence_from(a, "subscribe"))


def test_subscribed_reaches_every_available_resource(srv, users, clients):
    """3.1.6: the approval is delivered to all of the user's available
    resources and the item (now 'to') is pushed to all interested
    ones."""
    a, b = users(2)
    a1 = clients(a, resource="one", roster=True, presence=1)
    a2 = clients(a, resource="two", roster=True, presence=-1)
    cb = clients(b, roster=True, presence=0)
    a1.send("<presence to='%s' type='subscribe'/>" % b)
    cb.recv(presence_from(a, "subscribe"))
    settle(a1, a2)
    cb.send("<presence to='%s' type='subscribed'/>" % a)
    for c in (a1, a2):
        c.recv(presence_from(b, "subscribed"))
        assert recv_push(c, b).get("subscription") == "to"


def test_unsubscribed_from_a_stranger_is_not_delivered(srv, users,
                                                       clients):
    """3.2.3: an 'unsubscribed' from someone the user is not subscribed
    to (nor asked) is ignored: nothing reaches the user, no push."""
    a, b = users(2)
    ca = clients(a, roster=True, presence=0)
    cb = clients(b, roster=True, presence=0)
    cb.send("<presence to='%s' type='unsubscribed'/>" % a)
    nothing(ca, lambda e: presence_from(b, "unsubscribed")(e) or
            push_for(b)(e))


# ---- 4 presence ---------------------------------------------------------

def test_initial_presence_comes_back_to_its_sender(srv, users, clients):
    """4.2.2: initial presence is also broadcast to all of the user's
    available resources, the one that sent it included."""
    (a,) = users()
    c = clients(a, resource="only")
    c.send("<presence><status>hello</status></presence>")
    el = c.recv(presence_from(c.jid))
    assert el.findtext(q(NS_CLIENT, "status")) == "hello"


def test_presence_update_reaches_all_own_resources(srv, users, clients):
    """4.4.2: a presence update goes to each of the user's available
    resources, the sender included."""
    (a,) = users()
    c1 = clients(a, resource="one", presence=0)
    c2 = clients(a, resource="two", presence=0)
    c1.send("<presence><show>dnd</show></presence>")
    for c in (c1, c2):
        el = c.recv(presence_from(c1.jid))
        assert el.findtext(q(NS_CLIENT, "show")) == "dnd"


def test_unavailable_reaches_all_own_resources_sender_included(srv, users,
                                                              clients):
    """4.5.2: "The user's server MUST also send the unavailable
    notification to all of the user's available resources (as well as to
    the resource that generated the unavailable notification in the first
    place)."  The sender gets it even though it is no longer available."""
    (a,) = users()
    c1 = clients(a, resource="one", presence=0)
    c2 = clients(a, resource="two", presence=0)
    settle(c1, c2)
    c1.send("<presence type='unavailable'><status>gone</status></presence>")
    for c in (c2, c1):
        el = c.recv(presence_from(c1.jid, "unavailable"))
        assert el.findtext(q(NS_CLIENT, "status")) == "gone"
    # Once unavailable, a resource no longer gets the others' presence.
    c2.send("<presence><show>away</show></presence>")
    c2.recv(presence_from(c2.jid))
    nothing(c1, presence_from(c2.jid))


def test_presence_not_broadcast_to_those_not_subscribed(srv, users,
                                                        clients):
    """4.2.2 / 4.4.2: broadcast goes to contacts subscribed to the user
    ('from' or 'both'), not to a contact the user only follows ('to')
    nor to one with a pending request."""
    a, b, c = users(3)
    rel(srv, a, b, "to")
    rel(srv, b, a, "from")
    cb = clients(b, roster=True, presence=0)
    cc = clients(c, roster=True, presence=0)
    ca = clients(a, roster=True)
    cc.send("<presence to='%s' type='subscribe'/>" % a)   # pending in
    settle(cb, cc)
    ca.send("<presence><status>here</status></presence>")
    ca.send("<presence><show>away</show></presence>")
    ca.sync()
    nothing(cb, presence_from(ca.jid))
    nothing(cc, presence_from(ca.jid))


def test_probe_of_an_offline_contact_answered_unavailable(srv, users,
                                                          clients):
    a, b = users(2)
    rel(srv, a, b, "to")
    rel(srv, b, a, "from")
    ca = clients(a, roster=True, presence=0)
    ca.send("<presence to='%s' type='probe'/>" % b)
    ca.recv(presence_from(b, "unavailable", bare=True), timeout=2)


def test_directed_presence_to_bare_jid_from_a_contact(srv, users, clients):
    """8.5.2.1.2 (with 4.6.3): available presence addressed to a bare JID
    is delivered to every available resource of that account."""
    a, b = users(2)
    rel(srv, a, b, "both")
    rel(srv, b, a, "both")
    b1 = clients(b, resource="one", roster=True, presence=1)
    b2 = clients(b, resource="two", roster=True, presence=-1)
    ca = clients(a, roster=True, presence=0)
    settle(b1, b2)
    ca.send("<presence to='%s'><status>direct</status></presence>" % b)
    for c in (b1, b2):
        el = c.recv(lambda e: presence_from(ca.jid)(e) and
                    e.findtext(q(NS_CLIENT, "status")) == "direct")
        assert el is not None


def test_directed_presence_to_bare_jid_from_a_stranger(srv, users, clients):
    """8.5.2.1.2: "For a presence stanza with no type or of type
    'unavailable', the server MUST deliver it to all available resources"
    -- a sender without a subscription included."""
    a, b = users(2)
    b1 = clients(b, resource="one", presence=0)
    b2 = clients(b, resource="two", presence=-1)
    settle(b1, b2)
    ca = clients(a, presence=0)
    ca.send("<presence to='%s'><status>hi</status></presence>" % b)
    for c in (b1, b2):
        el = c.recv(lambda e: presence_from(ca.jid)(e) and
                    e.findtext(q(NS_CLIENT, "status")) == "hi")
        assert el is not None


# ---- 8.5.1 no such user -------------------------------------------------

def test_iq_to_unknown_account(srv, users, clients):
    """8.5.1: an iq for an account that does not exist gets
    service-unavailable."""
    (a,) = users()
    ca = clients(a)
    ghost = "ghost%d@%s" % (next(_ids), srv.domain)
    for to in (ghost, ghost + "/res"):
        el = ca.iq("get", "<query xmlns='urn:example:x'/>", to=to)
        assert stanza_error(el) == ("cancel", "service-unavailable")


def test_message_to_unknown_account(srv, users, clients):
    """8.5.1: a message for a missing account is either dropped or
    answered with service-unavailable, never anything else."""
    (a,) = users()
    ca = clients(a)
    ghost = "ghost%d@%s" % (next(_ids), srv.domain)
    ca.send("<message to='%s' type='chat' id='g1'><body>x</body></message>"
            % ghost)
    ca.sync()
    for el in list(ca.pending):
        if el.get("id") == "g1":
            assert stanza_error(el)[1] == "service-unavailable"


def test_presence_to_unknown_account_is_ignored(srv, users, clients):
    """8.5.1: presence for a missing account is silently ignored."""
    (a,) = users()
    ca = clients(a, presence=0)
    ghost = "ghost%d@%s" % (next(_ids), srv.domain)
    ca.send("<presence to='%s' id='gp'/>" % ghost)
    ca.send("<presence to='%s/r' id='gp'/>" % ghost)
    nothing(ca, lambda e: e.get("id") == "gp")


# ---- 8.5.2 bare JID -----------------------------------------------------

def test_groupchat_to_bare_jid_is_refused(srv, users, clients):
    """8.5.2.1.1: a groupchat message to a bare JID is not delivered; the
    sender gets an error (service-unavailable)."""
    a, b = users(2)
    cb = clients(b, presence=0)
    ca = clients(a)
    ca.send("<message to='%s' type='groupchat' id='gc1'><body>x</body>"
            "</message>" % b)
    el = ca.recv(lambda e: e.get("id") == "gc1")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    nothing(cb, msg("gc1"))


def test_headline_to_bare_jid_reaches_all_non_negative(srv, users,
                                                       clients):
    """8.5.2.1.1: a headline to a bare JID goes to every resource with a
    non-negative priority (and not to negative ones)."""
    a, b = users(2)
    hi = clients(b, resource="hi", presence=5)
    zero = clients(b, resource="zero", presence=0)
    neg = clients(b, resource="neg", presence=-1)
    ca = clients(a)
    ca.send("<message to='%s' type='headline' id='hl1'><body>news</body>"
            "</message>" % b)
    hi.recv(msg("hl1"))
    zero.recv(msg("hl1"))
    nothing(neg, msg("hl1"))


def test_error_message_to_bare_jid_is_dropped(srv, users, clients):
    """8.5.2.1.1: a message of type error to a bare JID with available
    resources is silently ignored (test_offline.py covers the account
    without resources, 8.5.2.2.1)."""
    a, b = users(2)
    cb = clients(b, presence=0)
    ca = clients(a)
    ca.send("<message to='%s' type='error' id='em1'><error "
            "type='cancel'><item-not-found xmlns='urn:ietf:params:xml:"
            "ns:xmpp-stanzas'/></error></message>" % b)
    nothing(cb, msg("em1"))
    nothing(ca, msg("em1"))


# ---- 8.5.3 full JID -----------------------------------------------------

def test_message_to_a_connected_resource_is_delivered(srv, users, clients):
    """8.5.3.1: a message to a full JID that matches a connected resource
    is delivered to it, even before it sent presence."""
    a, b = users(2)
    cb = clients(b, resource="quiet")          # connected, not available
    ca = clients(a)
    ca.send("<message to='%s' type='chat' id='cr1'><body>x</body>"
            "</message>" % cb.jid)
    cb.recv(msg("cr1"))


@pytest.mark.parametrize("type_", [
    "groupchat", "normal", "headline",
])
def test_message_to_a_missing_resource(srv, users, clients, type_):
    """8.5.3.2.1: normal, groupchat and headline messages to a full JID
    whose resource does not exist are dropped or answered with an error
    (service-unavailable), not delivered elsewhere."""
    a, b = users(2)
    cb = clients(b, resource="here", presence=1)
    ca = clients(a)
    ca.send("<message to='%s/gone' type='%s' id='mr1'><body>x</body>"
            "</message>" % (b, type_))
    ca.sync()
    for el in list(ca.pending):
        if el.get("id") == "mr1":
            assert stanza_error(el)[1] == "service-unavailable"
    nothing(cb, msg("mr1"))


def test_error_message_to_a_missing_resource_is_dropped(srv, users,
                                                        clients):
    """8.5.3.2.1: a message of type error to a missing resource is
    silently ignored."""
    a, b = users(2)
    cb = clients(b, resource="here", presence=1)
    ca = clients(a)
    ca.send("<message to='%s/gone' type='error' id='me1'><error "
            "type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:"
            "xmpp-stanzas'/></error></message>" % b)
    nothing(cb, msg("me1"))
    nothing(ca, msg("me1"))


def test_presence_to_a_missing_resource_is_dropped(srv, users, clients):
    """8.5.3.2.2: available or unavailable presence to a full JID with no
    such resource is silently ignored."""
    a, b = users(2)
    rel(srv, b, a, "both")
    rel(srv, a, b, "both")
    cb = clients(b, resource="here", roster=True, presence=1)
    ca = clients(a, roster=True, presence=0)
    settle(cb, ca)
    ca.send("<presence to='%s/gone' id='pm1'><status>x</status></presence>"
            % b)
    ca.send("<presence to='%s/gone' type='unavailable' id='pm1'/>" % b)
    nothing(cb, lambda e: e.get("id") == "pm1")
    nothing(ca, lambda e: e.get("id") == "pm1")
