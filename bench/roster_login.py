#!/usr/bin/python3
"""Login of a user with a big roster: from TCP connect to the roster
received and the presence of every online contact received.

    /usr/bin/python3 bench/roster_login.py [BUILD_DIR]     (default: build)

Starts a fresh emberd from BUILD_DIR on loopback, creates u0 with
BENCH_CONTACTS (1000) contacts in a mutual subscription (roster-add
commands through one `emberctl batch`), brings BENCH_ONLINE (100) of them
online with presence, then logs u0 in BENCH_RUNS (5) times and prints
`roster_login_ms_<contacts> <median>`.  Prints the runs on stderr.
"""

import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests" / "integration"))

from rawxmpp import NS_CLIENT, RawClient, q  # noqa: E402

CONTACTS = int(os.environ.get("BENCH_CONTACTS", "1000"))
ONLINE = int(os.environ.get("BENCH_ONLINE", "100"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PASSWORD = "pw-bench"
DOMAIN = "localhost"
NS_ROSTER = "jabber:iq:roster"


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def free_base():
    for _ in range(200):
        base = 20000 + (int.from_bytes(os.urandom(2), "big") % 4000) * 10
        ok = True
        for p in range(base, base + 8):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise SystemExit("no free port range")


def ctl(build, cfg, *args, input=None):
    r = subprocess.run([str(build / "emberctl"), "-c", str(cfg)] +
                       list(args), input=input, capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit("emberctl %s failed: %s%s"
                         % (args[0], r.stdout[-500:], r.stderr[-500:]))
    return r


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                         TOP / "build").resolve()
    for f in ("emberd", "emberctl"):
        if not (build / f).exists():
            raise SystemExit("%s/%s missing: run make" % (build, f))
    work = pathlib.Path(tempfile.mkdtemp(prefix="ember-roster-bench."))
    base = free_base()
    cfg = work / "ember.xml"
    proc = None
    clients = []
    try:
        ctl(build, cfg, "init", str(work), "--domain", DOMAIN, "--ports",
            str(base))
        # One address holds every client here: lift the per-IP limit.
        text = cfg.read_text()
        text = text.replace("<ember>", "<ember>\n  <limits "
                            "max-connections-per-ip=\"100000\" "
                            "connections-per-second-per-ip=\"0\"/>", 1)
        text = text.replace("<listen ", "<listen rate=\"0\" ")
        cfg.write_text(text)
        users = "".join("adduser %s@%s %s\n" % (u, DOMAIN, PASSWORD)
                        for u in ["u0"] + ["c%d" % i
                                           for i in range(1, CONTACTS + 1)])
        ctl(build, cfg, "batch", input=users)
        log = open(work / "emberd.out", "w")
        proc = subprocess.Popen([str(build / "emberd"), "-c", str(cfg)],
                                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", base)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise SystemExit("emberd did not listen")
        lines = []
        for i in range(1, CONTACTS + 1):
            c = "c%d@%s" % (i, DOMAIN)
            lines.append("roster-add u0@%s %s --name=C%d --group=Bench "
                         "--subscription=both\n" % (DOMAIN, c, i))
            lines.append("roster-add %s u0@%s --subscription=both\n"
                         % (c, DOMAIN))
        t = time.monotonic()
        ctl(build, cfg, "batch", input="".join(lines))
        say("roster-add x%d: %.1f s" % (len(lines), time.monotonic() - t))
        online = set()
        for i in range(1, ONLINE + 1):
            c = RawClient(base, domain=DOMAIN)
            c.login("c%d" % i, PASSWORD, resource="r")
            c.presence(extra="<status>online %d</status>" % i)
            clients.append(c)
            online.add(c.jid)
        runs = []
        for n in range(RUNS):
            t0 = time.monotonic()
            c = RawClient(base, domain=DOMAIN, timeout=30)
            c.login("u0", PASSWORD, resource="bench%d" % n)
            el = c.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
            got = len(el.find(q(NS_ROSTER, "query")).findall(
                q(NS_ROSTER, "item")))
            assert got == CONTACTS, got
            c.presence()
            seen = set()
            while not online <= seen:
                p = c.recv(q(NS_CLIENT, "presence"))
                if p.get("type") is None:
                    seen.add(p.get("from"))
            ms = (time.monotonic() - t0) * 1000
            runs.append(ms)
            say("run %d: %.1f ms" % (n + 1, ms))
            c.stream_end()
            c.close()
            # Let the contacts' unavailable pass before the next login.
            for x in clients:
                try:
                    while True:
                        x.recv(q(NS_CLIENT, "presence"), timeout=0.01)
                except (TimeoutError, Exception):
                    pass
        print("roster_login_ms_%d %.1f" % (CONTACTS,
                                           statistics.median(runs)))
    finally:
        for c in clients:
            c.close()
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.environ.get("BENCH_KEEP"):
            say("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
