"""mod_admin_console: the REST API of the admin console (doc/rest-api.md),
its authentication (sessions, CSRF, API keys, rate limit, first-run setup),
/metrics, event streams, static files and path handling, against a real
emberd over real HTTP.
"""

import http.client
import json
import sqlite3
import socket
import ssl
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import NS_CLIENT, RawClient, q

ADMIN = "alice@localhost"
WEB_FILES = {
    "index.html": ("<!doctype html><h1>console</h1>",
                   "text/html; charset=utf-8"),
    "app.js": ("let x = 1;", "text/javascript; charset=utf-8"),
    "app.css": ("body{}", "text/css; charset=utf-8"),
    "favicon.svg": ("<svg/>", "image/svg+xml"),
}


def console_module(srv):
    for m in srv.cfg.findall("module"):
        if m.get("name") == "admin_console":
            return m
    return ET.SubElement(srv.cfg, "module", name="admin_console")


def make_web(tmp_path):
    root = tmp_path / "web"
    (root / "sub").mkdir(parents=True)
    for name, (body, _) in WEB_FILES.items():
        (root / name).write_text(body)
    (root / ".hidden").write_text("HIDDEN")
    (root / "sub" / "inner.js").write_text("INNER")
    (tmp_path / "secret.txt").write_text("SECRET")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture
def csrv(server_factory, tmp_path):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.start()
    return srv


def conn(srv, tls=False, port=None, source=None):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(
            "127.0.0.1", port or srv.admin_tls_port, timeout=10, context=ctx)
    return http.client.HTTPConnection(
        "127.0.0.1" if source is None else source[0],
        port or srv.admin_port, timeout=10,
        source_address=source and (source[0], 0))


def call(srv, method, path, body=None, headers=None, tls=False, raw=None,
         port=None, source=None):
    """(status, headers (lower-case names), JSON or bytes)."""
    c = conn(srv, tls=tls, port=port, source=source)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    if hdrs.get("content-type", "").startswith("application/json") and out:
        out = json.loads(out)
    return r.status, hdrs, out


class Admin:
    """A logged-in console session (cookie + CSRF token)."""

    def __init__(self, srv, jid=ADMIN, password="alice-secret", tls=False):
        self.srv = srv
        self.tls = tls
        st, h, doc = call(srv, "POST", "/api/v1/login",
                          {"jid": jid, "password": password}, tls=tls)
        assert st == 200, doc
        self.set_cookie = h["set-cookie"]
        self.cookie = self.set_cookie.split(";")[0]
        self.csrf = doc["csrf"]
        self.doc = doc

    def __call__(self, method, path, body=None, csrf=True, headers=None,
                 raw=None):
        h = {"Cookie": self.cookie}
        if csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        return call(self.srv, method, path, body, h, tls=self.tls, raw=raw)


def new_key(srv, name="test"):
    st, _, doc = Admin(srv)("POST", "/api/v1/keys", {"name": name})
    assert st == 201, doc
    return doc


def keyed(srv, key):
    def f(method, path, body=None, raw=None, headers=None):
        h = {"Authorization": "Bearer " + key}
        h.update(headers or {})
        return call(srv, method, path, body, h, raw=raw)
    return f


def commands(api):
    st, _, doc = api("GET", "/api/v1/commands")
    assert st == 200
    return {c["name"]: c for c in doc}


def assert_error(st, doc, status, code):
    assert st == status, (st, doc)
    assert isinstance(doc, dict) and doc["error"] == code, doc
    assert isinstance(doc.get("detail"), str)


# ---- the gate ----

PROTECTED = [("GET", "/api/v1/users"), ("GET", "/api/v1/stats"),
             ("GET", "/api/v1/stats/stream"), ("GET", "/metrics"),
             ("GET", "/api/v1/keys"), ("POST", "/api/v1/keys"),
             ("POST", "/api/v1/commands/status"), ("GET", "/api/v1/nope"),
             ("DELETE", "/api/v1/users/bob@localhost"),
             ("POST", "/api/v1/logout"), ("GET", "/api/v1/config"),
             ("PUT", "/api/v1/config"),
             ("POST", "/api/v1/commands/config-get"),
             ("PATCH", "/api/v1/anything"), ("GET", "/api/"),
             ("GET", "/api/v1/openapi.json/x")]


def test_everything_needs_auth(csrv):
    for method, path in PROTECTED:
        st, h, doc = call(csrv, method, path, {"jid": "x"})
        assert_error(st, doc, 401, "unauthorized")
        assert "default-src 'self'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["cache-control"] == "no-store"
    # A bad key or another scheme is refused as well, on public paths too.
    for hdr in ("Bearer nope", "Basic YWxpY2U6YWxpY2Utc2VjcmV0",
                "Bearer ek_000000000000_" + "0" * 48):
        st, _, doc = call(csrv, "GET", "/api/v1/stats",
                          headers={"Authorization": hdr})
        assert_error(st, doc, 401, "unauthorized")
    # A forged or stale cookie is no session.
    st, _, doc = call(csrv, "GET", "/api/v1/stats",
                      headers={"Cookie": "ember_session=" + "a" * 64})
    assert_error(st, doc, 401, "unauthorized")
    # Public paths answer without credentials.
    st, _, doc = call(csrv, "GET", "/api/v1/openapi.json")
    assert st == 200 and doc["openapi"].startswith("3.0")
    st, _, doc = call(csrv, "GET", "/api/v1/session")
    assert_error(st, doc, 401, "unauthorized")


def test_unknown_route_and_method(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    st, _, doc = api("GET", "/api/v1/nope")
    assert_error(st, doc, 404, "not_found")
    st, _, doc = api("GET", "/api/v1/users/alice@localhost/nope")
    assert_error(st, doc, 404, "not_found")
    st, h, doc = api("PATCH", "/api/v1/stats")
    assert_error(st, doc, 405, "method_not_allowed")
    assert "GET" in h["allow"]
    # Paths no route serves: 401 without credentials (the gate runs
    # before routing), 404 with them.
    st, _, doc = call(csrv, "GET", "/secret.txt")
    assert_error(st, doc, 401, "unauthorized")
    st, h, _ = api("GET", "/secret.txt")
    assert st == 404
    # The core's own answers on the admin listeners carry the console's
    # security headers too (http_set_headers).
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"


def test_gate_covers_other_modules_admin_routes(server_factory, tmp_path):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.add_plugins_dir()
    srv.add_module("http_probe")
    srv.start()
    # A third-party route on the admin set is behind the console's gate.
    st, _, doc = call(srv, "GET", "/probe/admin")
    assert_error(st, doc, 401, "unauthorized")
    st, _, body = keyed(srv, new_key(srv)["key"])("GET", "/probe/admin")
    assert st == 200 and body == b"admin ok"
    # A cookie session must bring its CSRF token for a change.
    st, _, doc = Admin(srv)("POST", "/probe/admin", csrf=False)
    assert_error(st, doc, 403, "csrf")


# ---- login, sessions, CSRF ----

def test_login_cookie_session_logout(csrv):
    st, _, doc = call(csrv, "POST", "/api/v1/login",
                      {"jid": ADMIN, "password": "wrong"})
    assert_error(st, doc, 401, "unauthorized")
    assert doc["detail"] == "wrong JID or password"
    # bob has the right password but is no admin.
    st, _, doc = call(csrv, "POST", "/api/v1/login",
                      {"jid": "bob@localhost", "password": "bob-secret"})
    assert_error(st, doc, 401, "unauthorized")
    st, _, doc = call(csrv, "POST", "/api/v1/login",
                      {"jid": "nobody@localhost", "password": "x"})
    assert_error(st, doc, 401, "unauthorized")

    a = Admin(csrv)
    assert a.doc["jid"] == ADMIN and len(a.doc["csrf"]) >= 32
    assert a.doc["expires"] > time.time() + 60
    flags = [f.strip() for f in a.set_cookie.split(";")]
    assert flags[0].startswith("ember_session=") and len(flags[0]) > 50
    assert "HttpOnly" in flags and "SameSite=Strict" in flags
    assert "Path=/" in flags and "Secure" not in flags
    st, _, doc = a("GET", "/api/v1/session")
    assert st == 200 and doc["jid"] == ADMIN and doc["csrf"] == a.csrf
    st, _, doc = a("GET", "/api/v1/stats")
    assert st == 200 and "uptime_s" in doc
    # Over TLS the cookie is Secure.
    t = Admin(csrv, tls=True)
    assert "Secure" in [f.strip() for f in t.set_cookie.split(";")]
    assert t.cookie != a.cookie
    # Logout ends the session and clears the cookie.
    st, h, _ = a("POST", "/api/v1/logout")
    assert st == 204 and "Max-Age=0" in h["set-cookie"]
    st, _, doc = a("GET", "/api/v1/stats")
    assert_error(st, doc, 401, "unauthorized")
    st, _, _ = t("GET", "/api/v1/stats")
    assert st == 200


def test_login_bad_requests(csrv):
    for raw in (b"{bad json", b"[1,2]", b'"x"', b'{"jid": 1, "password": "x"}',
                b'{"jid": "alice@localhost"}',
                b'{"jid": "alice@localhost/res", "password": "x"}',
                b'{"jid": "a", "password": "b", "jid": "c"}'):
        st, _, doc = call(csrv, "POST", "/api/v1/login", raw=raw,
                          headers={"Content-Type": "application/json"})
        assert_error(st, doc, 400, "bad_request")


def test_csrf(csrv):
    a = Admin(csrv)
    st, _, doc = a("POST", "/api/v1/keys", {"name": "k"}, csrf=False)
    assert_error(st, doc, 403, "csrf")
    st, _, doc = a("POST", "/api/v1/keys", {"name": "k"}, csrf=False,
                   headers={"X-CSRF-Token": "0" * len(a.csrf)})
    assert_error(st, doc, 403, "csrf")
    st, _, doc = a("DELETE", "/api/v1/users/bob@localhost", csrf=False)
    assert_error(st, doc, 403, "csrf")
    st, _, doc = a("POST", "/api/v1/logout", csrf=False)
    assert_error(st, doc, 403, "csrf")
    # Another session's token does not do.
    b = Admin(csrv)
    st, _, doc = a("POST", "/api/v1/keys", {"name": "k"}, csrf=False,
                   headers={"X-CSRF-Token": b.csrf})
    assert_error(st, doc, 403, "csrf")
    st, _, doc = a("POST", "/api/v1/keys", {"name": "k"})
    assert st == 201
    # bob was not deleted by the refused requests.
    assert "bob" in csrv.ctl_ok("users", "localhost").stdout


def test_rate_limit_and_lockout(server_factory, tmp_path):
    """The console shares the server's login throttle (doc/security.md):
    5 free failures an address, then 1 s, 2 s ... even for the right
    password, and every failure is the fail2ban line."""
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    srv.start()
    for _ in range(6):
        st, _, doc = call(srv, "POST", "/api/v1/login",
                          {"jid": ADMIN, "password": "wrong"})
        assert_error(st, doc, 401, "unauthorized")
    # Held back now, even with the right password.
    st, h, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": ADMIN, "password": "alice-secret"})
    assert_error(st, doc, 429, "too_many_requests")
    assert 1 <= doc["retry_after"] <= 2
    assert int(h["retry-after"]) == doc["retry_after"]
    # The address is held back for any JID.
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "carol@localhost", "password": "x"})
    assert st == 429
    srv.wait_log(r"warn\s+\[auth\] authentication failed from 127\.0\.0\.1 "
                 r"for alice@localhost \(admin_console\)")
    time.sleep(doc["retry_after"] + 0.2)
    Admin(srv)


def test_console_and_xmpp_share_the_throttle(server_factory, passwords):
    """Guesses over XMPP count against the console login, and a very long
    password is a wrong one (401), not a server error."""
    from rawxmpp import RawClient
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    srv.add_plain_listener()
    srv.set_limits(connections_per_second_per_ip=0)
    srv.start()
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": ADMIN, "password": "x" * 5000})
    assert_error(st, doc, 401, "unauthorized")
    for _ in range(5):
        c = RawClient(srv.plain_port)
        c.open()
        assert c.auth_scram("alice", "wrong") == "not-authorized"
        c.close()
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": ADMIN, "password": "alice-secret"})
    assert_error(st, doc, 429, "too_many_requests")


def test_locked_account(csrv):
    csrv.ctl_ok("lock", ADMIN)
    st, _, doc = call(csrv, "POST", "/api/v1/login",
                      {"jid": ADMIN, "password": "alice-secret"})
    assert_error(st, doc, 403, "locked")
    csrv.ctl_ok("unlock", ADMIN)
    Admin(csrv)


def test_session_idle_expiry(server_factory):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("session-timeout", "2")
    srv.start()
    a = Admin(srv)
    assert a.doc["expires"] <= time.time() + 3
    for _ in range(3):          # use keeps it alive
        time.sleep(1)
        assert a("GET", "/api/v1/session")[0] == 200
    time.sleep(2.5)
    st, _, doc = a("GET", "/api/v1/stats")
    assert_error(st, doc, 401, "unauthorized")


# ---- API keys ----

def test_api_keys(csrv):
    k = new_key(csrv, "ci")
    assert k["name"] == "ci" and k["key"].startswith("ek_")
    api = keyed(csrv, k["key"])
    st, _, doc = api("GET", "/api/v1/stats")
    assert st == 200 and "uptime_s" in doc
    # No CSRF token with a key.
    st, _, doc = api("POST", "/api/v1/keys", {"name": "second"})
    assert st == 201
    second = doc
    st, _, doc = api("GET", "/api/v1/keys")
    assert st == 200
    by_id = {x["id"]: x for x in doc}
    assert set(by_id) == {k["id"], second["id"]}
    assert by_id[k["id"]]["name"] == "ci"
    assert by_id[k["id"]]["last_used"] is not None
    assert by_id[second["id"]]["last_used"] is None
    assert all("key" not in x and "hash" not in x for x in doc)
    for bad in ({}, {"name": ""}, {"name": 5}, {"name": "x" * 101}):
        st, _, doc = api("POST", "/api/v1/keys", bad)
        assert_error(st, doc, 400, "bad_request")
    # A key that differs in its secret is refused.
    wrong = k["key"][:-1] + ("0" if k["key"][-1] != "0" else "1")
    st, _, doc = keyed(csrv, wrong)("GET", "/api/v1/stats")
    assert_error(st, doc, 401, "unauthorized")
    # Stored hashed: the key is nowhere in the data directory.
    csrv.restart()
    blob = b"".join(p.read_bytes() for p in (csrv.dir / "data").rglob("*")
                    if p.is_file())
    assert k["key"].encode() not in blob
    assert k["key"].split("_")[2].encode() not in blob
    # Kept across the restart; revoking ends it at once.
    st, _, _ = api("GET", "/api/v1/stats")
    assert st == 200
    st, _, _ = api("DELETE", "/api/v1/keys/" + second["id"])
    assert st == 204
    st, _, doc = api("DELETE", "/api/v1/keys/" + second["id"])
    assert_error(st, doc, 404, "not_found")
    st, _, doc = keyed(csrv, second["key"])("GET", "/api/v1/stats")
    assert_error(st, doc, 401, "unauthorized")
    st, _, doc = api("GET", "/api/v1/session")
    assert st == 200 and doc["csrf"] is None


# ---- the REST table ----


def test_an_api_key_right_after_a_start_is_never_called_invalid(csrv):
    """The keys are read in the background after the listeners open: a
    request with a valid key in that window is a 503 saying so, with
    Retry-After, never the 401 of a wrong key (a script would give up on
    a good key).  20,000 stored keys make the window wide."""
    if csrv.storage == "pgsql":
        pytest.skip("the keys are written straight into SQLite's file")
    k = new_key(csrv, "early")
    csrv.stop()
    with sqlite3.connect(str(csrv.dir / "data" / "ember.db")) as db:
        host, store, user, value = db.execute(
            "SELECT host, store, user, value FROM map "
            "WHERE store = 'console_keys'").fetchone()
        db.executemany("INSERT INTO map VALUES (?, ?, ?, ?, ?)", (
            (host, store, user, "%012x" % i, value) for i in range(20000)))
    csrv.start(wait=False)
    deadline = time.monotonic() + 30
    seen = []
    while not seen or seen[-1] != 200:
        assert time.monotonic() < deadline, seen
        try:
            st, h, doc = keyed(csrv, k["key"])("GET", "/api/v1/stats")
        except OSError:
            time.sleep(0.01)
            continue
        seen.append(st)
        if st == 503:
            assert doc["error"] == "unavailable" and h["retry-after"] == "1"
        else:
            assert st == 200, (st, doc)
    csrv.wait_ready()

def test_bad_json_and_errors(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    for raw in (b"{nope", b"[]", b"42", b'{"a":1,"a":2}'):
        st, _, doc = api("POST", "/api/v1/users", raw=raw,
                         headers={"Content-Type": "application/json"})
        assert_error(st, doc, 400, "bad_request")
    # Missing and wrong arguments are the command's EINVAL.
    st, _, doc = api("POST", "/api/v1/users", {"jid": "dave@localhost"})
    assert_error(st, doc, 400, "bad_request")
    assert "password" in doc["detail"]
    st, _, doc = api("POST", "/api/v1/users", {"jid": "dave@localhost",
                                               "password": 5})
    assert_error(st, doc, 400, "bad_request")
    st, _, doc = api("POST", "/api/v1/users", {"jid": "dave@localhost",
                                               "password": "p",
                                               "bogus": 1})
    assert_error(st, doc, 400, "bad_request")
    # Existing account: 409; unknown account: 404.
    st, _, doc = api("POST", "/api/v1/users", {"jid": "bob@localhost",
                                               "password": "p"})
    assert_error(st, doc, 409, "conflict")
    st, _, doc = api("DELETE", "/api/v1/users/nobody@localhost")
    assert_error(st, doc, 404, "not_found")
    st, _, doc = api("POST", "/api/v1/users/nobody@localhost/lock")
    assert_error(st, doc, 404, "not_found")
    st, _, doc = api("PUT", "/api/v1/users/nobody@localhost/password",
                     {"password": "x"})
    assert_error(st, doc, 404, "not_found")


def xmpp_login(srv, user, password):
    c = RawClient(srv.c2s_port)
    try:
        c.login(user, password)
    finally:
        c.close()


def test_users_routes(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    cmds = commands(api)
    st, _, doc = api("POST", "/api/v1/users", {"jid": "dave@localhost",
                                               "password": "dave-1"})
    assert st == 201, doc
    st, _, doc = api("PUT", "/api/v1/users/dave@localhost/password",
                     {"password": "dave-2", "jid": "bob@localhost"})
    assert st == 200, doc
    xmpp_login(csrv, "dave", "dave-2")   # the path, not the body, named dave
    xmpp_login(csrv, "bob", "bob-secret")
    st, _, doc = api("POST", "/api/v1/users/dave@localhost/lock")
    assert st == 200, doc
    with pytest.raises(Exception):
        xmpp_login(csrv, "dave", "dave-2")
    st, _, doc = api("POST", "/api/v1/users/dave@localhost/unlock")
    assert st == 200, doc
    xmpp_login(csrv, "dave", "dave-2")
    if "user-info" in cmds:
        st, _, doc = api("GET", "/api/v1/users/dave@localhost")
        assert st == 200, doc
        st, _, doc = api("GET", "/api/v1/users/nobody@localhost")
        assert_error(st, doc, 404, "not_found")
    else:
        st, _, doc = api("GET", "/api/v1/users/dave@localhost")
        assert_error(st, doc, 503, "unavailable")
    if "user-search" in cmds:
        st, _, doc = api("GET", "/api/v1/users?host=localhost&q=dav")
        assert st == 200, doc
        assert "dave" in json.dumps(doc)
    st, _, _ = api("DELETE", "/api/v1/users/dave@localhost")
    assert st == 204
    assert "dave" not in csrv.ctl_ok("users", "localhost").stdout


def test_sessions_messages_announce(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    cmds = commands(api)
    bob = RawClient(csrv.c2s_port)
    bob.login("bob", "bob-secret", resource="web")
    bob.presence()
    bob.sync()
    st, _, doc = api("GET", "/api/v1/sessions")
    assert st == 200
    assert "bob@localhost/web" in json.dumps(doc)
    st, _, doc = api("GET", "/api/v1/sessions?host=localhost")
    assert st == 200 and "bob@localhost/web" in json.dumps(doc)
    st, _, doc = api("POST", "/api/v1/announce", {"body": "maintenance"})
    assert st == 200, doc
    msg = bob.recv_message()
    assert msg.find(q(NS_CLIENT, "body")).text == "maintenance"
    st, _, doc = api("POST", "/api/v1/announce", {})
    assert_error(st, doc, 400, "bad_request")
    if "message" in cmds:
        st, _, doc = api("POST", "/api/v1/messages",
                         {"to": "bob@localhost", "body": "hi bob"})
        assert st == 200, doc
        assert bob.recv_message().find(q(NS_CLIENT, "body")).text == \
            "hi bob"
    if "kick-session" in cmds:
        st, _, doc = api("DELETE", "/api/v1/sessions/bob@localhost/web")
        assert st == 204, doc
        st, _, doc = api("DELETE", "/api/v1/sessions/bob@localhost/web")
        assert_error(st, doc, 404, "not_found")
    else:
        st, _, doc = api("DELETE", "/api/v1/sessions/bob@localhost/web")
        assert_error(st, doc, 503, "unavailable")
    bob.close()


# Read-only routes: (path, command, check on the result).
READ_ROUTES = [
    ("/api/v1/modules", "modules", lambda d: "roster" in json.dumps(d)),
    ("/api/v1/plugins", "plugins", lambda d: "roster" in json.dumps(d)),
    ("/api/v1/users/bob@localhost/roster", "roster-list",
     lambda d: d is not None),
    ("/api/v1/users/bob@localhost/vcard", "vcard-get",
     lambda d: d["error"] == "not_found"),         # bob has no vCard: 404
    ("/api/v1/certs", "certs", lambda d: "localhost" in json.dumps(d)),
    ("/api/v1/admins", "admins", lambda d: ADMIN in json.dumps(d)),
    ("/api/v1/config", "config-get", lambda d: "admin_console" in
     json.dumps(d)),
    ("/api/v1/logs?limit=5", "logs", lambda d: d is not None),
    ("/api/v1/rooms", "muc-rooms", lambda d: d is not None),
    ("/api/v1/nodes?host=localhost", "pubsub-nodes", lambda d: d is not None),
    ("/api/v1/modules/roster/options?host=localhost", "module-options",
     lambda d: d is not None),
]


def test_read_routes(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    cmds = commands(api)
    done = 0
    for path, cmd, check in READ_ROUTES:
        st, h, doc = api("GET", path)
        if cmd not in cmds:
            assert_error(st, doc, 503, "unavailable")
            assert cmd in doc["detail"]
            continue
        assert st == (404 if cmd == "vcard-get" else 200), (path, doc)
        assert h["content-type"] == "application/json"
        assert check(doc), (path, doc)
        done += 1
    assert done >= 4          # modules, plugins, roster-list, certs at least


def test_generic_commands(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    st, _, doc = api("GET", "/api/v1/commands")
    assert st == 200
    names = {c["name"] for c in doc}
    assert {"status", "adduser", "users"} <= names
    st, _, doc = api("POST", "/api/v1/commands/status")
    assert st == 200 and "uptime_s" in doc["result"]
    st, _, doc = api("POST", "/api/v1/commands/users", {"host": "localhost"})
    assert st == 200 and "bob" in json.dumps(doc["result"])
    st, _, doc = api("POST", "/api/v1/commands/users", {})
    assert_error(st, doc, 400, "bad_request")
    st, _, doc = api("POST", "/api/v1/commands/no-such-command")
    assert_error(st, doc, 404, "not_found")
    st, _, doc = api("POST", "/api/v1/commands/status", raw=b"{x",
                     headers={"Content-Type": "application/json"})
    assert_error(st, doc, 400, "bad_request")
    # Only JSON: a form or text body is what another site could send.
    st, _, doc = api("POST", "/api/v1/commands/status", raw=b"{}",
                     headers={"Content-Type": "text/plain"})
    assert_error(st, doc, 415, "unsupported_media_type")
    for c in doc_commands(api):
        if c["permission"] == "local":
            st, _, doc = api("POST", "/api/v1/commands/" + c["name"])
            assert st == 403
            break


def doc_commands(api):
    return api("GET", "/api/v1/commands")[2]


# ---- OpenAPI ----

TABLE = [
    ("get", "/api/v1/openapi.json"), ("post", "/api/v1/login"),
    ("get", "/api/v1/session"), ("post", "/api/v1/logout"),
    ("get", "/api/v1/setup"), ("post", "/api/v1/setup"),
    ("get", "/api/v1/keys"), ("post", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{id}"),
    ("get", "/api/v1/commands"), ("post", "/api/v1/commands/{name}"),
    ("get", "/api/v1/stats"), ("get", "/api/v1/stats/stream"),
    ("get", "/api/v1/users"), ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{jid}"), ("put", "/api/v1/users/{jid}/password"),
    ("delete", "/api/v1/users/{jid}"), ("post", "/api/v1/users/{jid}/lock"),
    ("post", "/api/v1/users/{jid}/unlock"),
    ("get", "/api/v1/users/{jid}/roster"),
    ("get", "/api/v1/users/{jid}/vcard"),
    ("get", "/api/v1/sessions"), ("delete", "/api/v1/sessions/{jid}"),
    ("post", "/api/v1/messages"), ("post", "/api/v1/announce"),
    ("get", "/api/v1/modules"), ("get", "/api/v1/plugins"),
    ("post", "/api/v1/modules/{module}/enable"),
    ("post", "/api/v1/modules/{module}/disable"),
    ("post", "/api/v1/modules/{module}/reload"),
    ("get", "/api/v1/modules/{module}/options"),
    ("put", "/api/v1/modules/{module}/options"),
    ("get", "/api/v1/rooms"), ("get", "/api/v1/rooms/{jid}"),
    ("put", "/api/v1/rooms/{jid}/config"), ("delete", "/api/v1/rooms/{jid}"),
    ("get", "/api/v1/nodes"), ("get", "/api/v1/nodes/{node}"),
    ("put", "/api/v1/nodes/{node}/config"), ("delete", "/api/v1/nodes/{node}"),
    ("get", "/api/v1/config"), ("post", "/api/v1/config/check"),
    ("put", "/api/v1/config"), ("get", "/api/v1/admins"),
    ("get", "/api/v1/certs"), ("post", "/api/v1/certs"),
    ("post", "/api/v1/certs/generate"), ("get", "/api/v1/logs"),
    ("get", "/api/v1/logs/stream"), ("get", "/metrics"),
]


def test_openapi(csrv):
    st, h, doc = call(csrv, "GET", "/api/v1/openapi.json")
    assert st == 200 and h["content-type"] == "application/json"
    assert doc["openapi"] == "3.0.3"
    paths = doc["paths"]
    for method, path in TABLE:
        assert method in paths.get(path, {}), (method, path)
    assert paths["/api/v1/login"]["post"]["security"] == []
    assert "security" not in paths["/api/v1/users"]["get"]
    # The command's arguments make the body schema, path ones left out.
    body = paths["/api/v1/users"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"jid", "password"}
    pw = paths["/api/v1/users/{jid}/password"]["put"]
    pschema = pw["requestBody"]["content"]["application/json"]["schema"]
    assert "jid" not in pschema["properties"]
    assert "password" in pschema["properties"]
    assert pw["x-ember-command"] == "passwd"
    names = [p["name"] for p in paths["/api/v1/users"]["get"]["parameters"]]
    assert {"host", "q", "offset", "limit"} <= set(names)
    # Every admin command of the registry, also those of modules.
    api = keyed(csrv, new_key(csrv)["key"])
    for c in doc_commands(api):
        p = "/api/v1/commands/" + c["name"]
        if c["permission"] == "admin":
            assert "post" in paths[p], p
    assert "/api/v1/commands/announce" in paths
    ops = [op["operationId"] for item in paths.values()
           for op in item.values()]
    assert len(ops) == len(set(ops))
    assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == \
        "bearer"


# ---- metrics and event streams ----

def test_metrics(csrv):
    st, _, doc = call(csrv, "GET", "/metrics")
    assert_error(st, doc, 401, "unauthorized")
    api = keyed(csrv, new_key(csrv)["key"])
    bob = RawClient(csrv.c2s_port)
    bob.login("bob", "bob-secret")
    st, h, body = api("GET", "/metrics")
    assert st == 200
    assert h["content-type"].startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    values, types = {}, []
    for line in text.splitlines():
        if line.startswith("#"):
            assert line == "# EOF" or line.split()[1] in ("TYPE", "HELP")
            if line.startswith("# TYPE "):
                types.append(line.split()[2])
            continue
        name, value = line.rsplit(" ", 1)
        assert name not in values, "metric written twice: " + name
        values[name] = float(value)
    assert len(types) == len(set(types)), types
    for name in values:
        assert name.split("{")[0].startswith("ember_")
    assert values["ember_sessions"] >= 1
    assert values["ember_connections"] >= 1
    assert values["ember_uptime_seconds"] >= 0
    assert values["ember_memory_rss_bytes"] > 1e6
    assert values["ember_modules_loaded"] >= 5
    assert values["ember_hosts"] == 1
    assert "# TYPE ember_sessions gauge" in text
    # A console session may read it too.
    assert Admin(csrv)("GET", "/metrics")[0] == 200
    bob.close()


def read_events(sock_file, want, timeout=6):
    """Parse SSE events until `want` of them arrived."""
    events, ev, data = [], None, []
    deadline = time.monotonic() + timeout
    while len(events) < want and time.monotonic() < deadline:
        line = sock_file.readline().decode().rstrip("\r\n")
        if line.startswith("event:"):
            ev = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line == "" and data:
            events.append((ev, "\n".join(data)))
            ev, data = None, []
    return events


def open_stream(srv, path, key):
    s = socket.create_connection(("127.0.0.1", srv.admin_port), timeout=8)
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % (path, key)).encode())
    f = s.makefile("rb")
    status = f.readline()
    headers = {}
    while True:
        line = f.readline().decode().strip()
        if not line:
            break
        k, v = line.split(":", 1)
        headers[k.lower()] = v.strip()
    return s, f, int(status.split()[1]), headers


def test_stats_stream(csrv):
    key = new_key(csrv)["key"]
    s, f, status, headers = open_stream(csrv, "/api/v1/stats/stream", key)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    t0 = time.monotonic()
    events = read_events(f, 2)
    assert len(events) == 2 and time.monotonic() - t0 >= 1.5
    for ev, data in events:
        assert ev == "stats" and "uptime_s" in json.loads(data)
    s.close()
    # Unauthenticated: refused before any stream starts.
    s, f, status, _ = open_stream(csrv, "/api/v1/stats/stream", "ek_x")
    assert status == 401
    s.close()
    # The server keeps serving after the stream went away.
    assert call(csrv, "GET", "/api/v1/openapi.json")[0] == 200


def test_logs_stream(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    if "logs" not in commands(api):
        st, _, doc = api("GET", "/api/v1/logs/stream")
        assert_error(st, doc, 503, "unavailable")
        return
    key = new_key(csrv)["key"]
    s, f, status, _ = open_stream(csrv, "/api/v1/logs/stream", key)
    assert status == 200
    # A failed login writes a warning line.
    call(csrv, "POST", "/api/v1/login", {"jid": ADMIN, "password": "no"})
    deadline = time.monotonic() + 6
    seen = False
    while not seen and time.monotonic() < deadline:
        for ev, data in read_events(f, 1, timeout=2):
            assert ev == "log"
            seen = seen or "authentication failed from" in data
    assert seen
    s.close()


# ---- static files ----

def test_static_files(csrv):
    for name, (body, ctype) in WEB_FILES.items():
        st, h, data = call(csrv, "GET", "/" + name)
        assert st == 200, name
        assert data == body.encode()
        assert h["content-type"] == ctype
        assert "script-src 'self'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        etag = h["etag"]
        st, h2, data = call(csrv, "GET", "/" + name,
                            headers={"If-None-Match": etag})
        assert st == 304 and data == b"" and h2["etag"] == etag
    st, h, data = call(csrv, "GET", "/")
    assert st == 200 and b"console" in data
    st, h, data = call(csrv, "HEAD", "/app.js")
    assert st == 200 and data == b""
    # Only regular files directly in web-root, and no hidden ones: the
    # rest is not on the allow-list (401), nor served to an admin (404).
    api = keyed(csrv, new_key(csrv)["key"])
    for path in ("/.hidden", "/sub/inner.js", "/sub", "/link.txt",
                 "/secret.txt", "/nope.js"):
        st, _, data = call(csrv, "GET", path)
        assert st in (400, 401), path
        assert b"SECRET" not in data and b"INNER" not in data and \
            b"HIDDEN" not in data
        st, _, data = api("GET", path)
        assert st in (400, 404), path
        assert b"SECRET" not in data and b"INNER" not in data and \
            b"HIDDEN" not in data


TRAVERSALS = [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
    "/web/../secret.txt", "/app.js/../../secret.txt",
    "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/..%5csecret.txt",
    "/..\\secret.txt", "/%252e%252e/secret.txt", "//secret.txt",
    "/./secret.txt", "/index.html%00.js", "/link.txt",
    "/api/v1/../../secret.txt", "/api/v1/openapi.json/../users",
    "/api/v1/login/../users", "/api/v1/login/%2e%2e/users",
    "/api/v1/%2e%2e/v1/users", "//api/v1/users", "/api//v1/users",
    "/api/v1/users/", "/api/v1/./users", "/api/v1/session%2f..%2fusers",
    "/api/v1/openapi.json%00", "/api/v1/login\\..\\users",
    "/metrics/", "/METRICS", "/api/V1/users", "/index.html/",
]


def test_traversal_never_bypasses(csrv):
    for path in TRAVERSALS:
        s = socket.create_connection(("127.0.0.1", csrv.admin_port),
                                     timeout=10)
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                   % path).encode("latin-1"))
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        s.close()
        status = int(out.split(b" ", 2)[1])
        assert status in (400, 401, 404), (path, out[:200])
        assert b"SECRET" not in out, path
        assert b"bob" not in out and b"uptime" not in out, path


# ---- first run ----

def own_address():
    """A non-loopback IPv4 address of this machine, or skip."""
    for word in subprocess.run(["hostname", "-I"], capture_output=True,
                               text=True).stdout.split():
        if "." in word and not word.startswith("127."):
            return word
    pytest.skip("this machine has no non-loopback IPv4 address")


def test_lockout_per_address_and_per_jid(server_factory):
    addr = own_address()
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    ET.SubElement(srv.cfg, "admin", jid="carol@localhost")
    port = srv.base + 9
    srv.add_listener("admin", port, address="0.0.0.0").set("public", "true")
    srv.start()
    for _ in range(6):
        st, _, _ = call(srv, "POST", "/api/v1/login",
                        {"jid": ADMIN, "password": "wrong"}, port=port,
                        source=(addr,))
        assert st == 401
    # That address is held back, for any JID.
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "carol@localhost", "password": "carol-secret"},
                      port=port, source=(addr,))
    assert_error(st, doc, 429, "too_many_requests")
    # Five more from loopback: eleven for the JID, held back from anywhere.
    for _ in range(5):
        st, _, _ = call(srv, "POST", "/api/v1/login",
                        {"jid": ADMIN, "password": "wrong"}, port=port)
        assert st == 401
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": ADMIN, "password": "alice-secret"}, port=port)
    assert_error(st, doc, 429, "too_many_requests")
    # Another JID from loopback (5 failures: still free) is not concerned.
    Admin(srv, "carol@localhost", "carol-secret")


def setup_token(srv):
    return json.loads(srv.ctl_ok("--json", "console-setup-token").stdout)[
        "token"]


def test_setup_refused_from_non_local(server_factory):
    addr = own_address()
    srv = server_factory(start=False)
    port = srv.base + 9
    el = srv.add_listener("admin", port, address="0.0.0.0")
    el.set("public", "true")
    srv.start()
    st, _, doc = call(srv, "GET", "/api/v1/openapi.json", port=port,
                      source=(addr,))
    assert st == 200
    st, _, doc = call(srv, "POST", "/api/v1/setup",
                      {"jid": "root@localhost", "password": "root-pw",
                       "token": setup_token(srv)},
                      port=port, source=(addr,))
    assert_error(st, doc, 403, "forbidden")
    assert doc["detail"] == "setup is only available from localhost"
    assert "root" not in srv.ctl_ok("users", "localhost").stdout
    # From loopback on the same listener the setup is done.
    st, _, doc = call(srv, "POST", "/api/v1/setup",
                      {"jid": "root@localhost", "password": "root-pw",
                       "token": setup_token(srv)},
                      port=port)
    if st == 503:
        pytest.skip("core commands admins/admin-add not available yet")
    assert st == 201, doc


def test_setup_once_from_localhost(server):
    st, _, doc = call(server, "GET", "/api/v1/setup")
    if st == 503:
        pytest.skip("core commands admins/admin-add not available yet")
    assert st == 200 and doc == {"needed": True, "host": "localhost"}
    token = setup_token(server)
    st, _, doc = call(server, "GET", "/api/v1/session")
    assert_error(st, doc, 401, "unauthorized")
    assert doc["setup_needed"] is True
    st, _, doc = call(server, "POST", "/api/v1/setup", raw=b"{",
                      headers={"Content-Type": "application/json"})
    assert_error(st, doc, 400, "bad_request")
    # An existing account needs its own password.
    st, _, doc = call(server, "POST", "/api/v1/setup",
                      {"jid": "bob@localhost", "password": "wrong",
                       "token": token})
    assert_error(st, doc, 401, "unauthorized")
    st, _, doc = call(server, "POST", "/api/v1/setup",
                      {"jid": "root@localhost", "password": "root-pw",
                       "token": token})
    assert st == 201 and doc == {"jid": "root@localhost"}
    # The token was for one setup.
    st, _, doc = call(server, "POST", "/api/v1/setup",
                      {"jid": "eve@localhost", "password": "eve-pw",
                       "token": token})
    assert_error(st, doc, 403, "forbidden")
    st, _, doc = call(server, "POST", "/api/v1/setup",
                      {"jid": "eve@localhost", "password": "eve-pw",
                       "token": setup_token(server)})
    assert_error(st, doc, 409, "conflict")
    assert "eve" not in server.ctl_ok("users", "localhost").stdout
    assert call(server, "GET", "/api/v1/setup")[2] == {"needed": False}
    a = Admin(server, "root@localhost", "root-pw")
    st, _, doc = call(server, "GET", "/api/v1/session")
    assert doc.get("setup_needed") is False
    assert a("GET", "/api/v1/stats")[0] == 200


# ---- modules, config, certificates, rooms, nodes ----

def test_module_routes(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    cmds = commands(api)
    if "module-options" not in cmds:
        pytest.skip("module commands not available")
    st, _, doc = api("GET", "/api/v1/modules/ping/options?host=localhost")
    assert st == 200, doc
    assert "interval" in json.dumps(doc)
    st, _, doc = api("PUT", "/api/v1/modules/ping/options",
                     {"host": "localhost", "options": {"interval": "7m"}})
    assert st == 200, doc
    assert 'interval="7m"' in csrv.config_path.read_text()
    st, _, doc = api("GET", "/api/v1/modules/ping/options?host=localhost")
    assert "7m" in json.dumps(doc) or "420" in json.dumps(doc), doc
    st, _, doc = api("PUT", "/api/v1/modules/ping/options",
                     {"host": "localhost", "options": {"interval": "x"}})
    assert_error(st, doc, 400, "bad_request")
    st, _, doc = api("PUT", "/api/v1/modules/ping/options",
                     {"host": "localhost", "options": "interval=1"})
    assert_error(st, doc, 400, "bad_request")
    st, _, doc = api("POST", "/api/v1/modules/version/disable",
                     {"host": "localhost"})
    assert st == 200, doc
    mods = json.dumps(api("GET", "/api/v1/modules")[2])
    st, _, doc = api("POST", "/api/v1/modules/version/enable",
                     {"host": "localhost"})
    assert st == 200, doc
    assert json.dumps(api("GET", "/api/v1/modules")[2]) != mods
    st, _, doc = api("POST", "/api/v1/modules/ping/reload",
                     {"host": "localhost"})
    assert st == 200, doc
    st, _, doc = api("POST", "/api/v1/modules/no_such_mod/reload",
                     {"host": "localhost"})
    assert st in (400, 404), doc


def test_config_and_cert_routes(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    cmds = commands(api)
    if "config-get" not in cmds:
        pytest.skip("config commands not available")
    st, _, doc = api("GET", "/api/v1/config")
    assert st == 200
    text = doc["text"] if isinstance(doc, dict) else doc
    assert "<ember" in text
    st, _, doc = api("POST", "/api/v1/config/check", {"text": text})
    assert st == 200, doc
    st, _, doc = api("POST", "/api/v1/config/check", {"text": "<ember"})
    assert st == 400 or (st == 200 and doc.get("ok") is False), doc
    st, _, doc = api("POST", "/api/v1/config/check", {})
    assert_error(st, doc, 400, "bad_request")
    st, _, doc = api("PUT", "/api/v1/config",
                     {"text": text.replace('level="info"', 'level="debug"')})
    assert st == 200, doc
    assert 'level="debug"' in csrv.config_path.read_text()
    st, _, doc = api("PUT", "/api/v1/config", {"text": "<nope/>"})
    assert_error(st, doc, 400, "bad_request")
    assert 'level="debug"' in csrv.config_path.read_text()
    if "cert-generate" in cmds:
        st, _, doc = api("POST", "/api/v1/certs/generate",
                         {"host": "localhost"})
        assert st == 200, doc
        st, _, doc = api("POST", "/api/v1/certs/generate",
                         {"host": "nowhere.example"})
        assert st in (400, 404), doc
        st, _, doc = api("POST", "/api/v1/certs", {"host": "localhost",
                                                   "cert": "junk",
                                                   "key": "junk"})
        assert_error(st, doc, 400, "bad_request")
    # The server still answers after the reloads.
    assert api("GET", "/api/v1/stats")[0] == 200


NS_MUC = "http://jabber.org/protocol/muc"


def test_room_and_node_routes(csrv):
    api = keyed(csrv, new_key(csrv)["key"])
    cmds = commands(api)
    if "muc-rooms" not in cmds:
        pytest.skip("mod_muc not loaded")
    room = "lounge@conference.localhost"
    c = RawClient(csrv.c2s_port)
    c.login("bob", "bob-secret")
    c.send("<presence to='%s/bob'><x xmlns='%s'/></presence>"
           % (room, NS_MUC))
    c.recv(lambda e: e.tag == q(NS_CLIENT, "presence"))
    c.send("<iq type='set' id='own1' to='%s'><query xmlns='%s#owner'>"
           "<x xmlns='jabber:x:data' type='submit'/></query></iq>"
           % (room, NS_MUC))
    c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and e.get("id") == "own1")
    st, _, doc = api("GET", "/api/v1/rooms")
    assert st == 200 and room in json.dumps(doc), doc
    st, _, doc = api("GET", "/api/v1/rooms/" + room)
    assert st == 200 and "bob" in json.dumps(doc), doc
    st, _, doc = api("GET", "/api/v1/rooms/nope@conference.localhost")
    assert_error(st, doc, 404, "not_found")
    st, _, doc = api("PUT", "/api/v1/rooms/%s/config" % room,
                     {"config": {"muc#roomconfig_roomname": "The Lounge"}})
    assert st == 200, doc
    st, _, doc = api("GET", "/api/v1/rooms/" + room)
    assert "The Lounge" in json.dumps(doc)
    st, _, doc = api("DELETE", "/api/v1/rooms/" + room,
                     {"reason": "closing"})
    assert st == 204, doc
    st, _, doc = api("GET", "/api/v1/rooms/" + room)
    assert_error(st, doc, 404, "not_found")
    c.close()
    if "pubsub-nodes" in cmds:
        st, _, doc = api("GET", "/api/v1/nodes?host=localhost")
        assert st == 200, doc
        st, _, doc = api("GET", "/api/v1/nodes/nope?host=localhost")
        assert_error(st, doc, 404, "not_found")
        st, _, doc = api("DELETE", "/api/v1/nodes/nope?host=localhost")
        assert_error(st, doc, 404, "not_found")
        # PEP nodes belong to the accounts: the service names one.
        c = RawClient(csrv.c2s_port, domain=csrv.domain)
        c.login("bob", "bob-secret")
        r = c.iq("set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                 "<publish node='urn:xmpp:avatar:metadata'><item id='x'>"
                 "<metadata xmlns='urn:xmpp:avatar:metadata'/></item>"
                 "</publish></pubsub>")
        assert r.get("type") == "result"
        c.close()
        st, _, doc = api("GET", "/api/v1/nodes?host=localhost"
                         "&service=bob@localhost")
        assert st == 200, doc
        assert "urn:xmpp:avatar:metadata" in json.dumps(doc)
        st, _, doc = api("GET", "/api/v1/nodes/urn:xmpp:avatar:metadata"
                         "?host=localhost&service=bob@localhost")
        assert st == 200 and doc["items"] == 1, doc
        st, _, doc = api("GET", "/api/v1/nodes?host=localhost"
                         "&service=bob@elsewhere.example")
        assert_error(st, doc, 400, "bad_request")


def test_reload_console_through_itself(csrv):
    """The module unloads while answering its own request: the core
    answers for it, and the keys (stored) outlive the reload."""
    key = new_key(csrv)["key"]
    api = keyed(csrv, key)
    a = Admin(csrv)
    if "module-reload" not in commands(api):
        pytest.skip("module-reload not available")
    s, f, status, _ = open_stream(csrv, "/api/v1/stats/stream", key)
    assert status == 200
    st, _, doc = api("POST", "/api/v1/modules/admin_console/reload", {})
    assert st in (200, 503), doc
    deadline = time.monotonic() + 5
    while api("GET", "/api/v1/stats")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # Sessions live in memory: gone; keys are stored: still valid.
    assert a("GET", "/api/v1/stats")[0] == 401
    s.close()
    assert csrv.running()


def test_route_of_a_module_not_loaded(server_factory):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    srv.remove_module("muc")
    srv.start()
    api = keyed(srv, new_key(srv)["key"])
    assert "muc-rooms" not in commands(api)
    for method, path in (("GET", "/api/v1/rooms"),
                         ("GET", "/api/v1/rooms/a@conference.localhost"),
                         ("DELETE", "/api/v1/rooms/a@conference.localhost")):
        st, _, doc = api(method, path)
        assert_error(st, doc, 503, "unavailable")
    doc = call(srv, "GET", "/api/v1/openapi.json")[2]
    op = doc["paths"]["/api/v1/rooms"]["get"]
    assert op["x-ember-command"] == "muc-rooms"
    assert op["x-ember-unavailable"] is True
    assert "/api/v1/commands/muc-rooms" not in doc["paths"]
    st, _, doc = api("POST", "/api/v1/commands/muc-rooms")
    assert_error(st, doc, 404, "not_found")


def test_default_web_root_serves_the_console(server):
    """The build's web/ (EMBER_WEB_DIR): each of its files, at /<name>."""
    from harness import REPO
    files = sorted(p for p in (REPO / "web").glob("*")
                   if p.is_file() and not p.name.startswith("."))
    if not files:
        pytest.skip("web/ is empty")
    for p in files:
        st, h, data = call(server, "GET", "/" + p.name)
        assert st == 200, p.name
        assert data == p.read_bytes() if not isinstance(data, dict) else \
            data == json.loads(p.read_text())
        assert "content-security-policy" in h
    if (REPO / "web" / "index.html").exists():
        st, _, data = call(server, "GET", "/")
        assert st == 200 and data == (REPO / "web" / "index.html").read_bytes()
