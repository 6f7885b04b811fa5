"""The HTTP server in the core (doc/http.md), driven through the test module
tests/modules/http_probe.c: routes, keep-alive and pipelining, chunked
bodies, limits and error statuses, path normalisation, static files,
HTTPS, server-sent events, WebSocket, and routes going with their module.
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import time

import pytest

STATIC_FILES = {
    "index.html": ("<h1>hi</h1>", "text/html; charset=utf-8"),
    "style.css": ("body{}", "text/css; charset=utf-8"),
    "app.js": ("let a=1;", "text/javascript; charset=utf-8"),
    "data.json": ('{"a":1}', "application/json"),
    "logo.svg": ("<svg/>", "image/svg+xml"),
    "img.png": ("\x89PNG", "image/png"),
    "favicon.ico": ("ico", "image/x-icon"),
    "font.woff2": ("wOF2", "font/woff2"),
    "notes.txt": ("plain text", "text/plain; charset=utf-8"),
    "blob.bin": ("??", "application/octet-stream"),
}


@pytest.fixture
def hsrv(server_factory, tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    for name, (body, _) in STATIC_FILES.items():
        (root / name).write_text(body)
    (root / "sub" / "index.html").write_text("sub index")
    (tmp_path / "secret.txt").write_text("SECRET")
    srv = server_factory(start=False, users=False)
    # The core's HTTP alone: the console would guard the admin set
    # (test_console_api.py covers that).
    for m in srv.cfg.findall("module"):
        if m.get("name") == "admin_console":
            srv.cfg.remove(m)
    srv.add_plugins_dir()
    srv.add_module("http_probe", static=str(root))
    srv.set_limits(http_request_timeout=2, http_keepalive_timeout=3)
    srv.start()
    return srv


def conn(srv, port=None, tls=False):
    port = port or (srv.https_port if tls else srv.http_port)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                           context=ctx)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def get(srv, path, method="GET", body=None, headers=None, **kw):
    c = conn(srv, **kw)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def raw(port, data, timeout=10, tls=False):
    """Send bytes, read until the server closes; everything read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def status_of(resp):
    return int(resp.split(b" ", 2)[1])


def read_response(sock_file):
    """One response from a file made of a socket: (status, headers, body)."""
    line = sock_file.readline()
    status = int(line.split()[1])
    headers = {}
    while True:
        h = sock_file.readline()
        if h in (b"\r\n", b""):
            break
        k, v = h.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = sock_file.read(int(headers.get("content-length", "0")))
    return status, headers, body


# ---- requests and connections ----

def test_echo_and_keepalive(hsrv):
    c = conn(hsrv)
    c.request("GET", "/probe/echo?q=a%20b+c&name=%C3%A9t%C3%A9&x",
              headers={"X-Probe": "yes"})
    r = c.getresponse()
    doc = json.loads(r.read())
    sock = c.sock
    assert r.status == 200
    assert r.getheader("Content-Type") == "application/json"
    assert r.getheader("Date").endswith("GMT")
    assert int(r.getheader("Content-Length")) > 0
    assert doc["method"] == "GET" and doc["path"] == "/probe/echo"
    assert doc["query"] == {"q": "a b c", "name": "\u00e9t\u00e9"}
    assert doc["headers"]["x-probe"] == "yes"
    assert doc["ip"] == "127.0.0.1" and doc["tls"] is False
    for i in range(4):
        c.request("POST", "/probe/echo", body=b"payload %d" % i,
                  headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        doc = json.loads(r.read())
        assert doc["body"] == "payload %d" % i
        assert doc["headers"]["content-type"] == "text/plain"
        assert c.sock is sock            # still the same connection
    c.request("HEAD", "/probe/echo")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    assert int(r.getheader("Content-Length")) > 0
    c.request("GET", "/probe/echo", headers={"Connection": "close"})
    r = c.getresponse()
    assert r.getheader("Connection") == "close"
    r.read()
    c.close()


def test_http10(hsrv):
    out = raw(hsrv.http_port, b"GET /probe/echo HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    f = s.makefile("rb")
    for i in range(2):
        s.sendall(b"GET /probe/echo HTTP/1.0\r\nConnection: keep-alive"
                  b"\r\n\r\n")
        st, h, _ = read_response(f)
        assert st == 200 and h["connection"] == "keep-alive"
    s.close()


def test_pipelined_requests_answered_in_order(hsrv):
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /probe/async HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /probe/echo?q=3 HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 4\r\n\r\nbody"
              b"GET /probe/echo?q=4 HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    f = s.makefile("rb")
    st, _, body = read_response(f)
    assert st == 200 and json.loads(body)["query"]["q"] == "1"
    st, _, body = read_response(f)
    assert st == 200 and body == b"async done"
    st, _, body = read_response(f)
    assert json.loads(body)["query"]["q"] == "3"
    assert json.loads(body)["body"] == "body"
    st, h, body = read_response(f)
    assert json.loads(body)["query"]["q"] == "4"
    assert h["connection"] == "close"
    assert f.read() == b""               # closed after Connection: close
    s.close()


def test_chunked_upload(hsrv):
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"POST /probe/echo HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    time.sleep(0.1)
    s.sendall(b"7;ext=1\r\n, world\r\n0\r\n\r\n")
    st, _, body = read_response(s.makefile("rb"))
    assert st == 200 and json.loads(body)["body"] == "hello, world"
    s.close()
    c = conn(hsrv)
    c.request("POST", "/probe/echo", body=iter([b"ab", b"cd", b"ef"]),
              encode_chunked=True)
    assert json.loads(c.getresponse().read())["body"] == "abcdef"
    c.close()


def test_expect_continue(hsrv):
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"POST /probe/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3"
              b"\r\nExpect: 100-continue\r\n\r\n")
    f = s.makefile("rb")
    assert f.readline().startswith(b"HTTP/1.1 100")
    assert f.readline() == b"\r\n"
    s.sendall(b"abc")
    st, _, body = read_response(f)
    assert json.loads(body)["body"] == "abc"
    s.close()


# ---- error statuses ----

def test_error_statuses(hsrv):
    r, _ = get(hsrv, "/nothing/here")
    assert r.status == 404
    r, _ = get(hsrv, "/probe/echo", method="DELETE")
    assert r.status == 405
    allow = {m.strip() for m in r.getheader("Allow").split(",")}
    assert allow == {"GET", "HEAD", "POST", "PUT"}
    r, _ = get(hsrv, "/probe/fail")
    assert r.status == 500
    r, _ = get(hsrv, "/probe/busy")
    assert r.status == 503
    r, _ = get(hsrv, "/probe/small", method="POST", body=b"x" * 16)
    assert r.status == 200
    r, _ = get(hsrv, "/probe/small", method="POST", body=b"x" * 17)
    assert r.status == 413
    # 413 as well when a chunked body grows over the limit.
    out = raw(hsrv.http_port, b"POST /probe/small HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n10\r\n" + b"y" * 16 +
              b"\r\n10\r\n" + b"y" * 16 + b"\r\n0\r\n\r\n")
    assert status_of(out) == 413
    out = raw(hsrv.http_port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
    assert status_of(out) == 414
    out = raw(hsrv.http_port, b"GET /probe/echo HTTP/1.1\r\nX-Big: " +
              b"b" * 20000 + b"\r\n\r\n")
    assert status_of(out) == 431
    out = raw(hsrv.http_port, b"GET /probe/echo HTTP/1.1\r\n" +
              b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n")
    assert status_of(out) == 431
    for bad in (b"GARBAGE\r\n\r\n", b"GET /probe/echo HTTP/1.1\r\nBad "
                b"Header\r\n\r\n", b"GET noslash HTTP/1.1\r\n\r\n",
                b"POST /probe/echo HTTP/1.1\r\nTransfer-Encoding: chunked"
                b"\r\n\r\nzz\r\n"):
        out = raw(hsrv.http_port, bad)
        assert status_of(out) == 400, bad
    # Not a websocket request on a websocket route.
    r, _ = get(hsrv, "/probe/ws")
    assert r.status == 426
    # The server is still fine.
    r, _ = get(hsrv, "/probe/echo")
    assert r.status == 200


def test_request_and_keepalive_timeouts(hsrv):
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/echo HTTP/1.1\r\nHost: x\r\n")   # never ends
    t0 = time.monotonic()
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    assert status_of(out) == 408
    assert 1.5 < time.monotonic() - t0 < 6
    s.close()
    # Idle between requests: closed silently after the keep-alive timeout.
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/echo HTTP/1.1\r\nHost: x\r\n\r\n")
    f = s.makefile("rb")
    assert read_response(f)[0] == 200
    t0 = time.monotonic()
    assert f.read() == b""
    assert 2.5 < time.monotonic() - t0 < 7
    s.close()


# ---- path normalisation ----

@pytest.mark.parametrize("path", [
    "/static/../secret.txt", "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt", "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt", "/static/%252e%252e/secret.txt",
    "/static/%252e%252e%252fsecret.txt", "/static/..%5csecret.txt",
    "/static/..\\secret.txt", "/static/a%00b", "/static/./index.html",
    "/static/sub/..", "/static/%2fetc/passwd", "/static/%zz",
    "/static/a%0d%0ab",
])
def test_traversal_refused(hsrv, path):
    out = raw(hsrv.http_port, b"GET " + path.encode() +
              b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(out) == 400, out[:200]
    assert b"SECRET" not in out


def test_path_decoding(hsrv):
    r, body = get(hsrv, "/probe//echo")      # repeated slashes collapse
    assert r.status == 200 and json.loads(body)["path"] == "/probe/echo"
    r, body = get(hsrv, "/probe/%65cho")     # decoded once before matching
    assert r.status == 200 and json.loads(body)["path"] == "/probe/echo"


# ---- static files ----

def test_static_files(hsrv):
    for name, (body, ctype) in STATIC_FILES.items():
        r, data = get(hsrv, "/static/" + name)
        assert r.status == 200, name
        assert data == body.encode("latin-1" if name == "img.png"
                                   else "utf-8") or name == "img.png"
        assert r.getheader("Content-Type") == ctype, name
        assert r.getheader("Cache-Control") == "max-age=60"
        assert r.getheader("Last-Modified").endswith("GMT")
    r, data = get(hsrv, "/static/")
    assert r.status == 200 and data == b"<h1>hi</h1>"
    r, data = get(hsrv, "/static/sub/")
    assert data == b"sub index"
    r, _ = get(hsrv, "/static/missing.css")
    assert r.status == 404
    r, _ = get(hsrv, "/static/sub")          # a directory: not a file
    assert r.status == 404
    r, data = get(hsrv, "/static/style.css", method="HEAD")
    assert r.status == 200 and data == b""
    assert r.getheader("Content-Length") == "6"


def test_static_etag_304(hsrv):
    r, _ = get(hsrv, "/static/app.js")
    etag = r.getheader("ETag")
    lm = r.getheader("Last-Modified")
    assert etag.startswith('"') and etag.endswith('"')
    r, data = get(hsrv, "/static/app.js", headers={"If-None-Match": etag})
    assert r.status == 304 and data == b""
    assert r.getheader("ETag") == etag
    r, _ = get(hsrv, "/static/app.js",
               headers={"If-None-Match": '"other", W/' + etag})
    assert r.status == 304
    r, _ = get(hsrv, "/static/app.js", headers={"If-None-Match": '"x"'})
    assert r.status == 200
    r, _ = get(hsrv, "/static/app.js", headers={"If-Modified-Since": lm})
    assert r.status == 304
    # The file changes: a new tag.
    time.sleep(0.01)
    path = hsrv.cfg.find("host").find("module[@name='http_probe']")
    os.utime(os.path.join(path.get("static"), "app.js"), None)
    with open(os.path.join(path.get("static"), "app.js"), "a") as f:
        f.write("//")
    r, _ = get(hsrv, "/static/app.js", headers={"If-None-Match": etag})
    assert r.status == 200 and r.getheader("ETag") != etag


# ---- TLS and route sets ----

def test_https_and_admin_listeners(hsrv):
    r, body = get(hsrv, "/probe/echo?q=s", tls=True)
    assert r.status == 200
    doc = json.loads(body)
    assert doc["tls"] is True and doc["query"]["q"] == "s"
    # Keep-alive over TLS too.
    c = conn(hsrv, tls=True)
    for i in range(3):
        c.request("GET", "/probe/echo?q=%d" % i)
        assert json.loads(c.getresponse().read())["query"]["q"] == str(i)
    c.close()
    # The admin set is separate from the client set.
    r, body = get(hsrv, "/probe/admin", port=hsrv.admin_port)
    assert r.status == 200 and body == b"admin ok"
    r, body = get(hsrv, "/probe/admin", port=hsrv.admin_tls_port, tls=True)
    assert r.status == 200 and body == b"admin ok"
    r, _ = get(hsrv, "/probe/echo", port=hsrv.admin_port)
    assert r.status == 404
    r, _ = get(hsrv, "/probe/admin")
    assert r.status == 404
    st = json.loads(hsrv.ctl_ok("--json", "status").stdout)
    types = {l["type"]: l for l in st["listeners"]}
    assert types["https"]["tls"] == "direct"
    assert types["admin"]["tls"] == "none"
    assert types["admin"]["port"] == hsrv.admin_port


def test_admin_listener_loopback_only(server_factory):
    srv = server_factory(start=False, users=False)
    el = srv.add_listener("admin", srv.base + 9, address="0.0.0.0")
    srv.save()
    r = srv.ctl("check")
    assert r.returncode != 0
    assert "loopback" in r.stderr + r.stdout
    el.set("public", "true")
    srv.save()
    r = srv.ctl("check")
    assert r.returncode == 0, r.stderr
    el.set("type", "http")
    srv.save()
    r = srv.ctl("check")                     # public is only for admin
    assert r.returncode != 0
    el.attrib.pop("public")
    el.set("require-tls", "false")
    srv.save()
    assert srv.ctl("check").returncode != 0


# ---- async answers and closed callbacks ----

def stats(srv):
    return json.loads(get(srv, "/probe/stats")[1])


def test_async_and_closed_callback(hsrv):
    t0 = time.monotonic()
    r, body = get(hsrv, "/probe/async")
    assert r.status == 200 and body == b"async done"
    assert time.monotonic() - t0 >= 0.09
    before = stats(hsrv)["closed"]
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/hang HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    s.close()
    deadline = time.monotonic() + 5
    while stats(hsrv)["closed"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats(hsrv)["closed"] == before + 1
    # An async request whose client leaves before the timer fires.
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/async HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
    time.sleep(0.3)
    assert get(hsrv, "/probe/echo")[0].status == 200


# ---- server-sent events ----

def test_sse_events(hsrv):
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/sse HTTP/1.1\r\nHost: x\r\n"
              b"Accept: text/event-stream\r\n\r\n")
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    head, _, stream = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: text/event-stream" in head
    events = [e for e in stream.decode().split("\n\n") if e]
    assert events == ["event: tick\ndata: tick %d\ndata: second line" % i
                      for i in (1, 2, 3)]


# ---- WebSocket ----

class WS:
    """A tiny RFC 6455 client: masked frames out, unmasked in."""

    def __init__(self, port, path="/probe/ws", protocol=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (path, key))
        if protocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        self.s.sendall((req + "\r\n").encode())
        self.f = self.s.makefile("rb")
        line = self.f.readline()
        self.status = int(line.split()[1])
        self.headers = {}
        while True:
            h = self.f.readline()
            if h in (b"\r\n", b""):
                break
            k, v = h.decode().split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.expected_accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        ).digest()).decode()

    def send(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.s.sendall(head + mask + body)

    def recv(self):
        h = self.f.read(2)
        if len(h) < 2:
            return None, None
        opcode, n = h[0] & 0x0F, h[1] & 0x7F
        assert not h[1] & 0x80                  # servers never mask
        if n == 126:
            n = int.from_bytes(self.f.read(2), "big")
        elif n == 127:
            n = int.from_bytes(self.f.read(8), "big")
        return opcode, self.f.read(n)

    def close(self):
        self.s.close()


def test_websocket_echo(hsrv):
    ws = WS(hsrv.http_port, protocol="chat, echo")
    assert ws.status == 101
    assert ws.headers["sec-websocket-accept"] == ws.expected_accept
    assert ws.headers["sec-websocket-protocol"] == "echo"
    ws.send(1, b"hello")
    assert ws.recv() == (1, b"hello")
    ws.send(2, bytes(range(256)) * 300)            # 76800 bytes, 64-bit len
    assert ws.recv() == (2, bytes(range(256)) * 300)
    ws.send(1, "\u00e9t\u00e9 ".encode() * 50)
    assert ws.recv() == (1, "\u00e9t\u00e9 ".encode() * 50)
    ws.send(9, b"are you there")                   # ping -> pong
    assert ws.recv() == (10, b"are you there")
    ws.send(1, b"frag", fin=False)                 # fragmented message
    ws.send(0, b"mented")
    assert ws.recv() == (1, b"fragmented")
    ws.send(8, (1000).to_bytes(2, "big"))          # client closes
    op, payload = ws.recv()
    assert op == 8 and payload[:2] == (1000).to_bytes(2, "big")
    assert ws.f.read() == b""
    ws.close()
    # The server closes when the module asks.
    ws = WS(hsrv.http_port)
    assert ws.status == 101 and "sec-websocket-protocol" not in ws.headers
    ws.send(1, b"close")
    op, payload = ws.recv()
    assert op == 8 and payload[:2] == (1000).to_bytes(2, "big")
    ws.close()
    # Refused by the module, and a broken handshake.
    assert WS(hsrv.http_port, path="/probe/ws?deny=1").status == 403
    s = raw(hsrv.http_port, b"GET /probe/ws HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert status_of(s) == 400
    # Over TLS.
    deadline = time.monotonic() + 5
    while stats(hsrv)["ws_closed"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats(hsrv)["ws_closed"] >= 1


def test_websocket_over_tls(hsrv):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(socket.create_connection(
        ("127.0.0.1", hsrv.https_port), timeout=10))
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /probe/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Version: 13\r\n\r\n" +
              b"\x81\x82\x00\x00\x00\x00hi")      # a frame right behind
    f = s.makefile("rb")
    assert f.readline().startswith(b"HTTP/1.1 101")
    while f.readline() != b"\r\n":
        pass
    assert f.read(4) == b"\x81\x02hi"
    s.close()


# ---- routes belong to their module ----

def test_unload_removes_routes(hsrv):
    s = socket.create_connection(("127.0.0.1", hsrv.http_port), timeout=10)
    s.sendall(b"GET /probe/hang HTTP/1.1\r\nHost: x\r\n\r\n")
    ws = WS(hsrv.http_port)
    assert ws.status == 101
    time.sleep(0.1)
    assert get(hsrv, "/probe/echo")[0].status == 200
    hsrv.remove_module("http_probe")
    hsrv.save()
    hsrv.ctl_ok("reload")
    assert get(hsrv, "/probe/echo")[0].status == 404
    assert get(hsrv, "/static/index.html")[0].status == 404
    # The request its module held is answered, the stream closed.
    st, _, _ = read_response(s.makefile("rb"))
    assert st == 503
    s.close()
    op, _ = ws.recv()
    assert op is None or op == 8
    ws.close()
    hsrv.add_module("http_probe")
    hsrv.save()
    hsrv.ctl_ok("reload")
    assert get(hsrv, "/probe/echo")[0].status == 200
