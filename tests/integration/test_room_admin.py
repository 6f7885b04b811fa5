"""Room administration without an XMPP client (issue 18): an operator
creates rooms with an owner and a configuration, edits affiliations with
reasons, bans and kicks occupants, sees occupants with their real JIDs,
and gets the configuration form with its labels and options.  What the
occupants see follows XEP-0045 (status codes 301 and 307, 9.1 and 8.2)."""

import json
import xml.etree.ElementTree as ET

from muclib import NS_MUC_USER, Occ, codes, error, item
from rawxmpp import q


def cj(srv, *args):
    r = srv.ctl("--json", *args)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None)


def ok(srv, *args):
    rc, out = cj(srv, *args)
    assert rc == 0, (args, out)
    return out


def room_info(srv, room):
    return ok(srv, "muc-room", "--room=" + room)


def test_create_with_owner_and_config_persists(server, passwords):
    room = "team@conference.localhost"
    cfg = {"muc#roomconfig_roomname": "The team",
           "muc#roomconfig_membersonly": True}
    res = ok(server, "muc-create", "--room=" + room,
             "--owner=alice@localhost", "--config=" + json.dumps(cfg))
    assert res["jid"] == room
    info = room_info(server, room)
    assert info["affiliations"]["owner"] == ["alice@localhost"]
    assert info["config"]["muc#roomconfig_roomname"] == "The team"
    assert info["locked"] is False
    server.restart()
    alice = Occ(server, "alice", passwords["alice"])
    p, _ = alice.join("team", "al")
    assert item(p).get("affiliation") == "owner"
    # Members only: bob, not a member, is refused (XEP-0045 7.2.6).
    bob = Occ(server, "bob", passwords["bob"])
    bob.join_raw("team", "bob")
    assert error(bob.recv_presence("team")) == ("auth",
                                               "registration-required")


def test_create_refusals(server):
    room = "dup@conference.localhost"
    ok(server, "muc-create", "--room=" + room, "--owner=alice@localhost")
    rc, out = cj(server, "muc-create", "--room=" + room,
                 "--owner=alice@localhost")
    assert rc == 1 and out["error"] == "EEXIST"
    rc, out = cj(server, "muc-create", "--room=x@elsewhere.example",
                 "--owner=alice@localhost")
    assert rc == 1 and out["error"] == "EINVAL"
    rc, out = cj(server, "muc-create", "--room=tmp@conference.localhost",
                 "--owner=alice@localhost",
                 '--config={"muc#roomconfig_persistentroom": false}')
    assert rc == 1 and "must be persistent" in out["message"]
    rc, out = cj(server, "muc-room", "--room=tmp@conference.localhost")
    assert rc == 1 and out["error"] == "ENOENT"
    rc, out = cj(server, "muc-create", "--room=bad@conference.localhost",
                 "--owner=alice@localhost",
                 '--config={"muc#roomconfig_maxusers": "lots"}')
    assert rc == 1 and out["error"] == "EINVAL"


def test_ban_with_a_reason_removes_and_keeps_out(server, passwords):
    alice = Occ(server, "alice", passwords["alice"])
    alice.create("club", "al")
    bob = Occ(server, "bob", passwords["bob"])
    bob.join("club", "bobby")
    info = room_info(server, "club@conference.localhost")
    seen = {o["nick"]: o["jid"] for o in info["occupants"]}
    assert seen["bobby"] == bob.jid          # the real JID, for the admin
    ok(server, "muc-affiliation", "--room=club@conference.localhost",
       "--jid=bob@localhost", "--affiliation=outcast", "--reason=spam")
    p = bob.recv_presence("club")
    assert p.get("type") == "unavailable" and 301 in codes(p)
    assert item(p).find(q(NS_MUC_USER, "reason")).text == "spam"
    bob.join_raw("club", "bobby")
    assert error(bob.recv_presence("club")) == ("auth", "forbidden")
    info = room_info(server, "club@conference.localhost")
    assert info["affiliations"]["outcast"] == ["bob@localhost"]
    assert info["reasons"]["bob@localhost"] == "spam"


def test_kick_with_a_reason_lets_them_come_back(server, passwords):
    alice = Occ(server, "alice", passwords["alice"])
    alice.create("lounge", "al")
    bob = Occ(server, "bob", passwords["bob"])
    bob.join("lounge", "bobby")
    ok(server, "muc-kick", "--room=lounge@conference.localhost",
       "--nick=bobby", "--reason=calm down")
    p = bob.recv_presence("lounge")
    assert p.get("type") == "unavailable" and 307 in codes(p)
    assert item(p).find(q(NS_MUC_USER, "reason")).text == "calm down"
    bob.join("lounge", "bobby")
    rc, out = cj(server, "muc-kick", "--room=lounge@conference.localhost",
                 "--nick=nobody")
    assert rc == 1 and out["error"] == "ENOENT"


def test_the_last_owner_stays(server, passwords):
    room = "solo@conference.localhost"
    ok(server, "muc-create", "--room=" + room, "--owner=alice@localhost")
    rc, out = cj(server, "muc-affiliation", "--room=" + room,
                 "--jid=alice@localhost", "--affiliation=none")
    assert rc == 1 and "last owner" in out["message"]
    ok(server, "muc-affiliation", "--room=" + room, "--jid=bob@localhost",
       "--affiliation=owner")
    ok(server, "muc-affiliation", "--room=" + room, "--jid=alice@localhost",
       "--affiliation=admin")
    affs = room_info(server, room)["affiliations"]
    assert affs["owner"] == ["bob@localhost"]
    assert affs["admin"] == ["alice@localhost"]
    rc, out = cj(server, "muc-affiliation", "--room=" + room,
                 "--jid=carol@localhost", "--affiliation=king")
    assert rc == 1 and out["error"] == "EINVAL"


def test_room_shows_its_form_with_labels_and_options(server):
    room = "formy@conference.localhost"
    ok(server, "muc-create", "--room=" + room, "--owner=alice@localhost")
    form = {f["var"]: f for f in room_info(server, room)["form"]}
    whois = form["muc#roomconfig_whois"]
    assert whois["type"] == "list-single" and whois["label"]
    assert {o["value"] for o in whois["options"]} == {"moderators",
                                                      "anyone"}
    assert form["muc#roomconfig_persistentroom"]["type"] == "boolean"
    assert form["muc#roomconfig_persistentroom"]["values"] == ["1"]
    assert form["muc#roomconfig_roomsecret"]["type"] == "text-private"
    bc = form["muc#roomconfig_presencebroadcast"]
    assert bc["type"] == "list-multi" and len(bc["options"]) == 3


def test_rest_routes_create_ban_and_kick(server_factory, tmp_path, passwords):
    from test_console_api import (ADMIN, console_module, keyed, make_web,
                                  new_key)
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.start()
    api = keyed(srv, new_key(srv)["key"])
    st, _, doc = api("POST", "/api/v1/rooms",
                     {"room": "rest@conference.localhost",
                      "owner": "alice@localhost"})
    assert st == 201, doc
    bob = Occ(srv, "bob", passwords["bob"])
    bob.join("rest", "bobby")
    st, _, doc = api("POST", "/api/v1/rooms/rest@conference.localhost/kick",
                     {"nick": "bobby", "reason": "over REST"})
    assert st == 200, doc
    assert 307 in codes(bob.recv_presence("rest"))
    st, _, doc = api("POST",
                     "/api/v1/rooms/rest@conference.localhost/affiliations",
                     {"jid": "bob@localhost", "affiliation": "outcast"})
    assert st == 200, doc
    bob.join_raw("rest", "bobby")
    assert error(bob.recv_presence("rest")) == ("auth", "forbidden")
    st, _, doc = api("POST", "/api/v1/rooms",
                     {"room": "rest@conference.localhost",
                      "owner": "alice@localhost"})
    assert st == 409, doc
