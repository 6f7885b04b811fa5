"""An admin of the console is not root of the machine (issue 13, finding
5): options that name files or load code change only in the config file
on disk, and emberd started as root runs as an unprivileged user once its
ports are bound.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import pytest

from harness import Server, ServerError
from test_console_api import (ADMIN, call, console_module, keyed, make_web,
                              new_key)


@pytest.fixture
def admin(server_factory, tmp_path):
    """A running server with the console, an admin and an API key."""
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.start()
    return srv, keyed(srv, new_key(srv)["key"])


def config_text(srv):
    return srv.config_path.read_text()


def test_console_cannot_repoint_the_web_root(admin, tmp_path):
    """The issue's attack: web-root set to /etc through the API served
    /etc/shadow to anyone."""
    srv, api = admin
    before = config_text(srv)
    st, _, doc = api("PUT", "/api/v1/modules/admin_console/options",
                     {"options": {"web-root": "/etc"}})
    assert st == 403, doc
    assert "web-root" in doc["detail"] and "config file" in doc["detail"]
    assert config_text(srv) == before
    st, _, _ = call(srv, "GET", "/shadow")
    assert st != 200
    # Options that name no file still change from the console.
    st, _, doc = api("PUT", "/api/v1/modules/offline/options",
                     {"host": "localhost", "options": {"max-messages": 50}})
    assert st == 200, doc


def _set(root, tag, **attrs):
    el = root.find(tag)
    if el is None:
        el = ET.Element(tag)
        root.insert(0, el)
    for k, v in attrs.items():
        el.set(k, v)


@pytest.mark.parametrize("change", [
    "log file", "paths data", "plugins dir", "tls cert", "run-as user",
    "s2s ca-file",
])
def test_config_set_cannot_touch_files_or_code(admin, tmp_path, change):
    srv, api = admin
    evil = tmp_path / "evil"
    evil.mkdir()
    marker = tmp_path / "constructor-ran"
    # A plugin whose constructor leaves a mark: checking a config must
    # not run it.
    src = tmp_path / "evil.c"
    src.write_text('#include <stdio.h>\n__attribute__((constructor)) '
                   'static void run(void) { FILE *f = fopen("%s", "w"); '
                   'if (f) fclose(f); }\n' % marker)
    subprocess.run(["cc", "-shared", "-fPIC", "-o",
                    str(evil / "mod_disco.so"), str(src)], check=True)
    before = config_text(srv)
    root = ET.fromstring(before)
    if change == "log file":
        _set(root, "log", file=str(tmp_path / "evil.log"))
    elif change == "paths data":
        _set(root, "paths", data=str(tmp_path / "evil-data"))
    elif change == "plugins dir":
        root.insert(0, ET.Element("plugins", dir=str(evil)))
    elif change == "tls cert":
        _set(root, "tls", cert="/etc/shadow", key="/etc/shadow")
    elif change == "s2s ca-file":
        _set(root, "s2s", **{"ca-file": "/etc/shadow"})
    else:
        _set(root, "run-as", user="nobody")
    text = ET.tostring(root, encoding="unicode")
    for path, method in (("/api/v1/config/check", "POST"),
                         ("/api/v1/config", "PUT")):
        st, _, doc = api(method, path, {"text": text})
        if method == "POST":
            assert st == 200 and doc["ok"] is False, doc
            detail = doc["errors"][0]["message"]
        else:
            assert st == 403, doc
            detail = doc["detail"]
        assert "changes only in" in detail, detail
    assert config_text(srv) == before
    assert not marker.exists()


def test_check_of_another_file_is_local_only(admin, tmp_path):
    srv, api = admin
    other = tmp_path / "other.xml"
    shutil.copy(srv.config_path, other)
    st, _, doc = api("POST", "/api/v1/commands/check", {"path": str(other)})
    assert st == 403, doc
    assert srv.ctl("check", str(other)).returncode == 0


def test_operator_keeps_every_option(admin, tmp_path):
    """Through emberctl (the control socket) the same change is allowed."""
    srv, api = admin
    web2 = make_web(tmp_path / "second")
    (web2 / "index.html").write_text("<h1>second</h1>")
    r = srv.ctl("module-configure", "--name=admin_console",
                '--options={"web-root": "%s"}' % web2)
    assert r.returncode == 0, r.stdout + r.stderr
    assert str(web2) in config_text(srv)


# ---- leaving root ----

def _ember_user():
    try:
        return pwd.getpwnam("ember")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group",
                        "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "ember"], check=True)
        return pwd.getpwnam("ember")


@pytest.fixture
def open_root():
    """A server directory the unprivileged user can reach (pytest's own
    temporary directory is private to root)."""
    if os.geteuid() != 0:
        pytest.skip("the privilege drop is tested as root")
    d = tempfile.mkdtemp(prefix="ember-priv-", dir="/tmp")
    os.chmod(d, 0o755)
    servers = []
    yield d, servers
    reports = []
    for s in servers:
        if s.running():
            s.stop(check=False)
        if s.sanitizer_report():
            reports.append(s.log()[-3000:])
    shutil.rmtree(d, ignore_errors=True)
    assert not reports, reports


def _without_run_as(srv):
    for el in srv.cfg.findall("run-as"):
        srv.cfg.remove(el)


def _ids(pid):
    with open("/proc/%d/status" % pid) as f:
        st = dict(line.split(":", 1) for line in f)
    return ([int(x) for x in st["Uid"].split()],
            [int(x) for x in st["Gid"].split()], st["Groups"].split())


def test_root_start_runs_as_ember(open_root):
    d, servers = open_root
    pw = _ember_user()
    srv = Server(os.path.join(d, "srv"))
    servers.append(srv)
    _without_run_as(srv)
    srv.adduser("alice", "alice-pw")          # as root, offline
    srv.start()
    # Listening sockets are bound as root and take connections into their
    # backlog before the drop: the port answering is not the drop done.
    srv.wait_log(r"running as ember")
    uids, gids, groups = _ids(srv.pid)
    assert uids == [pw.pw_uid] * 4 and gids == [pw.pw_gid] * 4
    assert str(0) not in groups
    data = srv.dir / "data"
    for dirpath, dirnames, filenames in os.walk(data):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            assert st.st_uid == pw.pw_uid, os.path.join(dirpath, name)
    # Still works as ember: writes to its database, answers the socket.
    srv.adduser("bob", "bob-pw")
    assert "bob" in srv.ctl_ok("users", "localhost").stdout
    srv.stop()


def test_unknown_run_as_user_refuses_to_start(open_root):
    d, servers = open_root
    srv = Server(os.path.join(d, "srv"))
    servers.append(srv)
    _without_run_as(srv)
    ET.SubElement(srv.cfg, "run-as", user="no-such-user-x")
    srv.start(wait=False)
    assert srv.wait_exit(timeout=20) != 0
    assert "user 'no-such-user-x' does not exist" in srv.log()


def test_root_start_keeps_root_only_when_asked(open_root):
    d, servers = open_root
    srv = Server(os.path.join(d, "srv"))
    servers.append(srv)
    srv.start()             # the harness's <run-as user="root"/>
    assert _ids(srv.pid)[0] == [0] * 4
    assert "running as root" in srv.log()
    srv.stop()


def test_systemd_unit_is_valid(tmp_path):
    """etc/emberd.service as make install writes it: every key known to
    systemd, the sandbox the issue asks for present."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    from harness import EMBERD
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    text = open(os.path.join(repo, "etc", "emberd.service")).read()
    for key in ("NoNewPrivileges=yes", "ProtectSystem=strict",
                "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
                "ReadWritePaths=", "StateDirectory=ember"):
        assert key in text, key
    unit = tmp_path / "emberd.service"
    unit.write_text(text.replace("@SBINDIR@/emberd", str(EMBERD))
                    .replace("@SYSCONFDIR@", str(tmp_path)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Unknown" not in r.stderr, r.stderr
