"""mod_auth_ldap (issue 18): a host's passwords checked by an LDAP
directory through the authentication-provider ABI (ember/auth.h), against
a slapd the test starts (ldap_peer.py).

What is asserted comes from RFC 6120 section 6 (SASL: PLAIN only over TLS
here, the failure conditions not-authorized, temporary-auth-failure,
invalid-mechanism), RFC 4513 (simple bind, StartTLS, ldaps with a checked
certificate), RFC 4515 (a user name is escaped in a search filter) and
XEP-0077 (no in-band registration: service-unavailable; password
changes: not-allowed), and from doc/auth-ldap.md.
"""
import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

import slix
from ldap_peer import ADMINS_DN, SERVICE_DN, SERVICE_PW, SUFFIX, USERS, Slapd
from rawxmpp import NS_CLIENT, NS_SASL, RawClient, q, stanza_error

PEOPLE = "ou=people," + SUFFIX
NS_REGISTER = "jabber:iq:register"


@pytest.fixture
def slapd(tmp_path):
    d = Slapd(tmp_path)
    yield d
    d.close()


def ldap_server(server_factory, slapd, search=False, start=True, **opts):
    """emberd whose host localhost checks passwords with slapd; the core's
    own accounts alice, bob, carol exist too (they must not log in)."""
    srv = server_factory(start=False)
    srv.set_limits(connections_per_second_per_ip=0)
    conf = {"uri": slapd.uri, "timeout": 2, "admin_group": ADMINS_DN}
    if search:
        secret = srv.root / "ldap-bind.secret"
        secret.write_text(SERVICE_PW + "\n")
        conf.update(base=PEOPLE,
                    filter="(&(objectClass=inetOrgPerson)(uid=%u))",
                    bind_dn=SERVICE_DN, bind_password_file=str(secret))
    else:
        conf["user_dn"] = "uid=%u," + PEOPLE
    conf.update(opts)
    srv.add_module("auth_ldap", **conf)
    if start:
        srv.start()
    return srv


def plain(srv, user, password):
    """PLAIN over STARTTLS: 'success' or (condition, text)."""
    c = RawClient(srv.c2s_port)
    try:
        c.open()
        c.starttls()
        r = c.auth_plain(user, password)
        return r if r == "success" else (r, c.last_sasl_text)
    finally:
        c.close()


def plain_sent(srv, user):
    """A client that sent PLAIN with user's directory password and has not
    read the answer yet."""
    c = RawClient(srv.c2s_port)
    c.open()
    c.starttls()
    c.sasl_auth("PLAIN", b"\0" + user.encode() + b"\0" +
                USERS[user].encode())
    return c


def sasl_answer(c, timeout=10):
    """'success' or the condition of the <failure/> c receives."""
    el = c.recv(lambda e: e.tag.startswith("{%s}" % NS_SASL),
                timeout=timeout)
    return "success" if el.tag.endswith("success") else \
        [x.tag.split("}")[1] for x in el][0]


def failures_logged(srv, account):
    return len(re.findall(r"authentication failed from 127\.0\.0\.1 for %s "
                          % re.escape(account), srv.log()))


def test_ldap_user_logs_in_with_plain_over_tls_only(server_factory, slapd,
                                                    passwords):
    srv = ldap_server(server_factory, slapd)
    c = RawClient(srv.c2s_port)
    feats = c.open()
    # RFC 6120 6.4.1 / 13.8: before TLS, no mechanism at all (PLAIN would
    # send the directory password in the clear); after, PLAIN alone: the
    # server holds no SCRAM secrets of directory users.
    assert c.mechanisms(feats) == []
    feats = c.starttls()
    assert c.mechanisms(feats) == ["PLAIN"]
    c.sasl_auth("SCRAM-SHA-1", b"n,,n=ldapalice,r=abcdefgh")
    kind, el, _ = c._sasl_reply()
    assert kind == "failure"
    assert el.find(q(NS_SASL, "invalid-mechanism")) is not None
    c.close()

    async def go():
        # slixmpp as shipped chooses PLAIN itself.
        a = await slix.login(srv, "ldapalice", USERS["ldapalice"])
        assert str(a.boundjid.bare) == "ldapalice@localhost"
        b = await slix.login(srv, "ldapbob", USERS["ldapbob"])
        a.send_message(mto=b.boundjid.full, mbody="from the directory")
        m = await b.recv_message()
        assert m["body"] == "from the directory"
        await a.close()
        await b.close()
    slix.run(go())
    # The core's own account on this host has no say any more.
    assert plain(srv, "alice", passwords["alice"])[0] == "not-authorized"


def test_wrong_and_unknown_refused_and_throttled(server_factory, slapd):
    """Every guess goes through the login throttle before the directory:
    5 free failures, then temporary-auth-failure, even for the right
    password, and the directory never sees a guess held back."""
    srv = ldap_server(server_factory, slapd)
    assert plain(srv, "nosuchuser", "x")[0] == "not-authorized"
    guesses = refused = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        r = plain(srv, "ldapalice", "guess-%d" % (guesses + refused))
        if r[0] == "not-authorized":
            guesses += 1
        else:
            assert r[0] == "temporary-auth-failure", r
            assert re.search(r"try again in \d+ seconds", r[1] or ""), r
            refused += 1
    # One address: 5 free failures (one spent on nosuchuser), then 1 s, 2 s.
    assert 4 <= guesses <= 7, guesses
    assert refused > 0
    assert plain(srv, "ldapalice", USERS["ldapalice"])[0] == \
        "temporary-auth-failure"
    assert slapd.binds("ldapalice") == guesses
    assert failures_logged(srv, "ldapalice@localhost") == guesses
    assert failures_logged(srv, "nosuchuser@localhost") == 1


def test_search_then_bind_escapes_the_filter(server_factory, slapd):
    srv = ldap_server(server_factory, slapd, search=True)
    assert plain(srv, "ldapbob", USERS["ldapbob"]) == "success"
    assert plain(srv, "ldapbob", "wrong")[0] == "not-authorized"
    # RFC 4515: unescaped, (uid=ldapal*) would find ldapalice and her
    # password would log "ldapal*" in; escaped, nobody has that uid.
    for name in ("ldapal*", "*)(uid=ldapalice", "*"):
        assert plain(srv, name, USERS["ldapalice"])[0] == "not-authorized", \
            name
    assert slapd.binds("ldapalice") == 0


def test_admin_group_member_uses_the_console(server_factory, slapd):
    from test_console_api import call
    srv = ldap_server(server_factory, slapd, admin_refresh=1)
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "boss@localhost",
                       "password": USERS["boss"]})
    assert st == 200, doc
    cookie = _cookie(srv, "boss@localhost", USERS["boss"])
    st, _, doc = call(srv, "GET", "/api/v1/commands",
                      headers={"Cookie": cookie})
    assert st == 200, doc
    # The right password of a directory user outside the group: no admin
    # (the console does not tell non-admins from wrong passwords).
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "ldapalice@localhost",
                       "password": USERS["ldapalice"]})
    assert st == 401, doc
    assert slapd.binds("ldapalice") == 1
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "boss@localhost", "password": "wrong"})
    assert st == 401, doc
    # Out of the group: the next login reads the group again.
    slapd.modify("dn: %s\nchangetype: modify\ndelete: member\n"
                 "member: uid=boss,%s\n" % (ADMINS_DN, PEOPLE))
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "boss@localhost",
                       "password": USERS["boss"]})
    assert st == 401, doc
    srv.wait_log(r"boss is no longer in the admin group")


def test_admin_group_member_runs_admin_commands(server_factory, slapd):
    """The group makes admins over XMPP too (XEP-0050/0133 through
    mod_adhoc, which asks api->is_admin)."""
    from test_adhoc import ADMIN, execute, items
    srv = ldap_server(server_factory, slapd)
    boss = RawClient(srv.c2s_port)
    boss.login("boss", USERS["boss"], mech="PLAIN")
    assert ADMIN + "#announce" in items(boss)
    el = execute(boss, "urn:ember:command:status")
    assert el.get("type") == "result", ET.tostring(el)
    boss.close()
    alice = RawClient(srv.c2s_port)
    alice.login("ldapalice", USERS["ldapalice"], mech="PLAIN")
    assert items(alice) == {}
    assert stanza_error(execute(alice, ADMIN + "#announce")) == \
        ("auth", "forbidden")
    alice.close()


def _cookie(srv, jid, password):
    from test_console_api import call
    st, h, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": jid, "password": password})
    assert st == 200, doc
    return h["set-cookie"].split(";")[0]


def test_directory_down_is_a_temporary_failure(server_factory, slapd):
    srv = ldap_server(server_factory, slapd)
    assert plain(srv, "ldapalice", USERS["ldapalice"]) == "success"
    slapd.stop()
    r = plain(srv, "ldapalice", USERS["ldapalice"])
    assert r[0] == "temporary-auth-failure", r
    # Not a guess: nothing counted, nothing for fail2ban.
    assert failures_logged(srv, "ldapalice@localhost") == 0
    srv.wait_log(r"warn.*ldapalice@localhost: ldap could not check")
    slapd.start()
    assert plain(srv, "ldapalice", USERS["ldapalice"]) == "success"


def test_hung_directory_never_stalls_the_server(server_factory, slapd):
    """slapd stopped with SIGSTOP accepts connections and never answers:
    the login waiting for it ends with temporary-auth-failure after the
    timeout, and meanwhile the server serves everyone else."""
    srv = ldap_server(server_factory, slapd)
    a = RawClient(srv.c2s_port)
    a.login("ldapalice", USERS["ldapalice"], mech="PLAIN")
    slapd.stop_signal()
    try:
        b = plain_sent(srv, "ldapbob")
        # b's answer waits on the directory; a is answered at once.
        for _ in range(3):
            assert a.ping().get("type") == "result"
        with pytest.raises(TimeoutError):
            b.recv(timeout=0.5)
        assert sasl_answer(b) == "temporary-auth-failure"
        assert a.ping().get("type") == "result"
        b.close()
    finally:
        slapd.cont()
    # The module dropped the connection that timed out and makes a new one.
    assert plain(srv, "ldapbob", USERS["ldapbob"]) == "success"
    a.close()


def test_hung_directory_during_the_tls_handshake(server_factory, slapd):
    """ldaps to a slapd that accepts the connection and never answers: the
    handshake (which libldap's timeouts do not cover) ends at the timeout
    with temporary-auth-failure, and the server still stops cleanly."""
    srv = ldap_server(server_factory, slapd, uri=slapd.ldaps_uri,
                      ca_file=str(slapd.ca_file))
    slapd.stop_signal()
    try:
        r = plain(srv, "ldapalice", USERS["ldapalice"])
        assert r[0] == "temporary-auth-failure", r
    finally:
        slapd.cont()
    assert plain(srv, "ldapalice", USERS["ldapalice"]) == "success"
    slapd.stop_signal()
    try:
        # A connection is being made when the server stops.
        c = plain_sent(srv, "ldapbob")
        srv.stop()
        c.close()
    finally:
        slapd.cont()


def test_binds_at_once_are_bounded(server_factory, slapd):
    """connections=1, max-pending=1: with the directory hung, one login
    waits on the connection, one in the queue, and the next is told at
    once (temporary-auth-failure) instead of piling up threads."""
    srv = ldap_server(server_factory, slapd, connections=1, max_pending=1,
                      timeout=3)
    slapd.stop_signal()
    clients = []
    try:
        for i, user in enumerate(("ldapalice", "ldapbob", "boss")):
            clients.append(plain_sent(srv, user))
            if i == 0:
                # Let the one thread take the first question off the queue.
                time.sleep(0.5)
        assert sasl_answer(clients[2], timeout=2) == \
            "temporary-auth-failure"
        for c in clients[:2]:
            with pytest.raises(TimeoutError):
                c.recv(timeout=0.3)
    finally:
        slapd.cont()
    # slapd is back within the timeout: the two that waited get through.
    for c in clients[:2]:
        assert sasl_answer(c) == "success"
        c.close()
    clients[2].close()


@pytest.mark.parametrize("tls", ["ldaps", "starttls"])
def test_tls_to_the_directory(server_factory, slapd, tls):
    opts = {"ca_file": str(slapd.ca_file)}
    if tls == "ldaps":
        opts["uri"] = slapd.ldaps_uri
    else:
        opts["starttls"] = "true"
    srv = ldap_server(server_factory, slapd, **opts)
    assert plain(srv, "ldapalice", USERS["ldapalice"]) == "success"
    assert plain(srv, "ldapalice", "wrong")[0] == "not-authorized"


def test_untrusted_directory_certificate_is_refused(server_factory, slapd):
    """Without the test CA, the certificate does not verify: no password
    goes to that server, and the client hears temporary-auth-failure."""
    srv = ldap_server(server_factory, slapd, uri=slapd.ldaps_uri)
    r = plain(srv, "ldapalice", USERS["ldapalice"])
    assert r[0] == "temporary-auth-failure", r
    assert slapd.binds("ldapalice") == 0


def test_registration_and_password_change_refused(server_factory, slapd):
    srv = ldap_server(server_factory, slapd)
    c = RawClient(srv.c2s_port)
    c.open()
    c.starttls()
    # XEP-0077 3.1: no in-band registration here, service-unavailable,
    # for the form and for an attempt.
    el = c.iq("get", "<query xmlns='%s'/>" % NS_REGISTER)
    assert stanza_error(el) == ("cancel", "service-unavailable"), \
        ET.tostring(el)
    el = c.iq("set", "<query xmlns='%s'><username>newbie</username>"
              "<password>pw-newbie</password></query>" % NS_REGISTER)
    assert stanza_error(el) == ("cancel", "service-unavailable"), \
        ET.tostring(el)
    assert "LDAP directory" in ET.tostring(el, encoding="unicode")
    c.close()
    # 3.3: a password change the server does not allow, not-allowed.
    c = RawClient(srv.c2s_port)
    c.login("ldapalice", USERS["ldapalice"], mech="PLAIN")
    el = c.iq("set", "<query xmlns='%s'><username>ldapalice</username>"
              "<password>new-pw</password></query>" % NS_REGISTER,
              to="localhost")
    assert stanza_error(el) == ("cancel", "not-allowed"), ET.tostring(el)
    c.close()
    r = srv.ctl("adduser", "newbie@localhost", "pw-newbie")
    assert r.returncode != 0
    assert "kept by an authentication provider" in r.stdout + r.stderr, r
    assert plain(srv, "ldapalice", USERS["ldapalice"]) == "success"


def test_directory_users_exist_for_delivery(server_factory, slapd):
    """A message to a directory user who is offline is kept (offline
    storage), one to a name the directory does not know bounces with
    service-unavailable (RFC 6121 8.5.2.2.1, 8.5.1)."""
    srv = ldap_server(server_factory, slapd)
    a = RawClient(srv.c2s_port)
    a.login("ldapalice", USERS["ldapalice"], mech="PLAIN")
    a.message("ldapbob@localhost", "kept for later", id_="m1")
    a.message("nobody@localhost", "nobody there", id_="m2")
    err = a.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                 e.get("type") == "error")
    assert err.get("id") == "m2"
    assert stanza_error(err)[1] == "service-unavailable"
    a.close()
    b = RawClient(srv.c2s_port)
    b.login("ldapbob", USERS["ldapbob"], mech="PLAIN")
    b.presence()
    m = b.recv_message()
    assert m.find(q(NS_CLIENT, "body")).text == "kept for later"
    b.close()


def test_the_console_cannot_point_logins_at_another_directory(
        server_factory, slapd):
    """Where passwords go (uri, the DNs, the filter, the admin group) is
    for the config file on disk: an admin in the console who could change
    uri would receive every user's password at a directory of his own."""
    from test_console_api import call
    srv = ldap_server(server_factory, slapd)
    cookie = _cookie(srv, "boss@localhost", USERS["boss"])
    st, _, csrf = call(srv, "GET", "/api/v1/session",
                       headers={"Cookie": cookie})
    before = srv.config_path.read_text()
    for opt, value in (("uri", "ldap://127.0.0.1:1"),
                       ("user-dn", "uid=guest,ou=people,dc=example,dc=org"),
                       ("admin-group", "cn=everyone,dc=example,dc=org")):
        st, _, doc = call(srv, "POST", "/api/v1/commands/module-configure",
                          {"name": "auth_ldap", "host": "localhost",
                           "options": {opt: value}},
                          headers={"Cookie": cookie,
                                   "X-CSRF-Token": csrf["csrf"]})
        assert st == 403, (opt, doc)
        assert "only in the" in doc.get("detail", "") + doc.get(
            "message", ""), doc
    assert srv.config_path.read_text() == before
    info = json.loads(srv.ctl_ok("--json", "module-options", "--name=auth_ldap",
                                 "--host=localhost").stdout)
    kinds = {o["name"]: o["type"] for o in info}
    assert kinds["uri"] == "guarded" and kinds["bind-password-file"] == "path"
