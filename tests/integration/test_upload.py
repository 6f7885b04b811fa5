"""XEP-0363 HTTP File Upload (mod_upload), from the specification's text
and the module's contract: disco, slot requests and their errors, the PUT
and GET sides over HTTP, quotas, expiry, persistence, the admin commands,
account deletion and memory use on large uploads.

Each test asserts one requirement (or a small group on one server start)
and is written so that a server ignoring it fails.
"""

import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import quoteattr

import pytest

from rawxmpp import (NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_STANZAS,
                     RawClient, disco_features, disco_identities, q,
                     stanza_error)

NS = "urn:xmpp:http:upload:0"
NS_DATA = "jabber:x:data"
UPLOAD = "upload.localhost"

# ---------------------------------------------------------------------------
# Admin command names and JSON keys (emberctl).  ADAPT HERE: the contract
# fixes what the commands report, not the exact spelling; a rename is a
# one-line change in this block.
# ---------------------------------------------------------------------------
CMD_LIST = "upload-list"
CMD_DELETE = "upload-delete"
CMD_USAGE = "upload-usage"
ARG_USER = "--user=%s"          # upload-list's optional owner filter
ARG_ID = "--id=%s"              # upload-delete's file id
K_ID, K_OWNER, K_NAME, K_SIZE, K_TYPE, K_CREATED = (
    "id", "owner", "name", "size", "type", "created")
K_FILES = ("files", "uploads", "items")     # the list, when wrapped
K_USERS = ("users", "per_user", "per-user", "usage")
K_USER = ("user", "jid", "owner")           # in a per-user entry (a list)
K_BYTES = ("bytes", "used", "size", "usage")
K_TOTAL = ("total", "total_bytes", "bytes")


# ---- XMPP side -------------------------------------------------------------

def start(server_factory, start_=True, **opts):
    """A server with the upload module; url-base on the plain HTTP
    listener unless the test gives its own."""
    srv = server_factory(start=False)
    o = {"url-base": "http://127.0.0.1:%d/upload" % srv.http_port}
    o.update(opts)
    o = {k: v for k, v in o.items() if v is not None}
    srv.add_module("upload", **o)
    if start_:
        srv.start()
        loaded(srv)
    return srv


def loaded(srv):
    """After a start mod_upload reads its records, answering 503 ("starting
    up: try again in a moment") and resource-constraint meanwhile: wait
    until it has them."""
    url = "http://127.0.0.1:%d/upload/none/none" % srv.http_port
    deadline = time.monotonic() + 10
    while get(url)[0] == 503:
        assert time.monotonic() < deadline, "mod_upload never loaded"
        time.sleep(0.05)


def client(srv, passwords, user="alice", domain=None):
    c = RawClient(srv.c2s_port, domain=domain or srv.domain)
    c.login(user, passwords[user])
    return c


def request(c, filename=None, size=None, ctype=None, to=UPLOAD,
            type_="get", attrs=None):
    a = ""
    if filename is not None:
        a += " filename=%s" % quoteattr(filename)
    if size is not None:
        a += " size=%s" % quoteattr(str(size))
    if ctype is not None:
        a += " content-type=%s" % quoteattr(ctype)
    if attrs:
        a += attrs
    return c.iq(type_, "<request xmlns='%s'%s/>" % (NS, a), to=to)


class Slot:
    def __init__(self, iq):
        slot = iq.find(q(NS, "slot"))
        assert slot is not None, "no <slot/> in the result"
        put = slot.find(q(NS, "put"))
        get = slot.find(q(NS, "get"))
        assert put is not None and get is not None, "slot lacks put or get"
        self.put = put.get("url")
        self.get = get.get("url")
        assert self.put and self.get
        self.headers = [(h.get("name"), (h.text or ""))
                        for h in put.findall(q(NS, "header"))]


def slot(c, filename, size, ctype=None, **kw):
    r = request(c, filename, size, ctype, **kw)
    assert r.get("type") == "result", (stanza_error(r), _text(r))
    assert r.get("from") == kw.get("to", UPLOAD)
    return Slot(r)


def _error(iq):
    return iq.find(q(NS_CLIENT, "error"))


def _text(iq):
    err = _error(iq)
    if err is None:
        return None
    t = err.find(q(NS_STANZAS, "text"))
    return t.text if t is not None else None


def check_retry(iq):
    """A <retry/> is optional; when present its stamp MUST be XEP-0082
    date-time in UTC."""
    err = _error(iq)
    r = err.find(q(NS, "retry")) if err is not None else None
    if r is not None:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
                            r.get("stamp") or ""), r.get("stamp")


def url_parts(url, base):
    """(slot id, decoded filename, raw last segment) of a slot URL."""
    assert url.startswith(base + "/"), (url, base)
    rest = url[len(base) + 1:]
    sid, seg = rest.split("/", 1)
    assert "/" not in seg, "the filename is not one encoded path segment: %r" \
        % url
    return sid, unquote(seg), seg


# ---- HTTP side -------------------------------------------------------------

def _conn(url, timeout=30):
    u = urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(u.hostname, u.port or 443,
                                           timeout=timeout, context=ctx)
    return http.client.HTTPConnection(u.hostname, u.port or 80,
                                      timeout=timeout)


def _target(url):
    u = urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def req(method, url, body=None, headers=(), path=None, timeout=30):
    """One request; headers a list of (name, value) (repeats allowed).
    Returns (status, headers, body)."""
    c = _conn(url, timeout)
    try:
        c.putrequest(method, path or _target(url), skip_accept_encoding=True)
        names = {n.lower() for n, _ in headers}
        for n, v in headers:
            c.putheader(n, v)
        if body is not None and "content-length" not in names \
                and "transfer-encoding" not in names:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        return r.status, r.headers, data
    finally:
        c.close()


def put(s, data, ctype=None, headers=(), with_slot_headers=True):
    h = list(s.headers) if with_slot_headers else []
    if ctype is not None:
        h.append(("Content-Type", ctype))
    h += list(headers)
    return req("PUT", s.put, data, h)


def get(url, headers=(), method="GET"):
    return req(method, url, None, list(headers))


def raw_put(s, head, chunks, ctype=None, close_early=False, timeout=60):
    """A PUT on a socket: `head` extra header lines (the slot's headers and
    Content-Type are added), then every chunk of `chunks` as is.  Returns
    the status (None when the server closed without an answer)."""
    u = urlsplit(s.put)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    if u.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=u.hostname)
    lines = ["PUT %s HTTP/1.1" % _target(s.put), "Host: %s" % u.netloc]
    lines += ["%s: %s" % h for h in s.headers]
    if ctype is not None:
        lines.append("Content-Type: %s" % ctype)
    lines += head
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for ch in chunks:
            sock.sendall(ch)
        if close_early:
            sock.close()
            return None
    except OSError:
        pass            # answered (and closed) before the end: read it
    r = http.client.HTTPResponse(sock)
    try:
        r.begin()
        r.read()
        return r.status
    except (http.client.HTTPException, OSError):
        return None
    finally:
        sock.close()


def hv(headers, name):
    v = headers.get(name)
    return v if v is not None else ""


def files_under(root):
    return [p for p in Path(root).rglob("*") if p.is_file()]


def any_file_contains(root, payload):
    for p in files_under(root):
        try:
            if payload in p.read_bytes():
                return p
        except OSError:
            pass
    return None


def upload(c, filename, data, ctype=None):
    s = slot(c, filename, len(data), ctype)
    st, h, _ = put(s, data, ctype)
    assert st == 201, "PUT answered %d, not 201 Created" % st
    return s


def payload(n, tag=b""):
    return (tag + os.urandom(n))[:n]


# ---- disco -----------------------------------------------------------------

def test_disco_service_and_max_file_size(server_factory, passwords):
    """The server lists the service; the service has identity store/file,
    the feature, and (XEP-0128) max-file-size in bytes in a form whose
    FORM_TYPE is the namespace.  "5M" is 5 * 1024 * 1024 bytes."""
    srv = start(server_factory, **{"max-file-size": "5M"})
    c = client(srv, passwords)
    items = c.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS,
                 to="localhost")
    assert items.get("type") == "result"
    jids = [i.get("jid") for i in items.find(q(NS_DISCO_ITEMS, "query"))]
    assert UPLOAD in jids

    info = c.disco_info(UPLOAD)
    assert info.get("type") == "result", stanza_error(info)
    assert ("store", "file") in disco_identities(info)
    assert NS in disco_features(info)
    forms = info.find(q(NS_DISCO_INFO, "query")).findall(q(NS_DATA, "x"))
    ours = []
    for x in forms:
        fields = {f.get("var"): f for f in x.findall(q(NS_DATA, "field"))}
        ft = fields.get("FORM_TYPE")
        if ft is not None and ft.findtext(q(NS_DATA, "value")) == NS:
            assert x.get("type") == "result"
            assert ft.get("type") == "hidden"
            ours.append(fields)
    assert len(ours) == 1, "one XEP-0128 form with FORM_TYPE %s" % NS
    assert ours[0]["max-file-size"].findtext(q(NS_DATA, "value")) \
        == str(5 * 1024 * 1024)
    c.close()


# ---- slots -----------------------------------------------------------------

def test_slot_urls(server_factory, passwords):
    """A slot has a PUT and a GET URL: url-base/ID/encoded-filename, RFC
    3986 (non-ASCII percent-encoded), file name and ending kept, only the
    allowed header names, an unguessable id (>= 128 bits), distinct per
    slot."""
    srv = start(server_factory)
    base = "http://127.0.0.1:%d/upload" % srv.http_port
    c = client(srv, passwords)
    name = "très cool.jpg"
    s = slot(c, name, 23456, "image/jpeg")
    for url in (s.put, s.get):
        assert all(33 <= ord(ch) < 127 for ch in url), \
            "non-ASCII or space in %r" % url
        assert re.fullmatch(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", url)
        assert re.search(r"%(?![0-9A-Fa-f]{2})", url) is None
    pid, pname, pseg = url_parts(s.put, base)
    gid, gname, _ = url_parts(s.get, base)
    assert pid == gid and pname == gname == name
    assert pseg.endswith(".jpg")
    for n, _ in s.headers:
        assert n and n.lower() in ("authorization", "cookie", "expires"), n

    ids = {pid}
    for i in range(15):
        t = slot(c, "f%d.txt" % i, 10)
        ids.add(url_parts(t.put, base)[0])
    assert len(ids) == 16, "slot ids repeat"
    chars = set("".join(ids))
    if chars <= set("0123456789abcdef-") or chars <= set("0123456789ABCDEF-"):
        bits = 4
    elif chars <= set("abcdefghijklmnopqrstuvwxyz234567") or \
            chars <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"):
        bits = 5
    else:
        bits = 6
    for i in ids:
        n = len(i.replace("-", "")) if bits == 4 else len(i)
        assert n * bits >= 128, \
            "slot id %r is too short to be unguessable" % i
    c.close()


def test_special_characters_in_filenames(server_factory, passwords):
    """Reserved characters ('?', '#', space, '+', '&', ';') are
    percent-encoded in the URL and the file comes back under its name; a
    '%' is replaced by '_' (doc/modules/upload.md: the core refuses a '%'
    that still encodes after decoding)."""
    srv = start(server_factory)
    base = "http://127.0.0.1:%d/upload" % srv.http_port
    c = client(srv, passwords)
    problems = []
    for name in ("q?x=1#frag.txt", "100%.txt", "a%41.txt", "日本語.png",
                 "a b+c&d;e.txt"):
        data = payload(33)
        s = slot(c, name, len(data))
        sid, dec, seg = url_parts(s.get, base)
        assert "?" not in s.get and "#" not in s.get
        if dec != name.replace("%", "_"):
            problems.append("%r comes back as %r" % (name, dec))
        st, _, _ = put(s, data)
        if st != 201:
            problems.append("%r: PUT %s -> %d" % (name, s.put, st))
            continue
        st, _, body = get(s.get)
        if st != 200 or body != data:
            problems.append("%r: GET %s -> %d" % (name, s.get, st))
    assert not problems, problems
    c.close()


def test_slash_in_filename_is_replaced(server_factory, passwords):
    """A '/' in the file name becomes '_' in the URL (the core refuses an
    encoded '/', doc/modules/upload.md), and the file is stored inside the
    directory."""
    srv = start(server_factory)
    base = "http://127.0.0.1:%d/upload" % srv.http_port
    c = client(srv, passwords)
    data = payload(33)
    s = slot(c, "a/b c.txt", len(data))
    sid, dec, seg = url_parts(s.get, base)
    assert put(s, data)[0] == 201
    assert get(s.get)[:3:2] == (200, data)
    assert dec == "a_b c.txt", "the name comes back as %r" % dec
    c.close()


BAD_REQUESTS = [
    "size='10'",                                 # no filename
    "filename='' size='10'",                     # empty filename
    "filename='a.txt'",                          # no size
    "filename='a.txt' size=''",
    "filename='a.txt' size='-5'",
    "filename='a.txt' size='abc'",
    "filename='a.txt' size='1.5'",
    "filename='a.txt' size='10abc'",
    "filename='a.txt' size=' 10'",
]


def test_bad_request(server_factory, passwords):
    """filename and size MUST be present; size is a positive integer."""
    srv = start(server_factory)
    c = client(srv, passwords)
    for attrs in BAD_REQUESTS:
        r = c.iq("get", "<request xmlns='%s' %s/>" % (NS, attrs), to=UPLOAD)
        assert stanza_error(r) == ("modify", "bad-request"), \
            (attrs, stanza_error(r))
    c.close()


def test_edge_requests(server_factory, passwords):
    """A size past any integer is refused (bad-request or file-too-large),
    never a slot; an IQ-set is not a slot request; a zero size is either
    refused as bad-request (the schema's positiveInteger) or a working
    slot for an empty file."""
    srv = start(server_factory)
    c = client(srv, passwords)
    r = request(c, "a.txt", "99999999999999999999999999")
    assert r.get("type") == "error"
    assert stanza_error(r) in (("modify", "bad-request"),
                               ("modify", "not-acceptable"))
    r = request(c, "a.txt", 10, type_="set")
    assert r.get("type") == "error"
    assert r.find(q(NS, "slot")) is None
    r = request(c, "empty.txt", 0)
    if r.get("type") == "error":
        assert stanza_error(r) == ("modify", "bad-request")
    else:
        s = Slot(r)
        st, _, _ = put(s, b"")
        assert st == 201
        st, h, body = get(s.get)
        assert st == 200 and body == b""
    c.close()


def test_file_too_large(server_factory, passwords):
    """Over max-file-size: modify/not-acceptable with <file-too-large/>
    giving the maximum in bytes ("1K" = 1024).  At the maximum: a slot."""
    srv = start(server_factory, **{"max-file-size": "1K"})
    c = client(srv, passwords)
    r = request(c, "big.bin", 1025)
    assert stanza_error(r) == ("modify", "not-acceptable")
    ftl = _error(r).find(q(NS, "file-too-large"))
    assert ftl is not None, "no <file-too-large/>"
    assert ftl.findtext(q(NS, "max-file-size")) == "1024"
    assert r.find(q(NS, "slot")) is None
    Slot(request(c, "ok.bin", 1024))
    info = c.disco_info(UPLOAD)
    x = info.find(q(NS_DISCO_INFO, "query")).find(q(NS_DATA, "x"))
    vals = {f.get("var"): f.findtext(q(NS_DATA, "value"))
            for f in x.findall(q(NS_DATA, "field"))}
    assert vals["max-file-size"] == "1024"
    c.close()


def test_sizes_past_32_bits(server_factory, passwords):
    """Sizes with a G suffix are 1024^3 and sizes past 4 GiB are neither
    truncated nor wrapped; quota-total "0" is no total quota."""
    srv = start(server_factory, **{"max-file-size": "5G",
                                   "quota-per-user": "10G",
                                   "quota-total": "0"})
    c = client(srv, passwords)
    five = 5 * 1024 ** 3
    info = c.disco_info(UPLOAD)
    x = info.find(q(NS_DISCO_INFO, "query")).find(q(NS_DATA, "x"))
    vals = {f.get("var"): f.findtext(q(NS_DATA, "value"))
            for f in x.findall(q(NS_DATA, "field"))}
    assert vals["max-file-size"] == str(five)
    r = request(c, "huge.iso", five + 1)
    assert stanza_error(r) == ("modify", "not-acceptable")
    assert _error(r).find(q(NS, "file-too-large")).findtext(
        q(NS, "max-file-size")) == str(five)
    r = request(c, "wrap.iso", 2 ** 32 + 10)   # 10 after a 32-bit wrap
    assert r.get("type") == "result", stanza_error(r)
    s = Slot(r)
    st, _, _ = put(s, b"0123456789")
    assert st in (400, 413), "10 bytes for a 4 GiB slot: %d" % st
    assert Slot(request(c, "big.iso", five)).put
    c.close()


def test_allowed_types(server_factory, passwords):
    """allowed-types: listed types and wildcards pass (MIME types are
    case-insensitive, RFC 2045), others are modify/not-acceptable."""
    srv = start(server_factory, **{"allowed-types": "image/* text/plain"})
    c = client(srv, passwords)
    for t in ("image/png", "image/jpeg", "text/plain", "IMAGE/PNG"):
        r = request(c, "f", 10, t)
        assert r.get("type") == "result", (t, stanza_error(r))
    for t in ("text/html", "application/pdf", "imagex/png",
              "application/x-image"):
        r = request(c, "f", 10, t)
        assert stanza_error(r) == ("modify", "not-acceptable"), t
    c.close()


def test_quotas(server_factory, passwords):
    """Over the user's quota or the total: wait/resource-constraint, with
    a text saying which; other users are not held by one user's quota; a
    <retry/>, if any, has a UTC stamp."""
    srv = start(server_factory, **{"max-file-size": "2K",
                                   "quota-per-user": "2K",
                                   "quota-total": "3K"})
    a = client(srv, passwords, "alice")
    b = client(srv, passwords, "bob")
    cc = client(srv, passwords, "carol")
    upload(a, "a.bin", payload(1500))
    r = request(a, "a2.bin", 1000)                  # 2500 > 2048
    assert stanza_error(r) == ("wait", "resource-constraint")
    check_retry(r)
    user_text = _text(r)
    assert user_text, "the error text says which quota"
    upload(b, "b.bin", payload(1500))               # bob: own quota
    r = request(cc, "c.bin", 500)                   # total 3500 > 3072
    assert stanza_error(r) == ("wait", "resource-constraint")
    check_retry(r)
    total_text = _text(r)
    assert total_text and total_text != user_text, \
        "the texts of the two quotas are the same: %r" % total_text
    # Within both quotas: fine.
    Slot(request(cc, "c.bin", 50))
    for x in (a, b, cc):
        x.close()


def test_other_domain_forbidden(server_factory, passwords):
    """Users of another domain (a second host of the server, without its
    own upload service) may not use this host's service: auth/forbidden;
    local users may."""
    srv = start(server_factory, start_=False)
    srv.add_host("example.net", modules=("disco",))
    srv.start()
    srv.adduser("dave@example.net", "dave-secret")
    passwords = dict(passwords, dave="dave-secret")
    d = client(srv, passwords, "dave", domain="example.net")
    r = request(d, "x.txt", 10)
    assert stanza_error(r) == ("auth", "forbidden"), stanza_error(r)
    d.close()
    a = client(srv, passwords)
    Slot(request(a, "x.txt", 10))
    a.close()


# ---- PUT -------------------------------------------------------------------

def test_put_then_get(server_factory, passwords):
    """201 on PUT; GET and HEAD serve the bytes with Content-Length,
    nosniff, a CSP that blocks scripts, CORS; GET before the PUT is not
    served; anyone with the URL can GET; DELETE does not delete."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = payload(5000)
    s = slot(c, "photo.jpg", len(data), "image/jpeg")
    st, _, _ = get(s.get)
    assert st in (403, 404), "GET before the upload answered %d" % st
    st, h, _ = put(s, data, "image/jpeg")
    assert st == 201
    assert hv(h, "Access-Control-Allow-Origin") == "*"
    st, h, body = get(s.get)
    assert st == 200 and body == data
    assert hv(h, "Content-Length") == str(len(data))
    assert hv(h, "X-Content-Type-Options").lower() == "nosniff"
    csp = hv(h, "Content-Security-Policy")
    assert "sandbox" in csp or "default-src 'none'" in csp, csp
    assert hv(h, "Access-Control-Allow-Origin") == "*"
    st, h, body = get(s.get, method="HEAD")
    assert st == 200 and body == b""
    assert hv(h, "Content-Length") == str(len(data))
    for m in ("DELETE", "POST"):
        st, _, _ = req(m, s.get, b"")
        assert not 200 <= st < 300, "%s on the file answered %d" % (m, st)
    st, _, body = get(s.get)
    assert st == 200 and body == data
    c.close()


def test_put_length_must_match(server_factory, passwords):
    """The service MUST reject an upload whose Content-Length differs from
    the slot's size (400 or 413); the file is not served after it, nor
    after a body cut short."""
    srv = start(server_factory)
    c = client(srv, passwords)
    for n in (99, 101):
        s = slot(c, "f%d.txt" % n, 100, "text/plain")
        st, _, _ = put(s, payload(n), "text/plain")
        assert st in (400, 413), "%d bytes for a 100-byte slot: %d" % (n, st)
        st, _, _ = get(s.get)
        assert st != 200
    # Content-Length right, body cut short, connection closed.
    s = slot(c, "cut.txt", 1000, "text/plain")
    raw_put(s, ["Content-Length: 1000"], [payload(500)], "text/plain",
            close_early=True)
    time.sleep(0.3)
    st, _, _ = get(s.get)
    assert st != 200, "a truncated upload is served"
    c.close()


def test_put_content_type_must_match(server_factory, passwords):
    """A content-type given in the request: a PUT with another (or none)
    is rejected (400 or 415) and not served."""
    srv = start(server_factory)
    c = client(srv, passwords)
    s = slot(c, "p.png", 10, "image/png")
    st, _, _ = put(s, payload(10), "text/html")
    assert st in (400, 415), st
    st, _, _ = put(s, payload(10), None)
    assert st in (400, 415), st
    st, _, _ = get(s.get)
    assert st != 200
    data = payload(10)
    s = slot(c, "p2.png", 10, "image/png")
    st, _, _ = put(s, data, "image/png")
    assert st == 201
    assert get(s.get)[2] == data
    c.close()


def test_second_put_conflict(server_factory, passwords):
    """A slot takes one upload: a second PUT is 409 and the first bytes
    stay."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = payload(64)
    s = upload(c, "once.bin", data)
    st, _, _ = put(s, payload(64))
    assert st == 409
    st, _, body = get(s.get)
    assert st == 200 and body == data
    c.close()


def test_forged_urls(server_factory, passwords):
    """A PUT with an unknown id, or the right id and another file name, is
    refused (403/404) and does not use up the slot; GETs of unknown ids
    are 404."""
    srv = start(server_factory)
    base = "http://127.0.0.1:%d/upload" % srv.http_port
    c = client(srv, passwords)
    data = payload(20)
    s = slot(c, "real.txt", 20, "text/plain")
    sid, _, _ = url_parts(s.put, base)
    forged_id = sid[:-4] + ("aaaa" if not sid.endswith("aaaa") else "bbbb")
    h = list(s.headers) + [("Content-Type", "text/plain")]
    for url in ("%s/%s/real.txt" % (base, forged_id),
                "%s/%s/other.txt" % (base, sid),
                "%s/%s/real.txt" % (base, "0" * len(sid))):
        st, _, _ = req("PUT", url, data, h)
        assert st in (403, 404), (url, st)
        st, _, _ = get(url)
        if "other" in url:
            assert st in (403, 404), (url, st)
        else:
            assert st == 404, (url, st)
    st, _, _ = put(s, data, "text/plain")
    assert st == 201
    st, _, _ = get("%s/%s/real.txt" % (base, forged_id))
    assert st == 404
    st, _, _ = get("%s/%s/REAL.txt" % (base, sid))
    assert st in (403, 404)
    c.close()


def test_chunked_put(server_factory, passwords):
    """Transfer-Encoding: chunked with the slot's total size is accepted;
    a chunked body of another total is rejected and not served."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = payload(3000)

    def chunked(b, sizes):
        out, i = [], 0
        for n in sizes:
            out.append(b"%x\r\n%s\r\n" % (n, b[i:i + n]))
            i += n
        out.append(b"0\r\n\r\n")
        return out

    s = slot(c, "chunks.bin", len(data), "application/octet-stream")
    st = raw_put(s, ["Transfer-Encoding: chunked"],
                 chunked(data, (1000, 1, 999, 1000)),
                 "application/octet-stream")
    assert st == 201, st
    st, _, body = get(s.get)
    assert st == 200 and body == data
    for n in (2999, 3001):
        s = slot(c, "bad%d.bin" % n, 3000, "application/octet-stream")
        st = raw_put(s, ["Transfer-Encoding: chunked"],
                     chunked(payload(n), (1000, 1000, n - 2000)),
                     "application/octet-stream")
        assert st in (400, 413), (n, st)
        assert get(s.get)[0] != 200
    c.close()


def test_expect_100_continue(server_factory, passwords):
    """A PUT with Expect: 100-continue (curl, many HTTP libraries) gets
    100 Continue, then 201 for the body."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = payload(2000)
    s = slot(c, "cont.bin", len(data))
    u = urlsplit(s.put)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    head = ["PUT %s HTTP/1.1" % _target(s.put), "Host: %s" % u.netloc,
            "Content-Length: %d" % len(data), "Expect: 100-continue"]
    head += ["%s: %s" % h for h in s.headers]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    first = b""
    while b"\r\n\r\n" not in first:
        ch = sock.recv(4096)
        assert ch, "closed before 100 Continue"
        first += ch
    assert first.startswith(b"HTTP/1.1 100"), first[:100]
    sock.sendall(data)
    rest = first.split(b"\r\n\r\n", 1)[1]
    while b"\r\n" not in rest:
        ch = sock.recv(4096)
        if not ch:
            break
        rest += ch
    sock.close()
    assert rest.startswith(b"HTTP/1.1 201"), rest[:100]
    assert get(s.get)[:3:2] == (200, data)
    c.close()


def test_concurrent_puts_to_one_slot(server_factory, passwords):
    """Two PUTs to one slot at once: one 201, the other 409, and the file
    is the whole body of the one that won (no mix of both)."""
    srv = start(server_factory)
    c = client(srv, passwords)
    n = 4 * 1024 * 1024
    da, db = payload(n, b"A"), payload(n, b"B")
    s = slot(c, "race.bin", n, "application/octet-stream")
    u = urlsplit(s.put)
    a = socket.create_connection((u.hostname, u.port), timeout=30)
    head = ["PUT %s HTTP/1.1" % _target(s.put), "Host: %s" % u.netloc,
            "Content-Length: %d" % n,
            "Content-Type: application/octet-stream"]
    head += ["%s: %s" % h for h in s.headers]
    a.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + da[:n // 2])
    time.sleep(0.2)
    st_b = raw_put(s, ["Content-Length: %d" % n], [db],
                   "application/octet-stream")
    try:
        a.sendall(da[n // 2:])
    except OSError:
        pass
    r = http.client.HTTPResponse(a)
    try:
        r.begin()
        r.read()
        st_a = r.status
    except (http.client.HTTPException, OSError):
        st_a = None
    a.close()
    assert [st_a, st_b].count(201) == 1, (st_a, st_b)
    assert {st_a, st_b} - {201} <= {409, None}, (st_a, st_b)
    st, _, body = get(s.get)
    assert st == 200
    assert body == (da if st_a == 201 else db), "the file mixes both PUTs"
    c.close()


def test_no_header_injection(server_factory, passwords):
    """A content-type or file name with CR/LF never becomes a header of
    the GET answer: the request is refused, or the value is cleaned."""
    srv = start(server_factory)
    c = client(srv, passwords)
    evil_type = "text/plain&#13;&#10;Set-Cookie: evil=1"
    evil_name = "a&#13;&#10;Set-Cookie: evil=2&#13;&#10;.txt"
    data = b"hello"
    for attrs in ("filename='x.txt' size='5' content-type='%s'" % evil_type,
                  "filename='%s' size='5'" % evil_name):
        r = c.iq("get", "<request xmlns='%s' %s/>" % (NS, attrs), to=UPLOAD)
        if r.get("type") == "error":
            assert stanza_error(r)[0] == "modify", stanza_error(r)
            continue
        s = Slot(r)
        assert "\r" not in s.get and "\n" not in s.get
        ct = r"text/plain\r\nSet-Cookie: evil=1" if "evil=1" in attrs \
            else None
        if ct:
            # The exact type cannot go into an HTTP header: the server
            # may refuse any Content-Type; then nothing is stored.
            st, _, _ = put(s, data, "text/plain")
        else:
            st, _, _ = put(s, data)
        if st != 201:
            assert 400 <= st < 500
            continue
        for m in ("GET", "HEAD"):
            st, h, body = get(s.get, method=m)
            assert st == 200
            assert h.get("Set-Cookie") is None, "header injection: %s" % h
            for k, v in h.items():
                assert "\r" not in v and "\n" not in v, (k, v)
    c.close()


def test_long_filename(server_factory, passwords):
    """A file name longer than a file system allows (300 bytes) is either
    refused (a modify error) or stored and served under its URL."""
    srv = start(server_factory)
    c = client(srv, passwords)
    name = "n" * 296 + ".txt"
    r = request(c, name, 4)
    if r.get("type") == "error":
        assert stanza_error(r)[0] == "modify"
    else:
        s = Slot(r)
        assert put(s, b"long")[0] == 201
        assert get(s.get)[:3:2] == (200, b"long")
    c.close()


def test_slot_ttl_expiry_and_quota_release(server_factory, passwords):
    """slot-ttl: a slot not used in time is refused (403/404/410).
    expire-after: the file is gone (404, off the disk) after it, and the
    user's quota is free again."""
    srv = start(server_factory, **{"max-file-size": "1K",
                                   "quota-per-user": "1K",
                                   "expire-after": "2", "slot-ttl": "2"})
    c = client(srv, passwords)
    data = payload(800, b"EXPIRE-ME-")
    s = upload(c, "short.bin", data)
    t0 = time.monotonic()
    assert any_file_contains(srv.dir / "data" / "upload", data), \
        "the file is not in <data>/upload (option path's default)"
    assert get(s.get)[0] == 200
    late = slot(c, "late.bin", 100)
    t_late = time.monotonic()
    r = request(c, "more.bin", 300)
    assert stanza_error(r) == ("wait", "resource-constraint")
    while time.monotonic() < t0 + 5:
        if get(s.get)[0] == 404:
            break
        time.sleep(0.25)
    assert get(s.get)[0] == 404, "file still served 5 s after expire-after=2"
    time.sleep(max(0, t_late + 3.5 - time.monotonic()))
    st, _, _ = put(late, payload(100))
    assert st in (403, 404, 410), "PUT after slot-ttl answered %d" % st
    assert any_file_contains(srv.dir / "data" / "upload", data) is None, \
        "the expired file is still on disk"
    Slot(request(c, "more.bin", 900))
    c.close()


# ---- GET -------------------------------------------------------------------

ACTIVE = [
    ("evil.html", "text/html"),
    ("evil.html", None),
    ("evil.svg", "image/svg+xml"),
    ("evil.xml", "application/xml"),
    ("evil.js", "text/javascript"),
    ("evil.xhtml", "application/xhtml+xml"),
]


def test_active_content_is_an_attachment(server_factory, passwords):
    """Uploaded HTML, SVG, XML, scripts are served as attachments, with
    nosniff and a CSP blocking scripts; never as text/html to be rendered
    (a .html uploaded without a type is not given text/html)."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = b"<html><script>alert(document.cookie)</script></html>"
    for name, ctype in ACTIVE:
        s = upload(c, name, data, ctype)
        for method in ("GET", "HEAD"):
            st, h, body = get(s.get, method=method)
            assert st == 200 and body == (data if method == "GET" else b"")
            assert hv(h, "Content-Disposition").lower().startswith(
                "attachment"), (name, ctype, method,
                                hv(h, "Content-Disposition"))
            assert hv(h, "X-Content-Type-Options").lower() == "nosniff"
            csp = hv(h, "Content-Security-Policy")
            assert "sandbox" in csp or "default-src 'none'" in csp, csp
            if ctype is None:
                assert not hv(h, "Content-Type").lower().startswith(
                    "text/html"), (name, hv(h, "Content-Type"))
    c.close()


def test_range_requests(server_factory, passwords):
    """Range: 206 with Content-Range and those bytes; past the end, 416."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = payload(100)
    s = upload(c, "r.bin", data, "application/octet-stream")
    st, h, body = get(s.get, [("Range", "bytes=10-19")])
    assert st == 206
    assert hv(h, "Content-Range") == "bytes 10-19/100"
    assert body == data[10:20]
    assert hv(h, "Content-Length") == "10"
    st, h, body = get(s.get, [("Range", "bytes=90-")])
    assert (st, body) in ((206, data[90:]), (200, data))
    st, _, _ = get(s.get, [("Range", "bytes=100-200")])
    assert st == 416
    c.close()


def test_cors(server_factory, passwords):
    """A browser's preflight for the PUT is allowed (methods include PUT,
    headers include Content-Type); GET and PUT answers carry
    Access-Control-Allow-Origin: *."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = payload(10)
    s = slot(c, "cors.txt", 10, "text/plain")
    st, h, _ = req("OPTIONS", s.put, None, [
        ("Origin", "https://web.example"),
        ("Access-Control-Request-Method", "PUT"),
        ("Access-Control-Request-Headers", "content-type")])
    assert 200 <= st < 300, st
    methods = [m.strip().upper() for m in
               hv(h, "Access-Control-Allow-Methods").split(",")]
    assert "PUT" in methods
    hdrs = [x.strip().lower() for x in
            hv(h, "Access-Control-Allow-Headers").split(",")]
    assert "content-type" in hdrs or "*" in hdrs
    assert hv(h, "Access-Control-Allow-Origin") == "*"
    st, h, _ = put(s, data, "text/plain",
                   headers=[("Origin", "https://web.example")])
    assert st == 201 and hv(h, "Access-Control-Allow-Origin") == "*"
    st, h, _ = get(s.get, [("Origin", "https://web.example")])
    assert st == 200 and hv(h, "Access-Control-Allow-Origin") == "*"
    c.close()


def test_path_tricks(server_factory, passwords):
    """Dot segments, encoded slashes and '../' file names never reach a
    file outside the upload directory (400/403/404)."""
    srv = start(server_factory)
    base = "http://127.0.0.1:%d/upload" % srv.http_port
    c = client(srv, passwords)
    secret = (srv.dir / "ember.xml").read_bytes()
    s = upload(c, "ok.txt", b"fine")
    sid, _, _ = url_parts(s.get, base)
    paths = [
        "/upload/../ember.xml", "/upload/%2e%2e/ember.xml",
        "/upload/%2e%2e/%2e%2e/ember.xml", "/upload/%2E%2E%2Fember.xml",
        "/upload/..%2f..%2fember.xml", "/upload/..%2F..%2F..%2Fember.xml",
        "/upload/%s/..%%2f..%%2f..%%2fember.xml" % sid,
        "/upload/%s/%%2e%%2e/%%2e%%2e/ember.xml" % sid,
        "/upload/%s/../../ember.xml" % sid,
        "/upload/%s%%2f..%%2f..%%2f..%%2fember.xml" % sid,
        "/upload/%2e%2e/ember.db", "/upload/%2e%2e/data/ember.db",
        "/upload/..%5c..%5cember.xml", "/upload/%00/ember.xml",
        "/upload//etc/passwd", "/upload/%2fetc%2fpasswd",
    ]
    for p in paths:
        st, _, body = req("GET", base, path=p)
        assert st in (400, 403, 404), (p, st)
        assert secret not in body and b"root:" not in body
        st, _, _ = req("PUT", base, b"x", [("Content-Type", "text/plain")],
                       path=p)
        assert st in (400, 403, 404, 405), ("PUT", p, st)
    # A file name with dot segments is stored inside the directory.
    marker = "escape-%s.txt" % os.urandom(4).hex()
    data = payload(40, b"ESCAPE-")
    for name in ("../../" + marker, "../" + marker, ".."):
        r = request(c, name, len(data))
        if r.get("type") == "error":
            assert stanza_error(r) == ("modify", "bad-request")
            continue
        t = Slot(r)
        st, _, _ = put(t, data)
        assert st in (201, 400, 403)
        if st == 201:
            st, _, body = get(t.get)
            assert st == 200 and body == data
    updir = (srv.dir / "data" / "upload").resolve()
    for p in files_under(srv.root):
        if updir in p.resolve().parents:
            continue
        assert marker not in p.name, "escaped: %s" % p
        if p.suffix not in (".db", ".log") and "-wal" not in p.name:
            assert data not in p.read_bytes(), "escaped: %s" % p
    c.close()


# ---- default configuration -------------------------------------------------

def test_defaults(server_factory, passwords):
    """Without options: max-file-size 100M = 104857600 bytes, on
    upload.localhost; the URLs are on the server's HTTPS listener (the
    spec: the host MUST provide TLS) and work; without an https listener
    they are http://localhost:<http port>/upload/..."""
    srv = server_factory(start=False)
    srv.add_module("upload")
    srv.start()
    loaded(srv)
    c = client(srv, passwords)
    info = c.disco_info(UPLOAD)
    x = info.find(q(NS_DISCO_INFO, "query")).find(q(NS_DATA, "x"))
    vals = {f.get("var"): f.findtext(q(NS_DATA, "value"))
            for f in x.findall(q(NS_DATA, "field"))}
    assert vals["max-file-size"] == str(100 * 1024 * 1024)
    s = slot(c, "d.txt", 5)
    for url in (s.put, s.get):
        u = urlsplit(url)
        assert u.scheme == "https" and u.port == srv.https_port, url
        assert u.path.startswith("/upload/")
    st, _, _ = put(s, b"hello")
    assert st == 201
    assert get(s.get)[:3:2] == (200, b"hello")
    c.close()

    for el in srv.cfg.findall("listen"):
        if el.get("type") == "https":
            srv.cfg.remove(el)
    srv.restart()
    loaded(srv)
    c = client(srv, passwords)
    s = slot(c, "e.txt", 5)
    for url in (s.put, s.get):
        u = urlsplit(url)
        assert (u.scheme, u.hostname, u.port) == \
            ("http", "localhost", srv.http_port), url
        assert u.path.startswith("/upload/")
    assert put(s, b"world")[0] == 201
    assert get(s.get)[:3:2] == (200, b"world")
    c.close()


# ---- persistence -----------------------------------------------------------

def test_files_survive_restart(server_factory, passwords):
    """An uploaded file is served after a restart, its slot is still used
    up, and it still counts in the user's quota."""
    srv = start(server_factory, **{"max-file-size": "1K",
                                   "quota-per-user": "1K"})
    c = client(srv, passwords)
    data = payload(777)
    s = upload(c, "keep.bin", data)
    c.close()
    srv.restart()
    loaded(srv)
    st, _, body = get(s.get)
    assert st == 200 and body == data
    assert put(s, payload(777))[0] == 409
    c = client(srv, passwords)
    r = request(c, "more.bin", 300)
    assert stanza_error(r) == ("wait", "resource-constraint"), \
        "the quota forgot the file across the restart"
    Slot(request(c, "more.bin", 200))
    c.close()


def test_expired_while_stopped(server_factory, passwords):
    """A file whose time ran out while emberd was stopped is not served
    after the start, and is purged."""
    srv = start(server_factory, **{"expire-after": "2"})
    c = client(srv, passwords)
    data = payload(500, b"EXPIRED-OFFLINE-")
    s = upload(c, "gone.bin", data)
    c.close()
    srv.stop()
    time.sleep(2.5)
    srv.start()
    loaded(srv)
    deadline = time.monotonic() + 2
    while get(s.get)[0] != 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert get(s.get)[0] == 404
    deadline = time.monotonic() + 2
    while any_file_contains(srv.dir / "data" / "upload", data) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert any_file_contains(srv.dir / "data" / "upload", data) is None


def test_pending_slots_survive_restart(server_factory, passwords):
    """A slot requested but not yet used can be used after a restart
    (within its slot-ttl), once."""
    srv = start(server_factory)
    c = client(srv, passwords)
    pending = slot(c, "later.txt", 11, "text/plain")
    c.close()
    srv.restart()
    loaded(srv)
    assert put(pending, b"hello world", "text/plain")[0] == 201
    assert get(pending.get)[:3:2] == (200, b"hello world")
    assert put(pending, b"hello world", "text/plain")[0] == 409


def test_quota_holds_across_pending_slots(server_factory, passwords):
    """Two slots that each fit the quota but not together: the quota is
    not passed (the second request, or the second PUT, is refused)."""
    srv = start(server_factory, **{"max-file-size": "1K",
                                   "quota-per-user": "1K"})
    c = client(srv, passwords)
    r1 = request(c, "one.bin", 800)
    s1 = Slot(r1)
    r2 = request(c, "two.bin", 800)
    if r2.get("type") == "error":
        assert stanza_error(r2) == ("wait", "resource-constraint")
        assert put(s1, payload(800))[0] == 201
    else:
        s2 = Slot(r2)
        sts = [put(s1, payload(800))[0], put(s2, payload(800))[0]]
        assert sts.count(201) == 1, \
            "1600 bytes stored on a 1 KiB quota: %s" % sts
    c.close()


def test_uploads_larger_than_the_http_buffers(server_factory, passwords):
    """Uploads are not bound by the core's HTTP body limits (http-max-body
    1 MiB, http-buffer-per-ip 8 MiB): 12 MiB with Content-Length and
    chunked."""
    srv = start(server_factory)
    c = client(srv, passwords)
    data = os.urandom(12 * 1024 * 1024)
    s = upload(c, "twelve.bin", data, "application/octet-stream")
    st, h, body = get(s.get)
    assert st == 200 and body == data
    s = slot(c, "twelve-chunked.bin", len(data))
    step = 256 * 1024
    chunks = [b"%x\r\n%s\r\n" % (step, data[i:i + step])
              for i in range(0, len(data), step)] + [b"0\r\n\r\n"]
    st = raw_put(s, ["Transfer-Encoding: chunked"], chunks)
    assert st == 201, st
    st, h, body = get(s.get)
    assert st == 200 and body == data
    c.close()


# ---- admin commands (ADAPT the names at the top of the file) ---------------

def ctl_json(srv, *args):
    return json.loads(srv.ctl_ok("--json", *args).stdout)


def files_of(res):
    if isinstance(res, dict):
        for k in K_FILES:
            if isinstance(res.get(k), list):
                return res[k]
        raise AssertionError("no list of files in %r" % res)
    return res


def usage_of(res):
    """({owner: bytes}, total) from upload-usage's result."""
    users, total = None, None
    for k in K_TOTAL:
        if isinstance(res.get(k), int):
            total = res[k]
            break
    for k in K_USERS:
        v = res.get(k)
        if isinstance(v, dict):
            users = {u: (b if isinstance(b, int) else
                         next(b[x] for x in K_BYTES if x in b))
                     for u, b in v.items()}
        elif isinstance(v, list):
            users = {}
            for e in v:
                u = next(e[x] for x in K_USER if x in e)
                users[u] = next(e[x] for x in K_BYTES if x in e)
        if users is not None:
            break
    assert users is not None and total is not None, res
    return users, total


def test_admin_commands(server_factory, passwords):
    """upload-list (all, or one owner's), upload-usage (per user and
    total), upload-delete (the file answers 404, the quota is back)."""
    srv = start(server_factory, **{"max-file-size": "1K",
                                   "quota-per-user": "1K"})
    base = "http://127.0.0.1:%d/upload" % srv.http_port
    a = client(srv, passwords, "alice")
    b = client(srv, passwords, "bob")
    sa = upload(a, "a.txt", payload(1000), "text/plain")
    sb = upload(b, "b.png", payload(200), "image/png")
    ida = url_parts(sa.get, base)[0]
    idb = url_parts(sb.get, base)[0]

    files = files_of(ctl_json(srv, CMD_LIST))
    by_id = {f[K_ID]: f for f in files}
    assert set(by_id) == {ida, idb}, files
    fa = by_id[ida]
    assert fa[K_OWNER] == "alice@localhost" and fa[K_NAME] == "a.txt"
    assert int(fa[K_SIZE]) == 1000 and fa[K_TYPE] == "text/plain"
    assert fa.get(K_CREATED)
    assert by_id[idb][K_OWNER] == "bob@localhost"
    only = files_of(ctl_json(srv, CMD_LIST, ARG_USER % "alice@localhost"))
    assert [f[K_ID] for f in only] == [ida]

    users, total = usage_of(ctl_json(srv, CMD_USAGE))
    assert users.get("alice@localhost") == 1000
    assert users.get("bob@localhost") == 200
    assert total == 1200

    r = request(a, "more.txt", 100)
    assert stanza_error(r) == ("wait", "resource-constraint")
    srv.ctl_ok(CMD_DELETE, ARG_ID % ida)
    assert get(sa.get)[0] == 404
    assert get(sb.get)[0] == 200
    assert [f[K_ID] for f in files_of(ctl_json(srv, CMD_LIST))] == [idb]
    users, total = usage_of(ctl_json(srv, CMD_USAGE))
    assert users.get("alice@localhost", 0) == 0 and total == 200
    Slot(request(a, "more.txt", 100))
    assert srv.ctl(CMD_DELETE, ARG_ID % ("0" * len(ida))).returncode != 0
    a.close()
    b.close()


def test_deleted_account_loses_its_files(server_factory, passwords):
    """deluser deletes the account's files (the bytes too, in the
    directory of the option path), not others'."""
    srv = start(server_factory, path="store")
    a = client(srv, passwords, "alice")
    b = client(srv, passwords, "bob")
    da = payload(300, b"ALICE-FILE-")
    sa = upload(a, "mine.bin", da)
    sb = upload(b, "bobs.bin", payload(300))
    assert any_file_contains(srv.dir / "data" / "store", da), \
        "the file is not in <data>/store (option path)"
    a.close()
    srv.ctl_ok("deluser", "alice@localhost")
    assert get(sa.get)[0] == 404
    assert get(sb.get)[0] == 200
    assert any_file_contains(srv.dir / "data" / "store", da) is None
    # ADAPT (admin JSON): the bytes left are bob's.
    users, total = usage_of(ctl_json(srv, CMD_USAGE))
    assert users.get("alice@localhost", 0) == 0 and total == 300
    b.close()


# ---- memory ----------------------------------------------------------------

@pytest.mark.slow
def test_large_upload_is_streamed(server_factory, passwords):
    """A 200 MiB PUT (and its GET) goes through without emberd holding it:
    RSS grows by less than 30 MiB."""
    size = 200 * 1024 * 1024
    srv = start(server_factory, **{"max-file-size": "300M",
                                   "quota-per-user": "1G"})
    c = client(srv, passwords)
    s = slot(c, "big.bin", size, "application/octet-stream")
    block = os.urandom(1024 * 1024)
    want = hashlib.sha256()
    for _ in range(200):
        want.update(block)
    base_rss = srv.rss_kib()
    peak = [base_rss]

    def blocks():
        for i in range(200):
            if i % 8 == 0:
                peak[0] = max(peak[0], srv.rss_kib())
            yield block

    st = raw_put(s, ["Content-Length: %d" % size], blocks(),
                 "application/octet-stream", timeout=120)
    peak[0] = max(peak[0], srv.rss_kib())
    assert st == 201, st
    assert (peak[0] - base_rss) < 30 * 1024, \
        "RSS grew by %d KiB during the upload" % (peak[0] - base_rss)

    u = urlsplit(s.get)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("GET", _target(s.get))
    r = conn.getresponse()
    assert r.status == 200
    assert r.headers.get("Content-Length") == str(size)
    got = hashlib.sha256()
    n = 0
    while True:
        ch = r.read(1024 * 1024)
        if not ch:
            break
        got.update(ch)
        n += 1
        if n % 8 == 0:
            peak[0] = max(peak[0], srv.rss_kib())
    conn.close()
    assert got.hexdigest() == want.hexdigest()
    assert (peak[0] - base_rss) < 30 * 1024, \
        "RSS grew by %d KiB during the download" % (peak[0] - base_rss)
    c.close()
