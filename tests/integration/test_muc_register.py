"""XEP-0045 7.10 registering with a room: the jabber:iq:register form,
the membership and reserved nickname it gives (7.12, 7.2.8, 7.6), its
cancellation (XEP-0077 3.2), the admins' approval in a members-only room
(9.9), reserved nicknames in the member list (9.3, 9.5, 9.2) and their
persistence."""

import time
import xml.etree.ElementTree as ET

from muclib import (NS_DATA, NS_MUC_ADMIN, PRESENCE, MESSAGE, Occ, codes,
                    error, form_fields, item, submit_form)
from rawxmpp import NS_DISCO_INFO, disco_features, q
from test_muc_admin import setup_room, users  # noqa: F401  (shared fixture)

NS_REGISTER = "jabber:iq:register"
NS_MUC_REGISTER = "http://jabber.org/protocol/muc#register"


def reg_get(o, room):
    return o.iq("get", o.room(room), "<query xmlns='%s'/>" % NS_REGISTER)


def reg_form(fields, type_="submit", form_type=NS_MUC_REGISTER):
    parts = ["<field var='FORM_TYPE'><value>%s</value></field>" % form_type]
    for var, val in fields.items():
        parts.append("<field var='%s'><value>%s</value></field>"
                     % (var, val))
    return "<x xmlns='%s' type='%s'>%s</x>" % (NS_DATA, type_, "".join(parts))


def reg_set(o, room, inner):
    return o.iq("set", o.room(room), "<query xmlns='%s'>%s</query>"
                % (NS_REGISTER, inner))


def register(o, room, nick, **more):
    fields = {"muc#register_roomnick": nick}
    fields.update(more)
    return reg_set(o, room, reg_form(fields))


def reserved_nick(o, room):
    r = o.iq("get", o.room(room), "<query xmlns='%s' node='x-roomuser-item'/>"
             % NS_DISCO_INFO)
    assert r.get("type") == "result", ET.tostring(r)
    ids = r.find(q(NS_DISCO_INFO, "query")).findall(
        q(NS_DISCO_INFO, "identity"))
    if not ids:
        return None
    assert (ids[0].get("category"), ids[0].get("type")) == \
        ("conference", "text")
    return ids[0].get("name")


def member_list(o, room):
    r = o.admin(room, "<item affiliation='member'/>", type_="get")
    assert r.get("type") == "result", ET.tostring(r)
    return {i.get("jid"): i.get("nick") for i in
            r.find(q(NS_MUC_ADMIN, "query")).findall(q(NS_MUC_ADMIN, "item"))}


def test_registration_form_and_feature(users):
    """7.10: the room returns a muc#register data form with the
    roomnick field required; 6.4: the room advertises jabber:iq:register."""
    a, b = users("alice"), users("bob")
    a.create("rf", "Alice")
    feats = disco_features(b.c.disco_info(b.room("rf")))
    assert NS_REGISTER in feats
    r = reg_get(b, "rf")
    assert r.get("type") == "result", ET.tostring(r)
    qe = r.find(q(NS_REGISTER, "query"))
    assert qe.find(q(NS_REGISTER, "registered")) is None
    x = qe.find(q(NS_DATA, "x"))
    assert x.get("type") == "form"
    f = form_fields(x)
    assert f["FORM_TYPE"] == [NS_MUC_REGISTER]
    for var in ("muc#register_first", "muc#register_last",
                "muc#register_roomnick", "muc#register_url",
                "muc#register_email", "muc#register_faqentry"):
        assert var in f
    nick = [fl for fl in x.findall(q(NS_DATA, "field"))
            if fl.get("var") == "muc#register_roomnick"][0]
    assert nick.find(q(NS_DATA, "required")) is not None
    # 7.10: no such room, item-not-found.
    r = reg_get(b, "nosuchroom")
    assert error(r) == ("cancel", "item-not-found")


def test_register_makes_member_with_reserved_nick(users):
    """7.10: a submitted form makes an unaffiliated user a member (the
    occupants hear the new affiliation) and reserves its nickname; a
    second get answers <registered/> with the nickname (XEP-0077)."""
    a, b, c = setup_room(users, "rg")
    r = register(b, "rg", "Bobby", **{"muc#register_first": "Bob",
                                      "muc#register_last": "Builder"})
    assert r.get("type") == "result", ET.tostring(r)
    p = b.recv_presence("rg")
    assert (item(p).get("affiliation"), item(p).get("role")) == \
        ("member", "participant")
    assert 110 in codes(p)
    for o in (a, c):
        p = o.recv_presence("rg")
        assert p.get("from").endswith("/Bob")
        assert item(p).get("affiliation") == "member"
    r = reg_get(b, "rg")
    qe = r.find(q(NS_REGISTER, "query"))
    assert qe.find(q(NS_REGISTER, "registered")) is not None
    assert qe.findtext(q(NS_REGISTER, "username")) == "Bobby"
    # 7.12: the reserved nickname, to its owner only.
    assert reserved_nick(b, "rg") == "Bobby"
    assert reserved_nick(c, "rg") is None
    # 9.5: the member list gives the reserved nickname.
    assert member_list(a, "rg") == {b.bare: "Bobby"}


def test_reserved_nick_is_refused_to_others(users):
    """7.2.8 and 7.12: another user joining with a reserved nickname gets
    conflict; 7.6: so does a nick change to it; 7.10: registering it
    again is a conflict.  Its holder may still use another nick (7.12)."""
    a, b, c = setup_room(users, "rn")
    assert register(b, "rn", "Bobby").get("type") == "result"
    for o in (a, b, c):
        assert item(o.recv_presence("rn")).get("affiliation") == "member"
    b.leave("rn", "Bob")
    for o in (a, b, c):
        assert o.recv_presence("rn").get("type") == "unavailable"
    # Carol, in the room as Carol, may not take Bobby.
    c.send("<presence to='%s/Bobby'/>" % c.room("rn"))
    p = c.recv_presence("rn")
    assert error(p) == ("cancel", "conflict"), ET.tostring(p)
    d = users("carol", "r2")
    d.join_raw("rn", "Bobby")
    p = d.recv_presence("rn")
    assert error(p) == ("cancel", "conflict")
    r = register(c, "rn", "Bobby")
    assert error(r) == ("cancel", "conflict")
    # Nor the nickname someone else is using in the room.
    r = register(c, "rn", "Alice")
    assert error(r) == ("cancel", "conflict")
    # Bob joins with his reserved nickname, or with another.
    p, _ = b.join("rn", "Bobby")
    assert item(p).get("affiliation") == "member"
    b.leave("rn", "Bobby")
    b.recv_presence("rn")
    p, _ = b.join("rn", "Robert")
    assert item(p).get("affiliation") == "member"


def test_registered_user_changes_nick(users):
    """7.10 / XEP-0077 3.1: a registered user submits the form again to
    change the reserved nickname; an owner keeps its affiliation."""
    a, b = users("alice"), users("bob")
    a.create("rc", "Alice")
    assert register(b, "rc", "One").get("type") == "result"
    assert register(b, "rc", "Two").get("type") == "result"
    assert reserved_nick(b, "rc") == "Two"
    assert member_list(a, "rc") == {b.bare: "Two"}
    # The old nickname is free again.
    assert register(users("carol"), "rc", "One").get("type") == "result"
    # The owner reserves a nickname and stays owner.
    assert register(a, "rc", "Boss").get("type") == "result"
    assert reserved_nick(a, "rc") == "Boss"
    r = reg_get(a, "rc")
    assert r.find(q(NS_REGISTER, "query")).find(
        q(NS_REGISTER, "registered")) is not None
    r = a.admin("rc", "<item affiliation='owner'/>", type_="get")
    owners = r.find(q(NS_MUC_ADMIN, "query")).findall(q(NS_MUC_ADMIN, "item"))
    assert [(i.get("jid"), i.get("nick")) for i in owners] == \
        [(a.bare, "Boss")]


def test_invalid_submissions(users):
    """7.10: a request without a valid data form gets bad-request."""
    a, b = users("alice"), users("bob")
    a.create("ri", "Alice")
    r = reg_set(b, "ri", "")
    assert error(r) == ("modify", "bad-request")
    r = reg_set(b, "ri", reg_form({"muc#register_roomnick": "X"},
                                  form_type="urn:example:other"))
    assert error(r) == ("modify", "bad-request")
    r = reg_set(b, "ri", reg_form({"muc#register_first": "Bob"}))
    assert error(r) == ("modify", "bad-request")
    r = register(b, "ri", "   ")
    assert error(r) == ("modify", "bad-request")
    assert reserved_nick(b, "ri") is None
    # A cancelled form changes nothing.
    r = reg_set(b, "ri", "<x xmlns='%s' type='cancel'/>" % NS_DATA)
    assert r.get("type") == "result"
    assert member_list(a, "ri") == {}


def test_outcast_may_not_register(users):
    """7.10: a user not allowed to register gets not-allowed; a banned
    user is one.  9.2: a ban drops the reserved nickname."""
    a, b = users("alice"), users("bob")
    a.create("ro", "Alice")
    assert register(b, "ro", "Bobby").get("type") == "result"
    r = a.admin("ro", "<item jid='%s' affiliation='outcast'/>" % b.bare)
    assert r.get("type") == "result"
    assert error(reg_get(b, "ro")) == ("cancel", "not-allowed")
    assert error(register(b, "ro", "Bobby")) == ("cancel", "not-allowed")
    r = a.admin("ro", "<item affiliation='outcast'/>", type_="get")
    items = r.find(q(NS_MUC_ADMIN, "query")).findall(q(NS_MUC_ADMIN, "item"))
    assert [(i.get("jid"), i.get("nick")) for i in items] == [(b.bare, None)]
    # The nickname is free for others.
    assert register(users("carol"), "ro", "Bobby").get("type") == "result"


def test_unregister(users):
    """XEP-0077 3.2 (through 7.10): <remove/> cancels the registration:
    the member's affiliation goes back to none, announced to the
    occupants, and the nickname is free; a second one gets
    registration-required.  An owner keeps its affiliation."""
    a, b, c = setup_room(users, "ru")
    assert register(b, "ru", "Bobby").get("type") == "result"
    b.recv_presence("ru")
    a.recv_presence("ru")
    r = reg_set(b, "ru", "<remove/>")
    assert r.get("type") == "result", ET.tostring(r)
    p = a.recv_presence("ru")
    assert item(p).get("affiliation") == "none"
    assert reserved_nick(b, "ru") is None
    assert member_list(a, "ru") == {}
    r = reg_set(b, "ru", "<remove/>")
    assert error(r) == ("auth", "registration-required")
    r = reg_set(b, "ru", "<remove/><username>x</username>")
    assert error(r) == ("modify", "bad-request")
    assert register(c, "ru", "Bobby").get("type") == "result"
    assert register(a, "ru", "Boss").get("type") == "result"
    assert reg_set(a, "ru", "<remove/>").get("type") == "result"
    assert reserved_nick(a, "ru") is None
    r = a.admin("ru", "<item affiliation='owner'/>", type_="get")
    assert r.get("type") == "result"


def test_unregister_from_members_only_room_removes(users):
    """9.4 via 7.10: a member who cancels its registration in a
    members-only room leaves it with status 321."""
    a, b = users("alice"), users("bob")
    a.create("rm", "Alice", {"muc#roomconfig_membersonly": "1"})
    r = a.admin("rm", "<item jid='%s' affiliation='member'/>" % b.bare)
    assert r.get("type") == "result"
    b.join("rm", "Bob")
    a.recv_presence("rm")
    assert reg_set(b, "rm", "<remove/>").get("type") == "result"
    p = b.recv_presence("rm")
    assert p.get("type") == "unavailable" and 321 in codes(p)


def approval(o):
    m = o.recv_message(pred=lambda e: e.find(q(NS_DATA, "x")) is not None)
    return m, form_fields(m.find(q(NS_DATA, "x")))


def answer(o, room, nick, allow):
    o.send("<message to='%s'>%s</message>" % (o.room(room), reg_form(
        {"muc#register_roomnick": nick,
         "muc#register_allow": "1" if allow else "0"})))


def test_members_only_registration_waits_for_an_admin(users):
    """7.10 and 9.9: in a members-only room a registration is a request
    the admins approve or deny with a muc#register form."""
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("ra", "Alice", {"muc#roomconfig_membersonly": "1"})
    r = reg_get(b, "ra")
    assert form_fields(r.find(q(NS_REGISTER, "query")).find(
        q(NS_DATA, "x")))["FORM_TYPE"] == [NS_MUC_REGISTER]
    r = register(b, "ra", "Bobby", **{"muc#register_first": "Bob"})
    assert r.get("type") == "result", ET.tostring(r)
    m, f = approval(a)
    assert m.get("from") == a.room("ra")
    assert f["FORM_TYPE"] == [NS_MUC_REGISTER]
    assert f["muc#register_roomnick"] == ["Bobby"]
    assert f["muc#register_first"] == ["Bob"]
    assert f["muc#register_allow"] == ["0"]
    assert b.bare in ET.tostring(m, encoding="unicode")
    # Not a member yet.
    b.join_raw("ra", "Bobby")
    assert error(b.recv_presence("ra")) == ("auth", "registration-required")
    # A pending nickname is not someone else's to ask for.
    assert error(register(c, "ra", "Bobby")) == ("cancel", "conflict")
    assert register(c, "ra", "Caro").get("type") == "result"
    approval(a)
    # Only admins answer.
    answer(c, "ra", "Bobby", True)
    e = c.recv_message(pred=lambda e: e.get("type") == "error")
    assert error(e) == ("auth", "forbidden")
    answer(a, "ra", "Bobby", True)
    answer(a, "ra", "Caro", False)
    answer(a, "ra", "Nobody", True)
    e = a.recv_message(pred=lambda e: e.get("type") == "error")
    assert error(e) == ("cancel", "item-not-found")
    assert member_list(a, "ra") == {b.bare: "Bobby"}
    p, _ = b.join("ra", "Bobby")
    assert item(p).get("affiliation") == "member"
    c.join_raw("ra", "Caro")
    assert error(c.recv_presence("ra")) == ("auth", "registration-required")
    # Carol asks again and cancels the request.
    assert register(c, "ra", "Caro").get("type") == "result"
    assert reg_set(c, "ra", "<remove/>").get("type") == "result"
    answer(a, "ra", "Caro", True)
    e = a.recv_message(pred=lambda e: e.get("type") == "error")
    assert error(e) == ("cancel", "item-not-found")


def test_admin_sets_reserved_nick(users):
    """9.3 and 9.5: an item with jid and nick reserves the nickname, an
    empty nick unsets it; a nickname reserved for another is a conflict."""
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("rs", "Alice")
    r = a.admin("rs", "<item affiliation='member' jid='%s' nick='Bobby'/>"
                % b.bare)
    assert r.get("type") == "result", ET.tostring(r)
    assert reserved_nick(b, "rs") == "Bobby"
    r = a.admin("rs", "<item affiliation='member' jid='%s' nick='Bobby'/>"
                % c.bare)
    assert error(r) == ("cancel", "conflict")
    assert member_list(a, "rs") == {b.bare: "Bobby"}
    # A change that names no nick keeps the reserved one.
    r = a.admin("rs", "<item affiliation='member' jid='%s'><reason>ok"
                "</reason></item>" % b.bare)
    assert r.get("type") == "result"
    assert reserved_nick(b, "rs") == "Bobby"
    r = a.admin("rs", "<item affiliation='member' jid='%s' nick=''/>"
                % b.bare)
    assert r.get("type") == "result"
    assert reserved_nick(b, "rs") is None
    assert member_list(a, "rs") == {b.bare: None}


def test_registration_survives_restart(server, passwords):
    """7.10: the registration is kept with the room's affiliations, so a
    persistent room still knows the member and its nickname."""
    a = Occ(server, "alice", passwords["alice"])
    b = Occ(server, "bob", passwords["bob"])
    a.create("rp", "Alice", {"muc#roomconfig_persistentroom": "1"})
    assert register(b, "rp", "Bobby").get("type") == "result"
    a.close()
    b.close()
    time.sleep(0.3)
    server.restart()
    b = Occ(server, "bob", passwords["bob"])
    c = Occ(server, "carol", passwords["carol"])
    try:
        assert reserved_nick(b, "rp") == "Bobby"
        c.join_raw("rp", "Bobby")
        assert error(c.recv_presence("rp")) == ("cancel", "conflict")
        p, _ = b.join("rp", "Bobby")
        assert item(p).get("affiliation") == "member"
        r = reg_get(b, "rp")
        assert r.find(q(NS_REGISTER, "query")).findtext(
            q(NS_REGISTER, "username")) == "Bobby"
    finally:
        b.close()
        c.close()
        time.sleep(0.3)
