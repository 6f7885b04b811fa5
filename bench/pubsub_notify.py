#!/usr/bin/python3
"""Pubsub notification rate: one node on pubsub.localhost with 10,000
subscribers, K items published, every notification delivered to a
connected socket and counted there.

Its own emberd (EMBER_BUILD, default build/) started by
tests/integration/harness.py, with a plaintext loopback c2s listener.
SESSIONS accounts (default 50) log in (one resource each, available); the
node owner subscribes 10,000 distinct JIDs, SUBSCRIBERS / SESSIONS full JIDs per
account (bench3@localhost/r17 ...).  Those resources are not bound, so the
server routes each notification for them to the account's bare JID
(RFC 6121 section 8.5.3.2.1), which reaches the one connected resource:
each notification is routed and delivered, and one selector thread
counts the <message/>s they receive.  The clock runs from the first
publish sent to the last notification counted, and the script prints

    pubsub notify: N notifications/s (10000 subscribers)

    EMBER_BUILD=build /usr/bin/python3 bench/pubsub_notify.py [--items K]
"""

import argparse
import selectors
import sys
import tempfile
import threading
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402
from rawxmpp import RawClient  # noqa: E402

PS = "http://jabber.org/protocol/pubsub"
SERVICE = "pubsub.localhost"
PASSWORD = "pw-bench"
TIME_LIMIT = 300.0


class Counter(threading.Thread):
    """Counts notifications in the raw bytes of the logged-in sockets (one
    selector, plaintext loopback streams)."""

    def __init__(self, clients):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        for c in clients:
            c.sock.setblocking(False)
            self.sel.register(c.sock, selectors.EVENT_READ, [b""])
        self.count = 0
        self.stop = False

    def run(self):
        while not self.stop:
            for key, _ in self.sel.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    self.sel.unregister(key.fileobj)
                    continue
                # An end tag split across two reads counts once: keep only
                # what follows the last complete one.
                buf = key.data[0] + data
                self.count += buf.count(b"</event>")
                cut = buf.rfind(b"</event>")
                key.data[0] = (buf[cut + 8:] if cut >= 0 else buf)[-16:]


def login(port, user, resource):
    """Log in over plaintext loopback (no STARTTLS: the counter reads the
    raw socket)."""
    c = RawClient(port, domain="localhost")
    c.open()
    r = c.auth_scram(user, PASSWORD)
    assert r == "success", "authentication failed: %s" % r
    c.features = c.open()
    c.bind(resource)
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10)
    ap.add_argument("--subscribers", type=int, default=10000)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--window", type=int, default=4,
                    help="items published ahead of the notifications")
    args = ap.parse_args()
    subs, k, nsess = args.subscribers, args.items, args.sessions

    with tempfile.TemporaryDirectory(prefix="ember-psbench-") as tmp:
        srv = Server(Path(tmp))
        srv.add_plain_listener().set("rate", "0")   # no shaper
        srv.set_log("warn")
        srv.set_limits(connections_per_second_per_ip=0)
        srv.adduser("owner", PASSWORD)
        for i in range(nsess):
            srv.adduser("bench%d" % i, PASSWORD)
        srv.start()
        try:
            run(srv, subs, k, nsess, args.window)
        finally:
            srv.stop(check=False)


def run(srv, subs, k, nsess, window):
    owner = login(srv.plain_port, "owner", "o")
    el = owner.iq("set", "<pubsub xmlns='%s'><create node='bench'/>"
                  "<configure><x xmlns='jabber:x:data' type='submit'>"
                  "<field var='FORM_TYPE' type='hidden'><value>%s#node_config"
                  "</value></field><field var='pubsub#max_items'><value>10"
                  "</value></field></x></configure></pubsub>" % (PS, PS),
                  to=SERVICE)
    assert el.get("type") == "result", "create failed"
    clients = []
    for i in range(nsess):
        c = login(srv.plain_port, "bench%d" % i, "live")
        c.presence()
        c.sync()
        clients.append(c)
    per = subs // nsess
    jids = ["bench%d@localhost/r%d" % (i, j)
            for i in range(nsess) for j in range(per)]
    chunk = 500
    t0 = time.time()
    for off in range(0, len(jids), chunk):
        body = "".join("<subscription jid='%s' subscription='subscribed'/>"
                       % j for j in jids[off:off + chunk])
        el = owner.iq("set", "<pubsub xmlns='%s#owner'><subscriptions "
                      "node='bench'>%s</subscriptions></pubsub>" % (PS, body),
                      to=SERVICE, timeout=60)
        assert el.get("type") == "result", "subscriptions set failed"
    setup_s = time.time() - t0
    counter = Counter(clients)
    counter.start()
    # "subscribed" notices of the owner's subscriptions go out first (one
    # per JID): wait for them and count from zero.
    want = len(jids)
    deadline = time.time() + TIME_LIMIT
    while counter.count < want and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    counter.count = 0
    payload = "<entry xmlns='http://www.w3.org/2005/Atom'><title>%d</title>" \
              "<summary>benchmark item</summary></entry>"
    want = len(jids) * k
    t0 = time.time()
    # At most `window` items ahead of what the sockets counted, so that no
    # session's write backlog reaches the server's limit (4 MiB), past
    # which it would cut a reader that lags.
    for i in range(k):
        while (counter.count < (i - window) * len(jids) and
               time.time() < deadline):
            time.sleep(0.001)
        owner.send("<iq type='set' id='p%d' to='%s'><pubsub xmlns='%s'>"
                   "<publish node='bench'><item id='i%d'>%s</item></publish>"
                   "</pubsub></iq>" % (i, SERVICE, PS, i, payload % i))
    while counter.count < want and time.time() < deadline:
        time.sleep(0.005)
    dt = time.time() - t0
    got = counter.count
    counter.stop = True
    if got < want:
        raise SystemExit("bench: only %d of %d notifications arrived"
                         % (got, want))
    print("subscribing %d JIDs took %.2f s" % (len(jids), setup_s))
    print("%d items x %d subscribers = %d notifications in %.3f s"
          % (k, len(jids), got, dt))
    print("pubsub notify: %d notifications/s (%d subscribers)"
          % (got / dt, len(jids)))


if __name__ == "__main__":
    main()
