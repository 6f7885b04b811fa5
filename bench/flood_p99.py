#!/usr/bin/python3
"""One flooding client against everyone else's latency (issue 13).

A real emberd (tests/integration/harness.py, a plaintext loopback c2s
listener).  A flooder process logs in and writes chat messages to its own
bare JID as fast as the socket takes them, reading and discarding what
comes back; meanwhile a second client pings the server one iq at a time and
the script prints the round trip's p50/p99 in three runs:

    idle       no flooder
    shaped     the flooder against the listener's default shaper
    unshaped   the same with rate="0" on the listener

    EMBER_BUILD=build /usr/bin/python3 bench/flood_p99.py [--pings N]

Output lines: `flood_p99 RUN p50_ms P p99_ms P flooder_kib_s K`, K being
what the server routed back to the flooder (its own messages), a second.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402
from rawxmpp import RawClient  # noqa: E402

FLOODER = r"""
import os, signal, socket, sys, threading, time
sys.path.insert(0, sys.argv[3])
from rawxmpp import RawClient
c = RawClient(int(sys.argv[1]))
c.open()
assert c.auth_scram("flooder", sys.argv[2]) == "success"
c.open()
c.bind("f")
c.presence()
sock = c.sock
got = [0]
def drain():
    while True:
        try:
            data = sock.recv(1 << 16)
        except OSError:
            return
        if not data:
            return
        got[0] += len(data)
threading.Thread(target=drain, daemon=True).start()
chunk = ("<message to='flooder@localhost' type='chat'><body>%s</body>"
         "</message>" % ("x" * 200)).encode() * 50
print("ready", flush=True)
t0 = time.monotonic()
def report(*_):
    print("echoed", got[0] / (time.monotonic() - t0), flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, report)
try:
    while True:
        sock.sendall(chunk)
        if time.monotonic() - t0 > float(sys.argv[4]):
            break
except OSError:
    pass
report()
"""

PASSWORD = "pw-bench"


def pings(port, n):
    c = RawClient(port)
    c.open()
    assert c.auth_scram("prober", PASSWORD) == "success"
    c.open()
    c.bind("p")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        c.ping()
        times.append((time.perf_counter() - t) * 1000)
    c.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def run(label, rate, n):
    with tempfile.TemporaryDirectory(prefix="ember-flood-") as tmp:
        srv = Server(Path(tmp))
        el = srv.add_plain_listener()
        if rate is not None:
            el.set("rate", rate)
        srv.set_log("warn")
        srv.adduser("flooder", PASSWORD)
        srv.adduser("prober", PASSWORD)
        srv.start()
        flooder = None
        try:
            if label != "idle":
                flooder = subprocess.Popen(
                    [sys.executable, "-c", FLOODER, str(srv.plain_port),
                     PASSWORD, str(TOP / "tests" / "integration"), "30"],
                    stdout=subprocess.PIPE, text=True)
                assert flooder.stdout.readline().strip() == "ready"
                time.sleep(1.0)
            p50, p99 = pings(srv.plain_port, n)
            kib_s = 0.0
            if flooder is not None:
                flooder.terminate()
                out = flooder.communicate(timeout=10)[0]
                for line in out.splitlines():
                    if line.startswith("echoed"):
                        kib_s = float(line.split()[1]) / 1024
            print("flood_p99 %s p50_ms %.3f p99_ms %.3f flooder_kib_s %.0f"
                  % (label, p50, p99, kib_s), flush=True)
        finally:
            if flooder is not None and flooder.poll() is None:
                flooder.kill()
            srv.stop(check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pings", type=int, default=2000)
    a = ap.parse_args()
    run("idle", None, a.pings)
    run("shaped", None, a.pings)
    run("unshaped", "0", a.pings)


if __name__ == "__main__":
    main()
