"""Plugin API minor 3, statement by statement, through a real emberd and
real clients: deferred iqs (iq_defer, iq_answer, iq_fail, iq_event,
iq_origin), session refs and lookups, session_end, the condition names and
command_info.  The module under test is tests/modules/api3_probe.c."""

import json
import time
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import NS_CLIENT, NS_STANZAS, RawClient, q
from slix import login, run

NS = "urn:ember:test:api3"
EVENT = NS + ":defer"

# RFC 6120 8.3.3 and 4.9.3, in the order of plugin-api/ember/errno.h.
CONDS = [
    ("bad-request", "modify"), ("conflict", "cancel"),
    ("feature-not-implemented", "cancel"), ("forbidden", "auth"),
    ("gone", "cancel"), ("internal-server-error", "cancel"),
    ("item-not-found", "cancel"), ("jid-malformed", "modify"),
    ("not-acceptable", "modify"), ("not-allowed", "cancel"),
    ("not-authorized", "auth"), ("policy-violation", "modify"),
    ("recipient-unavailable", "wait"), ("redirect", "modify"),
    ("registration-required", "auth"),
    ("remote-server-not-found", "cancel"),
    ("remote-server-timeout", "wait"), ("resource-constraint", "wait"),
    ("service-unavailable", "cancel"), ("subscription-required", "auth"),
    ("undefined-condition", "cancel"), ("unexpected-request", "wait"),
]
STREAM_CONDS = [
    "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout",
    "host-gone", "host-unknown", "improper-addressing",
    "internal-server-error", "invalid-from", "invalid-namespace",
    "invalid-xml", "not-authorized", "not-well-formed", "policy-violation",
    "remote-connection-failed", "reset", "resource-constraint",
    "restricted-xml", "see-other-host", "system-shutdown",
    "undefined-condition", "unsupported-encoding", "unsupported-feature",
    "unsupported-stanza-type", "unsupported-version",
]


def cond(name):
    return [c for c, _ in CONDS].index(name)


def stream_cond(name):
    return STREAM_CONDS.index(name)


@pytest.fixture
def srv(server_factory):
    s = server_factory(start=False)
    s.add_plugins_dir()
    s.add_module("api3_probe")
    s.start()
    return s


def client(server, passwords, user="alice", resource=None, domain=None):
    c = RawClient(server.c2s_port, domain=domain or server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def cmd(server, *args):
    r = server.ctl("--json", *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return json.loads(r.stdout) if r.stdout.strip() else None


def defer_payload(**attrs):
    a = "".join(" %s='%s'" % (k, v) for k, v in attrs.items())
    return "<defer xmlns='%s'%s/>" % (NS, a)


def send_defer(c, id_, to=None, type_="get", **attrs):
    to_attr = " to='%s'" % to if to else ""
    c.send("<iq type='%s' id='%s'%s>%s</iq>"
           % (type_, id_, to_attr, defer_payload(**attrs)))


def reply(c, id_, timeout=None):
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                  e.get("id") == id_ and
                  e.get("type") in ("result", "error"), timeout=timeout)


def echo(el):
    d = el.find(q(NS, "defer"))
    assert d is not None, ET.tostring(el)
    return d.attrib


def error_of(el):
    """(type, condition, text, namespaces ok) of an error reply."""
    err = el.find(q(NS_CLIENT, "error"))
    assert err is not None, ET.tostring(el)
    conds = [c for c in err if c.tag.startswith("{%s}" % NS_STANZAS) and
             not c.tag.endswith("}text")]
    assert len(conds) == 1, ET.tostring(el)
    text = err.find(q(NS_STANZAS, "text"))
    return (err.get("type"), conds[0].tag.split("}")[1],
            text.text if text is not None else None)


def wait_for(pred, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "never: " + what
        time.sleep(0.05)


def preauth(server):
    """A secure stream, not authenticated."""
    c = RawClient(server.c2s_port, domain=server.domain)
    c.open()
    c.starttls()
    return c


# ---- iq_defer, iq_answer, iq_event, iq_origin ----

def test_deferred_answer_to_host(srv, passwords):
    a = client(srv, passwords, resource="r1")
    send_defer(a, "d1", to="localhost", ms=100)
    el = reply(a, "d1")
    assert el.get("type") == "result"
    assert el.get("to") == a.jid and el.get("from") == "localhost"
    # iq_event, read when the timer fired, still holds the request.
    e = echo(el)
    # iq_module gives back the instance that deferred it.
    assert e == {"id": "d1", "from": a.jid, "to": "localhost",
                 "host": "localhost", "name": "iq-get/host/" + EVENT,
                 "origin": "alive", "module": "same"}
    send_defer(a, "d2", to="localhost", type_="set", ms=20)
    el = reply(a, "d2")
    assert el.get("type") == "result" and el.get("from") == "localhost"
    assert echo(el)["name"] == "iq-set/host/" + EVENT
    a.close()


def test_deferred_answer_without_to_comes_from_bare_jid(srv, passwords):
    # RFC 6120 8.1.2.1 / 10.3.3: no 'to' is the account itself, and the
    # answer comes from the bare JID.
    a = client(srv, passwords, resource="r1")
    bare = a.jid.split("/")[0]
    send_defer(a, "n1", ms=50)
    el = reply(a, "n1")
    assert el.get("type") == "result"
    assert el.get("to") == a.jid and el.get("from") == bare
    e = echo(el)
    assert e["from"] == a.jid and e["id"] == "n1" and e["origin"] == "alive"
    # To the own bare JID explicitly, and to another account's.
    send_defer(a, "n2", to=bare, ms=10)
    el = reply(a, "n2")
    assert el.get("to") == a.jid and el.get("from") == bare
    send_defer(a, "n3", to="bob@localhost", ms=10)
    el = reply(a, "n3")
    assert el.get("type") == "result"
    assert el.get("to") == a.jid and el.get("from") == "bob@localhost"
    assert echo(el)["name"] == "iq-get/bare/" + EVENT
    a.close()


def test_answer_inside_the_handler(srv, passwords):
    a = client(srv, passwords)
    send_defer(a, "i1", to="localhost", now=1)
    el = reply(a, "i1")
    assert el.get("type") == "result" and el.get("to") == a.jid
    assert echo(el)["id"] == "i1"
    a.close()


def test_handles_answered_out_of_order(srv, passwords):
    a = client(srv, passwords)
    for i, ms in enumerate((400, 250, 100, 10)):
        send_defer(a, "o%d" % i, to="localhost", ms=ms)
    got = []
    for _ in range(4):
        el = a.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                    e.get("id", "").startswith("o"))
        assert el.get("type") == "result"
        assert echo(el)["id"] == el.get("id")
        got.append(el.get("id"))
    assert got == ["o3", "o2", "o1", "o0"]
    a.close()


@pytest.mark.parametrize("name", ["bad-request", "forbidden",
                                  "item-not-found", "resource-constraint",
                                  "not-allowed"])
def test_deferred_failure(srv, passwords, name):
    a = client(srv, passwords)
    send_defer(a, "f1", to="localhost", ms=20, fail=cond(name),
               text="why not")
    el = reply(a, "f1")
    assert el.get("type") == "error"
    assert el.get("to") == a.jid and el.get("from") == "localhost"
    assert error_of(el) == (dict(CONDS)[name], name, "why not")
    a.close()


def test_deferred_failure_without_text_and_to(srv, passwords):
    a = client(srv, passwords)
    send_defer(a, "f2", ms=20, fail=cond("conflict"))
    el = reply(a, "f2")
    assert el.get("from") == a.jid.split("/")[0]
    assert error_of(el) == ("cancel", "conflict", None)
    a.close()


def test_deferred_failure_with_application_condition(srv, passwords):
    """RFC 6120 8.3.2: an application-specific condition follows the
    defined one inside <error/> (iq_fail_app)."""
    a = client(srv, passwords)
    send_defer(a, "f3", to="localhost", ms=20, fail=cond("bad-request"),
               app="nodeid-required")
    el = reply(a, "f3")
    err = el.find(q(NS_CLIENT, "error"))
    assert el.get("type") == "error" and err.get("type") == "modify"
    kids = [c.tag for c in err]
    assert kids == [q(NS_STANZAS, "bad-request"), q(NS, "nodeid-required")]
    a.close()


def test_origin_gone_before_the_answer(srv, passwords):
    a = client(srv, passwords, resource="gone")
    send_defer(a, "g1", to="localhost", ms=300)
    a.sync()
    a.close()
    wait_for(lambda: cmd(srv, "api3-state")["answered"] == 1, "answered")
    assert cmd(srv, "api3-state")["last_origin"] == "gone"
    b = client(srv, passwords, resource="gone")
    b.ping()
    assert srv.running()
    b.close()


def test_iq_defer_refuses_a_message(srv, passwords):
    a = client(srv, passwords)
    a.send("<message to='localhost' id='m1'>%s</message>" % defer_payload())
    m = a.recv_message()
    assert m.findtext(q(NS_CLIENT, "body")) == "null"
    a.close()


def test_slixmpp_gets_the_deferred_answer(srv, passwords):
    async def body():
        c = await login(srv, "alice", passwords["alice"])
        try:
            iq = c.make_iq_get(ito="localhost")
            iq.append(ET.fromstring(defer_payload(ms=50)))
            r = await iq.send(timeout=10)
            assert r["type"] == "result" and r["from"] == "localhost"
            assert r["to"] == c.boundjid
            assert r.xml.find(q(NS, "defer")).get("from") == c.boundjid.full
        finally:
            await c.close()
    run(body())


# ---- handles still open when the module goes ----

@pytest.mark.parametrize("how", ["reload", "module-reload"])
def test_open_handle_answered_at_unload(srv, passwords, how):
    a = client(srv, passwords)
    p = preauth(srv)
    send_defer(a, "h1", to="localhost", hold=1)
    send_defer(a, "h2", hold=1)
    send_defer(p, "h3", hold=1)
    a.sync()
    if how == "reload":
        srv.remove_module("api3_probe")
        srv.save()
        srv.ctl_ok("reload")
    else:
        srv.ctl_ok("module-reload", "--name=api3_probe", "--host=localhost")
    el = reply(a, "h1")
    assert el.get("to") == a.jid and el.get("from") == "localhost"
    assert error_of(el) == ("cancel", "service-unavailable", None)
    el = reply(a, "h2")
    assert el.get("from") == a.jid.split("/")[0]
    assert error_of(el)[1] == "service-unavailable"
    el = reply(p, "h3")
    assert el.get("to") is None and el.get("from") is None
    assert error_of(el)[1] == "service-unavailable"
    assert a.is_open() and p.is_open() and srv.running()
    if how == "module-reload":
        send_defer(a, "h4", to="localhost", ms=10)
        assert reply(a, "h4").get("type") == "result"
    a.close()
    p.close()


def test_iq_send_ends_before_unload(srv, passwords):
    """plugin.h iq_send: still waiting when the module unloads, the
    callback gets NULL (as for a timeout) before unload, so the module
    frees what it passed as ud."""
    a = client(srv, passwords)
    send_defer(a, "s1", to="localhost", ask=1)
    a.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and e.get("type") == "get"
           and e.find("{urn:ember:test:unanswered}query") is not None)
    srv.ctl_ok("module-reload", "--name=api3_probe", "--host=localhost")
    assert error_of(reply(a, "s1"))[1] == "service-unavailable"
    log = srv.log()
    assert "api3: iq_send ask ended: no reply" in log, log[-2000:]
    assert log.index("iq_send ask ended") < log.rindex("[api3_probe@"
                                                        "localhost] unloaded")
    a.close()


def test_unload_with_a_timer_pending(srv, passwords):
    # The handle is the timer's ud: both go with the module, and the
    # answer is the core's, never the module's.
    a = client(srv, passwords)
    send_defer(a, "t1", to="localhost", ms=400)
    a.sync()
    srv.remove_module("api3_probe")
    srv.save()
    srv.ctl_ok("reload")
    el = reply(a, "t1")
    assert error_of(el)[1] == "service-unavailable"
    time.sleep(0.6)
    assert srv.running()
    with pytest.raises(TimeoutError):
        reply(a, "t1", timeout=0.3)
    a.close()


def test_open_handles_at_shutdown(srv, passwords):
    a = client(srv, passwords)
    p = preauth(srv)
    send_defer(a, "s1", to="localhost", hold=1)
    send_defer(p, "s2", hold=1)
    send_defer(a, "s3", to="localhost", ms=5000)
    a.sync()
    assert srv.stop() == 0      # exit status 0: no sanitizer report either
    a.close()
    p.close()


# ---- before authentication ----

def test_preauth_deferred_answer_on_the_stream(srv, passwords):
    p = preauth(srv)
    send_defer(p, "p1", ms=100)
    el = reply(p, "p1")
    assert el.get("type") == "result"
    assert el.get("to") is None and el.get("from") is None
    e = echo(el)
    assert "from" not in e and "to" not in e
    assert e["name"] == "iq-get/unauth/" + EVENT and e["origin"] == "alive"
    send_defer(p, "p2", ms=10, fail=cond("not-acceptable"), text="no")
    el = reply(p, "p2")
    assert el.get("to") is None and el.get("from") is None
    assert error_of(el) == ("modify", "not-acceptable", "no")
    # The stream goes on to authenticate as usual.
    assert p.auth_scram("alice", passwords["alice"]) == "success"
    p.open()
    assert p.bind().startswith("alice@localhost/")
    p.close()


def test_preauth_client_gone_before_the_answer(srv, passwords):
    p = preauth(srv)
    send_defer(p, "p3", ms=300)
    time.sleep(0.05)
    p.close()
    wait_for(lambda: cmd(srv, "api3-state")["answered"] == 1, "answered")
    assert cmd(srv, "api3-state")["last_origin"] == "gone"
    p = preauth(srv)
    send_defer(p, "p4", ms=1)
    assert reply(p, "p4").get("type") == "result"
    p.close()


def test_preauth_answer_not_sent_once_authenticated(srv, passwords):
    p = preauth(srv)
    send_defer(p, "p5", ms=1500)
    assert p.auth_scram("alice", passwords["alice"]) == "success"
    p.open()
    p.bind()
    wait_for(lambda: cmd(srv, "api3-state")["answered"] == 1, "answered",
             timeout=10)
    p.ping()
    assert not [e for e in p.pending if e.get("id") == "p5"]
    p.close()


def test_preauth_answer_not_sent_after_sasl_before_bind(srv, passwords):
    # SASL success restarts the stream (RFC 6120 6.4.6): the new stream
    # never saw the request, bound or not.
    p = preauth(srv)
    send_defer(p, "p6", ms=800)
    assert p.auth_scram("alice", passwords["alice"]) == "success"
    p.open()
    wait_for(lambda: cmd(srv, "api3-state")["answered"] == 1, "answered",
             timeout=10)
    p.bind()
    p.ping()
    assert not [e for e in p.pending if e.get("id") == "p6"]
    p.close()


# ---- session_ref, session_get, session_by_jid, session_end ----

def test_session_ref_outlives_its_session(srv, passwords):
    a = client(srv, passwords, resource="r1")
    assert cmd(srv, "api3-ref", a.jid)["ref"] != 0
    assert cmd(srv, "api3-get") == {"alive": True, "jid": a.jid}
    a.stream_end()
    a.wait_closed()
    a.close()
    wait_for(lambda: not cmd(srv, "api3-get")["alive"], "ref released")
    assert cmd(srv, "api3-get") == {"alive": False, "jid": None}
    # The same full JID again is another session: the old ref stays dead.
    b = client(srv, passwords, resource="r1")
    assert b.jid == a.jid
    assert cmd(srv, "api3-get")["alive"] is False
    assert cmd(srv, "api3-lookup", b.jid) == {"found": True, "jid": b.jid}
    b.close()


def test_session_by_jid(srv, passwords):
    a1 = client(srv, passwords, resource="one")
    a2 = client(srv, passwords, resource="two")
    for c in (a1, a2):
        assert cmd(srv, "api3-lookup", c.jid) == {"found": True,
                                                  "jid": c.jid}
    # Prepared like every JID: the node is case-folded.
    assert cmd(srv, "api3-lookup", "ALICE@localhost/one")["jid"] == a1.jid
    for jid in ("alice@localhost", "alice@localhost/three",
                "nobody@localhost/one", "localhost", "alice@elsewhere/one",
                "@@bad"):
        assert cmd(srv, "api3-lookup", jid) == {"found": False,
                                                "jid": None}, jid
    a1.close()
    a2.close()


def test_session_by_jid_any_local_host(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_plugins_dir()
    srv.add_module("api3_probe")
    srv.add_host("example.net")
    srv.start()
    srv.adduser("dave@example.net", "dave-secret")
    d = RawClient(srv.c2s_port, domain="example.net")
    jid = d.login("dave", "dave-secret", resource="x")
    assert cmd(srv, "api3-lookup", jid) == {"found": True, "jid": jid}
    d.close()


def test_session_end_with_stream_error_and_text(srv, passwords):
    a1 = client(srv, passwords, resource="one")
    a2 = client(srv, passwords, resource="two")
    r = cmd(srv, "api3-end", a1.jid, stream_cond("policy-violation"),
            "you were warned")
    # core/xmpp/session.h: a ref is valid "until the close begins".
    assert r == {"alive_after": False}
    assert a1.expect_stream_error() == "policy-violation"
    assert a1.stream_error_text == "you were warned"
    a1.wait_closed()
    a2.ping()
    cmd(srv, "api3-end", a2.jid, stream_cond("conflict"))
    assert a2.expect_stream_error() == "conflict"
    assert a2.stream_error_text is None
    wait_for(lambda: not cmd(srv, "api3-lookup", a2.jid)["found"],
             "session gone")
    a1.close()
    a2.close()


# ---- cond_name, stream_cond_name ----

def test_condition_names(srv):
    r = cmd(srv, "api3-conds")
    assert r["cond_none"] == -1 and r["stream_none"] == -1
    assert r["cond_count"] == len(CONDS)
    assert r["stream_count"] == len(STREAM_CONDS)
    for i, (name, _) in enumerate(CONDS):
        assert r["cond"][str(i)] == name
    for i, name in enumerate(STREAM_CONDS):
        assert r["stream"][str(i)] == name
    for table, count in ((r["cond"], len(CONDS)),
                         (r["stream"], len(STREAM_CONDS))):
        for off in ("-1", "-2", str(count), "-2147483648", "2147483647"):
            assert table[off] is None, off


# ---- command_info ----

def test_command_info(srv):
    r = cmd(srv, "api3-info", "api3-end")
    assert r["info"] is not None and r["info"] == r["listed"]
    info = r["info"]
    assert info["name"] == "api3-end" and info["summary"] == "session_end"
    assert info["permission"] == "admin" and info["host"] == "localhost"
    assert [a["name"] for a in info["args"]][:3] == ["jid", "cond", "text"]
    assert [a["type"] for a in info["args"]][:3] == ["string", "int",
                                                    "string"]
    r = cmd(srv, "api3-info", "kick")
    assert r["info"] is not None and r["info"] == r["listed"]
    assert r["info"]["module"] is None
    assert cmd(srv, "api3-info", "no-such-command") == {"info": None,
                                                       "listed": None}

