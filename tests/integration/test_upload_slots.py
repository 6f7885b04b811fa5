"""XEP-0363 HTTP File Upload (mod_upload), statement by statement: the
service in disco, slots and their errors, PUT and GET, what keeps an
uploaded file from running as a page of the server, quotas, expiry,
restarts, admin commands, account deletion."""

import http.client
import json
import socket
import sqlite3
import time
import urllib.parse

import pytest

from rawxmpp import RawClient, q, stanza_error

NS = "urn:xmpp:http:upload:0"
DISCO = "http://jabber.org/protocol/disco#info"
NS_DATA = "jabber:x:data"


@pytest.fixture
def up(server_factory, passwords):
    def make(**opts):
        srv = server_factory(start=False)
        base = {"url-base": "http://127.0.0.1:%d/files" % srv.http_port}
        base.update(opts)
        srv.add_module("upload", **base)
        srv.start()
        c = RawClient(srv.c2s_port, domain=srv.domain)
        c.login("alice", passwords["alice"])
        return srv, c
    return make


def request(c, name, size, type_=None, to="upload.localhost"):
    return c.iq("get", "<request xmlns='%s' filename='%s' size='%s'%s/>"
                % (NS, name, size, " content-type='%s'" % type_ if type_
                   else ""), to=to)


def slot(c, name, size, type_=None):
    r = request(c, name, size, type_)
    assert r.get("type") == "result", stanza_error(r)
    s = r.find(q(NS, "slot"))
    return s.find(q(NS, "put")).get("url"), s.find(q(NS, "get")).get("url")


def fetch(srv, method, url, body=None, headers=None):
    u = urllib.parse.urlsplit(url)
    h = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    h.request(method, u.path + ("?" + u.query if u.query else ""),
              body=body, headers=headers or {})
    r = h.getresponse()
    data = r.read()
    h.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def test_service_in_disco(up):
    """Section 3: the service has identity store/file, the feature, and
    max-file-size in an extended form; the server lists it."""
    srv, c = up(**{"max-file-size": "1M"})
    r = c.iq("get", "<query xmlns='http://jabber.org/protocol/"
             "disco#items'/>", to="localhost")
    assert "upload.localhost" in [i.get("jid") for i in r.iter(
        "{http://jabber.org/protocol/disco#items}item")]
    r = c.iq("get", "<query xmlns='%s'/>" % DISCO, to="upload.localhost")
    idn = r.find(".//{%s}identity" % DISCO)
    assert (idn.get("category"), idn.get("type")) == ("store", "file")
    assert NS in [f.get("var") for f in r.iter("{%s}feature" % DISCO)]
    x = r.find(".//{%s}x" % NS_DATA)
    vals = {f.get("var"): f.findtext(q(NS_DATA, "value"))
            for f in x.findall(q(NS_DATA, "field"))}
    assert vals["FORM_TYPE"] == NS and vals["max-file-size"] == "1048576"


def test_put_then_get(up):
    """Sections 4 and 5: PUT the bytes to the put URL (201), GET them from
    the get URL; the slot's id is unguessable."""
    srv, c = up()
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    put, get = slot(c, "cat picture.png", len(data), "image/png")
    assert put == get and put.startswith("http://127.0.0.1:%d/files/"
                                         % srv.http_port)
    ident = urllib.parse.urlsplit(put).path.split("/")[2]
    assert len(ident) >= 22
    st, h, _ = fetch(srv, "PUT", put, data, {"Content-Type": "image/png"})
    assert st == 201 and h["access-control-allow-origin"] == "*"
    st, h, body = fetch(srv, "GET", get)
    assert st == 200 and body == data
    assert h["content-type"] == "image/png"
    assert h["x-content-type-options"] == "nosniff"
    assert "sandbox" in h["content-security-policy"]
    assert h["content-disposition"].startswith("inline")
    st, h, body = fetch(srv, "HEAD", get)
    assert st == 200 and body == b"" and h["content-length"] == str(len(data))
    st, h, body = fetch(srv, "GET", get, headers={"Range": "bytes=10-19"})
    assert st == 206 and body == data[10:20]
    assert h["content-range"] == "bytes 10-19/%d" % len(data)
    st, h, _ = fetch(srv, "GET", get, headers={"Range": "bytes=99999-"})
    assert st == 416 and h["content-range"] == "bytes */%d" % len(data)


def test_slot_errors(up):
    """Section 4: too large (file-too-large with the limit), a type not
    allowed, bad requests, another server's users."""
    srv, c = up(**{"max-file-size": "1K", "allowed-types": "image/*"})
    r = request(c, "big.png", 2048, "image/png")
    assert stanza_error(r)[:2] == ("modify", "not-acceptable")
    assert r.find(".//{%s}file-too-large" % NS).findtext(
        q(NS, "max-file-size")) == "1024"
    r = request(c, "page.html", 10, "text/html")
    assert stanza_error(r)[:2] == ("modify", "not-acceptable")
    for name, size in (("", "10"), ("a.png", "ten"), ("a.png", "-1")):
        r = request(c, name, size, "image/png")
        assert stanza_error(r)[1] == "bad-request", (name, size)


def test_put_must_match_the_slot(up):
    """Section 5: the body is the size and type asked for; a slot is
    used once; a forged id or another name is refused."""
    srv, c = up()
    put, get = slot(c, "a.txt", 5, "text/plain")
    assert fetch(srv, "PUT", put, b"123456",
                {"Content-Type": "text/plain"})[0] in (400, 413)
    assert fetch(srv, "PUT", put, b"12345",
                {"Content-Type": "image/png"})[0] in (400, 415)
    parts = urllib.parse.urlsplit(put).path.split("/")
    forged = "http://127.0.0.1:%d/files/%s/a.txt" % (
        srv.http_port, "A" * len(parts[2]))
    assert fetch(srv, "PUT", forged, b"12345",
                {"Content-Type": "text/plain"})[0] in (403, 404)
    other = put.rsplit("/", 1)[0] + "/b.txt"
    assert fetch(srv, "PUT", other, b"12345",
                {"Content-Type": "text/plain"})[0] in (403, 404)
    assert fetch(srv, "PUT", put, b"12345",
                {"Content-Type": "text/plain"})[0] == 201
    assert fetch(srv, "PUT", put, b"54321",
                {"Content-Type": "text/plain"})[0] == 409
    assert fetch(srv, "GET", get)[2] == b"12345"


def test_uploaded_pages_do_not_run(up):
    """Section 12 (security): an HTML or SVG upload is a download, never
    a page of the server's origin."""
    srv, c = up()
    for name, type_ in (("x.html", "text/html"),
                        ("x.svg", "image/svg+xml"), ("x.bin", None)):
        data = b"<script>alert(1)</script>"
        put, get = slot(c, name, len(data), type_)
        hdr = {"Content-Type": type_} if type_ else {}
        assert fetch(srv, "PUT", put, data, hdr)[0] == 201
        st, h, _ = fetch(srv, "GET", get)
        assert st == 200
        assert "html" not in h["content-type"] and \
            "svg" not in h["content-type"]
        assert h["content-disposition"].startswith("attachment")
        assert h["x-content-type-options"] == "nosniff"
        assert "sandbox" in h["content-security-policy"]


def test_path_tricks(up):
    srv, c = up()
    put, get = slot(c, "../../etc/passwd", 4)
    assert "/../" not in urllib.parse.urlsplit(put).path
    assert fetch(srv, "PUT", put, b"root")[0] == 201
    assert fetch(srv, "GET", get)[2] == b"root"
    base = "http://127.0.0.1:%d/files/" % srv.http_port
    for path in ("..%2f..%2fember.xml/x", "%2e%2e/%2e%2e/ember.xml",
                 "x/..%5c..%5cember.xml", "ABC%00DEF/x"):
        st = fetch(srv, "GET", base + path)[0]
        assert st in (400, 403, 404), path


def test_cors_preflight(up):
    srv, c = up()
    put, _ = slot(c, "a.png", 4, "image/png")
    st, h, _ = fetch(srv, "OPTIONS", put, headers={
        "Origin": "https://chat.example", "Access-Control-Request-Method":
        "PUT", "Access-Control-Request-Headers": "content-type"})
    assert st in (200, 204)
    assert "PUT" in h["access-control-allow-methods"]
    assert "content-type" in h["access-control-allow-headers"].lower()


def test_quotas(up, passwords):
    """The per-account and total quotas, with resource-constraint."""
    srv, c = up(**{"quota-per-user": "100", "quota-total": "150"})
    put, _ = slot(c, "a.bin", 80)
    r = request(c, "b.bin", 30)
    assert stanza_error(r)[:2] == ("wait", "resource-constraint")
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    r = request(bob, "c.bin", 80)
    assert stanza_error(r)[:2] == ("wait", "resource-constraint")
    assert request(bob, "c.bin", 70).get("type") == "result"
    bob.close()


def test_expiry_restart_commands_and_account_deletion(up, passwords):
    srv, c = up(**{"expire-after": "3"})
    put, get = slot(c, "keep.txt", 4, "text/plain")
    assert fetch(srv, "PUT", put, b"data",
                {"Content-Type": "text/plain"})[0] == 201
    c.close()
    srv.restart()
    assert fetch(srv, "GET", get)[2] == b"data"
    ident = urllib.parse.urlsplit(get).path.split("/")[2]
    out = srv.ctl_ok("--json", "upload-list").stdout
    assert ident in out and "alice@localhost" in out
    assert "alice@localhost" in srv.ctl_ok("--json", "upload-usage").stdout
    deadline = time.time() + 15
    while fetch(srv, "GET", get)[0] != 404:
        assert time.time() < deadline, "the file did not expire"
        time.sleep(0.5)
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    put, get = slot(c, "gone.txt", 4, "text/plain")
    assert fetch(srv, "PUT", put, b"data",
                {"Content-Type": "text/plain"})[0] == 201
    ident = urllib.parse.urlsplit(get).path.split("/")[2]
    srv.ctl_ok("upload-delete", ident)
    assert fetch(srv, "GET", get)[0] == 404
    put, get = slot(c, "mine.txt", 4, "text/plain")
    assert fetch(srv, "PUT", put, b"data",
                {"Content-Type": "text/plain"})[0] == 201
    c.close()
    srv.ctl_ok("deluser", "alice@localhost")
    assert fetch(srv, "GET", get)[0] == 404


def test_requests_while_the_records_load_wait_for_them(up, passwords):
    """After a restart the records load in the background, behind the open
    listeners: a download that comes meanwhile is answered once they are
    in, not refused with a 503 (40,000 records make the window wide
    enough to hit every time); one whose client left meanwhile is
    forgotten."""
    srv, c = up()
    if srv.storage == "pgsql":
        pytest.skip("the records are written straight into SQLite's file")
    put, get = slot(c, "keep.txt", 4, "text/plain")
    assert fetch(srv, "PUT", put, b"data",
                 {"Content-Type": "text/plain"})[0] == 201
    c.close()
    srv.stop()
    with sqlite3.connect(str(srv.dir / "data" / "ember.db")) as db:
        host, store, user = db.execute(
            "SELECT host, store, user FROM map WHERE store = 'upload_files'"
        ).fetchone()
        now = int(time.time())
        db.executemany("INSERT INTO map VALUES (?, ?, ?, ?, ?)", (
            (host, store, user, "%022d" % i, json.dumps({
                "owner": "bob@localhost", "name": "f%d" % i,
                "type": "", "size": 1, "created": now, "stored": 0}))
            for i in range(40000)))
    srv.start(wait=False)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", srv.http_port), 0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "no http listener"
            time.sleep(0.01)
    gone = socket.create_connection(("127.0.0.1", srv.http_port), 5)
    gone.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                 % urllib.parse.urlsplit(get).path.encode())
    gone.close()
    st, _, body = fetch(srv, "GET", get)
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    r = request(c, "new.txt", 4, "text/plain")
    assert r.get("type") == "result", stanza_error(r)
    assert (st, body) == (200, b"data")
    srv.wait_ready()
    c.close()
