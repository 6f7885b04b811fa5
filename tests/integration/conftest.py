"""Fixtures: a real emberd per test, on free loopback ports, in tmp_path.

    def test_x(server):              # started, with users alice/bob/carol
        ...
    def test_y(server_factory):      # edit the config first
        srv = server_factory(start=False)
        srv.set_limits(max_stanza_size=4096)
        srv.start()
"""

import signal
import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))

from harness import EMBERCTL, EMBERD, Server, ServerError  # noqa: E402

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret",
             "carol": "carol-secret"}

# No test may run longer than this (a last resort: every wait is bounded).
TEST_ALARM = 180


# The files that take longest (peer servers, s2s timeouts) run first:
# under xdist each file is one unit of work, and a long one handed out
# last keeps one worker busy while the others have nothing left.
LONGEST_FIRST = ("test_s2s.py", "test_dane.py", "test_migrate.py",
                 "test_federation_ejabberd.py", "test_cluster.py",
                 "test_federation_prosody.py", "test_migrate_storage.py",
                 "test_mam_store.py", "test_sm.py")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return (LONGEST_FIRST.index(name) if name in LONGEST_FIRST
                else len(LONGEST_FIRST))
    items.sort(key=rank)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _alarm():
    def on_alarm(signum, frame):
        raise TimeoutError("test exceeded %d s" % TEST_ALARM)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_ALARM)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def server_factory(tmp_path, request):
    if not EMBERD.exists() or not EMBERCTL.exists():
        pytest.fail("%s or %s not built: run make (EMBER_BUILD picks the "
                    "build directory)" % (EMBERD, EMBERCTL), pytrace=False)
    servers = []

    def make(start=True, users=True, domain="localhost", plain=False):
        root = tmp_path / ("srv%d" % len(servers))
        root.mkdir()
        srv = Server(root, domain=domain)
        servers.append(srv)
        if plain:
            srv.add_plain_listener()
        # Through the running server when there is one: an offline
        # emberctl starts every module in-process first (half a second
        # under the sanitizers, on every test).
        if users and not start:
            srv.addusers(PASSWORDS)
        if start:
            srv.start()
            if users:
                srv.addusers(PASSWORDS)
        return srv

    yield make

    problems = []
    for srv in servers:
        try:
            if srv.running():
                srv.stop()
        except ServerError as e:
            problems.append(str(e).splitlines()[0])
        mark = srv.sanitizer_report()
        if mark:
            problems.append("sanitizer report in emberd log: %s" % mark)
    failed = any(getattr(request.node, "rep_" + w, None) is not None and
                 getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    if failed or problems:
        for i, srv in enumerate(servers):
            print("==== emberd log #%d (%s, ports %d..) ====\n%s"
                  % (i, srv.dir, srv.base, srv.log()))
    drop_databases(servers)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def drop_databases(servers):
    """The PostgreSQL databases of the test's servers, once stopped."""
    import pgsql_peer
    pg = pgsql_peer.shared_if_started()
    if pg is None:
        return
    for conninfo in {s.pg_conninfo for s in servers
                     if s.storage == "pgsql" and not s.running()}:
        if conninfo is not None:
            pg.drop_database(conninfo)


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def passwords():
    return dict(PASSWORDS)
