"""xmpp.js (@xmpp/client from npm, pinned in tests/clients/xmppjs) in Node
against a real emberd, with its default settings, over TCP with STARTTLS
and over WebSocket.  tests/clients/xmppjs/client.mjs logs alice in, sends
bob (a RawClient) a chat, waits for his reply, fetches the roster and logs
out; each step and every element it sent and received comes back as a JSON
line, and a failure shows them.

The server's certificate is self-signed: the user trusts it as Node users
do, with NODE_EXTRA_CA_CERTS naming the server's certificate file.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

from harness import REPO
from muclib import body
from rawxmpp import RawClient

CLIENT_DIR = REPO / "tests" / "clients" / "xmppjs"
TIMEOUT = 15.0
NPM_TIMEOUT = 300
WIRE_TAIL = 40


def _pinned_version():
    return json.loads((CLIENT_DIR / "package.json").read_text())[
        "dependencies"]["@xmpp/client"]


def _installed_version():
    p = CLIENT_DIR / "node_modules" / "@xmpp" / "client" / "package.json"
    try:
        return json.loads(p.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    npm = shutil.which("npm")
    if exe is None:
        pytest.skip("node is not installed")
    if _installed_version() != _pinned_version():
        if npm is None:
            pytest.skip("@xmpp/client is not installed and there is no npm "
                        "to install it")
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund",
                            "--loglevel=error"], cwd=CLIENT_DIR,
                           capture_output=True, text=True,
                           timeout=NPM_TIMEOUT)
        if r.returncode != 0:
            pytest.fail("npm ci in %s failed (%d):\n%s%s"
                        % (CLIENT_DIR, r.returncode, r.stdout, r.stderr),
                        pytrace=False)
    assert _installed_version() == _pinned_version()
    # @xmpp/websocket uses the global WebSocket, which Node 20 defines only
    # with this flag (doc/interop.md).
    r = subprocess.run([exe, "-p", "typeof WebSocket"], capture_output=True,
                       text=True, timeout=30)
    if r.stdout.strip() == "function":
        return [exe]
    return [exe, "--experimental-websocket"]


class NodeClient:
    """client.mjs running, and the JSON lines it printed so far."""

    def __init__(self, node, srv, opts, trust_cert=True):
        env = dict(os.environ)
        env.pop("NODE_EXTRA_CA_CERTS", None)
        if trust_cert:
            env["NODE_EXTRA_CA_CERTS"] = str(srv.dir / "data" / "tls" /
                                             "cert.pem")
        self.lines = []
        self.q = queue.Queue()
        self.proc = subprocess.Popen(
            node + [str(CLIENT_DIR / "client.mjs"),
             json.dumps(dict(opts, timeout=int(TIMEOUT * 1000)))],
            cwd=CLIENT_DIR, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = {"unparsed": line.rstrip("\n")}
            self.q.put(obj)
        self.q.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def report(self):
        wire = ["%s %s" % ("C:" if o["wire"] == "out" else "S:", o["xml"])
                if "wire" in o else json.dumps(o) for o in self.lines]
        return ("---- client.mjs output (last %d) ----\n%s\n"
                "---- client.mjs stderr ----\n%s"
                % (WIRE_TAIL, "\n".join(wire[-WIRE_TAIL:]),
                   "\n".join(self.stderr[-20:])))

    def _next(self, what, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("xmpp.js: no %s within %.0f s\n%s"
                                     % (what, timeout, self.report()))
            try:
                obj = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if obj is None:
                self.proc.wait(5)
                raise AssertionError(
                    "xmpp.js exited (%s) before %s\n%s"
                    % (self.proc.returncode, what, self.report()))
            self.lines.append(obj)
            if "event" in obj:
                return obj

    def event(self, name, timeout=TIMEOUT):
        """The next {"event": name}; fails on an error event or an exit."""
        while True:
            obj = self._next(repr(name), timeout)
            if obj["event"] == "error":
                raise AssertionError("xmpp.js error in step %s: %s\n%s"
                                     % (obj.get("step"), obj.get("message"),
                                        self.report()))
            if obj["event"] == name:
                return obj

    def error(self, timeout=TIMEOUT):
        """The error event that ends the run."""
        while True:
            obj = self._next("an error", timeout)
            if obj["event"] == "error":
                return obj

    def sent(self, tag):
        return [o["xml"] for o in self.lines
                if o.get("wire") == "out" and o["xml"].startswith("<" + tag)]

    def exit_status(self):
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("xmpp.js did not exit\n%s" % self.report())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def xmppjs(node, server):
    made = []

    def run(opts, **kw):
        c = NodeClient(node, server, opts, **kw)
        made.append(c)
        return c
    yield run
    for c in made:
        c.kill()


@pytest.mark.parametrize("transport", ["tcp-starttls", "websocket"])
def test_xmppjs_login_chat_roster(server, passwords, xmppjs, transport):
    phone = RawClient(server.c2s_port, server.domain)
    bob = RawClient(server.c2s_port, server.domain)
    try:
        phone.login("alice", passwords["alice"], resource="phone")
        r = phone.iq("set", "<query xmlns='jabber:iq:roster'>"
                     "<item jid='bob@localhost' name='Bob'><group>Friends"
                     "</group></item></query>")
        assert r.get("type") == "result"
        bob.login("bob", passwords["bob"], resource="raw")
        bob.presence()

        service = ("xmpp://127.0.0.1:%d" % server.c2s_port
                   if transport == "tcp-starttls" else
                   "ws://127.0.0.1:%d/xmpp-websocket" % server.http_port)
        hello = "hello bob, from xmpp.js over %s" % transport
        js = xmppjs({"service": service, "domain": server.domain,
                     "username": "alice", "password": passwords["alice"],
                     "resource": "xmppjs", "peer": "bob@localhost",
                     "body": hello})

        online = js.event("online")
        assert online["jid"] == "alice@localhost/xmppjs"
        auth = js.sent("auth")
        assert len(auth) == 1 and "mechanism=\"SCRAM-SHA-1\"" in auth[0], \
            "xmpp.js authenticated with %s\n%s" % (auth, js.report())
        if transport == "tcp-starttls":
            assert js.sent("starttls"), js.report()
            assert online["tls"] in ("TLSv1.2", "TLSv1.3"), js.report()
            assert online["authorized"] is True, js.report()

        m = bob.recv_message(timeout=TIMEOUT)
        assert m.get("from") == "alice@localhost/xmppjs"
        assert m.get("type") == "chat"
        assert body(m) == hello
        bob.message("alice@localhost", "hello alice, from bob")
        got = js.event("message")
        assert got == {"event": "message", "from": "bob@localhost/raw",
                       "body": "hello alice, from bob"}

        roster = js.event("roster")
        assert roster["items"] == [{"jid": "bob@localhost", "name": "Bob",
                                    "subscription": "none",
                                    "groups": ["Friends"]}]
        js.event("offline")
        assert js.exit_status() == 0, js.report()
    finally:
        phone.close()
        bob.close()


def test_xmppjs_refuses_an_untrusted_certificate(server, passwords, xmppjs):
    js = xmppjs({"service": "xmpp://127.0.0.1:%d" % server.c2s_port,
                 "domain": server.domain, "username": "alice",
                 "password": passwords["alice"], "resource": "xmppjs",
                 "peer": "bob@localhost", "body": "-"}, trust_cert=False)
    err = js.error()
    assert err["step"] == "start"
    assert "self-signed certificate" in err["message"], js.report()
    assert not js.sent("auth"), js.report()
    assert js.exit_status() == 1
