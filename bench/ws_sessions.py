#!/usr/bin/python3
"""XMPP over WebSocket against TCP on one emberd (issue 15): memory per
session and messages per server CPU-second.

A real emberd (tests/integration/harness.py) with a plaintext loopback c2s
listener and its http listener.  An asyncio client speaks RFC 7395 framing
by hand (masked text frames) or plain TCP, logs N sessions in with PLAIN
(loopback needs no TLS), binds, fetches its roster and sends initial
presence (the idle session of issue 15); emberd's RSS
before and after gives KiB per session.  Then P pairs exchange chat
messages for S seconds, closed loop (W in flight per sender), and the
messages delivered over the CPU emberd spent (/proc/PID/stat) give
messages per CPU-second.

    EMBER_BUILD=build /usr/bin/python3 bench/ws_sessions.py \
        [--sessions 10000] [--pairs 200] [--secs 10] [--only websocket] \
        [--without mam]

Output lines: `ws_sessions TRANSPORT kib_per_session K msgs_per_cpu_s M`.
"""

import argparse
import asyncio
import base64
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402

PASSWORD = "pw-bench"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
TICK = os.sysconf("SC_CLK_TCK")


class Conn:
    """One client stream, WebSocket-framed or plain TCP."""

    def __init__(self, ws):
        self.ws = ws
        self.buf = b""

    async def connect(self, port):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        if self.ws:
            key = base64.b64encode(os.urandom(16)).decode()
            self.w.write(("GET /xmpp-websocket HTTP/1.1\r\nHost: localhost"
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: "
                          "13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
                          % key).encode())
            head = await self.r.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head[:80]

    def send(self, text):
        data = text.encode()
        if not self.ws:
            self.w.write(data)
            return
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = bytes([0x81, 0x80 | n])
        elif n < 65536:
            hdr = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            hdr = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
        self.w.write(hdr + mask + bytes(b ^ mask[i % 4]
                                        for i, b in enumerate(data)))

    async def until(self, needle):
        """Read (unframing when WebSocket) until needle was seen."""
        while needle not in self.buf:
            if self.ws:
                h = await self.r.readexactly(2)
                n = h[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(await self.r.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await self.r.readexactly(8), "big")
                self.buf += await self.r.readexactly(n)
            else:
                chunk = await self.r.read(65536)
                if not chunk:
                    raise EOFError
                self.buf += chunk
        i = self.buf.index(needle) + len(needle)
        self.buf = self.buf[i:]

    def header(self):
        if self.ws:
            self.send("<open xmlns='%s' to='localhost' version='1.0'/>"
                      % FRAMING)
        else:
            self.send("<stream:stream xmlns='jabber:client' xmlns:stream="
                      "'http://etherx.jabber.org/streams' to='localhost' "
                      "version='1.0'>")

    async def login(self, port, user):
        await self.connect(port)
        self.header()
        await self.until(b"</stream:features>")
        auth = base64.b64encode(("\0%s\0%s" % (user, PASSWORD)).encode())
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  "mechanism='PLAIN'>%s</auth>" % auth.decode())
        await self.until(b"success")
        self.header()
        await self.until(b"</stream:features>")
        # Bound, roster fetched, available: the idle session of issue 15.
        self.send("<iq type='set' id='b' xmlns='jabber:client'><bind "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r"
                  "</resource></bind></iq>")
        await self.until(b"</bind>")
        self.send("<iq type='get' id='r' xmlns='jabber:client'><query "
                  "xmlns='jabber:iq:roster'/></iq>")
        await self.until(b"jabber:iq:roster")
        self.send("<presence xmlns='jabber:client'/>")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def run(srv, ws, n, pairs, secs):
    port = srv.http_port if ws else srv.plain_port
    before = rss_kib(srv.pid)
    conns = []
    for start in range(0, n, 200):
        batch = [Conn(ws) for _ in range(start, min(n, start + 200))]
        await asyncio.gather(*(c.login(port, "u%d" % (start + i))
                               for i, c in enumerate(batch)))
        conns += batch
    await asyncio.sleep(1)
    per = (rss_kib(srv.pid) - before) / max(n, 1)
    # Pairs among the held sessions: u(2i) -> u(2i+1), 4 in flight.
    count = [0]
    stop = time.monotonic() + secs
    body = "x" * 100

    async def sender(a, b_user):
        for _ in range(4):
            a.send("<message xmlns='jabber:client' to='%s@localhost/r' "
                   "type='chat'><body>%s</body></message>" % (b_user, body))
        while time.monotonic() < stop:
            await a.until(b"</message>")
            count[0] += 1
            a.send("<message xmlns='jabber:client' to='%s@localhost/r' "
                   "type='chat'><body>%s</body></message>" % (b_user, body))

    async def echo(b, a_user):
        while time.monotonic() < stop + 1:
            try:
                await asyncio.wait_for(b.until(b"</message>"), 1)
            except asyncio.TimeoutError:
                continue
            b.send("<message xmlns='jabber:client' to='%s@localhost/r' "
                   "type='chat'><body>%s</body></message>" % (a_user, body))

    c0 = cpu_s(srv.pid)
    tasks = []
    for i in range(min(pairs, n // 2)):
        tasks.append(sender(conns[2 * i], "u%d" % (2 * i + 1)))
        tasks.append(echo(conns[2 * i + 1], "u%d" % (2 * i)))
    await asyncio.gather(*tasks, return_exceptions=True)
    used = cpu_s(srv.pid) - c0
    for c in conns:
        c.w.close()
    # Each counted message is a round trip's second half: two delivered.
    return per, 2 * count[0] / used if used > 0 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int,
                    default=int(os.environ.get("BENCH_WS_SESSIONS", 10000)))
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--only", choices=("tcp", "websocket"),
                    help="measure one transport")
    ap.add_argument("--without", action="append", default=[],
                    metavar="MODULE", help="leave a module out (mam: the "
                    "archive's SQLite writes dominate the message rate)")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # emberd inherits the limit: each process holds one end of a session.
    n = min(a.sessions, hard - 300)
    results = {}
    for transport in ("tcp", "websocket"):
        if a.only not in (None, transport):
            continue
        with tempfile.TemporaryDirectory() as d:
            srv = Server(d)
            srv.add_plain_listener()
            for name in a.without:
                srv.remove_module(name)
            srv.set_limits(max_connections_per_ip="0",
                           connections_per_second_per_ip="0")
            for lis in srv.cfg.iter("listen"):
                if lis.get("type") in ("c2s", "http"):
                    lis.set("rate", "0")
            srv.save()
            # Accounts offline, in one batch (emberctl batch).
            srv.ctl_ok("batch", input="".join(
                "adduser u%d@localhost %s\n" % (i, PASSWORD)
                for i in range(n)), timeout=600)
            srv.start()
            per, rate = asyncio.run(run(srv, transport == "websocket", n,
                                        a.pairs, a.secs))
            srv.stop()
            results[transport] = (per, rate)
            print("ws_sessions %s sessions %d kib_per_session %.1f "
                  "msgs_per_cpu_s %.0f" % (transport, n, per, rate),
                  flush=True)
    tcp, ws = (results.get(t, (0, 0))[1] for t in ("tcp", "websocket"))
    if tcp > 0 and ws > 0:
        print("ws_sessions websocket_vs_tcp %.0f%%" % (100 * ws / tcp))


if __name__ == "__main__":
    main()
