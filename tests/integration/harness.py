"""A real emberd in a temporary directory, on free loopback ports.

The instance is written by `emberctl init DIR --ports BASE`, so the tests
exercise the same starter config an operator gets.  Tests edit the config
through the helpers below before start() (or between restarts/reloads).
"""

import collections
import os
import random
import re
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_dir():
    b = Path(os.environ.get("EMBER_BUILD", "build"))
    return b if b.is_absolute() else REPO / b


B = build_dir()
EMBERD = B / "emberd"
EMBERCTL = B / "emberctl"
MODULES = B / "modules"
TEST_MODULES = B / "tests" / "modules"

# Offsets from the port base (doc/testing.md): emberctl init uses 0..7,
# the harness adds a plaintext loopback c2s listener on +8.
PORT_SPAN = 10
PLAIN_OFFSET = 8

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

# EMBER_STORAGE=pgsql: every instance keeps its data in a database of its
# own on one PostgreSQL server the run starts (pgsql_peer.shared()),
# through storage_pgsql instead of storage_sqlite.
STORAGE = os.environ.get("EMBER_STORAGE", "sqlite")

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


class ServerError(AssertionError):
    pass


def _ports_free(base, n):
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def worker_slice(lo, hi):
    """The part of [lo, hi) this pytest process picks ports from: under
    pytest-xdist (make check runs the suite on a worker per core) each
    worker has a range of its own, so that two workers never pick the
    same port between its check and its bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return lo, hi
    width = (hi - lo) // count
    start = lo + int(worker[2:]) % count * width
    return start, start + width


# Ports handed out lately by this process: a server made but not started
# yet holds none of its ports, so the bind check alone gave a second
# server of the same test the same ones.
_handed = collections.deque(maxlen=256)


def _handed_out(first, n):
    return any(first < p + m and p < first + n for p, m in _handed)


def free_port_base(n=PORT_SPAN):
    # Below the kernel's ephemeral range (32768..), so outgoing connections
    # of other tests cannot take our ports between this check and bind.
    lo, hi = worker_slice(20000, 32700)
    for _ in range(200):
        base = random.randrange(lo, hi - n, 16)
        if not _handed_out(base, n) and _ports_free(base, n):
            _handed.append((base, n))
            return base
    raise ServerError("no %d consecutive free ports found" % n)


def free_port():
    """One free port for a peer server (Prosody, PostgreSQL, Redis ...),
    from a range of its own below the emberd instances' ports."""
    lo, hi = worker_slice(10000, 20000)
    for _ in range(200):
        port = random.randrange(lo, hi)
        if not _handed_out(port, 1) and _ports_free(port, 1):
            _handed.append((port, 1))
            return port
    raise ServerError("no free port found")


def _env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.pop("EMBER_CONFIG", None)
    return env


class Server:
    """One emberd instance.  Create with the `server_factory` fixture."""

    def __init__(self, root, domain="localhost"):
        self.root = Path(root)
        self.dir = self.root / "inst"
        self.domain = domain
        self.base = free_port_base()
        self.proc = None
        self.log_path = self.root / "emberd.log"
        self.starts = 0
        r = subprocess.run(
            [str(EMBERCTL), "init", str(self.dir), "--domain", domain,
             "--ports", str(self.base), "--plugins", str(MODULES)],
            capture_output=True, text=True, timeout=60, env=_env())
        if r.returncode != 0:
            raise ServerError("emberctl init failed (%d):\n%s%s"
                              % (r.returncode, r.stdout, r.stderr))
        self.config_path = self.dir / "ember.xml"
        self.tree = ET.parse(self.config_path)
        self.set_log(os.environ.get("EMBER_TEST_LOG_LEVEL", "info"))
        self.storage = "sqlite"
        self.pg_conninfo = None
        if STORAGE == "pgsql":
            import pgsql_peer
            self.use_pgsql(pgsql_peer.shared().create_database())
            # emberctl reads the file on disk (users are added offline).
            self.save()
        # Test instances live under the runner's private temporary
        # directory: started as root, they stay root (test_privileges.py
        # covers the drop).
        if os.geteuid() == 0:
            ET.SubElement(self.cfg, "run-as", user="root")

    # ---- ports ----
    @property
    def c2s_port(self):
        return self.base

    @property
    def tls_port(self):
        return self.base + 1

    @property
    def plain_port(self):
        return self.base + PLAIN_OFFSET

    @property
    def http_port(self):
        return self.base + 4

    @property
    def https_port(self):
        return self.base + 5

    @property
    def admin_port(self):
        return self.base + 6

    @property
    def admin_tls_port(self):
        return self.base + 7

    # ---- config editing ----
    @property
    def cfg(self):
        return self.tree.getroot()

    def save(self):
        ET.indent(self.tree)
        self.tree.write(self.config_path, encoding="UTF-8",
                        xml_declaration=True)

    def set_log(self, level):
        log = self.cfg.find("log")
        if log is None:
            log = ET.SubElement(self.cfg, "log")
        log.attrib.clear()
        log.set("level", level)        # no file: stderr, into our log file

    def set_limits(self, **limits):
        el = self.cfg.find("limits")
        if el is None:
            el = ET.SubElement(self.cfg, "limits")
        for k, v in limits.items():
            el.set(k.replace("_", "-"), str(v))

    def add_listener(self, type_, port, address="127.0.0.1",
                     require_tls=None):
        el = ET.SubElement(self.cfg, "listen", type=type_, address=address,
                           port=str(port))
        if require_tls is not None:
            el.set("require-tls", "true" if require_tls else "false")
        return el

    def add_plain_listener(self):
        """A c2s listener without TLS on 127.0.0.1:BASE+8."""
        return self.add_listener("c2s", self.plain_port, require_tls=False)

    def use_pgsql(self, conninfo):
        """Keep the data in PostgreSQL (conninfo) instead of ember.db."""
        for m in self.cfg.findall("module"):
            if m.get("name") in ("storage_sqlite", "storage_pgsql"):
                self.cfg.remove(m)
        el = ET.Element("module", name="storage_pgsql", conninfo=conninfo)
        # Where storage_sqlite was: before the other global modules.
        first = self.cfg.find("module")
        idx = list(self.cfg).index(first) if first is not None \
            else len(self.cfg)
        self.cfg.insert(idx, el)
        self.storage = "pgsql"
        self.pg_conninfo = conninfo
        return el

    def add_plugins_dir(self, path=TEST_MODULES):
        ET.SubElement(self.cfg, "plugins", dir=str(path))

    def host(self, name=None):
        name = name or self.domain
        for h in self.cfg.findall("host"):
            if h.get("name") == name:
                return h
        return None

    def add_host(self, name, modules=("disco",)):
        h = ET.SubElement(self.cfg, "host", name=name)
        for m in modules:
            ET.SubElement(h, "module", name=m)
        return h

    def modules(self, host=None):
        return [m.get("name") for m in self.host(host).findall("module")]

    def module(self, name, host=None):
        for m in self.host(host).findall("module"):
            if m.get("name") == name:
                return m
        return None

    def add_module(self, name, host=None, **opts):
        m = self.module(name, host)
        if m is None:
            m = ET.SubElement(self.host(host), "module", name=name)
        for k, v in opts.items():
            m.set(k.replace("_", "-"), str(v))
        return m

    def remove_module(self, name, host=None):
        h = self.host(host)
        for m in h.findall("module"):
            if m.get("name") == name:
                h.remove(m)

    # ---- process ----
    def start(self, wait=True):
        self.save()
        self.starts += 1
        logf = open(self.log_path, "ab")
        logf.write(("---- emberd start #%d ----\n" % self.starts).encode())
        logf.flush()
        self.start_offset = logf.tell()
        self.proc = subprocess.Popen(
            [str(EMBERD), "-c", str(self.config_path)],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=_env(), cwd=str(self.root))
        logf.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError("emberd exited with %d during start-up:\n%s"
                                  % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.c2s_port),
                                         timeout=0.5).close()
                # The control socket opens after every listener: a test
                # may use another port at once (the TLS listeners' set-up
                # comes between, long under the sanitizers).
                u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    u.settimeout(0.5)
                    u.connect(str(self.control_socket_path))
                finally:
                    u.close()
                # The privilege drop and the signal handlers come after
                # the control socket: a SIGHUP sent before them kills.
                if self._logs_ready() and "emberd ready" not in \
                        self.log_bytes()[self.start_offset:].decode(
                            errors="replace"):
                    time.sleep(0.02)
                    continue
                return
            except OSError:
                time.sleep(0.05)
        raise ServerError("emberd not accepting on %d after %.0f s:\n%s"
                          % (self.c2s_port, timeout, self.log()))

    @property
    def control_socket_path(self):
        paths = self.cfg.find("paths")
        base = self.config_path.parent
        data = base / (paths.get("data", "data") if paths is not None
                       else "data")
        sock = paths.get("control-socket") if paths is not None else None
        return base / sock if sock else data / "emberd.sock"

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError("emberd did not exit within %.0f s" % timeout)

    def stop(self, check=True):
        """SIGTERM; the exit status must be 0 (sanitizers make it not)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit()
        if check and rc != 0:
            raise ServerError("emberd exited with %d after SIGTERM:\n%s"
                              % (rc, self.log()))
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def _logs_ready(self):
        log = self.cfg.find("log")
        return log is None or (log.get("file") is None and
                               log.get("level", "info") in ("info", "debug"))

    def log_bytes(self):
        try:
            return self.log_path.read_bytes()
        except FileNotFoundError:
            return b""

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Wait for a regex in the log (from offset `start`); the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log(), start)
            if m:
                return m
            if time.monotonic() > deadline:
                raise ServerError("log never matched %r:\n%s"
                                  % (pattern, self.log()))
            time.sleep(0.05)

    def sanitizer_report(self):
        text = self.log()
        for mark in SANITIZER_MARKS:
            if mark in text:
                return mark
        return None

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerError("no VmRSS for %d" % self.pid)

    # ---- emberctl ----
    def ctl(self, *args, input=None, timeout=60):
        return subprocess.run(
            [str(EMBERCTL), "-c", str(self.config_path)] + [str(a) for a in args],
            input=input, capture_output=True, text=True, timeout=timeout,
            env=_env())

    def ctl_raw(self, *args, input=None, timeout=60):
        """emberctl without the instance's -c (the test passes its own)."""
        return subprocess.run(
            [str(EMBERCTL)] + [str(a) for a in args], input=input,
            capture_output=True, text=True, timeout=timeout, env=_env())

    def ctl_ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        if r.returncode != 0:
            raise ServerError("emberctl %s -> %d\nstdout: %s\nstderr: %s"
                              % (" ".join(map(str, args)), r.returncode,
                                 r.stdout, r.stderr))
        return r

    def jid(self, user):
        return user if "@" in user else "%s@%s" % (user, self.domain)

    def adduser(self, user, password):
        return self.ctl_ok("adduser", self.jid(user), password)

    def addusers(self, passwords):
        """Several accounts in one emberctl run (each run starts the
        server's modules in-process: a second under the sanitizers)."""
        rows = "".join("%s,%s\n" % (self.jid(u), pw)
                       for u, pw in passwords.items())
        return self.ctl_ok("users-import-csv", "-", input=rows)
