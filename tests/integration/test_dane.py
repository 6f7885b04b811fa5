"""DANE for outbound server-to-server links: RFC 7673 (TLSA records for
SRV targets), RFC 6698 as RFC 7671 updates it (certificate usages), with
XEP-0368's SRV records.

The module runs one NSD, authoritative for two zones on a loopback
address of its own: secure.example, signed with a key made here (emberd
gets its DNSKEY as trust anchor, NSD as its resolver), and plain.example,
unsigned.  Each test adds its own names and NSD reloads them, signed
again, so no answer of one test is in another's resolver.

The peer is a second emberd whose certificate is self-signed (or issued
by a CA only a TLSA record vouches for); the sender proves itself to the
peer by SASL EXTERNAL with a certificate of another CA, and has dialback
off: what decides whether the link comes up is the DANE check alone."""

import hashlib
import itertools
import json
import os
import re
import shutil
import ssl
import subprocess

import pytest

import test_s2s
from harness import ServerError
from peers import Prosody, self_signed
from rawxmpp import NS_CLIENT, NS_STANZAS, RawClient, q
from s2slib import DnsServer, dns_answers, start_dns_server
from test_s2s import client, use_cert

NSD = shutil.which("nsd") or "/usr/sbin/nsd"
SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"
KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
SECURE = "secure.example"
PLAIN = "plain.example"

_n = itertools.count(1)


class Zones(DnsServer):
    """NSD serving SECURE (signed) and PLAIN; records added per test."""

    def __init__(self, tmp):
        super().__init__(tmp)
        self.records = {SECURE: [], PLAIN: []}
        self.bogus = []          # owner names whose TLSA is altered
        out = subprocess.run([KEYGEN, "-a", "ECDSAP256SHA256", "-k", SECURE],
                             cwd=tmp, check=True, capture_output=True,
                             text=True)
        self.key = out.stdout.strip()
        # The DNSKEY (a secure entry point) is the trust anchor.
        self.anchor = tmp / "anchor.key"
        shutil.copy(tmp / (self.key + ".key"), self.anchor)

    def add(self, zone, line):
        self.records[zone].append(line)

    # What peers.Prosody asks of a DNS, as s2slib.Dns has it.
    def add_host(self, name, ip="127.0.0.1"):
        self.add(SECURE if name.endswith(SECURE) else PLAIN,
                 "%s. IN A %s" % (name, ip))

    def add_srv(self, domain, port, target=None, tls=False, priority=0):
        service = "_xmpps-server._tcp." if tls else "_xmpp-server._tcp."
        self.add(SECURE if domain.endswith(SECURE) else PLAIN,
                 "%s%s. IN SRV %d 0 %d %s." % (service, domain, priority,
                                               port, target or domain))

    def publish(self):
        for zone, lines in self.records.items():
            text = ("$ORIGIN %s.\n$TTL 300\n"
                    "@ IN SOA ns.%s. admin.%s. 1 3600 600 86400 300\n"
                    "@ IN NS ns.%s.\nns IN A 127.0.0.1\n"
                    % (zone, zone, zone, zone)) + "\n".join(lines) + "\n"
            (self.tmp / (zone + ".zone")).write_text(text)
        subprocess.run([SIGNZONE, "-n", "-o", SECURE,
                        str(self.tmp / (SECURE + ".zone")), self.key],
                       cwd=self.tmp, check=True, capture_output=True)
        signed = self.tmp / (SECURE + ".zone.signed")
        text = signed.read_text()
        for owner in self.bogus:
            # Alter the TLSA data after signing: its RRSIG no longer fits.
            text = re.sub(r"(?m)^(%s\.\s+\d+\s+IN\s+TLSA\s+\d+ \d+ \d+ )"
                          r"([0-9a-fA-F])" % re.escape(owner),
                          lambda m: m.group(1) +
                          ("0" if m.group(2) != "0" else "1"), text)
        signed.write_text(text)
        self._restart()

    def _restart(self):
        self.stop()
        conf = self.tmp / "nsd.conf"
        conf.write_text(
            "server:\n  ip-address: %s\n  port: %d\n  username: \"\"\n"
            "  zonesdir: \"%s\"\n  database: \"\"\n  pidfile: \"\"\n"
            "  xfrdfile: \"%s/xfrd.state\"\n  zonelistfile: \"%s/zone.list\"\n"
            "  logfile: \"%s/nsd.log\"\n  server-count: 1\n"
            "  verbosity: 1\n"
            "remote-control:\n  control-enable: no\n"
            "zone:\n  name: %s\n  zonefile: %s.zone.signed\n"
            "zone:\n  name: %s\n  zonefile: %s.zone\n"
            % (self.address, self.port, self.tmp, self.tmp, self.tmp,
               self.tmp, SECURE, SECURE, PLAIN, PLAIN))
        self.proc = start_dns_server(
            [NSD, "-d", "-c", str(conf)],
            # The signed zone's SOA: NSD has loaded it.
            lambda: dns_answers(self.address, self.port, SECURE, 6, 0),
            "nsd", self.resolver)

@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    for tool in (NSD, SIGNZONE, KEYGEN):
        if not os.path.exists(tool):
            pytest.fail("%s is not installed (tools/deps.sh test)" % tool)
    z = Zones(tmp_path_factory.mktemp("zones"))
    yield z
    z.stop()


def make_ca(dir_, name):
    (dir_ / name).mkdir()
    return test_s2s.make_ca(dir_ / name)


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(pem_path.read_text())


def spki_sha256(crt_path):
    """SHA-256 of the certificate's SubjectPublicKeyInfo (selector 1,
    matching type 1)."""
    pub = subprocess.run(["openssl", "x509", "-in", str(crt_path), "-noout",
                          "-pubkey"], check=True, capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                          input=pub, check=True, capture_output=True).stdout
    return hashlib.sha256(spki).hexdigest()


def s2s_opts(srv, **kv):
    el = srv.cfg.find("s2s")
    if el is None:
        el = srv.cfg.makeelement("s2s", {})
        srv.cfg.append(el)
    for k, v in kv.items():
        el.set(k.replace("_", "-"), str(v))


@pytest.fixture
def link(server_factory, zones, tmp_path):
    """make(zone, tlsa=..., peer_cert=...) -> (a, b): b's domain lives
    in zone, its SRV target's TLSA record is tlsa(b's cert) or none."""
    client_ca = make_ca(tmp_path, "client")

    def make(zone, tlsa=None, peer_cert=None, bogus=False):
        n = next(_n)
        a = server_factory(start=False, domain="a%d.example" % n, plain=True)
        b = server_factory(start=False, domain="b%d.%s" % (n, zone),
                           plain=True)
        crt, key = self_signed(a.root, a.domain, client_ca)
        use_cert(a, crt, key)
        s2s_opts(a, dialback="false", dane="true", resolver=zones.resolver,
                 trust_anchor=zones.anchor)
        port = b.base + 9
        b.add_listener("s2s", port)
        crt, key = (peer_cert(b) if peer_cert
                    else self_signed(b.root, b.domain))
        use_cert(b, crt, key)
        s2s_opts(b, dialback="false", ca_file=client_ca[0])
        host = "xmpp%d" % n
        label = b.domain[:-len(zone) - 1]
        zones.add(zone, "_xmpp-server._tcp.%s IN SRV 0 0 %d %s.%s."
                  % (label, port, host, zone))
        zones.add(zone, "%s IN A 127.0.0.1" % host)
        if tlsa is not None:
            zones.add(zone, "_%d._tcp.%s IN TLSA %s" % (port, host, tlsa(crt)))
            if bogus:
                zones.bogus.append("_%d._tcp.%s.%s" % (port, host, zone))
        zones.publish()
        a.start()
        b.start()
        return a, b
    return make


def out_link(srv):
    links = json.loads(srv.ctl_ok("--json", "s2s").stdout)["links"]
    out = [l for l in links if l["direction"] == "out"]
    return out[0] if out else None


def message_arrives(a, b):
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "over DANE")
    m = cb.recv_message(timeout=15)
    assert m.find(q(NS_CLIENT, "body")).text == "over DANE"


def message_bounces(a, b):
    ca, cb = client(a), client(b, "bob")
    cb.presence()
    ca.message("bob@%s/r" % b.domain, "nowhere")
    m = ca.recv_message(timeout=20)
    assert m.get("type") == "error"
    err = m.find(q(NS_CLIENT, "error"))
    conds = [c.tag.split("}")[1] for c in err
             if c.tag.startswith("{%s}" % NS_STANZAS)]
    assert conds[0] in ("remote-server-not-found", "remote-server-timeout")


def test_dane_ee_record_authenticates_a_self_signed_peer(link):
    """RFC 7673 3.3 and 4, RFC 7671 5.1: under a secure SRV answer and
    secure addresses, a DANE-EE(3) SPKI SHA-256 record matching the
    peer's (self-signed, so PKIX-invalid) key authenticates it."""
    a, b = link(SECURE, tlsa=lambda crt: "3 1 1 " + spki_sha256(crt))
    message_arrives(a, b)
    out = out_link(a)
    assert out["state"] == "up" and out["dane"] == "DANE-EE"
    assert out["auth"] == "SASL EXTERNAL"
    assert "DANE-EE" in a.ctl_ok("s2s").stdout


def test_secure_tlsa_that_does_not_match_refuses_the_peer(link, tmp_path):
    """RFC 6698 2.1 / RFC 7671: with usable secure TLSA records, a
    certificate none of them matches is not the peer's: the link does not
    come up and the stanza bounces."""
    other, _ = self_signed(tmp_path, "other.example")
    a, b = link(SECURE, tlsa=lambda crt: "3 1 1 " + spki_sha256(other))
    message_bounces(a, b)
    failures = json.loads(a.ctl_ok("--json", "s2s").stdout)["failures"]
    assert any("DANE" in f["reason"] for f in failures), failures


def test_tlsa_in_an_unsigned_zone_is_ignored(link, tmp_path):
    """RFC 7673 3.1: an insecure SRV answer means no TLSA lookup at all:
    a TLSA record there that would not match changes nothing."""
    other, _ = self_signed(tmp_path, "other.example")
    a, b = link(PLAIN, tlsa=lambda crt: "3 1 1 " + spki_sha256(other))
    message_arrives(a, b)
    out = out_link(a)
    assert out["state"] == "up" and out["dane"] is None


def test_only_unusable_tlsa_records_mean_no_dane(link, tmp_path):
    """RFC 7671 4.1: records of an unknown certificate usage (4 is not
    assigned) are unusable; with no usable record, the link goes on as
    without DANE, although the data would not match anyway."""
    other, _ = self_signed(tmp_path, "other.example")
    a, b = link(SECURE, tlsa=lambda crt: "4 1 1 " + spki_sha256(other))
    message_arrives(a, b)
    out = out_link(a)
    assert out["state"] == "up" and out["dane"] is None


def test_bogus_tlsa_answer_rules_the_target_out(link):
    """RFC 7673 3.3: a TLSA answer that fails validation (its data
    altered after signing) means no connection to that target, even
    though the record, as altered, is not what the peer presents and the
    original would have matched."""
    a, b = link(SECURE, tlsa=lambda crt: "3 1 1 " + spki_sha256(crt),
                bogus=True)
    message_bounces(a, b)
    failures = json.loads(a.ctl_ok("--json", "s2s").stdout)["failures"]
    assert any("bogus" in f["reason"] for f in failures), failures


def dane_ta_peer(link, tmp_path, cert_name):
    """A peer whose certificate, for cert_name(b), a CA of its own issued;
    the TLSA record is DANE-TA(2) for that CA's certificate, SHA-256."""
    ca = make_ca(tmp_path, "dane")

    def issued(b):
        crt, key = self_signed(b.root, cert_name(b), ca)
        chain = b.root / "chain.crt"
        chain.write_text(crt.read_text() + ca[0].read_text())
        return chain, key
    return link(SECURE, peer_cert=issued,
                tlsa=lambda crt: "2 0 1 " + hashlib.sha256(
                    der(ca[0])).hexdigest())


def test_dane_ta_record_names_the_peers_issuer(link, tmp_path):
    """RFC 7671 5.2: a DANE-TA(2) record for a CA nobody else trusts; the
    peer sends its certificate with that CA's, which issued it and which
    names the peer's domain."""
    a, b = dane_ta_peer(link, tmp_path, lambda b: b.domain)
    message_arrives(a, b)
    assert out_link(a)["dane"] == "DANE-TA"


def test_dane_ta_certificate_may_name_the_srv_target(link, tmp_path):
    """RFC 7673 4.1: the SRV target host name is a reference identity
    besides the service domain: a certificate naming only the target
    (xmppN.secure.example for bN.secure.example) is the peer's."""
    a, b = dane_ta_peer(link, tmp_path,
                        lambda b: b.domain.replace("b", "xmpp", 1))
    message_arrives(a, b)
    assert out_link(a)["dane"] == "DANE-TA"


def test_dane_ta_certificate_naming_neither_is_refused(link, tmp_path):
    """RFC 7671 5.2: with DANE-TA the names are still checked: a
    certificate the anchor issued for another domain does not prove this
    one."""
    a, b = dane_ta_peer(link, tmp_path, lambda b: "elsewhere.example")
    message_bounces(a, b)
    failures = json.loads(a.ctl_ok("--json", "s2s").stdout)["failures"]
    assert any("names neither" in f["reason"] for f in failures), failures


def test_unreadable_trust_anchor_stops_emberd_naming_the_line(
        server_factory, tmp_path):
    srv = server_factory(start=False, domain="anchorless.example")
    s2s_opts(srv, dane="true", trust_anchor=tmp_path / "missing.key")
    with pytest.raises(ServerError) as e:
        srv.start()
    assert "trust-anchor" in str(e.value)
    assert re.search(r"line \d+", str(e.value)), str(e.value)


def test_prosody_matched_by_its_dane_ee_record(server_factory, zones,
                                               tmp_path):
    """The same with Debian's Prosody as the receiving server: its
    certificate (issued by a CA we do not trust) is matched by a DANE-EE
    record of its key at _PORT._tcp.<its domain>, the SRV target; it
    takes our certificate for SASL EXTERNAL (s2s_secure_auth)."""
    client_ca = make_ca(tmp_path, "client")
    n = next(_n)
    p = Prosody(tmp_path / "prosody", "p%d.%s" % (n, SECURE), zones,
                secure_auth=True, ca=client_ca)
    p.adduser("bob", "bob-pw")
    zones.add(SECURE, "_%d._tcp.%s. IN TLSA 3 1 1 %s"
              % (p.s2s_port, p.domain, spki_sha256(p.cert)))
    zones.publish()
    a = server_factory(start=False, domain="a%d.example" % n, plain=True)
    crt, key = self_signed(a.root, a.domain, client_ca)
    use_cert(a, crt, key)
    s2s_opts(a, dialback="false", dane="true", resolver=zones.resolver,
             trust_anchor=zones.anchor)
    a.start()
    p.start()
    try:
        cb = RawClient(p.c2s_port, domain=p.domain)
        cb.login("bob", "bob-pw", resource="r")
        cb.presence()
        ca = client(a)
        ca.message("bob@%s/r" % p.domain, "to Prosody over DANE")
        m = cb.recv_message(timeout=20)
        assert m.find(q(NS_CLIENT, "body")).text == "to Prosody over DANE"
        out = out_link(a)
        assert out["dane"] == "DANE-EE" and out["auth"] == "SASL EXTERNAL"
    finally:
        p.stop()
