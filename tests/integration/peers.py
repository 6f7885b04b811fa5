"""Other servers, as Debian ships them: Prosody (and its prosodyctl and
prosody-migrator) and ejabberd (and its ejabberdctl), each in a
temporary directory on free loopback ports.  Federation peers resolve
names through the test's dnsmasq (s2slib.Dns); migration sources run
alone and export their data as XEP-0227."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import harness

PROSODY = shutil.which("prosody") or "/usr/bin/prosody"
PROSODYCTL = shutil.which("prosodyctl") or "/usr/bin/prosodyctl"
PROSODY_MIGRATOR = (shutil.which("prosody-migrator") or
                    "/usr/bin/prosody-migrator")


def free_tcp_port():
    return harness.free_port()


def self_signed(dir_, name, ca=None, eku="serverAuth,clientAuth"):
    """A key and certificate for name (subjectAltName DNS:name and
    DNS:*.name), signed by ca = (cert, key) or self-signed, for the
    extended key usages eku."""
    dir_ = Path(dir_)
    key, crt = dir_ / (name + ".key"), dir_ / (name + ".crt")
    ext = dir_ / (name + ".ext")
    ext.write_text("subjectAltName=DNS:%s,DNS:*.%s\n"
                   "extendedKeyUsage=%s\n" % (name, name, eku))
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


# What the federation tests ask of Prosody.
PROSODY_S2S_MODULES = ("roster", "saslauth", "tls", "dialback", "disco",
                       "private", "vcard_legacy", "version", "uptime",
                       "time", "ping", "pep", "blocklist", "carbons",
                       "posix")


class Prosody:
    """Prosody for domain in root.  With dns: a federation peer, s2s on a
    free port with TLS, its names in the test's DNS.  Without: alone on
    a c2s port (a source of migration data).  modules: what
    modules_enabled lists; hashed: passwords kept as SCRAM secrets
    (internal_hashed), not in the clear."""

    def __init__(self, root, domain, dns=None, secure_auth=False, ca=None,
                 bidi=False, modules=PROSODY_S2S_MODULES, hashed=False):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.domain = domain
        self.c2s_port = free_tcp_port()
        self.s2s_port = free_tcp_port() if dns is not None else None
        self.cfg = self.root / "prosody.cfg.lua"
        self.log_path = self.root / "prosody.log"
        certs = self.root / "certs"
        certs.mkdir(exist_ok=True)
        self.cert, self.key = self_signed(certs, domain, ca)
        (self.root / "data").mkdir(exist_ok=True)
        enabled = list(modules) + (["s2s_bidi"] if bidi else [])
        self.cfg.write_text("""
pidfile = "%(root)s/prosody.pid"
data_path = "%(root)s/data"
run_as_root = true
daemonize = false
log = { debug = "%(log)s" }
interfaces = { "127.0.0.1" }
c2s_ports = { %(c2s)d }
s2s_ports = { %(s2s)s }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
admin_socket = "%(root)s/admin.sock"
modules_enabled = { %(modules)s }
authentication = "%(auth)s"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_secure_auth = %(secure)s
s2s_require_encryption = true
%(cafile)s
%(unbound)s
certificates = "%(certs)s"
VirtualHost "%(domain)s"
Component "conference.%(domain)s" "muc"
""" % {"root": self.root, "log": self.log_path, "c2s": self.c2s_port,
       "s2s": self.s2s_port if dns is not None else "",
       "secure": "true" if secure_auth else "false",
       "modules": ", ".join('"%s"' % m for m in enabled),
       "auth": "internal_hashed" if hashed else "internal_plain",
       "unbound": ('unbound = { resolvconf = false; hoststxt = false; '
                   'forward = "%s" }' % dns.unbound_forward)
                  if dns is not None else "",
       "certs": certs, "domain": domain,
       "cafile": ('ssl = { cafile = "%s" }' % ca[0]) if ca else ""})
        if dns is not None:
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

    def export_227(self, out):
        """prosody-migrator from the internal store to the xep0227 driver
        (Prosody stopped): one file per user in out, a new directory.
        The migrator writes where its built-in data directory points
        (CFG_DATADIR, /var/lib/prosody, set before any config is read), so
        it runs from a copy with only that line changed; --root keeps it
        from switching to the prosody user."""
        out.mkdir()
        script = self.root / "prosody-migrator.lua"
        script.write_text(re.sub(r"(?m)^CFG_DATADIR=.*$",
                                 "CFG_DATADIR=%r;" % str(out),
                                 Path(PROSODY_MIGRATOR).read_text()))
        mcfg = self.root / "migrator.cfg.lua"
        mcfg.write_text("""
input { type = "internal"; path = "%s";
  hosts = { ["%s"] = { "accounts", "roster", "vcard", "private",
    "pep-pubsub", "archive-archive" } } }
output { type = "xep0227" }
""" % (self.root / "data", self.domain))
        lua = Path(PROSODY_MIGRATOR).read_text().splitlines()[0][2:]
        lua = lua.split()[-1]
        r = subprocess.run([shutil.which(lua) or lua, str(script), "--root",
                            "--config", str(mcfg), "input", "output"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "Done!" in r.stdout + r.stderr, \
            r.stdout + r.stderr
        return sorted(out.iterdir())

    def pids(self):
        """Prosody is one process: for CPU accounting (bench/s2s.py)."""
        return [self.proc.pid]

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


# What the federation tests ask of ejabberd.
EJABBERD_S2S_MODULES = """
  mod_caps: {}
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
  mod_roster: {}
  mod_vcard: {}
  mod_pubsub:
    plugins: ["flat", "pep"]
  mod_muc:
    host: "conference.@HOST@"
    access_create: all
    default_room_options:
      mam: false
"""


def ejabberd_available():
    """ejabberd installed, and root to run its node as its own user."""
    try:
        import pwd
        pwd.getpwnam("ejabberd")
    except KeyError:
        return False
    return os.path.exists(EJABBERDCTL) and os.geteuid() == 0


class Ejabberd:
    """Debian's ejabberd for domain as its own user (ejabberdctl hands a
    root caller over to that user anyway), in a directory of its own, with
    its own Erlang node name and epmd port, so it neither meets nor
    disturbs a system ejabberd.  With dns: a federation peer, s2s on a
    free port.  Without: alone on a c2s port, names from the hosts file
    only (a source of migration data).  modules: the YAML of its modules
    block; password_format: auth_password_format (ejabberd's default,
    plain, when None).

    Names: ejabberd asks for SRV records with Erlang's own resolver
    (inet_res, which an inetrc can point anywhere) but for the addresses
    of the targets it calls net:getaddrinfo, the C library's resolver,
    which reads /etc/resolv.conf and nothing else; an inetrc alone got
    the SRV answer and then "enoname" for the target.  So the node runs
    in a mount namespace of its own (unshare -m) in which
    /etc/resolv.conf names the test's dnsmasq: both resolvers then ask
    it, and nothing outside the node sees the change."""

    def __init__(self, domain, dns=None, secure_auth=False, ca=None,
                 eku="serverAuth,clientAuth", modules=EJABBERD_S2S_MODULES,
                 password_format=None):
        # Not under pytest's temporary directory: every pytest run as
        # root makes /tmp/pytest-of-root private again, and the node's
        # user then loses its own files in the middle of a run.
        self.root = Path(tempfile.mkdtemp(prefix="ember-ejabberd-"))
        os.chmod(self.root, 0o755)
        self.domain = domain
        self.c2s_port = free_tcp_port()
        self.s2s_port = free_tcp_port() if dns is not None else None
        self.epmd_port = free_tcp_port()
        self.node = "ejtest%d@localhost" % self.c2s_port
        for d in ("logs", "spool", "certs", "export"):
            (self.root / d).mkdir(exist_ok=True)
        crt, key = self_signed(self.root / "certs", domain, ca, eku)
        if ca:
            ca = (shutil.copy(ca[0], self.root / "certs" / "ca.crt"), None)
        self.cert = crt
        pem = self.root / "certs" / "server.pem"
        pem.write_text(Path(crt).read_text() + Path(key).read_text())
        self.resolv_conf = None
        if dns is None:
            # ejabberdctl points Erlang's resolver at this file.
            (self.root / "inetrc").write_text("{lookup, [file]}.\n")
        elif dns.port != 53:
            raise RuntimeError("resolv.conf names port 53 only: the "
                               "ejabberd peer needs a dnsmasq run as root")
        else:
            self.resolv_conf = self.root / "resolv.conf"
            self.resolv_conf.write_text("nameserver %s\n" % dns.address)
        (self.root / "ejabberdctl.cfg").write_text(
            "ERLANG_NODE=%s\n"
            "EJABBERD_PID_PATH=%s/ejabberd.pid\n"
            "ERL_EPMD_ADDRESS=127.0.0.1\n"
            "export ERL_EPMD_PORT=%d\n"
            "INET_DIST_INTERFACE=127.0.0.1\n"
            "EJABBERD_BYPASS_WARNINGS=true\n"
            % (self.node, self.root, self.epmd_port))
        # Without mod_s2s_dialback a link stands or falls on SASL
        # EXTERNAL, which ejabberd checks against s2s_cafile.  The
        # listeners' default backlog of 5 made the bench's 100 logins at
        # once wait for SYN retries and some end reset.
        s2s_in = """  -
    port: %d
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
    backlog: 1024
""" % self.s2s_port if dns is not None else ""
        (self.root / "ejabberd.yml").write_text("""
hosts:
  - %(domain)s
loglevel: info
certfiles:
  - %(pem)s
%(cafile)s
s2s_use_starttls: required
s2s_dns_timeout: 5
s2s_access: s2s
listen:
  -
    port: %(c2s)d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    backlog: 1024
%(s2s_in)s
auth_method: internal
%(password_format)s
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
modules:
%(modules)s
%(dialback)s
""" % {"domain": domain, "pem": pem, "c2s": self.c2s_port,
       "s2s_in": s2s_in, "modules": modules.strip("\n"),
       "password_format": ("auth_password_format: " + password_format)
                          if password_format else "",
       "cafile": ('s2s_cafile: "%s"' % ca[0]) if ca else "",
       "dialback": "" if secure_auth or dns is None
                   else "  mod_s2s_dialback: {}"})
        subprocess.run(["chown", "-R", "ejabberd:", str(self.root)],
                       check=True)
        if dns is not None:
            for name in (domain, "conference." + domain):
                dns.add_host(name)
                dns.add_srv(name, self.s2s_port)
        self.proc = None

    def _ctl(self, *args):
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

    def export_piefxis(self, out):
        """ejabberdctl export_piefxis (XEP-0227), copied to out, a new
        directory (the node's own is gone once it stops); the files."""
        r = self.ctl("export_piefxis", str(self.root / "export"))
        assert r.returncode == 0, r.stdout + r.stderr + self.log()
        shutil.copytree(self.root / "export", out)
        return sorted(Path(out).iterdir())

    def addusers(self, users, password):
        """Many accounts through one Erlang node of our own calling the
        running node (ejabberdctl starts a VM per account)."""
        names = ",".join('<<"%s">>' % u for u in users)
        # The listeners can be up before Mnesia has loaded the accounts.
        expr = ("ok = rpc:call('%(n)s', mnesia, wait_for_tables, "
                "[[passwd], 60000]), "
                "[ok = rpc:call('%(n)s', ejabberd_auth, try_register, "
                '[U, <<"%(d)s">>, <<"%(p)s">>]) || U <- [%(u)s]], halt().'
                % {"n": self.node, "d": self.domain, "p": password,
                   "u": names})
        r = subprocess.run(
            ["setpriv", "--reuid", "ejabberd", "--regid", "ejabberd",
             "--init-groups", "env", "HOME=%s" % self.root,
             "ERL_EPMD_PORT=%d" % self.epmd_port, "ERL_CRASH_DUMP_BYTES=0",
             "erl", "-sname", "reg%d@localhost" % os.getpid(), "-hidden",
             "-noinput", "-eval", expr],
            capture_output=True, text=True, timeout=600, cwd=self.root)
        assert r.returncode == 0, r.stdout + r.stderr

    def start(self):
        t0 = time.monotonic()
        out = open(self.root / "ejabberd.out", "ab")
        private_resolv_conf = [
            "unshare", "--mount", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && exec "$@"',
            str(self.resolv_conf)] if self.resolv_conf is not None else []
        self.proc = subprocess.Popen(private_resolv_conf +
                                     self._ctl("foreground-quiet"),
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = t0 + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()
                raise RuntimeError("ejabberd exited:\n" + log)
            # The c2s port opens once the listeners are up, after the
            # modules: a cheaper probe than an ejabberdctl node per try.
            try:
                socket.create_connection(("127.0.0.1", self.c2s_port),
                                         0.2).close()
                self.start_seconds = time.monotonic() - t0
                return self
            except OSError:
                time.sleep(0.2)
        log = self.log()
        self.stop()
        raise RuntimeError("ejabberd did not listen:\n" + log)

    def pids(self):
        """The node's process (beam.smp), for CPU accounting and for
        stop(): the one started with -sname and our node's name (an
        ejabberdctl command names the node too, after other options)."""
        found = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            node = self.node.encode()
            if any(a == b"-sname" and b == node
                   for a, b in zip(cmd, cmd[1:])):
                found.append(int(d.name))
        return found

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
        if self.proc.poll() is None:
            # SIGTERM is init:stop() to the VM, as "ejabberdctl stop"
            # is, without a second VM to say so.
            for pid in self.pids():
                os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        # Killing ejabberdctl's shell leaves the VM it started running.
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)
        # Erlang started an epmd of its own on the node's private port.
        r = subprocess.run(["ss", "-Hltnp", "sport = :%d" % self.epmd_port],
                           capture_output=True, text=True)
        for part in r.stdout.split("pid=")[1:]:
            pid = part.split(",")[0]
            if pid.isdigit():
                subprocess.run(["kill", pid], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
