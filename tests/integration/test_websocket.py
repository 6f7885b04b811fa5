"""XMPP over WebSocket (RFC 7395) at /xmpp-websocket: the framing, one
stream machinery with TCP (SASL, limits, the login throttle), and hostile
framing.  The client is python3-websocket (websocket-client) speaking
XMPP by hand."""

import base64
import os
import re
import socket
import time
import xml.etree.ElementTree as ET

import pytest
import websocket

from rawxmpp import NS_CLIENT, RawClient, Scram, q
from test_http import WS
from test_shaping import flood_rate

NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_XSTREAM = "urn:ietf:params:xml:ns:xmpp-streams"
OPEN = "<open xmlns='%s' to='localhost' version='1.0'/>" % NS_FRAMING


class WsClient:
    def __init__(self, srv, port=None, protocols=("xmpp",), host="127.0.0.1"):
        self.ws = websocket.create_connection(
            "ws://%s:%d/xmpp-websocket" % (host, port or srv.http_port),
            subprotocols=list(protocols), timeout=10)

    def send(self, text):
        self.ws.send(text)

    def recv(self):
        """The next message as an element (each is a document)."""
        op, data = self.ws.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            return None
        return ET.fromstring(data.decode())

    def open(self):
        self.send(OPEN)
        opened = self.recv()
        assert opened.tag == q(NS_FRAMING, "open"), opened.tag
        feats = self.recv()
        assert feats.tag == q(NS_STREAMS, "features")
        return opened, feats

    def scram(self, user, password):
        s = Scram("SCRAM-SHA-1", user, password)
        self.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>%s</auth>"
                  % (NS_SASL, base64.b64encode(s.first()).decode()))
        ch = self.recv()
        if ch.tag != q(NS_SASL, "challenge"):
            return ch
        self.send("<response xmlns='%s'>%s</response>" % (NS_SASL,
                  base64.b64encode(s.final(base64.b64decode(
                      ch.text))).decode()))
        return self.recv()

    def login(self, user, password, resource="web"):
        self.open()
        assert self.scram(user, password).tag == q(NS_SASL, "success")
        self.open()
        self.send("<iq type='set' id='b' xmlns='jabber:client'><bind "
                  "xmlns='%s'><resource>%s</resource></bind></iq>"
                  % (NS_BIND, resource))
        r = self.recv()
        return r.find(".//{%s}jid" % NS_BIND).text

    def close(self):
        self.ws.close()


def test_login_chat_and_close(server, passwords):
    """RFC 7395 3.3-3.6: <open/> answered with <open/> and features, each
    message one element with its namespaces declared, SASL and bind as on
    TCP, a stanza to a TCP client and back, <close/> answered in kind."""
    w = WsClient(server)
    opened, feats = w.open()
    assert opened.get("from") == "localhost" and opened.get("version") == \
        "1.0" and opened.get("id")
    mechs = [m.text for m in feats.iter(q(NS_SASL, "mechanism"))]
    assert "SCRAM-SHA-1" in mechs
    assert w.scram("alice", passwords["alice"]).tag == q(NS_SASL, "success")
    w.open()
    w.send("<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='%s'>"
           "<resource>web</resource></bind></iq>" % NS_BIND)
    r = w.recv()
    assert r.tag == q(NS_CLIENT, "iq") and r.get("type") == "result"
    assert r.find(".//{%s}jid" % NS_BIND).text == "alice@localhost/web"
    w.send("<presence xmlns='jabber:client'/>")
    b = RawClient(server.c2s_port, domain=server.domain)
    b.login("bob", passwords["bob"])
    b.message("alice@localhost/web", "hello over TCP")
    m = w.recv()
    while m.tag != q(NS_CLIENT, "message"):
        m = w.recv()
    assert m.findtext(q(NS_CLIENT, "body")) == "hello over TCP"
    w.send("<message xmlns='jabber:client' to='%s' type='chat'><body>hi "
           "from a browser</body></message>" % b.jid)
    got = b.recv(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert got.findtext(q(NS_CLIENT, "body")) == "hi from a browser"
    assert got.get("from") == "alice@localhost/web"
    # The session is listed with its transport.
    import json
    by = {x["jid"]: x for x in json.loads(
        server.ctl_ok("--json", "sessions").stdout)}
    assert by["alice@localhost/web"]["transport"] == "websocket"
    assert by[b.jid]["transport"] == "c2s"
    w.send("<close xmlns='%s'/>" % NS_FRAMING)
    c = w.recv()
    assert c is not None and c.tag == q(NS_FRAMING, "close")
    assert w.recv() is None          # then the close frame
    b.close()


def test_subprotocol_is_required(server):
    """RFC 7395 3.1: no xmpp subprotocol, no XMPP."""
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        WsClient(server, protocols=())
    assert e.value.status_code == 400
    w = WsClient(server, protocols=("chat", "xmpp"))
    assert w.ws.getsubprotocol() == "xmpp"
    w.close()


def stream_error(w):
    el = w.recv()
    while el is not None and el.tag != q(NS_STREAMS, "error"):
        el = w.recv()
    assert el is not None, "no stream error"
    cond = [c.tag.split("}")[1] for c in el if c.tag.startswith(
        "{%s}" % NS_XSTREAM) and not c.tag.endswith("text")]
    after = w.recv()
    assert after is not None and after.tag == q(NS_FRAMING, "close")
    return cond[0]


@pytest.mark.parametrize("bad, cond", [
    ("<open xmlns='%s' to='localhost' version='1.0'/><x/>" % NS_FRAMING,
     "bad-format"),
    ("<opening xmlns='%s'/>" % NS_FRAMING, "bad-format"),
    ("<message xmlns='jabber:client'><body>before open</body></message>",
     None),
])
def test_bad_framing_is_a_stream_error(server, bad, cond):
    w = WsClient(server)
    w.send(bad)
    got = stream_error(w)
    if cond is not None:
        assert got == cond
    w.close()


def test_binary_and_oversize_messages(server_factory, passwords):
    srv = server_factory(start=False)
    srv.set_limits(max_stanza_size="4096")
    srv.start()
    w = WsClient(srv)
    w.open()
    w.ws.send_binary(b"<presence/>")
    assert stream_error(w) == "bad-format"
    w = WsClient(srv)
    w.login("alice", passwords["alice"])
    w.send("<message xmlns='jabber:client' to='bob@localhost'><body>%s"
           "</body></message>" % ("x" * 8000))
    assert stream_error(w) == "policy-violation"
    # The server carries on.
    w = WsClient(srv)
    assert w.login("alice", passwords["alice"]) == "alice@localhost/web"
    w.close()


def test_wrong_passwords_meet_the_same_throttle(server_factory):
    """One login throttle for every door: failures over WebSocket are
    logged like TCP's, named by their transport, for fail2ban."""
    srv = server_factory(start=False)
    srv.start()
    for _ in range(2):
        w = WsClient(srv)
        w.open()
        r = w.scram("alice", "wrong")
        assert r.tag == q(NS_SASL, "failure")
        w.close()
    assert re.search(r"authentication failed from 127\.0\.0\.1 for "
                     r"alice@localhost \(websocket SCRAM-SHA-1\)", srv.log()), \
        srv.log()[-2000:]


def test_no_passwords_in_clear_off_loopback(server_factory, passwords):
    """A plain ws:// connection from another address offers no PLAIN and
    takes no credentials at all (nothing to listen in on); TLS or a proxy
    on the same machine is how browsers come in."""
    from test_console_api import own_address
    addr = own_address()
    srv = server_factory(start=False)
    srv.add_listener("http", srv.base + 9, address="0.0.0.0")
    srv.start()
    w = WsClient(srv, port=srv.base + 9, host=addr)
    _, feats = w.open()
    mechs = [m.text for m in feats.iter(q(NS_SASL, "mechanism"))]
    assert "PLAIN" not in mechs
    r = w.scram("alice", passwords["alice"])
    assert r.tag != q(NS_SASL, "success")
    w.close()


def test_host_meta_announces_the_websocket(server):
    """XEP-0156: a browser client that knows only the domain finds the
    WebSocket endpoint, from any origin (CORS)."""
    import http.client
    import json
    port = server.http_port
    for path, kind in (("/.well-known/host-meta", "xrd"),
                       ("/.well-known/host-meta.json", "json")):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path, headers={"Host": "localhost:%d" % port,
                                        "Origin": "https://app.example"})
        r = c.getresponse()
        body = r.read().decode()
        assert r.status == 200
        assert r.getheader("Access-Control-Allow-Origin") == "*"
        href = "ws://localhost:%d/xmpp-websocket" % port
        if kind == "json":
            links = json.loads(body)["links"]
            assert {"rel": "urn:xmpp:alt-connections:websocket",
                    "href": href} in links
        else:
            x = ET.fromstring(body)
            link = x.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
            assert link.get("href") == href
        c.close()
    # The advertised URL works.
    w = WsClient(server)
    w.open()
    w.close()


def test_allowed_origins(server_factory):
    """<listen allowed-origins>: browsers of other origins are refused
    (403) on WebSocket and BOSH; clients that send no Origin are not
    browsers and go through."""
    from test_bosh import NS as NS_BOSH
    import http.client
    srv = server_factory(start=False)
    port = srv.base + 9
    srv.add_listener("http", port).set("allowed-origins",
                                       "https://chat.example.org")
    srv.start()
    url = "ws://127.0.0.1:%d/xmpp-websocket" % port
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(url, subprotocols=["xmpp"],
                                    origin="https://evil.example")
    assert e.value.status_code == 403
    for origin in ("https://chat.example.org", None):
        w = websocket.create_connection(url, subprotocols=["xmpp"],
                                        origin=origin, suppress_origin=origin
                                        is None)
        w.send(OPEN)
        assert ET.fromstring(w.recv()).tag == q(NS_FRAMING, "open")
        w.close()
    body = "<body xmlns='%s' rid='1' to='localhost' wait='5' hold='1'/>" \
        % NS_BOSH
    for origin, status in (("https://evil.example", 403),
                           ("https://chat.example.org", 200)):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/http-bind", body=body,
                  headers={"Origin": origin, "Content-Type": "text/xml"})
        r = c.getresponse()
        r.read()
        assert r.status == status, origin
        c.close()


def test_oversize_frame_closes(server_factory, passwords):
    """A message over <limits http-max-body> is refused by the framing
    layer (close 1009) before any XML is parsed; others carry on."""
    srv = server_factory(start=False)
    srv.set_limits(http_max_body="65536")
    srv.start()
    w = WsClient(srv)
    w.open()
    w.send("<presence xmlns='jabber:client'>%s</presence>" % (" " * 200000))
    op = None
    try:
        while True:
            op, data = w.ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
    except (websocket.WebSocketConnectionClosedException, OSError):
        op = websocket.ABNF.OPCODE_CLOSE
    assert op == websocket.ABNF.OPCODE_CLOSE
    w2 = WsClient(srv)
    assert w2.login("alice", passwords["alice"]) == "alice@localhost/web"
    w2.close()


def test_websocket_streams_are_shaped(server_factory, passwords):
    """The listener's rate holds a WebSocket stream as it holds TCP ones
    (issue 15: the same shapers as TCP)."""
    rate, burst = 8192, 16384
    srv = server_factory(start=False)
    for lis in srv.cfg.iter("listen"):
        if lis.get("type") == "http":
            lis.set("rate", str(rate))
            lis.set("burst", str(burst))
    srv.start()
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    bob.presence()
    w = WsClient(srv)
    w.login("alice", passwords["alice"])
    got = flood_rate(bob, w.send, w.ws.sock.close, burst=burst)
    assert got < rate * 1.5, got
    assert got > rate * 0.3, got
    bob.close()


# ---- RFC 6455 framing, frame by frame ----

class RawWs(WS):
    """test_http's RFC 6455 client at /xmpp-websocket, for the frames
    websocket-client will not send: unmasked, fragmented with a control
    frame between, split anywhere, reserved bits and opcodes."""

    def __init__(self, srv):
        super().__init__(srv.http_port, "/xmpp-websocket", "xmpp")
        assert self.status == 101
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @staticmethod
    def frame(opcode, payload, fin=True, mask=True, rsv=0, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([m | 127]) + n.to_bytes(8, "big")
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4]
                                  for i, b in enumerate(payload))

    def send(self, opcode, payload, **kw):
        self.s.sendall(self.frame(opcode, payload, **kw))

    def element(self):
        op, data = self.recv()
        assert op == 1, (op, data)
        return ET.fromstring(data.decode())

    def close_code(self):
        """The status code of the server's close frame, once the
        connection ended after it."""
        op, data = self.recv()
        while op not in (8, None):
            op, data = self.recv()
        assert op == 8, "no close frame"
        assert self.f.read() == b""
        return int.from_bytes(data[:2], "big") if data else None


def opened(ws):
    assert ws.element().tag == q(NS_FRAMING, "open")
    assert ws.element().tag == q(NS_STREAMS, "features")


def test_fragments_and_control_frames_between(server):
    """RFC 6455 5.4/5.5: a message in fragments, with a ping between two
    of them answered at once by a pong carrying its payload; a frame split
    across reads, down to one byte at a time; a message of 70,000 bytes
    (64-bit length) and one over several fragments of 16-bit lengths."""
    ws = RawWs(server)
    ws.send(1, OPEN[:10], fin=False)
    ws.send(9, b"x" * 125)
    assert ws.recv() == (10, b"x" * 125)
    ws.send(10, b"unasked")                      # a pong: nothing answers
    ws.send(0, OPEN[10:30], fin=False)
    ws.send(0, OPEN[30:])
    opened(ws)
    ws.send(1, "  ")                             # a keepalive (RFC 7395)
    ws.send(9, b"")
    assert ws.recv() == (10, b"")
    # Each stream opens once: a new connection for each way of framing.
    ws = RawWs(server)
    for b in RawWs.frame(1, " " + OPEN):         # one byte a write
        ws.s.send(bytes([b]))
        time.sleep(0.002)
    opened(ws)
    big = OPEN[:-2] + " " * 70000 + "/>"
    ws = RawWs(server)
    ws.send(1, big)
    opened(ws)
    ws = RawWs(server)
    ws.send(1, big[:300], fin=False)
    for i in range(300, len(big), 20000):
        ws.send(9, b"%d" % i)
        assert ws.recv() == (10, b"%d" % i)
        ws.send(0, big[i:i + 20000], fin=i + 20000 >= len(big))
    opened(ws)


def test_utf8_split_across_fragments(server):
    """A character may straddle two fragments (RFC 6455 5.6: the message
    is what is UTF-8); an invalid sequence fails the connection (8.1)."""
    ws = RawWs(server)
    data = OPEN.replace("version", "xml:lang='\u00e9t\u00e9' version")
    data = data.encode()
    cut = data.index("\u00e9".encode()) + 1
    ws.send(1, data[:cut], fin=False)
    ws.send(0, data[cut:])
    opened(ws)
    ws.send(1, b"<presence xmlns='jabber:client'>\xc0\x80</presence>")
    assert ws.close_code() == 1007


@pytest.mark.parametrize("frames", [
    [dict(opcode=1, payload=OPEN, mask=False)],          # 5.1: unmasked
    [dict(opcode=0, payload=OPEN)],                      # nothing to continue
    [dict(opcode=1, payload=OPEN[:9], fin=False),
     dict(opcode=1, payload=OPEN[9:])],                  # 5.4: not mixed
    [dict(opcode=3, payload=b"")],                       # reserved opcode
    [dict(opcode=1, payload=OPEN, rsv=4)],               # no extension
    [dict(opcode=9, payload=b"p", fin=False)],           # 5.5: control fin
    [dict(opcode=9, payload=b"p" * 126)],                # 5.5: over 125
    [dict(opcode=8, payload=b"\x03")],                   # 1-byte close
    [dict(opcode=8, payload=(1005).to_bytes(2, "big"))],  # 7.4.1
    [dict(opcode=8, payload=(999).to_bytes(2, "big"))],
])
def test_protocol_errors_close_1002(server, frames):
    ws = RawWs(server)
    for f in frames:
        ws.send(f.pop("opcode"), f.pop("payload"), **f)
    assert ws.close_code() == 1002


def test_length_not_in_shortest_form_closes_1002(server):
    ws = RawWs(server)
    ws.s.sendall(b"\x81\xfe\x00\x05" + b"\0\0\0\0" + b"<x/>x")
    assert ws.close_code() == 1002


def test_close_handshake(server, passwords):
    """RFC 6455 5.5.1: the client's close is answered with its status code
    and the connection ends; the XMPP session with it."""
    ws = RawWs(server)
    ws.send(1, OPEN)
    opened(ws)
    ws.send(8, (1000).to_bytes(2, "big") + b"bye")
    assert ws.recv() == (8, (1000).to_bytes(2, "big") + b"bye")
    assert ws.f.read() == b""
    for code in (1001, 3000, 4999):
        ws = RawWs(server)
        ws.send(8, code.to_bytes(2, "big"))
        assert ws.close_code() == code
    ws = RawWs(server)
    ws.send(8, b"")                              # no status code
    assert ws.recv() == (8, b"")
    ws = RawWs(server)
    ws.send(8, (1000).to_bytes(2, "big") + b"\xff")
    assert ws.close_code() == 1007
    # A logged-in session closed by its client is gone from the server.
    w = WsClient(server)
    w.login("alice", passwords["alice"], resource="gone")
    assert "alice@localhost/gone" in server.ctl_ok("sessions").stdout
    w.ws.close(status=1001)
    deadline = time.monotonic() + 5
    while "alice@localhost/gone" in server.ctl_ok("sessions").stdout:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_over_limit_messages_close_1009(server_factory):
    """Over <limits http-max-body>: refused when a frame's header says so
    (with the first byte of its payload: wslay reads on to there), and
    when fragments add up to it."""
    srv = server_factory(start=False)
    srv.set_limits(http_max_body="65536")
    srv.start()
    ws = RawWs(srv)
    ws.s.sendall(RawWs.frame(1, b"<", length=65537)[:15])
    assert ws.close_code() == 1009
    ws = RawWs(srv)
    ws.send(1, "<presence xmlns='jabber:client'>" + " " * 40000, fin=False)
    ws.send(0, " " * 40000 + "</presence>")
    assert ws.close_code() == 1009
    # At the limit is fine.
    ws = RawWs(srv)
    ws.send(1, OPEN[:-2] + " " * (65536 - len(OPEN)) + "/>")
    opened(ws)
