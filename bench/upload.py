#!/usr/bin/python3
"""XEP-0363 uploads (issue 15): throughput on loopback and emberd's RSS
while a large file goes up and comes back down.

A real emberd (tests/integration/harness.py) with mod_upload; alice asks
for a slot over XMPP, then PUTs SIZE MiB of random data over HTTPS in 1 MiB
writes and GETs it back, while a sampler reads emberd's RSS every 50 ms.

    EMBER_BUILD=build /usr/bin/python3 bench/upload.py [--mib 1024]

Output: `upload put_mib_s P get_mib_s G rss_before_kib B rss_max_kib M`.
"""

import argparse
import http.client
import os
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from harness import Server  # noqa: E402
from rawxmpp import RawClient, q  # noqa: E402

NS = "urn:xmpp:http:upload:0"
CHUNK = 1 << 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    a = ap.parse_args()
    size = a.mib * CHUNK
    block = os.urandom(CHUNK)
    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(Path(tmp))
        srv.adduser("alice", "pw-bench")
        srv.add_module("upload", **{"max-file-size": "%dM" % (a.mib + 1),
                                    "quota-per-user": "0"})
        srv.start()
        try:
            c = RawClient(srv.c2s_port, domain=srv.domain)
            c.login("alice", "pw-bench")
            r = c.iq("get", "<request xmlns='%s' filename='big.bin' "
                     "size='%d'/>" % (NS, size), to="upload." + srv.domain)
            url = urllib.parse.urlsplit(r.find(q(NS, "slot")).find(
                q(NS, "put")).get("url"))
            c.close()
            ctx = ssl._create_unverified_context()
            rss0 = srv.rss_kib()
            peak = [rss0]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], srv.rss_kib())
                    time.sleep(0.05)

            t = threading.Thread(target=sample)
            t.start()
            h = http.client.HTTPSConnection(url.hostname, url.port,
                                            context=ctx, timeout=600)
            start = time.monotonic()
            h.putrequest("PUT", url.path)
            h.putheader("Content-Length", str(size))
            h.endheaders()
            for _ in range(a.mib):
                h.send(block)
            resp = h.getresponse()
            resp.read()
            put_s = time.monotonic() - start
            assert resp.status == 201, resp.status
            start = time.monotonic()
            h.request("GET", url.path)
            resp = h.getresponse()
            got = 0
            while True:
                b = resp.read(CHUNK)
                if not b:
                    break
                got += len(b)
            get_s = time.monotonic() - start
            assert got == size, got
            done.set()
            t.join()
            print("upload put_mib_s %.0f get_mib_s %.0f rss_before_kib %d "
                  "rss_max_kib %d" % (a.mib / put_s, a.mib / get_s, rss0,
                                      peak[0]))
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
