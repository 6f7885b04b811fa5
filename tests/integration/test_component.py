"""XEP-0114 external components (issue 17): a component written here with
a socket and the XEP's handshake, against the component listener.

XEP-0114 section 3 statements covered: the server answers the header with
one of its own in jabber:component:accept with an id (and an error for a
name it will not serve, e.g. host-unknown or conflict); the handshake is
lowercase hex SHA-1(stream id + secret); wrong credentials close the stream
with not-authorized; right ones get an empty <handshake/>; a component's
stanzas carry 'from' and 'to', and the domain of 'from' MUST be the
component's."""

import asyncio
import hashlib
import json
import re
import socket
import time

import pytest

import slix
from rawxmpp import (NS_CLIENT, NS_DISCO_ITEMS, NS_STANZAS, NS_STREAM,
                     RawClient, StreamClosed, q, stanza_error)

NS_ACCEPT = "jabber:component:accept"
COMPONENT_OFFSET = 9        # the port the harness leaves free
IRC = "irc.localhost"
GW = "gw.localhost"
SECRETS = {IRC: "irc-secret", GW: "gw-secret"}


def setup_components(srv, **limits):
    srv.add_listener("component", srv.base + COMPONENT_OFFSET)
    import xml.etree.ElementTree as ET
    ET.SubElement(srv.cfg, "component", domain=IRC, secret=SECRETS[IRC],
                  name="IRC gateway")
    ET.SubElement(srv.cfg, "component", domain=GW, secret=SECRETS[GW])
    # Many short connections from 127.0.0.1 in a row.
    srv.set_limits(connections_per_second_per_ip=0, **limits)


@pytest.fixture
def csrv(server_factory):
    srv = server_factory(start=False)
    setup_components(srv)
    srv.start()
    yield srv
    # The harness stops a dead emberd without a word: say it died.
    assert srv.running(), "emberd exited with %s during the test" % (
        srv.proc.returncode)


class RawComponent(RawClient):
    """A component: the header of XEP-0114, then the handshake."""

    def __init__(self, srv, **kw):
        super().__init__(srv.base + COMPONENT_OFFSET, **kw)

    def open_stream(self, domain, ns=NS_ACCEPT, extra=""):
        """Send the header; the server's header attributes, or raises
        StreamClosed when it answers with a stream error."""
        self._reset_parser()
        self.send("<stream:stream xmlns='%s' xmlns:stream='%s' to='%s'%s>"
                  % (ns, NS_STREAM, domain, extra))
        deadline = time.monotonic() + self.timeout
        while self.stream_attrs is None:
            if not self._pump(deadline):
                raise TimeoutError("no stream header")
        # The header and the error may arrive in one read.
        self._pump(time.monotonic() + 0.2)
        if self.stream_error:
            raise StreamClosed(self.stream_error, self.stream_error_text)
        return self.stream_attrs

    def handshake(self, secret, stream_id=None):
        sid = stream_id or self.stream_attrs["id"]
        digest = hashlib.sha1((sid + secret).encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % digest)
        return self.recv(q(NS_ACCEPT, "handshake"))

    def connect_as(self, domain, secret=None):
        self.open_stream(domain)
        return self.handshake(secret or SECRETS[domain])

    def stanza(self, match=None, timeout=None):
        return self.recv(match, timeout=timeout)


def connected(srv, domain=IRC):
    c = RawComponent(srv)
    el = c.connect_as(domain)
    assert len(el) == 0 and not (el.text or "").strip()
    srv.wait_log(r"component\] 127\.0\.0\.1: %s connected" % re.escape(domain))
    return c


def client(srv, passwords, user="alice", resource="r1"):
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, passwords[user], resource=resource)
    return c


# ---- the handshake ----

def test_header_and_handshake(csrv):
    c = RawComponent(csrv)
    attrs = c.open_stream(IRC)
    assert c.root.tag == q(NS_STREAM, "stream")
    # The server's header: in jabber:component:accept, from the component
    # name, with a fresh id.
    assert attrs.get("from") == IRC
    assert re.fullmatch(r"[0-9a-f]{16}", attrs["id"])
    el = c.handshake(SECRETS[IRC])
    assert el.tag == q(NS_ACCEPT, "handshake") and len(el) == 0
    other = RawComponent(csrv)
    assert other.open_stream(GW)["id"] != attrs["id"]
    c.close()
    other.close()


def test_uppercase_hex_is_accepted(csrv):
    c = RawComponent(csrv)
    c.open_stream(IRC)
    digest = hashlib.sha1((c.stream_attrs["id"] + SECRETS[IRC])
                          .encode()).hexdigest().upper()
    c.send("<handshake>%s</handshake>" % digest)
    assert c.recv(q(NS_ACCEPT, "handshake")) is not None


@pytest.mark.parametrize("secret", ["wrong", SECRETS[GW], ""])
def test_wrong_secret_is_not_authorized(csrv, secret):
    c = RawComponent(csrv)
    c.open_stream(IRC)
    with pytest.raises(StreamClosed) as e:
        c.handshake(secret)
    assert e.value.error == "not-authorized"
    assert c.wait_closed()
    # Counted and logged as a failed password (fail2ban's line).
    csrv.wait_log(r"authentication failed from 127\.0\.0\.1 for "
                  r"irc\.localhost \(component\)")


def test_handshake_of_another_stream_id_fails(csrv):
    c = RawComponent(csrv)
    c.open_stream(IRC)
    with pytest.raises(StreamClosed) as e:
        c.handshake(SECRETS[IRC], stream_id="0123456789abcdef")
    assert e.value.error == "not-authorized"


@pytest.mark.parametrize("domain", ["unknown.localhost", "localhost",
                                    "conference.localhost", "a@b@c"])
def test_unknown_domain_is_host_unknown(csrv, domain):
    c = RawComponent(csrv)
    with pytest.raises(StreamClosed) as e:
        c.open_stream(domain)
    assert e.value.error == "host-unknown"
    # RFC 6120 4.7.1 as XEP-0114 asks: a header, the error, the end.
    assert c.root is not None and c.root.tag == q(NS_STREAM, "stream")
    assert c.wait_closed() and c.stream_closed


def test_client_namespace_is_invalid_namespace(csrv):
    c = RawComponent(csrv)
    with pytest.raises(StreamClosed) as e:
        c.open_stream(IRC, ns=NS_CLIENT)
    assert e.value.error == "invalid-namespace"


def test_header_without_to_is_host_unknown(csrv):
    c = RawComponent(csrv)
    c._reset_parser()
    c.send("<stream:stream xmlns='%s' xmlns:stream='%s'>"
           % (NS_ACCEPT, NS_STREAM))
    assert c.expect_stream_error() == "host-unknown"


def test_stanza_before_handshake_is_not_authorized(csrv, passwords):
    alice = client(csrv, passwords)
    c = RawComponent(csrv)
    c.open_stream(IRC)
    c.send("<message from='x@irc.localhost' to='alice@localhost/r1'>"
           "<body>early</body></message>")
    assert c.expect_stream_error() == "not-authorized"
    assert c.wait_closed()
    # Nothing of it was routed.
    with pytest.raises(TimeoutError):
        alice.recv(q(NS_CLIENT, "message"), timeout=0.5)


def test_second_connection_is_refused_with_conflict(csrv, passwords):
    first = connected(csrv)
    second = RawComponent(csrv)
    with pytest.raises(StreamClosed) as e:
        second.open_stream(IRC)
    assert e.value.error == "conflict"
    # The first one keeps its domain.
    alice = client(csrv, passwords)
    alice.message("bob@" + IRC, "still you?")
    m = first.stanza(q(NS_ACCEPT, "message"))
    assert m.find(q(NS_ACCEPT, "body")).text == "still you?"


def test_domain_is_free_again_after_disconnect(csrv):
    first = connected(csrv)
    first.send("</stream:stream>")
    first.wait_closed()
    csrv.wait_log(r"irc\.localhost disconnected")
    connected(csrv).close()


# ---- what a component may send ----

@pytest.mark.parametrize("from_,cond", [
    ("alice@localhost/r1", "invalid-from"),
    ("localhost", "invalid-from"),
    ("x@" + GW, "invalid-from"),
    ("x@sub." + IRC, "invalid-from"),
    ("x@@" + IRC, "invalid-from"),
    (None, "improper-addressing"),
])
def test_from_outside_its_domain_is_refused(csrv, passwords, from_, cond):
    alice = client(csrv, passwords)
    c = connected(csrv)
    attr = " from='%s'" % from_ if from_ is not None else ""
    c.send("<message%s to='alice@localhost/r1'><body>spoof</body></message>"
           % attr)
    assert c.expect_stream_error() == cond
    with pytest.raises(TimeoutError):
        alice.recv(q(NS_CLIENT, "message"), timeout=0.5)
    csrv.wait_log(r"irc\.localhost disconnected")


def test_stanza_without_to_is_improper_addressing(csrv):
    c = connected(csrv)
    c.send("<message from='x@irc.localhost'><body>?</body></message>")
    assert c.expect_stream_error() == "improper-addressing"


def test_non_stanza_after_handshake_is_unsupported(csrv):
    c = connected(csrv)
    c.send("<foo from='irc.localhost' to='localhost'/>")
    assert c.expect_stream_error() == "unsupported-stanza-type"


# ---- routing ----

def test_messages_both_ways_with_slixmpp(csrv, passwords):
    comp = connected(csrv)

    async def go():
        alice = await slix.login(csrv, "alice", passwords["alice"])
        try:
            alice.send_message(mto="nick@" + IRC, mbody="hello irc",
                               mtype="chat")
            m = await asyncio.to_thread(comp.stanza, q(NS_ACCEPT, "message"))
            # Routed as a stanza of the component's stream: its default
            # namespace, the client's full JID in 'from'.
            assert m.get("to") == "nick@" + IRC
            assert m.get("from") == str(alice.boundjid)
            assert m.find(q(NS_ACCEPT, "body")).text == "hello irc"
            comp.send("<message from='nick@%s/irc' to='%s' type='chat'>"
                      "<body>hello xmpp</body></message>"
                      % (IRC, alice.boundjid))
            got = await alice.recv_message()
            assert str(got["from"]) == "nick@%s/irc" % IRC
            assert got["body"] == "hello xmpp"
            assert got["type"] == "chat"
        finally:
            await alice.close()

    slix.run(go())


@pytest.mark.parametrize("xmlns", ["", " xmlns='jabber:client'"])
def test_component_stanza_reaches_a_client_in_jabber_client(csrv, passwords,
                                                            xmlns):
    """In the stream's namespace, or in jabber:client as some components
    write them: the same stanza for the client, the same 'from' check."""
    alice = client(csrv, passwords)
    comp = connected(csrv)
    comp.send("<message%s from='%s' to='alice@localhost/r1'><body>x</body>"
              "<x xmlns='urn:example:extra'><y/></x></message>"
              % (xmlns, IRC))
    m = alice.recv(q(NS_CLIENT, "message"))
    assert m.find(q(NS_CLIENT, "body")).text == "x"
    assert m.find(q("urn:example:extra", "x")).find(
        q("urn:example:extra", "y")) is not None
    comp.send("<message%s from='alice@localhost' to='alice@localhost/r1'>"
              "<body>spoof</body></message>" % xmlns)
    assert comp.expect_stream_error() == "invalid-from"


def test_message_to_bare_account_goes_to_its_resources(csrv, passwords):
    alice = client(csrv, passwords)
    alice.presence()
    comp = connected(csrv)
    comp.send("<message from='room@%s/nick' to='alice@localhost' "
              "type='chat'><body>to bare</body></message>" % IRC)
    m = alice.recv(q(NS_CLIENT, "message"))
    assert m.get("from") == "room@%s/nick" % IRC


def test_iq_client_to_component_and_back(csrv, passwords):
    comp = connected(csrv)

    async def go():
        alice = await slix.login(csrv, "alice", passwords["alice"])
        try:
            fut = alice.plugin["xep_0092"].get_version(IRC, timeout=5)
            iq = await asyncio.to_thread(comp.stanza, q(NS_ACCEPT, "iq"))
            assert iq.get("type") == "get" and iq.get("to") == IRC
            assert iq.find(q("jabber:iq:version", "query")) is not None
            comp.send("<iq type='result' id='%s' from='%s' to='%s'>"
                      "<query xmlns='jabber:iq:version'><name>fake-ircd"
                      "</name><version>1.0</version></query></iq>"
                      % (iq.get("id"), IRC, iq.get("from")))
            r = await fut
            assert r["software_version"]["name"] == "fake-ircd"
            assert r["from"] == IRC
        finally:
            await alice.close()

    slix.run(go())


def test_component_iq_to_the_server_and_to_a_client(csrv, passwords):
    comp = connected(csrv)
    # The server itself answers (ping, disco).
    comp.send("<iq type='get' id='p1' from='%s' to='localhost'>"
              "<ping xmlns='urn:xmpp:ping'/></iq>" % IRC)
    r = comp.stanza(lambda e: e.get("id") == "p1")
    assert r.tag == q(NS_ACCEPT, "iq") and r.get("type") == "result"
    assert r.get("from") == "localhost" and r.get("to") == IRC
    # An unknown payload: service-unavailable, back to the component.
    comp.send("<iq type='get' id='p2' from='u@%s/r' to='localhost'>"
              "<nothing xmlns='urn:example:none'/></iq>" % IRC)
    r = comp.stanza(lambda e: e.get("id") == "p2")
    assert r.get("type") == "error" and r.get("to") == "u@%s/r" % IRC
    err = r.find(q(NS_ACCEPT, "error"))
    assert err.find(q(NS_STANZAS, "service-unavailable")) is not None
    # A client's full JID: delivered, and its answer comes back.
    alice = client(csrv, passwords)
    comp.send("<iq type='get' id='p3' from='%s' to='alice@localhost/r1'>"
              "<ping xmlns='urn:xmpp:ping'/></iq>" % IRC)
    iq = alice.recv(q(NS_CLIENT, "iq"))
    assert iq.get("from") == IRC and iq.get("id") == "p3"
    alice.send("<iq type='result' id='p3' to='%s'/>" % IRC)
    r = comp.stanza(lambda e: e.get("id") == "p3")
    assert r.get("type") == "result" and r.get("from") == "alice@localhost/r1"


def test_component_to_component(csrv):
    irc = connected(csrv, IRC)
    gw = connected(csrv, GW)
    gw.send("<message from='a@%s' to='b@%s'><body>across</body></message>"
            % (GW, IRC))
    m = irc.stanza(q(NS_ACCEPT, "message"))
    assert m.get("from") == "a@" + GW
    assert m.find(q(NS_ACCEPT, "body")).text == "across"


def test_unreachable_domain_bounces_to_the_component(csrv):
    comp = connected(csrv)
    comp.send("<message from='u@%s' to='x@elsewhere.invalid' id='m1'>"
              "<body>?</body></message>" % IRC)
    r = comp.stanza(lambda e: e.get("id") == "m1")
    assert r.get("type") == "error"
    assert r.find(q(NS_ACCEPT, "error")).find(
        q(NS_STANZAS, "remote-server-not-found")) is not None


def test_disconnected_component_bounces_service_unavailable(csrv, passwords):
    alice = client(csrv, passwords)
    for kind, body in (
            ("message", "<message to='nick@%s' id='b1' type='chat'>"
                        "<body>anyone?</body></message>" % IRC),
            ("iq", "<iq to='%s' id='b1' type='get'>"
                   "<query xmlns='jabber:iq:version'/></iq>" % IRC),
            ("presence", "<presence to='room@%s/me' id='b1'/>" % IRC)):
        alice.send(body)
        r = alice.recv(lambda e: e.get("id") == "b1")
        assert r.tag == q(NS_CLIENT, kind)
        assert stanza_error(r)[1] == "service-unavailable", kind
        assert r.get("from") in (IRC, "nick@" + IRC, "room@%s/me" % IRC)
    # An unavailable presence or a headline asks for nothing: dropped.
    alice.send("<presence to='room@%s/me' type='unavailable' id='b2'/>"
               "<message to='x@%s' type='headline' id='b2'><body>h</body>"
               "</message>" % (IRC, IRC))
    with pytest.raises(TimeoutError):
        alice.recv(lambda e: e.get("id") == "b2", timeout=0.5)


def test_disco_items_list_connected_components(csrv, passwords):
    alice = client(csrv, passwords)

    def items():
        r = alice.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS,
                     to="localhost")
        return {i.get("jid"): i.get("name")
                for i in r.find(q(NS_DISCO_ITEMS, "query"))}

    assert IRC not in items()
    comp = connected(csrv)
    found = items()
    assert found.get(IRC) == "IRC gateway"
    assert GW not in found
    comp.send("</stream:stream>")
    comp.wait_closed()
    csrv.wait_log(r"irc\.localhost disconnected")
    assert IRC not in items()


def test_disco_items_of_the_parent_host_only(server_factory, passwords):
    """A component is listed on the host it is a subdomain of, on every
    host when it is a subdomain of none."""
    import xml.etree.ElementTree as ET
    srv = server_factory(start=False)
    setup_components(srv)
    srv.add_host("other.test")
    ET.SubElement(srv.cfg, "component", domain="irc.other.test", secret="o")
    ET.SubElement(srv.cfg, "component", domain="bridge.example", secret="b")
    srv.save()
    srv.adduser("dave@other.test", "dave-pw")
    srv.start()
    comps = []
    for domain, secret in (("irc.other.test", "o"), ("bridge.example", "b")):
        comps.append(RawComponent(srv))
        comps[-1].connect_as(domain, secret)

    def items(user, password, host):
        c = RawClient(srv.c2s_port, domain=host)
        c.login(user, password)
        r = c.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=host)
        c.close()
        return {i.get("jid") for i in r.find(q(NS_DISCO_ITEMS, "query"))}

    local = items("alice", passwords["alice"], "localhost")
    other = items("dave", "dave-pw", "other.test")
    assert "bridge.example" in local and "bridge.example" in other
    assert "irc.other.test" in other and "irc.other.test" not in local


def test_status_lists_components(csrv):
    comp = connected(csrv)
    comp.send("<message from='%s' to='nobody@localhost'/>" % IRC)
    st = json.loads(csrv.ctl_ok("--json", "status").stdout)
    by = {c["domain"]: c for c in st["components"]}
    assert by[IRC]["connected"] is True
    assert by[IRC]["address"] == "127.0.0.1"
    assert by[IRC]["name"] == "IRC gateway"
    assert by[GW]["connected"] is False
    assert "secret" not in json.dumps(st) and SECRETS[IRC] not in json.dumps(st)
    assert any(l["type"] == "component" and l["tls"] == "none"
               for l in st["listeners"])


def test_components_command_and_rest_route(server_factory):
    from test_console_api import ADMIN, Admin, console_module
    import xml.etree.ElementTree as ET
    srv = server_factory(start=False)
    setup_components(srv)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv)
    srv.start()
    comp = connected(srv)
    out = srv.ctl_ok("components").stdout
    assert re.search(r"^irc\.localhost\s+yes\s+127\.0\.0\.1\s+0\s+0$", out,
                     re.M), out
    assert re.search(r"^gw\.localhost\s+no\s+-", out, re.M), out
    st, _, doc = Admin(srv)("GET", "/api/v1/components")
    assert st == 200, doc
    by = {c["domain"]: c for c in doc}
    assert by[IRC]["connected"] is True and by[IRC]["name"] == "IRC gateway"
    assert by[GW] == {"domain": GW, "connected": False}
    comp.close()


def test_console_dashboard_shows_components(server_factory, tmp_path):
    """The dashboard in Chromium lists the components and follows one
    that connects and leaves (tests/browser/components.test.mjs)."""
    import os
    import subprocess
    import xml.etree.ElementTree as ET
    from harness import REPO
    from test_console_api import ADMIN
    from test_console_browser import BROWSER_DIR, _console_module, _missing
    why = _missing()
    if why:
        pytest.skip(why)
    srv = server_factory(start=False)
    setup_components(srv)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    _console_module(srv).set("web-root", str(REPO / "web"))
    srv.start()
    env = dict(os.environ,
               EMBER_CONSOLE_URL="http://127.0.0.1:%d/" % srv.admin_port,
               EMBER_ADMIN_JID=ADMIN, EMBER_ADMIN_PASSWORD="alice-secret",
               EMBER_COMPONENT_PORT=str(srv.base + COMPONENT_OFFSET),
               EMBER_COMPONENT=IRC, EMBER_COMPONENT_SECRET=SECRETS[IRC],
               EMBER_OTHER_COMPONENT=GW, EMBER_SCREENSHOT_DIR=str(tmp_path))
    r = subprocess.run(["node", str(BROWSER_DIR / "components.test.mjs")],
                       cwd=str(BROWSER_DIR), env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "COMPONENTS PASSED" in r.stdout, (
        r.stdout[-4000:], r.stderr[-4000:])
    assert (tmp_path / "dashboard-components.png").stat().st_size > 1000


# ---- what an unauthenticated peer can cost ----

def test_oversized_stanza_before_handshake(server_factory):
    srv = server_factory(start=False)
    setup_components(srv, max_stanza_size=4096)
    srv.start()
    c = RawComponent(srv)
    c.open_stream(IRC)
    c.send("<handshake>" + "a" * 8192)
    assert c.expect_stream_error() == "policy-violation"
    assert c.wait_closed()


def test_silent_peer_is_closed_at_the_auth_timeout(server_factory):
    srv = server_factory(start=False)
    setup_components(srv, auth_timeout="1s")
    srv.start()
    c = RawComponent(srv, timeout=5)
    c.open_stream(IRC)
    assert c.expect_stream_error() == "connection-timeout"
    # Once authenticated, a component may stay silent.
    comp = connected(srv)
    time.sleep(1.5)
    comp.send("<iq type='get' id='alive' from='%s' to='localhost'>"
              "<ping xmlns='urn:xmpp:ping'/></iq>" % IRC)
    assert comp.stanza(lambda e: e.get("id") == "alive").get("type") == \
        "result"


def test_handshake_guessing_is_throttled(server_factory):
    srv = server_factory(start=False)
    setup_components(srv, login_failures_per_ip=2,
                     login_failures_per_account=2)
    srv.start()
    for i in range(5):
        c = RawComponent(srv)
        c.open_stream(IRC)
        with pytest.raises(StreamClosed) as e:
            c.handshake("guess-%d" % i)
        c.close()
        if e.value.error == "policy-violation":
            break
        assert e.value.error == "not-authorized"
    # Past the free failures even the right secret waits, unchecked.
    c = RawComponent(srv)
    c.open_stream(IRC)
    with pytest.raises(StreamClosed) as e:
        c.handshake(SECRETS[IRC])
    assert e.value.error == "policy-violation"
    assert re.search(r"try again in \d+ seconds", e.value.text)


def test_many_unauthenticated_connections_are_bounded(server_factory):
    """Component connections count with client ones per address."""
    srv = server_factory(start=False)
    setup_components(srv, max_connections_per_ip=5)
    srv.start()
    held, refused = [], None
    for _ in range(8):
        c = RawComponent(srv)
        try:
            c.open_stream(IRC)
            held.append(c)
        except StreamClosed as e:
            refused = e
            break
    assert refused is not None and refused.error == "policy-violation"
    assert "too many connections" in refused.text
    assert len(held) <= 5
    for c in held:
        c.close()


# ---- configuration ----

def _check(srv, edit):
    import xml.etree.ElementTree as ET
    edit(ET, srv.cfg)
    srv.save()
    return srv.ctl("check")


@pytest.mark.parametrize("edit,message", [
    (lambda ET, cfg: ET.SubElement(cfg, "component", domain="localhost",
                                   secret="x"),
     r"component: 'localhost' is a host of this server"),
    (lambda ET, cfg: [ET.SubElement(cfg, "component", domain="a.localhost",
                                    secret="x"),
                      ET.SubElement(cfg, "component", domain="A.localhost",
                                    secret="y")],
     r"component: 'a\.localhost' already defined at line \d+"),
    (lambda ET, cfg: ET.SubElement(cfg, "component", domain="a.localhost",
                                   secret=""),
     r"component: empty secret"),
    (lambda ET, cfg: ET.SubElement(cfg, "component", domain="a.localhost"),
     r"component: missing attribute 'secret'"),
    (lambda ET, cfg: ET.SubElement(cfg, "listen", type="component",
                                   address="0.0.0.0", port="5275"),
     r"listen: a component listener must be on a loopback address"),
])
def test_config_errors_name_the_line(server_factory, edit, message):
    srv = server_factory(start=False, users=False)
    r = _check(srv, edit)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert re.search(r"ember\.xml:\d+: " + message, out), out


def test_public_component_listener_and_default_port(server_factory):
    srv = server_factory(start=False, users=False)
    r = _check(srv, lambda ET, cfg: [
        ET.SubElement(cfg, "listen", type="component", address="0.0.0.0",
                      port="5275", public="true"),
        ET.SubElement(cfg, "component", domain="a.localhost", secret="s")])
    assert r.returncode == 0, r.stdout + r.stderr


def test_reload_removing_a_component_closes_it(csrv, passwords):
    comp = connected(csrv)
    for el in csrv.cfg.findall("component"):
        if el.get("domain") == IRC:
            csrv.cfg.remove(el)
    csrv.save()
    csrv.ctl_ok("reload")
    assert comp.expect_stream_error() == "host-gone"
    # Its domain is now just an unknown one.
    alice = client(csrv, passwords)
    alice.send("<message to='nick@%s' id='r1'><body>?</body></message>" % IRC)
    r = alice.recv(lambda e: e.get("id") == "r1")
    assert stanza_error(r)[1] == "remote-server-not-found"
