"""Private XML storage (XEP-0049), Last Activity (XEP-0012) and Entity
Time (XEP-0202)."""

import datetime
import re
import time

import pytest

from rawxmpp import RawClient, q, stanza_error
from slix import login, run

NS_PRIVATE = "jabber:iq:private"
NS_LAST = "jabber:iq:last"
NS_TIME = "urn:xmpp:time"

BOOKMARKS = ("<storage xmlns='storage:bookmarks'><conference "
             "jid='council@conference.example' autojoin='true' name='C'/>"
             "</storage>")


def logged_in(server, passwords, user="alice", resource=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def private(c, type_, inner, to=None):
    return c.iq(type_, "<query xmlns='%s'>%s</query>" % (NS_PRIVATE, inner),
                to=to)


def roster_add(srv, user, contact, sub):
    r = srv.ctl("roster-add", srv.jid(user), srv.jid(contact),
                "--subscription=%s" % sub)
    if r.returncode != 0 and "unknown command" in (r.stderr + r.stdout):
        pytest.skip("no roster-add command (mod_roster not built)")
    assert r.returncode == 0, r.stderr


# ---- XEP-0049 ----

def test_private_store_and_retrieve(server_factory, passwords):
    srv = server_factory()
    c = logged_in(srv, passwords)
    el = private(c, "set", BOOKMARKS)
    assert el.get("type") == "result", stanza_error(el)
    # With and without 'to' (the user's own bare JID).
    for to in (None, "alice@localhost"):
        el = private(c, "get", "<storage xmlns='storage:bookmarks'/>", to=to)
        assert el.get("type") == "result", stanza_error(el)
        st = el.find(q(NS_PRIVATE, "query")).find(
            q("storage:bookmarks", "storage"))
        conf = st.find(q("storage:bookmarks", "conference"))
        assert conf.get("jid") == "council@conference.example"
    # Nothing stored under another name: the empty element comes back.
    el = private(c, "get", "<prefs xmlns='urn:example:prefs'/>")
    assert el.get("type") == "result"
    pr = el.find(q(NS_PRIVATE, "query")).find(q("urn:example:prefs", "prefs"))
    assert pr is not None and len(pr) == 0
    # Several fragments in one set, each kept under its own key.
    el = private(c, "set", "<a xmlns='urn:x:a'>1</a><b xmlns='urn:x:b'>2</b>")
    assert el.get("type") == "result"
    el = private(c, "get", "<b xmlns='urn:x:b'/>")
    assert el.find(q(NS_PRIVATE, "query")).find(q("urn:x:b", "b")).text == "2"
    # Another user does not see alice's data.
    b = logged_in(srv, passwords, "bob")
    el = private(b, "get", "<storage xmlns='storage:bookmarks'/>")
    st = el.find(q(NS_PRIVATE, "query")).find(
        q("storage:bookmarks", "storage"))
    assert st is not None and len(st) == 0
    b.close()
    c.close()
    # Kept across a restart.
    srv.restart()
    c = logged_in(srv, passwords)
    el = private(c, "get", "<storage xmlns='storage:bookmarks'/>")
    st = el.find(q(NS_PRIVATE, "query")).find(
        q("storage:bookmarks", "storage"))
    assert st.find(q("storage:bookmarks", "conference")) is not None
    c.close()


def test_private_errors(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("private", max_size=512, max_items=3)
    srv.start()
    c = logged_in(srv, passwords)
    # Another user's storage.
    el = private(c, "get", "<storage xmlns='storage:bookmarks'/>",
                 to="bob@localhost")
    assert stanza_error(el) == ("auth", "forbidden")
    el = private(c, "set", BOOKMARKS, to="bob@localhost")
    assert stanza_error(el) == ("auth", "forbidden")
    # A get names exactly one element.
    assert stanza_error(private(c, "get", ""))[1] == "bad-request"
    el = private(c, "get", "<a xmlns='urn:x:a'/><b xmlns='urn:x:b'/>")
    assert stanza_error(el)[1] == "bad-request"
    # Nothing to store.
    assert stanza_error(private(c, "set", ""))[1] == "not-acceptable"
    # Reserved namespaces.
    for ns in ("jabber:client", "jabber:server", NS_PRIVATE):
        el = private(c, "set", "<x xmlns='%s'/>" % ns)
        assert stanza_error(el) == ("modify", "not-acceptable"), ns
        el = private(c, "get", "<x xmlns='%s'/>" % ns)
        assert stanza_error(el) == ("modify", "not-acceptable"), ns
    # Inheriting the query's namespace is the reserved one too.
    assert stanza_error(private(c, "get", "<x/>"))[1] == "not-acceptable"
    # Size and count limits.
    big = "<big xmlns='urn:x:big'>%s</big>" % ("y" * 600)
    assert stanza_error(private(c, "set", big)) == ("modify",
                                                    "policy-violation")
    for i in range(3):
        el = private(c, "set", "<i%d xmlns='urn:x:i'/>" % i)
        assert el.get("type") == "result"
    el = private(c, "set", "<i9 xmlns='urn:x:i'/>")
    assert stanza_error(el) == ("modify", "policy-violation")
    # Replacing an existing fragment is still allowed.
    el = private(c, "set", "<i0 xmlns='urn:x:i'>again</i0>")
    assert el.get("type") == "result"
    c.close()


def test_private_deferred_replies_addressed(server, passwords):
    """A set of several fragments and a get, both answered after storage:
    to the full JID, with the request's id, from the bare JID when the iq
    had no 'to' (RFC 6120 8.1.2.1, 10.3.3), from its 'to' otherwise."""
    c = logged_in(server, passwords, resource="desk")
    frags = ("<a xmlns='urn:example:a'>1</a><b xmlns='urn:example:b'>2</b>"
             "<c xmlns='urn:example:c'>3</c>")
    el = c.iq("set", "<query xmlns='%s'>%s</query>" % (NS_PRIVATE, frags),
              id_="p-set")
    assert el.get("type") == "result", stanza_error(el)
    assert (el.get("id"), el.get("to"), el.get("from")) == (
        "p-set", "alice@localhost/desk", "alice@localhost")
    for ns, value in (("a", "1"), ("b", "2"), ("c", "3")):
        for to in (None, "alice@localhost"):
            inner = "<%s xmlns='urn:example:%s'/>" % (ns, ns)
            el = c.iq("get", "<query xmlns='%s'>%s</query>"
                      % (NS_PRIVATE, inner), to=to, id_="p-get-" + ns)
            assert el.get("id") == "p-get-" + ns
            assert el.get("to") == "alice@localhost/desk"
            assert el.get("from") == "alice@localhost"
            got = el.find(q(NS_PRIVATE, "query")).find(
                q("urn:example:" + ns, ns))
            assert got is not None and got.text == value
    c.close()


# ---- XEP-0012 ----

def last(c, to):
    el = c.iq("get", "<query xmlns='%s'/>" % NS_LAST, to=to)
    if el.get("type") != "result":
        return stanza_error(el)
    qe = el.find(q(NS_LAST, "query"))
    return int(qe.get("seconds")), qe.text


def test_last_server_uptime(server, passwords):
    c = logged_in(server, passwords)
    secs, text = last(c, "localhost")
    assert 0 <= secs < 60 and not text
    el = c.iq("set", "<query xmlns='%s'/>" % NS_LAST, to="localhost")
    assert stanza_error(el)[1] == "bad-request"
    c.close()

    async def body():
        cl = await login(server, "bob", passwords["bob"])
        try:
            cl.register_plugin("xep_0012")
            r = await cl["xep_0012"].get_last_activity("localhost",
                                                         timeout=10)
            assert 0 <= int(r["last_activity"]["seconds"]) < 60
        finally:
            await cl.close()
    run(body())


def test_last_user(server, passwords):
    srv = server
    roster_add(srv, "alice", "bob", "from")
    bob = logged_in(srv, passwords, "bob")
    carol = logged_in(srv, passwords, "carol")
    a = logged_in(srv, passwords, "alice", resource="home")
    a.presence()
    a.sync()
    # Online: 0 seconds.
    assert last(bob, "alice@localhost") == (0, None)
    # Without a subscription to alice's presence: forbidden, online or not.
    assert last(carol, "alice@localhost") == ("auth", "forbidden")
    assert last(carol, "alice@localhost/home") == ("auth", "forbidden")
    # A subscribed contact's query to a resource reaches the client.
    bob.send("<iq type='get' id='idle1' to='alice@localhost/home'>"
             "<query xmlns='%s'/></iq>" % NS_LAST)
    got = a.recv(lambda e: e.get("id") == "idle1")
    assert got.get("from").startswith("bob@localhost/")
    a.send("<iq type='result' id='idle1' to='%s'><query xmlns='%s' "
           "seconds='42'/></iq>" % (got.get("from"), NS_LAST))
    el = bob.recv(lambda e: e.get("id") == "idle1")
    assert el.find(q(NS_LAST, "query")).get("seconds") == "42"
    assert last(carol, "nobody@localhost") == ("auth", "forbidden")
    a.send("<presence type='unavailable'><status>Heading Home</status>"
           "</presence>")
    a.sync()
    a.stream_end()
    a.close()
    time.sleep(1.2)
    secs, text = last(bob, "alice@localhost")
    assert 1 <= secs < 30 and text == "Heading Home"
    assert last(carol, "alice@localhost") == ("auth", "forbidden")
    bob.close()
    carol.close()
    # Kept across a restart; a user who never logged out has nothing.
    srv.restart()
    srv.adduser("dave", "dave-secret")
    roster_add(srv, "dave", "bob", "both")
    bob = logged_in(srv, passwords, "bob")
    secs, text = last(bob, "alice@localhost")
    assert secs >= 1 and text == "Heading Home"
    assert last(bob, "dave@localhost") == ("cancel", "item-not-found")
    # Alice herself may ask, without 'to' too.
    a = logged_in(srv, passwords, "alice", resource="other")
    assert last(a, "alice@localhost") == (0, None)
    assert last(a, None) == (0, None)
    a.close()
    bob.close()


def test_last_deferred_replies_addressed(server, passwords):
    """A contact's query waits for the roster and the store; its answer
    comes from the account asked, to the asker's full JID, with its id."""
    srv = server
    roster_add(srv, "alice", "bob", "from")
    bob = logged_in(srv, passwords, "bob", resource="lap")
    carol = logged_in(srv, passwords, "carol", resource="tab")
    a = logged_in(srv, passwords, "alice", resource="home")
    a.presence()
    a.sync()
    el = bob.iq("get", "<query xmlns='%s'/>" % NS_LAST,
                to="alice@localhost", id_="l-1")
    assert el.get("type") == "result", stanza_error(el)
    assert (el.get("id"), el.get("to"), el.get("from")) == (
        "l-1", "bob@localhost/lap", "alice@localhost")
    el = carol.iq("get", "<query xmlns='%s'/>" % NS_LAST,
                  to="alice@localhost", id_="l-2")
    assert stanza_error(el) == ("auth", "forbidden")
    assert (el.get("id"), el.get("to"), el.get("from")) == (
        "l-2", "carol@localhost/tab", "alice@localhost")
    # Her own query without 'to' is answered from her bare JID.
    el = a.iq("get", "<query xmlns='%s'/>" % NS_LAST, id_="l-3")
    assert (el.get("id"), el.get("to"), el.get("from")) == (
        "l-3", "alice@localhost/home", "alice@localhost")
    for c in (a, bob, carol):
        c.close()


# ---- XEP-0202 ----

def test_time(server, passwords):
    c = logged_in(server, passwords)
    el = c.iq("get", "<time xmlns='%s'/>" % NS_TIME, to="localhost")
    assert el.get("type") == "result", stanza_error(el)
    t = el.find(q(NS_TIME, "time"))
    tzo = t.find(q(NS_TIME, "tzo")).text
    utc = t.find(q(NS_TIME, "utc")).text
    assert re.fullmatch(r"[+-]\d\d:\d\d", tzo)
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", utc)
    assert m
    then = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    now = datetime.datetime.utcnow()
    assert abs((now - then).total_seconds()) < 10
    el = c.iq("set", "<time xmlns='%s'/>" % NS_TIME, to="localhost")
    assert stanza_error(el)[1] == "bad-request"
    feats = {f.get("var") for f in c.disco_info().iter(
        "{http://jabber.org/protocol/disco#info}feature")}
    for ns in (NS_TIME, NS_LAST, NS_PRIVATE):
        assert ns in feats
    c.close()

    async def body():
        cl = await login(server, "bob", passwords["bob"])
        try:
            cl.register_plugin("xep_0202")
            r = await cl["xep_0202"].get_entity_time("localhost",
                                                      timeout=10)
            # slixmpp 1.8 appends a 'Z' of its own when parsing <utc/>;
            # XEP-0202 requires the server's 'Z': read the text.
            utc = r["entity_time"].xml.find(q(NS_TIME, "utc")).text
            assert utc.endswith("Z")
            assert r["entity_time"].xml.find(q(NS_TIME, "tzo")) is not None
        finally:
            await cl.close()
    run(body())


# ---- XEP-0199 pings of idle clients ----

NS_PING = "urn:xmpp:ping"


def test_silent_client_ends_with_connection_timeout(server_factory,
                                                    passwords):
    srv = server_factory(start=False)
    srv.add_module("ping", interval="1", timeout="1")
    srv.start()
    silent = logged_in(srv, passwords, resource="silent")
    awake = logged_in(srv, passwords, resource="awake")
    is_ping = (lambda e: e.tag == q("jabber:client", "iq") and
               e.find(q(NS_PING, "ping")) is not None)
    # The resource that answers stays; only the silent one is closed, and
    # with the RFC 6120 condition.
    end = time.monotonic() + 4
    while time.monotonic() < end:
        try:
            ping = awake.recv(is_ping,
                              timeout=max(0.2, end - time.monotonic()))
        except TimeoutError:
            break
        awake.send("<iq type='result' id='%s' to='localhost'/>"
                   % ping.get("id"))
    assert silent.expect_stream_error(timeout=5) == "connection-timeout"
    assert awake.is_open()
    awake.close()
