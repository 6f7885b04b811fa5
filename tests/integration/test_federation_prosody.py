"""Federation with Debian's Prosody 0.12: both directions, as each side's
users see it.  RFC 6120 (s2s streams), RFC 6121 (subscriptions and
presence across domains), XEP-0220 (dialback), XEP-0178 (SASL EXTERNAL).

One Prosody (prosody.example) serves the whole module; each test federates
its own Ember domain (eN.example) through the module's dnsmasq, so neither
server holds a link or a cached answer from another test."""

import itertools
import xml.etree.ElementTree as ET

import pytest

from peers import Prosody
from rawxmpp import NS_CLIENT, RawClient, q
from s2slib import dns, federate  # noqa: F401 (fixture)

PROSODY_DOMAIN = "prosody.example"
_domains = itertools.count(1)


@pytest.fixture(scope="module")
def prosody(dns, tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"), PROSODY_DOMAIN, dns)
    p.adduser("bob", "bob-pw")
    p.adduser("dave", "dave-pw")
    p.start()
    yield p
    p.stop()


@pytest.fixture
def ember(server_factory, dns, prosody, request):
    domain = "e%d.example" % next(_domains)
    srv = server_factory(start=False, domain=domain, plain=True)
    federate(srv, dns)
    srv.start()
    yield srv
    if request.node.rep_call.failed:
        print("==== prosody log ====\n" + prosody.log()[-8000:])


def ember_client(srv, user="alice"):
    c = RawClient(srv.plain_port, domain=srv.domain)
    c.login(user, user + "-secret", resource="r")
    return c


def prosody_client(p, user="bob"):
    c = RawClient(p.c2s_port, domain=p.domain)
    c.login(user, user + "-pw", resource="r")
    return c


def body_of(m):
    b = m.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def test_message_from_ember_to_prosody(ember, prosody):
    a = ember_client(ember)
    b = prosody_client(prosody)
    b.presence()
    a.message("bob@%s/r" % PROSODY_DOMAIN, "hello prosody")
    m = b.recv_message(timeout=20)
    assert body_of(m) == "hello prosody"
    assert m.get("from") == "alice@%s/r" % ember.domain


def test_message_from_prosody_to_ember(ember, prosody):
    a = ember_client(ember)
    a.presence()
    b = prosody_client(prosody)
    b.message("alice@%s/r" % ember.domain, "hello ember")
    m = a.recv_message(timeout=20)
    assert body_of(m) == "hello ember"
    assert m.get("from") == "bob@%s/r" % PROSODY_DOMAIN


NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_ROSTER = "jabber:iq:roster"


def presence_from(c, jid_prefix, type_=None, timeout=20):
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                  e.get("from", "").startswith(jid_prefix) and
                  e.get("type") == type_, timeout=timeout)


def subscribe_mutually(a, b, a_jid, b_jid):
    """a (Ember) and b (Prosody) subscribe to each other (RFC 6121 3)."""
    for x, y, y_jid, x_jid in ((a, b, b_jid, a_jid), (b, a, a_jid, b_jid)):
        x.send("<presence type='subscribe' to='%s'/>" % y_jid)
        y.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
               e.get("type") == "subscribe" and e.get("from") == x_jid,
               timeout=20)
        y.send("<presence type='subscribed' to='%s'/>" % x_jid)


def test_subscriptions_both_ways_then_presence(ember, prosody):
    a = ember_client(ember)
    b = prosody_client(prosody)
    a.presence()
    b.presence()
    alice, bob = "alice@" + ember.domain, "bob@" + PROSODY_DOMAIN
    subscribe_mutually(a, b, alice, bob)
    presence_from(a, bob + "/")
    presence_from(b, alice + "/")
    items = a.iq("get", "<query xmlns='%s'/>" % NS_ROSTER).findall(
        ".//{%s}item" % NS_ROSTER)
    assert [(i.get("jid"), i.get("subscription")) for i in items] == \
        [(bob, "both")]
    b.send("<presence type='unavailable'/>")
    presence_from(a, bob + "/", "unavailable")


def join(c, room_jid, nick):
    c.send("<presence to='%s/%s'><x xmlns='%s'/></presence>"
           % (room_jid, nick, NS_MUC))
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                  e.get("from") == "%s/%s" % (room_jid, nick) and
                  any(s.get("code") == "110"
                      for s in e.iter("{%s}status" % NS_MUC_USER)),
                  timeout=20)


def create_room(c, room_jid, nick):
    """Join as the creator, then accept the default configuration
    (XEP-0045 10.1.2, an instant room): until then the room is locked."""
    join(c, room_jid, nick)
    r = c.iq("set", "<query xmlns='%s#owner'><x xmlns='jabber:x:data' "
             "type='submit'/></query>" % NS_MUC, to=room_jid, timeout=20)
    assert r.get("type") == "result", ET.tostring(r)


def talk_in_a_room(owner, guest, room, owner_nick, guest_nick, text):
    """owner creates the room, guest (on the other server) joins and
    speaks; owner sees the guest arrive and hears what it says."""
    create_room(owner, room, owner_nick)
    join(guest, room, guest_nick)
    presence_from(owner, "%s/%s" % (room, guest_nick))
    guest.send("<message to='%s' type='groupchat'><body>%s</body>"
               "</message>" % (room, text))
    m = owner.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                   e.get("type") == "groupchat" and body_of(e) == text,
                   timeout=20)
    assert m.get("from") == "%s/%s" % (room, guest_nick)


def test_ember_user_in_a_prosody_room(ember, prosody):
    room = "lobby-%s@conference.%s" % (ember.domain.split(".")[0],
                                        PROSODY_DOMAIN)
    talk_in_a_room(prosody_client(prosody), ember_client(ember), room,
                   "bob", "alice", "hi room")


def test_prosody_user_in_an_ember_room(ember, prosody):
    talk_in_a_room(ember_client(ember), prosody_client(prosody),
                   "hall@conference." + ember.domain, "alice", "bob",
                   "from afar")


def test_pep_item_read_across_servers(ember, prosody):
    """XEP-0163: a contact on another server reads a PEP node whose
    access model is presence."""
    a = ember_client(ember)
    b = prosody_client(prosody)
    a.presence()
    b.presence()
    alice, bob = "alice@" + ember.domain, "bob@" + PROSODY_DOMAIN
    subscribe_mutually(a, b, alice, bob)
    presence_from(b, alice + "/")
    r = a.iq("set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
             "<publish node='http://jabber.org/protocol/tune'><item id='t'>"
             "<tune xmlns='http://jabber.org/protocol/tune'><title>Kinds"
             "</title></tune></item></publish></pubsub>")
    assert r.get("type") == "result"
    r = b.iq("get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
             "<items node='http://jabber.org/protocol/tune'/></pubsub>",
             to=alice, timeout=20)
    assert r.get("type") == "result", ET.tostring(r)
    title = r.find(".//{http://jabber.org/protocol/tune}title")
    assert title is not None and title.text == "Kinds"


def test_vcard_of_a_remote_user(ember, prosody):
    b = prosody_client(prosody)
    r = b.iq("set", "<vCard xmlns='vcard-temp'><FN>Bob Builder</FN>"
             "</vCard>")
    assert r.get("type") == "result"
    a = ember_client(ember)
    r = a.iq("get", "<vCard xmlns='vcard-temp'/>",
             to="bob@" + PROSODY_DOMAIN, timeout=20)
    assert r.get("type") == "result", ET.tostring(r)
    fn = r.find(".//{vcard-temp}FN")
    assert fn is not None and fn.text == "Bob Builder"


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    from test_s2s import make_ca
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def strict_prosody(dns, tmp_path_factory, test_ca):
    """A Prosody that takes certificates only (s2s_secure_auth): no
    dialback fallback, so a link stands or falls on SASL EXTERNAL.  It
    also runs mod_s2s_bidi (XEP-0288), which Debian's sample config lists
    commented out."""
    p = Prosody(tmp_path_factory.mktemp("strict"), "strict.example", dns,
                secure_auth=True, ca=test_ca, bidi=True)
    p.adduser("bob", "bob-pw")
    p.start()
    yield p
    p.stop()


def strict_ember(server_factory, dns, test_ca, cert_name=None):
    from test_s2s import use_cert
    from peers import self_signed
    domain = "e%d.example" % next(_domains)
    srv = server_factory(start=False, domain=domain, plain=True)
    federate(srv, dns, dialback="false")
    crt, key = self_signed(srv.root, cert_name or domain, test_ca)
    use_cert(srv, crt, key)
    srv.cfg.find("s2s").set("ca-file", str(test_ca[0]))
    srv.start()
    return srv


def test_sasl_external_with_a_strict_prosody_both_ways(server_factory, dns,
                                                      test_ca,
                                                      strict_prosody):
    """XEP-0178 both ways: Prosody accepts our certificate as a client
    certificate, we accept Prosody's; dialback is off on our side."""
    ember = strict_ember(server_factory, dns, test_ca)
    a = ember_client(ember)
    a.presence()
    b = prosody_client(strict_prosody)
    b.presence()
    a.message("bob@strict.example/r", "certified")
    assert body_of(b.recv_message(timeout=20)) == "certified"
    b.message("alice@%s/r" % ember.domain, "certified too")
    assert body_of(a.recv_message(timeout=20)) == "certified too"
    import json
    links = json.loads(ember.ctl_ok("--json", "s2s").stdout)["links"]
    # With mod_s2s_bidi, Prosody's answer takes the link we opened
    # (XEP-0288) instead of one of its own.
    assert [(l["direction"], l["auth"], l["bidi"]) for l in links] == \
        [("out", "SASL EXTERNAL", True)]
    assert links[0]["stanzas_in"] >= 1


def test_prosody_opens_a_bidi_link_and_our_answer_takes_it(server_factory,
                                                           dns, test_ca,
                                                           strict_prosody):
    """XEP-0288 from the other side: Prosody asks for bidi on the link it
    opens; our answer goes back over it, and we open none."""
    ember = strict_ember(server_factory, dns, test_ca)
    a = ember_client(ember)
    a.presence()
    b = prosody_client(strict_prosody)
    b.presence()
    b.message("alice@%s/r" % ember.domain, "you go first")
    assert body_of(a.recv_message(timeout=20)) == "you go first"
    a.message("bob@strict.example/r", "back on your link")
    assert body_of(b.recv_message(timeout=20)) == "back on your link"
    import json
    links = json.loads(ember.ctl_ok("--json", "s2s").stdout)["links"]
    assert [(l["direction"], l["auth"], l["bidi"]) for l in links] == \
        [("in", "SASL EXTERNAL", True)]
    assert links[0]["stanzas_out"] >= 1


def test_certificate_for_another_name_is_refused_by_prosody(server_factory,
                                                           dns, test_ca,
                                                           strict_prosody):
    ember = strict_ember(server_factory, dns, test_ca,
                         cert_name="impostor.example")
    a = ember_client(ember)
    a.message("bob@strict.example/r", "should bounce")
    err = a.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                 e.get("type") == "error", timeout=30)
    assert err.find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}"
                    "remote-server-not-found") is not None
