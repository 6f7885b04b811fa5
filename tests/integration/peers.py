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
    def __init__(self, root, domain, dns, secure_auth=False, ca=None):
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
  "blocklist", "carbons", "posix" }
modules_disabled = { "s2s_bidi" }
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
       "cafile": ('ssl = { cafile = "%s" }' % ca[0]) if ca else ""})
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


EJABBERDCTL = shutil.which("ejabberdctl") or "/usr/sbin/ejabberdctl"


class Ejabberd:
    """Debian's ejabberd as its own user (ejabberdctl will not run the
    node as root), in a directory of its own, with its own epmd port, and
    Erlang's resolver pointed at the test's dnsmasq through inetrc."""

    def __init__(self, root, domain, dns):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        for p in self.root.parents:
            if str(p).startswith("/tmp/") and p != Path("/tmp"):
                os.chmod(p, os.stat(p).st_mode | 0o055)
        self.domain = domain
        self.c2s_port = free_tcp_port()
        self.s2s_port = free_tcp_port()
        self.epmd_port = free_tcp_port()
        (self.root / "logs").mkdir(exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        crt, key = self_signed(self.root, domain)
        pem = self.root / "server.pem"
        pem.write_text(Path(crt).read_text() + Path(key).read_text())
        ns = dns.address.split(".")
        (self.root / "inetrc").write_text(
            "{lookup, [dns]}.\n{nameserver, {%s}, %d}.\n"
            % (",".join(ns), dns.port))
        (self.root / "ejabberdctl.cfg").write_text(
            "ERLANG_NODE=ejtest%d@localhost\n"
            "EJABBERD_PID_PATH=%s/ejabberd.pid\n"
            "export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=%d\n"
            "INET_DIST_INTERFACE=127.0.0.1\n"
            "ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0\"\n"
            "EJABBERD_BYPASS_WARNINGS=true\n"
            % (self.c2s_port, self.root, self.epmd_port))
        (self.root / "ejabberd.yml").write_text("""
hosts:
  - %(domain)s
loglevel: info
certfiles:
  - %(pem)s
s2s_use_starttls: required
s2s_dns_timeout: 5
listen:
  -
    port: %(c2s)d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
  -
    port: %(s2s)d
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  s2s:
    allow: all
s2s_access: s2s
modules:
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
  mod_roster: {}
  mod_presence: {}
  mod_s2s_dialback: {}
  mod_vcard: {}
  mod_muc:
    host: "conference.@HOST@"
    access_create: all
""" % {"domain": domain, "pem": pem, "c2s": self.c2s_port,
       "s2s": self.s2s_port})
        subprocess.run(["chown", "-R", "ejabberd:", str(self.root)],
                       check=True)
        for name in (domain, "conference." + domain):
            dns.add_host(name)
            dns.add_srv(name, self.s2s_port)
        self.proc = None

    def _ctl(self, *args, **kw):
        return ["setpriv", "--reuid", "ejabberd", "--regid", "ejabberd",
                "--init-groups", "env", "HOME=%s" % self.root, EJABBERDCTL,
                "--config-dir", str(self.root), "--config",
                str(self.root / "ejabberd.yml"), "--ctl-config",
                str(self.root / "ejabberdctl.cfg"), "--logs",
                str(self.root / "logs"), "--spool",
                str(self.root / "spool")] + list(args)

    def ctl(self, *args):
        return subprocess.run(self._ctl(*args), capture_output=True,
                              text=True, timeout=120)

    def adduser(self, user, password):
        r = self.ctl("register", user, self.domain, password)
        assert r.returncode == 0, r.stdout + r.stderr

    def start(self):
        out = open(self.root / "ejabberd.out", "ab")
        self.proc = subprocess.Popen(self._ctl("foreground-quiet"),
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ejabberd exited:\n" + self.log())
            r = self.ctl("status")
            if r.returncode == 0:
                return self
            time.sleep(1)
        raise RuntimeError("ejabberd did not start:\n" + self.log())

    def log(self):
        out = ""
        for p in (self.root / "ejabberd.out", self.root / "logs" /
                  "ejabberd.log", self.root / "logs" / "error.log"):
            if p.exists():
                out += p.read_text(errors="replace")[-20000:]
        return out

    def stop(self):
        if self.proc is None:
            return
        self.ctl("stop")
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        # Erlang started an epmd on the node's private port: stop it.
        r = subprocess.run(["ss", "-Hltnp", "sport = :%d" % self.epmd_port],
                           capture_output=True, text=True)
        for part in r.stdout.split("pid=")[1:]:
            pid = part.split(",")[0]
            if pid.isdigit():
                subprocess.run(["kill", pid], capture_output=True)
