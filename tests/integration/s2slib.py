"""Names for federation tests: a dnsmasq of our own on a free loopback
port, answering A and SRV records for the test domains, and nothing else
(no upstream, no /etc/hosts).  Every server in a test resolves through it:
emberd by <s2s resolver>, Prosody by its unbound forwarder."""

import os
import random
import shutil
import socket
import subprocess
import time

import pytest

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
# Test domains end in .example: unbound (Prosody's resolver) answers
# names under .test itself, with "no such name" (RFC 6761).
TLD = "example"


def own_address():
    """A loopback address nothing else in the tests binds: the server may
    come back on the same address and port after each restart."""
    return "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))


class DnsServer:
    """A DNS server of the test's own on a loopback address: where the
    servers under test find it, and its process."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.address = own_address()
        self.port = 53 if os.geteuid() == 0 else 5353
        self.proc = None

    @property
    def resolver(self):
        return "%s:%d" % (self.address, self.port)

    @property
    def unbound_forward(self):
        return "%s@%d" % (self.address, self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None


class Dns(DnsServer):
    """dnsmasq restarted with the current records on each change."""

    def __init__(self, tmp):
        super().__init__(tmp)
        self.hosts = {}          # name -> ip
        self.srv = []            # (service name, target, port, priority)

    def add_host(self, name, ip="127.0.0.1"):
        self.hosts[name] = ip
        self._restart()

    def add_srv(self, domain, port, target=None, tls=False, priority=0):
        service = "_xmpps-server._tcp." if tls else "_xmpp-server._tcp."
        self.srv.append((service + domain, target or domain, port, priority))
        self._restart()

    def _restart(self):
        self.stop()
        args = [DNSMASQ, "--keep-in-foreground", "--no-daemon",
                "--no-resolv", "--no-hosts", "--no-poll", "--local=/%s/" % TLD,
                "--listen-address=" + self.address, "--bind-interfaces",
                "--port=%d" % self.port, "--user=" + _user(),
                "--pid-file=", "--log-facility=%s/dnsmasq.log" % self.tmp]
        for name, ip in self.hosts.items():
            args.append("--host-record=%s,%s,::1" % (name, ip))
        for name, target, port, prio in self.srv:
            args.append("--srv-host=%s,%s,%d,%d" % (name, target, port, prio))
        self.proc = start_dns_server(args, self._answers, "dnsmasq",
                                     "port %d" % self.port)

    def _answers(self):
        # A query for a name we do not serve: any answer means it is up.
        return dns_answers(self.address, self.port, "probe." + TLD)


def start_dns_server(args, answers, what, where):
    """Start a DNS server and wait until answers() says it serves."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited: %s"
                               % (what, proc.stderr.read().decode()))
        if answers():
            return proc
        time.sleep(0.05)
    proc.terminate()
    proc.wait(5)
    raise RuntimeError("%s did not answer on %s" % (what, where))


def dns_answers(address, port, name, qtype=1, rcode=None):
    """Whether a DNS server at address:port answers a query for name
    (with rcode, when given)."""
    qname = b"".join(bytes([len(p)]) + p.encode()
                     for p in name.split(".")) + b"\0"
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname +
             bytes([0, qtype, 0, 1]))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(query, (address, port))
        reply = s.recv(512)
        return len(reply) > 3 and (rcode is None or reply[3] & 0x0f == rcode)
    except OSError:
        return False
    finally:
        s.close()


def _user():
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    """One dnsmasq for a test module: each test federates its own domains,
    so no resolver holds an old answer for a name."""
    if not shutil.which(DNSMASQ):
        pytest.fail("dnsmasq is not installed (tools/deps.sh test)")
    d = Dns(tmp_path_factory.mktemp("dns"))
    yield d
    d.stop()


def federate(srv, dns, s2s_port=None, **s2s_opts):
    """Give srv an s2s listener, SRV records and the test resolver."""
    import xml.etree.ElementTree as ET
    port = s2s_port or srv.base + 9
    srv.add_listener("s2s", port)
    el = srv.cfg.find("s2s")
    if el is None:
        el = ET.SubElement(srv.cfg, "s2s")
    el.set("resolver", dns.resolver)
    for k, v in s2s_opts.items():
        el.set(k.replace("_", "-"), str(v))
    for name in (srv.domain, "conference." + srv.domain):
        dns.add_host(name)
        dns.add_srv(name, port)
    return port
