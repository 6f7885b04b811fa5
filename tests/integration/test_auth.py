"""Stream negotiation: STARTTLS, direct TLS, SASL (RFC 6120 sections 5, 6)."""

import ssl

import pytest

from rawxmpp import NS_SASL, NS_TLS, RawClient, q
from slix import LoginFailed, login, run

try:
    import OpenSSL.SSL  # noqa: F401  (python3-openssl: tls-exporter)
    HAVE_PYOPENSSL = True
except ImportError:
    HAVE_PYOPENSSL = False


def test_stock_slixmpp_logs_in(server, passwords):
    """Debian 12's slixmpp with its defaults (issue 14): it tries
    SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS with tls-unique, which TLS 1.3
    does not define, then SCRAM flagged 'y', which RFC 5802 makes us
    refuse since we offer -PLUS.  None of that is a wrong password, so the
    stream stays open until it reaches a mechanism that works."""
    async def body():
        c = await login(server, "alice", passwords["alice"])
        try:
            assert c.authenticated
            assert c.boundjid.bare == "alice@localhost"
            assert c.boundjid.resource  # server-generated
            assert c["feature_mechanisms"].mech.name == "PLAIN"
            assert c.stream_errors == []
        finally:
            await c.close()
    run(body())


@pytest.mark.parametrize("mech", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_login(server, passwords, mech):
    c = RawClient(server.c2s_port)
    assert c.login("alice", passwords["alice"], mech=mech).startswith(
        "alice@localhost/")
    c.close()


def test_unsupported_binding_type_is_not_a_failed_login(server, passwords):
    """tls-unique on TLS 1.3, three times: refused each time with a reason,
    never counted as a guess, and the right password still gets in on the
    same stream (three wrong passwords would have closed it)."""
    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"):
        if mech.endswith("-PLUS"):
            r = c.auth_scram("alice", passwords["alice"], mech,
                             cb_name="tls-unique", cb_data=b"\0" * 12)
        else:
            r = c.auth_scram("alice", passwords["alice"], mech, flag="y")
        assert r in ("malformed-request", "not-authorized"), r
    for _ in range(2):
        assert c.auth_scram("alice", passwords["alice"], "SCRAM-SHA-1",
                            flag="y") == "not-authorized"
    assert c.auth_scram("alice", passwords["alice"]) == "success"
    c.close()


def test_features_before_and_after_tls(server):
    c = RawClient(server.c2s_port)
    feats = c.open()
    st = feats.find(q(NS_TLS, "starttls"))
    assert st is not None, "STARTTLS not offered"
    assert st.find(q(NS_TLS, "required")) is not None
    assert "PLAIN" not in RawClient.mechanisms(feats)
    feats = c.starttls()
    assert c.tls_version == "TLSv1.3"
    mechs = RawClient.mechanisms(feats)
    for m in ("SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
              "SCRAM-SHA-256-PLUS", "PLAIN"):
        assert m in mechs, (m, mechs)
    assert feats.find(q(NS_TLS, "starttls")) is None
    c.close()


def test_plain_refused_before_tls(server, passwords):
    c = RawClient(server.c2s_port)
    c.open()
    r = c.auth_plain("alice", passwords["alice"])
    # RFC 6120 6.5.4: the mechanism needs a protected stream.
    assert r == "encryption-required"
    c.close()


def test_plain_after_tls(server, passwords):
    c = RawClient(server.c2s_port)
    jid = c.login("alice", passwords["alice"], mech="PLAIN")
    assert jid.startswith("alice@localhost/")
    c.close()


@pytest.mark.parametrize("mech", ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"])
def test_scram_plus_tls_exporter(server, passwords, mech):
    if not HAVE_PYOPENSSL:
        pytest.skip("python3-openssl is needed to export tls-exporter")
    c = RawClient(server.c2s_port, openssl=True)
    c.open()
    c.starttls()
    assert c.tls_version == "TLSv1.3"
    assert c.auth_scram("alice", passwords["alice"], mech,
                        cb_name="tls-exporter") == "success"
    c.open()
    assert c.bind().startswith("alice@localhost/")
    c.close()


@pytest.mark.parametrize("mech", ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"])
def test_scram_plus_tls_unique_tls12(server, passwords, mech):
    c = RawClient(server.c2s_port, tls_max=ssl.TLSVersion.TLSv1_2)
    c.open()
    feats = c.starttls()
    assert c.tls_version == "TLSv1.2"
    assert mech in RawClient.mechanisms(feats)
    assert c.auth_scram("alice", passwords["alice"], mech,
                        cb_name="tls-unique") == "success"
    c.open()
    assert c.bind().startswith("alice@localhost/")
    c.close()


def test_scram_plus_wrong_binding_refused(server, passwords):
    # What a man in the middle would present: another TLS channel's data.
    c = RawClient(server.c2s_port, tls_max=ssl.TLSVersion.TLSv1_2)
    c.open()
    c.starttls()
    r = c.auth_scram("alice", passwords["alice"], "SCRAM-SHA-1-PLUS",
                     cb_name="tls-unique", cb_data=b"\0" * 12)
    assert r == "not-authorized"
    c.close()


def test_scram_downgrade_flag_refused(server, passwords):
    # gs2 flag 'y' = "client could bind but thinks the server can't": the
    # server offers -PLUS, so RFC 5802 section 6 says fail.
    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    r = c.auth_scram("alice", passwords["alice"], "SCRAM-SHA-1", flag="y")
    assert r == "not-authorized"
    c.close()


def test_direct_tls_alpn(server, passwords):
    c = RawClient(server.tls_port, direct_tls=True, alpn=["xmpp-client"])
    assert c.tls.selected_alpn_protocol() == "xmpp-client"
    feats = c.open()
    assert feats.find(q(NS_TLS, "starttls")) is None
    assert "SCRAM-SHA-256" in RawClient.mechanisms(feats)
    assert c.auth_scram("bob", passwords["bob"], "SCRAM-SHA-256") == "success"
    c.open()
    assert c.bind("desk") == "bob@localhost/desk"
    c.close()


def test_direct_tls_slixmpp(server, passwords):
    async def body():
        c = await login(server, "bob", passwords["bob"], direct_tls=True)
        assert c.boundjid.bare == "bob@localhost"
        await c.close()
    run(body())


def test_wrong_password_then_others_served(server, passwords):
    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    assert c.auth_scram("alice", "not-her-password") == "not-authorized"
    c.close()

    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    assert c.auth_plain("alice", "not-her-password") == "not-authorized"
    c.close()

    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    assert c.auth_scram("nobody", "whatever") == "not-authorized"
    c.close()

    async def body():
        with pytest.raises(LoginFailed):
            bad = await login(server, "alice", "wrong")
            await bad.close()
        c = await login(server, "bob", passwords["bob"])
        assert c.boundjid.bare == "bob@localhost"
        await c.close()
    run(body())


def test_sasl_retry_after_failure(server, passwords):
    # RFC 6120 6.4.5: the client may retry on the same stream.
    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    assert c.auth_scram("alice", "nope") == "not-authorized"
    assert c.auth_scram("alice", passwords["alice"]) == "success"
    c.open()
    assert c.bind().startswith("alice@localhost/")
    c.close()


def test_unknown_mechanism(server):
    c = RawClient(server.c2s_port)
    c.open()
    c.starttls()
    c.sasl_auth("X-NOT-A-MECH", b"abc")
    el = c.recv(lambda e: e.tag == q(NS_SASL, "failure"))
    assert el.find(q(NS_SASL, "invalid-mechanism")) is not None
    c.close()


def test_plaintext_loopback_listener(server_factory, passwords):
    srv = server_factory(plain=True)
    c = RawClient(srv.plain_port)
    feats = c.open()
    st = feats.find(q(NS_TLS, "starttls"))
    assert st is None or st.find(q(NS_TLS, "required")) is None
    mechs = RawClient.mechanisms(feats)
    assert "SCRAM-SHA-1" in mechs and "SCRAM-SHA-256" in mechs
    # No channel to bind to.  (PLAIN may be offered here: the listener is
    # loopback only, for benchmarks.)
    assert not any(m.endswith("-PLUS") for m in mechs)
    assert c.auth_scram("alice", passwords["alice"]) == "success"
    c.open()
    assert c.bind().startswith("alice@localhost/")
    c.sync()
    c.close()
