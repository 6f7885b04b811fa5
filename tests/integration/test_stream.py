"""XML stream hardening and stanza-level errors (RFC 6120 sections 4, 8, 11)."""

import pytest

from rawxmpp import NS_BIND, NS_CLIENT, NS_PING, RawClient, q, stanza_error


def logged_in(server, passwords, user="alice", resource=None):
    c = RawClient(server.c2s_port)
    c.login(user, passwords[user], resource=resource)
    return c


def test_not_well_formed(server, passwords):
    c = logged_in(server, passwords)
    c.send("<message to='bob@localhost'><body>x</bodyy></message>")
    assert c.expect_stream_error() == "not-well-formed"
    c.wait_closed()


def test_not_well_formed_before_auth(server):
    c = RawClient(server.c2s_port)
    c.open()
    c.send("<<<>>>")
    assert c.expect_stream_error() == "not-well-formed"
    c.wait_closed()


def test_oversized_stanza_default_limit(server, passwords):
    c = logged_in(server, passwords)
    body = "x" * (300 * 1024)          # default limit: 256 KiB
    c.send("<message to='bob@localhost'><body>%s</body></message>" % body)
    assert c.expect_stream_error() == "policy-violation"
    c.wait_closed()


def test_oversized_stanza_configured_limit(server_factory, passwords):
    srv = server_factory(start=False)
    srv.set_limits(max_stanza_size=4096)
    srv.start()
    c = logged_in(srv, passwords)
    # Under the limit: delivered normally (an error reply: bob is offline
    # or a delivery; either way the stream lives).
    c.send("<message to='alice@localhost/none' type='chat'><body>%s</body>"
           "</message>" % ("y" * 1000))
    c.sync()
    c.send("<message to='bob@localhost'><body>%s</body></message>"
           % ("x" * 8000))
    assert c.expect_stream_error() == "policy-violation"
    c.wait_closed()


def test_too_deep(server, passwords):
    c = logged_in(server, passwords)
    c.send("<message to='bob@localhost'>" + "<a>" * 200)
    assert c.expect_stream_error() == "policy-violation"
    c.wait_closed()


def test_too_many_attributes(server, passwords):
    c = logged_in(server, passwords)
    attrs = " ".join("a%d='v'" % i for i in range(200))
    c.send("<message to='bob@localhost' %s/>" % attrs)
    assert c.expect_stream_error() == "policy-violation"
    c.wait_closed()


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<stream:stream to='localhost' xmlns='jabber:client'
 xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>
<message to='bob@localhost'><body>&lol9;</body></message>
"""


def test_billion_laughs_refused_memory_flat(server, passwords):
    before = server.rss_kib()
    for _ in range(5):
        c = RawClient(server.c2s_port)
        c._reset_parser()
        c.send(BILLION_LAUGHS)
        assert c.expect_stream_error() == "restricted-xml"
        c.wait_closed()
    # Same document after TLS and authentication: the DTD cannot come
    # inside a stream, so the entity is an undeclared reference.
    c = logged_in(server, passwords)
    c.send("<message to='bob@localhost'><body>&lol9;</body></message>")
    assert c.expect_stream_error() in ("restricted-xml", "not-well-formed")
    c.wait_closed()
    after = server.rss_kib()
    assert after - before < 4096, "RSS grew %d KiB" % (after - before)
    # And the server still serves.
    c = logged_in(server, passwords, "bob")
    c.sync()
    c.close()


def test_entity_declaration_after_tls(server, passwords):
    c = RawClient(server.c2s_port)
    c.open()
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert c.recv().tag.endswith("proceed")
    c._tls_wrap()
    c._reset_parser()
    c.send("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>"
           "<stream:stream to='localhost' xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    assert c.expect_stream_error() == "restricted-xml"
    c.wait_closed()


def test_comment_restricted(server, passwords):
    c = logged_in(server, passwords)
    c.send("<!-- a comment -->")
    assert c.expect_stream_error() == "restricted-xml"
    c.wait_closed()


def test_comment_inside_stanza_restricted(server, passwords):
    c = logged_in(server, passwords)
    c.send("<message to='bob@localhost'><!-- x --><body>hi</body></message>")
    assert c.expect_stream_error() == "restricted-xml"
    c.wait_closed()


def test_processing_instruction_restricted(server, passwords):
    c = logged_in(server, passwords)
    c.send("<?evil stuff?>")
    assert c.expect_stream_error() == "restricted-xml"
    c.wait_closed()


def test_unknown_iq_to_server(server, passwords):
    c = logged_in(server, passwords)
    el = c.iq("get", "<query xmlns='urn:example:nothing'/>", to="localhost")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    el = c.iq("set", "<thing xmlns='urn:example:nothing'/>")   # no 'to'
    assert stanza_error(el) == ("cancel", "service-unavailable")
    c.close()


def test_unknown_iq_to_bare_jid(server, passwords):
    c = logged_in(server, passwords)
    el = c.iq("get", "<query xmlns='urn:example:nothing'/>",
              to="bob@localhost")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    assert el.get("from") == "bob@localhost"
    el = c.iq("get", "<query xmlns='urn:example:nothing'/>",
              to="alice@localhost")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    c.close()


def test_iq_result_and_error_never_answered(server, passwords):
    c = logged_in(server, passwords)
    c.send("<iq type='result' id='stray1' to='localhost'/>")
    c.send("<iq type='error' id='stray2' to='localhost'>"
           "<error type='cancel'><service-unavailable "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
    c.send("<iq type='result' id='stray3' to='bob@localhost'/>")
    c.send("<message type='error' to='bob@localhost' id='stray4'>"
           "<error type='cancel'><item-not-found "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    # The next thing that comes back must be the answer to this marker.
    c.send("<iq type='get' id='marker' to='localhost'>"
           "<query xmlns='urn:ember:test:marker'/></iq>")
    el = c.recv()
    assert el.tag == q(NS_CLIENT, "iq") and el.get("id") == "marker", \
        "got %s id=%s first" % (el.tag, el.get("id"))
    c.close()


def test_iq_without_id_or_payload(server, passwords):
    c = logged_in(server, passwords)
    # An iq get must have exactly one child (RFC 6120 8.2.3).
    el = c.iq("get", "", to="localhost")
    assert stanza_error(el)[1] == "bad-request"
    c.close()


def test_jid_malformed(server, passwords):
    c = logged_in(server, passwords)
    el = c.iq("get", "<ping xmlns='%s'/>" % NS_PING, to="a@b@c")
    assert stanza_error(el) == ("modify", "jid-malformed")
    el = c.iq("get", "<ping xmlns='%s'/>" % NS_PING,
              to="x" * 1100 + "@localhost")
    assert stanza_error(el) == ("modify", "jid-malformed")
    c.close()


def test_resource_conflict(server, passwords):
    old = logged_in(server, passwords, resource="phone")
    assert old.jid == "alice@localhost/phone"
    new = RawClient(server.c2s_port)
    assert new.login("alice", passwords["alice"],
                     resource="phone") == "alice@localhost/phone"
    assert old.expect_stream_error() == "conflict"
    old.wait_closed()
    # The new session is the one that gets traffic now.
    bob = logged_in(server, passwords, "bob")
    bob.message("alice@localhost/phone", "for the new one", id_="m1")
    m = new.recv_message()
    assert m.get("id") == "m1"
    new.sync()
    bob.close()
    new.close()


def test_bind_server_generated_resources_differ(server, passwords):
    a = logged_in(server, passwords)
    b = logged_in(server, passwords)
    assert a.jid != b.jid
    assert a.jid.startswith("alice@localhost/")
    a.sync()
    b.sync()
    a.close()
    b.close()


def test_stanza_before_bind_refused(server, passwords):
    c = RawClient(server.c2s_port)
    c.login("alice", passwords["alice"], bind=False)
    c.send("<message to='bob@localhost'><body>early</body></message>")
    assert c.expect_stream_error() == "not-authorized"


def test_bind_before_auth_refused(server):
    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    c.send("<iq type='set' id='b1'><bind xmlns='%s'/></iq>" % NS_BIND)
    assert c.expect_stream_error() == "not-authorized"


@pytest.mark.parametrize("header,cond", [
    ("<stream:stream to='localhost' xmlns='jabber:client' "
     "xmlns:stream='urn:wrong' version='1.0'>", "invalid-namespace"),
    ("<stream:stream to='nowhere.example' xmlns='jabber:client' "
     "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
     "host-unknown"),
])
def test_bad_stream_header(server, header, cond):
    c = RawClient(server.c2s_port)
    c._reset_parser()
    c.send(header)
    assert c.expect_stream_error() == cond
    c.wait_closed()


def test_whitespace_keepalive(server, passwords):
    c = logged_in(server, passwords)
    c.send(" \n ")
    c.sync()
    c.close()
