"""XEP-0215 External Service Discovery (mod_extdisco): STUN and TURN
servers from the config, TURN credentials of the shared-secret scheme a
TURN server (coturn's use-auth-secret) checks by itself."""

import base64
import hashlib
import hmac
import time
import calendar

from rawxmpp import NS_CLIENT, RawClient, disco_features, q, stanza_error

NS = "urn:xmpp:extdisco:2"
SECRET = "shared-with-the-turn-server"


def services(c, type_=None):
    r = c.iq("get", "<services xmlns='%s'%s/>"
             % (NS, " type='%s'" % type_ if type_ else ""), to="localhost")
    assert r.get("type") == "result", stanza_error(r)
    return [s.attrib for s in r.find(q(NS, "services")).findall(
        q(NS, "service"))]


def test_services_and_credentials(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("extdisco", stun="stun.example.org:3478",
                   turn="turn.example.org:3478",
                   turns="turn.example.org:5349",
                   **{"turn-secret": SECRET, "credentials-ttl": "1h"})
    srv.start()
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    assert NS in disco_features(c.disco_info())
    got = services(c)
    kinds = sorted((s["type"], s["transport"], s["port"]) for s in got)
    assert kinds == [("stun", "udp", "3478"), ("turn", "tcp", "3478"),
                     ("turn", "udp", "3478"), ("turns", "tcp", "5349")]
    stun = next(s for s in got if s["type"] == "stun")
    assert stun["host"] == "stun.example.org" and "password" not in stun
    now = time.time()
    for s in got:
        if not s["type"].startswith("turn"):
            continue
        expiry, who = s["username"].split(":", 1)
        assert who == "alice@localhost"
        assert now + 3500 < int(expiry) <= now + 3700
        assert s["password"] == base64.b64encode(hmac.new(
            SECRET.encode(), s["username"].encode(),
            hashlib.sha1).digest()).decode()
        assert calendar.timegm(time.strptime(
            s["expires"], "%Y-%m-%dT%H:%M:%SZ")) == int(expiry)
    # Only what was asked for.
    assert {s["type"] for s in services(c, "stun")} == {"stun"}
    assert services(c, "nothing") == []
    c.close()


def test_without_secret_no_credentials(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("extdisco", turn="turn.example.org:3478")
    srv.start()
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    for s in services(c):
        assert "username" not in s and "password" not in s
    c.close()


def test_coturn_accepts_the_credentials(server_factory, passwords, tmp_path):
    """The world's check: Debian's coturn, with the same secret
    (use-auth-secret), allocates a relay with what emberd handed out and
    refuses a tampered password."""
    import shutil
    import socket
    import subprocess
    if shutil.which("turnserver") is None:
        import pytest
        pytest.skip("coturn not installed")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    turn = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip=127.0.0.1",
         "--relay-ip=127.0.0.1", "--listening-port=%d" % port,
         "--use-auth-secret", "--static-auth-secret=" + SECRET,
         "--realm=localhost", "--no-tls", "--no-dtls", "--no-cli",
         "--allow-loopback-peers", "--log-file=stdout",
         "--pidfile=%s" % (tmp_path / "turn.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        srv = server_factory(start=False)
        srv.add_module("extdisco", turn="127.0.0.1:%d" % port,
                       **{"turn-secret": SECRET})
        srv.start()
        c = RawClient(srv.c2s_port, domain=srv.domain)
        c.login("alice", passwords["alice"])
        t = next(x for x in services(c, "turn") if x["transport"] == "udp")
        c.close()

        def allocate(password):
            deadline = time.monotonic() + 10
            while True:
                r = subprocess.run(
                    ["turnutils_uclient", "-u", t["username"], "-w",
                     password, "-p", t["port"], "-e", "127.0.0.1", "-n",
                     "1", "-m", "1", "-y", "-c", t["host"]],
                    capture_output=True, text=True, timeout=30)
                out = r.stdout + r.stderr
                # The server may still be starting.
                if "Cannot connect" not in out or \
                        time.monotonic() > deadline:
                    return out
                time.sleep(0.2)

        out = allocate(t["password"])
        assert "Total lost packets 0" in out, out[-2000:]
        out = allocate(t["password"][:-2] + "AA")
        assert "Cannot complete Allocation" in out, out[-2000:]
    finally:
        turn.terminate()
        turn.wait(timeout=10)
