"""An account as the admin sees it (issue 18): locked with a reason kept
for the admins, its roster read and edited through the REST API, and the
client seeing the edit as a roster push (RFC 6121 2.1.6)."""

import json
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import RawClient, q
from test_console_api import (ADMIN, console_module, keyed, make_web,
                              new_key)

NS_ROSTER = "jabber:iq:roster"


@pytest.fixture
def usrv(server_factory, tmp_path):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.start()
    return srv


def info(srv, jid):
    return json.loads(srv.ctl_ok("--json", "user-info", jid).stdout)


def test_lock_keeps_its_reason_until_unlocked(usrv, passwords):
    usrv.ctl_ok("lock", "bob@localhost", "--reason=spam reports")
    i = info(usrv, "bob@localhost")
    assert i["locked"] is True and i["lock_reason"] == "spam reports"
    assert i["locked_at"] > 1_700_000_000
    c = RawClient(usrv.c2s_port)
    with pytest.raises(Exception):
        c.login("bob", passwords["bob"])
    usrv.ctl_ok("unlock", "bob@localhost")
    i = info(usrv, "bob@localhost")
    assert i["locked"] is False
    assert i.get("lock_reason") is None and i.get("locked_at") is None
    RawClient(usrv.c2s_port).login("bob", passwords["bob"])


def test_lock_over_rest_with_a_reason(usrv):
    api = keyed(usrv, new_key(usrv)["key"])
    st, _, doc = api("POST", "/api/v1/users/carol@localhost/lock",
                     {"reason": "left the company"})
    assert st == 200, doc
    st, _, doc = api("GET", "/api/v1/users/carol@localhost")
    assert doc["lock_reason"] == "left the company"
    audit = json.loads(usrv.ctl_ok("--json", "audit",
                                   "--action=lock").stdout)["entries"][0]
    assert audit["detail"]["reason"] == "left the company"


def test_roster_edit_over_rest_is_pushed_to_the_client(usrv, passwords):
    alice = RawClient(usrv.c2s_port)
    alice.login("alice", passwords["alice"], resource="phone")
    alice.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)   # interested
    api = keyed(usrv, new_key(usrv)["key"])
    st, _, doc = api("POST", "/api/v1/users/alice@localhost/roster",
                     {"contact": "dave@example.org", "name": "Dave",
                      "group": "Friends,Work"})
    assert st == 200, doc
    push = alice.recv(lambda e: e.tag == q("jabber:client", "iq") and
                      e.get("type") == "set", timeout=10)
    it = push.find(q(NS_ROSTER, "query")).find(q(NS_ROSTER, "item"))
    assert it.get("jid") == "dave@example.org" and it.get("name") == "Dave"
    assert sorted(g.text for g in it.findall(q(NS_ROSTER, "group"))) == \
        ["Friends", "Work"]
    st, _, doc = api("GET", "/api/v1/users/alice@localhost/roster")
    assert [i["jid"] for i in doc["items"]] == ["dave@example.org"]
    st, _, _ = api("DELETE", "/api/v1/users/alice@localhost/roster",
                   {"contact": "dave@example.org"})
    assert st == 204
    push = alice.recv(lambda e: e.tag == q("jabber:client", "iq") and
                      e.get("type") == "set", timeout=10)
    it = push.find(q(NS_ROSTER, "query")).find(q(NS_ROSTER, "item"))
    assert it.get("subscription") == "remove"
    st, _, doc = api("POST", "/api/v1/users/alice@localhost/roster",
                     {"contact": "not a jid"})
    assert st == 400, doc


def test_name_and_email_kept_for_the_admins(usrv):
    usrv.ctl_ok("user-set", "bob@localhost", "--name=Bob Builder",
                "--email=bob@mail.example")
    i = info(usrv, "bob@localhost")
    assert (i["name"], i["email"]) == ("Bob Builder", "bob@mail.example")
    usrv.ctl_ok("user-set", "bob@localhost", "--email=")
    i = info(usrv, "bob@localhost")
    assert i["name"] == "Bob Builder" and i.get("email") is None
    r = usrv.ctl("user-set", "bob@localhost", "--email=not-an-address")
    assert r.returncode == 1 and "not an address" in (r.stdout + r.stderr)
    r = usrv.ctl("user-set", "nobody@localhost", "--name=X")
    assert r.returncode == 1 and "no such user" in (r.stdout + r.stderr)
    api = keyed(usrv, new_key(usrv)["key"])
    st, _, doc = api("PUT", "/api/v1/users/carol@localhost/info",
                     {"name": "Carol", "email": "carol@mail.example"})
    assert st == 200, doc
    assert info(usrv, "carol@localhost")["email"] == "carol@mail.example"
    # The password still works: the secrets were left alone.
    RawClient(usrv.c2s_port).login("carol", "carol-secret")
