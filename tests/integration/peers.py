"""Other servers, as Debian ships them, for federation tests: Prosody
(and its prosodyctl) in a temporary directory, on free loopback ports,
resolving names through the test's dnsmasq (s2slib.Dns)."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PROSODY = shutil.which("prosody") or "/usr/bin/prosody"
PROSODYCTL = shutil.which("prosodyctl") or "/usr/bin/prosodyctl"


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def self_signed(dir_, name, ca=None):
    """A key and certificate for name (subjectAltName DNS:name and
    DNS:*.name), signed by ca = (cert, key) or self-signed."""
    dir_ = Path(dir_)
    key, crt = dir_ / (name + ".key"), dir_ / (name + ".crt")
    ext = dir_ / (name + ".ext")
    ext.write_text("subjectAltName=DNS:%s,DNS:*.%s\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n" % (name, name))
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out",
                    str(dir_ / (name + ".csr")), "-subj", "/CN=" + name],
                   check=True, capture_output=True)
    sign = (["-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial"]
            if ca else ["-signkey", str(key)])
    subprocess.run(["openssl", "x509", "-req", "-days", "30", "-in",
                    str(dir_ / (name + ".csr")), "-out", str(crt),
                    "-extfile", str(ext)] + sign,
                   check=True, capture_output=True)
    os.chmod(key, 0o644)
    return crt, key


class Prosody:
    def __init__(self, root, domain, dns, secure_auth=False, ca=None,
                 bidi=False):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.domain = domain
        self.c2s_port = free_tcp_port()
        self.s2s_port = free_tcp_port()
        self.cfg = self.root / "prosody.cfg.lua"
        self.log_path = self.root / "prosody.log"
        certs = self.root / "certs"
        certs.mkdir(exist_ok=True)
        self.cert, self.key = self_signed(certs, domain, ca)
        (self.root / "data").mkdir(exist_ok=True)
        self.cfg.write_text("""
pidfile = "%(root)s/prosody.pid"
data_path = "%(root)s/data"
run_as_root = true
daemonize = false
log = { debug = "%(log)s" }
interfaces = { "127.0.0.1" }
c2s_ports = { %(c2s)d }
s2s_ports = { %(s2s)d }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
admin_socket = "%(root)s/admin.sock"
modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco",
  "private", "vcard_legacy", "version", "uptime", "time", "ping", "pep",
  "blocklist", "carbons", "posix"%(bidi)s }
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_secure_auth = %(secure)s
s2s_require_encryption = true
%(cafile)s
unbound = { resolvconf = false; hoststxt = false; forward = "%(fwd)s" }
certificates = "%(certs)s"
VirtualHost "%(domain)s"
Component "conference.%(domain)s" "muc"
""" % {"root": self.root, "log": self.log_path, "c2s": self.c2s_port,
       "s2s": self.s2s_port, "secure": "true" if secure_auth else "false",
       "fwd": dns.unbound_forward, "certs": certs, "domain": domain,
       "cafile": ('ssl = { cafile = "%s" }' % ca[0]) if ca else "",
       "bidi": ', "s2s_bidi"' if bidi else ""})
        for name in (domain, "conference." + domain):
            dns.add_host(name)
            dns.add_srv(name, self.s2s_port)
        self.proc = None

    def ctl(self, *args):
        return subprocess.run([PROSODYCTL, "--config", str(self.cfg)]
                              + list(args), capture_output=True, text=True,
                              timeout=60)

    def adduser(self, user, password):
        r = self.ctl("register", user, self.domain, password)
        assert r.returncode == 0, r.stdout + r.stderr

    def start(self):
        logf = open(self.root / "prosody.out", "ab")
        self.proc = subprocess.Popen([PROSODY, "-F", "--config",
                                      str(self.cfg)], stdout=logf,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prosody exited:\n" + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.c2s_port),
                                         0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("prosody did not listen:\n" + self.log())

    def log(self):
        out = ""
        for p in (self.root / "prosody.out", self.log_path):
            if p.exists():
                out += p.read_text(errors="replace")[-20000:]
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

