"""Several emberd nodes sharing sessions and routing through Redis
(doc/cluster.md): delivery between users on different nodes follows the
RFC 6120 section 10 / RFC 6121 section 8 rules as on one server, a node
killed with SIGKILL is detected by its lease and its users vanish from
the others, Redis restarted is rejoined, a node killed while messages
flow loses none that was acknowledged.

The nodes share one PostgreSQL database (storage_pgsql, as
doc/cluster.md asks of a cluster) on a server of the test's own; without
PostgreSQL's binaries each node has its own SQLite, accounts and rosters
written to every one, and the tests that need shared storage are
skipped."""

import json
import shutil
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import pgsql_peer
from harness import ServerError, free_port
from rawxmpp import NS_CLIENT, RawClient, q

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server not installed "
                                       "(tools/deps.sh test)")

DEADLINE = 30.0

SHARED_STORAGE = pgsql_peer.available()
needs_shared_storage = pytest.mark.skipif(
    not SHARED_STORAGE, reason="PostgreSQL binaries not installed "
                               "(tools/deps.sh test)")


class Redis:
    """A private redis-server on a loopback port, nothing saved."""

    def __init__(self, root, extra=()):
        self.root = root
        self.port = free_port()
        self.proc = None
        self.extra = list(extra)

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.root)] +
            self.extra,
            stdout=open(self.root / "redis.log", "ab"),
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerError("redis-server did not start")
                time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis(tmp_path):
    root = tmp_path / "redis"
    root.mkdir()
    r = Redis(root)
    r.start()
    yield r
    r.stop()


@pytest.fixture
def cluster(server_factory, redis, passwords):
    """make(n) -> n started nodes named n0.. on one Redis."""

    def make(n, share_port=False, lease_ms=1500, shared=SHARED_STORAGE,
             modules=()):
        nodes = []
        conninfo = pgsql_peer.shared().create_database() if shared else None
        for i in range(n):
            srv = server_factory(start=False, users=conninfo is None)
            if conninfo is not None:
                srv.use_pgsql(conninfo)
                srv.save()
                if i == 0:
                    srv.addusers(passwords)
            for mod in modules:
                name, opts = (mod, {}) if isinstance(mod, str) else mod
                srv.add_module(name, **opts)
            ET.SubElement(srv.cfg, "cluster", node="n%d" % i,
                          redis="127.0.0.1:%d" % redis.port,
                          **{"lease-ms": str(lease_ms)})
            if share_port and i > 0:
                for li in srv.cfg.findall("listen"):
                    if li.get("type") == "c2s":
                        li.set("port", str(nodes[0].c2s_port))
                srv.base = nodes[0].base
            srv.start()
            srv.wait_log(r"emberd ready")
            # alice and bob are subscribed both ways: once in the shared
            # database, or on every node that has its own.
            for x, y in (("alice", "bob"), ("bob", "alice")):
                if conninfo is None or i == 0:
                    srv.ctl_ok("roster-add", srv.jid(x), srv.jid(y),
                               "--subscription=both")
            nodes.append(srv)
        for srv in nodes:
            srv.wait_log(r"node n\d+ joined the cluster")
        return nodes
    return make


def sessions(srv):
    r = srv.ctl_ok("--json", "sessions")
    res = json.loads(r.stdout)
    if isinstance(res, dict):
        res = res["result"]
    return {s["jid"]: s for s in res}


def wait_for(what, pred, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("never happened: " + what)
        time.sleep(0.1)


def seen_by(nodes, jid):
    """Until every node lists jid (its own or a remote session)."""
    for srv in nodes:
        wait_for("%s listed by %s" % (jid, srv.root.name),
                 lambda srv=srv: jid in sessions(srv))


def connect(srv, passwords, user, resource, priority=None):
    c = RawClient(srv.c2s_port)
    c.login(user, passwords[user], resource=resource)
    c.presence(priority)
    c.sync()
    return c


def body_of(msg):
    b = msg.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def is_presence(frm, type_=None):
    return lambda el: (el.tag == q(NS_CLIENT, "presence") and
                       el.get("from") == frm and el.get("type") == type_)


def test_chat_between_three_nodes(cluster, passwords):
    nodes = cluster(3)
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    c = connect(nodes[2], passwords, "carol", "c")
    for jid in ("alice@localhost/a", "bob@localhost/b", "carol@localhost/c"):
        seen_by(nodes, jid)
    listed = sessions(nodes[2])
    assert listed["alice@localhost/a"]["node"] == "n0"
    assert listed["bob@localhost/b"]["node"] == "n1"
    assert listed["carol@localhost/c"]["node"] == "n2"

    a.message("bob@localhost/b", "to full", id_="m1")
    m = b.recv_message()
    assert body_of(m) == "to full" and m.get("from") == "alice@localhost/a"
    b.message("alice@localhost", "to bare", id_="m2")
    m = a.recv_message()
    assert body_of(m) == "to bare" and m.get("from") == "bob@localhost/b"
    c.message("alice@localhost", "from carol", id_="m3")
    m = a.recv_message()
    assert body_of(m) == "from carol" and m.get("from") == "carol@localhost/c"
    # An iq to a full JID on another node, and that client's answer.
    c.answer_version = False
    a.send("<iq type='get' id='v1' to='carol@localhost/c'>"
           "<query xmlns='jabber:iq:version'/></iq>")
    el = c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                e.get("id") == "v1", timeout=DEADLINE)
    assert el.get("from") == "alice@localhost/a"
    c.send("<iq type='result' id='v1' to='alice@localhost/a'/>")
    r = a.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
               e.get("id") == "v1", timeout=DEADLINE)
    assert r.get("type") == "result" and r.get("from") == "carol@localhost/c"


def test_bare_jid_highest_priority_across_nodes(cluster, passwords):
    nodes = cluster(3)
    high = connect(nodes[1], passwords, "bob", "high", priority=5)
    low = connect(nodes[2], passwords, "bob", "low", priority=1)
    seen_by([nodes[0]], "bob@localhost/high")
    seen_by([nodes[0]], "bob@localhost/low")
    wait_for("priorities published", lambda: (
        sessions(nodes[0])["bob@localhost/high"]["priority"] == 5 and
        sessions(nodes[0])["bob@localhost/low"]["priority"] == 1))
    a = connect(nodes[0], passwords, "alice", "a")
    a.message("bob@localhost", "bare", id_="bare1")
    a.message("bob@localhost/low", "marker", id_="mark")
    m = high.recv_message()
    assert m.get("id") == "bare1" and body_of(m) == "bare"
    # RFC 6121 8.5.2.1.1: only the highest priority gets it; the marker,
    # sent after, arrives first at the other resource.
    assert low.recv_message().get("id") == "mark"
    # Equal priorities: both get it (the server's choice, 8.5.2.1.1),
    # here every one of them, wherever they are.
    low.presence(5)
    low.sync()
    wait_for("priority 5 published", lambda: sessions(nodes[0])[
        "bob@localhost/low"]["priority"] == 5)
    a.message("bob@localhost", "both", id_="both")
    assert high.recv_message().get("id") == "both"
    assert low.recv_message().get("id") == "both"


def test_presence_subscription_across_nodes(cluster, passwords):
    nodes = cluster(2)
    # Interested resources (RFC 6121 3.1.5): they asked for the roster.
    a = RawClient(nodes[0].c2s_port)
    a.login("alice", passwords["alice"], resource="a")
    a.iq("get", "<query xmlns='jabber:iq:roster'/>")
    b = RawClient(nodes[1].c2s_port)
    b.login("bob", passwords["bob"], resource="b")
    b.iq("get", "<query xmlns='jabber:iq:roster'/>")
    seen_by(nodes, "alice@localhost/a")
    seen_by(nodes, "bob@localhost/b")
    # alice and bob are subscribed both ways: bob is available first, so
    # alice learns of him by the probe her initial presence sends to his
    # node (RFC 6121 4.3), and he by her broadcast.
    b.presence()
    b.sync()
    wait_for("bob available on n0", lambda: sessions(nodes[0])[
        "bob@localhost/b"]["available"])
    a.presence()
    a.recv(is_presence("bob@localhost/b"), timeout=DEADLINE)
    b.recv(is_presence("alice@localhost/a"), timeout=DEADLINE)

    # alice and carol are not subscribed: a handshake across nodes.
    c = connect(nodes[1], passwords, "carol", "c")
    seen_by([nodes[0]], "carol@localhost/c")
    a.send("<presence to='carol@localhost' type='subscribe'/>")
    el = c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                e.get("type") == "subscribe", timeout=DEADLINE)
    assert el.get("from") == "alice@localhost"
    c.send("<presence to='alice@localhost' type='subscribed'/>")
    a.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
           e.get("type") == "subscribed" and
           e.get("from") == "carol@localhost", timeout=DEADLINE)
    # The contact's presence follows the approval (3.1.5).
    a.recv(is_presence("carol@localhost/c"), timeout=DEADLINE)

    # Unavailable from a client that leaves is broadcast across too.
    b.send("<presence type='unavailable'/>")
    a.recv(is_presence("bob@localhost/b", "unavailable"), timeout=DEADLINE)


def test_killed_node_is_detected_and_its_users_move(cluster, passwords):
    nodes = cluster(3)
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    a.recv(is_presence("bob@localhost/b"), timeout=DEADLINE)
    seen_by([nodes[0], nodes[2]], "bob@localhost/b")
    # Messages flow while the node dies.
    for i in range(5):
        a.message("bob@localhost/b", "before %d" % i, id_="b%d" % i)
    for i in range(5):
        assert b.recv_message().get("id") == "b%d" % i
    nodes[1].kill9()
    # Its lease expires: alice hears bob is gone, no node lists him.
    a.recv(is_presence("bob@localhost/b", "unavailable"), timeout=DEADLINE)
    for srv in (nodes[0], nodes[2]):
        wait_for("bob gone from " + srv.root.name,
                 lambda srv=srv: "bob@localhost/b" not in sessions(srv))
    assert nodes[0].running() and nodes[2].running()
    # bob comes back through another node and chats.
    b2 = connect(nodes[2], passwords, "bob", "b2")
    a.recv(is_presence("bob@localhost/b2"), timeout=DEADLINE)
    a.message("bob@localhost", "welcome back", id_="wb")
    m = b2.recv_message()
    assert m.get("id") == "wb" and m.get("from") == "alice@localhost/a"
    b2.message("alice@localhost/a", "thanks", id_="th")
    assert a.recv_message().get("id") == "th"


def test_redis_restart_nodes_rejoin(cluster, redis, passwords):
    # A node whose first try came while Redis was still down waited
    # forever (hiredis 0.14's libuv adapter drops a refused connect):
    # now an attempt has a deadline (test_a_node_started_before_redis_...).
    nodes = cluster(2)
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    seen_by(nodes, "bob@localhost/b")
    seen_by(nodes, "alice@localhost/a")
    start = len(nodes[0].log())
    redis.stop()
    nodes[0].wait_log(r"lost Redis", timeout=DEADLINE, start=start)
    # Alone, a node serves its own users.
    a2 = connect(nodes[0], passwords, "carol", "c")
    a2.message("alice@localhost/a", "local while Redis is away", id_="l1")
    assert a.recv_message().get("id") == "l1"
    redis.start()
    # Both republish what Redis forgot.
    seen_by([nodes[0]], "bob@localhost/b")
    seen_by([nodes[1]], "alice@localhost/a")
    a.message("bob@localhost/b", "after restart", id_="ar")
    assert b.recv_message().get("id") == "ar"


def test_nodes_share_the_client_port(cluster, passwords):
    nodes = cluster(2, share_port=True)
    clients = [RawClient(nodes[0].c2s_port) for _ in range(16)]
    for i, c in enumerate(clients):
        c.login("alice", passwords["alice"], resource="r%d" % i)
    local = [{j for j, s in sessions(srv).items() if s["node"] == name}
             for srv, name in ((nodes[0], "n0"), (nodes[1], "n1"))]
    wait_for("16 sessions listed",
             lambda: len(sessions(nodes[0])) == 16)
    local = [{j for j, s in sessions(srv).items() if s["node"] == name}
             for srv, name in ((nodes[0], "n0"), (nodes[1], "n1"))]
    # The kernel spreads the connections over both listeners.
    assert local[0] and local[1]
    assert len(local[0]) + len(local[1]) == 16
    j0, j1 = sorted(local[0])[0], sorted(local[1])[0]
    c0 = clients[int(j0.rsplit("/r", 1)[1])]
    c1 = clients[int(j1.rsplit("/r", 1)[1])]
    c0.message(j1, "across", id_="x")
    m = c1.recv_message()
    assert m.get("id") == "x" and m.get("from") == j0


def test_a_node_started_before_redis_joins_when_it_comes(server_factory,
                                                         tmp_path):
    """Redis down when the node starts, and refusing its first attempts:
    the node serves alone and keeps trying (doc/cluster.md), and joins
    once Redis listens.  A refused connection must end the attempt."""
    root = tmp_path / "late-redis"
    root.mkdir()
    r = Redis(root)
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "cluster", node="n0",
                  redis="127.0.0.1:%d" % r.port, **{"lease-ms": "1500"})
    srv.start()
    srv.wait_log(r"cannot reach Redis", timeout=DEADLINE)
    time.sleep(1.5)             # a few refused attempts
    r.start()
    try:
        srv.wait_log(r"node n0 joined the cluster", timeout=DEADLINE)
    finally:
        r.stop()


def test_a_redis_with_a_password(server_factory, tmp_path, passwords):
    """A Redis that requires a password (requirepass; doc/cluster.md says
    to keep Redis private): a node with it in password-file joins, one
    with a wrong password says so, keeps serving alone and stays out."""
    root = tmp_path / "auth-redis"
    root.mkdir()
    r = Redis(root, extra=["--requirepass", "two words"])
    r.start()
    try:
        nodes = []
        for name, pw in (("n0", "two words"), ("n1", "wrong")):
            srv = server_factory(start=False)
            (srv.config_path.parent / "redis.secret").write_text(pw + "\n")
            ET.SubElement(srv.cfg, "cluster", node=name,
                          redis="127.0.0.1:%d" % r.port,
                          **{"password-file": "redis.secret"})
            srv.start()
            nodes.append(srv)
        nodes[0].wait_log(r"node n0 joined the cluster", timeout=DEADLINE)
        nodes[1].wait_log(r"refused the cluster's password",
                          timeout=DEADLINE)
        c = connect(nodes[1], passwords, "alice", "a")
        c.ping()
        assert "joined the cluster" not in nodes[1].log()
        assert "two words" not in nodes[0].log()
    finally:
        r.stop()


@pytest.mark.parametrize("attrs,fragment", [
    ({"redis": "localhost", "node": "n0"}, "is not host:port"),
    ({"redis": "127.0.0.1:0", "node": "n0"}, "is not a port"),
    ({"redis": "127.0.0.1:6379", "node": "a b"}, "may hold only"),
    ({"redis": "127.0.0.1:6379", "node": "n0", "lease-ms": "10"},
     "out of range"),
    ({"redis": "127.0.0.1:6379", "node": "n0",
      "password-file": "no-such.secret"}, "cannot read password-file"),
    ({"redis": "127.0.0.1:6379", "node": "n0", "user": "ember"},
     "user needs password-file"),
])
def test_cluster_config_errors(server_factory, attrs, fragment):
    srv = server_factory(start=False, users=False)
    el = ET.SubElement(srv.cfg, "cluster", **attrs)
    srv.save()
    line = open(srv.config_path).read().split("\n").index(
        [li for li in open(srv.config_path).read().split("\n")
         if "<cluster" in li][0]) + 1
    r = srv.ctl("check")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert fragment in out and (":%d:" % line) in out
    assert el is not None


def test_reload_keeps_the_node_in_the_cluster(cluster, passwords):
    nodes = cluster(2)
    nodes[0].ctl_ok("reload")
    r = json.loads(nodes[0].ctl_ok("--json", "status").stdout)
    st = r.get("result", r)
    assert st["cluster"]["node"] == "n0" and st["cluster"]["connected"]
    assert {n["name"] for n in st["cluster"]["nodes"]} == {"n0", "n1"}
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    seen_by([nodes[0]], "bob@localhost/b")
    a.message("bob@localhost/b", "after reload", id_="r1")
    assert b.recv_message().get("id") == "r1"


NS_SM = "urn:xmpp:sm:3"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def sm_enable(c):
    c.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
    el = c.recv(lambda e: e.tag in (q(NS_SM, "enabled"), q(NS_SM, "failed")),
                timeout=DEADLINE)
    assert el.tag == q(NS_SM, "enabled")
    return el.get("id")


def acked(c):
    """h of the server's answer to an <r/> (it waits for storage)."""
    c.send("<r xmlns='%s'/>" % NS_SM)
    return int(c.recv(q(NS_SM, "a"), timeout=DEADLINE).get("h"))


def offline_count(srv, jid):
    return json.loads(srv.ctl_ok("--json", "offline-count", jid).stdout)[
        "count"]


def archived_bodies(c, peer):
    """Bodies of the messages from peer in c's archive (XEP-0313), every
    page."""
    from test_mam import body_of as mam_body, form, rsm_set
    NS_MAM = "urn:xmpp:mam:2"
    bodies, after, n = [], None, 0
    while True:
        n += 1
        qid = "mam%d" % n
        c.send("<iq type='set' id='%s'><query xmlns='%s' queryid='%s'>%s%s"
               "</query></iq>" % (qid, NS_MAM, qid, form(**{"with": peer}),
                                  rsm_set(max_=100, after=after)))
        last = None
        while True:
            el = c.recv(lambda e: (e.tag == q(NS_CLIENT, "iq") and
                                   e.get("id") == qid) or
                        (e.tag == q(NS_CLIENT, "message") and
                         e.find(q(NS_MAM, "result")) is not None),
                        timeout=DEADLINE)
            if el.tag == q(NS_CLIENT, "iq"):
                break
            res = el.find(q(NS_MAM, "result"))
            bodies.append(mam_body(res))
            last = res.get("id")
        assert el.get("type") == "result"
        fin = el.find(q(NS_MAM, "fin"))
        if fin.get("complete") in ("true", "1") or last is None:
            return bodies
        after = last


def drain(c):
    """Message bodies c receives until its stream ends."""
    got = []
    while True:
        try:
            el = c.recv(timeout=DEADLINE)
        except Exception:
            return got
        if el.tag == q(NS_CLIENT, "message"):
            got.append(body_of(el))


@needs_shared_storage
def test_kill_9_while_messages_flow_nothing_acknowledged_is_lost(
        cluster, passwords):
    """Issue 19: alice (stream management on) on n0, bob on n1 sending
    her messages; n0 killed with SIGKILL in the middle.  n1 keeps
    serving; every message bob's <a/> covers reaches alice exactly once
    when she logs in on n1 (her resumption fails there: the session died
    with n0, XEP-0198 section 5), and every one is in her archive."""
    nodes = cluster(2)
    alice = RawClient(nodes[0].c2s_port)
    alice.login("alice", passwords["alice"], resource="a")
    previd = sm_enable(alice)
    alice.presence()
    alice.sync()
    bob = RawClient(nodes[1].c2s_port)
    bob.login("bob", passwords["bob"], resource="b")
    sm_enable(bob)
    seen_by([nodes[1]], "alice@localhost/a")
    sent = 0

    def burst(n):
        nonlocal sent
        bob.send("".join(
            "<message to='alice@localhost' type='chat' id='m%d'>"
            "<body>m%d</body></message>" % (i, i)
            for i in range(sent, sent + n)))
        sent += n

    burst(50)
    assert acked(bob) == 50
    burst(200)            # still flowing when n0 dies
    nodes[0].kill9()
    burst(50)             # to a node that is gone, its lease not yet run out
    assert acked(bob) == 300
    live = drain(alice)
    wait_for("alice gone from n1",
             lambda: "alice@localhost/a" not in sessions(nodes[1]))
    burst(20)             # after her session is gone everywhere
    assert acked(bob) == 320
    assert nodes[1].running()

    # n1 never held her session: resumption fails, she logs in again.
    c = RawClient(nodes[1].c2s_port)
    c.login("alice", passwords["alice"], bind=False)
    c.send("<resume xmlns='%s' previd='%s' h='%d'/>"
           % (NS_SM, previd, len(live)))
    el = c.recv(lambda e: e.tag in (q(NS_SM, "resumed"), q(NS_SM, "failed")),
                timeout=DEADLINE)
    assert el.tag == q(NS_SM, "failed")
    assert el.find(q(NS_STANZAS, "item-not-found")) is not None
    c.bind("a2")
    waiting = offline_count(nodes[1], "alice@localhost")
    c.presence()
    offline = [body_of(c.recv_message()) for _ in range(waiting)]
    c.sync()
    assert len(offline) == len(set(offline)), "an offline copy twice"
    everything = {"m%d" % i for i in range(sent)}
    # What n0 took, stored and confirmed but had not yet written to her
    # when it died is neither: her archive has it (XEP-0313), stored
    # before bob's acknowledgement.  Each message once.
    archived = archived_bodies(c, "bob@localhost")
    assert sorted(archived) == sorted(everything)
    assert not set(live) & set(offline), "delivered twice"
    # Nothing more arrives (no late copy).
    c.ping()
    assert offline_count(nodes[1], "alice@localhost") == 0


@needs_shared_storage
@pytest.mark.parametrize("old_connection", ["lost", "still open"])
def test_a_resumption_on_another_node_ends_the_old_session_at_once(
        cluster, passwords, old_connection):
    """A phone's reconnection that the balancer sends to another node: the
    resumption fails there with item-not-found (XEP-0198 section 5, that
    node does not have the session), and the node that has it ends it at
    once, its connection closed if it was still open, as if resume-timeout
    had passed: what the client had not acknowledged waits offline for its
    new session now, not 300 s later; each message once, archived once."""
    nodes = cluster(2)
    alice = RawClient(nodes[0].c2s_port)
    alice.login("alice", passwords["alice"], resource="phone")
    previd = sm_enable(alice)
    alice.presence()
    alice.sync()
    bob = connect(nodes[1], passwords, "bob", "b")
    seen_by([nodes[1]], "alice@localhost/phone")
    for i in range(5):
        bob.message("alice@localhost", "u%d" % i, id_="u%d" % i)
    assert [alice.recv_message().get("id") for _ in range(5)] == \
        ["u%d" % i for i in range(5)]
    if old_connection == "lost":
        alice.close()
        nodes[0].wait_log(r"alice@localhost/phone: connection lost")
    c = RawClient(nodes[1].c2s_port)
    c.login("alice", passwords["alice"], bind=False)
    c.send("<resume xmlns='%s' previd='%s' h='0'/>" % (NS_SM, previd))
    el = c.recv(lambda e: e.tag in (q(NS_SM, "resumed"), q(NS_SM, "failed")),
                timeout=DEADLINE)
    assert el.find(q(NS_STANZAS, "item-not-found")) is not None
    if old_connection == "still open":
        alice.wait_closed(timeout=DEADLINE)
    wait_for("the old session ended", lambda: "alice@localhost/phone"
             not in sessions(nodes[1]), timeout=15)
    wait_for("its messages stored offline",
             lambda: offline_count(nodes[1], "alice@localhost") == 5,
             timeout=15)
    c.bind("phone2")
    c.presence()
    assert sorted(body_of(c.recv_message()) for _ in range(5)) == \
        ["u%d" % i for i in range(5)]
    assert sorted(archived_bodies(c, "bob@localhost")) == \
        ["u%d" % i for i in range(5)]


def test_admin_closes_sessions_on_every_node(cluster, passwords):
    """kick and kick-session run on one node close the account's sessions
    on the others (RFC 6120 4.9.3.14 policy-violation), and locking an
    account there ends them all (not-authorized): an account an admin
    shut out is out of the whole cluster."""
    nodes = cluster(3)
    a1 = connect(nodes[1], passwords, "alice", "a1")
    a2 = connect(nodes[2], passwords, "alice", "a2")
    b = connect(nodes[1], passwords, "bob", "b")
    seen_by([nodes[0]], "alice@localhost/a1")
    seen_by([nodes[0]], "alice@localhost/a2")
    seen_by([nodes[0]], "bob@localhost/b")
    nodes[0].ctl_ok("kick-session", "alice@localhost/a1")
    assert a1.expect_stream_error(timeout=DEADLINE) == "policy-violation"
    wait_for("a1 gone", lambda: "alice@localhost/a1" not in
             sessions(nodes[0]))
    r = json.loads(nodes[0].ctl_ok("--json", "kick",
                                   "alice@localhost").stdout)
    r = r.get("result", r)
    assert r["closed"] == 1
    assert a2.expect_stream_error(timeout=DEADLINE) == "policy-violation"
    assert b.is_open()
    r = nodes[0].ctl("kick-session", "alice@localhost/nowhere")
    assert r.returncode != 0 and "no session" in r.stderr + r.stdout
    nodes[0].ctl_ok("lock", "bob@localhost")
    assert b.expect_stream_error(timeout=DEADLINE) == "not-authorized"


NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"


def carbon_of(el, direction):
    """The message a carbon copy carries, or None when el is none."""
    x = el.find(q(NS_CARBONS, direction))
    fwd = x.find(q(NS_FORWARD, "forwarded")) if x is not None else None
    return fwd.find(q(NS_CLIENT, "message")) if fwd is not None else None


def marks_of(srv, jid):
    return sessions(srv).get(jid, {}).get("marks", [])


def test_carbons_reach_resources_on_every_node(cluster, passwords):
    """XEP-0280 6 and 7 across nodes: a message to the account is copied
    to every resource that enabled carbons and does not get the original,
    whichever node holds it; a message the user sends is copied to the
    user's other enabled resources; <private/> and a disabled resource get
    no copy.  Bare delivery's rule (RFC 6121 8.5.2.1.1, highest priority)
    counts every node's resources, so a low-priority resource gets a copy
    even when the message is routed by its own node."""
    nodes = cluster(2)
    here = connect(nodes[0], passwords, "alice", "here", priority=1)
    there = connect(nodes[1], passwords, "alice", "there", priority=5)
    bob = connect(nodes[0], passwords, "bob", "b")
    for c in (here, there):
        r = c.iq("set", "<enable xmlns='%s'/>" % NS_CARBONS)
        assert r.get("type") == "result"
    wait_for("marks published", lambda: (
        marks_of(nodes[0], "alice@localhost/there") == ["carbons"] and
        marks_of(nodes[1], "alice@localhost/here") == ["carbons"] and
        sessions(nodes[0])["alice@localhost/there"]["priority"] == 5))
    assert marks_of(nodes[0], "alice@localhost/here") == ["carbons"]
    assert marks_of(nodes[0], "bob@localhost/b") == []

    # To the bare JID, routed by n0 (alice has a session there): the
    # original to n1's priority 5, a received copy to n0's priority 1.
    bob.message("alice@localhost", "to bare", id_="m1")
    m = there.recv_message()
    assert m.get("id") == "m1" and carbon_of(m, "received") is None
    el = here.recv_message()
    assert el.get("from") == "alice@localhost" and \
        el.get("to") == "alice@localhost/here"
    c = carbon_of(el, "received")
    assert c is not None and c.get("id") == "m1" and \
        body_of(c) == "to bare" and c.get("from") == "bob@localhost/b"

    # To the full JID on n1: n1 routes it and copies to n0.  What n1
    # gets next is m2 itself: no copy of m1, whose original it got.
    bob.message("alice@localhost/there", "to full", id_="m2")
    assert there.recv_message().get("id") == "m2"
    c = carbon_of(here.recv_message(), "received")
    assert c is not None and c.get("id") == "m2"

    # Sent from n1: a sent copy on n0, the original to bob, none back.
    there.message("bob@localhost", "from there", id_="m3")
    assert bob.recv_message().get("id") == "m3"
    el = here.recv_message()
    c = carbon_of(el, "sent")
    assert el.get("from") == "alice@localhost" and c is not None and \
        c.get("id") == "m3" and c.get("to") == "bob@localhost"

    # <private/> (XEP-0280 8): no copy; the marker after it comes first.
    there.send("<message to='bob@localhost' type='chat' id='p1'>"
               "<body>secret</body><private xmlns='%s'/>"
               "<no-copy xmlns='urn:xmpp:hints'/></message>" % NS_CARBONS)
    assert bob.recv_message().get("id") == "p1"
    there.message("bob@localhost", "marker", id_="m4")
    assert bob.recv_message().get("id") == "m4"
    c = carbon_of(here.recv_message(), "sent")
    assert c is not None and c.get("id") == "m4"

    # Disabled on n0: n1 sees the mark go and copies nothing there.
    assert here.iq("set", "<disable xmlns='%s'/>" % NS_CARBONS).get(
        "type") == "result"
    wait_for("mark withdrawn", lambda: marks_of(
        nodes[1], "alice@localhost/here") == [])
    bob.message("alice@localhost/there", "after disable", id_="m5")
    assert there.recv_message().get("id") == "m5"
    bob.message("alice@localhost/here", "direct", id_="m6")
    assert here.recv_message().get("id") == "m6"


def test_announce_reaches_every_node(cluster, passwords):
    """XEP-0133 4.23 (an announcement to all online users of the host),
    run on one node: every available resource gets it, whichever node
    holds it; one without available presence does not."""
    nodes = cluster(3, modules=("announce",))
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    c = RawClient(nodes[2].c2s_port)
    c.login("carol", passwords["carol"], resource="c")
    d = connect(nodes[2], passwords, "alice", "d")
    for jid in ("bob@localhost/b", "carol@localhost/c", "alice@localhost/d"):
        seen_by([nodes[0]], jid)
    r = json.loads(nodes[0].ctl_ok("--json", "announce", "Down at six",
                                   "--subject=Notice").stdout)
    assert r.get("result", r)["sent"] == 3
    for cl_ in (a, b, d):
        m = cl_.recv_message()
        assert m.get("type") == "headline" and m.get("from") == "localhost"
        assert body_of(m) == "Down at six"
    c.ping()                # carol's node routed nothing to her before it
    with pytest.raises(TimeoutError):
        c.recv_message(timeout=0.5)


@needs_shared_storage
def test_offline_messages_stored_by_one_node_reach_another(cluster,
                                                           passwords):
    """Offline messages (RFC 6121 8.5.2.2) that n0 stored while alice was
    away are delivered when she logs in on n1: the storage is shared."""
    nodes = cluster(2)
    bob = connect(nodes[0], passwords, "bob", "b")
    bob.send("<enable xmlns='%s'/>" % NS_SM)
    bob.recv(q(NS_SM, "enabled"), timeout=DEADLINE)
    for i in range(3):
        bob.message("alice@localhost", "away %d" % i, id_="w%d" % i)
    assert acked(bob) == 3
    assert offline_count(nodes[1], "alice@localhost") == 3
    a = RawClient(nodes[1].c2s_port)
    a.login("alice", passwords["alice"], resource="a")
    a.presence()
    got = [a.recv_message() for _ in range(3)]
    assert [m.get("id") for m in got] == ["w0", "w1", "w2"]
    assert all(m.get("from") == "bob@localhost/b" for m in got)
    a.sync()
    assert offline_count(nodes[0], "alice@localhost") == 0


@needs_shared_storage
def test_stanzas_handed_to_a_node_that_died_unread_are_stored(cluster,
                                                             passwords):
    """Redis hands bob's messages to n0 (its connection is open) but n0 is
    stopped and then killed before reading them: bob's acknowledgement
    waits for n0's confirmation, which never comes; when n0's lease
    expires n1 stores them offline, and alice gets each once."""
    nodes = cluster(2)
    alice = connect(nodes[0], passwords, "alice", "a")
    bob = RawClient(nodes[1].c2s_port)
    bob.login("bob", passwords["bob"], resource="b")
    sm_enable(bob)
    seen_by([nodes[1]], "alice@localhost/a")
    nodes[0].signal(signal.SIGSTOP)
    for i in range(10):
        bob.message("alice@localhost", "unread %d" % i, id_="u%d" % i)
    bob.sync()                  # n1 has handed them all over by now
    nodes[0].kill9()
    assert acked(bob) == 11     # ten messages and the sync iq
    alice.close()
    wait_for("alice gone from n1",
             lambda: "alice@localhost/a" not in sessions(nodes[1]))
    assert offline_count(nodes[1], "alice@localhost") == 10
    a = RawClient(nodes[1].c2s_port)
    a.login("alice", passwords["alice"], resource="a2")
    a.presence()
    got = [a.recv_message() for _ in range(10)]
    assert sorted(m.get("id") for m in got) == sorted(
        "u%d" % i for i in range(10))
    assert sorted(archived_bodies(a, "bob@localhost")) == sorted(
        "unread %d" % i for i in range(10))


@needs_shared_storage
def test_a_copy_for_a_node_that_died_is_not_delivered_twice(cluster,
                                                            passwords):
    """alice has resources of equal priority on n0 and n1: bob's messages
    to her bare JID are routed (and archived) by n1, which delivers them
    to both (RFC 6121 8.5.2.1.1).  n0 is stopped, then killed, before it
    reads its copies: when its lease ends, n1 routes them as if that
    session had not been (XEP-0198 section 5 for a session that never
    acknowledged them): a1, which had them, gets no second copy, nothing
    goes offline, the archive has each once, bob's acknowledgement
    comes."""
    nodes = cluster(2)
    a0 = connect(nodes[0], passwords, "alice", "a0", priority=1)
    a1 = connect(nodes[1], passwords, "alice", "a1", priority=1)
    bob = RawClient(nodes[1].c2s_port)
    bob.login("bob", passwords["bob"], resource="b")
    sm_enable(bob)
    wait_for("a0 published with priority 1", lambda: sessions(nodes[1]).get(
        "alice@localhost/a0", {}).get("priority") == 1)
    nodes[0].signal(signal.SIGSTOP)
    for i in range(5):
        bob.message("alice@localhost", "both %d" % i, id_="b%d" % i)
    assert [a1.recv_message().get("id") for _ in range(5)] == \
        ["b%d" % i for i in range(5)]
    bob.sync()
    nodes[0].kill9()
    assert acked(bob) == 6      # five messages and the sync iq
    wait_for("a0 gone from n1",
             lambda: "alice@localhost/a0" not in sessions(nodes[1]))
    a1.sync()
    with pytest.raises(TimeoutError):
        a1.recv_message(timeout=1)
    assert offline_count(nodes[1], "alice@localhost") == 0
    assert sorted(archived_bodies(a1, "bob@localhost")) == sorted(
        "both %d" % i for i in range(5))
    a0.close()


# ---- rooms (XEP-0045) and pubsub nodes (XEP-0060) live on one node ----

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_EVENT = NS_PUBSUB + "#event"
NS_DATA = "jabber:x:data"
MUC = "conference.localhost"


def status_codes(el):
    x = el.find(q(NS_MUC_USER, "x"))
    return {s.get("code") for s in x.findall(q(NS_MUC_USER, "status"))} \
        if x is not None else set()


def join(c, room, nick):
    """Enter room as nick; the occupant's own presence (XEP-0045 7.2.2:
    status 110, sent last)."""
    occ = "%s@%s/%s" % (room, MUC, nick)
    c.send("<presence to='%s'><x xmlns='%s'/></presence>" % (occ, NS_MUC))
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                  e.get("from") == occ and "110" in status_codes(e),
                  timeout=DEADLINE)


def create_room(c, room, nick, fields):
    """XEP-0045 10.1.2-10.1.3: a reserved room, configured by its
    creator."""
    el = join(c, room, nick)
    assert "201" in status_codes(el), "the room existed already"
    form = "".join("<field var='%s'><value>%s</value></field>" % kv
                   for kv in fields.items())
    r = c.iq("set", "<query xmlns='%s'><x xmlns='%s' type='submit'>"
             "<field var='FORM_TYPE'><value>%s#roomconfig</value></field>"
             "%s</x></query>" % (NS_MUC_OWNER, NS_DATA, NS_MUC, form),
             to="%s@%s" % (room, MUC))
    assert r.get("type") == "result", ET.tostring(r)


def groupchat(c, room, body, id_):
    c.send("<message to='%s@%s' type='groupchat' id='%s'><body>%s</body>"
           "</message>" % (room, MUC, id_, body))


def recv_groupchat(c, room, nick, body):
    frm = "%s@%s/%s" % (room, MUC, nick)
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.get("from") == frm and body_of(e) == body,
                  timeout=DEADLINE)


def occupant_presence(room, nick, type_=None):
    return is_presence("%s@%s/%s" % (room, MUC, nick), type_)


def test_users_on_three_nodes_share_a_room(cluster, passwords):
    """XEP-0045 across nodes: the room lives on one node (the first to
    route a stanza to it); occupants on the others join, see each
    other's presence (7.2.3), and every occupant receives each groupchat
    message (7.4), whichever node the sender is on."""
    nodes = cluster(3)
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    c = connect(nodes[2], passwords, "carol", "c")
    create_room(a, "lobby", "Alice", {})
    join(b, "lobby", "Bob")
    a.recv(occupant_presence("lobby", "Bob"), timeout=DEADLINE)
    join(c, "lobby", "Carol")
    for x in (a, b):
        x.recv(occupant_presence("lobby", "Carol"), timeout=DEADLINE)
    for sender, nick in ((b, "Bob"), (c, "Carol"), (a, "Alice")):
        groupchat(sender, "lobby", "hello from " + nick, "g" + nick)
        for x in (a, b, c):
            m = recv_groupchat(x, "lobby", nick, "hello from " + nick)
            assert m.get("type") == "groupchat"
    # One room, on one node: bob's leaving reaches the others (7.14).
    b.send("<presence to='lobby@%s/Bob' type='unavailable'/>" % MUC)
    for x in (a, c):
        x.recv(occupant_presence("lobby", "Bob", "unavailable"),
               timeout=DEADLINE)
    # An occupant whose node dies leaves the room when its lease ends.
    nodes[2].kill9()
    a.recv(occupant_presence("lobby", "Carol", "unavailable"),
           timeout=DEADLINE)


@needs_shared_storage
def test_a_room_moves_when_its_node_dies(cluster, passwords):
    """The node that served a persistent room is killed: until its lease
    ends the room answers with an error, then the next node to route a
    stanza to it serves it, with the configuration its owner stored
    (read again from the shared storage, though that node had started
    before the room was made).  The occupants it lost learn it by
    XEP-0410's self-ping (not-acceptable) and join again."""
    nodes = cluster(3)
    a = connect(nodes[0], passwords, "alice", "a")
    a.send("<enable xmlns='%s'/>" % NS_SM)
    a.recv(q(NS_SM, "enabled"), timeout=DEADLINE)
    b = connect(nodes[1], passwords, "bob", "b")
    create_room(a, "keep", "Alice",
                {"muc#roomconfig_persistentroom": "1",
                 "muc#roomconfig_roomname": "Kept"})
    # Stream management acknowledges the configuration once stored.
    assert acked(a) == 2
    join(b, "keep", "Bob")
    groupchat(b, "keep", "before", "g1")
    recv_groupchat(a, "keep", "Bob", "before")
    nodes[0].kill9()
    wait_for("n0 forgotten by n1",
             lambda: "alice@localhost/a" not in sessions(nodes[1]))
    ping = b.iq("get", "<ping xmlns='urn:xmpp:ping'/>",
                to="keep@%s/Bob" % MUC)
    assert ping.get("type") == "error"
    assert ping.find(".//" + q(NS_STANZAS, "not-acceptable")) is not None, \
        ET.tostring(ping)
    el = join(b, "keep", "Bob")
    assert "201" not in status_codes(el), "the room was made anew"
    info = b.disco_info(to="keep@" + MUC)
    assert info.get("type") == "result"
    feats = {f.get("var") for f in info.iter(
        q("http://jabber.org/protocol/disco#info", "feature"))}
    names = {i.get("name") for i in info.iter(
        q("http://jabber.org/protocol/disco#info", "identity"))}
    assert "muc_persistent" in feats and "Kept" in names
    # A user of the third node reaches the room where it lives now.
    c = connect(nodes[2], passwords, "carol", "c")
    join(c, "keep", "Carol")
    b.recv(occupant_presence("keep", "Carol"), timeout=DEADLINE)
    groupchat(c, "keep", "after", "g2")
    for x in (b, c):
        recv_groupchat(x, "keep", "Carol", "after")


def pubsub_iq(c, type_, payload):
    r = c.iq(type_, "<pubsub xmlns='%s'>%s</pubsub>" % (NS_PUBSUB, payload),
             to="pubsub.localhost")
    assert r.get("type") == "result", ET.tostring(r)
    return r


def recv_event(c):
    """The next XEP-0060 notification (7.1.2.1) c receives."""
    return c.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
                  e.find(q(NS_PUBSUB_EVENT, "event")) is not None,
                  timeout=DEADLINE)


@needs_shared_storage
def test_pubsub_node_shared_across_nodes_and_moved(cluster, passwords):
    """XEP-0060: a node made by a user of n0 takes a subscription from a
    user of n1, who is notified of what is published (7.1.2); after n0
    dies the service is served by another node, which reads the nodes
    and items n0 stored."""
    nodes = cluster(2)
    a = connect(nodes[0], passwords, "alice", "a")
    a.send("<enable xmlns='%s'/>" % NS_SM)
    a.recv(q(NS_SM, "enabled"), timeout=DEADLINE)
    b = connect(nodes[1], passwords, "bob", "b")
    pubsub_iq(a, "set", "<create node='news'/>")
    pubsub_iq(b, "set", "<subscribe node='news' jid='bob@localhost/b'/>")
    pubsub_iq(a, "set", "<publish node='news'><item id='i1'>"
              "<entry xmlns='urn:example:news'>first</entry></item>"
              "</publish>")
    ev = recv_event(b)
    item = ev.find(".//" + q(NS_PUBSUB_EVENT, "item"))
    assert item is not None and item.get("id") == "i1"
    # Stream management acknowledges the publish once it is stored.
    assert acked(a) == 2
    nodes[0].kill9()
    wait_for("n0 forgotten by n1",
             lambda: "alice@localhost/a" not in sessions(nodes[1]))
    r = pubsub_iq(b, "get", "<items node='news'/>")
    ids = [i.get("id") for i in r.iter(q(NS_PUBSUB, "item"))]
    assert ids == ["i1"]
    a2 = connect(nodes[1], passwords, "alice", "a2")
    pubsub_iq(a2, "set", "<publish node='news'><item id='i2'>"
              "<entry xmlns='urn:example:news'>second</entry></item>"
              "</publish>")
    ev = recv_event(b)
    assert ev.find(".//" + q(NS_PUBSUB_EVENT, "item")).get("id") == "i2"


def room_cmd(srv, *args):
    r = srv.ctl("--json", *args)
    out = json.loads(r.stdout) if r.stdout.strip() else {}
    return r.returncode, out.get("result", out)


@needs_shared_storage
def test_room_commands_run_on_the_node_serving_the_room(cluster, passwords):
    """An admin on any node changes the room its occupants see: the muc-*
    commands of a room another node serves run on that node (XEP-0045
    10.2.1 status 104 for a configuration change, 9.1 kick with 307,
    10.9 destroy), and the audit log has each once, where it ran."""
    nodes = cluster(2)
    b = connect(nodes[1], passwords, "bob", "b")
    # Made on n0 from the command line: stored, served by nobody yet.
    rc, out = room_cmd(nodes[0], "muc-create", "--room=den@" + MUC,
                       "--owner=alice@localhost")
    assert rc == 0, out
    # bob's join makes n1 serve it (it reads the room from storage).
    el = join(b, "den", "Bob")
    assert "201" not in status_codes(el)
    rc, info = room_cmd(nodes[0], "muc-room", "--room=den@" + MUC)
    assert rc == 0 and [o["nick"] for o in info["occupants"]] == ["Bob"], \
        info
    rc, out = room_cmd(nodes[0], "muc-configure", "--room=den@" + MUC,
                       "--config=" + json.dumps(
                           {"muc#roomconfig_roomname": "The den"}))
    assert rc == 0, out
    m = b.recv(lambda e: e.tag == q(NS_CLIENT, "message") and
               "104" in status_codes(e), timeout=DEADLINE)
    assert m.get("from") == "den@" + MUC
    rc, info = room_cmd(nodes[1], "muc-room", "--room=den@" + MUC)
    assert info["config"]["muc#roomconfig_roomname"] == "The den"
    rc, out = room_cmd(nodes[0], "muc-kick", "--room=den@" + MUC,
                       "--nick=Bob", "--reason=tidy up")
    assert rc == 0, out
    p = b.recv(occupant_presence("den", "Bob", "unavailable"),
               timeout=DEADLINE)
    assert "307" in status_codes(p)
    rc, out = room_cmd(nodes[0], "muc-kick", "--room=den@" + MUC,
                       "--nick=Bob")
    assert rc != 0 and out.get("error") == "ENOENT", out
    join(b, "den", "Bob")
    rc, out = room_cmd(nodes[0], "muc-destroy", "--room=den@" + MUC,
                       "--reason=closing")
    assert rc == 0, out
    p = b.recv(occupant_presence("den", "Bob", "unavailable"),
               timeout=DEADLINE)
    assert p.find(q(NS_MUC_USER, "x")).find(q(NS_MUC_USER, "destroy")) \
        is not None
    want = {"muc-create": 1, "muc-configure": 1, "muc-kick": 2,
            "muc-destroy": 1}

    def audited():
        audit = json.loads(nodes[0].ctl_ok("--json", "audit",
                                           "--max=100").stdout)
        names = [e.get("action")
                 for e in audit.get("result", audit)["entries"]]
        return {cmd: names.count(cmd) for cmd in want}

    # The node that ran a command writes its entry after answering: the
    # shared log has it a moment later, once.
    wait_for("every command audited", lambda: audited() == want)
    assert audited() == want


PEP_NODE = "urn:xmpp:ember:test:mood"


def pep_publish(c, text, item_id):
    r = c.iq("set", "<pubsub xmlns='%s'><publish node='%s'><item id='%s'>"
             "<entry xmlns='urn:example'>%s</entry></item></publish>"
             "</pubsub>" % (NS_PUBSUB, PEP_NODE, item_id, text))
    assert r.get("type") == "result", ET.tostring(r)


def pep_items(c, owner):
    r = c.iq("get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
             % (NS_PUBSUB, PEP_NODE), to=owner)
    if r.get("type") != "result":
        return None
    return [e.text for e in r.iter("{urn:example}entry")]


@needs_shared_storage
def test_pep_items_are_the_same_on_every_node(cluster, passwords):
    """XEP-0163 4.3 / XEP-0060 6.5: the items a user's PEP node returns are
    the last published, also on a node that read the node before another
    node took the publication (each node keeps the services it serves in
    memory; a change stored by one tells the others to read it again)."""
    nodes = cluster(2)
    a1 = connect(nodes[0], passwords, "alice", "one")
    a2 = connect(nodes[1], passwords, "alice", "two")
    pep_publish(a1, "happy", "current")
    wait_for("n1 reads the first item", lambda: pep_items(
        a2, "alice@localhost") == ["happy"])
    pep_publish(a1, "sleepy", "current")
    wait_for("n1 reads the new item", lambda: pep_items(
        a2, "alice@localhost") == ["sleepy"])
    # And the other way round, a publication on n1 read on n0.
    pep_publish(a2, "hungry", "current")
    wait_for("n0 reads n1's item", lambda: pep_items(
        a1, "alice@localhost") == ["hungry"])


@needs_shared_storage
def test_offline_limit_counts_what_other_nodes_delivered(cluster, passwords):
    """mod_offline's max-messages counts the account's stored messages,
    which every node shares (XEP-0160 2: a full store refuses with
    service-unavailable): messages n0 stored and n1 delivered no longer
    count on n0."""
    nodes = cluster(2, modules=(("offline", {"max_messages": 3}),))
    bob = connect(nodes[0], passwords, "bob", "b")
    sm_enable(bob)
    for i in range(3):
        bob.message("alice@localhost", "first %d" % i, id_="f%d" % i)
    assert acked(bob) == 3
    bob.message("alice@localhost", "one too many", id_="over")
    err = bob.recv(lambda e: e.get("id") == "over", timeout=DEADLINE)
    assert err.get("type") == "error"
    a = RawClient(nodes[1].c2s_port)
    a.login("alice", passwords["alice"], resource="a")
    a.presence()
    assert [a.recv_message().get("id") for _ in range(3)] == \
        ["f0", "f1", "f2"]
    a.sync()
    a.close()
    wait_for("alice gone from n0", lambda: not any(
        j.startswith("alice@") for j in sessions(nodes[0])))
    wait_for("n1's delivery stored", lambda: offline_count(
        nodes[1], "alice@localhost") == 0)
    for i in range(3):
        bob.message("alice@localhost", "second %d" % i, id_="s%d" % i)
    assert acked(bob) == 7
    bob.sync()
    assert offline_count(nodes[0], "alice@localhost") == 3


def room_items(c):
    r = c.iq("get", "<query xmlns='http://jabber.org/protocol/disco#items'/>",
             to=MUC)
    assert r.get("type") == "result", ET.tostring(r)
    return {i.get("jid") for i in r.iter(
        "{http://jabber.org/protocol/disco#items}item")}


@needs_shared_storage
def test_rooms_made_on_one_node_are_listed_by_the_service(cluster,
                                                          passwords):
    """XEP-0045 6.3: the service's disco items list its public rooms,
    wherever each is served: a persistent room made on n1 after the node
    serving conference.HOST (n0) started, then destroyed."""
    nodes = cluster(2)
    a = connect(nodes[0], passwords, "alice", "a")
    b = connect(nodes[1], passwords, "bob", "b")
    assert "attic@" + MUC not in room_items(a)      # n0 serves the service
    create_room(b, "attic", "Bob", {"muc#roomconfig_persistentroom": "1",
                                    "muc#roomconfig_publicroom": "1"})
    wait_for("attic listed", lambda: "attic@" + MUC in room_items(a))
    assert "attic@" + MUC in room_items(b)
    r = b.iq("set", "<query xmlns='%s'><destroy/></query>" % NS_MUC_OWNER,
             to="attic@" + MUC)
    assert r.get("type") == "result"
    wait_for("attic gone", lambda: "attic@" + MUC not in room_items(a))


def test_slixmpp_carbons_across_nodes(cluster, passwords):
    """A stock client (slixmpp's XEP-0280 plugin, as it ships) on n0 gets
    the carbons of what its account receives and sends on n1."""
    import asyncio
    from slix import login, run
    nodes = cluster(2)

    async def body():
        a = await login(nodes[0], "alice", passwords["alice"],
                        resource="slix")
        main = await login(nodes[1], "alice", passwords["alice"],
                           resource="main")
        b = await login(nodes[1], "bob", passwords["bob"], resource="b")
        try:
            a.register_plugin("xep_0280")
            loop = asyncio.get_running_loop()
            got_in, got_out = loop.create_future(), loop.create_future()
            a.add_event_handler("carbon_received", lambda m: got_in.done()
                                or got_in.set_result(m))
            a.add_event_handler("carbon_sent", lambda m: got_out.done()
                                or got_out.set_result(m))
            await a["xep_0280"].enable(timeout=10)
            a.send_presence(ppriority=0)
            main.send_presence(ppriority=10)
            await asyncio.to_thread(wait_for, "slix's mark on n1", lambda: (
                marks_of(nodes[1], "alice@localhost/slix") == ["carbons"]
                and sessions(nodes[1])["alice@localhost/slix"][
                    "available"]))
            b.send_message(mto="alice@localhost", mbody="to the account",
                           mtype="chat")
            m = await asyncio.wait_for(got_in, 10)
            assert m["carbon_received"]["body"] == "to the account"
            assert str(m["from"]) == "alice@localhost"
            main.send_message(mto="bob@localhost", mbody="from main",
                              mtype="chat")
            m = await asyncio.wait_for(got_out, 10)
            assert m["carbon_sent"]["body"] == "from main"
            assert str(m["carbon_sent"]["to"]) == "bob@localhost"
        finally:
            for c in (a, main, b):
                await c.close()
    run(body())
