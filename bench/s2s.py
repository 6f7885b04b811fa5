#!/usr/bin/python3
"""Server-to-server (issue 17): messages per server CPU-second over one
link between two emberd instances, and memory per inbound link.

1. Two emberd (a.example, b.example) find each other through a dnsmasq of
   the bench's own (tests/integration/s2slib.py) and link by dialback over
   TLS.  P users on a send chat messages to P users on b, who answer each;
   W messages in flight per pair, for S seconds.  Messages delivered over
   the CPU each emberd spent (/proc/PID/stat) give messages per CPU-second
   on each side.
   With --peer prosody or --peer ejabberd the remote side (b.example) is
   Debian's Prosody or ejabberd instead (tests/integration/peers.py), its
   users' clients on its c2s port, and its CPU read from /proc of its
   processes (ejabberd: the node's beam.smp).  The same run, so the
   numbers compare Ember's cost per message against each peer's, and
   Ember's own with each kind of remote side.
2. One emberd takes L inbound links: a client of the bench's own opens L
   streams, each STARTTLS then SASL EXTERNAL with a certificate for
   *.peer.example from a CA the emberd trusts, as dN.peer.example.  RSS
   before and after gives KiB per link.

    EMBER_BUILD=build /usr/bin/python3 bench/s2s.py \
        [--pairs 100] [--secs 10] [--links 1000] [--peer prosody|ejabberd]

Output lines: `s2s msgs_per_cpu_s a A b B`, `s2s kib_per_link K links L`
(not with --peer).
"""

import argparse
import asyncio
import base64
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402
from peers import Ejabberd, Prosody, self_signed  # noqa: E402
from s2slib import Dns, federate  # noqa: E402

PASSWORD = "pw-bench"
TICK = os.sysconf("SC_CLK_TCK")
STREAMS = "http://etherx.jabber.org/streams"


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_of(srv):
    """CPU-seconds of a server: an emberd, or a peer's processes."""
    pids = srv.pids() if hasattr(srv, "pids") else [srv.pid]
    return sum(cpu_s(p) for p in pids)


def c2s_port(srv):
    return srv.c2s_port if hasattr(srv, "pids") else srv.plain_port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    def __init__(self, domain):
        self.domain = domain
        self.buf = b""

    async def until(self, needle):
        while needle not in self.buf:
            chunk = await self.r.read(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        i = self.buf.index(needle) + len(needle)
        self.buf = self.buf[i:]

    def send(self, s):
        self.w.write(s.encode())

    def header(self):
        self.send("<stream:stream xmlns='jabber:client' xmlns:stream='%s' "
                  "to='%s' version='1.0'>" % (STREAMS, self.domain))

    async def login(self, port, user):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        self.header()
        await self.until(b"</stream:features>")
        auth = base64.b64encode(("\0%s\0%s" % (user, PASSWORD)).encode())
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  "mechanism='PLAIN'>%s</auth>" % auth.decode())
        await self.until(b"success")
        self.header()
        await self.until(b"</stream:features>")
        self.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:"
                  "ns:xmpp-bind'><resource>r</resource></bind></iq>"
                  "<presence/>")
        await self.until(b"</bind>")


def make_peer(kind, root, domain, dns, users):
    """Prosody or ejabberd as b.example, started, with the echo users.
    ejabberd takes accounts only while it runs, Prosody only before."""
    if kind == "prosody":
        root.mkdir(exist_ok=True)
        p = Prosody(root, domain, dns)
        # internal_plain's account files, as prosodyctl writes them, at
        # once: prosodyctl takes about 0.3 s per account.
        accounts = root / "data" / domain.replace(".", "%2e") / "accounts"
        accounts.mkdir(parents=True)
        for u in users:
            (accounts / (u + ".dat")).write_text(
                'return {\n\t["password"] = "%s";\n};\n' % PASSWORD)
        return p
    e = Ejabberd(domain, dns)
    e.start()
    try:
        e.addusers(users, PASSWORD)
    except BaseException:
        e.stop()
        raise
    return e


def make_server(root, domain, dns, users, mam=True):
    srv = Server(root, domain=domain)
    if not mam:
        srv.remove_module("mam")
    srv.add_plain_listener()
    srv.set_limits(max_connections_per_ip="0",
                   connections_per_second_per_ip="0")
    for lis in srv.cfg.iter("listen"):
        lis.set("rate", "0")
    federate(srv, dns)
    srv.cfg.find("s2s").set("max-queue", "100000")
    srv.save()
    srv.ctl_ok("batch", input="".join(
        "adduser %s@%s %s\n" % (u, domain, PASSWORD) for u in users),
        timeout=600)
    return srv


async def exchange(a, b, pairs, window, secs):
    senders = [Client(a.domain) for _ in range(pairs)]
    echoes = [Client(b.domain) for _ in range(pairs)]
    await asyncio.gather(*(c.login(a.plain_port, "s%d" % i)
                           for i, c in enumerate(senders)))
    await asyncio.gather(*(c.login(c2s_port(b), "e%d" % i)
                           for i, c in enumerate(echoes)))
    body = "x" * 100
    # Warm the link up: one round trip before measuring.
    senders[0].send("<message to='e0@%s/r' type='chat'><body>w</body>"
                    "</message>" % b.domain)
    await echoes[0].until(b"</message>")
    count = [0]
    stop = time.monotonic() + secs

    async def sender(i):
        c = senders[i]
        for _ in range(window):
            c.send("<message to='e%d@%s/r' type='chat'><body>%s</body>"
                   "</message>" % (i, b.domain, body))
        while time.monotonic() < stop:
            await c.until(b"</message>")
            count[0] += 1
            c.send("<message to='e%d@%s/r' type='chat'><body>%s</body>"
                   "</message>" % (i, b.domain, body))

    async def echo(i):
        c = echoes[i]
        while time.monotonic() < stop + 1:
            try:
                await asyncio.wait_for(c.until(b"</message>"), 1)
            except asyncio.TimeoutError:
                continue
            c.send("<message to='s%d@%s/r' type='chat'><body>%s</body>"
                   "</message>" % (i, a.domain, body))

    ca, cb = cpu_of(a), cpu_of(b)
    await asyncio.gather(*[sender(i) for i in range(pairs)],
                         *[echo(i) for i in range(pairs)],
                         return_exceptions=True)
    ua, ub = cpu_of(a) - ca, cpu_of(b) - cb
    # Each counted answer is one message each way over the link.
    delivered = 2 * count[0]
    return delivered / ua, delivered / ub


async def hold_links(srv, n, crt, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(str(crt), str(key))
    port = srv.base + 9
    held = []

    async def one(i):
        name = "d%d.peer.example" % i
        hdr = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
               "xmlns:stream='%s' from='%s' to='%s' version='1.0'>"
               % (STREAMS, name, srv.domain)).encode()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(hdr)
        buf = b""
        while b"</stream:features>" not in buf:
            buf += await r.read(4096)
        w.write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        while b"<proceed" not in buf:
            buf += await r.read(4096)
        await w.start_tls(ctx, server_hostname=srv.domain)
        w.write(hdr)
        buf = b""
        while b"</stream:features>" not in buf:
            buf += await r.read(4096)
        w.write(("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism="
                 "'EXTERNAL'>%s</auth>"
                 % base64.b64encode(name.encode()).decode()).encode())
        while b"success" not in buf:
            chunk = await r.read(4096)
            if not chunk:
                raise RuntimeError("link %s refused: %r" % (name, buf))
            buf += chunk
        w.write(hdr)
        held.append((r, w))

    for start in range(0, n, 50):
        await asyncio.gather(*(one(i) for i in range(start,
                                                     min(n, start + 50))))
    return held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--links", type=int, default=1000)
    ap.add_argument("--no-mam", action="store_true",
                    help="without message archives (mod_mam)")
    ap.add_argument("--peer", choices=("prosody", "ejabberd"),
                    help="the remote side is this server, not an emberd")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        dns = Dns(d)
        (d / "a").mkdir()
        (d / "b").mkdir()
        a = make_server(d / "a", "a.example", dns,
                        ["s%d" % i for i in range(args.pairs)], not args.no_mam)
        echoes = ["e%d" % i for i in range(args.pairs)]
        if args.peer:
            b = make_peer(args.peer, d / "b", "b.example", dns, echoes)
        else:
            b = make_server(d / "b", "b.example", dns, echoes,
                            not args.no_mam)
        try:
            a.start()
            if args.peer != "ejabberd":
                b.start()
            try:
                ra, rb = asyncio.run(exchange(a, b, args.pairs, args.window,
                                              args.secs))
            except Exception:
                if args.peer:
                    print("==== %s log ====\n%s" % (args.peer, b.log()[-6000:]),
                          file=sys.stderr)
                raise
            print("s2s msgs_per_cpu_s a %.0f b %.0f (pairs %d, window %d%s%s)"
                  % (ra, rb, args.pairs, args.window,
                     ", no mam" if args.no_mam else "",
                     ", b is " + args.peer if args.peer else ""), flush=True)
        finally:
            a.stop()
            b.stop()
        if args.peer:
            dns.stop()
            return
        # Inbound links, authenticated by certificate.
        (d / "c").mkdir()
        ca_key, ca_crt = d / "ca.key", d / "ca.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", str(ca_key), "-out",
                        str(ca_crt), "-days", "2", "-subj", "/CN=bench CA",
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign"],
                       check=True, capture_output=True)
        crt, key = self_signed(d, "peer.example", (ca_crt, ca_key))
        c = make_server(d / "c", "c.example", dns, [])
        c.cfg.find("s2s").set("ca-file", str(ca_crt))
        c.save()
        try:
            c.start()
            time.sleep(0.5)
            before = rss_kib(c.pid)

            async def go():
                held = await hold_links(c, args.links, crt, key)
                await asyncio.sleep(1)
                after = rss_kib(c.pid)
                for _, w in held:
                    w.close()
                return len(held), after

            n, after = asyncio.run(go())
            print("s2s kib_per_link %.1f links %d" % ((after - before) / n,
                                                      n), flush=True)
        finally:
            c.stop()
        dns.stop()


if __name__ == "__main__":
    main()
