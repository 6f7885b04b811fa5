#!/usr/bin/python3
"""Archives at 10,000,000 messages (XEP-0313, issue 16): what a page of 50
costs in a large account archive and a large room archive, and how fast
new messages are archived on top of them.

Filling 10M messages through XMPP would take the bench most of an hour,
so the database is seeded directly, through mod_storage_sqlite's own
code: bench/mam_seed/mam_seed.c is compiled here against the module's
sources (modules/storage_sqlite/*.c) and calls the module's own open
(schema and migrations) and append, so the rows are exactly what the
module of this tree writes.  Then emberd (EMBER_BUILD, default build/)
starts on that file and everything is measured over XMPP:

1. emberd is started once on an empty data directory to create a
   persistent, archived, open room (bench@conference.localhost), and
   stopped;
2. mam_seed writes MESSAGES items into its database, one time line dealt
   out at random: 45 % to alice's archive (100 contacts), 45 % to the
   room's (20 occupants), 10 % to 1,000 other accounts; then checks the
   plan of every query shape the module can make (--plans);
3. emberd starts on it; alice queries her archive and another account
   (reader) the room's, pages of 50 timed from the query's iq to its
   <fin/> (the 50 results included): the last page, walking back from
   it, before and after random items, bounded by 'end', by 'start', by
   both, with 'with', flipped, and metadata;
4. appends on top of it, for --append-secs each: one occupant keeps
   500 groupchat messages in flight to the room (with --sm it enables
   XEP-0198 and asks <r/> every 100, and the count ends once every
   message is acknowledged, i.e. committed); then 100 pairs of accounts
   keep 4 chat messages in flight each (every message is two appends:
   the sender's archive and the recipient's).  Messages/s and emberd's
   CPU per message.

    EMBER_BUILD=build /usr/bin/python3 bench/mam_archive.py \\
        [--messages 10000000] [--pages 100] [--append-secs 10] [--sm] \\
        [--keep]

The database (about 4 GB at 10M) lives in a temporary directory under
/tmp and is deleted at the end (--keep keeps it).  At 10M, seeding takes
about 3 minutes on 2 cores and the whole run about 5; --messages 1000000
for a quick run.
"""

import argparse
import asyncio
import base64
import datetime
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import B, Server  # noqa: E402
from rawxmpp import RawClient  # noqa: E402

sys.path.insert(0, str(TOP / "bench"))
import mam_sm  # noqa: E402
from ws_sessions import cpu_s  # noqa: E402

NS_MUC = "http://jabber.org/protocol/muc"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SM = "urn:xmpp:sm:3"
PASSWORD = "pw-bench"
PAGE = 50
CHAT_PAIRS = 100


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else 0.0


def stamp(us):
    t = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_seeder(work):
    out = work / "mam_seed"
    srcs = sorted(str(p) for p in (TOP / "modules" / "storage_sqlite")
                  .glob("*.c"))
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-O2", "-std=c11", "-D_GNU_SOURCE", "-I" + str(TOP),
           "-I" + str(TOP / "plugin-api"),
           "-I" + str(TOP / "modules" / "storage_sqlite"), "-o", str(out),
           str(TOP / "bench" / "mam_seed" / "mam_seed.c")] + srcs + [
           "-lsqlite3", "-ljansson", "-lpthread"]
    subprocess.run(cmd, check=True)
    return out


class Fast:
    """A session over plain TCP read as raw bytes: the client parses only
    what it needs (the iq's end, the first id), so the timings are the
    server's."""

    def __init__(self, port, domain, user):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=120)
        self.buf = b""
        self.n = 0
        header = ("<stream:stream xmlns='jabber:client' xmlns:stream="
                  "'http://etherx.jabber.org/streams' to='%s' "
                  "version='1.0'>" % domain)
        # Plain TCP on loopback, PLAIN: no TLS to cost either side.
        self.send(header)
        self.until(b"</stream:features>")
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  "mechanism='PLAIN'>%s</auth>" % base64.b64encode(
                      ("\0%s\0%s" % (user, PASSWORD)).encode()).decode())
        self.until(b"<success")
        self.send(header)
        self.until(b"</stream:features>")
        self.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:"
                  "xml:ns:xmpp-bind'><resource>bench</resource></bind>"
                  "</iq>")
        self.until(b"</bind>")
        self.buf = b""

    def until(self, needle):
        while needle not in self.buf:
            self.read()

    def close(self):
        self.sock.close()

    def send(self, s):
        self.sock.sendall(s.encode())

    def read(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise SystemExit("bench: emberd closed the stream: %r"
                             % self.buf[-300:])
        self.buf += d

    def iq_reply(self, qid):
        """The bytes up to the end of the iq reply with id qid."""
        rx = re.compile(rb"<iq\b[^>]*\bid=[\"']%s[\"'][^>]*>" % qid.encode())
        while True:
            m = rx.search(self.buf)
            if m:
                if m.group(0).endswith(b"/>"):
                    end = m.end()
                    break
                j = self.buf.find(b"</iq>", m.end())
                if j >= 0:
                    end = j + 5
                    break
            self.read()
        chunk, self.buf = self.buf[:end], self.buf[end:]
        if b"type=\"result\"" not in m.group(0) and \
                b"type='result'" not in m.group(0):
            raise SystemExit("bench: query failed: %r" % chunk[-600:])
        return chunk

    def page(self, to, rsm="", form="", flip=False, max_=PAGE):
        """(ms, results, first id) of one query."""
        self.n += 1
        qid = "b%d" % self.n
        t0 = time.perf_counter()
        self.send("<iq type='set' id='%s'%s><query xmlns='%s' queryid='%s'>"
                  "%s<set xmlns='%s'><max>%d</max>%s</set>%s</query></iq>"
                  % (qid, " to='%s'" % to if to else "", NS_MAM, qid, form,
                     NS_RSM, max_, rsm, "<flip-page/>" if flip else ""))
        chunk = self.iq_reply(qid)
        ms = (time.perf_counter() - t0) * 1000
        m = re.search(rb"<first[^>]*>([^<]*)</first>", chunk)
        return ms, chunk.count(b"<result "), (m.group(1).decode()
                                               if m else None)

    def metadata(self, to):
        self.n += 1
        qid = "b%d" % self.n
        t0 = time.perf_counter()
        self.send("<iq type='get' id='%s'%s><metadata xmlns='%s'/></iq>"
                  % (qid, " to='%s'" % to if to else "", NS_MAM))
        self.iq_reply(qid)
        return (time.perf_counter() - t0) * 1000


def form(**fields):
    out = ["<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
           "type='hidden'><value>%s</value></field>" % NS_MAM]
    for k, v in fields.items():
        out.append("<field var='%s'><value>%s</value></field>" % (k, v))
    return "".join(out) + "</x>"


def measure(f, to, info, peer, pages, rng):
    """{shape: [ms...]} for one archive."""
    samples = info["samples"]
    first, last = info["first"], info["last"]
    out = {}

    def run(name, fn, n=pages):
        xs = out.setdefault(name, [])
        for _ in range(n):
            ms, got = fn()
            if got == 0:
                raise SystemExit("bench: %s: empty page" % name)
            xs.append(ms)

    def rid():
        return str(rng.choice(samples))

    def rstamp(lo=0.0, hi=1.0):
        return stamp(first + int((last - first) * rng.uniform(lo, hi)))

    run("last page", lambda: f.page(to, "<before/>")[:2])
    before = [None]

    def walk():
        ms, got, fst = f.page(to, "<before>%s</before>" % before[0]
                              if before[0] else "<before/>")
        before[0] = fst
        return ms, got
    run("walking back", walk)
    run("before a random item",
        lambda: f.page(to, "<before>%s</before>" % rid())[:2])
    run("after a random item",
        lambda: f.page(to, "<after>%s</after>" % rid())[:2])
    run("'end' (time), last page",
        lambda: f.page(to, "<before/>", form(end=rstamp(0.01)))[:2])
    run("'start' (time), first page",
        lambda: f.page(to, "", form(start=rstamp(0, 0.99)))[:2])
    run("'start' and 'end'",
        lambda: f.page(to, "", form(start=rstamp(0, 0.5),
                                    end=rstamp(0.5, 1)))[:2])
    run("'with', before a random item",
        lambda: f.page(to, "<before>%s</before>" % rid(),
                       form(**{"with": peer}))[:2])
    run("flip-page, before a random item",
        lambda: f.page(to, "<before>%s</before>" % rid(), flip=True)[:2])
    out["metadata"] = [f.metadata(to) for _ in range(pages)]
    return out


def report(label, res):
    allp = []
    print("%s:" % label)
    for name, xs in res.items():
        print("  %-34s p50 %6.2f ms  p99 %6.2f ms  (%d)"
              % (name, pct(xs, 50), pct(xs, 99), len(xs)))
        if name != "metadata":
            allp.extend(xs)
    print("  %-34s p50 %6.2f ms  p99 %6.2f ms  (%d)"
          % ("every page", pct(allp, 50), pct(allp, 99), len(allp)))
    return pct(allp, 99)


def stanzas_in(data):
    """Top-level stanzas in data (nothing nested here: no MAM results)."""
    return sum(data.count(e) for e in (b"<message ", b"<presence ",
                                       b"<iq "))


def appends(srv, room, secs, sm, window=500, chunk=100):
    """One occupant keeps `window` groupchat messages in flight for secs:
    (msgs/s, emberd CPU us per message, messages), counted once every
    message came back from the room.  With sm, an <r/> after every
    `chunk`, and the count ends once the server acknowledged them all
    (XEP-0198: after their archive rows are committed); the client
    answers the server's <r/> with the stanzas it received."""
    f = Fast(srv.plain_port, srv.domain, "speaker")
    if sm:
        f.send("<enable xmlns='%s'/>" % NS_SM)
        f.until(b"<enabled")
    f.send("<presence to='%s/speaker'><x xmlns='%s'/></presence>"
           "<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>"
           % (room, NS_MUC))
    f.until(b"id=\"sync\"")
    f.until(b"110")                 # status 110: our own presence
    k = f.buf.rfind(b">") + 1
    h_in = stanzas_in(f.buf[:k])
    if b"<r xmlns" in f.buf[:k]:
        f.send("<a xmlns='%s' h='%d'/>" % (NS_SM, h_in))
    f.buf = f.buf[k:]
    msg = ("<message to='%s' type='groupchat'><body>appended on top of the "
           "archive, long enough to look like chat</body></message>" % room)
    burst = msg * chunk + ("<r xmlns='%s'/>" % NS_SM if sm else "")
    sent = got = acked = 0
    rx_a = re.compile(rb"<a xmlns=[\"']%s[\"'] h=[\"'](\d+)[\"']"
                      % NS_SM.encode())
    t0 = time.perf_counter()
    c0 = cpu_s(srv.pid)
    deadline = t0 + secs
    while True:
        while sent - got < window and time.perf_counter() < deadline:
            f.send(burst)
            sent += chunk
        # The presence to the room and the ping count as stanzas too.
        if got >= sent and (not sm or acked >= sent + 2):
            break
        f.read()
        a = rx_a.findall(f.buf)
        if a:
            acked = max(acked, int(a[-1]))
        k = f.buf.rfind(b"</message>")
        if k < 0:
            continue
        done, f.buf = f.buf[:k + 10], f.buf[k + 10:]
        got += done.count(b"</body>")
        h_in += stanzas_in(done)
        if sm and b"<r xmlns" in done:
            f.send("<a xmlns='%s' h='%d'/>" % (NS_SM, h_in))
    dt = time.perf_counter() - t0
    c1 = cpu_s(srv.pid)
    f.close()
    return got / dt, (c1 - c0) * 1e6 / got, got


def chats(srv, secs):
    """CHAT_PAIRS pairs of accounts, 4 chat messages in flight each:
    (msgs/s, msgs per emberd CPU-second, the client used).  ember-load
    (make bench builds it) when there is one: a Python client would be
    the bottleneck."""
    load = B / "bench" / "ember-load"
    if not load.exists():
        per_s, per_cpu = asyncio.run(mam_sm.acks(srv, "none", CHAT_PAIRS, 4,
                                                 secs))
        return per_s, per_cpu, "Python"
    out = subprocess.run(
        [str(load), "--port", str(srv.plain_port), "--domain", srv.domain,
         "--password", PASSWORD, "--users", str(2 * CHAT_PAIRS), "--pairs",
         "--window", "4", "--mech", "PLAIN", "--settle", "1", "--warmup",
         "2", "--duration", str(int(secs)), "--server-pid", str(srv.pid)],
        capture_output=True, text=True, check=True).stdout
    j = json.loads(out.strip().splitlines()[-1])
    return j["msgs_per_s"], j["msgs_per_cpu_s"], "ember-load"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000000)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--append-secs", type=float, default=10)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--sm", action="store_true", help="the occupant that "
                    "appends to the room enables XEP-0198 and asks <r/>")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ember-mam-bench."))
    # About 370 bytes a message, the WAL and the plans file besides.
    free = shutil.disk_usage(work).free
    if args.messages * 450 > free:
        n = max(100000, int(free / 450) // 100000 * 100000)
        print("mam_archive: %.1f GB free in %s: %d messages instead of %d"
              % (free / 1e9, work.parent, n, args.messages))
        args.messages = n
    srv = None
    try:
        seeder = build_seeder(work)
        srv = Server(work / "srv")
        srv.add_plain_listener().set("rate", "0")
        srv.set_limits(max_connections_per_ip="0",
                       connections_per_second_per_ip="0")
        srv.set_log("warn")
        srv.add_module("muc", message_rate=0, default_history=0)
        srv.ctl_ok("batch", input="".join(
            "adduser %s@%s %s\n" % (u, srv.domain, PASSWORD)
            for u in ["alice", "reader", "speaker"] +
            ["u%d" % i for i in range(2 * CHAT_PAIRS)]))
        srv.start()
        room = "bench@conference." + srv.domain
        c = RawClient(srv.plain_port, domain=srv.domain)
        c.login("speaker", PASSWORD, mech="PLAIN")
        c.send("<presence to='%s/speaker'><x xmlns='%s'/></presence>"
               % (room, NS_MUC))
        c.iq("set", "<query xmlns='%s#owner'><x xmlns='jabber:x:data' "
             "type='submit'><field var='muc#roomconfig_persistentroom'>"
             "<value>1</value></field><field var='muc#roomconfig_"
             "enablearchiving'><value>1</value></field></x></query>"
             % NS_MUC, to=room)
        c.close()
        time.sleep(0.3)
        srv.stop()
        db = srv.dir / "data" / "ember.db"
        print("mam_archive: seeding %d messages into %s" % (args.messages,
                                                             db))
        t0 = time.perf_counter()
        r = subprocess.run([str(seeder), str(db), srv.domain,
                            str(args.messages), "--room", room],
                           check=True, capture_output=True, text=True)
        seed_s = time.perf_counter() - t0
        info = json.loads(r.stdout)
        size = sum(p.stat().st_size for p in db.parent.glob("ember.db*"))
        print("seeded in %.0f s: %.2f GB, alice %d items, room %d items"
              % (seed_s, size / 1e9, info["user"]["count"],
                 info["room"]["count"]))
        # SQLite plans without statistics (the module runs no ANALYZE):
        # the same on a small file, where running every shape is quick.
        r = subprocess.run([str(seeder), str(work / "plans.db"), srv.domain,
                            "20000", "--room", room, "--plans"],
                           capture_output=True, text=True)
        shapes = r.stdout.count("archive statement")
        print("query plans: %d statements, %s" % (
            shapes, "none reads a whole table or sorts" if r.returncode == 0
            else "SOME READ A WHOLE TABLE OR SORT:\n" + r.stderr))
        t0 = time.perf_counter()
        srv.start()
        rng = random.Random(1)
        alice = Fast(srv.plain_port, srv.domain, "alice")
        reader = Fast(srv.plain_port, srv.domain, "reader")
        # One page each first: the timings are of a running server.
        alice.page(None, "<before/>")
        reader.page(room, "<before/>")
        p99u = report("account archive (alice, %d items)"
                      % info["user"]["count"],
                      measure(alice, None, info["user"],
                              "c1@" + srv.domain, args.pages, rng))
        p99r = report("room archive (%s, %d items)"
                      % (room, info["room"]["count"]),
                      measure(reader, room, info["room"], room + "/n1",
                              args.pages, rng))
        alice.close()
        reader.close()
        rate, us, n = appends(srv, room, args.append_secs, args.sm)
        print("appends on top, room: %d groupchat messages from one "
              "occupant (500 in flight%s) archived at %.0f msgs/s, %.1f us "
              "of emberd CPU each" % (n, ", SM" if args.sm else "", rate,
                                      us))
        per_s, per_cpu, client = chats(srv, args.append_secs)
        print("appends on top, chats (%s): %d pairs, 4 in flight each: "
              "%.0f msgs/s (%.0f appends/s: sender's and recipient's "
              "archive), %.1f us of emberd CPU per message"
              % (client, CHAT_PAIRS, per_s, 2 * per_s, 1e6 / per_cpu))
        print("mam_archive: messages %d page_p99_ms account %.2f room %.2f "
              "room_appends_per_s %.0f chat_appends_per_s %.0f"
              % (args.messages, p99u, p99r, rate, 2 * per_s))
    finally:
        if srv is not None:
            srv.stop(check=False)
        if args.keep:
            print("mam_archive: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
