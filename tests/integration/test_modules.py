"""Modules: disco, ping, version; the loader's ABI checks; unload, reload,
virtual hosts."""

import re
import signal
import time

from rawxmpp import (NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING,
                     NS_VERSION, RawClient, StreamClosed, disco_features,
                     disco_identities, q, stanza_error)
from slix import login, run


def logged_in(server, passwords, user="alice", resource=None, domain=None):
    c = RawClient(server.c2s_port, domain=domain or server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def test_disco_info_items(server, passwords):
    c = logged_in(server, passwords)
    el = c.disco_info()
    assert el.get("type") == "result"
    assert el.get("from") == "localhost"
    assert ("server", "im") in disco_identities(el)
    feats = disco_features(el)
    for f in (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION):
        assert f in feats, (f, feats)
    el = c.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS, to="localhost")
    assert el.get("type") == "result"
    assert el.find(q(NS_DISCO_ITEMS, "query")) is not None
    c.close()


def test_disco_slixmpp(server, passwords):
    async def body():
        c = await login(server, "alice", passwords["alice"])
        try:
            info = await c["xep_0030"].get_info(jid="localhost", timeout=10)
            feats = info["disco_info"]["features"]
            assert NS_PING in feats and NS_VERSION in feats
            ids = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
            assert ("server", "im") in ids
        finally:
            await c.close()
    run(body())


def test_ping_client_to_server(server, passwords):
    c = logged_in(server, passwords)
    el = c.ping()
    assert el.get("type") == "result"
    assert el.get("from") == "localhost"
    c.close()

    async def body():
        cl = await login(server, "bob", passwords["bob"])
        try:
            rtt = await cl["xep_0199"].ping(jid="localhost", timeout=10)
            assert rtt >= 0
        finally:
            await cl.close()
    run(body())


def test_version(server, passwords):
    c = logged_in(server, passwords)
    el = c.iq("get", "<query xmlns='%s'/>" % NS_VERSION, to="localhost")
    assert el.get("type") == "result"
    query = el.find(q(NS_VERSION, "query"))
    name = query.find(q(NS_VERSION, "name"))
    version = query.find(q(NS_VERSION, "version"))
    assert name is not None and name.text
    assert "ember" in name.text.lower()
    assert version is not None and re.match(r"\d+\.\d+", version.text)
    # Only 'get' is defined: a set is refused.
    el = c.iq("set", "<query xmlns='%s'/>" % NS_VERSION, to="localhost")
    assert stanza_error(el) is not None
    c.close()


def _ping_server(server_factory, interval, timeout):
    srv = server_factory(start=False)
    srv.add_module("ping", interval=interval, timeout=timeout)
    srv.start()
    return srv


def test_server_pings_idle_client_that_answers(server_factory, passwords):
    srv = _ping_server(server_factory, "1", "2")
    c = logged_in(srv, passwords)
    # Stay idle: the server's ping must come, and answering keeps us on.
    is_ping = (lambda e: e.tag == q(NS_CLIENT, "iq") and
               e.find(q(NS_PING, "ping")) is not None)
    answered = 0
    # Keep answering for longer than interval + timeout: every ping the
    # server sends in that time gets its answer, and the stream stays up.
    end = time.monotonic() + 6
    while time.monotonic() < end:
        try:
            ping = c.recv(is_ping, timeout=max(0.2, end - time.monotonic()))
        except TimeoutError:
            break
        assert ping.get("type") == "get"
        assert ping.get("from") == "localhost"
        c.send("<iq type='result' id='%s' to='localhost'/>" % ping.get("id"))
        answered += 1
    assert answered >= 2
    assert c.is_open()
    c.sync()
    c.close()


def test_server_pings_slixmpp_client(server_factory, passwords):
    srv = _ping_server(server_factory, "1", "2")

    async def body():
        import asyncio
        cl = await login(srv, "alice", passwords["alice"])
        try:
            await asyncio.sleep(5)     # slixmpp answers pings itself
            rtt = await cl["xep_0199"].ping(jid="localhost", timeout=5)
            assert rtt >= 0
            assert not cl.stream_errors
        finally:
            await cl.close()
    run(body())


def test_server_drops_client_that_does_not_answer(server_factory, passwords):
    srv = _ping_server(server_factory, "1", "1")
    c = logged_in(srv, passwords)
    ping = c.recv(lambda e: e.find(q(NS_PING, "ping")) is not None,
                  timeout=5)
    assert ping is not None
    t0 = time.monotonic()
    try:
        c.wait_closed(timeout=8)
    except TimeoutError:
        raise AssertionError("unanswered ping did not end the session")
    assert time.monotonic() - t0 < 8
    # Others still served.
    d = logged_in(srv, passwords, "bob")
    d.ping()
    d.close()


def _abi_server(server_factory):
    srv = server_factory(start=False)
    srv.add_plugins_dir()
    srv.add_module("abi_major2")
    srv.add_module("abi_newer_minor")
    srv.start()
    return srv


def test_plugin_wrong_abi_refused(server_factory, passwords):
    srv = _abi_server(server_factory)
    log = srv.log()
    lines = log.splitlines()
    major = [l for l in lines if "abi_major2" in l and "ABI" in l]
    assert major, "no log line names abi_major2 and the ABI:\n" + log
    minor = [l for l in lines if "abi_newer_minor" in l and
             re.search(r"AP?I|minor", l)]
    assert minor, "no log line names abi_newer_minor and the API:\n" + log

    r = srv.ctl("modules")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for name in ("abi_major2", "abi_newer_minor"):
        ls = [l for l in out.splitlines() if name in l]
        assert ls and any("fail" in l.lower() for l in ls), (name, out)
    for name in ("disco", "ping", "version"):
        ls = [l for l in out.splitlines() if re.search(r"\b%s\b" % name, l)]
        assert ls and any("loaded" in l for l in ls), (name, out)

    # The server keeps serving, and the refused modules never ran.
    c = logged_in(srv, passwords)
    feats = disco_features(c.disco_info())
    assert "urn:ember:test:abi-major2" not in feats
    assert "urn:ember:test:abi-newer-minor" not in feats
    assert c.ping().get("type") == "result"
    c.close()


def test_plugin_wrong_abi_check_and_reload(server_factory, passwords):
    srv = _abi_server(server_factory)
    # A reload with the same refused modules is not fatal either.
    r = srv.ctl("reload")
    c = logged_in(srv, passwords)
    assert c.ping().get("type") == "result"
    c.close()
    assert srv.running(), r


def module_loaded(srv, name):
    out = srv.ctl_ok("modules").stdout
    return any(re.search(r"\b%s\b" % name, l) and "loaded" in l
               for l in out.splitlines())


def _ping_state(c):
    el = c.ping()
    if el.get("type") == "result":
        return "answered"
    return stanza_error(el)[1]


def test_module_unload_reload_runtime(server, passwords):
    c = logged_in(server, passwords, resource="stay")
    assert _ping_state(c) == "answered"
    assert NS_PING in disco_features(c.disco_info())

    server.remove_module("ping")
    server.save()
    r = server.ctl("reload")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _ping_state(c) == "service-unavailable"
    assert NS_PING not in disco_features(c.disco_info())
    assert not module_loaded(server, "ping")

    server.add_module("ping")
    server.save()
    r = server.ctl("reload")
    assert r.returncode == 0, r.stdout + r.stderr
    assert module_loaded(server, "ping")
    assert _ping_state(c) == "answered"
    assert NS_PING in disco_features(c.disco_info())
    # Same session all along.
    assert c.is_open() and c.jid == "alice@localhost/stay"
    c.close()


def test_sighup_reload(server, passwords):
    c = logged_in(server, passwords)
    server.remove_module("version")
    server.save()
    server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while True:
        el = c.iq("get", "<query xmlns='%s'/>" % NS_VERSION, to="localhost")
        if stanza_error(el) == ("cancel", "service-unavailable"):
            break
        assert time.monotonic() < deadline, "SIGHUP did not unload version"
        time.sleep(0.1)
    assert NS_VERSION not in disco_features(c.disco_info())
    assert c.ping().get("type") == "result"
    assert server.running()
    c.close()


def test_reload_bad_config_keeps_running(server, passwords):
    c = logged_in(server, passwords)
    good = server.config_path.read_text()
    server.config_path.write_text(good.replace("<host ", "<hots ", 1))
    r = server.ctl("reload")
    assert r.returncode != 0
    assert c.ping().get("type") == "result"
    assert server.running()
    server.config_path.write_text(good)
    c.close()


def test_virtual_hosts(server_factory, passwords):
    srv = server_factory(start=False)
    srv.remove_module("version")
    srv.add_host("example.net", modules=("disco", "version"))
    srv.start()
    srv.adduser("dave@example.net", "dave-secret")
    passwords["dave"] = "dave-secret"

    d = RawClient(srv.c2s_port, domain="example.net")
    jid = d.login("dave", "dave-secret")
    assert jid.startswith("dave@example.net/")
    el = d.iq("get", "<query xmlns='%s'/>" % NS_VERSION, to="example.net")
    assert el.get("type") == "result" and el.get("from") == "example.net"
    assert NS_VERSION in disco_features(d.disco_info("example.net"))
    assert NS_PING not in disco_features(d.disco_info("example.net"))

    a = logged_in(srv, passwords)
    el = a.iq("get", "<query xmlns='%s'/>" % NS_VERSION, to="localhost")
    assert stanza_error(el) == ("cancel", "service-unavailable")
    assert NS_VERSION not in disco_features(a.disco_info())

    # Accounts are per host.
    bad = RawClient(srv.c2s_port, domain="example.net")
    bad.open()
    bad.starttls()
    assert bad.auth_scram("alice", passwords["alice"]) == "not-authorized"
    bad.close()
    r = srv.ctl_ok("users", "example.net")
    assert "dave" in r.stdout and "alice" not in r.stdout

    # Users of both hosts talk to each other.
    d.presence(1)
    d.sync()
    a.message("dave@example.net", "cross-host", id_="x1")
    m = d.recv_message()
    assert m.get("id") == "x1" and m.get("from") == a.jid
    a.close()
    d.close()


def test_module_missing_is_reported(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("no_such_module")
    srv.start()
    assert re.search(r"no_such_module.*not found|not found.*no_such_module",
                     srv.log())
    c = logged_in(srv, passwords)
    assert c.ping().get("type") == "result"
    c.close()
    out = srv.ctl_ok("modules").stdout
    assert any("no_such_module" in l and "fail" in l.lower()
               for l in out.splitlines()), out


def test_stream_survives_module_errors(server, passwords):
    # A second connection on the same account keeps working while the
    # first one reloads modules under it.
    a = logged_in(server, passwords, resource="one")
    b = logged_in(server, passwords, resource="two")
    server.remove_module("disco")
    server.save()
    server.ctl_ok("reload")
    el = a.disco_info()
    assert stanza_error(el) == ("cancel", "service-unavailable")
    server.add_module("disco")
    server.save()
    server.ctl_ok("reload")
    assert b.disco_info().get("type") == "result"
    try:
        a.sync()
    except StreamClosed:
        raise AssertionError("reload dropped a session")
    a.close()
    b.close()


PROBE = "urn:ember:test:probe"


def _probe(c):
    el = c.iq("get", "<query xmlns='%s'/>" % PROBE, to="localhost")
    if el.get("type") == "error":
        return stanza_error(el)[1]
    return el.find(q(PROBE, "query")).attrib


def test_unload_releases_everything(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_plugins_dir()
    srv.add_module("probe", tick="2", greeting="first")
    srv.start()
    a = logged_in(srv, passwords, resource="a")
    b = logged_in(srv, passwords, "bob")
    r = _probe(a)
    assert r["greeting"] == "first"
    _probe(b)
    time.sleep(0.1)
    r = _probe(a)
    assert int(r["ticks"]) > 0 and r["sessions"] == "2"
    assert PROBE in disco_features(a.disco_info())

    # Unload while its timer fires every 2 ms and sessions hold its slots.
    srv.remove_module("probe")
    srv.save()
    srv.ctl_ok("reload")
    assert _probe(a) == "service-unavailable"
    assert PROBE not in disco_features(a.disco_info())
    time.sleep(0.3)           # a leftover timer would now run unmapped code
    assert srv.running()
    b.close()                 # a session closing after its slot's module went

    # Back with another option value: a fresh instance.
    srv.add_module("probe", tick="2", greeting="second")
    srv.save()
    srv.ctl_ok("reload")
    r = _probe(a)
    assert r["greeting"] == "second" and r["sessions"] == "1"
    # Reconfigured in place.
    srv.add_module("probe", greeting="third")
    srv.save()
    srv.ctl_ok("reload")
    assert _probe(a)["greeting"] == "third"
    assert a.is_open()
    a.close()


def test_per_host_command_picked_by_host(server_factory):
    srv = server_factory(start=False)
    srv.add_plugins_dir()
    srv.add_module("probe", greeting="here")
    srv.start()
    # One host serves it: no host needed, and a wrong one is named.
    r = srv.ctl("--json", "probe-greeting")
    assert r.returncode == 0 and '"here"' in r.stdout, r.stdout + r.stderr
    r = srv.ctl("probe-greeting", "--host=elsewhere")
    assert r.returncode != 0
    assert "not served on host 'elsewhere'" in r.stdout + r.stderr

    srv.add_host("b.localhost", modules=())
    srv.add_module("probe", host="b.localhost", greeting="there")
    srv.save()
    srv.ctl_ok("reload")
    r = srv.ctl("probe-greeting")
    assert r.returncode != 0 and "several hosts" in r.stdout + r.stderr
    r = srv.ctl_ok("--json", "probe-greeting", "--host=b.localhost")
    assert '"there"' in r.stdout and '"b.localhost"' in r.stdout
    r = srv.ctl_ok("--json", "probe-greeting", "--host=localhost")
    assert '"here"' in r.stdout
