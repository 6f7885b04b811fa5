"""mod_adhoc: the admin command registry as XEP-0050 ad-hoc commands, with
the XEP-0133 nodes (add-user, delete-user, disable-user, reenable-user,
change-user-password, announce) and urn:ember:command:NAME for the rest."""

import xml.etree.ElementTree as ET

from rawxmpp import NS_DISCO_INFO, NS_DISCO_ITEMS, RawClient, q, stanza_error

NS_CMD = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
ADMIN = "http://jabber.org/protocol/admin"


def admin_server(server_factory):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid="alice@localhost")
    return srv.start()


def client(srv, user, password):
    c = RawClient(srv.c2s_port)
    c.login(user, password)
    return c


def execute(c, node, form=None, sessionid=None, action=None):
    attrs = "node='%s'" % node
    if sessionid:
        attrs += " sessionid='%s'" % sessionid
    if action:
        attrs += " action='%s'" % action
    extra = ""
    if form is not None:
        extra = "<x xmlns='%s' type='submit'>%s</x>" % (NS_DATA, "".join(
            "<field var='%s'>%s</field>" % (k, "".join(
                "<value>%s</value>" % v for v in
                (vals if isinstance(vals, list) else [vals])))
            for k, vals in form.items()))
    return c.iq("set", "<command xmlns='%s' %s>%s</command>"
                % (NS_CMD, attrs, extra), to="localhost")


def run(c, node, form):
    el = execute(c, node)
    assert el.get("type") == "result", ET.tostring(el)
    cmd = el.find(q(NS_CMD, "command"))
    assert cmd.get("status") == "executing"
    return cmd, execute(c, node, form, sessionid=cmd.get("sessionid"))


def fields(cmd):
    x = cmd.find(q(NS_DATA, "x"))
    return {f.get("var"): f for f in x.findall(q(NS_DATA, "field"))}


def items(c):
    el = c.iq("get", "<query xmlns='%s' node='%s'/>"
              % (NS_DISCO_ITEMS, NS_CMD), to="localhost")
    return {i.get("node"): i.get("name") for i in
            el.find(q(NS_DISCO_ITEMS, "query")).findall(
                q(NS_DISCO_ITEMS, "item"))}


def test_admin_sees_every_admin_command(server_factory, passwords):
    srv = admin_server(server_factory)
    alice = client(srv, "alice", passwords["alice"])
    nodes = items(alice)
    for n in ("add-user", "delete-user", "disable-user", "reenable-user",
              "change-user-password", "announce"):
        assert ADMIN + "#" + n in nodes, nodes
    assert "urn:ember:command:users" in nodes
    assert "urn:ember:command:status" in nodes
    # Each command a XEP-0133 node stands for is not listed twice.
    assert "urn:ember:command:adduser" not in nodes
    el = alice.iq("get", "<query xmlns='%s' node='%s#add-user'/>"
                  % (NS_DISCO_INFO, ADMIN), to="localhost")
    ident = el.find(q(NS_DISCO_INFO, "query")).find(
        q(NS_DISCO_INFO, "identity"))
    assert ident.get("category") == "automation"
    alice.close()


def test_xep0133_user_lifecycle(server_factory, passwords):
    srv = admin_server(server_factory)
    alice = client(srv, "alice", passwords["alice"])
    cmd, el = run(alice, ADMIN + "#add-user", {
        "FORM_TYPE": ADMIN, "accountjid": "dave@localhost",
        "password": "dave-pass-1", "password-verify": "dave-pass-1"})
    assert set(fields(cmd)) >= {"FORM_TYPE", "accountjid", "password",
                                "password-verify"}
    assert el.find(q(NS_CMD, "command")).get("status") == "completed"
    dave = client(srv, "dave", "dave-pass-1")
    dave.close()

    # The same account again: the registry's error, as a stanza error.
    _, el = run(alice, ADMIN + "#add-user", {
        "accountjid": "dave@localhost", "password": "x1234567",
        "password-verify": "x1234567"})
    assert stanza_error(el)[1] == "conflict"
    # Passwords that differ are refused before anything runs.
    _, el = run(alice, ADMIN + "#add-user", {
        "accountjid": "erin@localhost", "password": "aaaaaaaa",
        "password-verify": "bbbbbbbb"})
    assert stanza_error(el) == ("modify", "bad-request")
    assert el.find(q("jabber:client", "error")).find(
        q(NS_CMD, "bad-payload")) is not None

    _, el = run(alice, ADMIN + "#change-user-password", {
        "accountjid": "dave@localhost", "password": "dave-pass-2"})
    assert el.find(q(NS_CMD, "command")).get("status") == "completed"
    client(srv, "dave", "dave-pass-2").close()

    _, el = run(alice, ADMIN + "#disable-user",
                {"accountjids": "dave@localhost"})
    assert el.find(q(NS_CMD, "command")).get("status") == "completed"
    locked = RawClient(srv.c2s_port)
    locked.open()
    locked.starttls()
    assert locked.auth_scram("dave", "dave-pass-2") == "account-disabled"
    locked.close()
    _, el = run(alice, ADMIN + "#reenable-user",
                {"accountjids": "dave@localhost"})
    client(srv, "dave", "dave-pass-2").close()

    _, el = run(alice, ADMIN + "#delete-user",
                {"accountjids": "dave@localhost"})
    assert el.find(q(NS_CMD, "command")).get("status") == "completed"
    assert "dave@localhost" not in srv.ctl_ok("users", "localhost").stdout
    alice.close()


def test_generic_command_and_result_form(server_factory, passwords):
    srv = admin_server(server_factory)
    alice = client(srv, "alice", passwords["alice"])
    cmd, el = run(alice, "urn:ember:command:users", {})
    assert "host" in fields(cmd)
    c = el.find(q(NS_CMD, "command"))
    assert c.get("status") == "completed", ET.tostring(el)
    values = [v.text for v in c.iter(q(NS_DATA, "value"))]
    assert "alice" in " ".join(values) and "bob" in " ".join(values)
    # An object result: one field per member.
    _, el = run(alice, "urn:ember:command:status", {})
    got = fields(el.find(q(NS_CMD, "command")))
    assert "version" in got and "sessions" in got
    # Unknown node, malformed action, cancel.
    el = execute(alice, "urn:ember:command:no-such-command")
    assert stanza_error(el)[1] == "item-not-found"
    el = execute(alice, "urn:ember:command:users", action="prev")
    assert stanza_error(el)[1] == "bad-request"
    el = execute(alice, "urn:ember:command:users", sessionid="adhoc-1",
                 action="cancel")
    assert el.find(q(NS_CMD, "command")).get("status") == "canceled"
    alice.close()


def test_non_admin_sees_and_runs_nothing(server_factory, passwords):
    srv = admin_server(server_factory)
    bob = client(srv, "bob", passwords["bob"])
    assert items(bob) == {}
    assert stanza_error(execute(bob, ADMIN + "#add-user")) == \
        ("auth", "forbidden")
    el = execute(bob, ADMIN + "#delete-user",
                 {"accountjids": "alice@localhost"}, sessionid="adhoc-1-1")
    assert stanza_error(el) == ("auth", "forbidden")
    assert "alice" in srv.ctl_ok("users", "localhost").stdout
    bob.close()
