"""mod_roster: RFC 6121 section 2 rosters, pushes, errors, XEP-0237
versioning, persistence, admin commands."""

import json

from rawxmpp import NS_CLIENT, RawClient, q, stanza_error
from slix import login, run

NS_ROSTER = "jabber:iq:roster"
NS_ROSTERVER = "urn:xmpp:features:rosterver"


def connect(server, passwords, user="alice", resource=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def roster_get(c, ver=None):
    v = " ver='%s'" % ver if ver is not None else ""
    el = c.iq("get", "<query xmlns='%s'%s/>" % (NS_ROSTER, v))
    assert el.get("type") == "result", stanza_error(el)
    return el.find(q(NS_ROSTER, "query"))


def items(query):
    out = {}
    for it in query.findall(q(NS_ROSTER, "item")):
        out[it.get("jid")] = {
            "name": it.get("name"),
            "subscription": it.get("subscription"),
            "ask": it.get("ask"),
            "groups": sorted(g.text for g in it.findall(q(NS_ROSTER,
                                                           "group"))),
        }
    return out


def roster_set(c, jid, name=None, groups=(), sub=None, raw=None):
    if raw is None:
        attrs = "jid='%s'" % jid
        if name is not None:
            attrs += " name='%s'" % name
        if sub is not None:
            attrs += " subscription='%s'" % sub
        raw = "<item %s>%s</item>" % (
            attrs, "".join("<group>%s</group>" % g for g in groups))
    return c.iq("set", "<query xmlns='%s'>%s</query>" % (NS_ROSTER, raw))


def is_push(el):
    return (el.tag == q(NS_CLIENT, "iq") and el.get("type") == "set" and
            el.find(q(NS_ROSTER, "query")) is not None)


def recv_push(c, timeout=5):
    el = c.recv(is_push, timeout=timeout)
    # A push is answered, as a client should.
    c.send("<iq type='result' id='%s'/>" % el.get("id"))
    query = el.find(q(NS_ROSTER, "query"))
    item = query.find(q(NS_ROSTER, "item"))
    return el, query, item


def test_stream_feature_and_empty_roster(server, passwords):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login("alice", passwords["alice"])
    assert c.features.find(q(NS_ROSTERVER, "ver")) is not None
    query = roster_get(c)
    assert items(query) == {}
    assert query.get("ver")
    c.close()


def test_set_push_to_interested_resources_and_remove(server, passwords):
    a1 = connect(server, passwords, resource="one")
    a2 = connect(server, passwords, resource="two")
    a3 = connect(server, passwords, resource="three")   # not interested
    roster_get(a1)
    roster_get(a2)
    el = roster_set(a1, "bob@localhost", name="Bob",
                    groups=["Friends", "Work"])
    assert el.get("type") == "result", stanza_error(el)
    for c in (a1, a2):
        push, query, item = recv_push(c)
        assert push.get("to") == c.jid
        assert push.get("from") in (None, "alice@localhost")
        assert item.get("jid") == "bob@localhost"
        assert item.get("name") == "Bob"
        assert item.get("subscription") == "none"
        assert query.get("ver")
    got = items(roster_get(a3))
    assert got["bob@localhost"]["groups"] == ["Friends", "Work"]
    assert got["bob@localhost"]["subscription"] == "none"
    # a3 asked for the roster: now it is interested too.
    el = roster_set(a2, "bob@localhost", name="Bobby")
    assert el.get("type") == "result"
    for c in (a1, a2, a3):
        _, _, item = recv_push(c)
        assert item.get("name") == "Bobby"
        assert item.findall(q(NS_ROSTER, "group")) == []
    el = roster_set(a1, "bob@localhost", sub="remove")
    assert el.get("type") == "result", stanza_error(el)
    for c in (a1, a2, a3):
        _, _, item = recv_push(c)
        assert item.get("subscription") == "remove"
    assert items(roster_get(a1)) == {}
    for c in (a1, a2, a3):
        c.close()


def test_not_interested_resource_gets_no_push(server, passwords):
    a1 = connect(server, passwords, resource="one")
    a2 = connect(server, passwords, resource="two")
    roster_get(a1)
    assert roster_set(a1, "carol@localhost").get("type") == "result"
    recv_push(a1)
    try:
        a2.recv(is_push, timeout=0.5)
        raise AssertionError("push to a resource that never asked")
    except TimeoutError:
        pass
    a1.close()
    a2.close()


def test_errors(server, passwords):
    c = connect(server, passwords)
    roster_get(c)
    two = ("<item jid='bob@localhost'/><item jid='carol@localhost'/>")
    cases = [
        (roster_set(c, None, raw=two), "bad-request"),
        (roster_set(c, "alice@localhost"), "bad-request"),
        (roster_set(c, None, raw="<item jid='a@b@c'/>"), "bad-request"),
        (roster_set(c, None, raw="<item/>"), "bad-request"),
        (roster_set(c, "bob@localhost/res"), "bad-request"),
        (roster_set(c, "bob@localhost", sub="bogus"), "bad-request"),
        (roster_set(c, "bob@localhost", groups=["A", "A"]), "bad-request"),
        (roster_set(c, "bob@localhost", groups=[""]), "not-acceptable"),
        (roster_set(c, "nobody@localhost", sub="remove"), "item-not-found"),
    ]
    for el, cond in cases:
        assert stanza_error(el) is not None and stanza_error(el)[1] == cond, \
            (cond, stanza_error(el))
    # Roster of someone else: forbidden.
    for t in ("get", "set"):
        payload = ("<query xmlns='%s'/>" % NS_ROSTER if t == "get" else
                   "<query xmlns='%s'><item jid='x@localhost'/></query>"
                   % NS_ROSTER)
        el = c.iq(t, payload, to="bob@localhost")
        assert stanza_error(el)[1] == "forbidden", stanza_error(el)
    # Known subscription values a client echoes are ignored, not errors.
    el = roster_set(c, "bob@localhost", sub="both")
    assert el.get("type") == "result"
    assert items(roster_get(c))["bob@localhost"]["subscription"] == "none"
    # Nothing of the refused sets was stored.
    assert set(items(roster_get(c))) == {"bob@localhost"}
    c.close()


def test_versioning(server, passwords):
    c = connect(server, passwords)
    v0 = roster_get(c).get("ver")
    assert roster_set(c, "bob@localhost", name="B").get("type") == "result"
    _, query, _ = recv_push(c)
    v1 = query.get("ver")
    assert v1 and v1 != v0
    # Same version: an empty result.
    el = c.iq("get", "<query xmlns='%s' ver='%s'/>" % (NS_ROSTER, v1))
    assert el.get("type") == "result"
    assert el.find(q(NS_ROSTER, "query")) is None
    # Older version: the whole roster, with the current version.
    query = roster_get(c, ver=v0)
    assert query.get("ver") == v1
    assert "bob@localhost" in items(query)
    # Empty ver attribute: the client has no cache.
    query = roster_get(c, ver="")
    assert "bob@localhost" in items(query)
    # A change that nobody sees (same name again) keeps the version.
    assert roster_set(c, "bob@localhost", name="B").get("type") == "result"
    query = roster_get(c)
    assert query.get("ver") == v1
    c.close()


def test_persistence_across_restart(server, passwords):
    c = connect(server, passwords)
    roster_get(c)
    assert roster_set(c, "bob@localhost", name="Bob",
                      groups=["Friends"]).get("type") == "result"
    recv_push(c)
    ver = roster_get(c).get("ver")
    c.close()
    server.restart()
    c = connect(server, passwords)
    query = roster_get(c)
    assert query.get("ver") == ver
    assert items(query) == {"bob@localhost": {
        "name": "Bob", "subscription": "none", "ask": None,
        "groups": ["Friends"]}}
    el = c.iq("get", "<query xmlns='%s' ver='%s'/>" % (NS_ROSTER, ver))
    assert el.find(q(NS_ROSTER, "query")) is None
    c.close()


def test_admin_commands_push(server, passwords):
    c = connect(server, passwords)
    roster_get(c)
    r = server.ctl_ok("roster-add", "alice@localhost", "carol@localhost",
                      "--name=Carol", "--group=Team, Friends",
                      "--subscription=both")
    _, _, item = recv_push(c)
    assert item.get("jid") == "carol@localhost"
    assert item.get("name") == "Carol"
    assert item.get("subscription") == "both"
    assert sorted(g.text for g in item.findall(q(NS_ROSTER, "group"))) == \
        ["Friends", "Team"]
    r = server.ctl_ok("--json", "roster-list", "alice@localhost")
    listed = json.loads(r.stdout)
    listed = listed.get("result", listed)
    assert [i["jid"] for i in listed["items"]] == ["carol@localhost"]
    assert listed["items"][0]["subscription"] == "both"
    r = server.ctl("roster-add", "alice@localhost", "carol@localhost",
                   "--subscription=sideways")
    assert r.returncode != 0
    r = server.ctl("roster-remove", "alice@localhost", "nobody@localhost")
    assert r.returncode != 0
    server.ctl_ok("roster-remove", "alice@localhost", "carol@localhost")
    _, _, item = recv_push(c)
    assert item.get("subscription") == "remove"
    assert items(roster_get(c)) == {}
    c.close()


def test_slixmpp_roster(server, passwords):
    async def body():
        a = await login(server, "alice", passwords["alice"])
        try:
            await a.get_roster()
            await a.update_roster("bob@localhost", name="Bob",
                                  groups=["Friends"])
            await a.get_roster()
            assert a.client_roster["bob@localhost"]["name"] == "Bob"
            assert a.client_roster["bob@localhost"]["groups"] == ["Friends"]
            await a.del_roster_item("bob@localhost")
            await a.get_roster()
            assert "bob@localhost" not in a.client_roster
        finally:
            await a.close()
    run(body())
