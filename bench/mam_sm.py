#!/usr/bin/python3
"""What XEP-0198 stream management costs emberd (issue 16): the CPU of
acknowledgements next to that of the messages they acknowledge, and the
memory of a session waiting for its client to resume it.

A real emberd (tests/integration/harness.py, the modules emberctl init
enables, mod_mam included: an acknowledgement waits for the archive rows
of what it covers).  Sessions log in over plain TCP on loopback with
PLAIN, bind and, unless told otherwise, send no presence (so that
everything they receive is the bench's traffic).

1. Acknowledgements.  P pairs (sender u2i, echo u2i+1) keep W chat
   messages in flight per sender for S seconds; emberd's CPU from
   /proc gives messages per CPU-second.  Three runs on fresh servers:
   - none: no <enable/>;
   - per window: <enable/>, and the sender asks <r/> after every W
     messages;
   - per message: <enable/>, and an <r/> after every message, both ways.
   With SM on, each client answers the server's <r/> with the stanzas it
   received (<a h/>).  The cost of SM is 1 - (its rate / the rate of
   none); the target is <= 10 %.
   The clients are Python and use most of the CPU, so emberd gets
   smaller batches per loop turn in the modes where they do more.
   1b. Paced (--only paced, needs make bench's ember-load): the C load
   generator sends the same R messages per second in total (open loop)
   over the P pairs, without SM and with <enable/> and an <r/> after
   every W messages each sender sends (both sides answer the server's
   <r/>); emberd's CPU for the same work is compared.
2. One sender with many in flight: one session keeps 500 chat messages
   in flight to an echo for S seconds, without and with <enable/> (an
   <r/> every 100): the case of a client that sends faster than the
   archive commits.
3. Hibernation.  N sessions log in, enable SM with resumption and then
   lose their connection (closed without </stream:stream>): each waits
   <limits resume-timeout> (300 s) for its client.  emberd's RSS before
   the logins, with the sessions connected, and once they all hibernate
   gives KiB per live and per hibernating session; a second wave of N
   does the same on top of the first, so that the memory the first
   wave's connections freed and the allocator kept is not counted
   against it (wave 2 is the figure).  One session of each wave is
   resumed at the end to check that they were waiting.

    EMBER_BUILD=build /usr/bin/python3 bench/mam_sm.py \\
        [--pairs 200] [--window 4] [--secs 10] [--sessions 4000] \\
        [--without mam] [--only acks|paced|burst|hibernate|instructions]
        [--rate 5000]

4. Instructions (--only instructions, needs valgrind and make bench's
   ember-load): emberd runs under callgrind, 4 pairs at 100 messages/s
   in all (12.5 per session, as in the paced bench) without SM and with
   an <r/> every --window messages; instrumentation is on for 8 s in
   the middle of the run.  Instructions per message of the loop thread
   and of the whole process do not depend on what else the machine
   runs: the figure to compare between commits (doc/benchmarks.md).
"""

import argparse
import asyncio
import base64
import json
import os
import subprocess
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

import harness  # noqa: E402
from harness import Server  # noqa: E402

sys.path.insert(0, str(TOP / "bench"))
from ws_sessions import cpu_s, rss_kib  # noqa: E402

PASSWORD = "pw-bench"
NS_SM = "urn:xmpp:sm:3"
RX_A = re.compile(rb"<a xmlns=[\"']urn:xmpp:sm:3[\"'] h=[\"'](\d+)[\"']")
RX_ENABLED = re.compile(rb"<enabled [^>]*id=[\"']([^\"']+)[\"']")


def stanzas_in(data):
    """Top-level stanzas in data (chat messages: nothing nested)."""
    return sum(data.count(e) for e in (b"<message ", b"<presence ",
                                       b"<iq "))


class Conn:
    """One plain TCP stream, read as bytes.  With SM on it counts the
    stanzas it receives and answers the server's <r/> with them."""

    def __init__(self):
        self.buf = b""
        self.sm = False
        self.h_in = 0
        self.acked = 0          # the server's last h
        self.smid = None

    async def authenticate(self, port, user):
        """Connected, PLAIN, the stream restarted: ready to bind or
        resume."""
        self.user = user
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        header = ("<stream:stream xmlns='jabber:client' xmlns:stream="
                  "'http://etherx.jabber.org/streams' to='localhost' "
                  "version='1.0'>")
        self.w.write(header.encode())
        await self.until(b"</stream:features>")
        auth = base64.b64encode(("\0%s\0%s" % (user, PASSWORD)).encode())
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  "mechanism='PLAIN'>%s</auth>" % auth.decode())
        await self.until(b"success")
        self.w.write(header.encode())
        await self.until(b"</stream:features>")

    async def login(self, port, user, sm=False, resume=False):
        await self.authenticate(port, user)
        self.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:"
                  "ns:xmpp-bind'><resource>r</resource></bind></iq>")
        await self.until(b"</bind>")
        if sm:
            self.send("<enable xmlns='%s'%s/>" % (
                NS_SM, " resume='true'" if resume else ""))
            await self.until(b"<enabled")
            m = RX_ENABLED.search(self.buf)
            self.smid = m.group(1).decode() if m else None
            self.sm = True
            self.buf = self.buf[self.buf.index(b"<enabled"):]
            self.take(self.buf.index(b">") + 1)

    def send(self, text):
        self.w.write(text.encode())

    async def read(self):
        chunk = await self.r.read(65536)
        if not chunk:
            raise EOFError("stream closed: %r" % self.buf[-300:])
        self.buf += chunk

    async def until(self, needle):
        while needle not in self.buf:
            await self.read()

    def take(self, k):
        """Consume buf[:k] (whole stanzas): count them, answer <r/>."""
        done, self.buf = self.buf[:k], self.buf[k:]
        if not self.sm:
            return done
        self.h_in += stanzas_in(done)
        a = RX_A.findall(done)
        if a:
            self.acked = int(a[-1])
        if b"<r xmlns" in done:
            self.send("<a xmlns='%s' h='%d'/>" % (NS_SM, self.h_in))
        return done

    async def messages(self):
        """Wait for at least one whole message; how many came."""
        while True:
            k = self.buf.rfind(b"</message>")
            if k >= 0:
                return self.take(k + 10).count(b"</message>")
            await self.read()


def chat(to, body):
    return ("<message to='%s@localhost/r' type='chat'><body>%s</body>"
            "</message>" % (to, body))


async def login_all(srv, users, sm, resume=False):
    conns = []
    for start in range(0, len(users), 200):
        batch = [Conn() for _ in users[start:start + 200]]
        await asyncio.gather(*(c.login(srv.plain_port, u, sm, resume)
                               for c, u in zip(batch, users[start:])))
        conns += batch
    return conns


async def acks(srv, mode, pairs, window, secs):
    """(messages/s, messages per emberd CPU-second) for one mode: none,
    window, message."""
    sm = mode != "none"
    conns = await login_all(srv, ["u%d" % i for i in range(2 * pairs)], sm)
    count = [0]
    body = "x" * 100
    r = "<r xmlns='%s'/>" % NS_SM
    stop = time.monotonic() + secs

    async def sender(a, b_user):
        out = 0
        for _ in range(window):
            a.send(chat(b_user, body) + (r if mode == "message" else ""))
        if mode == "window":
            a.send(r)
        while time.monotonic() < stop:
            n = await a.messages()
            count[0] += n
            for _ in range(n):
                out += 1
                a.send(chat(b_user, body) + (r if mode == "message" else ""))
                if mode == "window" and out % window == 0:
                    a.send(r)

    async def echo(b, a_user):
        while time.monotonic() < stop + 1:
            try:
                n = await asyncio.wait_for(b.messages(), 1)
            except asyncio.TimeoutError:
                continue
            for _ in range(n):
                b.send(chat(a_user, body) + (r if mode == "message" else ""))

    await asyncio.sleep(1)
    c0 = cpu_s(srv.pid)
    t0 = time.monotonic()
    await asyncio.gather(*[f for i in range(pairs) for f in (
        sender(conns[2 * i], "u%d" % (2 * i + 1)),
        echo(conns[2 * i + 1], "u%d" % (2 * i)))], return_exceptions=False)
    used = cpu_s(srv.pid) - c0
    # The echoes ran a second longer than the senders: count to stop.
    dt = stop - t0
    for c in conns:
        c.w.close()
    # Each counted message is a round trip's second half: two delivered.
    return 2 * count[0] / dt, 2 * count[0] / used if used > 0 else 0.0


async def burst(srv, sm, secs, window=500, chunk=100):
    """One sender, `window` in flight to an echo: msgs per CPU-second."""
    a, b = await login_all(srv, ["u0", "u1"], sm)
    body = "x" * 100
    r = "<r xmlns='%s'/>" % NS_SM if sm else ""
    stop = time.monotonic() + secs
    sent = got = 0

    async def echo():
        while True:
            try:
                n = await asyncio.wait_for(b.messages(), 2)
            except asyncio.TimeoutError:
                return
            b.send(chat("u0", body) * n)

    t = asyncio.ensure_future(echo())
    c0 = cpu_s(srv.pid)
    while True:
        while sent - got < window and time.monotonic() < stop:
            a.send(chat("u1", body) * chunk + r)
            sent += chunk
        if got >= sent:
            break
        got += await a.messages()
    used = cpu_s(srv.pid) - c0
    await t
    a.w.close()
    b.w.close()
    return 2 * got / used if used > 0 else 0.0


async def hibernate(srv, n, first):
    """Log n sessions in with resumable SM, then drop their connections:
    (KiB per live session, KiB per hibernating session, a resumable one)."""
    rss0 = rss_kib(srv.pid)
    conns = await login_all(srv, ["u%d" % i for i in range(first,
                                                           first + n)],
                            True, resume=True)
    await asyncio.sleep(1)
    rss1 = rss_kib(srv.pid)
    for c in conns:
        c.w.transport.abort()           # no </stream:stream>: hibernate
    await asyncio.sleep(3)
    rss2 = rss_kib(srv.pid)
    return (rss1 - rss0) / n, (rss2 - rss0) / n, conns[0]


async def resume(srv, old):
    c = Conn()
    await c.authenticate(srv.plain_port, old.user)
    c.send("<resume xmlns='%s' previd='%s' h='%d'/>"
           % (NS_SM, old.smid, old.h_in))
    while b"<resumed" not in c.buf and b"<failed" not in c.buf:
        await c.read()
    ok = b"<resumed" in c.buf
    c.w.close()
    return ok


def server(d, without, users):
    srv = Server(d)
    srv.add_plain_listener()
    for name in without:
        srv.remove_module(name)
    srv.set_limits(max_connections_per_ip="0",
                   connections_per_second_per_ip="0")
    for lis in srv.cfg.iter("listen"):
        if lis.get("type") == "c2s":
            lis.set("rate", "0")
    srv.set_log("warn")
    srv.save()
    srv.ctl_ok("batch", input="".join(
        "adduser u%d@localhost %s\n" % (i, PASSWORD) for i in range(users)),
        timeout=600)
    return srv


def paced(srv, pairs, sm_ask, rate, window, secs):
    """ember-load, open loop: (msgs per emberd CPU-second, the run's
    JSON)."""
    load = Path(os.environ.get("EMBER_BUILD", "build")) / "bench" / \
        "ember-load"
    if not load.is_absolute():
        load = TOP / load
    out = subprocess.run(
        [str(load), "--port", str(srv.plain_port), "--domain", "localhost",
         "--password", PASSWORD, "--users", str(2 * pairs), "--pairs",
         "--rate", str(rate), "--window", str(window), "--sm", str(sm_ask),
         "--mech", "PLAIN",
         "--settle", "1", "--warmup", "2", "--duration", str(int(secs)),
         "--server-pid", str(srv.pid)],
        capture_output=True, text=True, check=True).stdout
    j = json.loads(out.strip().splitlines()[-1])
    return j["msgs_per_cpu_s"], j


def callgrind_totals(out_dir, pid):
    """{thread number: instructions} of callgrind's first dump of pid."""
    totals = {}
    for f in Path(out_dir).glob("out-%d.1-*" % pid):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                totals[int(f.name.rsplit("-", 1)[1])] = int(line.split()[1])
    return totals


def instructions(without, window, on_secs=8):
    """Loop-thread and process instructions per message under callgrind,
    without SM and with an <r/> every window messages: {sm_ask: (loop,
    all)}."""
    load = Path(os.environ.get("EMBER_BUILD", "build")) / "bench" / \
        "ember-load"
    if not load.is_absolute():
        load = TOP / load
    rate, users, out = 100, 8, {}
    for sm_ask in (0, window):
        with tempfile.TemporaryDirectory() as d:
            cg = Path(d) / "cg"
            cg.mkdir()
            wrapper = Path(d) / "emberd-callgrind"
            wrapper.write_text(
                "#!/bin/sh\nexec valgrind --tool=callgrind "
                "--separate-threads=yes --instr-atstart=no "
                "--callgrind-out-file=%s/out-%%p %s \"$@\"\n"
                % (cg, harness.EMBERD))
            wrapper.chmod(0o755)
            srv = server(os.path.join(d, "srv"), without, users)
            real, harness.EMBERD = harness.EMBERD, wrapper
            try:
                srv.start(wait=False)
                srv.wait_ready(timeout=180)
            finally:
                harness.EMBERD = real
            try:
                gen = subprocess.Popen(
                    [str(load), "--port", str(srv.plain_port), "--domain",
                     "localhost", "--password", PASSWORD, "--users",
                     str(users), "--pairs", "--rate", str(rate),
                     "--window", "4", "--sm", str(sm_ask), "--mech",
                     "PLAIN", "--settle", "1", "--warmup", "3",
                     "--duration", str(on_secs + 6)],
                    stdout=subprocess.PIPE, text=True)
                time.sleep(7)
                subprocess.run(["callgrind_control", "-i", "on",
                                str(srv.pid)], check=True,
                               capture_output=True)
                time.sleep(on_secs)
                subprocess.run(["callgrind_control", "-d", str(srv.pid)],
                               check=True, capture_output=True)
                gen.communicate(timeout=120)
            finally:
                srv.stop(check=False)
            totals = callgrind_totals(cg, srv.pid)
            if 1 not in totals:
                raise SystemExit("no callgrind dump of emberd in %s" % cg)
            msgs = rate * on_secs
            out[sm_ask] = (totals[1] / msgs, sum(totals.values()) / msgs)
        print("mam_sm instructions %-9s loop thread %.0f per message, "
              "all threads %.0f%s" % (
                  "sm r/%d" % sm_ask if sm_ask else "no SM",
                  out[sm_ask][0], out[sm_ask][1],
                  "" if sm_ask == 0 else
                  "  (SM costs %.1f %% of the loop thread)" % (
                      100 * out[sm_ask][0] / out[0][0] - 100)),
              flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--sessions", type=int, default=4000)
    ap.add_argument("--without", action="append", default=[],
                    metavar="MODULE")
    ap.add_argument("--only", choices=("acks", "paced", "burst",
                                       "hibernate", "instructions"))
    ap.add_argument("--rate", type=int, default=5000,
                    help="paced: messages per second in total (0: as fast "
                    "as --window in flight per sender allows)")
    ap.add_argument("--modes", default="none,window,message",
                    help="acknowledgement runs, of none,window,message")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(a.sessions, (hard - 300) // 2)
    if a.only in (None, "acks"):
        rates = {}
        for mode in a.modes.split(","):
            with tempfile.TemporaryDirectory() as d:
                srv = server(d, a.without, 2 * a.pairs)
                srv.start()
                try:
                    rates[mode] = asyncio.run(acks(srv, mode, a.pairs,
                                                   a.window, a.secs))[1]
                finally:
                    srv.stop(check=False)
            print("mam_sm acks %-7s msgs_per_cpu_s %.0f%s" % (
                mode, rates[mode], "" if "none" not in rates or
                mode == "none" else
                "  (%.0f %% of none: SM costs %.0f %%)" % (
                    100 * rates[mode] / rates["none"],
                    100 - 100 * rates[mode] / rates["none"])), flush=True)
    if a.only in (None, "paced"):
        rates = {}
        for sm_ask in (0, a.window):
            with tempfile.TemporaryDirectory() as d:
                srv = server(d, a.without, 2 * a.pairs)
                srv.start()
                try:
                    rates[sm_ask], j = paced(srv, a.pairs, sm_ask, a.rate,
                                             a.window, a.secs)
                finally:
                    srv.stop(check=False)
            print("mam_sm paced %s %-13s msgs_per_cpu_s %.0f  delivered "
                  "%d/%d  p99 %.2f ms%s" % (
                      "%d/s" % a.rate if a.rate else "closed loop",
                      "sm r/%d" % sm_ask if sm_ask else "no SM",
                      rates[sm_ask], j["delivered"], j["sent"], j["p99_ms"],
                      "" if sm_ask == 0 else
                      "  (SM costs %.0f %%)" % (100 - 100 * rates[sm_ask] /
                                                rates[0])), flush=True)
    if a.only in (None, "burst"):
        rates = {}
        for sm in (False, True):
            with tempfile.TemporaryDirectory() as d:
                srv = server(d, a.without, 2)
                srv.start()
                try:
                    rates[sm] = asyncio.run(burst(srv, sm, a.secs))
                finally:
                    srv.stop(check=False)
        print("mam_sm burst (1 sender, 500 in flight) msgs_per_cpu_s "
              "without SM %.0f, with SM %.0f (%.0f %%)"
              % (rates[False], rates[True],
                 100 * rates[True] / rates[False]), flush=True)
    if a.only in (None, "hibernate"):
        with tempfile.TemporaryDirectory() as d:
            srv = server(d, a.without, 2 * n)
            srv.start()
            try:
                live1, hib1, s1 = asyncio.run(hibernate(srv, n, 0))
                rss_a = rss_kib(srv.pid)
                live2, hib2, s2 = asyncio.run(hibernate(srv, n, n))
                per2 = (rss_kib(srv.pid) - rss_a) / n
                ok = asyncio.run(resume(srv, s1)) and \
                    asyncio.run(resume(srv, s2))
            finally:
                srv.stop(check=False)
        print("mam_sm hibernate sessions %d live_kib %.1f wave1_kib %.1f "
              "wave2_kib %.1f resumed %s" % (n, live1, hib1, per2,
                                             "yes" if ok else "NO"))


    if a.only == "instructions":
        instructions(a.without, a.window)


if __name__ == "__main__":
    main()
