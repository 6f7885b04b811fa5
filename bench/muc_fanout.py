#!/usr/bin/python3
"""MUC fan-out: how many groupchat deliveries per second mod_muc makes in a
room of 500 occupants, and what an occupant costs in emberd's memory.

Starts its own emberd (EMBER_BUILD, default build/) through
tests/integration/harness.py with a plaintext loopback c2s listener,
creates the accounts with `emberctl batch`, logs 500 raw asyncio sockets
in (SCRAM-SHA-1), joins them to one room, then a few occupants send M
groupchat messages each while every occupant counts the bodies it gets.

    /usr/bin/python3 bench/muc_fanout.py [--occupants 500] [--senders 5]
                                         [--messages 100]

prints
    muc fan-out: N deliveries/s (500 occupants)
    muc memory per occupant: X KiB
"""

import argparse
import asyncio
import base64
import os
import re
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402
from rawxmpp import Scram  # noqa: E402

PASSWORD = "pw-bench"
ROOM = "bench"
HEADER = ("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client'"
          " xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


class Occupant:
    def __init__(self, n, domain, port):
        self.n = n
        self.user = "u%d" % n
        self.domain = domain
        self.port = port
        self.buf = b""
        self.bodies = 0
        self.tail = b""
        self.reader = self.writer = None

    async def until(self, marker, timeout=60):
        """Read until marker is in the buffer; return what precedes it."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit("bench: %s waited for %r, got %r"
                                 % (self.user, marker, self.buf[-300:]))
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise SystemExit("bench: %s: connection closed: %r"
                                 % (self.user, self.buf[-300:]))
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def send(self, s):
        self.writer.write(s.encode() if isinstance(s, str) else s)

    async def login(self):
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port)
        self.send(HEADER % self.domain)
        await self.until(b"</stream:features>")
        sc = Scram("SCRAM-SHA-1", self.user, PASSWORD)
        self.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>%s</auth>"
                  % (NS_SASL, base64.b64encode(sc.first()).decode()))
        head = await self.until(b"</challenge>")
        chal = re.search(rb"<challenge[^>]*>([^<]*)</challenge>", head)
        final = sc.final(base64.b64decode(chal.group(1)))
        self.send("<response xmlns='%s'>%s</response>"
                  % (NS_SASL, base64.b64encode(final).decode()))
        head = await self.until(b"</success>")
        self.send(HEADER % self.domain)
        await self.until(b"</stream:features>")
        self.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:"
                  "ns:xmpp-bind'><resource>b</resource></bind></iq>")
        await self.until(b"</iq>")

    async def join(self, room):
        self.send("<presence to='%s/n%d'><x xmlns='http://jabber.org/"
                  "protocol/muc'><history maxstanzas='0'/></x></presence>"
                  % (room, self.n))
        # The subject ends the join (XEP-0045 7.2.15).
        await self.until(b"<subject")
        self.buf = b""

    async def count(self):
        """Count bodies for ever (cancelled at the end)."""
        while True:
            data = await self.reader.read(262144)
            if not data:
                return
            chunk = self.tail + data
            self.bodies += chunk.count(b"<body>")
            self.tail = chunk[-5:]


def cpu_seconds(pid):
    """User + system CPU time of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def gather_limited(coros, n):
    sem = asyncio.Semaphore(n)

    async def one(c):
        async with sem:
            return await c
    return await asyncio.gather(*(one(c) for c in coros))


async def run(srv, args):
    domain = srv.domain
    room = "%s@conference.%s" % (ROOM, domain)
    occ = [Occupant(i, domain, srv.plain_port) for i in range(args.occupants)]
    t0 = time.monotonic()
    await gather_limited([o.login() for o in occ], 50)
    print("bench: %d logged in (%.1f s)" % (len(occ), time.monotonic() - t0),
          file=sys.stderr)
    rss0 = srv.rss_kib()
    # The first one creates the room (groupchat 1.0 style: instant).
    occ[0].send("<presence to='%s/n0'/>" % room)
    await occ[0].until(b"<subject")
    occ[0].buf = b""
    counters = [asyncio.ensure_future(occ[0].count())]
    t0 = time.monotonic()
    for o in occ[1:]:
        await o.join(room)
        counters.append(asyncio.ensure_future(o.count()))
    await asyncio.sleep(1.0)        # presence broadcasts settle
    rss1 = srv.rss_kib()
    print("bench: %d joined (%.1f s), RSS %d -> %d KiB"
          % (len(occ), time.monotonic() - t0, rss0, rss1), file=sys.stderr)

    for o in occ:
        o.bodies = 0
    senders = occ[:args.senders]
    expect = args.senders * args.messages * len(occ)
    msg = ("<message to='%s' type='groupchat'><body>fan-out message of "
           "ordinary length, number %%d</body></message>" % room)
    cpu0 = cpu_seconds(srv.pid)
    t0 = time.monotonic()
    for s in senders:
        s.send("".join(msg % i for i in range(args.messages)))
    while True:
        got = sum(o.bodies for o in occ)
        if got >= expect:
            break
        if time.monotonic() - t0 > 300:
            raise SystemExit("bench: only %d of %d deliveries" % (got, expect))
        await asyncio.sleep(0.01)
    dt = time.monotonic() - t0
    cpu = cpu_seconds(srv.pid) - cpu0
    for c in counters:
        c.cancel()
    for o in occ:
        o.writer.close()
    print("bench: %d deliveries in %.2f s, emberd used %.2f s of CPU "
          "(%.1f us per delivery)" % (expect, dt, cpu, cpu * 1e6 / expect),
          file=sys.stderr)
    print("muc fan-out: %d deliveries/s (%d occupants)"
          % (round(expect / dt), len(occ)))
    print("muc memory per occupant: %.1f KiB"
          % ((rss1 - rss0) / len(occ)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--occupants", type=int, default=500)
    ap.add_argument("--senders", type=int, default=5)
    ap.add_argument("--messages", type=int, default=100)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ember-muc-bench."))
    srv = Server(root)
    srv.add_plain_listener().set("rate", "0")   # no shaper (doc/benchmarks.md)
    srv.set_log("warn")
    srv.set_limits(max_connections_per_ip=args.occupants + 100,
                   connections_per_second_per_ip=0)
    srv.add_module("muc", message_rate=0, max_occupants=args.occupants + 10,
                   default_max_users=args.occupants + 10, default_history=0)
    srv.ctl_ok("batch", input="".join(
        "adduser u%d@%s %s\n" % (i, srv.domain, PASSWORD)
        for i in range(args.occupants)), timeout=600)
    srv.start()
    try:
        asyncio.run(run(srv, args))
    finally:
        srv.stop(check=False)


if __name__ == "__main__":
    main()
