"""emberctl and the process: accounts online and offline, config check,
persistence across kill -9, clean shutdown."""

import re
import signal
import textwrap

from harness import MODULES
from rawxmpp import RawClient


def can_login(server, user, password, domain=None):
    c = RawClient(server.c2s_port, domain=domain or server.domain)
    c.open()
    c.starttls()
    r = c.auth_scram(user, password)
    c.close()
    return r == "success"


def users(server, host="localhost"):
    r = server.ctl_ok("users", host)
    return set(re.findall(r"[\w.-]+", r.stdout))


def test_accounts_offline(server_factory):
    srv = server_factory(start=False, users=False)
    srv.ctl_ok("adduser", "erin@localhost", "pw1")
    # Password on stdin when not given.
    srv.ctl_ok("adduser", "frank@localhost", input="pw2\n")
    r = srv.ctl("adduser", "erin@localhost", "again")
    assert r.returncode == 1 and r.stderr.strip()
    assert {"erin", "frank"} <= users(srv)
    srv.ctl_ok("passwd", "erin@localhost", "pw3")
    srv.ctl_ok("deluser", "frank@localhost")
    assert "frank" not in users(srv)
    r = srv.ctl("deluser", "frank@localhost")
    assert r.returncode == 1
    r = srv.ctl("adduser", "bad@@localhost", "x")
    assert r.returncode in (1, 2)
    r = srv.ctl("adduser", "someone@unknown.example", "x")
    assert r.returncode == 1
    r = srv.ctl("no-such-command")
    assert r.returncode == 2

    srv.start()
    assert can_login(srv, "erin", "pw3")
    assert not can_login(srv, "erin", "pw1")
    assert not can_login(srv, "frank", "pw2")


def test_accounts_online(server, passwords):
    server.ctl_ok("adduser", "gina@localhost", "g1")
    assert "gina" in users(server)
    assert can_login(server, "gina", "g1")
    server.ctl_ok("passwd", "gina@localhost", "g2")
    assert not can_login(server, "gina", "g1")
    assert can_login(server, "gina", "g2")
    r = server.ctl("adduser", "gina@localhost", "x")
    assert r.returncode == 1

    c = RawClient(server.c2s_port)
    c.login("gina", "g2")
    server.ctl_ok("deluser", "gina@localhost")
    # The online session is ended.
    c.wait_closed(timeout=10)
    assert not can_login(server, "gina", "g2")
    assert "gina" not in users(server)


def test_status(server):
    r = server.ctl_ok("status")
    assert r.stdout.strip()


def test_batch(server):
    r = server.ctl_ok("batch", input="adduser h1@localhost p1\n"
                                     "adduser h2@localhost p2\n"
                                     "users localhost\n")
    assert len([l for l in r.stdout.splitlines() if l.strip()]) >= 3
    assert can_login(server, "h1", "p1") and can_login(server, "h2", "p2")


def test_kill9_keeps_written_data(server, passwords):
    server.ctl_ok("adduser", "ivan@localhost", "persist")
    server.ctl_ok("passwd", "alice@localhost", "changed")
    server.kill9()
    server.start()
    assert can_login(server, "ivan", "persist")
    assert can_login(server, "alice", "changed")
    assert not can_login(server, "alice", passwords["alice"])


def test_sigterm_system_shutdown(server, passwords):
    c = RawClient(server.c2s_port)
    c.login("alice", passwords["alice"])
    c.sync()
    server.signal(signal.SIGTERM)
    assert c.expect_stream_error() == "system-shutdown"
    c.wait_closed()
    assert server.wait_exit() == 0


def test_sigint_exits_cleanly(server):
    server.signal(signal.SIGINT)
    assert server.wait_exit() == 0


BAD_CONFIGS = [
    # (body lines after <ember>, the 1-based line number of the error)
    ("""<listen type="c2s" address="127.0.0.1" port="70000"/>""", 3),
    ("""<listen type="c2s" address="0.0.0.0" port="5999" require-tls="false"/>""", 3),
    ("""<not-an-element/>""", 3),
    ("""<limits max-stanza-size="lots"/>""", 3),
]


def _write_config(srv, line3):
    text = textwrap.dedent("""\
        <?xml version="1.0" encoding="UTF-8"?>
        <ember><plugins dir="%s"/>
        %s
          <host name="localhost">
            <module name="disco"/>
          </host>
        </ember>
        """) % (MODULES, line3)
    path = srv.dir / "bad.xml"
    path.write_text(text)
    return path


def test_check_reports_line_numbers(server_factory):
    srv = server_factory(start=False, users=False)
    r = srv.ctl("check")
    assert r.returncode == 0, r.stderr
    for line3, lineno in BAD_CONFIGS:
        path = _write_config(srv, line3)
        r = srv.ctl_raw("-c", path, "check")
        out = r.stdout + r.stderr
        assert r.returncode == 1, (line3, out)
        assert re.search(r"bad\.xml:%d\b" % lineno, out), (line3, out)



def _bogus_option_config(srv):
    path = _write_config(srv, "")
    path.write_text(path.read_text().replace(
        '<module name="disco"/>', '<module name="disco" bogus="1"/>'))
    return path


def test_check_reports_module_option_line(server_factory):
    # Module options are declared by the modules: check must open them.
    srv = server_factory(start=False, users=False)
    path = _bogus_option_config(srv)
    r = srv.ctl_raw("-c", path, "check")
    out = r.stdout + r.stderr
    assert r.returncode == 1 and re.search(r"bad\.xml:5\b", out), out
    assert "bogus" in out


def test_bad_module_option_logged_with_line(server_factory):
    srv = server_factory(start=False, users=False)
    srv.add_module("version", bogus="1")
    srv.start()
    m = srv.wait_log(r"ember\.xml:\d+:.*bogus")
    assert "version" in srv.log()[m.start() - 200:m.end() + 200]
    c = RawClient(srv.c2s_port)
    c.open()
    c.close()


def test_emberd_refuses_bad_config(server_factory):
    srv = server_factory(start=False, users=False)
    path = _write_config(srv, BAD_CONFIGS[0][0])
    import subprocess
    from harness import EMBERD
    r = subprocess.run([str(EMBERD), "-c", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert re.search(r"bad\.xml:3\b", r.stdout + r.stderr)
