"""Subdomain services (api->service_add, plugin API 1.2) through the test
module tests/modules/svc_echo.c: routing of every stanza kind to the
service, the core's defaults for what it leaves, its disco item, domain
clashes, and the unavailable presence a service gets when a client that
sent it directed presence drops (pre- events on the sender's host)."""

import json
import re
import time

import pytest

from rawxmpp import NS_CLIENT, RawClient, q, stanza_error


@pytest.fixture
def ssrv(server_factory):
    srv = server_factory(start=False)
    srv.add_plugins_dir()
    srv.add_module("svc_echo")
    srv.start()
    return srv


def client(srv, passwords, user="alice", resource=None):
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def test_iq_and_message_reach_the_service(ssrv, passwords):
    svc = "echo." + ssrv.domain
    c = client(ssrv, passwords)
    el = c.iq("get", "<ping xmlns='urn:xmpp:ping'/>", to=svc)
    assert el.get("type") == "result"
    assert el.get("from") == svc
    c.message("room@%s/nick" % svc, "hello")
    m = c.recv(q(NS_CLIENT, "message"))
    assert m.get("from") == "room@%s/nick" % svc
    assert m.find(q(NS_CLIENT, "body")).text == "hello"
    c.close()


def test_unhandled_iq_gets_service_unavailable(ssrv, passwords):
    svc = "echo." + ssrv.domain
    c = client(ssrv, passwords)
    el = c.iq("get", "<query xmlns='jabber:iq:version'/>",
              to="node@" + svc)
    assert el.get("type") == "error"
    assert el.get("from") == "node@" + svc
    assert stanza_error(el) == ("cancel", "service-unavailable")
    c.close()


def test_host_lists_the_service(ssrv, passwords):
    c = client(ssrv, passwords)
    el = c.iq("get", "<query xmlns='http://jabber.org/protocol/disco#items'/>",
              to=ssrv.domain)
    items = [i.get("jid") for i in el.iter(
        "{http://jabber.org/protocol/disco#items}item")]
    assert "echo." + ssrv.domain in items
    c.close()


def test_other_domains_still_unreachable(ssrv, passwords):
    c = client(ssrv, passwords)
    el = c.iq("get", "<ping xmlns='urn:xmpp:ping'/>",
              to="echo.elsewhere.example")
    assert stanza_error(el)[1] == "remote-server-not-found"
    c.close()


def present(srv):
    return json.loads(srv.ctl_ok("--json", "svc-present").stdout)


def wait_for(pred, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_dropped_session_sends_unavailable_to_service(ssrv, passwords):
    svc = "echo." + ssrv.domain
    c = client(ssrv, passwords, resource="r1")
    c.presence()
    c.send("<presence to='room@%s/alice'/>" % svc)
    assert wait_for(lambda: c.jid in present(ssrv))
    # The socket dies without an unavailable presence.
    c.sock.close() if c.tls is None else c.tls.close()
    assert wait_for(lambda: c.jid not in present(ssrv)), present(ssrv)


def test_service_cannot_take_a_host(server_factory):
    srv = server_factory(start=False, users=False)
    srv.add_plugins_dir()
    srv.add_module("svc_echo", domain=srv.domain)
    srv.start()
    out = srv.ctl_ok("modules").stdout
    line = [l for l in out.splitlines() if re.search(r"\bsvc_echo\b", l)]
    assert line and "fail" in line[0].lower(), out
