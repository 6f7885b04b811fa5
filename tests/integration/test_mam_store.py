"""How archives are stored and read (issue 16): time bounds of XEP-0313
queries are exact at item times, in account and room archives, whether
the store reads them as an id range (an archive whose times follow its
order) or as filters (one whose times went back); every query shape reads
index ranges; what the server acknowledged (XEP-0198) is in the archive
after a kill -9; archives of schema version 1 are carried over."""

import datetime
import json
import sqlite3
import time

import pytest

from harness import STORAGE
from rawxmpp import RawClient, q
from muclib import Occ
from test_mam import NS_MAM, NS_RSM, body_of, chat, query, recv_chat, \
    rsm_set
from test_muc_mam import bodies, query as room_query, say_all
from test_sm import NS_SM, enable, sm


def stamp(us):
    t = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fin_of(iq):
    return iq.find(q(NS_MAM, "fin"))


def ids_of(results):
    return [r.get("id") for r in results]


def db_path(srv):
    return srv.dir / "data" / "ember.db"


def db_exec(srv, sql, params=()):
    """Run sql (qmark parameters, `user` column) on the instance's
    database, SQLite's file or its PostgreSQL database; the rows."""
    if srv.storage != "pgsql":
        with sqlite3.connect(str(db_path(srv))) as db:
            return db.execute(sql, params).fetchall()
    import pgsql_peer
    for p in params:
        sql = sql.replace("?", str(int(p)), 1)
    rows = pgsql_peer.shared().psql(srv.pg_conninfo,
                                    sql.replace("user", "usr"))
    conv = {"t": 1, "f": 0}
    return [tuple(conv.get(v, v) for v in r) for r in rows]


def logged_in(srv, passwords, *users):
    """A RawClient per user, logged in; alice available (she receives)."""
    out = []
    for u in users:
        c = RawClient(srv.c2s_port, domain=srv.domain)
        c.login(u, passwords[u])
        if u == "alice":
            c.presence()
        out.append(c)
    return out


def fill(bob, alice, n, prefix="t"):
    texts = ["%s%02d" % (prefix, i) for i in range(n)]
    for t in texts:
        chat(bob, "alice@localhost", t)
    recv_chat(alice, texts[-1])
    return texts


def check_time_bounds(ask, texts, ids):
    """ask(fields, rsm, flip) -> (results, fin iq): every boundary of a
    time range, at and next to item times (mod_mam's ids are the items'
    times in microseconds)."""
    t = [int(i) for i in ids]
    n = len(texts)
    for i in (0, 1, n // 2, n - 1):
        r, _ = ask({"start": stamp(t[i])}, "", False)
        assert [body_of(x) for x in r] == texts[i:], i
        r, _ = ask({"start": stamp(t[i] + 1)}, "", False)
        assert [body_of(x) for x in r] == texts[i + 1:], i
        r, _ = ask({"end": stamp(t[i])}, "", False)
        assert [body_of(x) for x in r] == texts[:i + 1], i
        r, _ = ask({"end": stamp(t[i] - 1)}, "", False)
        assert [body_of(x) for x in r] == texts[:i], i
    window = {"start": stamp(t[3]), "end": stamp(t[8])}
    r, _ = ask(window, "", False)
    assert [body_of(x) for x in r] == texts[3:9]
    # Paging inside the window: forward, the last page, backward, flipped.
    r, fin = ask(window, rsm_set(2), False)
    assert [body_of(x) for x in r] == texts[3:5]
    assert fin_of(fin).get("complete") != "true"
    r, fin = ask(window, rsm_set(4, after=ids[6]), False)
    assert [body_of(x) for x in r] == texts[7:9]
    assert fin_of(fin).get("complete") == "true"
    r, fin = ask(window, rsm_set(2, before=""), False)
    assert [body_of(x) for x in r] == texts[7:9]
    r, fin = ask(window, rsm_set(2, before=ids[7]), False)
    assert [body_of(x) for x in r] == texts[5:7]
    r, fin = ask(window, rsm_set(4, before=ids[5]), False)
    assert [body_of(x) for x in r] == texts[3:5]
    assert fin_of(fin).get("complete") == "true"
    r, fin = ask(window, rsm_set(3, before=""), True)
    assert [body_of(x) for x in r] == [texts[8], texts[7], texts[6]]
    assert fin_of(fin).find(q(NS_MAM, "flip-page")) is not None
    s = fin_of(fin).find(q(NS_RSM, "set"))
    assert (s.findtext(q(NS_RSM, "first")),
            s.findtext(q(NS_RSM, "last"))) == (ids[6], ids[8])
    # Time and id bounds together: the narrower wins.
    r, _ = ask({"start": stamp(t[2]), "after-id": ids[4],
                "end": stamp(t[9]), "before-id": ids[7]}, "", False)
    assert [body_of(x) for x in r] == texts[5:7]
    # Nothing in range.
    for f in ({"start": stamp(t[-1] + 1)}, {"end": stamp(t[0] - 1)},
              {"start": stamp(t[5]), "end": stamp(t[4])}):
        r, fin = ask(f, "", False)
        assert r == [] and fin_of(fin).get("complete") == "true", f


def test_time_bounds_of_an_account_archive(server, passwords):
    """XEP-0313 4.1.1: start and end are inclusive; each at, just after
    and just before item times, alone, together, with RSM paging,
    flip-page and id bounds, and with `with`."""
    alice, bob, carol = logged_in(server, passwords, "alice", "bob",
                                  "carol")
    texts = fill(bob, alice, 12)
    ids = ids_of(query(alice)[0])
    assert len(ids) == 12

    def ask(fields, rsm, flip, qid=iter(range(10000))):
        return query(alice, fields, rsm, flip, qid="t%d" % next(qid))
    check_time_bounds(ask, texts, ids)
    chat(carol, "alice@localhost", "from carol")
    recv_chat(alice, "from carol")
    t = [int(i) for i in ids]
    r, _ = ask({"with": "bob@localhost", "start": stamp(t[10])}, "", False)
    assert [body_of(x) for x in r] == texts[10:]
    r, _ = ask({"with": "carol@localhost", "start": stamp(t[10])}, "",
               False)
    assert [body_of(x) for x in r] == ["from carol"]
    r, _ = ask({"with": "carol@localhost", "end": stamp(t[11])}, "", False)
    assert r == []
    for c in (alice, bob, carol):
        c.close()


def test_time_bounds_of_a_room_archive(server, passwords):
    """The same bounds against a room's archive (section 7)."""
    a = Occ(server, "alice", passwords["alice"])
    a.create("timed", "Alice")
    texts = ["r%02d" % i for i in range(12)]
    say_all([a], a, "timed", texts)
    results, _ = room_query(a, "timed")
    ids = ids_of(results)
    assert bodies(results) == texts

    def ask(fields, rsm, flip):
        r, fin = room_query(a, "timed", fields, rsm, flip)
        return r, fin
    check_time_bounds(ask, texts, ids)
    t = [int(i) for i in ids]
    r, _ = room_query(a, "timed", {"with": a.room("timed") + "/Alice",
                                   "start": stamp(t[9])})
    assert bodies(r) == texts[9:]
    a.close()


@pytest.mark.skipif(STORAGE == "pgsql", reason="reads the plans storage_sqlite "
                    "logs; PostgreSQL plans by cost and statistics, which "
                    "a test-sized archive does not show")
def test_every_query_shape_reads_index_ranges(server_factory, passwords):
    """The store checks each archive statement's plan when it prepares
    it (SQLite's EXPLAIN QUERY PLAN): none may read a whole table or sort
    (USE TEMP B-TREE).  Every shape mod_mam makes: ids, RSM after and
    before, before-id and after-id, start and end, with, flip-page,
    metadata, ids, and the deletes of mam-delete and retention."""
    srv = server_factory(start=False)
    srv.set_log("debug")
    srv.add_module("mam", retention="3600")
    srv.start()
    alice, bob = logged_in(srv, passwords, "alice", "bob")
    fill(bob, alice, 6)
    ids = ids_of(query(alice)[0])
    t = [int(i) for i in ids]
    n = iter(range(10000))
    for fields in ({}, {"with": "bob@localhost"}, {"start": stamp(t[1])},
                   {"end": stamp(t[4])},
                   {"start": stamp(t[1]), "end": stamp(t[4])},
                   {"after-id": ids[0]}, {"before-id": ids[5]},
                   {"with": "bob@localhost", "start": stamp(t[1]),
                    "end": stamp(t[4]), "after-id": ids[0],
                    "before-id": ids[5]},
                   {"ids": [ids[2], ids[3]]}):
        for rsm in ("", rsm_set(2), rsm_set(2, after=ids[1]),
                    rsm_set(2, before=""), rsm_set(2, before=ids[4])):
            for flip in (False, True):
                r, fin = query(alice, fields, rsm, flip, qid="s%d" % next(n))
                assert fin.get("type") == "result"
    alice.iq("get", "<metadata xmlns='%s'/>" % NS_MAM)
    a = Occ(srv, "carol", passwords["carol"])
    a.create("shapes", "Carol")
    say_all([a], a, "shapes", ["x", "y"])
    room_query(a, "shapes", {"end": stamp(int(time.time() * 1e6))},
               rsm_set(1, before=""))
    srv.ctl_ok("mam-browse", "alice@localhost", "--max=2")
    srv.ctl_ok("mam-delete", "alice@localhost", "--before=" + stamp(t[2]))
    srv.ctl_ok("mam-delete", a.room("shapes"))
    time.sleep(0.5)
    log = srv.log()
    plans = [line for line in log.splitlines() if "archive statement" in line]
    assert len(plans) > 20, "\n".join(plans)
    assert any("archive_owner_time" in p for p in plans)
    assert any("archive_owner_peer" in p for p in plans)
    assert "reads a whole table or sorts" not in log
    for p in plans:
        assert "SCAN " not in p and "TEMP B-TREE" not in p, p
    for c in (alice, bob):
        c.close()
    a.close()


def test_archive_whose_times_go_back_is_still_read_right(server_factory,
                                                         passwords):
    """An archive whose times stop following its order (a clock set back
    between two runs, here: its items moved a year ahead while emberd was
    stopped) is marked so for good, and its time bounds are then
    filters: the results stay exact."""
    srv = server_factory()
    alice, bob = logged_in(srv, passwords, "alice", "bob")
    fill(bob, alice, 5, "old")
    alice.close()
    bob.close()
    srv.stop()
    year = 365 * 86400 * 10**6
    db_exec(srv, "UPDATE archive SET time = time + ? WHERE oid = (SELECT "
            "oid FROM archive_owner WHERE user = 'alice' AND store = "
            "'mam')", (year,))
    srv.start()
    alice, bob = logged_in(srv, passwords, "alice", "bob")
    # Still in order: the year ahead is one block.
    old = query(alice, qid="o")[0]
    to = [int(i) for i in ids_of(old)]
    r, _ = query(alice, {"start": stamp(to[2])}, qid="o2")
    assert [body_of(x) for x in r] == ["old02", "old03", "old04"]
    new = fill(bob, alice, 4, "new")
    allr, _ = query(alice, qid="all")
    assert [body_of(x) for x in allr] == \
        ["old%02d" % i for i in range(5)] + new
    tn = [int(i) for i in ids_of(allr)[5:]]
    assert tn[0] < to[0]
    cases = [
        ({"start": stamp(tn[1])}, [f"old{i:02d}" for i in range(5)] +
         new[1:]),
        ({"end": stamp(tn[2])}, new[:3]),
        ({"start": stamp(tn[1]), "end": stamp(tn[2])}, new[1:3]),
        ({"start": stamp(to[3])}, ["old03", "old04"]),
        ({"end": stamp(to[1])}, ["old00", "old01"] + new),
        ({"with": "bob@localhost", "start": stamp(to[4])}, ["old04"]),
    ]
    for k, (fields, want) in enumerate(cases):
        r, _ = query(alice, fields, qid="c%d" % k)
        assert [body_of(x) for x in r] == want, fields
    r, _ = query(alice, {"start": stamp(tn[0])}, rsm_set(2, before=""),
                 flip=True, qid="flip")
    assert [body_of(x) for x in r] == [new[3], new[2]]
    alice.close()
    bob.close()
    srv.stop()
    ordered = dict(db_exec(srv, "SELECT user, ordered FROM "
                           "archive_owner WHERE store = 'mam'"))
    assert ordered["alice"] == 0 and ordered["bob"] == 1


def test_acknowledged_messages_are_archived_kill_9_included(server_factory,
                                                             passwords):
    """The acknowledgement of a message (XEP-0198 <a/>) comes once its
    archive row is committed: 300 chat messages, <r/>, SIGKILL the moment
    the <a/> comes; after a restart all 300 are in the sender's
    archive."""
    srv = server_factory()
    alice = RawClient(srv.c2s_port, domain=srv.domain)
    alice.login("alice", passwords["alice"])
    enable(alice, resume=False)
    n = 300
    alice.send("".join("<message to='bob@localhost' type='chat' id='k%d'>"
                       "<body>kept %d</body></message>" % (i, i)
                       for i in range(n)))
    alice.send("<r xmlns='%s'/>" % NS_SM)
    h = int(alice.recv(sm("a"), timeout=60).get("h"))
    srv.kill9()
    assert h == n
    srv.start()
    out = json.loads(srv.ctl_ok("--json", "mam-browse", "alice@localhost",
                                "--max=1000").stdout)
    got = {m["xml"].split("<body>")[1].split("</body>")[0]
           for m in out["messages"]}
    assert got == {"kept %d" % i for i in range(n)}



def test_acknowledged_groupchat_is_in_the_room_archive_after_kill_9(
        server_factory, passwords):
    """The same for a room: the <a/> covering 200 groupchat messages comes
    once the room's archive has them all; SIGKILL then, restart, and the
    persistent room's archive holds all 200."""
    srv = server_factory(start=False)
    srv.add_module("muc", message_rate=0)   # all 200 at once
    srv.start()
    a = Occ(srv, "alice", passwords["alice"])
    a.create("durable", "Alice", {"muc#roomconfig_persistentroom": "1"})
    enable(a.c, resume=False)
    n = 200
    a.send("".join("<message to='%s' type='groupchat'><body>said %d</body>"
                   "</message>" % (a.room("durable"), i) for i in range(n)))
    a.send("<r xmlns='%s'/>" % NS_SM)
    h = int(a.recv(sm("a"), timeout=60).get("h"))
    srv.kill9()
    assert h == n
    srv.start()
    out = json.loads(srv.ctl_ok("--json", "mam-browse", a.room("durable"),
                                "--max=1000").stdout)
    got = {m["xml"].split("<body>")[1].split("</body>")[0]
           for m in out["messages"]}
    assert got == {"said %d" % i for i in range(n)}

V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE keyval (host TEXT NOT NULL, store TEXT NOT NULL,
  user TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (host, store, user)) WITHOUT ROWID;
CREATE INDEX keyval_user ON keyval (host, user);
CREATE TABLE map (host TEXT NOT NULL, store TEXT NOT NULL,
  user TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (host, store, user, key)) WITHOUT ROWID;
CREATE INDEX map_user ON map (host, user);
CREATE TABLE archive (id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,
  peer TEXT, time INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX archive_user ON archive (host, user, store, id);
CREATE INDEX archive_peer ON archive (host, store, user, peer, id);
CREATE INDEX archive_time ON archive (host, store, user, time);
"""


@pytest.mark.skipif(STORAGE == "pgsql", reason="storage_sqlite's own "
                    "schema history (storage_pgsql's migrations: "
                    "test_storage_pgsql.py)")
def test_archives_of_schema_1_are_carried_over(server_factory, passwords):
    """A database of the previous release (schema 1: archive rows keyed by
    host, store and user strings) is migrated at load: the items, their
    ids and their order stay, ids go on from the old sequence, and an
    archive whose times went back is read with filters."""
    srv = server_factory(start=False, users=False)
    path = db_path(srv)
    for p in path.parent.glob("ember.db*"):
        p.unlink()
    base = int(time.time() * 1e6) - 3600 * 10**6
    with sqlite3.connect(str(path)) as db:
        db.executescript(V1_SCHEMA)
        rows = []
        for i in range(6):
            rows.append((i + 1, "localhost", "mam", "alice",
                         "bob@localhost", base + i * 1000,
                         "<message xmlns=\"jabber:client\" from=\"bob@"
                         "localhost/x\" to=\"alice@localhost\" type=\"chat\">"
                         "<body>v1 %d</body></message>" % i))
        # carol's times go back between items 8 and 9.
        for i, t in ((7, base + 50000), (8, base + 90000),
                     (9, base + 60000)):
            rows.append((i, "localhost", "mam", "carol", "bob@localhost",
                         t, "<message xmlns=\"jabber:client\" from=\"bob@"
                         "localhost/x\" to=\"carol@localhost\" type=\"chat\">"
                         "<body>c %d</body></message>" % i))
        db.executemany("INSERT INTO archive VALUES (?, ?, ?, ?, ?, ?, ?)",
                       rows)
        # Newer items were deleted: their ids must not come back.
        db.execute("UPDATE sqlite_sequence SET seq = 40 WHERE name = "
                   "'archive'")
    for u, pw in passwords.items():
        srv.ctl_ok("adduser", "%s@localhost" % u, input="%s\n%s\n" % (pw, pw))
    srv.start()
    alice, = logged_in(srv, passwords, "alice")
    r, _ = query(alice)
    assert [body_of(x) for x in r] == ["v1 %d" % i for i in range(6)]
    assert ids_of(r) == [str(base + i * 1000) for i in range(6)]
    r, _ = query(alice, {"start": stamp(base + 2000),
                         "end": stamp(base + 4000)}, qid="w")
    assert [body_of(x) for x in r] == ["v1 2", "v1 3", "v1 4"]
    bob, carol = logged_in(srv, passwords, "bob", "carol")
    chat(bob, "alice@localhost", "after the migration")
    recv_chat(alice, "after the migration")
    r, _ = query(carol, {"start": stamp(base + 60000)}, qid="c")
    assert [body_of(x) for x in r] == ["c 8", "c 9"]
    for c in (alice, bob, carol):
        c.close()
    srv.stop()
    with sqlite3.connect(str(path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() \
            == (2,)
        ordered = dict(db.execute("SELECT user, ordered FROM archive_owner"))
        assert ordered["alice"] == 1 and ordered["carol"] == 0
        newest = db.execute("SELECT min(id) FROM archive WHERE id > 9")
        assert newest.fetchone()[0] > 40
