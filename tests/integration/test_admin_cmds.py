"""The core commands behind the admin console's REST API, driven through
emberctl --json against a running emberd: status, user-search/-info,
kick-session, message, logs, config-get/-check/-set, module-options/
-configure/-enable/-disable/-reload, admins, cert-upload/-generate."""

import json
import threading
import re
import os
import stat

from rawxmpp import RawClient, q, stanza_error, stream_error_condition

NS_TIME = "urn:xmpp:time"
NS_CLIENT = "jabber:client"


def cj(server, *args):
    """emberctl --json: (exit status, parsed stdout)."""
    r = server.ctl("--json", *args)
    try:
        out = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        raise AssertionError("not JSON: %r (stderr %r)" % (r.stdout, r.stderr))
    return r.returncode, out


def ok(server, *args):
    rc, out = cj(server, *args)
    assert rc == 0, (args, out)
    return out


def err(server, *args):
    """A failing command: its error name and message."""
    rc, out = cj(server, *args)
    assert rc != 0, (args, out)
    if rc == 2:                  # usage error: emberctl's own check
        return "USAGE", ""
    return out["error"], out["message"]


def client(server, passwords, user="alice", resource=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def time_query(c):
    return c.iq("get", "<time xmlns='%s'/>" % NS_TIME, to="localhost")


def config_text(server):
    return server.config_path.read_text()


# ---- status ----

def test_status_fields(server, passwords):
    c = client(server, passwords)
    c.sync()
    st = ok(server, "status")
    for k in ("version", "hosts", "listeners", "sessions", "uptime_ms",
              "stanzas_in", "stanzas_out", "memory_rss", "storage_bytes",
              "modules_loaded", "modules_failed"):
        assert k in st, k
    assert st["stanzas_in"] >= 1 and st["stanzas_out"] >= 1
    assert st["memory_rss"] > 1 << 20
    assert st["storage_bytes"] > 0
    assert st["modules_loaded"] > 5 and st["modules_failed"] == 0
    assert st["uptime_ms"] >= 0
    assert all({"type", "address", "port", "tls"} <= set(li)
               for li in st["listeners"])
    c.close()


# ---- accounts ----

def test_user_search_and_info(server, passwords):
    res = ok(server, "user-search", "--host=localhost")
    assert res["total"] == 3
    assert [u["jid"] for u in res["users"]] == [
        "alice@localhost", "bob@localhost", "carol@localhost"]
    assert all(u["locked"] is False and u["online"] == 0
               for u in res["users"])
    c = client(server, passwords, "bob")
    server.ctl_ok("lock", "carol@localhost")
    res = ok(server, "user-search", "--host=localhost", "--q=O")
    assert res["total"] == 2          # bob, carol (case-insensitive)
    by = {u["jid"]: u for u in res["users"]}
    assert by["bob@localhost"]["online"] == 1
    assert by["carol@localhost"]["locked"] is True
    res = ok(server, "user-search", "--host=localhost", "--offset=1",
             "--limit=1")
    assert res["total"] == 3 and [u["jid"] for u in res["users"]] == [
        "bob@localhost"]
    assert err(server, "user-search", "--host=localhost",
               "--limit=501")[0] == "EINVAL"
    assert err(server, "user-search", "--host=localhost",
               "--limit=x")[0] in ("EINVAL", "USAGE")
    assert err(server, "user-search", "--host=nowhere.example")[0] == \
        "EINVAL"

    info = ok(server, "user-info", "bob@localhost")
    assert info["jid"] == "bob@localhost" and info["locked"] is False
    assert isinstance(info["created"], int) and info["created"] > 0
    assert len(info["sessions"]) == 1
    assert info["sessions"][0]["jid"] == c.jid
    e, msg = err(server, "user-info", "nobody@localhost")
    assert e == "ENOENT" and "nobody@localhost" in msg
    assert err(server, "user-info", "bob@localhost/res")[0] == "EINVAL"
    c.close()


# ---- sessions and messages ----

def test_kick_session_closes_only_that_one(server, passwords):
    a = client(server, passwords, resource="one")
    b = client(server, passwords, resource="two")
    assert ok(server, "kick-session", "alice@localhost/one") == {"ok": True}
    assert a.expect_stream_error() == "policy-violation"
    b.sync()                          # still served
    assert b.is_open()
    e, msg = err(server, "kick-session", "alice@localhost/one")
    assert e == "ENOENT" and "alice@localhost/one" in msg
    assert err(server, "kick-session", "alice@localhost")[0] == "EINVAL"
    b.close()


def test_message_reaches_client(server, passwords):
    c = client(server, passwords, "bob")
    c.send("<presence/>")
    c.sync()
    assert ok(server, "message", "--to=bob@localhost", "--body=maintenance",
              "--subject=Notice") == {"ok": True}
    m = c.recv(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert m.get("from") == "localhost"
    assert m.find(q(NS_CLIENT, "body")).text == "maintenance"
    assert m.find(q(NS_CLIENT, "subject")).text == "Notice"
    assert ok(server, "message", "--to=bob@localhost", "--body=two",
              "--from=alice@localhost") == {"ok": True}
    m = c.recv(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert m.get("from") == "alice@localhost"
    assert err(server, "message", "--to=bob@localhost", "--body=x",
               "--from=x@remote.example")[0] == "EINVAL"
    assert err(server, "message", "--to=bob@localhost")[0] in (
        "EINVAL", "USAGE")
    c.close()


def test_message_to_offline_user_is_stored(server, passwords):
    ok(server, "message", "--to=carol@localhost", "--body=while away")
    c = client(server, passwords, "carol")
    c.send("<presence/>")
    m = c.recv(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert m.find(q(NS_CLIENT, "body")).text == "while away"
    c.close()


# ---- logs ----

def test_logs(server):
    res = ok(server, "logs")
    lines = res["lines"]
    assert lines and any("emberd ready" in li["text"] for li in lines)
    li = lines[0]
    assert set(li) == {"id", "time", "level", "source", "text"}
    assert all(a["id"] < b["id"] for a, b in zip(lines, lines[1:]))
    assert res["next"] == lines[-1]["id"]
    # Nothing new yet; a failing command logs an error.
    assert ok(server, "logs", "--since=%d" % res["next"])["lines"] == []
    err(server, "module-options", "--name=no_such_mod")
    server.ctl_ok("reload")
    new = ok(server, "logs", "--since=%d" % res["next"])["lines"]
    assert any("reloaded" in li["text"] for li in new)
    only_err = ok(server, "logs", "--level=error")["lines"]
    assert all(li["level"] == "error" for li in only_err)
    warn = ok(server, "logs", "--level=warn")["lines"]
    assert all(li["level"] in ("error", "warn") for li in warn)
    assert len(ok(server, "logs", "--limit=2")["lines"]) == 2
    # Human output reads like the log file.
    text = server.ctl_ok("logs").stdout
    assert re.search(r"^\S+Z info  \[core\] emberd ready", text, re.M), text
    e, msg = err(server, "logs", "--level=loud")
    assert e == "EINVAL" and "loud" in msg
    assert err(server, "logs", "--limit=0")[0] == "EINVAL"


# ---- config ----

def test_config_get_check_set(server):
    path = server.config_path
    before = config_text(server)
    got = ok(server, "config-get")
    assert got["text"] == before and os.path.samefile(got["path"], path)

    res = ok(server, "config-check", "--text=" + before)
    assert res == {"ok": True, "errors": []}

    lines = before.splitlines(True)
    # An unknown element on a line of its own, after the root's first line.
    n = next(i for i, li in enumerate(lines) if "<ember" in li) + 2
    bad = "".join(lines[:n - 1] + ["  <bogus/>\n"] + lines[n - 1:])
    res = ok(server, "config-check", "--text=" + bad)
    assert res["ok"] is False and res["errors"][0]["line"] == n, res
    assert "bogus" in res["errors"][0]["message"]

    e, msg = err(server, "config-set", "--text=" + bad)
    assert e == "EINVAL" and msg.startswith("line %d:" % n), msg
    assert config_text(server) == before          # untouched
    e, msg = err(server, "config-set", "--text=<ember>")
    assert e == "EINVAL" and "line" in msg
    # A bad module option is named with its line.
    badopt = re.sub(r'<module name="vcard"\s*/>',
                    '<module name="vcard" max-size="1"/>', before)
    assert badopt != before
    e, msg = err(server, "config-set", "--text=" + badopt)
    assert e == "EINVAL" and "max-size" in msg and msg.startswith("line ")
    assert config_text(server) == before

    good = before.replace("<host ", "<admin jid=\"root@localhost\"/>\n  "
                          "<host ", 1)
    res = ok(server, "config-set", "--text=" + good)
    assert res == {"ok": True, "reload": "ok"}
    assert config_text(server) == good
    assert open(str(path) + ".bak").read() == before
    assert ok(server, "admins") == ["root@localhost"]
    assert not [f for f in os.listdir(path.parent) if ".tmp-" in f or
                ".ember-check" in f]


# ---- modules ----

def test_module_disable_enable_changes_service(server, passwords):
    c = client(server, passwords)
    assert time_query(c).get("type") == "result"
    assert ok(server, "module-disable", "--name=time",
              "--host=localhost") == {"ok": True, "reload": "ok"}
    assert 'name="time"' not in config_text(server)
    assert 'name="vcard"' in config_text(server)
    el = time_query(c)
    assert el.get("type") == "error"
    assert stanza_error(el)[1] == "service-unavailable"
    e, msg = err(server, "module-disable", "--name=time", "--host=localhost")
    assert e == "ENOENT" and "time" in msg

    res = ok(server, "module-enable", "--name=time", "--host=localhost")
    assert res["ok"] is True and res["reload"] == "ok"
    assert time_query(c).get("type") == "result"
    mods = ok(server, "modules")
    assert any(m["name"] == "time" and m["host"] == "localhost" and
               m["state"] == "loaded" for m in mods)
    e, _ = err(server, "module-enable", "--name=time", "--host=localhost")
    assert e == "EEXIST"
    e, msg = err(server, "module-enable", "--name=no_such_mod",
                 "--host=localhost")
    assert e == "ENOENT" and "no_such_mod" in msg
    assert err(server, "module-enable", "--name=../x")[0] == "EINVAL"
    assert err(server, "module-enable", "--name=time",
               "--host=nowhere.example")[0] == "EINVAL"
    c.close()


def test_module_options_and_configure(server):
    opts = ok(server, "module-options", "--name=vcard", "--host=localhost")
    ms = next(o for o in opts if o["name"] == "max-size")
    assert ms["type"] == "int" and ms["default"] == "65536"
    assert ms["value"] == "65536" and ms["min"] == 1024 and ms["help"]

    assert ok(server, "module-configure", "--name=vcard", "--host=localhost",
              '--options={"max-size": 2048}')["ok"] is True
    assert 'max-size="2048"' in config_text(server)
    ms = next(o for o in ok(server, "module-options", "--name=vcard",
                            "--host=localhost") if o["name"] == "max-size")
    assert ms["value"] == "2048"

    before = config_text(server)
    e, msg = err(server, "module-configure", "--name=vcard",
                 "--host=localhost", '--options={"max-size": 5}')
    assert e == "EINVAL" and "max-size" in msg, msg
    e, msg = err(server, "module-configure", "--name=vcard",
                 "--host=localhost", '--options={"colour": "red"}')
    assert e == "EINVAL" and "colour" in msg, msg
    e, msg = err(server, "module-configure", "--name=vcard",
                 "--host=localhost", '--options={"max-size": [1]}')
    assert e == "EINVAL" and "max-size" in msg
    assert err(server, "module-configure", "--name=vcard",
               "--host=localhost", "--options={not json")[0] in (
                   "EINVAL", "USAGE")
    assert config_text(server) == before
    # null: back to the default.
    ok(server, "module-configure", "--name=vcard", "--host=localhost",
       '--options={"max-size": null}')
    assert "max-size" not in config_text(server)

    e, msg = err(server, "module-options", "--name=no_such_mod")
    assert e == "ENOENT"
    e, _ = err(server, "module-configure", "--name=no_such_mod",
               "--host=localhost", '--options={"a": 1}')
    assert e == "ENOENT"
    # A global module, not loaded on a host, read from the plugin file.
    opts = ok(server, "module-options", "--name=storage_sqlite")
    assert any(o["name"] == "path" for o in opts)


def test_module_reload(server, passwords):
    c = client(server, passwords)
    assert ok(server, "module-reload", "--name=time",
              "--host=localhost") == {"ok": True}
    assert time_query(c).get("type") == "result"
    assert any("time@localhost" in li["source"] and "unloaded" in li["text"]
               for li in ok(server, "logs")["lines"])
    e, _ = err(server, "module-reload", "--name=no_such_mod",
               "--host=localhost")
    assert e == "ENOENT"
    c.close()


# ---- admins ----

def test_admins(server):
    assert ok(server, "admins") == []
    assert ok(server, "admin-add", "alice@localhost")["ok"] is True
    assert ok(server, "admins") == ["alice@localhost"]
    assert '<admin jid="alice@localhost"/>' in config_text(server)
    assert err(server, "admin-add", "Alice@localhost")[0] == "EEXIST"
    assert err(server, "admin-add", "alice@localhost/r")[0] == "EINVAL"
    assert err(server, "admin-remove", "bob@localhost")[0] == "ENOENT"
    assert ok(server, "admin-remove", "alice@localhost")["ok"] is True
    assert ok(server, "admins") == []
    assert "<admin" not in config_text(server)


# ---- certificates ----

def served_sha256(server):
    """Fingerprint of the certificate the c2s-tls listener sends for SNI
    localhost, in the format of `certs`."""
    import hashlib
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", server.tls_port), 5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def certs_of(server, host):
    return [c for c in ok(server, "certs") if c.get("host") == host]


def test_cert_generate_and_upload(server, passwords):
    res = ok(server, "cert-generate", "--host=localhost")
    assert res["ok"] is True and res["reload"] == "ok"
    tls_dir = os.path.join(str(server.config_path.parent), "data", "tls")
    crt = os.path.join(tls_dir, "localhost.pem")
    key = os.path.join(tls_dir, "localhost.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    entry, = certs_of(server, "localhost")
    assert entry["file"] == crt and entry["not_after"] == res["not_after"]
    assert entry["days_left"] >= 3649 and "localhost" in entry["names"]
    assert entry["subject"]
    # The new certificate is served.
    assert served_sha256(server) == entry["sha256"]
    c = client(server, passwords)
    c.sync()
    c.close()

    pem, pkey = open(crt).read(), open(key).read()
    other_key = open(os.path.join(tls_dir, "key.pem")).read()
    e, msg = err(server, "cert-upload", "--host=localhost", "--cert=" + pem,
                 "--key=" + other_key)
    assert e == "EINVAL" and "key" in msg
    e, msg = err(server, "cert-upload", "--host=localhost",
                 "--cert=garbage", "--key=" + pkey)
    assert e == "EINVAL" and "cert" in msg
    assert err(server, "cert-upload", "--host=nowhere.example",
               "--cert=" + pem, "--key=" + pkey)[0] == "EINVAL"
    # The init certificate names localhost too: no warning.
    init_pem = open(os.path.join(tls_dir, "cert.pem")).read()
    res = ok(server, "cert-upload", "--host=localhost", "--cert=" + init_pem,
             "--key=" + other_key)
    assert res["ok"] is True and res["warnings"] == []
    assert res["not_after"].endswith("Z")
    assert open(crt).read() == init_pem
    entry, = certs_of(server, "localhost")
    assert served_sha256(server) == entry["sha256"]
    c = client(server, passwords)
    c.sync()
    c.close()


def test_cert_upload_name_mismatch_warns(server_factory, passwords):
    srv = server_factory(domain="example.test")
    tls_dir = os.path.join(str(srv.config_path.parent), "data", "tls")
    # A certificate for another name, made by cert-generate on a second
    # server, then uploaded here: accepted with a warning.
    other = server_factory()
    ok(other, "cert-generate", "--host=localhost")
    otls = os.path.join(str(other.config_path.parent), "data", "tls")
    pem = open(os.path.join(otls, "localhost.pem")).read()
    pkey = open(os.path.join(otls, "localhost.key")).read()
    res = ok(srv, "cert-upload", "--host=example.test", "--cert=" + pem,
             "--key=" + pkey)
    assert res["ok"] is True
    assert any("example.test" in w for w in res["warnings"])
    assert os.path.exists(os.path.join(tls_dir, "example.test.key"))


# ---- offline ----

def test_offline_behaviour(server_factory):
    srv = server_factory(start=False, users=False)
    e, msg = err(srv, "kick-session", "alice@localhost/x")
    assert e == "ESTATE" and "not running" in msg
    assert ok(srv, "config-get")["text"] == config_text(srv)
    res = ok(srv, "admin-add", "boss@localhost")
    assert res["ok"] is True and "not running" in res["reload"]
    assert 'jid="boss@localhost"' in config_text(srv)
    assert err(srv, "message", "--to=a@localhost", "--body=x")[0] == "ESTATE"
    assert err(srv, "module-reload", "--name=time")[0] == "ESTATE"


# ---- modules' additions: client versions, vcard-get ----

NS_VERSION = "jabber:iq:version"


def test_client_version_on_demand_only(server, passwords):
    """Off by default: nothing is asked at login (mobile clients pay for
    every stanza); an admin asks one session."""
    a = RawClient(server.c2s_port, domain=server.domain)
    a.answer_version = False
    a.login("alice", passwords["alice"], resource="phone")
    a.sync()
    assert not [el for el in a.pending if el.tag == q(NS_CLIENT, "iq")]
    assert {s["jid"]: s for s in ok(server, "sessions")}[a.jid]["client"] \
        is None
    a.close()
    b = RawClient(server.c2s_port, domain=server.domain)
    b.login("bob", passwords["bob"], resource="desk")
    b.sync()
    # The client answers while it reads: run the command beside it.
    out = []
    t = threading.Thread(target=lambda: out.append(
        ok(server, "client-version", b.jid)))
    t.start()
    while t.is_alive():
        b.sync()
        t.join(0.1)
    assert out == [{"jid": b.jid, "client": "rawxmpp 1.0"}]
    assert {s["jid"]: s for s in ok(server, "sessions")}[b.jid]["client"] \
        == "rawxmpp 1.0"
    e, msg = err(server, "client-version", "bob@localhost/nothing")
    assert e == "ENOENT" and "no such session" in msg
    b.close()


def test_client_version_in_sessions(server_factory, passwords):
    server = server_factory(start=False)
    server.module("version").set("query-clients", "true")
    server.start()
    # rawxmpp answers the query on its own, as real clients do.
    a = RawClient(server.c2s_port, domain=server.domain)
    a.login("alice", passwords["alice"], resource="auto")
    a.sync()
    by = {s["jid"]: s for s in ok(server, "sessions")}
    assert by[a.jid]["client"] == "rawxmpp 1.0"
    c = RawClient(server.c2s_port, domain=server.domain)
    c.answer_version = False
    c.login("alice", passwords["alice"], resource="v")
    iq = c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                e.get("type") == "get" and
                e.find(q(NS_VERSION, "query")) is not None)
    assert iq.get("from") == "localhost"
    c.send("<iq type='result' id='%s' to='localhost'><query xmlns='%s'>"
           "<name>Tester</name><version>1.2</version><os>Plan 9</os>"
           "</query></iq>" % (iq.get("id"), NS_VERSION))
    c.sync()
    by = {s["jid"]: s for s in ok(server, "sessions")}
    assert by[c.jid]["client"] == "Tester 1.2 (Plan 9)"
    # A client that refuses: no software shown, nothing breaks.
    d = RawClient(server.c2s_port, domain=server.domain)
    d.answer_version = False
    d.login("bob", passwords["bob"], resource="w")
    iq = d.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                e.get("type") == "get")
    d.send("<iq type='error' id='%s' to='localhost'><error type='cancel'>"
           "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'"
           "/></error></iq>" % iq.get("id"))
    d.sync()
    by = {s["jid"]: s for s in ok(server, "sessions")}
    assert by[d.jid]["client"] is None
    # A session that closes before answering is not an error either.
    e = RawClient(server.c2s_port, domain=server.domain)
    e.answer_version = False
    e.login("carol", passwords["carol"])
    e.close()
    c.sync()
    ok(server, "module-configure", "--name=version", "--host=localhost",
       '--options={"query-clients": false}')
    f = RawClient(server.c2s_port, domain=server.domain)
    f.answer_version = False
    f.login("carol", passwords["carol"], resource="off")
    f.sync()
    assert not [el for el in f.pending if el.tag == q(NS_CLIENT, "iq")]
    by = {s["jid"]: s for s in ok(server, "sessions")}
    assert by[f.jid]["client"] is None
    for x in (a, c, d, f):
        x.close()


def test_vcard_get(server, passwords):
    c = client(server, passwords)
    el = c.iq("set", "<vCard xmlns='vcard-temp'><FN>Alice A.</FN></vCard>")
    assert el.get("type") == "result"
    res = ok(server, "vcard-get", "alice@localhost")
    assert res["jid"] == "alice@localhost"
    assert res["vcard"].startswith("<vCard") and "Alice A." in res["vcard"]
    e, msg = err(server, "vcard-get", "bob@localhost")
    assert e == "ENOENT" and "bob@localhost" in msg
    assert err(server, "vcard-get", "bob@elsewhere.example")[0] == "EINVAL"
    c.close()


def can_connect(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def test_config_set_reloads_listeners(server, passwords):
    before = config_text(server)
    port = server.http_port
    assert can_connect(port)
    without = re.sub(r'\s*<listen type="http"[^>]*/>', "", before)
    assert without != before
    assert ok(server, "config-set", "--text=" + without)["reload"] == "ok"
    assert not can_connect(port)
    assert all(li["type"] != "http" for li in ok(server, "status")["listeners"])
    c = client(server, passwords)          # c2s kept
    assert ok(server, "config-set", "--text=" + before)["reload"] == "ok"
    assert can_connect(port)
    c.sync()
    c.close()


def test_reload_adds_and_removes_a_host(server):
    before = config_text(server)
    added = before.replace("</ember>", "  <host name=\"second.test\">\n"
                           "    <module name=\"ping\"/>\n  </host>\n</ember>")
    assert ok(server, "config-set", "--text=" + added)["reload"] == "ok"
    server.ctl_ok("adduser", "dan@second.test", "dan-secret-1")
    c = RawClient(server.c2s_port, domain="second.test")
    assert c.login("dan", "dan-secret-1").startswith("dan@second.test/")
    assert c.ping().get("type") == "result"
    # The host goes: its streams end with host-gone (RFC 6120 4.9.3.6).
    assert ok(server, "config-set", "--text=" + before)["reload"] == "ok"
    c.expect_stream_error()
    assert c.stream_error == "host-gone"
