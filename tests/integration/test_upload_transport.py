"""Upload bodies on the wire (core/http/body.c through mod_upload): the
head is judged before a byte of the body is read, 100-continue only for
a body that will be taken, a client that leaves mid-body leaves nothing
behind, keep-alive after a streamed body, bodies that do not match
their slot.  The XEP-0363 contract itself is in test_upload.py."""

import os
import socket
import time
import urllib.parse

import pytest

from rawxmpp import RawClient, q

NS = "urn:xmpp:http:upload:0"


@pytest.fixture
def up(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("upload", **{"url-base": "http://127.0.0.1:%d/files"
                                % srv.http_port, "max-file-size": "64M"})
    srv.start()
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    yield srv, c
    c.close()


def slot(c, size, name="f.bin", type_=None):
    r = c.iq("get", "<request xmlns='%s' filename='%s' size='%d'%s/>"
             % (NS, name, size, " content-type='%s'" % type_ if type_
                else ""), to="upload.localhost")
    assert r.get("type") == "result", r
    put = r.find(q(NS, "slot")).find(q(NS, "put")).get("url")
    return urllib.parse.urlsplit(put).path


def connect(srv):
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    return s


def read_answer(s, is_head=False):
    """One answer: (status, headers, body, bytes after it); the body by
    Content-Length, none for HEAD."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in
               (ln.split(":", 1) for ln in lines[1:])}
    n = int(headers.get("content-length", "0"))
    if status in (100, 204, 304) or is_head:
        n = 0
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError(rest)
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def closed(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def test_refusal_comes_before_the_body_and_without_100(up):
    srv, c = up
    size = 32 << 20
    s = connect(srv)
    s.sendall(b"PUT /files/AAAAAAAAAAAAAAAAAAAAAA/f.bin HTTP/1.1\r\n"
              b"Host: 127.0.0.1\r\nContent-Length: %d\r\n"
              b"Expect: 100-continue\r\n\r\n" % size)
    status, headers, _, _ = read_answer(s)
    assert status == 403
    assert headers.get("connection") == "close"
    assert closed(s)


def test_100_continue_for_a_valid_slot(up):
    srv, c = up
    data = os.urandom(300000)
    path = slot(c, len(data))
    s = connect(srv)
    s.sendall(b"PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
              b"Expect: 100-continue\r\n\r\n" % (path.encode(), len(data)))
    status, _, _, rest = read_answer(s)
    assert status == 100 and rest == b""
    s.sendall(data)
    status, _, _, _ = read_answer(s)
    assert status == 201
    # Keep-alive: the same connection serves the download.
    s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    status, _, body, _ = read_answer(s)
    assert status == 200 and body == data
    s.close()


def test_pipelined_requests_after_a_streamed_body(up):
    srv, c = up
    data = os.urandom(1 << 20)
    path = slot(c, len(data)).encode()
    s = connect(srv)
    s.sendall(b"PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % (path, len(data)) + data +
              b"GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=-5\r\n\r\n" % path
              + b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    status, _, _, rest = read_answer(s)
    assert status == 201
    s2 = _Replay(s, rest)
    status, headers, body, rest = read_answer(s2)
    assert status == 206 and body == data[-5:]
    assert headers["content-range"] == "bytes %d-%d/%d" % (
        len(data) - 5, len(data) - 1, len(data))
    status, headers, _, _ = read_answer(_Replay(s, rest), is_head=True)
    assert status == 200 and headers["content-length"] == str(len(data))
    s.close()


class _Replay:
    """A socket whose first reads return bytes already received."""

    def __init__(self, s, pending):
        self.s, self.pending = s, pending

    def recv(self, n):
        if self.pending:
            out, self.pending = self.pending[:n], self.pending[n:]
            return out
        return self.s.recv(n)


def test_client_leaving_mid_body_leaves_nothing(up):
    srv, c = up
    data = os.urandom(4 << 20)
    path = slot(c, len(data))
    s = connect(srv)
    s.sendall(b"PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % (path.encode(), len(data)) + data[:len(data) // 2])
    updir = srv.root / "inst" / "data" / "upload"
    deadline = time.time() + 10
    while not list(updir.glob("*.part")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(updir.glob("*.part")), "the body is not being written"
    s.close()
    while list(updir.glob("*.part")) and time.time() < deadline:
        time.sleep(0.05)
    assert not list(updir.glob("*.part"))
    # The slot is free again: the whole body now goes through.
    s = connect(srv)
    s.sendall(b"PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % (path.encode(), len(data)) + data)
    assert read_answer(s)[0] == 201
    s.close()


def test_chunked_body_of_the_wrong_size_is_refused(up):
    srv, c = up
    path = slot(c, 10).encode()

    def put_chunked(payload):
        s = connect(srv)
        s.sendall(b"PUT %s HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                  % (path, len(payload), payload))
        status = read_answer(s)[0]
        s.close()
        return status

    assert put_chunked(b"x" * 11) == 400
    assert put_chunked(b"x" * 9) == 400
    s = connect(srv)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    assert read_answer(s)[0] == 404
    s.close()
    assert put_chunked(b"0123456789") == 201


def test_body_over_the_route_limit_is_cut(up):
    srv, c = up
    path = slot(c, 10).encode()
    s = connect(srv)
    s.sendall(b"PUT %s HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" % path)
    rss0 = srv.rss_kib()
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b"y" * (1 << 20))
    status = None
    try:
        for _ in range(80):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        status = read_answer(s)[0]
    except (EOFError, ConnectionResetError):
        pass
    assert status in (413, None)
    assert closed(s)
    assert srv.rss_kib() - rss0 < 20 * 1024
    # The partial file goes once the server has closed its side too.
    updir = srv.root / "inst" / "data" / "upload"
    deadline = time.time() + 10
    while list(updir.glob("*.part")) and time.time() < deadline:
        time.sleep(0.05)
    assert not list(updir.glob("*.part"))
