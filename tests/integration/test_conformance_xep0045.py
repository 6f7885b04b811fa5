"""XEP-0045 (Multi-User Chat, service side) conformance, written from the
specification's statements rather than from Ember's code.
doc/conformance.md maps every statement to its test; statements already
covered by test_muc_basic.py, test_muc_admin.py and test_muc_conformance.py
are referenced there, not repeated here.

One emberd serves the whole module (room names and accounts are fresh in
each test); the service-shutdown test starts its own.
"""

import itertools
import signal
import time
import xml.etree.ElementTree as ET

import pytest

from harness import EMBERCTL, EMBERD, Server
from muclib import (MESSAGE, NS_DATA, NS_DELAY, NS_MUC, NS_MUC_ADMIN,
                    NS_MUC_USER, PRESENCE, Occ, body, codes, error,
                    form_fields, item, muc_domain)
from rawxmpp import (NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, RawClient,
                     StreamClosed, disco_features, q)

NS_STABLE_ID = "http://jabber.org/protocol/muc#stable_id"
NS_TRAFFIC = "http://jabber.org/protocol/muc#traffic"

_ids = itertools.count(1)


def _start(root):
    if not EMBERD.exists() or not EMBERCTL.exists():
        pytest.fail("%s not built (EMBER_BUILD names the build directory)"
                    % EMBERD, pytrace=False)
    s = Server(root)
    s.add_plain_listener()
    s.start()
    return s


def _finish(s):
    if s.running():
        s.stop()
    mark = s.sanitizer_report()
    if mark:
        print(s.log())
        pytest.fail("sanitizer report in emberd log: %s" % mark,
                    pytrace=False)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = _start(tmp_path_factory.mktemp("xep0045"))
    yield s
    _finish(s)


class Occupant(Occ):
    """muclib's Occ over the plaintext loopback listener."""

    def __init__(self, server, user, resource="r1"):
        self.server = server
        self.c = RawClient(server.plain_port, server.domain)
        self.jid = self.c.login(user, user, resource=resource)
        self.bare = self.jid.split("/")[0]
        self.c.presence()
        self.domain = muc_domain(server)
        self.c.sync()
        self.c.pending.clear()


@pytest.fixture
def people(srv):
    """people(n) -> n fresh users, each online as an Occupant."""
    made = []

    def make(n=1):
        out = []
        for _ in range(n):
            name = "c45u%d" % next(_ids)
            srv.adduser(name, name)
            o = Occupant(srv, name)
            made.append(o)
            out.append(o)
        return out
    yield make
    for o in made:
        o.close()


def room_name():
    return "conf%d" % next(_ids)


def in_room(o, room):
    full = o.room(room)
    return lambda e: (e.get("from") or "").split("/")[0] == full


def collect(o, room, timeout=0.6):
    """Everything the room sends o until it falls quiet."""
    out = []
    pred = in_room(o, room)
    while True:
        try:
            out.append(o.recv(pred, timeout=timeout))
        except TimeoutError:
            return out


def kind(el):
    if el.tag == PRESENCE:
        return "self" if 110 in codes(el) else "presence"
    if el.tag == MESSAGE:
        if el.find(q(NS_CLIENT, "subject")) is not None and body(el) is None:
            return "subject"
        if el.find(q(NS_DELAY, "delay")) is not None:
            return "history"
        return "live"
    return el.tag


# ---- 7.1 / 7.2 entering -------------------------------------------------

def test_join_order_of_events(people):
    """7.1: others' presence, then self-presence, then history, then the
    subject, then live traffic; 7.2.13: no history before the room
    presence is complete; 7.2.15: the subject follows the history."""
    a, b, c = people(3)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    a.recv_presence(room)
    for i in range(3):
        a.say(room, "old%d" % i)
    # The room has them all (A got its copies) before C asks.
    for i in range(3):
        a.recv_groupchat()
    c.join_raw(room, "C")
    # The room tells A of C in the same step that sends C its history and
    # subject: after that, A's message is live traffic for C.
    a.recv_presence(room)
    a.say(room, "live")
    got = [kind(e) for e in collect(c, room)]
    assert got == ["presence", "presence", "self", "history", "history",
                   "history", "subject", "live"], got


def test_presence_items_carry_role_and_affiliation(people):
    """5.1 / 5.2 / 7.2.2: every presence from the room carries role and
    affiliation, in a single muc#user <x/>."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join_raw(room, "B")
    seen = collect(b, room) + collect(a, room)
    b.leave(room, "B")
    seen += collect(b, room) + collect(a, room)
    presences = [e for e in seen if e.tag == PRESENCE]
    assert len(presences) >= 5
    for p in presences:
        xs = p.findall(q(NS_MUC_USER, "x"))
        assert len(xs) == 1, ET.tostring(p)
        it = xs[0].find(q(NS_MUC_USER, "item"))
        assert it.get("role") and it.get("affiliation"), ET.tostring(p)


def test_subject_is_empty_when_none_was_set(people):
    """7.2.15: with no subject set, the room still sends a message with
    an empty <subject/> (and no body) after the history."""
    (a,) = people()
    room = room_name()
    a.create(room, "A")
    a.leave(room, "A")
    a.recv_presence(room)
    a.c.pending.clear()
    a.join(room, "A")
    assert a.subject == ""


def test_join_with_a_nick_in_use_is_conflict(people):
    """7.2.8: entering with a nickname another user holds is refused with
    conflict, and the occupant is not disturbed."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join_raw(room, "A")
    assert error(b.recv_presence(room)) == ("cancel", "conflict")
    a.nothing(0.5, in_room(a, room))


def test_admin_may_join_a_full_room(people):
    """7.2.9: a room at its occupant limit still lets an admin or owner
    in."""
    a, b, c, d = people(4)
    room = room_name()
    a.create(room, "A", {"muc#roomconfig_maxusers": "2"})
    b.join(room, "B")
    r = a.admin(room, "<item jid='%s' affiliation='admin'/>" % c.bare)
    assert r.get("type") == "result"
    p, _ = c.join(room, "C")
    assert item(p).get("affiliation") == "admin"
    d.join_raw(room, "D")
    assert error(d.recv_presence(room)) == ("cancel", "service-unavailable")


def test_presence_without_x_from_non_occupant_is_kicked(people):
    """7.2.18 (RECOMMENDED since 1.32): presence without <x/> from a
    non-occupant full JID gets an explicit kick, which MUST carry 110, 307
    and 333."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join_raw(room, "B", x=False)
    p = b.recv_presence(room)
    assert p.get("type") == "unavailable"
    assert {110, 307, 333} <= codes(p)


# ---- 7.4 / 7.5 / 17.2 messages ------------------------------------------

def test_groupchat_reflected_with_the_senders_id(people):
    """7.4: the service reflects a groupchat message with the id the
    sender gave it, from the sender's occupant JID, to every occupant."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    a.recv_presence(room)
    b.send("<message to='%s' type='groupchat' id='keep-me'><body>hi</body>"
           "</message>" % b.room(room))
    for o in (a, b):
        m = o.recv_groupchat()
        assert m.get("id") == "keep-me"
        assert m.get("from") == b.room(room) + "/B"


def test_stable_id_feature_advertised(people):
    (a,) = people()
    room = room_name()
    a.create(room, "A")
    assert NS_STABLE_ID in disco_features(a.c.disco_info(a.domain))
    assert NS_STABLE_ID in disco_features(a.c.disco_info(a.room(room)))


def test_extended_content_passes_through(people):
    """17.2: extended information in a groupchat message reaches the
    occupants unchanged."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    a.recv_presence(room)
    a.send("<message to='%s' type='groupchat' id='x1'><body>styled</body>"
           "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
           "xmlns='http://www.w3.org/1999/xhtml'><p>styled</p></body></html>"
           "</message>" % a.room(room))
    m = b.recv_groupchat()
    h = m.find(q("http://jabber.org/protocol/xhtml-im", "html"))
    assert h is not None
    assert h.find("{http://www.w3.org/1999/xhtml}body/"
                  "{http://www.w3.org/1999/xhtml}p").text == "styled"


def test_message_from_non_occupant_not_delivered(people):
    """17.2 / 7.4: a message from someone with no role is not delivered
    to the occupants and is answered with an error."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.send("<message to='%s' type='groupchat' id='no1'><body>psst</body>"
           "</message>" % b.room(room))
    e = b.recv_message(pred=lambda e: e.get("id") == "no1")
    assert error(e)[1] in ("not-acceptable", "forbidden")
    a.nothing(0.5, lambda e: e.tag == MESSAGE and body(e) == "psst")


# ---- 6 disco ------------------------------------------------------------

def test_room_items_query_is_answered(people):
    """6.5: a disco#items query to a room is answered (occupants or an
    empty query when they are private), never refused."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    r = b.iq("get", b.room(room), "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
    assert r.get("type") == "result"
    assert r.find(q(NS_DISCO_ITEMS, "query")) is not None


def test_disco_to_occupant_by_non_occupant(people):
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    r = b.iq("get", b.room(room) + "/A", "<query xmlns='%s'/>"
             % NS_DISCO_INFO)
    assert error(r) == ("modify", "bad-request")


def test_reserved_nick_node(people):
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    r = b.iq("get", b.room(room), "<query xmlns='%s' node='x-roomuser-item'/>"
             % NS_DISCO_INFO)
    if error(r):
        assert error(r)[1] == "feature-not-implemented"
    else:
        # b has no registered nick: an empty query.
        assert len(list(r.find(q(NS_DISCO_INFO, "query")))) == 0, \
            ET.tostring(r)


def test_traffic_node(people):
    (a,) = people()
    room = room_name()
    a.create(room, "A")
    r = a.iq("get", a.room(room), "<query xmlns='%s' node='%s'/>"
             % (NS_DISCO_INFO, NS_TRAFFIC))
    assert error(r) is not None and error(r)[1] in (
        "service-unavailable", "feature-not-implemented"), ET.tostring(r)


def test_registration_requirements(people):
    """7.10: a room that supports registration answers with a data form
    (one that does not, service-unavailable); a room that does not exist,
    item-not-found."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    r = b.iq("get", b.room(room), "<query xmlns='jabber:iq:register'/>")
    if error(r):
        assert error(r)[1] == "service-unavailable"
    else:
        x = r.find(q("jabber:iq:register", "query")).find(q(NS_DATA, "x"))
        assert x is not None and x.get("type") == "form", ET.tostring(r)
        assert form_fields(x)["FORM_TYPE"] == [NS_MUC + "#register"]
    r = b.iq("get", b.room(room_name()),
             "<query xmlns='jabber:iq:register'/>")
    assert error(r)[1] == "item-not-found"


# ---- 7.8 invitations ----------------------------------------------------

def test_invitation_to_nonexistent_jid(srv, people):
    """7.8.2: "If the inviter supplies a non-existent JID, the room SHOULD
    return an item-not-found error to the inviter"."""
    (a,) = people()
    room = room_name()
    a.create(room, "A")
    a.send("<message to='%s' id='inv-ghost'><x xmlns='%s'><invite to="
           "'ghost%d@%s'/></x></message>"
           % (a.room(room), NS_MUC_USER, next(_ids), srv.domain))
    e = a.recv_message(timeout=2, pred=lambda e: e.get("type") == "error")
    assert error(e)[1] == "item-not-found"


def test_member_may_not_invite_to_members_only_room(people):
    """9.5: where only admins may invite, a member's invitation is
    refused with forbidden."""
    a, b, c = people(3)
    room = room_name()
    a.create(room, "A", {"muc#roomconfig_membersonly": "1"})
    a.admin(room, "<item jid='%s' affiliation='member'/>" % b.bare)
    b.join(room, "B")
    b.send("<message to='%s'><x xmlns='%s'><invite to='%s'/></x></message>"
           % (b.room(room), NS_MUC_USER, c.bare))
    e = b.recv_message(pred=lambda e: e.get("type") == "error")
    assert error(e) == ("auth", "forbidden")
    c.nothing(0.5, lambda e: e.tag == MESSAGE)


# ---- 7.14 / 17.3 presence rules -----------------------------------------

def test_exit_presence_has_role_none(people):
    """7.14: the unavailable presence of a leaving occupant goes to it
    (with 110) and to the others, with role 'none' and an affiliation."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    a.recv_presence(room)
    b.leave(room, "B")
    for o, self_ in ((b, True), (a, False)):
        p = o.recv_presence(room)
        assert p.get("type") == "unavailable"
        assert (110 in codes(p)) == self_
        assert item(p).get("role") == "none"
        assert item(p).get("affiliation") == "none"


def test_invisible_nickname_refused(people):
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.send("<presence to='%s/  '><x xmlns='%s'/></presence>"
           % (b.room(room), NS_MUC))
    p = b.recv_presence()
    assert p.get("type") == "error", ET.tostring(p)


def test_unavailable_from_non_occupant_is_ignored(people):
    """17.3: unavailable presence from a user with no role is silently
    ignored."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.send("<presence type='unavailable' to='%s/Nobody'/>" % b.room(room))
    b.nothing(0.6, in_room(b, room))
    a.nothing(0.3, in_room(a, room))


def test_probe_is_neither_join_nor_exit(people):
    """17.3: a presence with a type (a probe) is never taken as a request
    to join or to leave."""
    a, b, c = people(3)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    a.recv_presence(room)
    b.send("<presence type='probe' to='%s/A'/>" % b.room(room))
    b.recv_presence(room)
    c.send("<presence type='probe' to='%s/C'/>" % c.room(room))
    c.recv_presence(room)                      # an error, not a join
    a.nothing(0.5, in_room(a, room))           # nobody joined or left
    a.say(room, "still here?")
    assert body(b.recv_groupchat()) == "still here?"


def test_client_muc_user_data_not_reflected(people):
    """17.3: role, affiliation, JID or status codes a client puts in its
    own presence are not passed on to other occupants."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    a.recv_presence(room)
    b.send("<presence to='%s/B'><show>away</show><x xmlns='%s'><item "
           "affiliation='owner' role='moderator' jid='evil@example.org/x'/>"
           "<status code='201'/></x></presence>" % (b.room(room), NS_MUC_USER))
    p = a.recv_presence(room)
    xs = p.findall(q(NS_MUC_USER, "x"))
    assert len(xs) == 1
    assert (item(p).get("role"), item(p).get("affiliation")) == \
        ("participant", "none")
    assert item(p).get("jid") != "evil@example.org/x"
    assert 201 not in codes(p)


# ---- 17.4 iq rules ------------------------------------------------------

def test_role_and_affiliation_in_one_item_is_bad_request(people):
    """17.4: an admin item changing both role and affiliation is refused
    with bad-request."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    r = a.admin(room, "<item nick='B' jid='%s' role='visitor' "
                "affiliation='member'/>" % b.bare)
    assert error(r) == ("modify", "bad-request")


def test_role_list_items(people):
    """17.4 / 8.5 / 9.8: role lists give nick, role, affiliation and the
    full JID of each item."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    for role, who in (("participant", b), ("moderator", a)):
        r = a.admin(room, "<item role='%s'/>" % role, type_="get")
        items = list(r.iter(q(NS_MUC_ADMIN, "item")))
        assert len(items) == 1
        it = items[0]
        assert it.get("role") == role and it.get("nick")
        assert it.get("affiliation")
        assert it.get("jid") == who.jid


def test_affiliation_list_items(people):
    """17.4 / 9.5 / 10.5: affiliation lists give affiliation and the bare
    JID, and no role."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    a.admin(room, "<item jid='%s' affiliation='member'/>" % b.bare)
    for aff, who in (("owner", a), ("member", b)):
        r = a.admin(room, "<item affiliation='%s'/>" % aff, type_="get")
        items = list(r.iter(q(NS_MUC_ADMIN, "item")))
        assert [(i.get("affiliation"), i.get("jid")) for i in items] == \
            [(aff, who.bare)]
        assert items[0].get("role") is None


def test_iq_to_occupant_is_forwarded(people):
    """17.4: an iq to an occupant JID in a semi-anonymous room is forwarded
    to the occupant's real JID; neither side learns the other's real
    JID, and the answer comes back."""
    a, b = people(2)
    room = room_name()
    a.create(room, "A")
    b.join(room, "B")
    b.c.send("<iq type='get' id='fw1' to='%s/A'><query "
             "xmlns='urn:example:q'/></iq>" % b.room(room))
    got = a.c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                   e.get("type") == "get", timeout=2)
    # The occupant sees the request from the sender's occupant JID only.
    assert got.get("from") == b.room(room) + "/B"
    a.c.send("<iq type='result' id='%s' to='%s'><query xmlns='urn:example:"
             "q'/></iq>" % (got.get("id"), got.get("from")))
    r = b.c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                 e.get("id") == "fw1", timeout=2)
    assert r.get("type") == "result"
    assert r.get("from") == b.room(room) + "/A"


# ---- 8 / 9 moderation and administration --------------------------------

def setup3(people, config=None):
    a, b, c = people(3)
    room = room_name()
    a.create(room, "A", config)
    b.join(room, "B")
    a.recv_presence(room)
    c.join(room, "C")
    a.recv_presence(room)
    b.recv_presence(room)
    return room, a, b, c


def test_admin_cannot_take_voice_or_moderation_from_owner(people):
    """8.4 / 9.7 / 5.1.3: nobody removes the voice or the moderator role
    of an owner or admin; the service answers not-allowed."""
    room, a, b, c = setup3(people)
    assert a.admin(room, "<item jid='%s' affiliation='admin'/>"
                   % b.bare).get("type") == "result"
    for role in ("visitor", "participant"):
        r = b.admin(room, "<item nick='A' role='%s'/>" % role)
        assert error(r) == ("cancel", "not-allowed"), role


def test_admin_cannot_ban_owner(people):
    """9.1: an admin may not ban an owner (not-allowed)."""
    room, a, b, c = setup3(people)
    a.admin(room, "<item jid='%s' affiliation='admin'/>" % b.bare)
    r = b.admin(room, "<item jid='%s' affiliation='outcast'/>" % a.bare)
    assert error(r) == ("cancel", "not-allowed")


@pytest.mark.parametrize("who", ["admin", "owner"])
def test_ban_self_is_conflict(people, who):
    """9.1: an admin or owner trying to ban itself gets conflict."""
    room, a, b, c = setup3(people)
    a.admin(room, "<item jid='%s' affiliation='%s'/>" % (b.bare, who))
    r = b.admin(room, "<item jid='%s' affiliation='outcast'/>" % b.bare)
    assert error(r) == ("cancel", "conflict"), ET.tostring(r)


def test_grant_and_revoke_moderator_role(people):
    """9.6 / 9.7: granting or revoking the moderator role is confirmed
    and announced to all occupants with the new role."""
    room, a, b, c = setup3(people)
    r = a.admin(room, "<item nick='B' role='moderator'/>")
    assert r.get("type") == "result"
    for o in (b, c):
        assert item(o.recv_presence(room)).get("role") == "moderator"
    r = a.admin(room, "<item nick='B' role='participant'/>")
    assert r.get("type") == "result"
    for o in (b, c):
        assert item(o.recv_presence(room)).get("role") == "participant"


def test_revoked_member_leaves_members_only_room(people):
    """9.4: in a members-only room, losing membership removes the occupant
    with status 321, announced to all; 9.4 (SHOULD): only the removal,
    no affiliation change presence before it."""
    a, b, c = people(3)
    room = room_name()
    a.create(room, "A", {"muc#roomconfig_membersonly": "1"})
    for o in (b, c):
        a.admin(room, "<item jid='%s' affiliation='member'/>" % o.bare)
    b.join(room, "B")
    a.recv_presence(room)
    c.join(room, "C")
    a.recv_presence(room)
    b.recv_presence(room)
    r = a.admin(room, "<item jid='%s' affiliation='none'/>" % b.bare)
    assert r.get("type") == "result"
    p = b.recv_presence(room)
    assert p.get("type") == "unavailable" and {321, 110} <= codes(p)
    for o in (a, c):
        p = o.recv_presence(room)
        assert p.get("type") == "unavailable" and 321 in codes(p)
    b.join_raw(room, "B")
    assert error(b.recv_presence(room)) == ("auth", "registration-required")


# ---- 10 owner use cases -------------------------------------------------

def test_cancelling_initial_configuration_destroys_room(people):
    """10.1.3: cancelling the first configuration destroys the room; the
    owner gets unavailable presence with <destroy/>."""
    (a,) = people()
    room = room_name()
    a.join_raw(room, "A")
    assert 201 in codes(a.recv_presence(room))
    form = a.owner_get(room)
    assert form.get("type") == "result"
    r = a.owner_set(room, "<x xmlns='%s' type='cancel'/>" % NS_DATA)
    assert r.get("type") == "result"
    p = a.recv_presence(room)
    assert p.get("type") == "unavailable"
    assert p.find(q(NS_MUC_USER, "x")).find(q(NS_MUC_USER, "destroy")) \
        is not None
    assert error(a.c.disco_info(a.room(room))) == ("cancel", "item-not-found")


def test_owner_leaving_locked_room_destroys_it(people):
    """10.1.3: an owner who leaves a room still awaiting configuration
    destroys it; its unavailable presence carries <destroy/>."""
    (a,) = people()
    room = room_name()
    a.join_raw(room, "A")
    a.recv_presence(room)
    a.leave(room, "A")
    p = a.recv_presence(room)
    assert p.get("type") == "unavailable"
    assert error(a.c.disco_info(a.room(room))) == ("cancel", "item-not-found")
    assert p.find(q(NS_MUC_USER, "x")).find(q(NS_MUC_USER, "destroy")) \
        is not None


def test_cancelling_later_configuration_changes_nothing(people):
    """10.2: a cancelled reconfiguration leaves the configuration as it
    was."""
    (a,) = people()
    room = room_name()
    a.create(room, "A", {"muc#roomconfig_roomname": "Before"})
    r = a.owner_set(room, "<x xmlns='%s' type='cancel'/>" % NS_DATA)
    assert r.get("type") == "result"
    f = form_fields(a.owner_get(room).find(".//{%s}x" % NS_DATA))
    assert f["muc#roomconfig_roomname"] == ["Before"]


def test_non_owner_cannot_read_admin_or_owner_list(people):
    """10.5 / 10.8: in a semi-anonymous room only owners get the owner and
    admin lists (forbidden otherwise)."""
    room, a, b, c = setup3(people)
    for aff in ("owner", "admin"):
        r = c.admin(room, "<item affiliation='%s'/>" % aff, type_="get")
        assert error(r) == ("auth", "forbidden"), aff


def test_destroy_sends_one_presence_per_occupant(people):
    room, a, b, c = setup3(people)
    r = a.owner_set(room, "<destroy><reason>done</reason></destroy>")
    assert r.get("type") == "result"
    for o in (a, b, c):
        got = collect(o, room)
        assert len(got) == 1, [ET.tostring(x)[:200] for x in got]
        assert 110 in codes(got[0])


# ---- 11 service use cases -----------------------------------------------

def test_shutdown_tells_occupants(tmp_path):
    """11.2: "When a MUC service shuts downs, it SHOULD inform its
    participant by sending presences containing the 332 status code"."""
    s = _start(tmp_path / "shutdown")
    try:
        s.adduser("sa", "sa")
        s.adduser("sb", "sb")
        a, b = Occupant(s, "sa"), Occupant(s, "sb")
        room = room_name()
        a.create(room, "A")
        b.join(room, "B")
        a.recv_presence(room)
        s.signal(signal.SIGTERM)
        got = []
        try:
            while True:
                got.append(b.recv(timeout=5))
        except (StreamClosed, TimeoutError):
            pass
        assert any(e.tag == PRESENCE and e.get("type") == "unavailable" and
                   {110, 332} <= codes(e) and
                   e.get("from") == b.room(room) + "/B" for e in got), \
            [ET.tostring(e)[:200] for e in got]
    finally:
        s.wait_exit()
        _finish(s)
