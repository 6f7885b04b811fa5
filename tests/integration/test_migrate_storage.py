"""emberctl migrate-storage (issue 19, doc/emberctl.md): every stored
record copied from one storage backend into another, SQLite to PostgreSQL
and back, with its identity: accounts log in with their old passwords
(SCRAM secrets kept), rosters, vCards and offline messages are there,
archives answer XEP-0313 queries with the same messages under the same
stanza-ids, and RSM paging after a known id works.  Refused while emberd
runs, on a destination that holds records (unless --force), and with a
clear error when the destination cannot be reached."""

import shutil
import xml.etree.ElementTree as ET

import pytest

import pgsql_peer
from muclib import Occ
from rawxmpp import RawClient, q
from test_mam import body_of, chat, query, recv_chat, rsm_set
from test_muc_mam import bodies, query as room_query, say_all
from test_storage_pgsql import pg  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(not pgsql_peer.available(),
                                reason="PostgreSQL 15 binaries missing "
                                "(tools/deps.sh test installs postgresql)")

NS_ROSTER = "jabber:iq:roster"
NS_VCARD = "vcard-temp"
NS_DELAY = "urn:xmpp:delay"
VCARD = "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN></vCard>"


def use_storage(srv, el):
    """srv keeps its data where el (a storage <module/>) says."""
    for m in srv.cfg.findall("module"):
        if m.get("name", "").startswith("storage_"):
            srv.cfg.remove(m)
    first = srv.cfg.find("module")
    srv.cfg.insert(list(srv.cfg).index(first) if first is not None
                   else len(srv.cfg), el)
    srv.storage = "pgsql" if el.get("name") == "storage_pgsql" else "sqlite"
    srv.pg_conninfo = el.get("conninfo")
    srv.save()


def other_config(srv, name, el):
    """A copy of srv's config, next to it, with the storage el."""
    path = srv.dir / name
    shutil.copy(srv.config_path, path)
    tree = ET.parse(path)
    root = tree.getroot()
    for m in root.findall("module"):
        if m.get("name", "").startswith("storage_"):
            root.remove(m)
    root.insert(0, el)
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path


def sqlite_el(path):
    return ET.Element("module", name="storage_sqlite", path=path)


def pg_el(conninfo):
    return ET.Element("module", name="storage_pgsql", conninfo=conninfo)


def migrate(srv, to, *more):
    return srv.ctl("migrate-storage", "--to=%s" % to, *more, timeout=120)


def sqlite_server(server_factory, passwords, path="ember.db"):
    srv = server_factory(start=False, users=False)
    use_storage(srv, sqlite_el(path))
    srv.addusers(passwords)
    return srv


def login(srv, passwords, user, mech="SCRAM-SHA-256"):
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, passwords[user], mech=mech)
    return c


def fill(srv, passwords):
    """Records of every kind: a roster item, a vCard, an account archive,
    a persistent room's archive, an offline message.  What the clients
    were given: (alice's archive ids and bodies, the room's)."""
    alice = login(srv, passwords, "alice")
    alice.presence()
    bob = login(srv, passwords, "bob")
    r = alice.iq("set", "<query xmlns='%s'><item jid='bob@localhost' "
                 "name='Bobby'/></query>" % NS_ROSTER)
    assert r.get("type") == "result"
    assert alice.iq("set", VCARD).get("type") == "result"
    texts = ["chat %d" % i for i in range(6)]
    for t in texts:
        chat(bob, "alice@localhost", t)
    recv_chat(alice, texts[-1])
    results, fin = query(alice)
    assert fin.get("type") == "result"
    mam = [(r.get("id"), body_of(r)) for r in results]
    assert [b for _, b in mam] == texts
    bob.message("carol@localhost", "while you were away", id_="off1")
    bob.sync()
    a = Occ(srv, "alice", passwords["alice"])
    a.create("kept", "Alice", {"muc#roomconfig_persistentroom": "1"})
    said = ["room %d" % i for i in range(5)]
    say_all([a], a, "kept", said)
    results, _ = room_query(a, "kept")
    room = [(r.get("id"), b) for r, b in zip(results, bodies(results))]
    assert [b for _, b in room] == said
    for c in (alice, bob):
        c.close()
    a.close()
    return mam, room


def check(srv, passwords, mam, room, offline_body):
    """What a client finds after a migration."""
    alice = login(srv, passwords, "alice")          # the old password
    login(srv, passwords, "bob", mech="SCRAM-SHA-1").close()
    r = alice.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
    items = {i.get("jid"): i.get("name")
             for i in r.find(q(NS_ROSTER, "query"))}
    assert items.get("bob@localhost") == "Bobby"
    r = alice.iq("get", "<vCard xmlns='%s'/>" % NS_VCARD,
                 to="alice@localhost")
    assert r.find(q(NS_VCARD, "vCard")).findtext(q(NS_VCARD, "FN")) \
        == "Alice Liddell"
    # The same messages under the same stanza-ids, and paging after one.
    results, fin = query(alice)
    assert [(x.get("id"), body_of(x)) for x in results] == mam
    results, fin = query(alice, rsm=rsm_set(2, after=mam[2][0]), qid="q2")
    assert [(x.get("id"), body_of(x)) for x in results] == mam[3:5]
    results, fin = query(alice, rsm=rsm_set(10, before=mam[2][0]), qid="q3")
    assert [(x.get("id"), body_of(x)) for x in results] == mam[:2]
    alice.close()
    a = Occ(srv, "alice", passwords["alice"])
    results, _ = room_query(a, "kept")
    assert list(zip([x.get("id") for x in results], bodies(results))) == room
    results, _ = room_query(a, "kept", rsm=rsm_set(2, after=room[1][0]))
    assert list(zip([x.get("id") for x in results], bodies(results))) \
        == room[2:4]
    a.close()
    # The offline message, delivered at carol's first presence.
    carol = login(srv, passwords, "carol")
    carol.presence()
    m = carol.recv(lambda e: e.tag == q("jabber:client", "message")
                   and e.findtext(q("jabber:client", "body")) is not None)
    assert m.findtext(q("jabber:client", "body")) == offline_body
    assert m.find(q(NS_DELAY, "delay")) is not None
    carol.close()


def test_sqlite_to_postgresql_and_back(server_factory, pg, passwords):
    srv = sqlite_server(server_factory, passwords)
    srv.start()
    mam, room = fill(srv, passwords)
    srv.stop()

    conninfo = pg.create_database()
    to_pg = other_config(srv, "to-pg.xml", pg_el(conninfo))
    # Small pages: every kind's cursor is followed across pages.
    r = migrate(srv, to_pg, "--batch=3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert "accounts" in lines and "mam" in lines and "offline" in lines
    assert "total:" in lines
    use_storage(srv, pg_el(conninfo))
    srv.start()
    check(srv, passwords, mam, room, "while you were away")
    # Another offline message, written on PostgreSQL, for the way back.
    bob = login(srv, passwords, "bob")
    bob.message("carol@localhost", "second absence", id_="off2")
    bob.sync()
    bob.close()
    srv.stop()

    to_sqlite = other_config(srv, "to-sqlite.xml", sqlite_el("back.db"))
    r = migrate(srv, to_sqlite, "--batch=2")
    assert r.returncode == 0, r.stderr
    use_storage(srv, sqlite_el("back.db"))
    srv.start()
    check(srv, passwords, mam, room, "second absence")


def test_refused_while_emberd_runs(server_factory, passwords):
    srv = sqlite_server(server_factory, passwords)
    srv.start()
    to = other_config(srv, "to.xml", sqlite_el("copy.db"))
    r = migrate(srv, to)
    assert r.returncode == 1
    assert "emberd is running" in r.stderr and "stop it first" in r.stderr
    assert not (srv.dir / "data" / "copy.db").exists()
    login(srv, passwords, "alice").close()


def test_non_empty_destination_needs_force(server_factory, pg, passwords):
    """A destination holding records is refused, naming one; --force
    empties it first, and what it held before is gone."""
    srv = sqlite_server(server_factory, passwords)
    conninfo = pg.create_database()
    to = other_config(srv, "to.xml", pg_el(conninfo))
    r = migrate(srv, to)
    assert r.returncode == 0, r.stderr
    # A user of the destination only.
    dest = server_factory(start=False, users=False)
    use_storage(dest, pg_el(conninfo))
    dest.adduser("dave", "dave's secret")
    r = migrate(srv, to)
    assert r.returncode == 1
    assert "is not empty" in r.stderr and "--force" in r.stderr
    assert "store 'accounts'" in r.stderr
    r = migrate(srv, to, "--force")
    assert r.returncode == 0, r.stderr
    assert "removed" in r.stdout
    users = dest.ctl_ok("users", "localhost").stdout.split()
    assert users == ["alice", "bob", "carol"]


def test_same_storage_refused(server_factory, passwords):
    srv = sqlite_server(server_factory, passwords)
    to = other_config(srv, "same.xml", sqlite_el(str(srv.dir / "data" /
                                                     "ember.db")))
    r = migrate(srv, to, "--force")
    assert r.returncode == 1
    assert "name the same storage" in r.stderr
    assert srv.ctl_ok("users", "localhost").stdout.split() \
        == ["alice", "bob", "carol"]


def test_unreachable_destination_is_a_clear_error(server_factory,
                                                  passwords):
    srv = sqlite_server(server_factory, passwords)
    from peers import free_tcp_port
    to = other_config(srv, "to.xml", pg_el(
        "host=127.0.0.1 port=%d dbname=none connect_timeout=3"
        % free_tcp_port()))
    r = migrate(srv, to)
    assert r.returncode == 1
    assert "cannot connect to PostgreSQL" in r.stderr
    assert "did not start" in r.stderr
    to = other_config(srv, "bad.xml", pg_el("this is not a conninfo"))
    r = migrate(srv, to)
    assert r.returncode == 1
    assert "cannot connect to PostgreSQL" in r.stderr


def test_refused_record_is_named_and_a_rerun_starts_over(server_factory,
                                                         pg, passwords):
    """A record the destination refuses stops the copy and is named; once
    the cause is gone, --force copies everything again."""
    srv = sqlite_server(server_factory, passwords)
    conninfo = pg.create_database()
    to = other_config(srv, "to.xml", pg_el(conninfo))
    r = migrate(srv, to)
    assert r.returncode == 0, r.stderr
    pg.psql(conninfo, "ALTER TABLE keyval ADD CONSTRAINT no_bob"
            " CHECK (usr <> 'bob') NOT VALID")
    r = migrate(srv, to, "--force", "--batch=2")
    assert r.returncode == 1
    assert "refused the keyval record of host 'localhost' store " \
        "'accounts' user 'bob'" in r.stderr, r.stderr
    assert "no_bob" in r.stderr
    pg.psql(conninfo, "ALTER TABLE keyval DROP CONSTRAINT no_bob")
    r = migrate(srv, to, "--force")
    assert r.returncode == 0, r.stderr
    dest = server_factory(start=False, users=False)
    use_storage(dest, pg_el(conninfo))
    assert dest.ctl_ok("users", "localhost").stdout.split() \
        == ["alice", "bob", "carol"]
