"""The audit log (issue 18): every admin action that may change the server
is kept with who ran it, from where, when, with what (secrets left out) and
how it ended, whatever the door (emberctl, the console and its REST API,
XEP-0050 ad-hoc commands), across restarts; what only reads is not."""

import json
import os
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import RawClient
from test_adhoc import run as adhoc_run
from test_console_api import (ADMIN, Admin, assert_error, call,
                              console_module, keyed, make_web, new_key)

ADMIN_NODE = "http://jabber.org/protocol/admin"


@pytest.fixture
def asrv(server_factory, tmp_path):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.start()
    return srv


COMPONENT_SECRET = "gw-component-secret-4711"
TURN_SECRET = "turn-static-auth-secret-0815"


@pytest.fixture
def secret_srv(server_factory, tmp_path):
    """A config that holds secrets in the clear, as operators write them."""
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    ET.SubElement(srv.cfg, "component", domain="gw.localhost",
                  secret=COMPONENT_SECRET)
    srv.add_module("extdisco", turn="turn.example.org:3478",
                   **{"turn-secret": TURN_SECRET})
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.start()
    return srv


def audit(srv, *args):
    return json.loads(srv.ctl_ok("--json", "audit", *args).stdout)


def entries(srv, action=None):
    args = ["--max=1000"] + (["--action=" + action] if action else [])
    return audit(srv, *args)["entries"]


def test_emberctl_actions_are_kept_with_the_operator_and_no_secret(asrv):
    uid = os.getuid()
    asrv.ctl_ok("adduser", "zed@localhost", "zed-pass-1234")
    asrv.ctl_ok("lock", "zed@localhost")
    e = entries(asrv)[0:2]
    assert [x["action"] for x in e] == ["lock", "adduser"]
    add = e[1]
    assert add["actor"] == "emberctl (uid %d)" % uid
    assert add["origin"] == "control socket"
    assert add["result"] == "ok"
    assert add["detail"]["jid"] == "zed@localhost"
    assert add["detail"]["password"] == "(secret)"
    assert isinstance(add["at"], int) and add["at"] > 1_700_000_000
    # The password reached neither the log nor the database file.
    assert "zed-pass-1234" not in asrv.log()
    for f in asrv.root.rglob("*.db*"):
        assert b"zed-pass-1234" not in f.read_bytes(), f


def test_accounts_made_while_the_server_was_stopped_are_in_it(asrv):
    """The fixture's users came from emberctl with emberd stopped (one
    users-import-csv of three rows)."""
    made = entries(asrv, "users-import-csv")
    assert any(x["origin"] == "command line, server stopped" and
               x["detail"] == {"rows": 3, "created": 3} for x in made)


def test_commands_that_only_read_are_left_out(asrv):
    before = len(entries(asrv))
    for cmd in ("status", "sessions", "modules", "certs", "s2s", "audit"):
        asrv.ctl_ok("--json", cmd)
    asrv.ctl_ok("--json", "users", "localhost")
    assert len(entries(asrv)) == before


def test_export_is_left_out_and_import_kept(asrv, tmp_path):
    """emberctl export runs one local command per account and module, all
    of them reads: none is kept; import writes and is."""
    before = entries(asrv)
    out = tmp_path / "all.xml"
    asrv.ctl_ok("export", str(out))
    assert '<user name="alice"' in out.read_text()
    assert entries(asrv) == before
    asrv.ctl_ok("import", "--force", str(out))
    kept = {x["action"] for x in entries(asrv)[:-len(before) or None]}
    assert "account-import" in kept
    assert not any(a.startswith("pie-export") or a == "account-export"
                   for a in kept)


def test_a_failed_command_is_kept_with_its_error(asrv):
    r = asrv.ctl("deluser", "nobody@localhost")
    assert r.returncode == 1
    e = entries(asrv, "deluser")[0]
    assert e["result"] == "error" and e["message"]
    assert e["detail"] == {"jid": "nobody@localhost"}


def test_rest_api_key_and_console_session_are_named(asrv):
    admin = Admin(asrv)
    login = entries(asrv, "console-login")[0]
    assert login["actor"] == ADMIN and login["origin"] == "127.0.0.1"
    assert login["result"] == "ok"
    key = new_key(asrv, "deploy-bot")
    made = entries(asrv, "api-key-create")[0]
    assert made["actor"] == ADMIN and made["detail"]["name"] == "deploy-bot"
    api = keyed(asrv, key["key"])
    st, _, doc = api("POST", "/api/v1/commands/lock",
                     {"jid": "bob@localhost"})
    assert st == 200, doc
    lock = entries(asrv, "lock")[0]
    assert lock["actor"].startswith("key ") and "deploy-bot" in lock["actor"]
    assert lock["origin"] == "127.0.0.1"
    st, _, _ = admin("DELETE", "/api/v1/keys/" + key["id"])
    assert st == 204
    revoked = entries(asrv, "api-key-revoke")[0]
    assert revoked["detail"]["id"] == key["id"]


def test_a_right_password_without_admin_rights_is_kept_as_refused(asrv):
    st, _, _ = call(asrv, "POST", "/api/v1/login",
                    {"jid": "bob@localhost", "password": "bob-secret"})
    assert st == 401
    e = entries(asrv, "console-login")[0]
    assert e["actor"] == "bob@localhost" and e["result"] == "error"


def test_ad_hoc_commands_name_the_admins_jid(asrv, passwords):
    alice = RawClient(asrv.c2s_port)
    alice.login("alice", passwords["alice"], resource="desk")
    _, el = adhoc_run(alice, ADMIN_NODE + "#disable-user",
                      {"FORM_TYPE": ADMIN_NODE,
                       "accountjids": "carol@localhost"})
    assert el.get("type") == "result", ET.tostring(el)
    e = entries(asrv, "lock")[0]
    assert e["actor"] == "alice@localhost/desk" and e["origin"] == "xmpp"
    assert e["detail"]["jid"] == "carol@localhost"


def test_kept_across_a_restart_and_read_by_pages(asrv):
    for u in ("p1", "p2", "p3"):
        asrv.ctl_ok("adduser", u + "@localhost", "pw-" + u)
    asrv.restart()
    page = audit(asrv, "--max=2", "--action=adduser")
    assert [x["detail"]["jid"] for x in page["entries"]] == \
        ["p3@localhost", "p2@localhost"]
    assert page["more"] is True
    nxt = audit(asrv, "--max=2", "--action=adduser",
                "--before=" + page["entries"][-1]["id"])
    assert nxt["entries"][0]["detail"]["jid"] == "p1@localhost"


def test_audit_is_an_admin_read_for_the_rest_api(asrv):
    api = keyed(asrv, new_key(asrv)["key"])
    st, _, doc = api("POST", "/api/v1/commands/audit", {"max": 5})
    assert st == 200 and len(doc["result"]["entries"]) <= 5
    st, _, cmds = api("GET", "/api/v1/commands")
    info = {c["name"]: c for c in cmds}
    assert info["audit"]["permission"] == "admin"
    assert info["audit"]["read_only"] is True
    assert info["adduser"]["read_only"] is False
    st, _, doc = api("POST", "/api/v1/commands/audit", {"max": 0})
    assert st == 400


def test_reading_the_secrets_of_the_config_is_kept(secret_srv):
    """config-get and module-options give secrets as the file has them:
    each reading is kept with who read it; the typed settings show that a
    secret is set, never its value, and stay a read left out."""
    key = new_key(secret_srv, "ops-dashboard")
    api = keyed(secret_srv, key["key"])
    info = {c["name"]: c for c in api("GET", "/api/v1/commands")[2]}
    assert info["config-get"]["read_only"] is False
    assert info["module-options"]["read_only"] is False
    assert info["settings"]["read_only"] is True
    before = len(entries(secret_srv))
    st, _, doc = api("GET", "/api/v1/settings")
    assert st == 200 and COMPONENT_SECRET not in json.dumps(doc)
    assert len(entries(secret_srv)) == before

    st, _, doc = api("GET", "/api/v1/config")
    assert st == 200 and COMPONENT_SECRET in doc["text"]
    got = entries(secret_srv, "config-get")
    assert len(got) == 1 and "ops-dashboard" in got[0]["actor"]
    assert got[0]["origin"] == "127.0.0.1" and got[0]["result"] == "ok"
    st, _, doc = api("POST", "/api/v1/commands/config-get", {})
    assert st == 200 and TURN_SECRET in doc["result"]["text"]
    assert len(entries(secret_srv, "config-get")) == 2

    st, _, doc = api("GET", "/api/v1/modules/extdisco/options?host=localhost")
    assert st == 200 and TURN_SECRET in json.dumps(doc)
    opts = entries(secret_srv, "module-options")[0]
    assert "ops-dashboard" in opts["actor"]
    assert opts["detail"]["name"] == "extdisco"
    secret_srv.ctl_ok("--json", "config-get")
    assert entries(secret_srv, "config-get")[0]["actor"] == \
        "emberctl (uid %d)" % os.getuid()
    for e in entries(secret_srv):
        assert COMPONENT_SECRET not in json.dumps(e)
        assert TURN_SECRET not in json.dumps(e)


def test_the_config_is_not_read_without_admin_rights(secret_srv):
    """bob knows his own password but is no admin: no session, no answer,
    no secret, at either route to config-get."""
    st, h, doc = call(secret_srv, "POST", "/api/v1/login",
                      {"jid": "bob@localhost", "password": "bob-secret"})
    assert st == 401
    cookie = h.get("set-cookie", "").split(";")[0]
    for method, path in (("GET", "/api/v1/config"),
                         ("POST", "/api/v1/commands/config-get"),
                         ("GET", "/api/v1/modules/extdisco/options")):
        for headers in ({"Cookie": cookie} if cookie else {},
                        {"Authorization": "Bearer ek_000000000000_" +
                         "0" * 48}):
            st, _, doc = call(secret_srv, method, path,
                              {} if method == "POST" else None, headers)
            assert_error(st, doc, 401, "unauthorized")
            assert COMPONENT_SECRET not in json.dumps(doc)
            assert TURN_SECRET not in json.dumps(doc)
    assert entries(secret_srv, "config-get") == []
