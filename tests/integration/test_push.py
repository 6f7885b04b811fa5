"""XEP-0357 push notifications (issue 16): the app server is told when a
message reaches an account whose client cannot get it, without the body
or the sender by default; it is forgotten when it refuses for good.  The
app server here is a client (carol) answering the pubsub publish."""

import time

import pytest

from rawxmpp import NS_CLIENT, RawClient, q, stanza_error

NS_PUSH = "urn:xmpp:push:0"
NS_SM = "urn:xmpp:sm:3"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_DATA = "jabber:x:data"


def fields(notification):
    x = notification.find(q(NS_DATA, "x"))
    return {f.get("var"): f.findtext(q(NS_DATA, "value"))
            for f in x.findall(q(NS_DATA, "field"))}


def next_publish(app, timeout=5):
    iq = app.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                  e.find(q(NS_PUBSUB, "pubsub")) is not None,
                  timeout=timeout)
    pub = iq.find(q(NS_PUBSUB, "pubsub")).find(q(NS_PUBSUB, "publish"))
    note = pub.find(q(NS_PUBSUB, "item")).find(q(NS_PUSH, "notification"))
    return iq, pub, note


def answer(app, iq, error=None):
    if error is None:
        app.send("<iq type='result' id='%s' to='%s'/>"
                 % (iq.get("id"), iq.get("from")))
    else:
        app.send("<iq type='error' id='%s' to='%s'><error type='cancel'>"
                 "<%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                 "</iq>" % (iq.get("id"), iq.get("from"), error))


@pytest.fixture
def push_server(server_factory):
    srv = server_factory(start=False)
    srv.set_limits(resume_timeout="30")
    srv.start()
    return srv


def phone(srv, passwords, options=""):
    """alice's phone: stream management with resumption, push enabled
    with carol's session as the app server."""
    app = RawClient(srv.c2s_port, domain=srv.domain)
    app_jid = app.login("carol", passwords["carol"])
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    c.presence()
    c.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
    c.recv(q(NS_SM, "enabled"))
    r = c.iq("set", "<enable xmlns='%s' jid='%s' node='phone-1'>%s</enable>"
             % (NS_PUSH, app_jid, options))
    assert r.get("type") == "result", stanza_error(r)
    return c, app, app_jid


def log_off_and_call(srv, passwords, phone_client):
    """alice's phone ends its stream: no session is left.  bob, logged
    in, is returned to write to her."""
    phone_client.send("</stream:stream>")
    phone_client.wait_closed()
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    return bob


def test_feature(push_server, passwords):
    c = RawClient(push_server.c2s_port, domain=push_server.domain)
    c.login("alice", passwords["alice"])
    r = c.iq("get", "<query xmlns='http://jabber.org/protocol/"
             "disco#info'/>", to="localhost")
    assert NS_PUSH in {f.get("var") for f in r.iter(
        "{http://jabber.org/protocol/disco#info}feature")}
    c.close()


def test_hibernated_session_wakes_with_a_summary(push_server, passwords):
    """Sections 5 and 8: a message to a session waiting for its resume
    publishes a summary to the node; no body, no sender by default; the
    publish-options of enable go along."""
    srv = push_server
    c, app, _ = phone(srv, passwords, "<x xmlns='%s' type='submit'>"
                      "<field var='FORM_TYPE'><value>http://jabber.org/"
                      "protocol/pubsub#publish-options</value></field>"
                      "<field var='secret'><value>s3cr3t</value></field>"
                      "</x>" % NS_DATA)
    c.close()
    srv.wait_log("waiting 30 s for the client to resume")
    bob = RawClient(srv.c2s_port, domain=srv.domain)
    bob.login("bob", passwords["bob"])
    bob.message("alice@localhost", "secret words")
    iq, pub, note = next_publish(app)
    assert pub.get("node") == "phone-1"
    f = fields(note)
    assert f["FORM_TYPE"] == "urn:xmpp:push:summary"
    assert f["message-count"] == "1"
    assert "last-message-body" not in f and "last-message-sender" not in f
    opts = iq.find(q(NS_PUBSUB, "pubsub")).find(
        q(NS_PUBSUB, "publish-options"))
    assert fields(opts)["secret"] == "s3cr3t"
    answer(app, iq)
    bob.close()
    app.close()


def test_offline_account_wakes_too(push_server, passwords):
    srv = push_server
    c, app, _ = phone(srv, passwords)
    bob = log_off_and_call(srv, passwords, c)
    bob.message("alice@localhost", "are you there")
    iq, _, _ = next_publish(app)
    answer(app, iq)
    # A chat state alone wakes nobody.
    bob.send("<message to='alice@localhost' type='chat'><composing xmlns="
             "'http://jabber.org/protocol/chatstates'/></message>")
    with pytest.raises(TimeoutError):
        next_publish(app, timeout=1)
    bob.close()
    app.close()


def test_body_and_sender_when_the_operator_allows(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("push", **{"include-body": "true",
                              "include-sender": "true"})
    srv.start()
    c, app, _ = phone(srv, passwords)
    bob = log_off_and_call(srv, passwords, c)
    bob.message("alice@localhost", "hello phone")
    iq, _, note = next_publish(app)
    f = fields(note)
    assert f["last-message-body"] == "hello phone"
    assert f["last-message-sender"].startswith("bob@localhost")
    answer(app, iq)
    bob.close()
    app.close()


def test_permanent_error_forgets_the_app_server(push_server, passwords):
    """Section 7: an app server that answers with an error other than
    wait is removed."""
    srv = push_server
    c, app, _ = phone(srv, passwords)
    bob = log_off_and_call(srv, passwords, c)
    bob.message("alice@localhost", "one")
    iq, _, _ = next_publish(app)
    answer(app, iq, error="item-not-found")
    srv.wait_log("registration removed")
    time.sleep(0.3)
    bob.message("alice@localhost", "two")
    with pytest.raises(TimeoutError):
        next_publish(app, timeout=1.5)
    bob.close()
    app.close()


def test_disable_and_bad_requests(push_server, passwords):
    srv = push_server
    c, app, app_jid = phone(srv, passwords)
    r = c.iq("set", "<enable xmlns='%s' jid='%s'/>" % (NS_PUSH, app_jid))
    assert stanza_error(r)[1] == "bad-request"
    r = c.iq("set", "<disable xmlns='%s' jid='%s' node='phone-1'/>"
             % (NS_PUSH, app_jid))
    assert r.get("type") == "result"
    bob = log_off_and_call(srv, passwords, c)
    bob.message("alice@localhost", "nobody told")
    with pytest.raises(TimeoutError):
        next_publish(app, timeout=1.5)
    bob.close()
    app.close()
