"""A blocking, byte-level XMPP client for protocol tests.

slixmpp negotiates for you; this client lets a test send exactly the bytes
it wants (ill-formed XML, forbidden constructs, SASL messages with chosen
channel binding) and look at exactly what comes back.  Every read is
bounded by a deadline.
"""

import base64
import hashlib
import hmac
import os
import select
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections import deque

NS_STREAM = "http://etherx.jabber.org/streams"
NS_CLIENT = "jabber:client"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_VERSION = "jabber:iq:version"

TIMEOUT = 10.0


def q(ns, tag):
    return "{%s}%s" % (ns, tag)


def local(tag):
    return tag.rsplit("}", 1)[-1]


def ns_of(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


class StreamClosed(Exception):
    """The server ended the stream (error: the stream error condition)."""

    def __init__(self, error=None, text=None):
        super().__init__("stream closed%s" % (": " + error if error else ""))
        self.error = error
        self.text = text


def stream_error_condition(el):
    for c in el:
        if ns_of(c.tag) == NS_STREAMS and local(c.tag) != "text":
            return local(c.tag)
    return None


def stanza_error(el):
    """(type, condition) of a stanza of type='error', else None."""
    if el.get("type") != "error":
        return None
    err = el.find(q(NS_CLIENT, "error"))
    if err is None:
        return ("?", None)
    for c in err:
        if ns_of(c.tag) == NS_STANZAS and local(c.tag) != "text":
            return (err.get("type"), local(c.tag))
    return (err.get("type"), None)


def sasl_failure_condition(el):
    for c in el:
        if ns_of(c.tag) == NS_SASL and local(c.tag) != "text":
            return local(c.tag)
    return None


class _OpenSSLSock:
    """pyOpenSSL over a non-blocking socket, for the tls-exporter channel
    binding that Python's ssl module cannot export."""

    def __init__(self, sock, server_hostname, alpn=None):
        from OpenSSL import SSL
        self.SSL = SSL
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        if alpn:
            ctx.set_alpn_protos([a.encode() for a in alpn])
        sock.setblocking(False)
        self.sock = sock
        self.conn = SSL.Connection(ctx, sock)
        self.conn.set_tlsext_host_name(server_hostname.encode())
        self.conn.set_connect_state()
        self._io(self.conn.do_handshake, time.monotonic() + TIMEOUT)

    def _io(self, fn, deadline, *args):
        SSL = self.SSL
        while True:
            try:
                return fn(*args)
            except SSL.WantReadError:
                r, w = [self.sock], []
            except SSL.WantWriteError:
                r, w = [], [self.sock]
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("TLS I/O timed out")
            select.select(r, w, [], left)

    def export_cb(self):
        return self.conn.export_keying_material(
            b"EXPORTER-Channel-Binding", 32, None)

    def version(self):
        return self.conn.get_protocol_version_name()

    def sendall(self, data):
        deadline = time.monotonic() + TIMEOUT
        view = memoryview(data)
        while view:
            n = self._io(self.conn.send, deadline, view.tobytes())
            view = view[n:]

    def recv_within(self, n, timeout):
        SSL = self.SSL
        deadline = time.monotonic() + timeout
        try:
            return self._io(self.conn.recv, deadline, n)
        except (SSL.ZeroReturnError, SSL.SysCallError):
            return b""

    def close(self):
        try:
            self.conn.shutdown()
        except Exception:
            pass
        self.sock.close()


def saslname(s):
    return s.replace("=", "=3D").replace(",", "=2C")


class Scram:
    """Client side of SCRAM (RFC 5802 / 7677), with chosen channel binding."""

    def __init__(self, mech, user, password, cb_name=None, cb_data=b"",
                 flag=None):
        self.hname = "sha256" if mech.startswith("SCRAM-SHA-256") else "sha1"
        if flag is None:
            flag = "p=" + cb_name if cb_name else "n"
        self.gs2 = ("%s,," % flag).encode()
        self.cb_data = cb_data if flag.startswith("p=") else b""
        self.user = user
        self.password = password
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = "n=%s,r=%s" % (saslname(user), self.cnonce)

    def first(self):
        return self.gs2 + self.first_bare.encode()

    def _hmac(self, key, msg):
        return hmac.new(key, msg, self.hname).digest()

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        nonce = attrs["r"]
        assert nonce.startswith(self.cnonce), "server nonce lacks ours"
        salt = base64.b64decode(attrs["s"])
        iters = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(self.hname, self.password.encode(), salt,
                                     iters)
        client_key = self._hmac(salted, b"Client Key")
        stored = hashlib.new(self.hname, client_key).digest()
        cbind = base64.b64encode(self.gs2 + self.cb_data).decode()
        without_proof = "c=%s,r=%s" % (cbind, nonce)
        auth_msg = ",".join([self.first_bare, server_first.decode(),
                             without_proof]).encode()
        sig = self._hmac(stored, auth_msg)
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = self._hmac(salted, b"Server Key")
        self.server_sig = self._hmac(server_key, auth_msg)
        return ("%s,p=%s" % (without_proof,
                             base64.b64encode(proof).decode())).encode()

    def verify(self, server_final):
        attrs = dict(kv.split("=", 1) for kv in server_final.decode().split(","))
        return base64.b64decode(attrs.get("v", "")) == self.server_sig


class RawClient:
    def __init__(self, port, domain="localhost", host="127.0.0.1",
                 direct_tls=False, alpn=None, tls_max=None, openssl=False,
                 timeout=TIMEOUT, source=None):
        self.domain = domain
        self.timeout = timeout
        self.alpn = alpn
        self.tls_max = tls_max
        self.use_openssl = openssl
        # source: a loopback address (127.x.y.z) to connect from.
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.tls = None             # ssl.SSLSocket or _OpenSSLSock
        self.pending = deque()
        self.eof = False
        self.stream_error = None
        self.stream_error_text = None
        self.stream_closed = False
        self.stream_attrs = None
        self.jid = None
        self.stanzas_in = 0         # message, presence, iq parsed (XEP-0198 h)
        self.last_sasl_text = None
        self._id = 0
        self.parser = None
        if direct_tls:
            self._tls_wrap()

    # ---- transport ----
    def _tls_wrap(self):
        if self.use_openssl:
            self.tls = _OpenSSLSock(self.sock, self.domain, self.alpn)
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.alpn:
            ctx.set_alpn_protocols(self.alpn)
        if self.tls_max:
            ctx.maximum_version = self.tls_max
        self.tls = ctx.wrap_socket(self.sock, server_hostname=self.domain)
        self.tls.settimeout(self.timeout)

    @property
    def tls_version(self):
        return self.tls.version() if self.tls else None

    def channel_binding(self, name):
        if name == "tls-exporter":
            return self.tls.export_cb()
        return self.tls.get_channel_binding(name)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        (self.tls or self.sock).sendall(data)

    def _read(self, timeout):
        try:
            if isinstance(self.tls, _OpenSSLSock):
                return self.tls.recv_within(65536, timeout)
            s = self.tls or self.sock
            s.settimeout(max(timeout, 0.001))
            return s.recv(65536)
        except (socket.timeout, TimeoutError):
            return None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError):
            return b""
        except ssl.SSLError as e:
            if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" in str(e):
                return b""
            raise

    def close(self):
        try:
            (self.tls or self.sock).close()
        except Exception:
            pass

    # ---- XML in ----
    def _reset_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None
        self.stream_attrs = None

    def _feed(self, data):
        try:
            self.parser.feed(data)
            events = list(self.parser.read_events())
        except ET.ParseError as e:
            raise AssertionError("the server sent XML we cannot parse (%s): "
                                 "%r" % (e, data[:300])) from None
        for ev, el in events:
            if ev == "start":
                if self.depth == 0:
                    self.root = el
                    self.stream_attrs = dict(el.attrib)
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    self.stream_closed = True
                elif self.depth == 1:
                    self.root.remove(el)
                    if el.tag == q(NS_STREAM, "error"):
                        self.stream_error = stream_error_condition(el)
                        t = el.find(q(NS_STREAMS, "text"))
                        self.stream_error_text = t.text if t is not None else None
                    if el.tag in (q(NS_CLIENT, "message"),
                                  q(NS_CLIENT, "presence"),
                                  q(NS_CLIENT, "iq")):
                        self.stanzas_in += 1
                    if self._answer_version_query(el):
                        continue
                    self.pending.append(el)

    def _answer_version_query(self, el):
        """Answer the server's XEP-0092 query as real clients do (mod_version
        asks each client once bound), so tests see only their stanzas.
        A test that answers itself sets answer_version to False."""
        if (not getattr(self, "answer_version", True) or
                el.tag != q(NS_CLIENT, "iq") or el.get("type") != "get" or
                el.find(q("jabber:iq:version", "query")) is None):
            return False
        to = " to='%s'" % el.get("from") if el.get("from") else ""
        try:
            self._send_version(el.get("id"), to)
        except OSError:
            pass    # the stream is ending: what follows says why
        return True

    def _send_version(self, id_, to):
        self.send("<iq type='result' id='%s'%s><query xmlns='jabber:iq:version'>"
                  "<name>rawxmpp</name><version>1.0</version></query></iq>"
                  % (id_, to))

    def _pump(self, deadline):
        """Read once (until deadline); False when nothing more can come."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        data = self._read(left)
        if data is None:
            return True
        if data == b"":
            self.eof = True
            return False
        self._feed(data)
        return True

    def recv(self, match=None, timeout=None):
        """Next top-level element (matching `match`, a tag or predicate).
        Raises StreamClosed when the stream ends first, TimeoutError."""
        if isinstance(match, str):
            tag = match
            match = lambda e: e.tag == tag
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for el in list(self.pending):
                if match is None or match(el):
                    self.pending.remove(el)
                    return el
            if self.stream_error or self.stream_closed or self.eof:
                raise StreamClosed(self.stream_error, self.stream_error_text)
            if not self._pump(deadline) and not self.eof:
                raise TimeoutError("nothing matching within the timeout; "
                                   "got %s" % [e.tag for e in self.pending])

    def expect_stream_error(self, timeout=None):
        """Read until the stream error; returns its condition."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.stream_error:
            if self.eof or self.stream_closed:
                raise AssertionError("stream closed without a stream error")
            if not self._pump(deadline) and not self.eof:
                raise TimeoutError("no stream error within the timeout")
        return self.stream_error

    def wait_closed(self, timeout=None):
        """Read (discarding) until the server closes the connection."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            if not self._pump(deadline) and not self.eof:
                raise TimeoutError("connection still open")
        return True

    def is_open(self):
        return not (self.eof or self.stream_closed or self.stream_error)

    # ---- negotiation ----
    def open(self, to=None, header=None):
        """Send a stream header; returns <stream:features/>."""
        self._reset_parser()
        if header is None:
            header = ("<?xml version='1.0'?><stream:stream to='%s' "
                      "xmlns='jabber:client' "
                      "xmlns:stream='http://etherx.jabber.org/streams' "
                      "version='1.0' xml:lang='en'>" % (to or self.domain))
        self.send(header)
        return self.recv(q(NS_STREAM, "features"))

    @staticmethod
    def mechanisms(features):
        m = features.find(q(NS_SASL, "mechanisms"))
        if m is None:
            return []
        return [x.text for x in m.findall(q(NS_SASL, "mechanism"))]

    def starttls(self):
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        el = self.recv()
        assert el.tag == q(NS_TLS, "proceed"), el.tag
        self._tls_wrap()
        return self.open()

    def sasl_auth(self, mech, initial=None):
        data = "=" if initial == b"" else (
            base64.b64encode(initial).decode() if initial else "")
        self.send("<auth xmlns='%s' mechanism='%s'>%s</auth>"
                  % (NS_SASL, mech, data))

    def _sasl_reply(self):
        el = self.recv(lambda e: ns_of(e.tag) == NS_SASL)
        text = el.find(q(NS_SASL, "text"))
        self.last_sasl_text = text.text if text is not None else None
        payload = base64.b64decode(el.text or "")
        return local(el.tag), el, payload

    def auth_plain(self, user, password):
        """'success' or the <failure/> condition."""
        self.sasl_auth("PLAIN", b"\0" + user.encode() + b"\0" +
                       password.encode())
        kind, el, _ = self._sasl_reply()
        return "success" if kind == "success" else sasl_failure_condition(el)

    def auth_scram(self, user, password, mech="SCRAM-SHA-1", cb_name=None,
                   cb_data=None, flag=None):
        """'success' (server signature verified) or the failure condition."""
        if mech.endswith("-PLUS") and cb_name is None:
            cb_name = ("tls-exporter" if self.tls_version == "TLSv1.3"
                       else "tls-unique")
        if cb_name and cb_data is None:
            cb_data = self.channel_binding(cb_name)
        s = Scram(mech, user, password, cb_name, cb_data or b"", flag)
        self.sasl_auth(mech, s.first())
        kind, el, payload = self._sasl_reply()
        if kind != "challenge":
            return sasl_failure_condition(el) if kind == "failure" else kind
        self.send("<response xmlns='%s'>%s</response>"
                  % (NS_SASL, base64.b64encode(s.final(payload)).decode()))
        kind, el, payload = self._sasl_reply()
        if kind == "challenge":          # server-final as a challenge
            ok = s.verify(payload)
            self.send("<response xmlns='%s'/>" % NS_SASL)
            kind, el, payload = self._sasl_reply()
            payload = b""
        else:
            ok = None
        if kind == "failure":
            return sasl_failure_condition(el)
        assert kind == "success", kind
        if payload:
            ok = s.verify(payload)
        assert ok, "server signature did not verify"
        return "success"

    def bind(self, resource=None):
        res = "<resource>%s</resource>" % resource if resource else ""
        el = self.iq("set", "<bind xmlns='%s'>%s</bind>" % (NS_BIND, res),
                     to=None)
        assert el.get("type") == "result", ET.tostring(el)
        self.jid = el.find(q(NS_BIND, "bind")).find(q(NS_BIND, "jid")).text
        return self.jid

    def login(self, user, password, mech="SCRAM-SHA-1", resource=None,
              bind=True):
        """Open, STARTTLS (unless already TLS or a plaintext listener),
        authenticate, restart, bind.  Returns the full JID."""
        feats = self.open()
        if self.tls is None and feats.find(q(NS_TLS, "starttls")) is not None:
            feats = self.starttls()
        user = user.split("@")[0]
        if mech == "PLAIN":
            r = self.auth_plain(user, password)
        else:
            r = self.auth_scram(user, password, mech)
        assert r == "success", "authentication failed: %s" % r
        feats = self.open()
        self.features = feats
        if bind:
            return self.bind(resource)
        return None

    # ---- stanzas ----
    def next_id(self):
        self._id += 1
        return "r%d" % self._id

    def iq(self, type_, payload="", to=None, timeout=None, id_=None):
        id_ = id_ or self.next_id()
        to_attr = " to='%s'" % to if to else ""
        self.send("<iq type='%s' id='%s'%s>%s</iq>"
                  % (type_, id_, to_attr, payload))
        return self.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                         e.get("id") == id_ and
                         e.get("type") in ("result", "error"),
                         timeout=timeout)

    def sync(self):
        """Round trip to the server: everything sent before is processed."""
        el = self.iq("get", "<query xmlns='urn:ember:test:sync'/>",
                     to=self.domain)
        assert el.get("type") in ("result", "error")

    def presence(self, priority=None, extra=""):
        p = "<priority>%d</priority>" % priority if priority is not None else ""
        self.send("<presence>%s%s</presence>" % (p, extra))

    def message(self, to, body, id_=None, type_="chat"):
        id_ = id_ or self.next_id()
        self.send("<message to='%s' type='%s' id='%s'><body>%s</body>"
                  "</message>" % (to, type_, id_, body))
        return id_

    def recv_message(self, timeout=None):
        return self.recv(q(NS_CLIENT, "message"), timeout=timeout)

    def ping(self, to=None):
        return self.iq("get", "<ping xmlns='%s'/>" % NS_PING,
                       to=to or self.domain)

    def disco_info(self, to=None):
        el = self.iq("get", "<query xmlns='%s'/>" % NS_DISCO_INFO,
                     to=to or self.domain)
        return el

    def stream_end(self):
        try:
            self.send("</stream:stream>")
        except OSError:
            pass


def disco_features(iq_result):
    query = iq_result.find(q(NS_DISCO_INFO, "query"))
    return {f.get("var") for f in query.findall(q(NS_DISCO_INFO, "feature"))}


def disco_identities(iq_result):
    query = iq_result.find(q(NS_DISCO_INFO, "query"))
    return {(i.get("category"), i.get("type"))
            for i in query.findall(q(NS_DISCO_INFO, "identity"))}
