"""XEP-0045 statements real clients depend on (issue 14): unknown form
fields ignored (XEP-0004 3.1), presence broadcast per role (16.5.3),
a rejoin from the same session resyncs (7.2.1, 17.3), members of a
non-anonymous room read the member list (9.5), probes to occupants."""

import xml.etree.ElementTree as ET

from muclib import NS_MUC_ADMIN, codes, error, form_fields, item, submit_form
from test_muc_admin import users  # noqa: F401  (the shared fixture)

F_BCAST = "muc#roomconfig_presencebroadcast"


def test_unknown_config_fields_are_ignored(users):
    a = users("alice")
    a.join("cf", "Alice")
    r = a.owner_set("cf", submit_form({
        "muc#roomconfig_roomname": "Ignored fields",
        "muc#roomconfig_somethingnew": "1",
        "x-vendor#field": ["a", "b"]}))
    assert r.get("type") == "result", ET.tostring(r)
    fields = form_fields(a.owner_get("cf").find(
        ".//{jabber:x:data}x"))
    assert fields["muc#roomconfig_roomname"] == ["Ignored fields"]
    # A known field with a bad value is still refused.
    r = a.owner_set("cf", submit_form({"muc#roomconfig_maxusers": "x"}))
    assert error(r) == ("modify", "not-acceptable")


def test_presence_broadcast_per_role(users):
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("pb", "Alice", {"muc#roomconfig_moderatedroom": "1",
                             F_BCAST: ["moderator", "participant"]})
    fields = form_fields(a.owner_get("pb").find(".//{jabber:x:data}x"))
    assert sorted(fields[F_BCAST]) == ["moderator", "participant"]
    # Bob joins a moderated room as a visitor: nobody hears of him, he
    # still gets his own presence (with 110) and sees the others.
    _, others = b.join("pb", "Bob")
    assert [p.get("from").split("/")[1] for p in others] == ["Alice"]
    a.nothing(pred=lambda e: "Bob" in e.get("from", ""))
    # Carol sees Alice only.
    _, others = c.join("pb", "Carol")
    assert [p.get("from").split("/")[1] for p in others] == ["Alice"]
    # Voice for Bob: participants are broadcast, so now everyone knows.
    r = a.admin("pb", "<item nick='Bob' role='participant'/>")
    assert r.get("type") == "result"
    p = c.recv_presence("pb")
    assert p.get("from").endswith("/Bob")
    assert item(p).get("role") == "participant"


def test_rejoin_from_same_session_resyncs(users):
    a, b = users("alice"), users("bob")
    a.create("rj", "Alice")
    a.say("rj", "before")
    a.recv_groupchat()
    b.join("rj", "Bob")
    a.recv_presence("rj")
    # Bob's client lost its state and joins again from the same session.
    b.drain()
    self_p, others = b.join("rj", "Bob")
    assert 110 in codes(self_p)
    assert [p.get("from").split("/")[1] for p in others] == ["Alice"]
    assert [m.findtext("{jabber:client}body") for m in b.history] == \
        ["before"]
    assert b.subject is not None


def test_member_list_for_members_of_non_anonymous_rooms(users):
    a, b = users("alice"), users("bob")
    a.create("ml", "Alice", {"muc#roomconfig_whois": "anyone"})
    r = a.admin("ml", "<item affiliation='member' jid='bob@localhost'/>"
                      "<item affiliation='member' jid='carol@localhost'/>")
    assert r.get("type") == "result"
    # Bob is a member and is not in the room.
    r = b.admin("ml", "<item affiliation='member'/>", type_="get")
    assert r.get("type") == "result", ET.tostring(r)
    jids = {i.get("jid") for i in r.iter("{%s}item" % NS_MUC_ADMIN)}
    assert jids == {"bob@localhost", "carol@localhost"}
    # Not the ban list; and not in a semi-anonymous room.
    r = b.admin("ml", "<item affiliation='outcast'/>", type_="get")
    assert error(r) == ("auth", "forbidden")
    a.owner_set("ml", submit_form({"muc#roomconfig_whois": "moderators"}))
    r = b.admin("ml", "<item affiliation='member'/>", type_="get")
    assert error(r) == ("auth", "forbidden")


def test_probe_to_an_occupant(users):
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create("pr", "Alice")
    b.join("pr", "Bob")
    a.recv_presence("pr")
    b.send("<presence type='probe' to='%s/Alice'/>" % b.room("pr"))
    p = b.recv_presence("pr")
    assert p.get("from").endswith("/Alice") and p.get("type") is None
    assert item(p).get("role") == "moderator"
    b.send("<presence type='probe' to='%s/Nobody'/>" % b.room("pr"))
    p = b.recv_presence("pr")
    assert p.get("type") == "unavailable"
    # Not an occupant: refused.
    c.send("<presence type='probe' to='%s/Alice'/>" % c.room("pr"))
    p = c.recv_presence("pr")
    assert error(p) == ("modify", "not-acceptable")
