"""Federation with Debian's Prosody 0.12: both directions, as each side's
users see it.  RFC 6120 (s2s streams), RFC 6121 (subscriptions and
presence across domains), XEP-0220 (dialback), XEP-0178 (SASL EXTERNAL).

One Prosody (prosody.example) serves the whole module; each test federates
its own Ember domain (eN.example) through the module's dnsmasq, so neither
server holds a link or a cached answer from another test."""

import itertools

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
