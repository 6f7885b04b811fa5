"""BOSH (XEP-0124) with XMPP (XEP-0206) at /http-bind, by hand over
http.client: session creation, SASL and bind through the one stream
machinery, held requests, request ids, terminate, CORS, bad input.
Converse.js over BOSH is in test_converse_browser.py."""

import base64
import http.client
import threading
import time
import xml.etree.ElementTree as ET

from rawxmpp import NS_CLIENT, RawClient, q

NS = "http://jabber.org/protocol/httpbind"
NS_XBOSH = "urn:xmpp:xbosh"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STREAMS = "http://etherx.jabber.org/streams"


def post(srv, body, method="POST", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=75)
    h = {"Content-Type": "text/xml; charset=utf-8"}
    h.update(headers or {})
    c.request(method, "/http-bind", body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, ET.fromstring(data) if data else None


class Bosh:
    def __init__(self, srv, wait=5, to="localhost"):
        self.srv = srv
        self.rid = 1000
        r, b = post(srv, "<body xmlns='%s' xmlns:xmpp='%s' rid='%d' to='%s' "
                    "wait='%d' hold='1' ver='1.6' xmpp:version='1.0'/>"
                    % (NS, NS_XBOSH, self.rid, to, wait))
        self.create = b
        self.sid = b.get("sid")

    def send(self, inner="", **attrs):
        self.rid += 1
        extra = "".join(" %s='%s'" % kv for kv in attrs.items())
        return post(self.srv, "<body xmlns='%s' xmlns:xmpp='%s' rid='%d' "
                    "sid='%s'%s>%s</body>" % (NS, NS_XBOSH, self.rid,
                                              self.sid, extra, inner))[1]

    def until(self, tag, inner=""):
        """Send inner, then poll until an element `tag` comes."""
        b = self.send(inner)
        for _ in range(10):
            for el in b:
                if el.tag == tag:
                    return el
            if b.get("type") == "terminate":
                raise AssertionError("terminated: %s" % ET.tostring(b))
            b = self.send()
        raise AssertionError("no %s" % tag)

    def login(self, user, password):
        auth = base64.b64encode(b"\0" + user.encode() + b"\0" +
                                password.encode()).decode()
        el = self.until(q(NS_SASL, "success"),
                        "<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
                        % (NS_SASL, auth))
        assert el is not None
        b = self.send(**{"xmpp:restart": "true", "to": "localhost"})
        feats = b.find(q(NS_STREAMS, "features"))
        if feats is None:
            feats = self.until(q(NS_STREAMS, "features"))
        assert feats.find(q(NS_BIND, "bind")) is not None
        iq = self.until(q(NS_CLIENT, "iq"),
                        "<iq xmlns='jabber:client' type='set' id='b'><bind "
                        "xmlns='%s'><resource>bosh</resource></bind></iq>"
                        % NS_BIND)
        return iq.find(".//{%s}jid" % NS_BIND).text


def test_session_creation(server):
    b = Bosh(server)
    c = b.create
    assert c.tag == q(NS, "body") and c.get("sid")
    assert c.get("wait") == "5" and c.get("hold") == "1"
    assert c.get("requests") == "2" and c.get("from") == "localhost"
    assert c.get("{%s}version" % NS_XBOSH) == "1.0"
    # XEP-0206: the stream features come with the session.
    feats = c.find(q(NS_STREAMS, "features"))
    assert feats is not None
    mechs = [m.text for m in feats.iter(q(NS_SASL, "mechanism"))]
    assert "SCRAM-SHA-1" in mechs


def test_login_and_chat_with_a_tcp_client(server, passwords):
    b = Bosh(server)
    assert b.login("alice", passwords["alice"]) == "alice@localhost/bosh"
    b.send("<presence xmlns='jabber:client'/>")
    t = RawClient(server.c2s_port, domain=server.domain)
    t.login("bob", passwords["bob"])
    got = []

    def poll():
        got.append(b.until(q(NS_CLIENT, "message")))
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    t.message("alice@localhost/bosh", "over a held request")
    th.join(20)
    assert got and got[0].findtext(q(NS_CLIENT, "body")) == \
        "over a held request"
    b.send("<message xmlns='jabber:client' to='%s'><body>and back</body>"
           "</message>" % t.jid)
    m = t.recv(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert m.findtext(q(NS_CLIENT, "body")) == "and back"
    assert m.get("from") == "alice@localhost/bosh"
    import json
    by = {x["jid"]: x for x in json.loads(
        server.ctl_ok("--json", "sessions").stdout)}
    assert by["alice@localhost/bosh"]["transport"] == "bosh"
    # Terminate: the session is over, its sid unknown afterwards.
    r = b.send(type="terminate")
    assert r.get("type") == "terminate"
    r = b.send()
    assert r.get("type") == "terminate" and \
        r.get("condition") == "item-not-found"
    t.close()


def test_held_request_answers_empty_after_wait(server):
    b = Bosh(server, wait=1)
    t0 = time.monotonic()
    r = b.send()
    took = time.monotonic() - t0
    assert r.tag == q(NS, "body") and len(r) == 0
    assert 0.5 < took < 5, took


def test_bad_requests(server):
    r, b = post(server, "<body xmlns='%s' rid='1' to='nowhere.example'/>"
                % NS)
    assert b.get("type") == "terminate" and \
        b.get("condition") == "host-unknown"
    r, b = post(server, "<notbody/>")
    assert b.get("condition") == "bad-request"
    r, b = post(server, "<body xmlns='%s' rid='5' sid='nosuchsid'/>" % NS)
    assert b.get("condition") == "item-not-found"
    # A request id out of order ends the session (XEP-0124 section 14).
    s = Bosh(server)
    s.rid += 5
    r = s.send()
    assert r.get("condition") == "item-not-found"
    s.rid -= 6
    assert s.send().get("condition") == "item-not-found"


def test_cors_preflight(server):
    r, _ = post(server, None, method="OPTIONS",
                headers={"Origin": "https://app.example",
                         "Access-Control-Request-Method": "POST"})
    assert r.status == 200
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    assert "POST" in r.getheader("Access-Control-Allow-Methods")
    assert "Content-Type" in r.getheader("Access-Control-Allow-Headers")
