"""The stock Profanity (Debian 12's profanity 0.13.1, with OMEMO) against a
real emberd, driven in tmux as a user drives it: every step is a line typed
at Profanity's prompt, every check is text on its screen.  Profanity runs
with its default settings in its own HOME and XDG directories; the only
option it gets is its own `-l DEBUG`, so that a failure shows the stanzas.

One emberd and one pair of clients (alice, bob) serve the whole module; the
scenarios build on one another in file order (log in, roster, chat, MUC,
OMEMO).  Each scenario runs what it needs that has not run yet, and is
skipped when a step it needs failed in an earlier test.
"""

import hashlib
import re
import ssl
import xml.etree.ElementTree as ET

import pytest

from conftest import PASSWORDS
from harness import EMBERCTL, EMBERD, Server
from profanity_tmux import Profanity, TmuxError, TmuxServer, missing
from rawxmpp import NS_CLIENT, RawClient, q

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_OMEMO = "eu.siacs.conversations.axolotl"

ROOM = "lobby@conference.localhost"
LOG_TAIL = 80
# Profanity's own log: the last stanzas it sent and received.
PROF_LOG_TAIL = 40

# A 71-character OMEMO fingerprint as Profanity shows it: 8 groups of 8.
FP = r"[0-9a-f]{8}(?:-[0-9a-f]{8}){7}"


class Step(AssertionError):
    """A scenario step that failed, with what the users would have seen."""


class Env:
    def __init__(self, srv, tm, alice, bob):
        self.srv = srv
        self.tm = tm
        self.alice = alice
        self.bob = bob
        self.ok = set()
        self.failed = set()
        self.resources = {}
        self.observers = []

    # ---- reporting ----
    def report(self):
        out = [self.alice.dump(), self.bob.dump()]
        for p in (self.alice, self.bob):
            lines = [ln for ln in p.log_text().splitlines()
                     if "SENT:" in ln or "RECV:" in ln or "ERR" in ln or
                     "WRN" in ln]
            out.append("---- profanity.log of %s (last %d stanzas and "
                       "warnings) ----\n%s"
                       % (p.name, PROF_LOG_TAIL,
                          "\n".join(lines[-PROF_LOG_TAIL:])))
        log = self.srv.log().splitlines()
        out.append("---- emberd log (last %d lines) ----\n%s"
                   % (LOG_TAIL, "\n".join(log[-LOG_TAIL:])))
        return "\n\n".join(out)

    def run(self, name, fn):
        """Run step `name` once; skip when it failed in an earlier test."""
        if name in self.ok:
            return
        if name in self.failed:
            pytest.skip("needs step %r, which failed earlier" % name)
        try:
            fn()
        except Exception as e:
            self.failed.add(name)
            raise Step("step %r: %s: %s\n\n%s"
                       % (name, type(e).__name__, e, self.report())) from e
        except BaseException:
            self.failed.add(name)
            raise
        self.ok.add(name)

    # ---- steps ----
    def login(self, p, user):
        jid = "%s@%s" % (user, self.srv.domain)
        p.type("/connect %s server 127.0.0.1 port %d"
               % (jid, self.srv.c2s_port))
        p.wait_for(r"Enter password:")
        p.type(PASSWORDS[user])
        # The self-signed certificate: Profanity shows it and asks.  A
        # careful user compares the fingerprint with the server's.
        p.wait_for(r"Use '/tls allow' to accept this certificate")
        shown = p.wait_for(r"Fingerprint\s*:\s*([0-9a-f]{40})").group(1)
        assert shown == cert_sha1(self.srv), \
            "Profanity shows certificate %s, the server's is %s" \
            % (shown, cert_sha1(self.srv))
        p.type("/tls allow")
        m = p.wait_for(r"%s/(\S+) logged in successfully, online"
                       % re.escape(jid))
        self.resources[user] = m.group(1)
        # A fresh account has no OMEMO keys yet: Profanity says so right
        # after the login.
        p.wait_for(r"OMEMO: cannot publish crypto materials before they "
                   r"are generated")

    def login_both(self):
        self.login(self.alice, "alice")
        self.login(self.bob, "bob")

    def roster(self):
        a, b = self.alice, self.bob
        for p in (a, b):
            p.type("/win 1")
        a.type("/roster add bob@localhost")
        a.wait_for(r"Roster item added: bob@localhost")
        a.type("/sub request bob@localhost")
        a.wait_for(r"Sent subscription request to bob@localhost\.")
        b.wait_for(r"Received authorization request from alice@localhost")
        b.type("/sub allow alice@localhost")
        b.wait_for(r"Accepted subscription for alice@localhost")
        # RFC 6121 3.1.5: approving creates bob's item, subscription from.
        b.wait_for(r"Roster item added: alice@localhost")
        a.wait_for(r"Subscription received from bob@localhost")
        # 3.1.6: the approval is followed by bob's current presence.
        a.wait_for(r"\+\+ bob@localhost \(%s\) is online"
                   % re.escape(self.resources["bob"]))
        a.type("/roster")
        a.wait_for(r"bob@localhost - to\b")
        b.type("/roster")
        b.wait_for(r"alice@localhost - from\b")

    def chat(self):
        a, b = self.alice, self.bob
        hello = "hello bob, alice here"
        a.type("/msg bob@localhost %s" % hello)
        a.wait_for(r"- me: %s" % re.escape(hello))
        # Bob opens the chat window with alice, as its notice says.
        b.type("/msg alice@localhost")
        b.wait_for(r"- alice@localhost(?:/\S+)?: %s" % re.escape(hello))
        reply = "hi alice, bob answering"
        b.type(reply)
        b.wait_for(r"- me: %s" % re.escape(reply))
        a.wait_for(r"- bob@localhost(?:/\S+)?: %s" % re.escape(reply))

    def muc(self):
        a, b = self.alice, self.bob
        a.type("/join %s" % ROOM)
        # XEP-0045 10.1.2: a new room stays locked until its owner
        # configures it; Profanity offers the defaults.
        a.wait_for(r"Room locked, requires configuration")
        a.type("/room accept")
        a.wait_for(r"Room unlocked")
        b.type("/join %s" % ROOM)
        b.wait_for(r"-> You have joined the room as bob, role: participant")
        # Profanity does not print occupants' joins by default: bob shows
        # up in the occupants panel, under Participants.
        a.wait_for(r"Participants *\n.* bob *$", flags=re.M)
        text = "groupchat hello from alice"
        a.type(text)
        a.wait_for(r"- alice: %s" % re.escape(text))
        b.wait_for(r"- alice: %s" % re.escape(text))
        reply = "groupchat reply from bob"
        b.type(reply)
        a.wait_for(r"- bob: %s" % re.escape(reply))

    def omemo(self):
        a, b = self.alice, self.bob
        ids = {}
        for p in (a, b):
            p.type("/win 1")
            p.type("/omemo gen")
        for p in (a, b):
            ids[p.name] = p.wait_for(
                r"Your Device ID is (\d+)\.", timeout=20).group(1)
            # A fresh account has no device list: Profanity publishes its
            # first one only when the query's error carries code="404"
            # (XEP-0086; doc/interop.md).
            try:
                p.wait_for(r"Could not find own OMEMO device ID\. Going to "
                           r"publish own device ID: %s" % ids[p.name])
            except TmuxError as e:
                raise TmuxError("%s (Profanity publishes its first device "
                                "list only after an item-not-found with "
                                "code='404' for its own list)" % e) from None
        b.type("/omemo fingerprint")
        fp = b.wait_for(r"Your OMEMO fingerprint: (%s)" % FP).group(1)

        # A second resource of bob's, carbons on, no presence: it sees the
        # message as it went over the wire, and Profanity never sees it.
        wire = RawClient(self.srv.c2s_port, domain=self.srv.domain)
        self.observers.append(wire)
        wire.login("bob", PASSWORDS["bob"], resource="wire")
        r = wire.iq("set", "<enable xmlns='%s'/>" % NS_CARBONS)
        assert r.get("type") == "result", ET.tostring(r)

        a.type("/omemo start bob@localhost")
        a.wait_for(r"bob@localhost \[\w+\] \[OMEMO\]")
        # Alice's client learns bob's devices and bundle from his PEP; it
        # may take a round trip or two, so she asks again until it shows.
        a.type("/omemo fingerprint bob@localhost")
        a.wait_for(r"bob@localhost's OMEMO fingerprint: %s" % fp,
                   every=2.0, resend="/omemo fingerprint bob@localhost")
        a.type("/omemo trust bob@localhost %s" % fp)
        a.wait_for(r"bob@localhost's OMEMO fingerprint: %s \(trusted\)" % fp)

        text = "omemo secret for bob only"
        a.type(text)
        # "~" is Profanity's default mark of an OMEMO message.
        a.wait_for(r"~ me: %s" % re.escape(text))
        b.type("/msg alice@localhost")
        b.wait_for(r"~ alice@localhost(?:/\S+)?: %s" % re.escape(text))
        screen = b.screen()
        assert "decrypt" not in screen.lower(), "bob's screen reports a " \
            "decryption problem"

        # On the wire: OMEMO, a key for bob's device, no plaintext.
        # (Chat states and receipts come as carbons too: the first one
        # with content is the message.)
        def carried(e):
            if e.tag != q(NS_CLIENT, "message"):
                return None
            return e.find("%s/%s/%s" % (q(NS_CARBONS, "received"),
                                        q(NS_FORWARD, "forwarded"),
                                        q(NS_CLIENT, "message")))

        def is_content(e):
            m = carried(e)
            return m is not None and (
                m.find(q(NS_OMEMO, "encrypted")) is not None or
                m.find(q(NS_CLIENT, "body")) is not None)
        carbon = wire.recv(is_content, timeout=5)
        raw = ET.tostring(carbon, encoding="unicode")
        assert text not in raw, "the plaintext went over the wire:\n" + raw
        msg = carried(carbon)
        enc = msg.find(q(NS_OMEMO, "encrypted"))
        assert enc is not None, "no OMEMO payload:\n" + raw
        header = enc.find(q(NS_OMEMO, "header"))
        assert header is not None and header.get("sid") == ids["alice"], raw
        rids = [k.get("rid") for k in header.findall(q(NS_OMEMO, "key"))]
        assert ids["bob"] in rids, raw
        assert enc.findtext(q(NS_OMEMO, "payload")), raw


def cert_sha1(srv):
    pem = (srv.dir / "data" / "tls" / "cert.pem").read_text()
    first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
    return hashlib.sha1(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    why = missing()
    if why:
        pytest.skip(why)
    if not EMBERD.exists() or not EMBERCTL.exists():
        pytest.fail("%s not built (EMBER_BUILD names the build directory)"
                    % EMBERD, pytrace=False)
    root = tmp_path_factory.mktemp("profanity")
    (root / "srv").mkdir()
    srv = Server(root / "srv")
    srv.set_log("debug")
    for user in ("alice", "bob"):
        srv.adduser(user, PASSWORDS[user])
    srv.start()
    tm = TmuxServer(root / "tmux")
    e = Env(srv, tm,
            Profanity(tm, "alice", root / "alice", log_level="DEBUG"),
            Profanity(tm, "bob", root / "bob", log_level="DEBUG"))
    try:
        e.alice.start()
        e.bob.start()
        yield e
    finally:
        for o in e.observers:
            o.close()
        tm.kill()
        srv.stop()
        mark = srv.sanitizer_report()
        if mark:
            print(srv.log())
            pytest.fail("sanitizer report in emberd log: %s" % mark,
                        pytrace=False)


def test_login(env):
    """Both accounts log in over STARTTLS, accepting the self-signed
    certificate at Profanity's prompt."""
    env.run("login", env.login_both)


def test_roster_subscription(env):
    """alice adds bob and asks for his presence; bob approves."""
    env.run("login", env.login_both)
    env.run("roster", env.roster)


def test_chat(env):
    env.run("login", env.login_both)
    env.run("chat", env.chat)


def test_muc(env):
    env.run("login", env.login_both)
    env.run("muc", env.muc)


def test_omemo(env):
    """Both generate keys, alice trusts bob's fingerprint and starts OMEMO:
    the message reaches bob's window decrypted, and the wire carried only
    ciphertext."""
    env.run("login", env.login_both)
    env.run("omemo", env.omemo)
