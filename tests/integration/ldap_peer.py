"""A slapd of our own for the LDAP tests: Debian's slapd as shipped, the
mdb backend in a temporary directory, on loopback ephemeral ports (ldap://
and ldaps://), with a test CA whose certificate the server presents.

    d = Slapd(tmp_path)          # writes the config, loads USERS, starts
    d.uri, d.ldaps_uri, d.ca_file
    d.stop_signal() / d.cont()   # SIGSTOP / SIGCONT: a directory that hangs
    d.close()

The system's slapd service is never touched: this one has its own config
(-f), database, pid file and ports.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from peers import free_tcp_port

SUFFIX = "dc=example,dc=org"
ROOT_DN = "cn=admin," + SUFFIX
ROOT_PW = "root-secret"
SERVICE_DN = "cn=ember," + SUFFIX
SERVICE_PW = "service-secret"
ADMINS_DN = "cn=xmpp-admins,ou=groups," + SUFFIX

# user -> password; "boss" is in the admin group.
USERS = {
    "ldapalice": "alice-ldap-pw",
    "ldapbob": "bob-ldap-pw",
    "boss": "boss-ldap-pw",
}

SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def _run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s"
                           % (args[0], r.returncode, r.stdout, r.stderr))
    return r.stdout


def _ldif(users):
    out = ["dn: " + SUFFIX, "objectClass: dcObject",
           "objectClass: organization", "o: Example", "dc: example", "",
           "dn: ou=people," + SUFFIX, "objectClass: organizationalUnit",
           "ou: people", "",
           "dn: ou=groups," + SUFFIX, "objectClass: organizationalUnit",
           "ou: groups", "",
           "dn: " + SERVICE_DN, "objectClass: person", "cn: ember",
           "sn: service", "userPassword: " + SERVICE_PW, ""]
    for uid, pw in users.items():
        out += ["dn: uid=%s,ou=people,%s" % (uid, SUFFIX),
                "objectClass: inetOrgPerson", "uid: " + uid, "cn: " + uid,
                "sn: " + uid, "userPassword: " + pw, ""]
    out += ["dn: " + ADMINS_DN, "objectClass: groupOfNames",
            "cn: xmpp-admins",
            "member: uid=boss,ou=people," + SUFFIX,
            # groupOfNames needs a member left when boss is removed.
            "member: " + SERVICE_DN, ""]
    return "\n".join(out)


def _make_ca(d):
    """A CA and a certificate for 127.0.0.1 signed by it (openssl CLI)."""
    ca_key, ca = d / "ca.key", d / "ca.pem"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.pem"
    ext = d / "server.ext"
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
          "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
          "-subj", "/CN=Ember test LDAP CA"])
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
          str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1"])
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca),
          "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(crt),
          "-days", "2", "-extfile", str(ext)])
    os.chmod(key, 0o644)
    return ca, crt, key


class Slapd:
    def __init__(self, root, users=USERS):
        self.dir = Path(root) / "slapd"
        self.dir.mkdir()
        (self.dir / "db").mkdir()
        self.ca_file, crt, key = _make_ca(self.dir)
        self.port = free_tcp_port()
        self.tls_port = free_tcp_port()
        self.uri = "ldap://127.0.0.1:%d/" % self.port
        self.ldaps_uri = "ldaps://127.0.0.1:%d/" % self.tls_port
        self.conf = self.dir / "slapd.conf"
        self.conf.write_text("\n".join(
            ["include /etc/ldap/schema/%s.schema" % s for s in SCHEMAS] + [
                "modulepath /usr/lib/ldap",
                "moduleload back_mdb",
                "pidfile %s/slapd.pid" % self.dir,
                "argsfile %s/slapd.args" % self.dir,
                "TLSCACertificateFile %s" % self.ca_file,
                "TLSCertificateFile %s" % crt,
                "TLSCertificateKeyFile %s" % key,
                "database mdb",
                "maxsize 10485760",
                'suffix "%s"' % SUFFIX,
                'rootdn "%s"' % ROOT_DN,
                "rootpw %s" % ROOT_PW,
                "directory %s/db" % self.dir,
                "access to attrs=userPassword by anonymous auth "
                "by self write by * none",
                "access to * by users read by anonymous read",
                ""]))
        ldif = self.dir / "data.ldif"
        ldif.write_text(_ldif(users))
        _run(["slapadd", "-q", "-f", str(self.conf), "-l", str(ldif)])
        self.log_path = self.dir / "slapd.log"
        self.proc = None
        self.start()

    def start(self):
        self._log = open(self.log_path, "ab")
        # -d keeps it in the foreground, our child: signals reach it;
        # "stats" logs each operation (binds() counts them).
        self.proc = subprocess.Popen(
            ["slapd", "-f", str(self.conf), "-d", "stats", "-h",
             "%s %s" % (self.uri, self.ldaps_uri)],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited: %s"
                                   % self.log_path.read_text())
            try:
                self.search(SUFFIX, "(objectClass=*)", scope="base")
                return
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError("slapd did not answer: %s"
                           % self.log_path.read_text())

    def binds(self, uid):
        """How many binds as uid=UID,ou=people the directory received."""
        text = self.log_path.read_text(errors="replace")
        # One "method=" line per bind request (a success adds a "mech=" one).
        return text.count('BIND dn="uid=%s,ou=people,%s" method='
                          % (uid, SUFFIX))

    def search(self, base, flt, scope="sub"):
        return _run(["ldapsearch", "-x", "-LLL", "-H", self.uri, "-b", base,
                     "-s", scope, flt, "dn"])

    def modify(self, ldif):
        """ldapmodify as the root DN."""
        return _run(["ldapmodify", "-x", "-H", self.uri, "-D", ROOT_DN,
                     "-w", ROOT_PW], input=ldif)

    def add(self, ldif):
        return _run(["ldapadd", "-x", "-H", self.uri, "-D", ROOT_DN,
                     "-w", ROOT_PW], input=ldif)

    def stop_signal(self):
        self.proc.send_signal(signal.SIGSTOP)

    def cont(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    close = stop
