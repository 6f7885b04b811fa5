"""mod_register: XEP-0077 in-band registration, password change, removal."""

import time

from rawxmpp import (NS_CLIENT, NS_STREAM, RawClient, StreamClosed, q,
                     stanza_error)

NS_REG = "jabber:iq:register"
NS_FEATURE = "http://jabber.org/features/iq-register"


def secure_stream(srv):
    """A stream after STARTTLS, not authenticated; (client, features)."""
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.open()
    feats = c.starttls()
    return c, feats


def register(c, user=None, password=None):
    body = ""
    if user is not None:
        body += "<username>%s</username>" % user
    if password is not None:
        body += "<password>%s</password>" % password
    return c.iq("set", "<query xmlns='%s'>%s</query>" % (NS_REG, body))


def try_login(srv, user, password):
    c, _ = secure_stream(srv)
    try:
        return c.auth_scram(user, password)
    finally:
        c.close()


def enabled(server_factory, **opts):
    srv = server_factory(start=False)
    srv.add_module("register", allow_registration="true", **opts)
    return srv.start()


def test_off_by_default(server):
    c, feats = secure_stream(server)
    assert feats.find(q(NS_FEATURE, "register")) is None
    el = c.iq("get", "<query xmlns='%s'/>" % NS_REG)
    assert stanza_error(el) == ("cancel", "service-unavailable")
    el = register(c, "mallory", "mallory-secret")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    c.close()
    assert try_login(server, "mallory", "mallory-secret") != "success"


def test_register_then_login(server_factory, passwords):
    srv = enabled(server_factory)
    c, feats = secure_stream(srv)
    assert feats.find(q(NS_FEATURE, "register")) is not None
    el = c.iq("get", "<query xmlns='%s'/>" % NS_REG)
    assert el.get("type") == "result"
    query = el.find(q(NS_REG, "query"))
    assert query.find(q(NS_REG, "username")) is not None
    assert query.find(q(NS_REG, "password")) is not None
    # The username is nodeprepped: Dave registers as dave.
    el = register(c, "Dave", "dave-secret")
    assert el.get("type") == "result", el.attrib
    # One account per stream.
    el = register(c, "dave2", "dave-secret")
    assert stanza_error(el) == ("modify", "not-acceptable")
    # The same stream goes on to authenticate with the new account.
    assert c.auth_scram("dave", "dave-secret") == "success"
    c.open()
    assert c.bind("here").startswith("dave@")
    assert c.ping().get("type") == "result"
    # Authenticated, the account is registered.
    el = c.iq("get", "<query xmlns='%s'/>" % NS_REG)
    query = el.find(q(NS_REG, "query"))
    assert query.find(q(NS_REG, "registered")) is not None
    assert query.find(q(NS_REG, "username")).text == "dave"
    c.close()


def test_register_errors(server_factory, passwords):
    srv = enabled(server_factory)
    c, _ = secure_stream(srv)
    assert stanza_error(register(c, "alice", "whatever-pw")) == \
        ("cancel", "conflict")
    assert stanza_error(register(c, "erin")) == ("modify", "not-acceptable")
    assert stanza_error(register(c, "erin", "")) == \
        ("modify", "not-acceptable")
    assert stanza_error(register(c, password="erin-secret")) == \
        ("modify", "not-acceptable")
    assert stanza_error(register(c, "erin", "abc")) == \
        ("modify", "not-acceptable")             # min-password-length 6
    assert stanza_error(register(c, "a@b", "erin-secret")) == \
        ("modify", "not-acceptable")
    el = c.iq("set", "<query xmlns='%s'><remove/></query>" % NS_REG)
    assert stanza_error(el)[1] == "unexpected-request"
    c.close()
    # alice's password is untouched by the conflict.
    assert try_login(srv, "alice", passwords["alice"]) == "success"


def test_rate_limit_per_ip(server_factory):
    srv = enabled(server_factory, registrations_per_ip=2,
                  registration_window="1h")
    for i in range(2):
        c, _ = secure_stream(srv)
        el = register(c, "user%d" % i, "secret-%d" % i)
        assert el.get("type") == "result"
        c.close()
    c, _ = secure_stream(srv)
    el = register(c, "user2", "secret-2")
    assert stanza_error(el) == ("wait", "policy-violation")
    c.close()
    assert try_login(srv, "user1", "secret-1") == "success"
    assert try_login(srv, "user2", "secret-2") != "success"


def test_password_change(server, passwords):
    c = RawClient(server.c2s_port)
    c.login("bob", passwords["bob"])
    pw = "<query xmlns='%s'><username>bob</username>" \
         "<password>%s</password></query>"
    el = c.iq("set", pw % (NS_REG, ""))
    assert stanza_error(el) == ("modify", "bad-request")
    el = c.iq("set", "<query xmlns='%s'><username>alice</username>"
              "<password>stolen-pw</password></query>" % NS_REG)
    assert stanza_error(el) == ("cancel", "not-allowed")
    el = c.iq("set", pw % (NS_REG, "bob-new-secret"), to=server.domain)
    assert el.get("type") == "result", el.attrib
    assert el.get("from") == server.domain
    c.close()
    assert try_login(server, "bob", "bob-new-secret") == "success"
    assert try_login(server, "bob", passwords["bob"]) == "not-authorized"
    assert try_login(server, "alice", passwords["alice"]) == "success"


def test_remove_account(server, passwords):
    other = RawClient(server.c2s_port)
    other.login("carol", passwords["carol"], resource="other")
    c = RawClient(server.c2s_port)
    c.login("carol", passwords["carol"], resource="main")
    c.send("<iq type='set' id='unreg1'><query xmlns='%s'><remove/></query>"
           "</iq>" % NS_REG)
    el = c.recv(lambda e: e.tag == q(NS_CLIENT, "iq"))
    assert el.get("id") == "unreg1" and el.get("type") == "result"
    assert c.expect_stream_error() == "not-authorized"
    assert other.expect_stream_error() == "not-authorized"
    c.close()
    other.close()
    assert try_login(server, "carol", passwords["carol"]) == "not-authorized"
    r = server.ctl("users", server.domain)
    assert "carol" not in r.stdout and "alice" in r.stdout


def test_deferred_replies_addressed(server_factory, passwords):
    """Answers that wait for the account store: before authentication on
    the stream itself, without addresses; after it, to the full JID from
    the bare JID when the iq had no 'to' (RFC 6120 8.1.2.1, 10.3.3)."""
    srv = enabled(server_factory, registrations_per_ip=2,
                  registration_window="1h")
    c, _ = secure_stream(srv)
    # Two creations sent at once: one is in flight when the other comes.
    c.send("<iq type='set' id='r-1'><query xmlns='%s'><username>frank"
           "</username><password>frank-secret</password></query></iq>"
           % NS_REG)
    c.send("<iq type='set' id='r-2'><query xmlns='%s'><username>gina"
           "</username><password>gina-secret</password></query></iq>"
           % NS_REG)
    got = {}
    for _ in range(2):
        el = c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                    e.get("type") in ("result", "error"))
        got[el.get("id")] = el
    assert got["r-1"].get("type") == "result", got["r-1"].attrib
    assert got["r-1"].get("to") is None and got["r-1"].get("from") is None
    assert stanza_error(got["r-2"]) == ("modify", "not-acceptable")
    # A stream that leaves before its account is created still counts
    # against its address.
    c2, _ = secure_stream(srv)
    c2.send("<iq type='set' id='r-3'><query xmlns='%s'><username>hank"
            "</username><password>hank-secret</password></query></iq>"
            % NS_REG)
    c2.close()
    assert c.auth_scram("frank", "frank-secret") == "success"
    c.open()
    assert c.bind("desk") == "frank@localhost/desk"
    el = c.iq("set", "<query xmlns='%s'><username>frank</username>"
              "<password>frank-new-secret</password></query>" % NS_REG,
              id_="pw-1")
    assert el.get("type") == "result", el.attrib
    assert (el.get("id"), el.get("to"), el.get("from")) == (
        "pw-1", "frank@localhost/desk", "frank@localhost")
    c.close()
    assert try_login(srv, "frank", "frank-new-secret") == "success"
    deadline = time.monotonic() + 10
    while try_login(srv, "hank", "hank-secret") != "success":
        assert time.monotonic() < deadline, "hank was never registered"
        time.sleep(0.1)
    c3, _ = secure_stream(srv)
    el = register(c3, "ivan", "ivan-secret")
    assert stanza_error(el) == ("wait", "policy-violation")
    c3.close()


def test_deleted_names_are_tombstoned(server_factory, passwords):
    """A deleted account's name is not given to someone else for
    tombstone-ttl (their contacts would trust the newcomer): removal by
    the user (XEP-0077 3.2) and by an admin both leave a tombstone, which
    survives a restart."""
    srv = enabled(server_factory)
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("bob", passwords["bob"])
    r = c.iq("set", "<query xmlns='%s'><remove/></query>" % NS_REG)
    assert r.get("type") == "result"
    c.close()
    srv.ctl_ok("deluser", "carol@localhost")
    srv.restart()
    for name in ("bob", "carol"):
        c, _ = secure_stream(srv)
        r = register(c, name, "new-password")
        assert stanza_error(r)[1] == "conflict", name
        assert "deleted recently" in (r.findtext(
            ".//{urn:ietf:params:xml:ns:xmpp-stanzas}text") or "")
        c.close()
    # Other names are free; an admin may still create a tombstoned one.
    c, _ = secure_stream(srv)
    assert register(c, "dave", "dave-password").get("type") == "result"
    c.close()
    srv.ctl_ok("adduser", "carol@localhost", "carol-again")


def test_tombstone_ttl_zero_frees_names(server_factory, passwords):
    srv = enabled(server_factory, tombstone_ttl="0")
    srv.ctl_ok("deluser", "carol@localhost")
    c, _ = secure_stream(srv)
    assert register(c, "carol", "carol-new-pw").get("type") == "result"
    c.close()
