"""storage_pgsql (issue 19): the storage backend on PostgreSQL.  Each test
module run starts its own PostgreSQL (initdb in a temporary directory, a
loopback port) and gives every emberd a database of its own: the schema
is made from an empty database and kept across restarts; what the server
acknowledged survives a kill -9 in the middle of a flood; a database that
cannot be reached at start is a clear error; a server stopped while
emberd runs gives clients errors, not silence, and emberd goes on once it
is back."""

import re
import time

import pytest

import pgsql_peer
from rawxmpp import NS_CLIENT, RawClient, q
from test_sm import NS_SM, enable, sm

pytestmark = pytest.mark.skipif(not pgsql_peer.available(),
                                reason="PostgreSQL 15 binaries missing "
                                "(tools/deps.sh test installs postgresql)")

NS_ROSTER = "jabber:iq:roster"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


@pytest.fixture(scope="module")
def pg():
    p = pgsql_peer.Postgres()
    yield p
    p.close()


def pg_server(server_factory, pg, passwords, start=True, **opts):
    """An emberd on a new database of pg (users added offline, through
    storage_pgsql)."""
    srv = server_factory(start=False, users=False)
    el = srv.use_pgsql(pg.create_database())
    for k, v in opts.items():
        el.set(k, str(v))
    srv.save()
    srv.addusers(passwords)
    if start:
        srv.start()
    return srv


def login(srv, passwords, user):
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, passwords[user])
    return c


def roster_set(c, jid, name):
    return c.iq("set", "<query xmlns='%s'><item jid='%s' name='%s'/>"
                "</query>" % (NS_ROSTER, jid, name), timeout=30)


def roster_names(c):
    r = c.iq("get", "<query xmlns='%s'/>" % NS_ROSTER)
    assert r.get("type") == "result"
    return {i.get("jid"): i.get("name")
            for i in r.find(q(NS_ROSTER, "query"))}


def test_schema_made_from_an_empty_database_and_kept(server_factory, pg,
                                                      passwords):
    """An empty database gets the schema at the first start, at its
    version; a restart finds it there (no migration again) with what the
    clients stored before: a roster item and a message to an offline
    account."""
    srv = pg_server(server_factory, pg, passwords)
    ci = srv.pg_conninfo
    assert pg.psql(ci, "SELECT version FROM schema_version") == [["1"]]
    tables = {r[0] for r in pg.psql(
        ci, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"keyval", "map", "archive", "archive_owner",
            "schema_version"} <= tables
    alice = login(srv, passwords, "alice")
    assert roster_set(alice, "dave@localhost", "Dave").get("type") == "result"
    alice.message("bob@localhost", "kept over a restart")
    alice.sync()
    alice.close()
    srv.restart()
    assert pg.psql(ci, "SELECT count(*) FROM schema_version") == [["1"]]
    alice = login(srv, passwords, "alice")
    assert roster_names(alice)["dave@localhost"] == "Dave"
    bob = login(srv, passwords, "bob")
    bob.presence()
    m = bob.recv_message(timeout=10)
    assert m.find(q(NS_CLIENT, "body")).text == "kept over a restart"
    alice.close()
    bob.close()


def test_newer_schema_is_refused_at_start(server_factory, pg, passwords):
    """A database written by a newer storage_pgsql is left alone: the
    module does not load, and says why."""
    srv = pg_server(server_factory, pg, passwords, start=False)
    pg.psql(srv.pg_conninfo, "UPDATE schema_version SET version = 99")
    srv.start(wait=False)
    srv.wait_log(r"storage_pgsql.*database schema version 99 is newer "
                 r"than this module's \(1\)")
    srv.wait_log(r"storage_pgsql\] not loaded")
    # The core goes on without the module (as with any module that fails
    # to load): nothing is stored, every store request fails.
    srv.wait_ready()
    assert pg.psql(srv.pg_conninfo, "SELECT version FROM schema_version") \
        == [["99"]]


def test_database_down_at_start_is_a_clear_error(server_factory, passwords):
    """Nothing listens where conninfo points: the module does not load,
    with a line naming PostgreSQL and where it was looked for."""
    srv = server_factory(start=False, users=False)
    port = pgsql_peer.free_tcp_port()
    srv.use_pgsql("host=127.0.0.1 port=%d user=postgres dbname=x "
                  "connect_timeout=3" % port)
    srv.start(wait=False)
    srv.wait_log(r"storage_pgsql\] cannot connect to PostgreSQL: .*"
                 r"port %d failed" % port)
    srv.wait_log(r"storage_pgsql\] not loaded")
    # The core goes on without the module (as with any module that fails
    # to load): nothing is stored, every store request fails.
    srv.wait_ready()


def test_acknowledged_survives_kill_9(server_factory, pg,
                                                 passwords):
    """2,000 messages to two offline accounts (requests for two workers
    of the pool, whose commits complete in any order between them), <r/>,
    and emberd killed with SIGKILL the moment the <a/> comes: after a
    restart every acknowledged message is in the offline stores."""
    srv = pg_server(server_factory, pg, passwords, start=False)
    srv.add_module("offline", **{"max-messages": "10000"})
    srv.start()
    alice = login(srv, passwords, "alice")
    enable(alice, resume=False)
    n = 2000
    alice.send("".join("<message to='%s@localhost' type='chat' id='f%d'>"
                       "<body>m%d</body></message>"
                       % ("bob" if k % 2 else "carol", k, k)
                       for k in range(n)))
    alice.send("<r xmlns='%s'/>" % NS_SM)
    h = int(alice.recv(sm("a"), timeout=60).get("h"))
    srv.kill9()
    assert h == n
    srv.start()
    got = set()
    for u in ("bob", "carol"):
        c = login(srv, passwords, u)
        c.presence()
        while True:
            try:
                m = c.recv_message(timeout=3)
            except Exception:
                break
            got.add(m.find(q(NS_CLIENT, "body")).text)
        c.close()
    missing = [k for k in range(h) if "m%d" % k not in got]
    assert not missing, "acknowledged (h=%d) but lost: %s" % (h, missing[:20])


def test_postgres_stopped_then_back(server_factory, passwords):
    """PostgreSQL stops while emberd runs: what needs storage fails with an
    error to the client once `retry` (2 s) has passed (a roster set gets
    an iq error, a message to an offline account a message error), never
    silence; once the server is back, the same requests succeed."""
    own = pgsql_peer.Postgres()
    try:
        srv = pg_server(server_factory, own, passwords, retry=2)
        alice = login(srv, passwords, "alice")
        assert roster_set(alice, "dave@localhost", "A").get("type") == \
            "result"
        own.stop()
        pgsql_peer.wait_down(own)
        r = roster_set(alice, "dave@localhost", "B")
        assert r.get("type") == "error"
        mid = alice.message("bob@localhost", "while down")
        err = alice.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                         e.get("id") == mid, timeout=30)
        assert err.get("type") == "error"
        assert srv.wait_log(r"PostgreSQL unreachable, request failed")
        own.start()
        deadline = time.monotonic() + 30
        while True:
            r = roster_set(alice, "dave@localhost", "C")
            if r.get("type") == "result" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.get("type") == "result"
        assert roster_names(alice)["dave@localhost"] == "C"
        alice.message("bob@localhost", "after")
        alice.sync()
        alice.close()
        bob = login(srv, passwords, "bob")
        bob.presence()
        assert bob.recv_message(timeout=10).find(
            q(NS_CLIENT, "body")).text == "after"
        bob.close()
        srv.stop()
    finally:
        own.close()


def test_appends_in_time_order_leave_the_owner_row_alone(server_factory, pg,
                                                         passwords):
    """An archive's owner row is written when the archive is created and
    when an item older than one already there clears its `ordered` flag,
    never for each item: a row version per item would leave PostgreSQL
    dead versions to step over in every later append of a busy archive."""
    srv = pg_server(server_factory, pg, passwords)
    conninfo = next(m.get("conninfo") for m in srv.cfg.iter("module")
                    if m.get("name") == "storage_pgsql")
    alice = login(srv, passwords, "alice")
    enable(alice, resume=False)

    def send(first, n):
        alice.send("".join("<message to='bob@localhost' type='chat' "
                           "id='o%d'><body>m%d</body></message>" % (k, k)
                           for k in range(first, first + n)))
        alice.send("<r xmlns='%s'/>" % NS_SM)
        assert int(alice.recv(sm("a"), timeout=60).get("h")) == first + n

    def owner():
        return pg.psql(conninfo, "SELECT xmin, ordered FROM archive_owner "
                       "WHERE store = 'mam' AND usr = 'alice'")

    send(0, 50)
    before = owner()
    assert len(before) == 1 and before[0][1] == "t", before
    send(50, 300)
    assert owner() == before
    assert pg.psql(conninfo, "SELECT count(*) FROM archive a JOIN "
                   "archive_owner o USING (oid) WHERE o.store = 'mam' "
                   "AND o.usr = 'alice'") == [["350"]]
