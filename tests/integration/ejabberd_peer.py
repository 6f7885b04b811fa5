"""Debian's ejabberd (23.01) as a source of data for the migration tests:
its own user (ejabberdctl will not run the node as root), a directory of
its own, its own epmd port, c2s on a free loopback port, no s2s.

The federation tests keep a peer of their own in peers.py (with s2s and
the test's DNS); this one only needs clients and ejabberdctl."""

import os
import shutil
import subprocess
import time
from pathlib import Path

from peers import free_tcp_port

EJABBERDCTL = shutil.which("ejabberdctl") or "/usr/sbin/ejabberdctl"


def available():
    try:
        import pwd
        pwd.getpwnam("ejabberd")
    except KeyError:
        return False
    return os.path.exists(EJABBERDCTL) and os.geteuid() == 0


class Ejabberd:
    def __init__(self, root, domain="localhost", password_format="scram"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # The ejabberd user must reach it: root is in a directory it can
        # enter (not pytest's tmp_path, which other sessions make 0700).
        os.chmod(self.root, 0o755)
        self.domain = domain
        self.port = free_tcp_port()
        self.epmd_port = free_tcp_port()
        (self.root / "logs").mkdir(exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        (self.root / "export").mkdir(exist_ok=True)
        (self.root / "ejabberdctl.cfg").write_text(
            "ERLANG_NODE=ejmig%d@localhost\n"
            "EJABBERD_PID_PATH=%s/ejabberd.pid\n"
            "export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=%d\n"
            "INET_DIST_INTERFACE=127.0.0.1\n"
            "ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0\"\n"
            "EJABBERD_BYPASS_WARNINGS=true\n"
            % (self.port, self.root, self.epmd_port))
        (self.root / "ejabberd.yml").write_text("""
hosts:
  - %(domain)s
loglevel: info
listen:
  -
    port: %(c2s)d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
auth_method: internal
auth_password_format: %(fmt)s
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_disco: {}
  mod_roster: {}
  mod_vcard: {}
  mod_private: {}
  mod_offline: {}
""" % {"domain": domain, "c2s": self.port, "fmt": password_format})
        # ejabberdctl points Erlang's resolver at this file: hosts only.
        (self.root / "inetrc").write_text("{lookup, [file]}.\n")
        subprocess.run(["chown", "-R", "ejabberd:", str(self.root)],
                       check=True)
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

    def ctl_ok(self, *args):
        r = self.ctl(*args)
        assert r.returncode == 0, "ejabberdctl %s: %s%s\n%s" % (
            args, r.stdout, r.stderr, self.log())
        return r

    def adduser(self, user, password):
        self.ctl_ok("register", user, self.domain, password)

    def start(self):
        out = open(self.root / "ejabberd.out", "ab")
        self.proc = subprocess.Popen(self._ctl("foreground-quiet"),
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()     # the epmd it started outlives it
                raise RuntimeError("ejabberd exited:\n" + log)
            if self.ctl("status").returncode == 0:
                return self
            time.sleep(1)
        log = self.log()
        self.stop()
        raise RuntimeError("ejabberd did not start:\n" + log)

    def export_piefxis(self):
        """ejabberdctl export_piefxis into a directory of ejabberd's;
        returns the files it wrote."""
        out = self.root / "export"
        self.ctl_ok("export_piefxis", str(out))
        return sorted(out.iterdir())

    def log(self):
        text = ""
        for p in (self.root / "ejabberd.out",
                  self.root / "logs" / "ejabberd.log",
                  self.root / "logs" / "error.log"):
            if p.exists():
                text += p.read_text(errors="replace")[-20000:]
        return text

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
        # Erlang started an epmd on the node's private port: stop it (by
        # its pid, found by that port).
        r = subprocess.run(["ss", "-Hltnp", "sport = :%d" % self.epmd_port],
                           capture_output=True, text=True)
        for part in r.stdout.split("pid=")[1:]:
            pid = part.split(",")[0]
            if pid.isdigit():
                subprocess.run(["kill", pid], capture_output=True)
