"""nbxmpp (Gajim's XMPP library, Debian's python3-nbxmpp) against a real
emberd, configured as Gajim configures it for an account with a custom
host: the domain, username, password and resource, the host and port with
STARTTLS, and the server's self-signed certificate as the one the user
accepted.  Everything else (SASL mechanisms, stream management, pings) is
nbxmpp's default.  A failure shows the XML nbxmpp sent and received.
"""

import time
import xml.etree.ElementTree as ET

import pytest

gi = pytest.importorskip("gi")
nbxmpp = pytest.importorskip("nbxmpp")

from gi.repository import Gio, GLib  # noqa: E402
from nbxmpp.client import Client  # noqa: E402
from nbxmpp.const import ConnectionProtocol, ConnectionType  # noqa: E402
from nbxmpp.const import StreamState  # noqa: E402
from nbxmpp.namespaces import Namespace  # noqa: E402
from nbxmpp.protocol import JID, Message, Presence  # noqa: E402
from nbxmpp.structs import StanzaHandler  # noqa: E402

from muclib import Occ, body  # noqa: E402
from rawxmpp import RawClient  # noqa: E402

TIMEOUT = 10.0
XML_TAIL = 40


def cert_file(srv):
    return srv.dir / "data" / "tls" / "cert.pem"


class NbClient:
    """One nbxmpp Client, and the XML it exchanged."""

    def __init__(self, srv, user, password, resource="nbxmpp",
                 accept_cert=True):
        self.srv = srv
        self.wire = []
        self.sent = []
        self.messages = []
        self.presences = []
        self.logged_in = False
        self.failed = None
        c = self.client = Client(log_context=user)
        c.set_domain(srv.domain)
        c.set_username(user)
        c.set_password(password)
        c.set_resource(resource)
        c.set_custom_host("127.0.0.1:%d" % srv.c2s_port,
                          ConnectionProtocol.TCP, ConnectionType.START_TLS)
        if accept_cert:
            c.set_accepted_certificates(
                [Gio.TlsCertificate.new_from_file(str(cert_file(srv)))])
        c.subscribe("connected", self._on_login)
        c.subscribe("connection-failed", self._on_failed)
        c.subscribe("disconnected", self._on_failed)
        c.subscribe("stanza-sent", self._on_wire)
        c.subscribe("stanza-received", self._on_wire)
        c.register_handler(StanzaHandler(name="message",
                                         callback=self._on_message))
        c.register_handler(StanzaHandler(name="presence",
                                         callback=self._on_presence))

    # ---- signals ----
    def _on_login(self, _client, _signal):
        self.logged_in = True

    def _on_failed(self, client, signal):
        if self.failed is None:
            self.failed = "%s: %s" % (signal, client.get_error())

    def _on_wire(self, _client, signal, data):
        self.wire.append((signal, str(data)))
        if signal == "stanza-sent":
            self.sent.append(data)

    def _on_message(self, _client, _stanza, properties):
        self.messages.append(properties)

    def _on_presence(self, _client, stanza, properties):
        self.presences.append((stanza, properties))

    # ---- main loop ----
    def xml(self):
        return "\n".join("%s: %s" % (s, d) for s, d in self.wire[-XML_TAIL:])

    def until(self, cond, what, timeout=TIMEOUT, failing_ok=False):
        ctx = GLib.MainContext.default()
        # Wakes iteration(True) up so that the deadline is checked.
        tick = GLib.timeout_add(50, lambda: True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                r = cond()
                if r:
                    return r
                if self.failed and not failing_ok:
                    raise AssertionError(
                        "%s: nbxmpp %s\n---- XML (last %d) ----\n%s"
                        % (what, self.failed, XML_TAIL, self.xml()))
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "%s: nothing within %.0f s\n---- XML (last %d) ----\n%s"
                        % (what, timeout, XML_TAIL, self.xml()))
                ctx.iteration(True)
        finally:
            GLib.source_remove(tick)

    def login(self):
        self.client.connect()
        self.until(lambda: self.logged_in, "login")
        return self

    def online(self):
        """Login, then the initial presence Gajim sends after it."""
        self.login()
        self.send(Presence())
        return self

    def request(self, start, what, *args):
        """The result of an nbxmpp iq task: start(*args, callback=...)."""
        done = []

        # nbxmpp clears a task's result once its callbacks ran, and holds
        # them by weak reference: this frame keeps on_done alive.
        def on_done(task):
            try:
                done.append(("ok", task.finish()))
            except Exception as e:
                done.append(("error", e))
        start(*args, callback=on_done)
        self.until(lambda: done, what)
        kind, value = done[0]
        if kind == "error":
            raise AssertionError("%s: %r\n---- XML (last %d) ----\n%s"
                                 % (what, value, XML_TAIL, self.xml()))
        return value

    def send(self, stanza):
        """Send, and run the main loop until nbxmpp has written it."""
        self.client.send_stanza(stanza)
        self.until(lambda: any(s is stanza for s in self.sent), "sending")

    def message_from(self, bare, type_="chat"):
        for m in self.messages:
            if (m.jid is not None and m.jid.bare == bare and m.body and
                    m.type.value == type_):
                return m
        return None

    def close(self):
        if self.client.state not in (StreamState.DISCONNECTED,
                                     StreamState.DISCONNECTING):
            self.client.disconnect()
            self.until(lambda: self.client.state == StreamState.DISCONNECTED,
                       "disconnect", timeout=5, failing_ok=True)


@pytest.fixture
def nb(server, passwords):
    made = []

    def mk(user="alice", **kw):
        c = NbClient(server, user, passwords[user], **kw)
        made.append(c)
        return c
    yield mk
    for c in made:
        c.close()


@pytest.fixture
def raw(server, passwords):
    made = []

    def mk(user, resource="raw"):
        c = RawClient(server.c2s_port, server.domain)
        c.login(user, passwords[user], resource=resource)
        made.append(c)
        return c
    yield mk
    for c in made:
        c.close()


def sent_auth_mechanism(c):
    for signal, data in c.wire:
        if signal == "stanza-sent" and "<auth " in data:
            return ET.fromstring(data).get("mechanism")
    return None


def test_login_scram_over_starttls(server, nb):
    a = nb("alice").login()
    cl = a.client
    assert cl.is_stream_secure
    assert cl.current_connection_type == ConnectionType.START_TLS
    mech = sent_auth_mechanism(a)
    assert mech is not None and mech.startswith("SCRAM-SHA-"), \
        "nbxmpp authenticated with %r\n%s" % (mech, a.xml())
    bound = cl.get_bound_jid()
    assert bound.bare == "alice@localhost" and bound.resource == "nbxmpp"
    pinned = Gio.TlsCertificate.new_from_file(str(cert_file(server)))
    assert cl.peer_certificate[0].is_same(pinned)


def test_unaccepted_certificate_stops_login(server, nb):
    a = nb("alice", accept_cert=False)
    a.client.connect()
    a.until(lambda: a.failed, "the certificate check", failing_ok=True)
    assert not a.logged_in
    assert a.client.get_error()[1] == "bad certificate"


def test_wrong_password_is_refused(server, nb):
    a = NbClient(server, "alice", "not-the-password")
    try:
        a.client.connect()
        a.until(lambda: a.failed, "the refusal", failing_ok=True)
        assert not a.logged_in
        assert a.client.get_error()[1] == "not-authorized", a.xml()
    finally:
        a.close()


def test_roster_fetch(server, nb, raw):
    other = raw("alice", resource="phone")
    r = other.iq("set", "<query xmlns='jabber:iq:roster'>"
                 "<item jid='bob@localhost' name='Bob'><group>Friends</group>"
                 "</item></query>")
    assert r.get("type") == "result"
    a = nb("alice").login()
    roster = a.request(a.client.get_module("Roster").request_roster,
                       "roster get")
    items = {str(i.jid): i for i in roster.items}
    assert set(items) == {"bob@localhost"}
    bob = items["bob@localhost"]
    assert bob.name == "Bob"
    assert set(bob.groups) == {"Friends"}
    assert bob.subscription == "none"


def test_chat_both_ways(server, nb, raw):
    b = raw("bob")
    b.presence()
    a = nb("alice").online()
    a.send(Message(to=JID.from_string("bob@localhost"),
               body="hello bob, from nbxmpp", typ="chat"))
    m = b.recv_message()
    assert m.get("from") == "alice@localhost/nbxmpp"
    assert m.get("type") == "chat"
    assert body(m) == "hello bob, from nbxmpp"
    b.message("alice@localhost", "hello alice, from bob")
    got = a.until(lambda: a.message_from("bob@localhost"),
                  "bob's reply")
    assert got.body == "hello alice, from bob"
    assert str(got.jid) == "bob@localhost/raw"


def test_muc_join_and_room_message(server, nb, passwords):
    owner = Occ(server, "bob", passwords["bob"])
    try:
        room = owner.room("lobby")
        owner.create("lobby", "bob")
        a = nb("alice").online()
        join = Presence(to=JID.from_string(room + "/alice"))
        join.setTag("x", namespace=Namespace.MUC)
        a.send(join)

        def self_presence():
            for _stanza, props in a.presences:
                if (props.jid is not None and str(props.jid) == room +
                        "/alice" and props.muc_user is not None and
                        props.muc_status_codes and
                        110 in {int(c.value) for c in
                                props.muc_status_codes}):
                    return props
            return None
        me = a.until(self_presence, "alice's self-presence from the room")
        assert me.type.is_available
        owner.recv_presence("lobby")     # alice's arrival
        owner.say("lobby", "welcome to the lobby")
        got = a.until(lambda: a.message_from(room, "groupchat"),
                      "the room's message")
        assert got.body == "welcome to the lobby"
        assert str(got.jid) == room + "/bob"
        assert got.from_muc
    finally:
        owner.close()


def test_disco_info_of_the_server(server, nb):
    a = nb("alice").login()
    info = a.request(a.client.get_module("Discovery").disco_info,
                     "disco#info of the server", server.domain)
    idents = {(i.category, i.type) for i in info.identities}
    assert ("server", "im") in idents
    assert info.supports(Namespace.DISCO_INFO)
    assert info.supports(Namespace.DISCO_ITEMS)
