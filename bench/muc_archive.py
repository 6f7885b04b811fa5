#!/usr/bin/python3
"""Room archive (XEP-0313 on a MUC room): how fast a room archives its
messages, and what a page of 50 costs once the archive is large.

Starts its own emberd (EMBER_BUILD, default build/) through
tests/integration/harness.py, fills one room's archive with N groupchat
messages from one occupant (pipelined, message-rate off), then times, from
the query's iq to its <fin/>, with a second client:

- pages walked back from the end (RSM <before/>, then before=first), the
  way a client scrolls up;
- pages before random items of the whole archive (RSM before=ID);
- pages bounded by a time instead (form 'end' = a random item's stamp,
  RSM <before/>): the store then finds them by time.

    /usr/bin/python3 bench/muc_archive.py [--messages 100000] [--pages 200]

prints
    room archive: N messages archived at R msgs/s
    page of 50, walking back: p50 X ms, p99 Y ms
    ...
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402
from rawxmpp import NS_CLIENT, RawClient, q  # noqa: E402

NS_MUC = "http://jabber.org/protocol/muc"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SID = "urn:xmpp:sid:0"
NS_FWD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
PASSWORD = "pw-bench"
PAGE = 50


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def join(c, room, nick):
    c.send("<presence to='%s/%s'><x xmlns='%s'/></presence>"
           % (room, nick, NS_MUC))
    c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
           e.get("from") == room + "/" + nick, timeout=30)


class Querier:
    def __init__(self, c, room):
        self.c, self.room, self.n = c, room, 0

    def page(self, rsm, form=""):
        """(ms, [(id, stamp)], first) of one query."""
        self.n += 1
        qid = "b%d" % self.n
        t0 = time.perf_counter()
        self.c.send("<iq type='set' id='%s' to='%s'><query xmlns='%s' "
                    "queryid='%s'>%s<set xmlns='%s'><max>%d</max>%s</set>"
                    "</query></iq>" % (qid, self.room, NS_MAM, qid, form,
                                       NS_RSM, PAGE, rsm))
        items = []
        while True:
            el = self.c.recv(timeout=60)
            if el.tag == q(NS_CLIENT, "iq") and el.get("id") == qid:
                break
            r = el.find(q(NS_MAM, "result"))
            if r is not None:
                d = r.find(q(NS_FWD, "forwarded")).find(q(NS_DELAY, "delay"))
                items.append((r.get("id"), d.get("stamp")))
        ms = (time.perf_counter() - t0) * 1000
        if el.get("type") != "result":
            raise SystemExit("bench: query failed: %r" % el.attrib)
        first = el.find(q(NS_MAM, "fin")).find(q(NS_RSM, "set")).findtext(
            q(NS_RSM, "first"))
        return ms, items, first


def fill(c, room, n):
    """n groupchat messages, 500 in flight; their stanza ids."""
    ids, sent, t0 = [], 0, time.perf_counter()
    while sent < n:
        chunk = min(500, n - sent)
        c.send("".join("<message to='%s' type='groupchat'><body>message %d "
                       "of the bench, long enough to look like chat</body>"
                       "</message>" % (room, sent + i) for i in range(chunk)))
        for _ in range(chunk):
            m = c.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                       e.find(q(NS_CLIENT, "body")) is not None, timeout=60)
            sid = m.find(q(NS_SID, "stanza-id"))
            ids.append(sid.get("id"))
        sent += chunk
    return ids, n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--pages", type=int, default=200)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ember-mucmam-bench."))
    srv = Server(root)
    srv.add_plain_listener().set("rate", "0")   # no shaper (doc/benchmarks.md)
    srv.set_log("warn")
    srv.add_module("muc", message_rate=0, default_history=0)
    srv.ctl_ok("batch", input="".join(
        "adduser %s@%s %s\n" % (u, srv.domain, PASSWORD)
        for u in ("speaker", "reader")))
    srv.start()
    try:
        room = "archive@conference." + srv.domain
        s = RawClient(srv.plain_port, domain=srv.domain)
        s.login("speaker", PASSWORD)
        join(s, room, "speaker")
        s.iq("set", "<query xmlns='%s#owner'><x xmlns='jabber:x:data' "
             "type='submit'/></query>" % NS_MUC, to=room)
        ids, rate = fill(s, room, args.messages)
        print("room archive: %d messages archived at %.0f msgs/s"
              % (len(ids), rate))
        r = RawClient(srv.plain_port, domain=srv.domain)
        r.login("reader", PASSWORD)
        qr = Querier(r, room)
        rng = random.Random(1)

        walk, before = [], ""
        for _ in range(args.pages):
            ms, items, first = qr.page("<before>%s</before>" % before
                                       if before else "<before/>")
            walk.append(ms)
            if not items:
                break
            before = first
        deep, stamps = [], []
        for _ in range(args.pages):
            ms, items, _ = qr.page("<before>%s</before>"
                                   % rng.choice(ids[PAGE:]))
            deep.append(ms)
            stamps.extend(st for _, st in items[:1])
        timed = []
        for st in stamps[:max(10, args.pages // 4)]:
            ms, _, _ = qr.page("<before/>", form=(
                "<x xmlns='jabber:x:data' type='submit'><field "
                "var='FORM_TYPE'><value>%s</value></field><field var='end'>"
                "<value>%s</value></field></x>" % (NS_MAM, st)))
            timed.append(ms)
        for name, xs in (("walking back from the end", walk),
                         ("before a random item", deep),
                         ("bounded by 'end' (time)", timed)):
            print("page of %d, %s: p50 %.1f ms, p99 %.1f ms (%d pages)"
                  % (PAGE, name, pct(xs, 50), pct(xs, 99), len(xs)))
        s.close()
        r.close()
    finally:
        srv.stop(check=False)


if __name__ == "__main__":
    main()
