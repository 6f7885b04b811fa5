"""RFC 6120 (XMPP Core) conformance, written from the specification's
statements rather than from Ember's code: stream headers and errors,
restarts, binding, stanza semantics and the server's routing rules, as a
client sees them over c2s.  doc/conformance.md maps every statement to its
test (statements already covered by test_stream.py, test_routing.py and
others are referenced there, not repeated here).

One emberd serves the whole module; each test makes its own accounts.
"""

import itertools

import pytest

from harness import EMBERCTL, EMBERD, Server
from rawxmpp import (NS_BIND, NS_CLIENT, NS_PING, NS_STANZAS, NS_STREAM,
                     RawClient, local, ns_of, q, stanza_error)

HEADER = ("<?xml version='1.0'?><stream:stream to='%s' "
          "xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams'%s>")

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    if not EMBERD.exists() or not EMBERCTL.exists():
        pytest.fail("%s not built (EMBER_BUILD names the build directory)"
                    % EMBERD, pytrace=False)
    s = Server(tmp_path_factory.mktemp("rfc6120"))
    s.add_plain_listener()
    s.start()
    yield s
    s.stop()
    mark = s.sanitizer_report()
    if mark:
        print(s.log())
        pytest.fail("sanitizer report in emberd log: %s" % mark,
                    pytrace=False)


@pytest.fixture
def users(srv):
    """users(n) -> n fresh account names (password: the name)."""
    def make(n=1):
        out = []
        for _ in range(n):
            name = "c6120u%d" % next(_ids)
            srv.adduser(name, name)
            out.append(name)
        return out
    return make


@pytest.fixture
def clients(srv):
    """clients(user, resource=None, presence=None) -> a bound RawClient,
    closed at the end of the test."""
    made = []

    def make(user, resource=None, presence=None):
        c = RawClient(srv.plain_port, srv.domain)
        c.login(user, user, resource=resource)
        if presence is not None:
            c.presence(presence)
            c.sync()
            c.pending.clear()
        made.append(c)
        return c
    yield make
    for c in made:
        c.stream_end()
        c.close()


def raw_stream(srv, attrs="", to=None):
    """A connection with a hand-written initial stream header sent."""
    c = RawClient(srv.plain_port, srv.domain)
    c._reset_parser()
    c.send(HEADER % (to or srv.domain, attrs))
    return c


def is_msg(id_):
    return lambda e: e.tag == q(NS_CLIENT, "message") and e.get("id") == id_


# ---- 4.3 / 4.7 stream headers ------------------------------------------

def test_response_header_from_and_id(srv):
    """4.7.1: the response header names the server's domain in 'from';
    4.7.3: it carries a stream ID.  4.3.2: features follow the header."""
    c = raw_stream(srv, " version='1.0'")
    feats = c.recv(q(NS_STREAM, "features"))
    assert c.stream_attrs.get("from") == srv.domain
    assert c.stream_attrs.get("id")
    assert feats is not None
    c.close()


def test_response_header_has_no_to_without_client_from(srv):
    """4.7.2: no 'from' in the client's header, no 'to' in the answer."""
    c = raw_stream(srv, " version='1.0'")
    c.recv(q(NS_STREAM, "features"))
    assert "to" not in c.stream_attrs
    c.close()


def test_response_header_to_echoes_client_from(srv, users):
    (u,) = users()
    jid = "%s@%s" % (u, srv.domain)
    c = raw_stream(srv, " version='1.0' from='%s'" % jid)
    c.recv(q(NS_STREAM, "features"))
    try:
        assert c.stream_attrs.get("to") == jid, c.stream_attrs
    finally:
        c.close()


def test_stream_ids_differ_between_streams(srv):
    """4.7.3: stream IDs are unique (nonrepeating) across streams."""
    ids = set()
    for _ in range(3):
        c = raw_stream(srv, " version='1.0'")
        c.recv(q(NS_STREAM, "features"))
        ids.add(c.stream_attrs["id"])
        c.close()
    assert len(ids) == 3


def test_restart_gets_a_new_stream_id(srv, users):
    (u,) = users()
    c = RawClient(srv.c2s_port, srv.domain)
    try:
        c.open()
        first = c.stream_attrs["id"]
        c.starttls()
        after_tls = c.stream_attrs["id"]
        assert c.auth_scram(u, u) == "success"
        c.open()
        after_sasl = c.stream_attrs["id"]
        assert len({first, after_tls, after_sasl}) == 3, \
            (first, after_tls, after_sasl)
    finally:
        c.close()


def test_version_is_the_lower_of_both(srv):
    """4.7.5: the server answers with min(its version, the client's)."""
    c = raw_stream(srv, " version='2.0'")
    c.recv(q(NS_STREAM, "features"))
    assert c.stream_attrs.get("version") == "1.0"
    c.close()


# ---- 4.9 stream errors --------------------------------------------------

def test_stream_error_then_close_tag_then_tcp_close(srv, users, clients):
    """4.9.1.1: on a stream error the server sends <stream:error/>, then
    the closing stream tag, then closes the connection."""
    (u,) = users()
    c = clients(u)
    c.send("<message to='x@%s'><body>a</body></mess></message>" % srv.domain)
    assert c.expect_stream_error() == "not-well-formed"
    c.wait_closed()
    assert c.stream_closed, "no closing </stream:stream> before the close"


def test_error_in_header_still_sends_a_header(srv):
    """4.9.1.2: an error triggered by the initial header still comes
    inside a response header; 4.8.2/4.9.3.10: an unsupported content
    namespace is invalid-namespace."""
    c = RawClient(srv.plain_port, srv.domain)
    c._reset_parser()
    c.send("<?xml version='1.0'?><stream:stream to='%s' "
           "xmlns='jabber:nonsense' "
           "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
           % srv.domain)
    assert c.expect_stream_error() == "invalid-namespace"
    assert c.stream_attrs is not None
    c.wait_closed()


def test_non_utf8_stream_is_unsupported_encoding(srv):
    """11.6: XMPP is UTF-8 only; 4.9.3.22: another encoding is met with
    unsupported-encoding."""
    c = RawClient(srv.plain_port, srv.domain)
    c._reset_parser()
    header = ("<?xml version='1.0' encoding='UTF-16'?><stream:stream "
              "to='%s' xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams' "
              "version='1.0'>" % srv.domain)
    c.send(header.encode("utf-16"))
    assert c.expect_stream_error() == "unsupported-encoding"
    c.wait_closed()


def test_unknown_top_level_element(srv, users, clients):
    """4.9.3.24: a first-level child that is no stanza is
    unsupported-stanza-type."""
    (u,) = users()
    c = clients(u)
    c.send("<cheese xmlns='jabber:client'/>")
    assert c.expect_stream_error() == "unsupported-stanza-type"
    c.wait_closed()


# ---- 7 resource binding -------------------------------------------------

def test_bind_offered_after_authentication(srv, users):
    """7.4: after SASL the server offers resource binding."""
    (u,) = users()
    c = RawClient(srv.plain_port, srv.domain)
    c.login(u, u, bind=False)
    assert c.features.find(q(NS_BIND, "bind")) is not None
    c.close()


@pytest.mark.parametrize("resource", ["bad&#x85;res", "x" * 1100],
                         ids=["control-char", "too-long"])
def test_bind_refuses_an_unusable_resource(srv, users, resource):
    """7.7.2.1: a resourcepart that cannot be prepared or is too long is
    refused with bad-request."""
    (u,) = users()
    c = RawClient(srv.plain_port, srv.domain)
    c.login(u, u, bind=False)
    el = c.iq("set", "<bind xmlns='%s'><resource>%s</resource></bind>"
              % (NS_BIND, resource))
    assert stanza_error(el) == ("modify", "bad-request")
    c.close()


# ---- 8 stanza semantics -------------------------------------------------

def test_error_reply_addressing_and_form(srv, users, clients):
    """8.3.1: the error reply is of type error, keeps the request's id,
    comes from the request's 'to' and goes to its sender; 8.3.2: its
    <error/> has a type and a defined condition in the stanzas
    namespace."""
    (u,) = users()
    c = clients(u)
    target = "nobody-%d@%s" % (next(_ids), srv.domain)
    c.send("<iq type='get' id='err-1' to='%s'><query xmlns='urn:example:q'/>"
           "</iq>" % target)
    el = c.recv(lambda e: e.get("id") == "err-1")
    assert el.tag == q(NS_CLIENT, "iq")
    assert el.get("type") == "error"
    assert el.get("from") == target
    assert el.get("to") == c.jid
    err = el.find(q(NS_CLIENT, "error"))
    assert err.get("type") in ("auth", "cancel", "continue", "modify",
                               "wait")
    conds = [local(x.tag) for x in err if ns_of(x.tag) == NS_STANZAS and
             local(x.tag) != "text"]
    assert len(conds) == 1, conds


def test_iq_with_two_payloads_is_bad_request(srv, users, clients):
    """8.2.3: an iq get or set has exactly one payload element."""
    (u,) = users()
    c = clients(u)
    el = c.iq("get", "<ping xmlns='%s'/><query xmlns='jabber:iq:version'/>"
              % NS_PING, to=srv.domain)
    assert stanza_error(el) == ("modify", "bad-request")


@pytest.mark.parametrize("attrs", ["type='fetch'", ""],
                         ids=["unknown-type", "no-type"])
def test_iq_type_must_be_one_of_four(srv, users, clients, attrs):
    """8.2.3: 'type' is required and is get, set, result or error; the
    server refuses anything else with bad-request (8.3.3.1)."""
    (u,) = users()
    c = clients(u)
    c.send("<iq id='ty-1' %s to='%s'><ping xmlns='%s'/></iq>"
           % (attrs, srv.domain, NS_PING))
    el = c.recv(lambda e: e.get("id") == "ty-1")
    assert stanza_error(el) == ("modify", "bad-request")


def test_unknown_extension_is_routed_untouched(srv, users, clients):
    """8.4: a server routes extended content it does not understand
    without touching it (only 'from' is stamped, 8.1.2.1)."""
    a, b = users(2)
    ca = clients(a)
    cb = clients(b, resource="r", presence=0)
    ca.send("<message to='%s' type='chat' id='ext-1'><body>x</body>"
            "<thing xmlns='urn:example:ext' colour='blue'><inner>t</inner>"
            "</thing></message>" % cb.jid)
    m = cb.recv(is_msg("ext-1"))
    thing = m.find(q("urn:example:ext", "thing"))
    assert thing is not None and thing.get("colour") == "blue"
    assert thing.findtext(q("urn:example:ext", "inner")) == "t"
    assert m.get("from") == ca.jid


def test_xml_lang_of_a_stanza_is_kept(srv, users, clients):
    """8.1.5: the server does not change a stanza's own xml:lang."""
    a, b = users(2)
    ca = clients(a)
    cb = clients(b, resource="r", presence=0)
    ca.send("<message to='%s' type='chat' id='lang-1' xml:lang='fr'>"
            "<body>salut</body></message>" % cb.jid)
    m = cb.recv(is_msg("lang-1"))
    assert m.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"


def test_xml_lang_of_the_stream_is_added(srv, users, clients):
    """8.1.5: "If an outbound stanza generated by a client does not possess
    an 'xml:lang' attribute, the client's server SHOULD add an 'xml:lang'
    attribute whose value is that specified for the initial stream"; and
    4.7.4: a receiving entity that does not support the client's language
    (Ember's texts are English only) answers with its own default."""
    a, b = users(2)
    cb = clients(b, resource="r", presence=0)
    c = RawClient(srv.plain_port, srv.domain)
    try:
        for step in ("pre-auth", "post-auth"):
            c._reset_parser()
            c.send(HEADER % (srv.domain, " version='1.0' xml:lang='de'"))
            c.recv(q(NS_STREAM, "features"))
            if step == "pre-auth":
                assert c.auth_scram(a, a) == "success"
        c.bind()
        lang = c.stream_attrs.get("{http://www.w3.org/XML/1998/namespace}"
                                  "lang")
        c.send("<message to='%s' type='chat' id='lang-2'><body>hallo</body>"
               "</message>" % cb.jid)
        m = cb.recv(is_msg("lang-2"))
        assert m.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
        assert lang == "en"
    finally:
        c.close()


# ---- 10 server rules for processing stanzas -----------------------------

def test_in_order_processing(srv, users, clients):
    """10.1: stanzas from one client to one recipient arrive in the order
    they were sent."""
    a, b = users(2)
    ca = clients(a)
    cb = clients(b, resource="r", presence=0)
    for i in range(40):
        kind = i % 3
        if kind == 0:
            ca.send("<message to='%s' type='chat' id='o%d'><body>%d</body>"
                    "</message>" % (cb.jid, i, i))
        elif kind == 1:
            ca.send("<iq to='%s' type='get' id='o%d'><query "
                    "xmlns='urn:example:order'/></iq>" % (cb.jid, i))
        else:
            ca.send("<presence to='%s' id='o%d'/>" % (cb.jid, i))
    got = []
    while len(got) < 40:
        el = cb.recv(lambda e: (e.get("id") or "").startswith("o"))
        got.append(int(el.get("id")[1:]))
    assert got == list(range(40))


def test_message_without_to_goes_to_own_account(srv, users, clients):
    """10.3.1: a message without 'to' is handled as if addressed to the
    sender's bare JID."""
    (u,) = users()
    c1 = clients(u, resource="one", presence=1)
    c2 = clients(u, resource="two", presence=0)
    c2.send("<message id='noto-1' type='chat'><body>note to self</body>"
            "</message>")
    m = c1.recv(is_msg("noto-1"))
    assert m.findtext(q(NS_CLIENT, "body")) == "note to self"
    assert m.get("from") == c2.jid


def test_iq_without_to_is_answered_by_the_server(srv, users, clients):
    """10.3.3: an iq without 'to' is processed by the server on behalf of
    the account (the answer comes from the account or the server)."""
    (u,) = users()
    c = clients(u)
    el = c.iq("get", "<ping xmlns='%s'/>" % NS_PING, to=None)
    assert el.get("type") == "result"
    assert el.get("from") in (None, "%s@%s" % (u, srv.domain), srv.domain)


@pytest.mark.parametrize("kind", ["message", "iq"])
def test_unreachable_remote_domain(srv, users, clients, kind):
    """10.4.3: a stanza for a domain the server cannot reach comes back
    as remote-server-not-found (or remote-server-timeout)."""
    (u,) = users()
    c = clients(u)
    if kind == "message":
        c.send("<message to='someone@remote.invalid' type='chat' id='rs-1'>"
               "<body>x</body></message>")
    else:
        c.send("<iq to='remote.invalid' type='get' id='rs-1'>"
               "<ping xmlns='%s'/></iq>" % NS_PING)
    el = c.recv(lambda e: e.get("id") == "rs-1", timeout=15)
    assert stanza_error(el) is not None
    assert stanza_error(el)[1] in ("remote-server-not-found",
                                   "remote-server-timeout")
