"""A PostgreSQL server of our own for storage_pgsql: Debian's
postgresql 15 binaries, a cluster made by initdb in a temporary directory,
listening on a loopback ephemeral port only (no Unix socket, trust
authentication from 127.0.0.1).  initdb refuses root: as root, the
cluster belongs to the `postgres` system user and its commands run
through runuser.

    pg = Postgres()               # initdb + start
    conninfo = pg.create_database()   # a fresh database, its conninfo
    pg.psql(conninfo, "SELECT ...")   # rows as lists of strings
    pg.stop() / pg.start() / pg.close()

The system's postgresql service is never touched.
"""

import atexit
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from peers import free_tcp_port

BIN = Path(os.environ.get("EMBER_PG_BIN", "/usr/lib/postgresql/15/bin"))
_names = itertools.count(1)


def available():
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


class Postgres:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ember-pg-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = free_tcp_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        self._run([str(BIN / "initdb"), "-D", str(self.data), "-U",
                   "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = ''\n"
                    "max_connections = 300\n"
                    "shared_buffers = 64MB\n"
                    # The tests kill processes, never the machine: a
                    # commit written to the kernel survives them.
                    "fsync = off\n"
                    "full_page_writes = off\n" % self.port)
        self.start()
        atexit.register(self.close)

    def _run(self, args, check=True, timeout=120):
        if self.user is not None:
            args = ["runuser", "-u", self.user, "--"] + args
        r = subprocess.run(args, capture_output=True, text=True,
                           timeout=timeout, cwd=str(self.dir))
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s%s"
                               % (args, r.returncode, r.stdout, r.stderr,
                                  self.log()))
        return r

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def admin_conninfo(self):
        return self.conninfo("postgres")

    def conninfo(self, db):
        return ("host=127.0.0.1 port=%d user=postgres dbname=%s "
                "connect_timeout=5" % (self.port, db))

    def start(self):
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-l",
                   str(self.log_path), "-w", "-t", "60", "start"])

    def stop(self, mode="fast"):
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode,
                   "-w", "-t", "60", "stop"], check=False)

    def running(self):
        r = self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "status"],
                      check=False)
        return r.returncode == 0

    def close(self):
        if self.dir is None:
            return
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def psql(self, conninfo, sql):
        """Rows of sql's last statement, as lists of strings."""
        r = subprocess.run([str(BIN / "psql"), "-X", "-q", "-A", "-t",
                            "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                            "-d", conninfo, "-c", sql],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("psql %r failed: %s" % (sql, r.stderr))
        return [line.split("\x1f") for line in r.stdout.splitlines()
                if line != ""]

    def create_database(self, name=None):
        """A new empty database; its conninfo."""
        name = name or "ember_%d_%d" % (os.getpid(), next(_names))
        # FILE_COPY: half the time of WAL_LOG for a small template.
        self.psql(self.admin_conninfo,
                  "CREATE DATABASE %s STRATEGY = FILE_COPY" % name)
        return self.conninfo(name)

    def drop_database(self, conninfo):
        """Drop the database conninfo names (a test is done with it: a run
        makes a thousand of them, gigabytes if kept); quietly."""
        name = dict(kv.split("=", 1) for kv in conninfo.split()).get("dbname")
        if name is None or self.dir is None:
            return
        try:
            self.psql(self.admin_conninfo,
                      "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass


_shared = None


def shared_if_started():
    """The run's server if a test started it, else None."""
    return _shared


def shared():
    """One server for the whole run (every emberd gets its own database):
    started at the first call, removed at exit."""
    global _shared
    if _shared is None:
        _shared = Postgres()
    return _shared


def wait_down(pg, timeout=30.0):
    deadline = time.monotonic() + timeout
    while pg.running():
        if time.monotonic() > deadline:
            raise RuntimeError("postgres still running")
        time.sleep(0.1)
