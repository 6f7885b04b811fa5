"""Server-to-server between two emberd instances (RFC 6120 sections 4,
5, 6 and 13 as they apply to server streams; XEP-0220 dialback; XEP-0178
SASL EXTERNAL with RFC 6125 / RFC 9525 name checks; XEP-0368 SRV).

Each test federates its own domains through the module's dnsmasq: a
resolver never holds an answer from another test."""

import base64
import itertools
import json
import socket
import ssl
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from peers import self_signed
from rawxmpp import NS_CLIENT, NS_STANZAS, NS_STREAMS, RawClient, q
from s2slib import TLD, dns, federate  # noqa: F401 (fixture)

_n = itertools.count(1)
NS_ROSTER = "jabber:iq:roster"


def new_domain(tag):
    return "%s%d.%s" % (tag, next(_n), TLD)


@pytest.fixture
def pair(server_factory, dns):
    """Two federated instances, started."""
    def make(a_opts=None, b_opts=None, setup=None):
        a = server_factory(start=False, domain=new_domain("a"), plain=True)
        b = server_factory(start=False, domain=new_domain("b"), plain=True)
        federate(a, dns, **(a_opts or {}))
        federate(b, dns, **(b_opts or {}))
        if setup:
            setup(a, b)
        a.start()
        b.start()
        return a, b
    return make


def client(srv, user="alice"):
    c = RawClient(srv.plain_port, domain=srv.domain)
    c.login(user, user + "-secret", resource="r")
    return c


def body(m):
    b = m.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def error_condition(st):
    err = st.find(q(NS_CLIENT, "error"))
    assert err is not None, ET.tostring(st)
    return [c.tag.split("}")[1] for c in err
            if c.tag.startswith("{%s}" % NS_STANZAS)][0]


def s2s_state(srv):
    r = srv.ctl_ok("--json", "s2s")
    return json.loads(r.stdout)


def make_ca(dir_):
    key, crt = dir_ / "ca.key", dir_ / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "30", "-subj", "/CN=Ember Test CA",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    return crt, key


def use_cert(srv, crt, key):
    el = srv.cfg.find("tls")
    if el is None:
        el = ET.SubElement(srv.cfg, "tls")
    el.set("cert", str(crt))
    el.set("key", str(key))


def test_messages_both_ways_over_dialback(pair):
    a, b = pair()
    ca, cb = client(a), client(b, "bob")
    ca.presence()
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "hello b")
    m = cb.recv_message(timeout=15)
    assert body(m) == "hello b"
    assert m.get("from") == "alice@%s/r" % a.domain
    cb.message("alice@%s/r" % a.domain, "hello a")
    m = ca.recv_message(timeout=15)
    assert body(m) == "hello a"
    links = s2s_state(a)["links"]
    out = [l for l in links if l["direction"] == "out"]
    inn = [l for l in links if l["direction"] == "in"]
    assert out and out[0]["remote"] == b.domain and out[0]["state"] == "up"
    assert out[0]["auth"] == "dialback" and out[0]["tls"].startswith("TLS")
    assert inn and inn[0]["remote"] == b.domain and inn[0]["auth"] == "dialback"


def test_stanzas_queued_while_the_link_comes_up_arrive_in_order(pair):
    a, b = pair()
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    for i in range(20):
        ca.message("bob@%s/r" % b.domain, "m%d" % i)
    got = [body(cb.recv_message(timeout=15)) for _ in range(20)]
    assert got == ["m%d" % i for i in range(20)]


def test_subscription_and_presence_across_servers(pair):
    """RFC 6121 3.1: a subscription request to a remote contact, its
    approval, and the contact's presence that follows."""
    a, b = pair()
    ca, cb = client(a), client(b, "bob")
    ca.presence()
    cb.presence()
    bob = "bob@%s" % b.domain
    ca.send("<presence type='subscribe' to='%s'/>" % bob)
    req = cb.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                  e.get("type") == "subscribe", timeout=15)
    assert req.get("from") == "alice@%s" % a.domain
    cb.send("<presence type='subscribed' to='alice@%s'/>" % a.domain)
    pres = ca.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                   e.get("from", "").startswith(bob + "/") and
                   e.get("type") is None, timeout=15)
    assert pres.get("from") == bob + "/r"
    roster = ca.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
    items = roster.findall(".//{%s}item" % NS_ROSTER)
    assert [(i.get("jid"), i.get("subscription")) for i in items] == \
        [(bob, "to")]


def test_iq_to_a_remote_server_and_back(pair):
    a, b = pair()
    ca = client(a)
    r = ca.iq("get", "<query xmlns='jabber:iq:version'/>", to=b.domain,
              timeout=15)
    assert r.get("type") == "result"
    assert r.get("from") == b.domain
    name = r.find(".//{jabber:iq:version}name")
    assert name is not None and name.text


def test_unknown_domain_bounces_remote_server_not_found(pair):
    a, b = pair()
    ca = client(a)
    ca.message("nobody@nowhere.%s" % TLD, "lost")
    err = ca.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("type") == "error", timeout=15)
    assert error_condition(err) == "remote-server-not-found"
    fails = s2s_state(a)["failures"]
    assert any(f["remote"] == "nowhere.%s" % TLD for f in fails)


def test_silent_server_bounces_remote_server_timeout(pair, dns):
    """A server that accepts the connection and never answers."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    domain = new_domain("silent")
    dns.add_host(domain)
    dns.add_srv(domain, silent.getsockname()[1])
    try:
        a, b = pair(a_opts={"connect_timeout": "2"})
        ca = client(a)
        ca.message("x@%s" % domain, "into the void")
        err = ca.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                      e.get("type") == "error", timeout=15)
        assert error_condition(err) == "remote-server-timeout"
    finally:
        silent.close()


def test_blocked_domain_is_refused_both_ways(pair):
    def block(a, b):
        s2s = a.cfg.find("s2s")
        ET.SubElement(s2s, "block", domain=b.domain)
    a, b = pair(setup=block)
    ca, cb = client(a), client(b, "bob")
    ca.presence()
    ca.message("bob@%s" % b.domain, "to a blocked domain")
    err = ca.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("type") == "error", timeout=15)
    assert error_condition(err) == "remote-server-not-found"
    cb.message("alice@%s/r" % a.domain, "from a blocked domain")
    err = cb.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("type") == "error", timeout=20)
    assert error_condition(err) in ("remote-server-not-found",
                                    "remote-server-timeout")
    assert s2s_state(a)["blocked"] == [b.domain]


def test_sasl_external_with_certificates_from_a_trusted_ca(pair, tmp_path):
    """XEP-0178: both sides present certificates naming their domains,
    issued by a CA both trust; dialback is off, so nothing else works."""
    a, b = certified_pair(pair, tmp_path)
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "over EXTERNAL")
    assert body(cb.recv_message(timeout=15)) == "over EXTERNAL"
    out = [l for l in s2s_state(a)["links"] if l["direction"] == "out"]
    assert out[0]["auth"] == "SASL EXTERNAL"
    inn = [l for l in s2s_state(b)["links"] if l["direction"] == "in"]
    assert inn[0]["auth"] == "SASL EXTERNAL"
    assert inn[0]["certificate"] == "valid"


def test_certificate_naming_the_domain_only_in_its_cn_is_refused(pair,
                                                                  tmp_path):
    """RFC 9525 6.1.1: the subject's CN is not an identifier; a
    certificate whose subjectAltNames name another domain proves nothing
    about the one in its CN."""
    ca_crt, ca_key = make_ca(tmp_path)

    def certs(a, b):
        # a's certificate: CN=a's domain, subjectAltName DNS:elsewhere.
        crt, key = self_signed(a.root, "elsewhere." + TLD, (ca_crt, ca_key))
        cn_crt = a.root / "cn-only.crt"
        subprocess.run(["openssl", "req", "-new", "-key", str(key), "-out",
                        str(a.root / "cn.csr"), "-subj", "/CN=" + a.domain],
                       check=True, capture_output=True)
        (a.root / "cn.ext").write_text(
            "subjectAltName=DNS:elsewhere.%s\n" % TLD)
        subprocess.run(["openssl", "x509", "-req", "-days", "30", "-in",
                        str(a.root / "cn.csr"), "-CA", str(ca_crt),
                        "-CAkey", str(ca_key), "-CAcreateserial", "-out",
                        str(cn_crt), "-extfile", str(a.root / "cn.ext")],
                       check=True, capture_output=True)
        use_cert(a, cn_crt, key)
        crt_b, key_b = self_signed(b.root, b.domain, (ca_crt, ca_key))
        use_cert(b, crt_b, key_b)
        for srv in (a, b):
            srv.cfg.find("s2s").set("ca-file", str(ca_crt))
    a, b = pair(a_opts={"dialback": "false"}, b_opts={"dialback": "false"},
                setup=certs)
    ca = client(a)
    ca.message("bob@%s" % b.domain, "should not pass")
    err = ca.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("type") == "error", timeout=20)
    assert error_condition(err) == "remote-server-not-found"
    deadline = time.monotonic() + 10
    while True:
        fails = s2s_state(b)["failures"]
        if any("does not name %s" % a.domain in f["reason"] for f in fails):
            break
        assert time.monotonic() < deadline, fails
        time.sleep(0.2)


class RawPeer:
    """A server of our own making, to say what a real one would not."""

    def __init__(self, port, to, frm, cert=None, key=None):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.to, self.frm = to, frm
        self.cert, self.key = cert, key
        self.buf = b""

    def send(self, s):
        self.sock.sendall(s.encode())

    def header(self):
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server'"
                  " xmlns:stream='%s' xmlns:db='jabber:server:dialback' "
                  "from='%s' to='%s' version='1.0'>"
                  % (NS_STREAMS, self.frm, self.to))

    def read_until(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.buf:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                d = b""
            if not d and time.monotonic() >= deadline:
                raise AssertionError("no %r in %r" % (needle, self.buf))
            if not d and not isinstance(self.sock, ssl.SSLSocket):
                pass
            self.buf += d
            if d == b"" and time.monotonic() < deadline:
                time.sleep(0.02)
        text = self.buf.decode(errors="replace")
        self.buf = b""
        return text

    def starttls(self):
        self.header()
        self.read_until("</stream:features>")
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.read_until("<proceed")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.cert:
            ctx.load_cert_chain(str(self.cert), str(self.key))
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.to)
        self.header()
        return self.read_until("</stream:features>")


def test_stanza_before_authentication_is_not_authorized(pair):
    a, b = pair()
    port = a.base + 9
    p = RawPeer(port, a.domain, "mallory." + TLD)
    p.starttls()
    p.send("<message from='m@mallory.%s' to='alice@%s'><body>x</body>"
           "</message>" % (TLD, a.domain))
    text = p.read_until("</stream:stream>")
    assert "<not-authorized" in text


def test_stanza_from_a_domain_the_link_did_not_prove_is_refused(pair,
                                                                 tmp_path):
    """RFC 6120 4.9.3.9 / 13.7.1.4: after proving x, a peer sends from y."""
    ca_crt, ca_key = make_ca(tmp_path)
    honest = "honest." + TLD

    def trust(a, b):
        a.cfg.find("s2s").set("ca-file", str(ca_crt))
    a, b = pair(setup=trust)
    ca = client(a)
    ca.presence()
    crt, key = self_signed(tmp_path, honest, (ca_crt, ca_key))
    p = RawPeer(a.base + 9, a.domain, honest, crt, key)
    feats = p.starttls()
    assert "EXTERNAL" in feats
    p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           "mechanism='EXTERNAL'>%s</auth>"
           % base64.b64encode(honest.encode()).decode())
    assert "<success" in p.read_until("success")
    p.header()
    p.read_until("</stream:features>")
    p.send("<message from='x@%s' to='alice@%s/r' type='chat'><body>honest"
           "</body></message>" % (honest, a.domain))
    assert body(ca.recv_message(timeout=10)) == "honest"
    p.send("<message from='boss@%s' to='alice@%s/r' type='chat'><body>"
           "spoofed</body></message>" % (b.domain, a.domain))
    text = p.read_until("</stream:stream>")
    assert "<invalid-from" in text
    with pytest.raises(Exception):
        ca.recv_message(timeout=2)


def test_s2s_close_command_closes_the_link_and_the_next_stanza_reopens_it(
        pair):
    a, b = pair()
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "one")
    assert body(cb.recv_message(timeout=15)) == "one"
    r = json.loads(a.ctl_ok("--json", "s2s-close", b.domain).stdout)
    assert r["closed"] >= 1
    ca.message("bob@%s/r" % b.domain, "two")
    assert body(cb.recv_message(timeout=15)) == "two"


def test_direct_tls_target_from_xmpps_server_srv(server_factory, dns):
    """XEP-0368: b listens for servers with direct TLS only and publishes
    only an _xmpps-server record; a reaches it."""
    import xml.etree.ElementTree as ET2
    a = server_factory(start=False, domain=new_domain("a"), plain=True)
    b = server_factory(start=False, domain=new_domain("b"), plain=True)
    federate(a, dns)
    port = b.base + 9
    b.add_listener("s2s-tls", port)
    ET2.SubElement(b.cfg, "s2s", resolver=dns.resolver)
    dns.add_host(b.domain)
    dns.add_srv(b.domain, port, tls=True)
    a.start()
    b.start()
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "straight into TLS")
    assert body(cb.recv_message(timeout=15)) == "straight into TLS"
    inn = [l for l in s2s_state(b)["links"] if l["direction"] == "in"]
    assert inn and inn[0]["tls"].startswith("TLS")


def test_console_dashboard_shows_the_links(pair, tmp_path):
    """The dashboard in Chromium lists both links with their
    authentication and TLS, and empties when the admin closes them
    (tests/browser/s2s.test.mjs)."""
    import os
    from harness import REPO
    from test_console_api import ADMIN
    from test_console_browser import BROWSER_DIR, _console_module, _missing
    why = _missing()
    if why:
        pytest.skip(why)

    def console(a, b):
        admin = ADMIN.replace("localhost", a.domain)
        ET.SubElement(a.cfg, "admin", jid=admin)
        _console_module(a).set("web-root", str(REPO / "web"))
    a, b = pair(setup=console)
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "for the dashboard")
    assert body(cb.recv_message(timeout=15)) == "for the dashboard"
    cb.message("alice@%s/r" % a.domain, "and back")
    assert body(ca.recv_message(timeout=15)) == "and back"
    env = dict(os.environ,
               EMBER_CONSOLE_URL="http://127.0.0.1:%d/" % a.admin_port,
               EMBER_ADMIN_JID=ADMIN.replace("localhost", a.domain),
               EMBER_ADMIN_PASSWORD="alice-secret", EMBER_REMOTE=b.domain,
               EMBER_SCREENSHOT_DIR=str(tmp_path))
    r = subprocess.run(["node", str(BROWSER_DIR / "s2s.test.mjs")],
                       cwd=str(BROWSER_DIR), env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "S2S PASSED" in r.stdout, (
        r.stdout[-4000:], r.stderr[-4000:])
    assert (tmp_path / "dashboard-s2s.png").stat().st_size > 1000


# ---- XEP-0288: bidirectional links ----

def links_between(srv, remote):
    return [l for l in s2s_state(srv)["links"] if l["remote"] == remote]


def certified_pair(pair, tmp_path, a_opts=None, b_opts=None):
    """Two instances that prove themselves by certificates from one CA."""
    ca_crt, ca_key = make_ca(tmp_path)

    def certs(a, b):
        for srv in (a, b):
            crt, key = self_signed(srv.root, srv.domain, (ca_crt, ca_key))
            use_cert(srv, crt, key)
            srv.cfg.find("s2s").set("ca-file", str(ca_crt))
    return pair(a_opts=dict(dialback="false", **(a_opts or {})),
                b_opts=dict(dialback="false", **(b_opts or {})),
                setup=certs)


def chat_both_ways(a, b, there, back):
    ca, cb = client(a), client(b, "bob")
    ca.presence()
    cb.presence()
    ca.message("bob@%s/r" % b.domain, there)
    assert body(cb.recv_message(timeout=15)) == there
    cb.message("alice@%s/r" % a.domain, back)
    assert body(ca.recv_message(timeout=15)) == back


def test_bidi_one_link_carries_both_ways(pair, tmp_path):
    """XEP-0288 2: a asks for bidi on its link; b answers over the same
    link and opens none of its own."""
    a, b = certified_pair(pair, tmp_path)
    chat_both_ways(a, b, "ping over one link", "pong on the same link")
    at_a, at_b = links_between(a, b.domain), links_between(b, a.domain)
    assert [(l["direction"], l["bidi"]) for l in at_a] == [("out", True)]
    assert [(l["direction"], l["bidi"]) for l in at_b] == [("in", True)]
    assert at_a[0]["stanzas_in"] >= 1 and at_b[0]["stanzas_out"] >= 1


def test_bidi_refused_by_config_gives_a_link_each_way(pair, tmp_path):
    a, b = certified_pair(pair, tmp_path, b_opts={"bidi": "false"})
    chat_both_ways(a, b, "one way", "the other way")
    assert sorted(l["direction"] for l in links_between(b, a.domain)) == \
        ["in", "out"]
    assert not any(l["bidi"] for l in links_between(a, b.domain))


def raw_certified_peer(srv, domain, ca, tmp_path, bidi=True):
    """A RawPeer that proves `domain` by SASL EXTERNAL, asking for bidi."""
    crt, key = self_signed(tmp_path, domain, ca)
    p = RawPeer(srv.base + 9, srv.domain, domain, crt, key)
    feats = p.starttls()
    assert "urn:xmpp:features:bidi" in feats
    if bidi:
        p.send("<bidi xmlns='urn:xmpp:bidi'/>")
    p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
           "mechanism='EXTERNAL'>%s</auth>"
           % base64.b64encode(domain.encode()).decode())
    text = p.read_until("/>", timeout=10)
    if "<success" not in text:
        if "</stream:stream>" not in text:
            text += p.read_until("</stream:stream>")
        return p, text
    p.header()
    p.read_until("</stream:features>")
    return p, None


def test_receiving_server_sends_over_the_peers_bidi_link(pair, tmp_path):
    """XEP-0288 3: once the peer authenticated, stanzas to the domain it
    proved go back over its link.  The peer's domain has no DNS records:
    the link it opened is the only way there."""
    ca_crt, ca_key = make_ca(tmp_path)
    honest = new_domain("honest")
    a, b = pair(setup=lambda a, b: a.cfg.find("s2s").set("ca-file",
                                                         str(ca_crt)))
    ca = client(a)
    ca.presence()
    p, refused = raw_certified_peer(a, honest, (ca_crt, ca_key), tmp_path)
    assert refused is None
    ca.message("x@%s" % honest, "back along your link")
    got = p.read_until("</message>", timeout=10)
    assert "back along your link" in got and 'to="x@%s"' % honest in got
    p.send("<message from='x@%s' to='alice@%s/r' type='chat'><body>and "
           "to you</body></message>" % (honest, a.domain))
    assert body(ca.recv_message(timeout=10)) == "and to you"


def test_without_bidi_the_peers_link_carries_nothing_back(pair, tmp_path):
    """RFC 6120 without XEP-0288: an inbound link is one-way, so a stanza
    to a domain without DNS records bounces."""
    ca_crt, ca_key = make_ca(tmp_path)
    honest = new_domain("honest")
    a, b = pair(setup=lambda a, b: a.cfg.find("s2s").set("ca-file",
                                                         str(ca_crt)))
    ca = client(a)
    p, refused = raw_certified_peer(a, honest, (ca_crt, ca_key), tmp_path,
                                    bidi=False)
    assert refused is None
    ca.message("x@%s" % honest, "no way back")
    err = ca.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("type") == "error", timeout=15)
    assert error_condition(err) == "remote-server-not-found"


# ---- per-domain limits ----

def test_a_domain_over_its_link_limit_is_refused(pair, tmp_path):
    """<limit domain links="1"/>: a second link authenticating the same
    domain ends with policy-violation; the first keeps working."""
    ca_crt, ca_key = make_ca(tmp_path)
    busy = new_domain("busy")

    def setup(a, b):
        s = a.cfg.find("s2s")
        s.set("ca-file", str(ca_crt))
        ET.SubElement(s, "limit", domain=busy, links="1")
    a, b = pair(setup=setup)
    ca = client(a)
    ca.presence()
    p1, refused = raw_certified_peer(a, busy, (ca_crt, ca_key), tmp_path)
    assert refused is None
    p2, refused = raw_certified_peer(a, busy, (ca_crt, ca_key), tmp_path)
    assert refused is not None and "<policy-violation" in refused
    assert "holds all the links it may" in refused
    p1.send("<message from='x@%s' to='alice@%s/r' type='chat'><body>first "
            "still up</body></message>" % (busy, a.domain))
    assert body(ca.recv_message(timeout=10)) == "first still up"
    assert any("holds all the links" in f["reason"]
               for f in s2s_state(a)["failures"])


def test_a_domain_queue_limit_bounces_resource_constraint(pair, dns):
    """<limit domain max-queue="2"/>: the third stanza waiting for a
    link that does not come up bounces at once."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    domain = new_domain("slow")
    dns.add_host(domain)
    dns.add_srv(domain, silent.getsockname()[1])
    try:
        a, b = pair(setup=lambda a, b: ET.SubElement(
            a.cfg.find("s2s"), "limit", domain=domain, **{"max-queue": "2"}))
        ca = client(a)
        ids = [ca.message("x@%s" % domain, "m%d" % i) for i in range(3)]
        err = ca.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                      e.get("type") == "error", timeout=10)
        assert error_condition(err) == "resource-constraint"
        assert err.get("id") == ids[2]
    finally:
        silent.close()


@pytest.mark.parametrize("attrs,message", [
    ({"domain": "x.example", "links": "many"},
     r"limit: links 'many' is not a number"),
    ({"domain": "x.example", "rate": "1024", "burst": "10"},
     r"limit: burst 10 out of range"),
    ({"domain": "not a domain"}, r"limit: invalid domain 'not a domain'"),
])
def test_limit_config_errors_name_the_line(server_factory, attrs, message):
    import re
    srv = server_factory(start=False, users=False)
    ET.SubElement(ET.SubElement(srv.cfg, "s2s"), "limit", **attrs)
    srv.save()
    r = srv.ctl("check")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert re.search(r"ember\.xml:\d+: " + message, out), out


def test_a_domain_rate_limit_holds_its_link_to_the_rate(pair, tmp_path):
    """<limit domain rate/>: once the peer has authenticated, its link is
    read at that rate (the listener's 1 MiB/s would let all of it in)."""
    rate, burst = 8192, 8192
    ca_crt, ca_key = make_ca(tmp_path)
    noisy = new_domain("noisy")

    def setup(a, b):
        s = a.cfg.find("s2s")
        s.set("ca-file", str(ca_crt))
        ET.SubElement(s, "limit", domain=noisy, rate=str(rate),
                      burst=str(burst))
    a, b = pair(setup=setup)
    ca = client(a)
    ca.presence()
    p, refused = raw_certified_peer(a, noisy, (ca_crt, ca_key), tmp_path)
    assert refused is None
    stanza = ("<message from='x@%s' to='alice@%s/r' type='chat'><body>%s"
              "</body></message>" % (noisy, a.domain, "x" * 900))
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            try:
                p.send(stanza)
            except Exception:
                return
    threading.Thread(target=flood, daemon=True).start()
    received, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < 3.0:
            try:
                ca.recv(lambda e: e.tag.endswith("message"), timeout=0.5)
                received += len(stanza)
            except TimeoutError:
                pass
    finally:
        stop.set()
    got = (received - burst) / (time.monotonic() - t0)
    assert got < rate * 1.5, got
    assert got > rate * 0.3, got
