"""mod_announce: welcome message, the announce command, XEP-0133 announce."""

import xml.etree.ElementTree as ET

import pytest

from harness import MODULES
from rawxmpp import (NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, RawClient, q,
                     stanza_error)

NS_CMD = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
NODE = "http://jabber.org/protocol/admin#announce"


def client(srv, user, password, presence=True, resource=None):
    c = RawClient(srv.c2s_port)
    c.login(user, password, resource=resource)
    if presence:
        c.presence()
        c.sync()
    return c


def body_of(msg):
    b = msg.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def headline(c, timeout=None):
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("type") == "headline", timeout=timeout)


def no_headline(c, wait=0.4):
    with pytest.raises(TimeoutError):
        headline(c, timeout=wait)


@pytest.mark.skipif(not (MODULES / "mod_offline.so").exists(),
                    reason="the welcome message waits in mod_offline")
def test_welcome_message(server_factory):
    srv = server_factory(start=False)
    srv.add_module("announce", welcome="Welcome to Ember!",
                   welcome_subject="Hello")
    srv.start()
    srv.ctl_ok("adduser", "dave@localhost", "dave-secret")
    srv.wait_log(r"welcome message sent to dave@localhost")
    dave = client(srv, "dave", "dave-secret")
    msg = dave.recv_message()
    assert msg.get("from") == "localhost"
    assert body_of(msg) == "Welcome to Ember!"
    assert msg.find(q(NS_CLIENT, "subject")).text == "Hello"
    dave.close()


def test_no_welcome_by_default(server, passwords):
    server.ctl_ok("adduser", "erin@localhost", "erin-secret")
    erin = client(server, "erin", "erin-secret")
    with pytest.raises(TimeoutError):
        erin.recv_message(timeout=0.5)
    erin.close()
    assert "welcome message sent" not in server.log()


def test_announce_command(server, passwords):
    alice = client(server, "alice", passwords["alice"], resource="r1")
    alice2 = client(server, "alice", passwords["alice"], resource="r2")
    bob = client(server, "bob", passwords["bob"])
    carol = client(server, "carol", passwords["carol"], presence=False)
    r = server.ctl_ok("announce", "Maintenance at six", "--subject=Notice")
    assert "sent" in r.stdout and "3" in r.stdout
    for c in (alice, alice2, bob):
        msg = headline(c)
        assert msg.get("from") == "localhost"
        assert body_of(msg) == "Maintenance at six"
        assert msg.find(q(NS_CLIENT, "subject")).text == "Notice"
    no_headline(carol)                  # no available presence
    r = server.ctl("announce", "")
    assert r.returncode != 0
    for c in (alice, alice2, bob, carol):
        c.close()


def admin_server(server_factory):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid="alice@localhost")
    return srv.start()


def execute(c, extra="", sessionid=None, action=None):
    attrs = "node='%s'" % NODE
    if sessionid:
        attrs += " sessionid='%s'" % sessionid
    if action:
        attrs += " action='%s'" % action
    return c.iq("set", "<command xmlns='%s' %s>%s</command>"
                % (NS_CMD, attrs, extra), to="localhost")


def test_adhoc_announce(server_factory, passwords):
    srv = admin_server(server_factory)
    alice = client(srv, "alice", passwords["alice"])
    bob = client(srv, "bob", passwords["bob"])

    el = alice.iq("get", "<query xmlns='%s' node='%s'/>"
                  % (NS_DISCO_ITEMS, NS_CMD), to="localhost")
    nodes = [i.get("node") for i in
             el.find(q(NS_DISCO_ITEMS, "query")).findall(
                 q(NS_DISCO_ITEMS, "item"))]
    assert NODE in nodes
    el = alice.iq("get", "<query xmlns='%s' node='%s'/>"
                  % (NS_DISCO_INFO, NODE), to="localhost")
    ident = el.find(q(NS_DISCO_INFO, "query")).find(
        q(NS_DISCO_INFO, "identity"))
    assert (ident.get("category"), ident.get("type")) == \
        ("automation", "command-node")

    el = execute(alice)
    assert el.get("type") == "result", el.attrib
    cmd = el.find(q(NS_CMD, "command"))
    assert cmd.get("status") == "executing"
    sid = cmd.get("sessionid")
    form = cmd.find(q(NS_DATA, "x"))
    fields = {f.get("var") for f in form.findall(q(NS_DATA, "field"))}
    assert {"FORM_TYPE", "announcement"} <= fields

    submit = ("<x xmlns='%s' type='submit'>"
              "<field var='FORM_TYPE' type='hidden'>"
              "<value>http://jabber.org/protocol/admin</value></field>"
              "<field var='subject'><value>Heads up</value></field>"
              "<field var='announcement'><value>Line one</value>"
              "<value>Line two</value></field></x>" % NS_DATA)
    el = execute(alice, submit, sessionid=sid)
    assert el.get("type") == "result", el.attrib
    assert el.find(q(NS_CMD, "command")).get("status") == "completed"
    msg = headline(bob)
    assert body_of(msg) == "Line one\nLine two"
    assert msg.find(q(NS_CLIENT, "subject")).text == "Heads up"
    headline(alice)

    # An empty announcement is refused; cancel is acknowledged.
    empty = ("<x xmlns='%s' type='submit'><field var='announcement'/></x>"
             % NS_DATA)
    el = execute(alice, empty, sessionid=sid)
    assert stanza_error(el)[1] == "bad-request"
    el = execute(alice, sessionid=sid, action="cancel")
    assert el.find(q(NS_CMD, "command")).get("status") == "canceled"

    # Not an admin: the command is neither listed nor runnable.
    el = bob.iq("get", "<query xmlns='%s' node='%s'/>"
                % (NS_DISCO_ITEMS, NS_CMD), to="localhost")
    assert el.get("type") == "result"
    assert el.find(q(NS_DISCO_ITEMS, "query")).find(
        q(NS_DISCO_ITEMS, "item")) is None
    assert stanza_error(execute(bob)) == ("auth", "forbidden")
    assert stanza_error(execute(bob, submit, sessionid=sid)) == \
        ("auth", "forbidden")
    no_headline(alice)
    alice.close()
    bob.close()
