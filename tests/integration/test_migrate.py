"""emberctl export / import: XEP-0227 (Portable Import/Export Format for
XMPP-IM Servers) between Ember instances and from Prosody, and Openfire's
user import file.  Every check is what a client of the importing server
sees: the login with the original password, the roster, the vCard, the
private XML, the offline message, the pending subscription request."""

import base64
import hashlib
import hmac
import os
import re
import stat
import xml.etree.ElementTree as ET

import pytest

from muclib import NS_MUC_ADMIN, Occ, form_fields
from test_mam import body_of, query as mam_query
from peers import PROSODY_MIGRATOR, Ejabberd, Prosody, ejabberd_available
from rawxmpp import NS_CLIENT, RawClient, q, stanza_error

NS_PIE = "urn:xmpp:pie:0"
NS_SCRAM = "urn:xmpp:pie:0#scram"
NS_ROSTER = "jabber:iq:roster"
NS_VCARD = "vcard-temp"
NS_PRIVATE = "jabber:iq:private"
NS_DELAY = "urn:xmpp:delay"

PHOTO = base64.b64encode(bytes(range(200))).decode()
VCARD = ("<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN>"
         "<NICKNAME>alice</NICKNAME><PHOTO><TYPE>image/png</TYPE>"
         "<BINVAL>%s</BINVAL></PHOTO></vCard>" % PHOTO)
PREFS = "<prefs xmlns='urn:example:prefs'><color>blue</color></prefs>"


# ---- what a client sees ----

def login(port, user, password, domain="localhost", mech="SCRAM-SHA-1"):
    c = RawClient(port, domain=domain)
    c.login(user, password, mech=mech)
    return c


def bye(c):
    c.stream_end()
    try:
        c.wait_closed()
    finally:
        c.close()


def roster_of(c):
    el = c.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
    assert el.get("type") == "result", stanza_error(el)
    out = {}
    for it in el.find(q(NS_ROSTER, "query")):
        out[it.get("jid")] = (it.get("name"), it.get("subscription"),
                              it.get("ask"),
                              sorted(g.text for g in it
                                     if g.tag == q(NS_ROSTER, "group")))
    return out


def vcard_of(c):
    el = c.iq("get", "<vCard xmlns='%s'/>" % NS_VCARD)
    assert el.get("type") == "result", stanza_error(el)
    v = el.find(q(NS_VCARD, "vCard"))
    return {ch.tag.split("}")[1]: (ch.text or "").strip() for ch in v
            if len(ch) == 0} | \
        {"PHOTO": "".join((v.find(q(NS_VCARD, "PHOTO")).find(
            q(NS_VCARD, "BINVAL")).text or "").split())
         if v.find(q(NS_VCARD, "PHOTO")) is not None else None}


def private_of(c):
    el = c.iq("get", "<query xmlns='%s'><prefs xmlns='urn:example:prefs'/>"
              "</query>" % NS_PRIVATE)
    assert el.get("type") == "result", stanza_error(el)
    p = el.find(q(NS_PRIVATE, "query")).find(q("urn:example:prefs", "prefs"))
    return [(ch.tag, ch.text) for ch in p]


def set_roster(c, jid, name=None, groups=()):
    attrs = " name='%s'" % name if name else ""
    gs = "".join("<group>%s</group>" % g for g in groups)
    el = c.iq("set", "<query xmlns='%s'><item jid='%s'%s>%s</item></query>"
              % (NS_ROSTER, jid, attrs, gs))
    assert el.get("type") == "result", stanza_error(el)


NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NODE_NOTES = "urn:example:notes"


def pep_publish(c, node, id_, payload, max_items=None):
    opts = ""
    if max_items:
        opts = ("<publish-options><x xmlns='jabber:x:data' type='submit'>"
                "<field var='FORM_TYPE' type='hidden'><value>%s#publish-"
                "options</value></field><field var='pubsub#max_items'>"
                "<value>%d</value></field></x></publish-options>"
                % (NS_PUBSUB, max_items))
    el = c.iq("set", "<pubsub xmlns='%s'><publish node='%s'><item id='%s'>"
              "%s</item></publish>%s</pubsub>"
              % (NS_PUBSUB, node, id_, payload, opts))
    assert el.get("type") == "result", stanza_error(el)


def pep_items(c, owner, node):
    """(id, text of the payload) of each item, as a contact reads them."""
    el = c.iq("get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
              % (NS_PUBSUB, node), to=owner)
    assert el.get("type") == "result", stanza_error(el)
    items = el.find(q(NS_PUBSUB, "pubsub")).find(q(NS_PUBSUB, "items"))
    return sorted((it.get("id"), "".join(it[0].itertext())) for it in items)


def fill_pep(c):
    pep_publish(c, "http://jabber.org/protocol/nick", "current",
                "<nick xmlns='http://jabber.org/protocol/nick'>Ali</nick>")
    for i in (1, 2):
        pep_publish(c, NODE_NOTES, "n%d" % i,
                    "<note xmlns='urn:example:notes'>note %d</note>" % i,
                    max_items=5)


def assert_pep(c, owner="alice@localhost"):
    assert pep_items(c, owner, "http://jabber.org/protocol/nick") == [
        ("current", "Ali")]
    # Two items stay: the node's max_items (5) came along, where a new
    # node's default (1) would keep only the last.
    assert pep_items(c, owner, NODE_NOTES) == [("n1", "note 1"),
                                               ("n2", "note 2")]


def assert_alice(c, sub="none", pep=True, offline=False):
    """What fill_alice stored (and carol's request, bob's message when
    offline) as alice's client sees it on the importing server."""
    assert roster_of(c) == {
        "bob@localhost": ("Bob", sub, None, ["Friends", "Work"]),
        "dave@example.org": (None, "none", None, []),
    }
    v = vcard_of(c)
    assert v["FN"] == "Alice Liddell" and v["NICKNAME"] == "alice"
    assert v["PHOTO"] == PHOTO
    assert private_of(c) == [("{urn:example:prefs}color", "blue")]
    if pep:
        assert_pep(c)
    c.presence()
    if offline:
        m = c.recv(lambda e: e.tag == q(NS_CLIENT, "message"))
        assert m.findtext(q(NS_CLIENT, "body")) == "while you were away"
        assert m.get("from").startswith("bob@localhost/")
    p = c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
               e.get("type") == "subscribe")
    assert p.get("from") == "carol@localhost"
    return m if offline else None


def fill_alice(port, password, domain="localhost", pep=True):
    """alice's data, stored as her own client stores it."""
    c = login(port, "alice", password, domain)
    set_roster(c, "bob@" + domain, "Bob", ("Friends", "Work"))
    set_roster(c, "dave@example.org")
    el = c.iq("set", VCARD)
    assert el.get("type") == "result", stanza_error(el)
    el = c.iq("set", "<query xmlns='%s'>%s</query>" % (NS_PRIVATE, PREFS))
    assert el.get("type") == "result", stanza_error(el)
    if pep:
        fill_pep(c)
    bye(c)


def run_ok(srv, *args):
    r = srv.ctl(*args)
    assert r.returncode == 0, "emberctl %s: %s%s" % (args, r.stdout,
                                                      r.stderr)
    return r


def user_names(srv, host="localhost"):
    return run_ok(srv, "users", host).stdout.split()


def wait_log(srv, pattern):
    srv.wait_log(pattern)


# ---- Ember to Ember ----

def make_room(srv, passwords):
    """A persistent, members-only room with a subject and a member."""
    o = Occ(srv, "alice", passwords["alice"])
    o.create("lobby", "Alice", {
        "muc#roomconfig_persistentroom": "1",
        "muc#roomconfig_roomname": "The Lobby",
        "muc#roomconfig_membersonly": "1",
    })
    el = o.admin("lobby", "<item jid='bob@localhost' affiliation='member' "
                 "nick='Bobby'/>")
    assert el.get("type") == "result", stanza_error(el)
    o.send("<message to='%s' type='groupchat'><subject>Welcome</subject>"
           "</message>" % o.room("lobby"))
    o.recv_message(pred=lambda e: e.find(q(NS_CLIENT, "subject")) is not
                   None)
    o.leave("lobby", "Alice")
    o.close()


def check_room(srv, passwords):
    o = Occ(srv, "alice", passwords["alice"])
    el = o.owner_get("lobby")
    assert el.get("type") == "result", stanza_error(el)
    f = form_fields(el.find(".//{jabber:x:data}x"))
    assert f["muc#roomconfig_roomname"] == ["The Lobby"]
    assert f["muc#roomconfig_membersonly"] in (["1"], ["true"])
    el = o.admin("lobby", "<item affiliation='member'/>", type_="get")
    items = el.find(q(NS_MUC_ADMIN, "query"))
    assert [(i.get("jid"), i.get("nick")) for i in items] == [
        ("bob@localhost", "Bobby")]
    o.close()
    # bob, a member, gets in, and finds the subject.
    b = Occ(srv, "bob", passwords["bob"])
    b.join("lobby", "Bobby")
    assert b.subject == "Welcome"
    b.close()


def test_ember_round_trip(server_factory, passwords, tmp_path):
    a = server_factory()
    fill_alice(a.c2s_port, passwords["alice"])
    run_ok(a, "roster-add", "alice@localhost", "bob@localhost",
           "--subscription=both")
    make_room(a, passwords)
    # carol asks alice for her presence while alice is away: a pending
    # request (XEP-0227 3.4), then bob writes: an offline message.
    c = login(a.c2s_port, "carol", passwords["carol"])
    c.send("<presence to='alice@localhost' type='subscribe'/>")
    c.sync()
    bye(c)
    b = login(a.c2s_port, "bob", passwords["bob"])
    b.message("alice@localhost", "while you were away")
    b.sync()
    bye(b)
    assert "count: 1" in run_ok(a, "offline-count", "alice@localhost").stdout
    run_ok(a, "lock", "carol@localhost")

    out1 = tmp_path / "one.xml"
    run_ok(a, "export", out1)
    # XEP-0227 section 9: the file holds every account's secrets.
    assert stat.S_IMODE(os.stat(out1).st_mode) == 0o600
    root = ET.parse(out1).getroot()
    assert root.tag == q(NS_PIE, "server-data")
    alice = root.find(q(NS_PIE, "host")).find(q(NS_PIE, "user") +
                                              "[@name='alice']")
    mechs = sorted(s.get("mechanism")
                   for s in alice.findall(q(NS_SCRAM, "scram-credentials")))
    assert mechs == ["SCRAM-SHA-1", "SCRAM-SHA-256"]
    # Never the password itself: Ember does not have it.
    assert alice.get("password") is None

    n = server_factory(users=False)
    run_ok(n, "import", out1)
    assert user_names(n) == ["alice", "bob", "carol"]
    # What the second server exports is what the first did.
    out2 = tmp_path / "two.xml"
    run_ok(n, "export", out2)
    assert out2.read_text() == out1.read_text()

    # The original password, whatever the mechanism.
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"):
        bye(login(n.c2s_port, "alice", passwords["alice"], mech=mech))
    c = login(n.c2s_port, "alice", passwords["alice"])
    m = assert_alice(c, sub="both", offline=True)
    # The time it was first stored, not the time of the import.
    d = m.find(q(NS_DELAY, "delay"))
    assert d is not None and d.get("stamp") in out1.read_text()
    # The archive (XEP-0227 3.8) with its ids: the stanza-id the offline
    # copy carries names the archived message on this server too.
    results, fin = mam_query(c)
    assert [body_of(r) for r in results] == ["while you were away"]
    sid = m.find("{urn:xmpp:sid:0}stanza-id")
    assert sid is not None and sid.get("id") == results[0].get("id")
    bye(c)
    # The lock came along.
    with pytest.raises(AssertionError):
        login(n.c2s_port, "carol", passwords["carol"])
    check_room(n, passwords)


# ---- safety ----

def write(path, text):
    path.write_text(text)
    return path


def pie(users, host="localhost"):
    return ("<?xml version='1.0'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n"
            "<host jid='%s'>\n%s</host>\n</server-data>\n" % (host, users))


def test_existing_user_kept_unless_force(server_factory, passwords,
                                         tmp_path):
    a = server_factory()
    fill_alice(a.c2s_port, passwords["alice"])
    f = tmp_path / "a.xml"
    run_ok(a, "export", f)
    n = server_factory()            # alice exists there, other password
    c = login(n.c2s_port, "alice", passwords["alice"])
    set_roster(c, "zed@localhost", "Zed")
    bye(c)
    n.ctl_ok("passwd", "alice@localhost", "a-new-password")

    r = n.ctl("import", f)
    assert r.returncode == 1
    line = next(i for i, s in enumerate(f.read_text().splitlines(), 1)
                if "<user name=\"alice\"" in s)
    assert "%s:%d: user alice@localhost already exists" % (f, line) \
        in r.stderr
    assert "nothing imported" in r.stderr
    c = login(n.c2s_port, "alice", "a-new-password")
    assert list(roster_of(c)) == ["zed@localhost"]
    bye(c)

    # --force replaces the account and all its data with the file's.
    run_ok(n, "import", "--force", f)
    c = login(n.c2s_port, "alice", passwords["alice"])
    assert sorted(roster_of(c)) == ["bob@localhost", "dave@example.org"]
    bye(c)


def test_bad_xml_names_the_line(server, tmp_path):
    f = write(tmp_path / "bad.xml", pie(
        "<user name='erin' password='pw'>\n<query xmlns='jabber:iq:roster'>"
        "\n<item jid='x@localhost'>\n</query>\n</user>\n"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert re.search(r"bad\.xml:7: .*(mismatch|item)", r.stderr), r.stderr
    assert "erin" not in user_names(server)


def test_dtd_and_entities_refused(server, tmp_path):
    secret = write(tmp_path / "secret.txt", "top secret")
    f = write(tmp_path / "xxe.xml",
              "<?xml version='1.0'?>\n<!DOCTYPE server-data [\n"
              "<!ENTITY x SYSTEM 'file://%s'>]>\n"
              "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>"
              "<user name='erin' password='&x;'/></host></server-data>\n"
              % secret)
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert "xxe.xml:2: a DTD is not allowed" in r.stderr, r.stderr
    assert "erin" not in user_names(server)


def test_unknown_element_names_the_line(server, tmp_path):
    f = write(tmp_path / "u.xml", pie(
        "<user name='erin' password='erin-pw'>\n"
        "<query xmlns='jabber:iq:roster'><item jid='bob@localhost'/>"
        "</query>\n<gadget xmlns='urn:example:gadget'/>\n</user>\n"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert ("u.xml:6: erin@localhost: no enabled module takes <gadget "
            "xmlns='urn:example:gadget'>") in r.stderr, r.stderr
    assert "erin" not in user_names(server)

    # XEP-0227 section 4: the operator may choose to leave it behind.
    r = server.ctl("import", "--skip-unknown", f)
    assert r.returncode == 0, r.stderr
    assert "u.xml:6: warning" in r.stderr
    c = login(server.c2s_port, "erin", "erin-pw")
    assert list(roster_of(c)) == ["bob@localhost"]
    bye(c)


def test_invalid_user_data_imports_nobody(server, tmp_path):
    # The whole file is checked, by each module, before anything is
    # written: the first user does not come in when the second is bad.
    f = write(tmp_path / "two.xml", pie(
        "<user name='erin' password='erin-pw'/>\n"
        "<user name='fred' password='fred-pw'>\n"
        "<query xmlns='jabber:iq:roster'>"
        "<item jid='bob@localhost' subscription='sideways'/></query>\n"
        "</user>\n"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert "two.xml:6: fred@localhost: element 0: roster: subscription " \
        "must be none, to, from or both" in r.stderr, r.stderr
    # Refused by the module that owns it: said once, not as unknown too.
    assert "no enabled module" not in r.stderr
    assert "1 error: nothing imported" in r.stderr
    names = user_names(server)
    assert "erin" not in names and "fred" not in names


def test_failed_write_leaves_no_half_user(server_factory, tmp_path):
    # A part of fred's import fails when written (a test module standing
    # for a storage error): fred's account and what other modules wrote
    # of him go again; erin, before him, stays; the import stops there.
    srv = server_factory(start=False)
    srv.add_plugins_dir()
    srv.add_module("pie_fail")
    srv.start()
    f = write(tmp_path / "w.xml", pie(
        "<user name='erin' password='erin-pw'/>\n"
        "<user name='fred' password='fred-pw'>"
        "<query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query>"
        "<fail xmlns='urn:ember:test:pie'/></user>\n"
        "<user name='gina' password='gina-pw'/>\n"))
    r = srv.ctl("import", f)
    assert r.returncode == 1
    assert "fred@localhost: pie-import-fail: the store failed" in r.stderr
    assert "fred@localhost: not imported (removed again)" in r.stderr
    assert "imported 1 of 3 users" in r.stderr, r.stderr
    names = user_names(srv)
    assert "erin" in names and "fred" not in names and "gina" not in names
    # The roster written for fred before the failure went with him: a new
    # account of his name starts empty.
    run_ok(srv, "adduser", "fred@localhost", "new-pw")
    c = login(srv.c2s_port, "fred", "new-pw")
    assert roster_of(c) == {}
    bye(c)


def test_unknown_host_and_missing_credentials(server, tmp_path):
    f = write(tmp_path / "h.xml", pie("<user name='erin' password='x'/>\n",
                                      host="elsewhere.example"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert "h.xml:3: host 'elsewhere.example' is not a host of this " \
        "server" in r.stderr, r.stderr
    f = write(tmp_path / "c.xml", pie("<user name='erin'/>\n"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert "c.xml:4: erin@localhost: neither a password nor SCRAM " \
        "credentials" in r.stderr, r.stderr
    # XEP-0227 3.1: a <user/> MUST have a name.
    f = write(tmp_path / "n.xml", pie("<user password='x'/>\n"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert "n.xml:4: <user/> without a name" in r.stderr, r.stderr
    assert user_names(server) == ["alice", "bob", "carol"]


def scram_el(mech, iters, salt, server_key, stored_key):
    return ("<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='%s'>"
            "<iter-count>%s</iter-count><salt>%s</salt><server-key>%s"
            "</server-key><stored-key>%s</stored-key></scram-credentials>"
            % (mech, iters, salt, server_key, stored_key))


def test_scram_credentials_checked(server, tmp_path):
    salt = base64.b64encode(b"salt-of-erin").decode()
    stored, srvkey = scram_sha1("erin-pw", b"salt-of-erin", 4096)
    # 3.2: the iteration count is a positive integer without leading
    # zeros; each mechanism appears once (the same one twice differing).
    for bad, why in (
            (scram_el("SCRAM-SHA-1", "04096", salt, srvkey, stored),
             "iter-count (a positive integer)"),
            (scram_el("SCRAM-SHA-1", "4096", salt, srvkey, stored) +
             scram_el("SCRAM-SHA-1", "4096", salt, stored, srvkey),
             "two different SCRAM-SHA-1 credentials"),
            (scram_el("SCRAM-SHA-1", "4096", salt, srvkey[:-4], stored),
             "must be base64 of 20 bytes")):
        f = write(tmp_path / "s.xml", pie("<user name='erin'>%s</user>\n"
                                          % bad))
        r = server.ctl("import", f)
        assert r.returncode == 1 and why in r.stderr, r.stderr
        assert "erin" not in user_names(server)
    # The same credentials twice (Prosody repeats them) are one.
    f = write(tmp_path / "s.xml", pie("<user name='erin'>%s%s</user>\n" % (
        scram_el("SCRAM-SHA-1", "4096", salt, srvkey, stored),
        scram_el("SCRAM-SHA-1", "4096", salt, srvkey, stored))))
    run_ok(server, "import", f)
    bye(login(server.c2s_port, "erin", "erin-pw"))


def test_secrets_only_through_the_control_socket(server_factory):
    # The commands that carry SCRAM secrets and users' data in bulk are
    # "local": the console's REST API (an admin with an API key) is
    # refused them, the control socket (emberctl) is not.
    from test_console_api import ADMIN, keyed, new_key
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    srv.start()
    api = keyed(srv, new_key(srv)["key"])
    names = ("account-export", "account-import", "pie-export-roster",
             "pie-import-roster", "pie-export-vcard", "pie-import-vcard",
             "pie-export-private", "pie-import-private",
             "pie-export-offline", "pie-import-offline", "pie-export-pep",
             "pie-import-pep", "pie-host-export-muc", "pie-host-import-muc",
             "pie-export-mam", "pie-import-mam")
    for name in names:
        st, _, doc = api("POST", "/api/v1/commands/" + name,
                         {"jid": "alice@localhost", "host": "localhost"})
        assert st == 403, (name, st, doc)
    r = run_ok(srv, "--json", "account-export", "alice@localhost")
    assert "stored_key" in r.stdout


def test_export_needs_a_running_server(server_factory, tmp_path):
    srv = server_factory(start=False)
    r = srv.ctl("export", tmp_path / "x.xml")
    assert r.returncode == 1 and "emberd is not running" in r.stderr
    assert not (tmp_path / "x.xml").exists()


# ---- SCRAM credentials of another server ----

def scram_sha1(password, salt, iters):
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iters)
    ck = hmac.new(salted, b"Client Key", "sha1").digest()
    sk = hmac.new(salted, b"Server Key", "sha1").digest()
    return (base64.b64encode(hashlib.sha1(ck).digest()).decode(),
            base64.b64encode(sk).decode())


def test_sha1_credentials_only(server, tmp_path):
    salt = b"another-servers-salt"
    stored, srvkey = scram_sha1("erin-pw", salt, 10000)
    f = write(tmp_path / "s.xml", pie(
        "<user name='erin'><scram-credentials xmlns='urn:xmpp:pie:0#scram' "
        "mechanism='SCRAM-SHA-1'><iter-count>10000</iter-count><salt>%s"
        "</salt><server-key>%s</server-key><stored-key>%s</stored-key>"
        "</scram-credentials></user>\n"
        % (base64.b64encode(salt).decode(), srvkey, stored)))
    run_ok(server, "import", f)
    bye(login(server.c2s_port, "erin", "erin-pw", mech="SCRAM-SHA-1"))
    bye(login(server.c2s_port, "erin", "erin-pw", mech="PLAIN"))
    # No SHA-256 secrets came: that mechanism cannot work for erin.
    with pytest.raises(AssertionError):
        login(server.c2s_port, "erin", "erin-pw", mech="SCRAM-SHA-256")
    with pytest.raises(AssertionError):
        login(server.c2s_port, "erin", "wrong", mech="SCRAM-SHA-1")


def test_xinclude_of_user_files(server, tmp_path):
    # XEP-0227 section 7: one file per user, included by a relative href.
    (tmp_path / "users").mkdir()
    write(tmp_path / "users" / "erin.xml",
          "<user xmlns='urn:xmpp:pie:0' name='erin' password='erin-pw'>"
          "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' "
          "name='B'/></query></user>\n")
    f = write(tmp_path / "main.xml", pie(
        "<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' "
        "href='users/erin.xml'/>\n"))
    run_ok(server, "import", f)
    c = login(server.c2s_port, "erin", "erin-pw")
    assert roster_of(c) == {"bob@localhost": ("B", "none", None, [])}
    bye(c)
    # Below a <user/>, an include is that user's data, never read (7).
    h = write(tmp_path / "deep.xml", pie(
        "<user name='fred' password='fred-pw'><xi:include "
        "xmlns:xi='http://www.w3.org/2001/XInclude' href='users/erin.xml'/>"
        "</user>\n"))
    r = server.ctl("import", h)
    assert r.returncode == 1
    assert "deep.xml:4: fred@localhost: no enabled module takes <include " \
        "xmlns='http://www.w3.org/2001/XInclude'>" in r.stderr, r.stderr
    g = write(tmp_path / "abs.xml", pie(
        "<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' "
        "href='/etc/passwd'/>\n"))
    r = server.ctl("import", g)
    assert r.returncode == 1
    assert "abs.xml:4: <include/>: only a relative href" in r.stderr


# ---- Openfire ----

OPENFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<Openfire>
  <User>
    <Username>erin</Username>
    <Password>erin-pw</Password>
    <Email>erin@example.org</Email>
    <Name>Erin Example</Name>
    <CreationDate>1700000000000</CreationDate>
    <ModifiedDate>1700000000000</ModifiedDate>
    <Roster>
      <Item jid="bob@localhost" askstatus="-1" recvstatus="-1"
            substatus="3" name="Bob">
        <Group>Friends</Group>
      </Item>
      <Item jid="dave@example.org" askstatus="0" recvstatus="-1"
            substatus="0" name=""/>
      <Item jid="carol@localhost" askstatus="-1" recvstatus="1"
            substatus="1"/>
    </Roster>
  </User>
  <User>
    <Username>fred</Username>
    <Password>fred-pw</Password>
    <Email/>
    <Name/>
    <CreationDate>1700000000000</CreationDate>
    <ModifiedDate>1700000000000</ModifiedDate>
    <Roster/>
  </User>
</Openfire>
"""


def test_openfire_user_import(server, tmp_path):
    f = write(tmp_path / "openfire.xml", OPENFIRE)
    r = run_ok(server, "import", "--host=localhost", f)
    assert "imported 2 of 2 users" in r.stderr
    bye(login(server.c2s_port, "fred", "fred-pw"))
    c = login(server.c2s_port, "erin", "erin-pw", mech="SCRAM-SHA-256")
    assert roster_of(c) == {
        "bob@localhost": ("Bob", "both", None, ["Friends"]),
        "dave@example.org": (None, "none", "subscribe", []),
        "carol@localhost": (None, "to", None, []),
    }
    v = vcard_of(c)
    assert v["FN"] == "Erin Example"
    el = c.iq("get", "<vCard xmlns='vcard-temp'/>")
    assert el.find(q(NS_VCARD, "vCard")).find(q(NS_VCARD, "EMAIL")).findtext(
        q(NS_VCARD, "USERID")) == "erin@example.org"
    # carol's request (recvstatus 1) waits for erin's answer.
    c.presence()
    p = c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
               e.get("type") == "subscribe")
    assert p.get("from") == "carol@localhost"
    bye(c)


def test_openfire_unknown_element(server, tmp_path):
    f = write(tmp_path / "of.xml", OPENFIRE.replace(
        "<Email/>", "<Email/>\n    <Shoe/>"))
    r = server.ctl("import", f)
    assert r.returncode == 1
    assert "of.xml:25: unknown element <Shoe> in <User/>" in r.stderr, \
        r.stderr


# ---- Prosody (Debian's 0.12, its prosody-migrator, XEP-0227 driver) ----

# A Prosody with its default (hashed) password storage and the stores
# the migrator exports.
PROSODY_SOURCE_MODULES = ("roster", "saslauth", "disco", "private", "vcard",
                          "offline", "presence", "pep", "mam", "posix")


@pytest.mark.skipif(not os.path.exists(PROSODY_MIGRATOR),
                    reason="no prosody")
def test_import_from_prosody(server_factory, tmp_path):
    p = Prosody(tmp_path / "prosody", "localhost",
                modules=PROSODY_SOURCE_MODULES, hashed=True)
    for u, pw in (("alice", "alice-pw"), ("bob", "bob-pw"),
                  ("carol", "carol-pw")):
        p.adduser(u, pw)
    p.start()
    try:
        fill_alice(p.c2s_port, "alice-pw")
        c = login(p.c2s_port, "carol", "carol-pw")
        c.send("<presence to='alice@localhost' type='subscribe'/>")
        c.iq("get", "<query xmlns='jabber:iq:roster'/>")
        bye(c)
        b = login(p.c2s_port, "bob", "bob-pw")
        b.message("alice@localhost", "while you were away")
        b.iq("get", "<query xmlns='jabber:iq:roster'/>")
        bye(b)
    finally:
        p.stop()
    files = p.export_227(tmp_path / "227")
    assert [f.name for f in files] == ["alice@localhost.xml",
                                       "bob@localhost.xml",
                                       "carol@localhost.xml"]
    # What Prosody writes: SCRAM-SHA-1 secrets, never the password.
    a = ET.parse(files[0]).getroot()
    cred = a.find(".//" + q(NS_SCRAM, "scram-credentials"))
    assert cred.get("mechanism") == "SCRAM-SHA-1"
    assert a.find(".//" + q(NS_PIE, "user")).get("password") is None

    n = server_factory(users=False)
    for f in files:
        run_ok(n, "import", f)
    assert user_names(n) == ["alice", "bob", "carol"]
    # Prosody's own secrets: the passwords work, with SCRAM-SHA-1 and PLAIN.
    bye(login(n.c2s_port, "bob", "bob-pw", mech="PLAIN"))
    c = login(n.c2s_port, "alice", "alice-pw", mech="SCRAM-SHA-1")
    # Prosody's archive (its offline store does not export): bob's
    # message is in alice's MAM, at the time Prosody stored it.
    results, fin = mam_query(c)
    assert [body_of(r) for r in results] == ["while you were away"]
    assert_alice(c)
    bye(c)


# ---- ejabberd (Debian's 23.01, ejabberdctl export_piefxis) ----

# What the migration reads: passwords as SCRAM secrets, and the stores.
EJABBERD_SOURCE_MODULES = """
  mod_disco: {}
  mod_roster: {}
  mod_vcard: {}
  mod_private: {}
  mod_offline: {}
"""


@pytest.mark.skipif(not ejabberd_available(),
                    reason="needs ejabberd and root (it runs as its user)")
def test_import_from_ejabberd(server_factory, tmp_path):
    e = Ejabberd("localhost", modules=EJABBERD_SOURCE_MODULES,
                 password_format="scram")
    try:
        e.start()
        for u in ("alice", "bob", "carol"):
            e.adduser(u, u + "-pw")
        fill_alice(e.c2s_port, "alice-pw", pep=False)
        c = login(e.c2s_port, "carol", "carol-pw", mech="PLAIN")
        c.send("<presence to='alice@localhost' type='subscribe'/>")
        c.iq("get", "<query xmlns='jabber:iq:roster'/>")
        bye(c)
        b = login(e.c2s_port, "bob", "bob-pw", mech="PLAIN")
        b.message("alice@localhost", "while you were away")
        b.iq("get", "<query xmlns='jabber:iq:roster'/>")
        bye(b)
        files = e.export_piefxis(tmp_path / "piefxis")
    finally:
        e.stop()
    # One file naming the host file with <xi:include/> (XEP-0227 7).
    main = [f for f in files if "xi:include" in f.read_text() and
            "<user" not in f.read_text()]
    assert len(main) == 1, [f.name for f in files]
    n = server_factory(users=False)
    r = run_ok(n, "import", main[0])
    assert "imported 3 of 3 users" in r.stderr
    bye(login(n.c2s_port, "bob", "bob-pw", mech="SCRAM-SHA-1"))
    c = login(n.c2s_port, "alice", "alice-pw", mech="PLAIN")
    assert_alice(c, pep=False, offline=True)
    bye(c)
