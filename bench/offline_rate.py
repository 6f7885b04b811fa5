#!/usr/bin/python3
"""Offline storage rate: how fast mod_offline stores messages.

A real emberd (from BUILD_DIR, default build/) on loopback, set up the way
bench/run.sh sets up its servers: `emberctl init --ports`, the c2s listener
switched to plain TCP on 127.0.0.1, a quiet log.  One sender logs in and
writes N chat messages to an account that has no session, as fast as the
server reads them; the script asks `offline-count` over the control socket
until it reaches N and prints

    offline_store_per_s <messages stored per second>

counted from the first byte sent to the moment all N are stored.

    /usr/bin/python3 bench/offline_rate.py [BUILD_DIR] [--messages N]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

from rawxmpp import RawClient  # noqa: E402

DOMAIN = "localhost"
PASSWORD = "pw-bench"
TIME_LIMIT = 300.0


def free_port_base():
    for base in range(21000, 32000, 10):
        socks = []
        try:
            for p in range(base, base + 8):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("bench: no free port range")


def ctl(b, cfg, *args, stdin=None):
    r = subprocess.run([str(b / "emberctl"), "-c", str(cfg)] + list(args),
                       input=stdin, capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise SystemExit("bench: emberctl %s failed: %s"
                         % (" ".join(args), r.stderr.strip()))
    return r.stdout


def setup(b, work, n):
    inst = work / "ember"
    base = free_port_base()
    subprocess.run([str(b / "emberctl"), "init", str(inst), "--domain",
                    DOMAIN, "--ports", str(base), "--plugins",
                    str(b / "modules")], check=True, capture_output=True)
    cfg = inst / "ember.xml"
    tree = ET.parse(cfg)
    root = tree.getroot()
    # Plain c2s on loopback (benchmark only), a quiet log, room for all N.
    for el in root.findall("log"):
        root.remove(el)
    ET.SubElement(root, "log", level="warn", file="ember.log")
    for el in root.findall("listen"):
        if el.get("type") == "c2s":
            el.set("require-tls", "false")
            el.set("rate", "0")         # no shaper (doc/benchmarks.md)
    host = root.find("host")
    off = [m for m in host.findall("module") if m.get("name") == "offline"]
    if not off:
        raise SystemExit("bench: mod_offline.so is not in %s/modules" % b)
    off[0].set("max-messages", str(n * 2))
    tree.write(cfg, encoding="UTF-8", xml_declaration=True)
    ctl(b, cfg, "check")
    ctl(b, cfg, "batch", stdin="adduser sender@%s %s\nadduser rcpt@%s %s\n"
        % (DOMAIN, PASSWORD, DOMAIN, PASSWORD))
    return inst, cfg, base


class Control:
    """One connection to emberd's control socket (JSON lines)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(str(path))
        self.f = self.s.makefile("rwb")

    def run(self, command, **args):
        self.f.write((json.dumps({"command": command, "args": args}) +
                      "\n").encode())
        self.f.flush()
        reply = json.loads(self.f.readline())
        if not reply.get("ok"):
            raise SystemExit("bench: %s: %s" % (command, reply))
        return reply["result"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    b = Path(a.build)
    if not b.is_absolute():
        b = TOP / b
    n = a.messages
    work = Path(tempfile.mkdtemp(prefix="ember-offline-bench."))
    proc = None
    try:
        inst, cfg, port = setup(b, work, n)
        proc = subprocess.Popen([str(b / "emberd"), "-c", str(cfg)],
                                stdout=subprocess.DEVNULL,
                                stderr=open(work / "emberd.err", "wb"),
                                cwd=str(work))
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("bench: emberd did not start")
                time.sleep(0.05)
        control = Control(inst / "data" / "emberd.sock")
        sender = RawClient(port, domain=DOMAIN, timeout=30)
        # Plain TCP (no STARTTLS): one thread reads while another writes,
        # which a TLS object would not allow.
        sender.open()
        if sender.auth_scram("sender", PASSWORD) != "success":
            raise SystemExit("bench: the sender cannot log in")
        sender.open()
        sender.bind("bench")
        # Everything the server says back (nothing, unless storage fails)
        # is read, so that its writes never block ours.  One timeout for
        # both directions: the thread never changes the socket's mode.
        sock = sender.sock
        sock.settimeout(60)
        errors = []

        def reader():
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if b"type='error'" in data or b'type="error"' in data:
                    errors.append(data[:300])
        threading.Thread(target=reader, daemon=True).start()
        msgs = [("<message to='rcpt@%s' type='chat' id='m%d'><body>offline "
                 "message number %d, a line of ordinary chat text</body>"
                 "</message>" % (DOMAIN, i, i)).encode() for i in range(n)]
        chunk = 200
        t0 = time.monotonic()
        for i in range(0, n, chunk):
            sock.sendall(b"".join(msgs[i:i + chunk]))
        t_sent = time.monotonic()
        stored = 0
        while stored < n:
            if time.monotonic() - t0 > TIME_LIMIT:
                raise SystemExit("bench: only %d of %d stored after %.0f s"
                                 % (stored, n, TIME_LIMIT))
            if errors:
                raise SystemExit("bench: the server answered with errors, "
                                 "e.g. %r" % errors[0])
            stored = control.run("offline-count",
                                 user="rcpt@%s" % DOMAIN)["count"]
            if stored < n:
                time.sleep(0.01)
        t1 = time.monotonic()
        rate = n / (t1 - t0)
        print("bench: %d messages written in %.2f s, stored in %.2f s"
              % (n, t_sent - t0, t1 - t0), file=sys.stderr)
        print("offline_store_per_s %d" % round(rate))
        sock.close()
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if a.keep:
            print("bench: kept %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
