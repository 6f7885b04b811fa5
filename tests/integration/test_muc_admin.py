"""XEP-0045 moderator, admin and owner use cases: kick, ban, voice,
membership, admin and owner grants, lists, configuration, destruction,
invitations (mediated and XEP-0249 direct) and voice requests."""

import asyncio
import json
import time

import pytest

import slix
from rawxmpp import q, NS_CLIENT
from muclib import (Occ, codes, item, body, error, form_fields,
                          submit_form, NS_MUC_USER, NS_MUC_ADMIN,
                          NS_MUC_OWNER, NS_DATA, PRESENCE, MESSAGE)

NS_REQUEST = "http://jabber.org/protocol/muc#request"


@pytest.fixture
def users(server, passwords):
    made = []

    def mk(user, resource="r1"):
        o = Occ(server, user, passwords[user], resource)
        made.append(o)
        return o
    yield mk
    for o in made:
        o.close()
    # Let the server finish the exits before the fixture stops it.
    time.sleep(0.3)


def setup_room(users, name="adm", config=None):
    a, b, c = users("alice"), users("bob"), users("carol")
    a.create(name, "Alice", config)
    b.join(name, "Bob")
    a.recv_presence(name)
    c.join(name, "Carol")
    a.recv_presence(name)
    b.recv_presence(name)
    return a, b, c


def test_kick(users):
    a, b, c = setup_room(users)
    # A participant may not kick.
    r = b.admin("adm", "<item nick='Carol' role='none'/>")
    assert error(r) == ("auth", "forbidden")
    r = a.admin("adm", "<item nick='Carol' role='none'><reason>spam"
                "</reason></item>")
    assert r.get("type") == "result"
    p = c.recv_presence("adm")
    assert p.get("type") == "unavailable"
    assert {307, 110} <= codes(p)
    assert item(p).find(q(NS_MUC_USER, "actor")).get("nick") == "Alice"
    assert item(p).findtext(q(NS_MUC_USER, "reason")) == "spam"
    p = b.recv_presence("adm")
    assert p.get("type") == "unavailable" and 307 in codes(p)
    assert 110 not in codes(p)
    r = a.admin("adm", "<item nick='Nobody' role='none'/>")
    assert error(r) == ("cancel", "item-not-found")
    # Carol may come back (a kick is not a ban).
    c.join("adm", "Carol")


def test_ban_and_outcast_list(users):
    a, b, c = setup_room(users)
    r = a.admin("adm", "<item jid='%s' affiliation='outcast'><reason>out"
                "</reason></item>" % c.bare)
    assert r.get("type") == "result"
    p = c.recv_presence("adm")
    assert p.get("type") == "unavailable" and 301 in codes(p)
    assert 301 in codes(b.recv_presence("adm"))
    c.join_raw("adm", "Carol")
    assert error(c.recv_presence("adm")) == ("auth", "forbidden")
    r = a.admin("adm", "<item affiliation='outcast'/>", type_="get")
    items = r.find(q(NS_MUC_ADMIN, "query")).findall(q(NS_MUC_ADMIN, "item"))
    assert [(i.get("jid"), i.findtext(q(NS_MUC_ADMIN, "reason")))
            for i in items] == [(c.bare, "out")]
    # A participant may not read the list.
    r = b.admin("adm", "<item affiliation='outcast'/>", type_="get")
    assert error(r) == ("auth", "forbidden")
    # Unban.
    r = a.admin("adm", "<item jid='%s' affiliation='none'/>" % c.bare)
    assert r.get("type") == "result"
    c.join("adm", "Carol")
    a.recv_presence("adm")
    # Ban a whole domain: every occupant without an affiliation of its
    # own goes; the owner stays.
    r = a.admin("adm", "<item jid='%s' affiliation='outcast'/>"
                % a.bare.split("@")[1])
    assert r.get("type") == "result"
    for o in (b, c):
        p = o.recv_presence("adm")
        while 110 not in codes(p):
            p = o.recv_presence("adm")
        assert p.get("type") == "unavailable" and 301 in codes(p)
    c.join_raw("adm", "Carol")
    assert error(c.recv_presence("adm")) == ("auth", "forbidden")
    r = a.iq("get", a.room("adm") + "/Alice", "<ping xmlns='urn:xmpp:ping'/>")
    assert r.get("type") == "result"


def test_voice_in_moderated_room(users):
    a, b, c = setup_room(users, "mod", {"muc#roomconfig_moderatedroom": "1"})
    b.drain()
    b.say("mod", "may I?")
    e = b.recv_message(pred=lambda e: e.get("type") == "error")
    assert error(e) == ("auth", "forbidden")
    # Grant voice.
    r = a.admin("mod", "<item nick='Bob' role='participant'/>")
    assert r.get("type") == "result"
    p = b.recv_presence("mod")
    assert item(p).get("role") == "participant" and 110 in codes(p)
    p = c.recv_presence("mod")
    assert item(p).get("role") == "participant"
    b.say("mod", "thanks")
    assert body(a.recv_groupchat()) == "thanks"
    # Revoke voice.
    r = a.admin("mod", "<item nick='Bob' role='visitor'/>")
    assert r.get("type") == "result"
    assert item(b.recv_presence("mod")).get("role") == "visitor"
    r = a.admin("mod", "<item role='participant'/>", type_="get")
    assert error(r) is None
    nicks = [i.get("nick") for i in r.iter(q(NS_MUC_ADMIN, "item"))]
    assert nicks == []
    r = a.admin("mod", "<item role='visitor'/>", type_="get")
    nicks = sorted(i.get("nick") for i in r.iter(q(NS_MUC_ADMIN, "item")))
    assert nicks == ["Bob", "Carol"]


def test_voice_request(users):
    a, b, c = setup_room(users, "vr", {"muc#roomconfig_moderatedroom": "1"})
    b.send("<message to='%s'><x xmlns='%s' type='submit'>"
           "<field var='FORM_TYPE'><value>%s</value></field>"
           "<field var='muc#role' type='list-single'><value>participant"
           "</value></field></x></message>"
           % (b.room("vr"), NS_DATA, NS_REQUEST))
    m = a.recv_message(pred=lambda e: e.find(q(NS_DATA, "x")) is not None)
    f = form_fields(m.find(q(NS_DATA, "x")))
    assert f["FORM_TYPE"] == [NS_REQUEST]
    assert f["muc#roomnick"] == ["Bob"] and f["muc#jid"] == [b.bare]
    # Carol (no moderator) does not get it.
    c.nothing(0.5, lambda e: e.tag == MESSAGE)
    a.send("<message to='%s'><x xmlns='%s' type='submit'>"
           "<field var='FORM_TYPE'><value>%s</value></field>"
           "<field var='muc#role'><value>participant</value></field>"
           "<field var='muc#roomnick'><value>Bob</value></field>"
           "<field var='muc#request_allow'><value>true</value></field>"
           "</x></message>" % (a.room("vr"), NS_DATA, NS_REQUEST))
    p = b.recv_presence("vr")
    assert item(p).get("role") == "participant"


def test_affiliations_member_admin_owner(users):
    a, b, c = setup_room(users, "aff")
    r = a.admin("aff", "<item jid='%s' affiliation='member'/>" % b.bare)
    assert r.get("type") == "result"
    assert item(b.recv_presence("aff")).get("affiliation") == "member"
    # Admin: becomes moderator.
    r = a.admin("aff", "<item jid='%s' affiliation='admin'/>" % b.bare)
    assert r.get("type") == "result"
    p = c.recv_presence("aff")
    p = c.recv_presence("aff")
    assert (item(p).get("affiliation"), item(p).get("role")) == \
        ("admin", "moderator")
    # An admin may not make owners, nor change another admin.
    r = b.admin("aff", "<item jid='%s' affiliation='owner'/>" % c.bare)
    assert error(r) == ("auth", "forbidden")
    r = b.admin("aff", "<item jid='%s' affiliation='none'/>" % a.bare)
    assert error(r) == ("cancel", "not-allowed")
    # An admin may kick a participant, not the owner.
    r = b.admin("aff", "<item nick='Alice' role='none'/>")
    assert error(r) == ("cancel", "not-allowed")
    # Ownership.
    r = a.admin("aff", "<item jid='%s' affiliation='owner'/>" % c.bare)
    assert r.get("type") == "result"
    r = a.admin("aff", "<item affiliation='owner'/>", type_="get")
    owners = sorted(i.get("jid") for i in r.iter(q(NS_MUC_ADMIN, "item")))
    assert owners == sorted([a.bare, c.bare])
    r = a.admin("aff", "<item affiliation='admin'/>", type_="get")
    assert [i.get("jid") for i in r.iter(q(NS_MUC_ADMIN, "item"))] == \
        [b.bare]
    # Revoke: owner -> none, then the last owner cannot leave the room
    # without one.
    r = c.admin("aff", "<item jid='%s' affiliation='admin'/>" % a.bare)
    assert r.get("type") == "result"
    r = c.admin("aff", "<item jid='%s' affiliation='member'/>" % c.bare)
    assert error(r) == ("cancel", "conflict")
    # Moderator role can be revoked from an admin by an owner.
    r = c.admin("aff", "<item jid='%s' affiliation='member'/>" % b.bare)
    assert r.get("type") == "result"
    r = c.admin("aff", "<item affiliation='member'/>", type_="get")
    assert [i.get("jid") for i in r.iter(q(NS_MUC_ADMIN, "item"))] == \
        [b.bare]


def test_config_form_and_whois(users):
    a, b, c = setup_room(users, "cfg")
    r = b.owner_get("cfg")
    assert error(r) == ("auth", "forbidden")
    r = a.owner_get("cfg")
    form = r.find(q(NS_MUC_OWNER, "query")).find(q(NS_DATA, "x"))
    f = form_fields(form)
    for var in ("muc#roomconfig_roomname", "muc#roomconfig_roomdesc",
                "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom",
                "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom",
                "muc#roomconfig_passwordprotectedroom",
                "muc#roomconfig_roomsecret", "muc#roomconfig_maxusers",
                "muc#roomconfig_whois", "muc#maxhistoryfetch",
                "muc#roomconfig_allowinvites",
                "muc#roomconfig_changesubject", "muc#roomconfig_allowpm"):
        assert var in f, var
    r = a.owner_set("cfg", submit_form({"muc#roomconfig_persistentroom":
                                        "maybe"}))
    assert error(r) == ("modify", "not-acceptable")
    r = a.owner_set("cfg", submit_form({"muc#roomconfig_whois": "anyone",
                                        "muc#roomconfig_changesubject": "1"}))
    assert r.get("type") == "result"
    m = b.recv_message(pred=lambda e: e.find(q(NS_MUC_USER, "x")) is not None)
    assert 172 in codes(m)
    # Participants may now change the subject and see real JIDs.
    b.send("<message to='%s' type='groupchat'><subject>by bob</subject>"
           "</message>" % b.room("cfg"))
    s = c.recv_message(pred=lambda e: e.findtext(q(NS_CLIENT, "subject"))
                       == "by bob")
    assert s.get("from") == b.room("cfg") + "/Bob"
    c.leave("cfg", "Carol")
    c.recv_presence("cfg")
    p, others = c.join("cfg", "Carol")
    assert 100 in codes(p)
    assert {item(o).get("jid") for o in others} == {a.jid, b.jid}
    r = a.owner_set("cfg", submit_form({"muc#roomconfig_roomname": "New"}))
    m = b.recv_message(pred=lambda e: e.find(q(NS_MUC_USER, "x")) is not None)
    assert 104 in codes(m)


def test_destroy_with_alternate_venue(users):
    a, b, c = setup_room(users, "doomed")
    r = b.owner_set("doomed", "<destroy/>")
    assert error(r) == ("auth", "forbidden")
    r = a.owner_set("doomed", "<destroy jid='%s'><reason>moved</reason>"
                    "</destroy>" % a.room("newroom"))
    assert r.get("type") == "result"
    for o in (a, b, c):
        p = o.recv_presence("doomed")
        assert p.get("type") == "unavailable"
        d = p.find(q(NS_MUC_USER, "x")).find(q(NS_MUC_USER, "destroy"))
        assert d.get("jid") == a.room("newroom")
        assert d.findtext(q(NS_MUC_USER, "reason")) == "moved"
    r = a.c.disco_info(a.room("doomed"))
    assert error(r) == ("cancel", "item-not-found")


def test_mediated_invitation_and_decline(users):
    a, b = users("alice"), users("bob")
    a.create("inv", "Alice", {"muc#roomconfig_membersonly": "1",
                              "muc#roomconfig_passwordprotectedroom": "1",
                              "muc#roomconfig_roomsecret": "pw"})
    a.send("<message to='%s'><x xmlns='%s'><invite to='%s'><reason>come"
           "</reason></invite></x></message>"
           % (a.room("inv"), NS_MUC_USER, b.bare))
    m = b.recv_message(pred=lambda e: e.find(q(NS_MUC_USER, "x"))
                       is not None)
    assert m.get("from") == a.room("inv")
    x = m.find(q(NS_MUC_USER, "x"))
    inv = x.find(q(NS_MUC_USER, "invite"))
    assert inv.get("from") == a.bare
    assert inv.findtext(q(NS_MUC_USER, "reason")) == "come"
    assert x.findtext(q(NS_MUC_USER, "password")) == "pw"
    # The invitee became a member of the members-only room.
    b.join("inv", "Bob", password="pw")
    b.send("<message to='%s'><x xmlns='%s'><decline to='%s'><reason>busy"
           "</reason></decline></x></message>"
           % (b.room("inv"), NS_MUC_USER, a.bare))
    m = a.recv_message(pred=lambda e: e.find(q(NS_MUC_USER, "x"))
                       is not None)
    d = m.find(q(NS_MUC_USER, "x")).find(q(NS_MUC_USER, "decline"))
    assert d.get("from") == b.bare
    assert d.findtext(q(NS_MUC_USER, "reason")) == "busy"
    # Not an occupant: cannot invite.
    c = users("carol")
    c.send("<message to='%s'><x xmlns='%s'><invite to='%s'/></x></message>"
           % (c.room("inv"), NS_MUC_USER, a.bare))
    assert error(c.recv_message())[1] == "not-acceptable"


def test_direct_invitation_xep0249(server, passwords):
    async def go():
        a = await slix.login(server, "alice", passwords["alice"])
        b = await slix.login(server, "bob", passwords["bob"])
        try:
            a.register_plugin("xep_0249")
            b.register_plugin("xep_0249")
            got = []
            b.add_event_handler("groupchat_direct_invite",
                                lambda m: got.append(m))
            room = "direct@conference." + server.domain
            a.plugin["xep_0249"].send_invitation(b.boundjid.full, room,
                                                 reason="join us")
            for _ in range(50):
                if got:
                    break
                await asyncio.sleep(0.1)
            assert got, "no direct invitation"
            assert got[0]["groupchat_invite"]["jid"] == room
            info = await a.plugin["xep_0030"].get_info(
                jid="conference." + server.domain)
            assert "jabber:x:conference" in info["disco_info"]["features"]
        finally:
            await a.close()
            await b.close()
            await asyncio.sleep(0.3)
    slix.run(go())


def test_admin_commands(server, users):
    a, b, c = setup_room(users, "cmd", {"muc#roomconfig_roomname": "Cmd"})
    room = a.room("cmd")
    rooms = json.loads(server.ctl_ok("--json", "muc-rooms").stdout)
    assert {"jid": room, "name": "Cmd", "public": True,
            "persistent": False, "occupants": 3, "members_only": False,
            "password_protected": False} in rooms
    info = json.loads(server.ctl_ok("--json", "muc-room", room).stdout)
    assert info["config"]["muc#roomconfig_roomname"] == "Cmd"
    assert sorted(o["nick"] for o in info["occupants"]) == \
        ["Alice", "Bob", "Carol"]
    assert info["affiliations"]["owner"] == [a.bare]
    r = server.ctl("muc-configure", room,
                   json.dumps({"muc#roomconfig_maxusers": "abc"}))
    assert r.returncode == 1 and "maxusers" in r.stderr
    server.ctl_ok("muc-configure", room, json.dumps(
        {"muc#roomconfig_roomname": "Renamed",
         "muc#roomconfig_moderatedroom": True}))
    info = json.loads(server.ctl_ok("--json", "muc-room", room).stdout)
    assert info["config"]["muc#roomconfig_roomname"] == "Renamed"
    assert info["config"]["muc#roomconfig_moderatedroom"] is True
    r = server.ctl("muc-room", "nosuch@" + a.domain)
    assert r.returncode == 1 and "no such room" in r.stderr
    server.ctl_ok("muc-destroy", room, "--reason=bye",
                  "--alternate=" + a.room("elsewhere"))
    p = b.recv_presence("cmd", timeout=5)
    while p.get("type") != "unavailable":
        p = b.recv_presence("cmd", timeout=5)
    d = p.find(q(NS_MUC_USER, "x")).find(q(NS_MUC_USER, "destroy"))
    assert d.get("jid") == a.room("elsewhere")
    assert d.findtext(q(NS_MUC_USER, "reason")) == "bye"
    rooms = json.loads(server.ctl_ok("--json", "muc-rooms").stdout)
    assert room not in [x["jid"] for x in rooms]
