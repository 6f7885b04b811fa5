"""mod_groups: shared roster groups.  Members of a group shown to a group
see each other in their rosters (RFC 6121 items, subscription both, under
the group's name), merged with their own items; presence flows as for a
`both` subscription; every change is pushed at once (RFC 6121 2.1.6) and
moves the XEP-0237 version; emberctl and the REST API drive it."""

import asyncio
import json
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import NS_CLIENT, RawClient, q, stanza_error
from slix import login, run
from test_console_api import ADMIN, new_key, keyed
from test_roster import NS_ROSTER, is_push, roster_get, roster_set
from test_roster import items as roster_items


@pytest.fixture
def gsrv(server_factory):
    srv = server_factory(start=False)
    srv.add_module("groups")
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    srv.start()
    return srv


def connect(srv, passwords, user, resource="r", presence=True):
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, passwords[user], resource=resource)
    roster_get(c)
    if presence:
        c.send("<presence/>")
        # Our own presence comes back: the session is available.
        c.recv(lambda el: el.tag == q(NS_CLIENT, "presence") and
               el.get("from") == c.jid, timeout=5)
    return c


def items(query):
    # No item here has a pending 'ask': one that had would not compare.
    return {j: {k: v for k, v in it.items() if k != "ask" or v is not None}
            for j, it in roster_items(query).items()}


def recv_push(c, timeout=5):
    el = c.recv(is_push, timeout=timeout)
    c.send("<iq type='result' id='%s'/>" % el.get("id"))
    query = el.find(q(NS_ROSTER, "query"))
    it = query.find(q(NS_ROSTER, "item"))
    return query, {
        "jid": it.get("jid"), "name": it.get("name"),
        "subscription": it.get("subscription"),
        "groups": sorted(g.text for g in it.findall(q(NS_ROSTER, "group")))}


def no_push(c, timeout=0.5):
    try:
        el = c.recv(is_push, timeout=timeout)
    except Exception:
        return
    raise AssertionError("unexpected push: %s" % ET.tostring(el))


def presence_from(c, bare, type_=None, timeout=5):
    def match(el):
        return (el.tag == q(NS_CLIENT, "presence") and
                (el.get("from") or "").split("/")[0] == bare and
                el.get("type") == type_)
    return c.recv(match, timeout=timeout)


def ctl_json(srv, *args):
    r = srv.ctl("--json", *args)
    out = json.loads(r.stdout) if r.stdout.strip() else None
    return r.returncode, out, r.stderr


def team(srv, *members, gid="team", name="Team"):
    srv.ctl_ok("group-create", gid, name)
    for m in members:
        srv.ctl_ok("group-add-member", gid, srv.jid(m))


# ---- who sees whom, live ----

def test_member_added_pushed_and_presence_both_ways(gsrv, passwords):
    a = connect(gsrv, passwords, "alice")
    b = connect(gsrv, passwords, "bob")
    v0 = roster_get(a).get("ver")
    team(gsrv, "alice")
    no_push(a)
    gsrv.ctl_ok("group-add-member", "team", "bob@localhost")
    query, it = recv_push(a)
    assert it == {"jid": "bob@localhost", "name": None,
                  "subscription": "both", "groups": ["Team"]}
    assert query.get("ver") and query.get("ver") != v0
    _, it = recv_push(b)
    assert it["jid"] == "alice@localhost" and it["groups"] == ["Team"]
    assert it["subscription"] == "both"
    # Presence both ways, as after a subscription became both.
    presence_from(a, "bob@localhost")
    presence_from(b, "alice@localhost")
    got = items(roster_get(a))
    assert got == {"bob@localhost": {"name": None, "subscription": "both",
                                     "groups": ["Team"]}}
    # Bob's presence changes reach alice as a contact's.
    b.send("<presence><show>away</show></presence>")
    el = presence_from(a, "bob@localhost")
    assert el.find(q(NS_CLIENT, "show")).text == "away"
    a.close()
    b.close()


def test_login_gets_shared_roster_and_presence(gsrv, passwords):
    team(gsrv, "alice", "bob", "carol")
    b = connect(gsrv, passwords, "bob")
    a = connect(gsrv, passwords, "alice", presence=False)
    got = items(roster_get(a))
    assert set(got) == {"bob@localhost", "carol@localhost"}
    assert all(v["subscription"] == "both" and v["groups"] == ["Team"]
               for v in got.values())
    assert "alice@localhost" not in got
    # Initial presence: the probe is answered with bob's presence, and
    # bob receives alice's.
    a.send("<presence/>")
    presence_from(a, "bob@localhost")
    presence_from(b, "alice@localhost")
    # Logout: bob is told.
    a.close()
    presence_from(b, "alice@localhost", "unavailable")
    b.close()


def test_removed_member_pushed_remove_and_unavailable(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice")
    b = connect(gsrv, passwords, "bob")
    presence_from(a, "bob@localhost")
    gsrv.ctl_ok("group-remove-member", "team", "bob@localhost")
    _, it = recv_push(a)
    assert it["jid"] == "bob@localhost"
    assert it["subscription"] == "remove"
    _, it = recv_push(b)
    assert it == {"jid": "alice@localhost", "name": None,
                  "subscription": "remove", "groups": []}
    presence_from(a, "bob@localhost", "unavailable")
    presence_from(b, "alice@localhost", "unavailable")
    assert items(roster_get(a)) == {}
    # No longer related: bob's presence does not reach alice.
    b.send("<presence><show>dnd</show></presence>")
    with pytest.raises(Exception):
        presence_from(a, "bob@localhost", timeout=0.7)
    rc, _, err = ctl_json(gsrv, "group-remove-member", "team",
                          "bob@localhost")
    assert rc != 0 and "not a member" in err
    a.close()
    b.close()


def test_rename_and_delete_pushed(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice")
    v1 = roster_get(a).get("ver")
    gsrv.ctl_ok("group-rename", "team", "Crew")
    query, it = recv_push(a)
    assert it["groups"] == ["Crew"] and it["subscription"] == "both"
    assert query.get("ver") != v1
    assert items(roster_get(a))["bob@localhost"]["groups"] == ["Crew"]
    gsrv.ctl_ok("group-delete", "team")
    _, it = recv_push(a)
    assert it["jid"] == "bob@localhost" and it["subscription"] == "remove"
    assert items(roster_get(a)) == {}
    rc, _, err = ctl_json(gsrv, "group-info", "team")
    assert rc != 0 and "no such group" in err
    a.close()


# ---- merged with the user's own roster ----

def test_personal_item_merged_and_kept(gsrv, passwords):
    a = connect(gsrv, passwords, "alice")
    assert roster_set(a, "bob@localhost", name="Bobby",
                      groups=["Friends"]).get("type") == "result"
    recv_push(a)
    team(gsrv, "alice", "bob")
    _, it = recv_push(a)
    assert it == {"jid": "bob@localhost", "name": "Bobby",
                  "subscription": "both", "groups": ["Friends", "Team"]}
    assert items(roster_get(a))["bob@localhost"]["groups"] == [
        "Friends", "Team"]
    # The client edits the item as it sees it: its name and own groups
    # are kept, the shared group is not stored with them.
    assert roster_set(a, "bob@localhost", name="B",
                      groups=["Friends", "Team", "Work"]).get(
                          "type") == "result"
    _, it = recv_push(a)
    assert it["name"] == "B"
    assert it["groups"] == ["Friends", "Team", "Work"]
    gsrv.ctl_ok("group-remove-member", "team", "bob@localhost")
    # Out of the group: the personal item, as it was stored.
    _, it = recv_push(a)
    assert it == {"jid": "bob@localhost", "name": "B",
                  "subscription": "none", "groups": ["Friends", "Work"]}
    a.close()


def test_shared_item_cannot_be_removed(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice")
    el = roster_set(a, "bob@localhost", sub="remove")
    assert el.get("type") == "error"
    assert stanza_error(el)[:2] == ("cancel", "not-allowed")
    assert "bob@localhost" in items(roster_get(a))
    # A personal item on top may go; the shared one stays.
    assert roster_set(a, "bob@localhost", name="Bobby",
                      groups=["Friends"]).get("type") == "result"
    _, it = recv_push(a)
    assert it["groups"] == ["Friends", "Team"]
    el = roster_set(a, "bob@localhost", sub="remove")
    assert el.get("type") == "result", stanza_error(el)
    _, it = recv_push(a)
    assert it == {"jid": "bob@localhost", "name": None,
                  "subscription": "both", "groups": ["Team"]}
    a.close()


# ---- versions, persistence ----

def test_version_moves_with_membership_offline_too(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice", presence=False)
    v1 = roster_get(a).get("ver")
    # Current: an empty result (XEP-0237).
    assert roster_get(a, ver=v1) is None
    a.close()
    gsrv.ctl_ok("group-add-member", "team", "carol@localhost")
    a = connect(gsrv, passwords, "alice", presence=False)
    query = roster_get(a, ver=v1)
    assert query is not None and query.get("ver") != v1
    assert set(items(query)) == {"bob@localhost", "carol@localhost"}
    v2 = query.get("ver")
    gsrv.ctl_ok("group-rename", "team", "Crew")
    _, _ = recv_push(a)
    query = roster_get(a, ver=v2)
    assert query is not None and query.get("ver") not in (v1, v2)
    a.close()


def test_groups_survive_restart(gsrv, passwords):
    team(gsrv, "alice", "bob")
    gsrv.ctl_ok("group-create", "staff", "Staff")
    gsrv.ctl_ok("group-add-member", "staff", "carol@localhost")
    gsrv.ctl_ok("group-show-to", "staff", "team")
    before = ctl_json(gsrv, "groups")[1]
    gsrv.restart()
    assert ctl_json(gsrv, "groups")[1] == before
    rc, info, _ = ctl_json(gsrv, "group-info", "staff")
    assert rc == 0
    assert info["members"] == ["carol@localhost"]
    assert info["show_to"] == ["@members", "team"]
    a = connect(gsrv, passwords, "alice", presence=False)
    got = items(roster_get(a))
    assert got["bob@localhost"]["groups"] == ["Team"]
    assert got["carol@localhost"]["groups"] == ["Staff"]
    a.close()


# ---- groups shown to other groups ----

def test_group_shown_to_another_group(gsrv, passwords):
    gsrv.ctl_ok("group-create", "staff", "Staff")
    gsrv.ctl_ok("group-add-member", "staff", "alice@localhost")
    gsrv.ctl_ok("group-create", "sales", "Sales")
    gsrv.ctl_ok("group-hide-from", "sales", "@members")
    a = connect(gsrv, passwords, "alice")
    b = connect(gsrv, passwords, "bob")
    c = connect(gsrv, passwords, "carol", presence=False)
    gsrv.ctl_ok("group-add-member", "sales", "bob@localhost")
    gsrv.ctl_ok("group-add-member", "sales", "carol@localhost")
    no_push(a)
    no_push(b)
    gsrv.ctl_ok("group-show-to", "sales", "staff")
    seen = {}
    for _ in range(2):
        _, it = recv_push(a)
        seen[it["jid"]] = it
    assert seen == {
        j: {"jid": j, "name": None, "subscription": "both",
            "groups": ["Sales"]}
        for j in ("bob@localhost", "carol@localhost")}
    # Bob sees neither alice (staff is not shown to sales) nor carol
    # (sales is hidden from its own members) ...
    no_push(b)
    assert items(roster_get(b)) == {}
    assert items(roster_get(c)) == {}
    # ... but presence flows both ways between alice and bob.
    presence_from(a, "bob@localhost")
    presence_from(b, "alice@localhost")
    gsrv.ctl_ok("group-show-to", "sales", "@nobody")
    for _ in range(2):
        _, it = recv_push(a)
        assert it["subscription"] == "remove"
    presence_from(a, "bob@localhost", "unavailable")
    rc, info, _ = ctl_json(gsrv, "group-info", "sales")
    assert info["show_to"] == []
    for x in (a, b, c):
        x.close()


# ---- a real client ----

def test_slixmpp_sees_group_appear(gsrv, passwords):
    async def go():
        a = await login(gsrv, "alice", passwords["alice"])
        b = await login(gsrv, "bob", passwords["bob"])
        await a.get_roster()
        await b.get_roster()
        a.send_presence()
        b.send_presence()
        online = asyncio.get_running_loop().create_future()
        updated = asyncio.get_running_loop().create_future()

        def on_online(p):
            if p["from"].bare == "bob@localhost" and not online.done():
                online.set_result(True)

        def on_update(iq):
            if "bob@localhost" in iq["roster"]["items"] and \
                    not updated.done():
                updated.set_result(True)
        a.add_event_handler("got_online", on_online)
        a.add_event_handler("roster_update", on_update)
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, team, gsrv, "alice", "bob")
        await asyncio.wait_for(updated, 10)
        await asyncio.wait_for(online, 10)
        item = a.client_roster["bob@localhost"]
        assert item["subscription"] == "both"
        assert item["groups"] == ["Team"]
        await a.close()
        await b.close()
    run(go())


# ---- bad input ----

def test_emberctl_errors(gsrv):
    rc, out, _ = ctl_json(gsrv, "groups")
    assert rc == 0 and out == {"groups": []}
    gsrv.ctl_ok("group-create", "team", "Team")
    for args, text in [
            (("group-create", "team", "Again"), "exists"),
            (("group-create", "bad id!", "X"), "id must be"),
            (("group-create", "x", ""), "name must be"),
            (("group-info", "nope"), "no such group"),
            (("group-add-member", "nope", "bob@localhost"), "no such group"),
            (("group-add-member", "team", "not@@valid"), ""),
            (("group-add-member", "team", "bob@localhost/res"), "bare JID"),
            (("group-add-member", "team", "localhost"), "bare JID"),
            (("group-add-member", "team", "nobody@localhost"),
             "no such account"),
            (("group-show-to", "team", "nope"), "no such group"),
            (("group-show-to", "team", "@bogus"), "'to' is"),
            (("group-delete", "nope"), "no such group")]:
        rc, _, err = ctl_json(gsrv, *args)
        assert rc != 0, args
        assert text in err, (args, err)
    # Remote members are fine.
    gsrv.ctl_ok("group-add-member", "team", "zed@elsewhere.example")
    rc, info, _ = ctl_json(gsrv, "group-info", "team")
    assert info["members"] == ["zed@elsewhere.example"]


def test_rest_api(gsrv):
    api = keyed(gsrv, new_key(gsrv)["key"])
    p = "/api/v1/commands/"
    st, _, doc = api("POST", p + "group-create", {"id": "team",
                                                  "name": "Team"})
    assert st == 200, doc
    assert doc["result"]["id"] == "team"
    st, _, doc = api("POST", p + "group-create", {"id": "team",
                                                  "name": "Team"})
    assert st == 409 and doc["error"] == "conflict", doc
    st, _, doc = api("POST", p + "group-add-member",
                     {"id": "nope", "jid": "bob@localhost"})
    assert st == 404 and doc["error"] == "not_found", doc
    st, _, doc = api("POST", p + "group-add-member",
                     {"id": "team", "jid": "bob@localhost/x"})
    assert st == 400 and doc["error"] == "bad_request", doc
    st, _, doc = api("POST", p + "group-add-member",
                     {"id": "team", "jid": "bob@localhost"})
    assert st == 200, doc
    st, _, doc = api("POST", p + "groups", {})
    assert st == 200
    assert doc["result"]["groups"] == [
        {"id": "team", "name": "Team", "members": 1,
         "show_to": ["@members"]}]


def test_rest_routes(gsrv, passwords):
    api = keyed(gsrv, new_key(gsrv)["key"])
    a = connect(gsrv, passwords, "alice")
    st, _, doc = api("POST", "/api/v1/groups", {"id": "team", "name": "Team"})
    assert st == 201, doc
    st, _, doc = api("POST", "/api/v1/groups/team/members",
                     {"jid": "alice@localhost"})
    assert st == 200, doc
    st, _, doc = api("POST", "/api/v1/groups/team/members",
                     {"jid": "bob@localhost"})
    assert st == 200 and doc["added"] is True, doc
    _, it = recv_push(a)
    assert it["jid"] == "bob@localhost" and it["groups"] == ["Team"]
    st, _, doc = api("PUT", "/api/v1/groups/team/name", {"name": "Crew"})
    assert st == 200 and doc["name"] == "Crew", doc
    _, it = recv_push(a)
    assert it["groups"] == ["Crew"]
    st, _, doc = api("GET", "/api/v1/groups/team")
    assert st == 200
    assert doc == {"id": "team", "name": "Crew",
                   "members": ["alice@localhost", "bob@localhost"],
                   "show_to": ["@members"]}
    st, _, doc = api("POST", "/api/v1/groups/team/hide", {"to": "@members"})
    assert st == 200 and doc["show_to"] == [], doc
    _, it = recv_push(a)
    assert it["subscription"] == "remove"
    st, _, doc = api("POST", "/api/v1/groups/team/show", {"to": "@members"})
    assert st == 200 and doc["show_to"] == ["@members"], doc
    _, it = recv_push(a)
    assert it["subscription"] == "both"
    st, _, doc = api("DELETE", "/api/v1/groups/team/members",
                     {"jid": "bob@localhost"})
    assert st == 200, doc
    _, it = recv_push(a)
    assert it["subscription"] == "remove"
    st, _, doc = api("GET", "/api/v1/groups/nope")
    assert st == 404 and doc["error"] == "not_found", doc
    st, _, doc = api("POST", "/api/v1/groups/team/show", {"to": "nope"})
    assert st == 404, doc
    st, _, doc = api("DELETE", "/api/v1/groups/team", {})
    assert st == 204, doc
    st, _, doc = api("GET", "/api/v1/groups")
    assert st == 200 and doc == {"groups": []}, doc
    a.close()


def test_deleted_account_leaves_groups(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice")
    gsrv.ctl_ok("deluser", "bob@localhost")
    _, it = recv_push(a)
    assert it["jid"] == "bob@localhost" and it["subscription"] == "remove"
    rc, info, _ = ctl_json(gsrv, "group-info", "team")
    assert info["members"] == ["alice@localhost"]
    a.close()


# ---- the console page ----

def test_console_groups_page(gsrv, tmp_path):
    """The Groups page in Chromium (tests/browser/groups.test.mjs)."""
    import os
    import subprocess
    from harness import REPO
    from test_console_browser import BROWSER_DIR, _console_module, _missing
    why = _missing()
    if why:
        pytest.skip(why)
    gsrv.stop()
    _console_module(gsrv).set("web-root", str(REPO / "web"))
    gsrv.start()
    shots = tmp_path / "shots"
    env = dict(os.environ,
               EMBER_CONSOLE_URL="http://127.0.0.1:%d/" % gsrv.admin_port,
               EMBER_ADMIN_JID=ADMIN, EMBER_ADMIN_PASSWORD="alice-secret",
               EMBER_DOMAIN=gsrv.domain, EMBER_SCREENSHOT_DIR=str(shots))
    r = subprocess.run(["node", str(BROWSER_DIR / "groups.test.mjs")],
                       cwd=str(BROWSER_DIR), env=env, capture_output=True,
                       text=True, timeout=150)
    assert r.returncode == 0 and "GROUPS PASSED" in r.stdout, (
        r.stdout[-4000:], r.stderr[-4000:])
    for name in ("groups-empty", "groups-sales", "groups-list",
                 "groups-phone"):
        assert (shots / (name + ".png")).stat().st_size > 1000, name


def test_contact_in_two_groups_removed_from_one(gsrv, passwords):
    """RFC 6121 2.1.6: what changed is the item's groups, so the push is
    the item with the group left, not its removal."""
    team(gsrv, "alice", "bob")
    team(gsrv, "alice", "bob", gid="crew", name="Crew")
    a = connect(gsrv, passwords, "alice")
    b = connect(gsrv, passwords, "bob")
    presence_from(a, "bob@localhost")
    assert items(roster_get(a))["bob@localhost"]["groups"] == [
        "Crew", "Team"]
    gsrv.ctl_ok("group-remove-member", "team", "bob@localhost")
    _, it = recv_push(a)
    assert it == {"jid": "bob@localhost", "name": None,
                  "subscription": "both", "groups": ["Crew"]}
    _, it = recv_push(b)
    assert it["groups"] == ["Crew"] and it["subscription"] == "both"
    # Still related: no unavailable presence, bob's changes still come.
    b.send("<presence><show>xa</show></presence>")
    el = presence_from(a, "bob@localhost")
    assert el.find(q(NS_CLIENT, "show")).text == "xa"
    a.close()
    b.close()


def test_remote_member_shown_to_local_members(gsrv, passwords):
    team(gsrv, "alice")
    a = connect(gsrv, passwords, "alice")
    gsrv.ctl_ok("group-add-member", "team", "zed@remote.example")
    _, it = recv_push(a)
    assert it == {"jid": "zed@remote.example", "name": None,
                  "subscription": "both", "groups": ["Team"]}
    gsrv.ctl_ok("group-remove-member", "team", "zed@remote.example")
    _, it = recv_push(a)
    assert it["jid"] == "zed@remote.example"
    assert it["subscription"] == "remove"
    # The server is still well.
    assert items(roster_get(a)) == {}
    a.close()


def test_subscription_stanzas_leave_shared_items_alone(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice")
    b = connect(gsrv, passwords, "bob")
    presence_from(a, "bob@localhost")
    for t in ("subscribe", "unsubscribe", "unsubscribed"):
        b.send("<presence to='alice@localhost' type='%s'/>" % t)
    b.iq("get", "<ping xmlns='urn:xmpp:ping'/>", to="localhost")
    for c, other in ((a, "bob@localhost"), (b, "alice@localhost")):
        assert items(roster_get(c))[other] == {
            "name": None, "subscription": "both", "groups": ["Team"]}
    # Nothing was stored of it: out of the group, no item is left.
    gsrv.ctl_ok("group-delete", "team")
    recv_push(a)
    recv_push(b)
    assert items(roster_get(a)) == {}
    assert items(roster_get(b)) == {}
    a.close()
    b.close()


def test_module_unloaded_and_loaded_again(gsrv, passwords):
    team(gsrv, "alice", "bob")
    a = connect(gsrv, passwords, "alice")
    assert "bob@localhost" in items(roster_get(a))
    gsrv.remove_module("groups")
    gsrv.save()
    gsrv.ctl_ok("reload")
    assert items(roster_get(a)) == {}
    rc, _, _ = ctl_json(gsrv, "groups")
    assert rc != 0
    gsrv.add_module("groups")
    gsrv.save()
    gsrv.ctl_ok("reload")
    # Read back from storage.
    for _ in range(50):
        if "bob@localhost" in items(roster_get(a)):
            break
    assert items(roster_get(a))["bob@localhost"]["groups"] == ["Team"]
    a.close()
