"""Federation with Debian's ejabberd: messages both ways and a
subscription, over dialback (ejabberd's mod_s2s_dialback) with STARTTLS
required on both sides.  One ejabberd (ej.example) serves the module;
each test federates its own Ember domain."""

import itertools

import pytest

from peers import Ejabberd
from rawxmpp import NS_CLIENT, RawClient, q
from s2slib import dns, federate  # noqa: F401 (fixture)

EJ_DOMAIN = "ej.example"
_domains = itertools.count(1)


@pytest.fixture(scope="module")
def ejabberd(dns, tmp_path_factory):
    e = Ejabberd(tmp_path_factory.mktemp("ejabberd"), EJ_DOMAIN, dns)
    e.start()
    e.adduser("bob", "bob-pw")
    yield e
    e.stop()


@pytest.fixture
def ember(server_factory, dns, ejabberd, request):
    srv = server_factory(start=False, domain="x%d.example" % next(_domains),
                         plain=True)
    federate(srv, dns)
    srv.start()
    yield srv
    if request.node.rep_call.failed:
        print("==== ejabberd log ====\n" + ejabberd.log()[-8000:])


def clients(ember, ejabberd):
    a = RawClient(ember.plain_port, domain=ember.domain)
    a.login("alice", "alice-secret", resource="r")
    b = RawClient(ejabberd.c2s_port, domain=EJ_DOMAIN)
    b.login("bob", "bob-pw", mech="PLAIN", resource="r")
    a.presence()
    b.presence()
    return a, b


def body_of(m):
    b = m.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def test_messages_both_ways_with_ejabberd(ember, ejabberd):
    a, b = clients(ember, ejabberd)
    a.message("bob@%s/r" % EJ_DOMAIN, "hello ejabberd")
    m = b.recv_message(timeout=30)
    assert body_of(m) == "hello ejabberd"
    assert m.get("from") == "alice@%s/r" % ember.domain
    b.message("alice@%s/r" % ember.domain, "hello ember")
    m = a.recv_message(timeout=30)
    assert body_of(m) == "hello ember"


def test_subscription_with_ejabberd(ember, ejabberd):
    a, b = clients(ember, ejabberd)
    bob = "bob@" + EJ_DOMAIN
    a.send("<presence type='subscribe' to='%s'/>" % bob)
    b.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
           e.get("type") == "subscribe", timeout=30)
    b.send("<presence type='subscribed' to='alice@%s'/>" % ember.domain)
    pres = a.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                  e.get("from", "").startswith(bob + "/") and
                  e.get("type") is None, timeout=30)
    assert pres.get("from") == bob + "/r"
