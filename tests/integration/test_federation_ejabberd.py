"""Federation with Debian's ejabberd 23.01: both directions, as each
side's users see it.  RFC 6120 (s2s streams), RFC 6121 (subscriptions and
presence across domains), XEP-0045 (rooms with remote occupants), XEP-0163
(PEP), XEP-0054 (vCard), XEP-0030 (disco), XEP-0220 (dialback), XEP-0178
(SASL EXTERNAL) and RFC 6125 (a certificate for another name).

One ejabberd (ej.example) serves the module; each test federates its own
Ember domain (jN.example) through the module's dnsmasq, so neither server
holds a link or a cached answer from another test.  ejabberd names come
from the same dnsmasq as Ember's (peers.Ejabberd says how)."""

import itertools
import json
import os
import xml.etree.ElementTree as ET

import pytest

from peers import EJABBERDCTL, Ejabberd, self_signed
from rawxmpp import NS_CLIENT, NS_DISCO_INFO, q
from s2slib import dns, federate  # noqa: F401 (fixture)
from test_federation_prosody import (body_of, create_room, ember_client,
                                     join, presence_from, subscribe_mutually,
                                     talk_in_a_room)
# Logs in bob (password bob-pw) at any peer with c2s_port and domain.
from test_federation_prosody import prosody_client as ej_client
from test_s2s import make_ca, use_cert

EJ_DOMAIN = "ej.example"
_domains = itertools.count(1)


def started_ejabberd(domain, dns, **kw):
    """An ejabberd for domain with the user bob, stopped again if it
    cannot be made so: the node must not outlive the module."""
    if not os.path.exists(EJABBERDCTL):
        pytest.fail("ejabberd is not installed (tools/deps.sh test)")
    if os.geteuid() != 0:
        # setpriv to the ejabberd user, unshare --mount, and the dnsmasq
        # on port 53 that resolv.conf can name.
        pytest.skip("the ejabberd peer needs root")
    e = Ejabberd(domain, dns, **kw)
    e.start()
    try:
        e.adduser("bob", "bob-pw")
    except BaseException:
        e.stop()
        raise
    return e


@pytest.fixture(scope="module")
def ejabberd(dns):
    e = started_ejabberd(EJ_DOMAIN, dns)
    yield e
    e.stop()


def new_domain():
    return "j%d.example" % next(_domains)


@pytest.fixture
def ember(server_factory, dns, ejabberd, request):
    srv = server_factory(start=False, domain=new_domain(), plain=True)
    federate(srv, dns)
    srv.start()
    yield srv
    if request.node.rep_call.failed:
        print("==== ejabberd log ====\n" + ejabberd.log()[-8000:])


def subscribed_pair(ember, ejabberd):
    """alice on Ember and bob on ejabberd, online, each subscribed to the
    other (RFC 6121 3), each having seen the other's presence."""
    a = ember_client(ember)
    b = ej_client(ejabberd)
    a.presence()
    b.presence()
    alice, bob = "alice@" + ember.domain, "bob@" + EJ_DOMAIN
    subscribe_mutually(a, b, alice, bob)
    presence_from(a, bob + "/")
    presence_from(b, alice + "/")
    return a, b, alice, bob


def links(srv):
    return json.loads(srv.ctl_ok("--json", "s2s").stdout)["links"]


def test_message_from_ember_to_ejabberd(ember, ejabberd):
    a = ember_client(ember)
    b = ej_client(ejabberd)
    b.presence()
    a.message("bob@%s/r" % EJ_DOMAIN, "hello ejabberd")
    m = b.recv_message(timeout=20)
    assert body_of(m) == "hello ejabberd"
    assert m.get("from") == "alice@%s/r" % ember.domain


def test_message_from_ejabberd_to_ember(ember, ejabberd):
    a = ember_client(ember)
    a.presence()
    b = ej_client(ejabberd)
    b.message("alice@%s/r" % ember.domain, "hello ember")
    m = a.recv_message(timeout=20)
    assert body_of(m) == "hello ember"
    assert m.get("from") == "bob@%s/r" % EJ_DOMAIN


def messages_both_ways(ember, peer, text):
    """alice on Ember and bob on the peer each send the other a message
    and it arrives; the Ember side's links afterwards."""
    a = ember_client(ember)
    a.presence()
    b = ej_client(peer)
    b.presence()
    a.message("bob@%s/r" % peer.domain, text)
    assert body_of(b.recv_message(timeout=20)) == text
    b.message("alice@%s/r" % ember.domain, text + " back")
    assert body_of(a.recv_message(timeout=20)) == text + " back"
    return links(ember)


def test_dialback_with_self_signed_certificates(ember, ejabberd):
    """Neither side can verify the other's self-signed certificate, so
    both links are authenticated by dialback (XEP-0220) over TLS, which
    ejabberd requires (s2s_use_starttls: required)."""
    got = {(l["direction"], l["remote"], l["auth"], l["tls"][:3])
           for l in messages_both_ways(ember, ejabberd, "ping")}
    assert got == {("out", EJ_DOMAIN, "dialback", "TLS"),
                   ("in", EJ_DOMAIN, "dialback", "TLS")}


def test_subscriptions_both_ways_then_presence(ember, ejabberd):
    a, b, alice, bob = subscribed_pair(ember, ejabberd)
    for c, peer in ((a, bob), (b, alice)):
        items = c.iq("get", "<query xmlns='jabber:iq:roster'/>").findall(
            ".//{jabber:iq:roster}item")
        assert [(i.get("jid"), i.get("subscription")) for i in items] == \
            [(peer, "both")]
    b.send("<presence type='unavailable'/>")
    presence_from(a, bob + "/", "unavailable")
    b.close()


def test_ember_user_in_an_ejabberd_room(ember, ejabberd):
    room = "lobby-%s@conference.%s" % (ember.domain.split(".")[0],
                                        EJ_DOMAIN)
    talk_in_a_room(ej_client(ejabberd), ember_client(ember), room,
                   "bob", "alice", "hi room")


def test_ejabberd_user_in_an_ember_room(ember, ejabberd):
    talk_in_a_room(ember_client(ember), ej_client(ejabberd),
                   "hall@conference." + ember.domain, "alice", "bob",
                   "from afar")


def test_ember_room_owner_hears_an_ejabberd_occupant_leave(ember, ejabberd):
    """XEP-0045 7.14: an occupant's unavailable presence reaches the
    others with the occupant's room JID."""
    owner, guest = ember_client(ember), ej_client(ejabberd)
    room = "exit@conference." + ember.domain
    create_room(owner, room, "alice")
    join(guest, room, "bob")
    presence_from(owner, room + "/bob")
    guest.send("<presence to='%s/bob' type='unavailable'/>" % room)
    presence_from(owner, room + "/bob", "unavailable")


PUBSUB = "http://jabber.org/protocol/pubsub"
TUNE = "http://jabber.org/protocol/tune"


def publish_tune(c, title):
    r = c.iq("set", "<pubsub xmlns='%s'><publish node='%s'><item id='t'>"
             "<tune xmlns='%s'><title>%s</title></tune></item></publish>"
             "</pubsub>" % (PUBSUB, TUNE, TUNE, title))
    assert r.get("type") == "result", ET.tostring(r)


def read_tune(c, owner):
    r = c.iq("get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
             % (PUBSUB, TUNE), to=owner, timeout=20)
    assert r.get("type") == "result", ET.tostring(r)
    title = r.find(".//{%s}title" % TUNE)
    return title.text if title is not None else None


def test_pep_items_read_across_servers_both_ways(ember, ejabberd):
    """XEP-0163: a contact on the other server reads a PEP node whose
    access model is presence, in each direction."""
    a, b, alice, bob = subscribed_pair(ember, ejabberd)
    publish_tune(a, "Kinds")
    publish_tune(b, "Sorts")
    assert read_tune(b, alice) == "Kinds"
    assert read_tune(a, bob) == "Sorts"


def test_vcard_of_a_remote_user_both_ways(ember, ejabberd):
    a = ember_client(ember)
    b = ej_client(ejabberd)
    for c, name in ((a, "Alice Archer"), (b, "Bob Builder")):
        r = c.iq("set", "<vCard xmlns='vcard-temp'><FN>%s</FN></vCard>"
                 % name)
        assert r.get("type") == "result", ET.tostring(r)
    for c, jid, name in ((a, "bob@" + EJ_DOMAIN, "Bob Builder"),
                         (b, "alice@" + ember.domain, "Alice Archer")):
        r = c.iq("get", "<vCard xmlns='vcard-temp'/>", to=jid, timeout=20)
        assert r.get("type") == "result", ET.tostring(r)
        fn = r.find(".//{vcard-temp}FN")
        assert fn is not None and fn.text == name


def test_disco_of_the_remote_server_with_slixmpp(ember, ejabberd):
    """XEP-0030 across the link, asked by slixmpp clients: each server
    answers for itself and names its rooms service."""
    from slix import Client, run

    async def go():
        out = {}
        for jid, pw, port, remote in (
                ("alice@%s/s" % ember.domain, "alice-secret",
                 ember.plain_port, EJ_DOMAIN),
                ("bob@%s/s" % EJ_DOMAIN, "bob-pw", ejabberd.c2s_port,
                 ember.domain)):
            c = Client(jid, "x", port)
            c.password = pw
            c["feature_mechanisms"].unencrypted_plain = True
            c.connect(("127.0.0.1", port), disable_starttls=True)
            await c.started
            info = await c["xep_0030"].get_info(jid=remote, timeout=20)
            items = await c["xep_0030"].get_items(jid=remote, timeout=20)
            out[remote] = (set(info["disco_info"]["features"]),
                           {i[0] for i in items["disco_items"]["items"]})
            c.disconnect()
            await c.disconnected
        return out

    out = run(go())
    for domain in (EJ_DOMAIN, ember.domain):
        features, items = out[domain]
        assert NS_DISCO_INFO in features
        assert "conference." + domain in items


# ---- certificates: SASL EXTERNAL (XEP-0178) and mismatches ----

@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def strict_ejabberd(dns, test_ca):
    """An ejabberd without mod_s2s_dialback, trusting the test CA: a link
    stands or falls on SASL EXTERNAL."""
    e = started_ejabberd("strictej.example", dns, secure_auth=True,
                         ca=test_ca)
    yield e
    e.stop()


def strict_ember(server_factory, dns, test_ca, cert_name=None,
                 eku="serverAuth,clientAuth", dialback=False):
    domain = new_domain()
    srv = server_factory(start=False, domain=domain, plain=True)
    federate(srv, dns, dialback=str(dialback).lower())
    crt, key = self_signed(srv.root, cert_name or domain, test_ca, eku)
    use_cert(srv, crt, key)
    srv.cfg.find("s2s").set("ca-file", str(test_ca[0]))
    srv.start()
    return srv


def bounces_to_strict_ejabberd(ember):
    """A message to strictej.example comes back remote-server-not-found
    (RFC 6120 8.3.3.17) and no link is up."""
    a = ember_client(ember)
    a.message("bob@strictej.example/r", "should bounce")
    err = a.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                 e.get("type") == "error", timeout=30)
    assert err.find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}"
                    "remote-server-not-found") is not None
    assert not [l for l in links(ember) if l["state"] == "up"]


def test_sasl_external_with_a_strict_ejabberd_both_ways(server_factory, dns,
                                                       test_ca,
                                                       strict_ejabberd):
    """XEP-0178 both ways: ejabberd accepts our certificate as a client
    certificate, we accept ejabberd's; dialback is off on both sides."""
    ember = strict_ember(server_factory, dns, test_ca)
    got = {(l["direction"], l["auth"])
           for l in messages_both_ways(ember, strict_ejabberd, "certified")}
    assert got == {("out", "SASL EXTERNAL"), ("in", "SASL EXTERNAL")}


def test_certificate_for_another_name_is_refused_by_ejabberd(
        server_factory, dns, test_ca, strict_ejabberd):
    """RFC 6125 6.4: a certificate for impostor.example does not
    identify jN.example; ejabberd refuses SASL EXTERNAL and has no
    dialback to fall back on, so the message bounces."""
    ember = strict_ember(server_factory, dns, test_ca,
                         cert_name="impostor.example")
    bounces_to_strict_ejabberd(ember)


# ---- certificates issued for server authentication only ----
#
# RFC 5280 4.2.1.12: with an extendedKeyUsage extension a certificate is
# for the purposes it lists.  ejabberd's TLS (OpenSSL, which checks a
# client's certificate for the TLS client purpose) then refuses, as a
# client certificate, one that lists serverAuth alone: the initiating
# server cannot use it for SASL EXTERNAL, and dialback must carry the
# link.  Ember requires no purpose (doc/federation.md).

@pytest.fixture(scope="module")
def ca_ejabberd(dns, test_ca):
    """An ejabberd that trusts the test CA, keeps dialback, and holds a
    certificate for server authentication only."""
    e = started_ejabberd("caej.example", dns, ca=test_ca, eku="serverAuth")
    yield e
    e.stop()


def test_server_auth_only_certificates_external_in_dialback_out(
        server_factory, dns, test_ca, ca_ejabberd):
    """Both certificates carry serverAuth only.  Into Ember, ejabberd's
    certificate proves its name: SASL EXTERNAL.  Into ejabberd, Ember's
    is refused for SASL EXTERNAL and Ember falls back to dialback, which
    ejabberd accepts: messages flow both ways all the same."""
    ember = strict_ember(server_factory, dns, test_ca, eku="serverAuth",
                         dialback=True)
    got = {(l["direction"], l["auth"])
           for l in messages_both_ways(ember, ca_ejabberd, "server auth")}
    if got != {("out", "dialback"), ("in", "SASL EXTERNAL")}:
        print("==== ejabberd log ====\n" + ca_ejabberd.log()[-8000:])
    assert got == {("out", "dialback"), ("in", "SASL EXTERNAL")}


def test_server_auth_only_certificate_to_a_strict_ejabberd_is_refused(
        server_factory, dns, test_ca, strict_ejabberd):
    """No dialback to fall back on: the link does not come up and the
    message comes back."""
    ember = strict_ember(server_factory, dns, test_ca, eku="serverAuth")
    bounces_to_strict_ejabberd(ember)
