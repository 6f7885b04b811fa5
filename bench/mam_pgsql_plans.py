#!/usr/bin/python3
"""The query shapes of storage_pgsql on a large archive (issue 19): a
PostgreSQL of its own (tests/integration/pgsql_peer.py), the schema made
by storage_pgsql itself (emberctl adduser, offline), then N archive rows
seeded with one INSERT ... SELECT generate_series (90 % in one archive,
100 peers, times following ids), ANALYZE, and EXPLAIN ANALYZE of each
page shape mod_mam asks for, written as storage_pgsql_archive.c writes it
(a page is 50 items and one more).  Prints the plan's scans and the
server's execution time.

    EMBER_BUILD=build /usr/bin/python3 bench/mam_pgsql_plans.py [N]
"""
import os, sys, time, tempfile
from pathlib import Path
TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))
os.environ["EMBER_STORAGE"] = "pgsql"
import harness, pgsql_peer  # noqa: E402
root = tempfile.mkdtemp(prefix="ember-pgx-")  # emberctl init writes here
srv = harness.Server(root)
srv.adduser("alice", "x")           # offline: creates the schema
pg = pgsql_peer.shared(); ci = srv.pg_conninfo
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
t0 = time.monotonic()
pg.psql(ci, "INSERT INTO archive_owner (host, store, usr) VALUES ('localhost','mam','alice'),('localhost','mam','other')")
pg.psql(ci, "INSERT INTO archive (oid, time, peer, data) SELECT CASE WHEN g %% 10 < 9 THEN 1 ELSE 2 END, 1700000000000000 + g * 1000, 'c' || (g %% 100) || '@localhost', '<message><body>' || g || '</body></message>' FROM generate_series(1, %d) g" % N)
pg.psql(ci, "ANALYZE")
print("seeded %d rows in %.1f s" % (N, time.monotonic() - t0))
mid = 1700000000000000 + N // 2 * 1000
shapes = {
 "last page": "SELECT id, peer, time, data FROM archive WHERE oid = 1 ORDER BY id DESC LIMIT 51",
 "after id": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND id > %d ORDER BY id LIMIT 51" % (N // 2),
 "before id": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND id < %d ORDER BY id DESC LIMIT 51" % (N // 2),
 "start (ordered)": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND id >= (SELECT id FROM archive WHERE oid = 1 AND time >= %d ORDER BY time, id LIMIT 1) ORDER BY id LIMIT 51" % mid,
 "end (ordered)": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND id <= (SELECT id FROM archive WHERE oid = 1 AND time <= %d ORDER BY time DESC, id DESC LIMIT 1) ORDER BY id DESC LIMIT 51" % mid,
 "with": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND peer = 'c7@localhost' ORDER BY peer, id LIMIT 51",
 "with + before id": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND peer = 'c7@localhost' AND id < %d ORDER BY peer DESC, id DESC LIMIT 51" % (N // 2),
 "start (unordered filter)": "SELECT id, peer, time, data FROM archive WHERE oid = 1 AND time >= %d ORDER BY id LIMIT 51" % mid,
}
for name, sql in shapes.items():
    plan = [r[0] for r in pg.psql(ci, "EXPLAIN (ANALYZE, TIMING ON) " + sql)]
    nodes = [l.strip() for l in plan if "Scan" in l or "Sort" in l]
    ex = [l for l in plan if "Execution Time" in l][0].strip()
    print("%-26s %-22s %s" % (name, ex.replace("Execution Time: ", ""), " | ".join(n.split("  (")[0] for n in nodes)))
import shutil  # noqa: E402
shutil.rmtree(root, ignore_errors=True)
