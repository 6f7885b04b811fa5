"""Personal Eventing Protocol (XEP-0163): every account a pubsub service on
its bare JID; contacts notified through presence subscriptions and the
+notify features of their caps (XEP-0115); the nodes real clients use
(mood, tune, nick, avatar, bookmarks, OMEMO)."""

import json
import time

from rawxmpp import NS_DISCO_INFO, NS_DISCO_ITEMS, q
from test_caps import NODE, answer, info_xml, is_caps_query, ver_of
from pubsublib import (NS_CAPS, PS, PS_EVENT, PS_OWNER, XDATA, client,
                              disco_info, err, event_child, form_values,
                              item_ids, no_event, ok, ps, publish, recv_event)

MOOD = "http://jabber.org/protocol/mood"
TUNE = "http://jabber.org/protocol/tune"
ACTIVITY = "http://jabber.org/protocol/activity"
NICK = "http://jabber.org/protocol/nick"
AVATAR_META = "urn:xmpp:avatar:metadata"
AVATAR_DATA = "urn:xmpp:avatar:data"
BOOKMARKS = "urn:xmpp:bookmarks:1"
DEVICES = "eu.siacs.conversations.axolotl.devicelist"
BUNDLE = "eu.siacs.conversations.axolotl.bundles:31415"
BASE = ["http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/disco#info"]


def mutual(server, a, b):
    for x, y in ((a, b), (b, a)):
        server.ctl_ok("roster-add", server.jid(x), server.jid(y),
                      "--subscription=both")


def caps_known(server, jid):
    r = server.ctl_ok("--json", "caps", jid)
    return json.loads(r.stdout)["known"]


def with_caps(server, passwords, user, notify, resource=None):
    """A client whose presence announces caps with node+notify for each
    node in `notify`; returns once the server knows its features."""
    c = client(server, passwords, user, resource=resource, presence=False)
    feats = BASE + [n + "+notify" for n in notify]
    ver = ver_of(feats)
    c.send("<presence><c xmlns='%s' hash='sha-1' node='%s' ver='%s'/>"
           "</presence>" % (NS_CAPS, NODE, ver))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            query = c.recv(is_caps_query, timeout=0.2)
            answer(c, query, info_xml(feats))
        except TimeoutError:
            pass
        if caps_known(server, c.jid):
            return c
    raise AssertionError("caps of %s never known" % c.jid)


def pep(c, type_, body, to=None, ns=PS, extra=""):
    return ps(c, type_, body, to=to, ns=ns, extra=extra)


def pub(c, node, payload, id_=None, options=None):
    return publish(c, node, payload, id_=id_, to=None, options=options)


def items_of(c, owner, node):
    el = ok(pep(c, "get", "<items node='%s'/>" % node, to=owner))
    return el.find(q(PS, "pubsub")).find(q(PS, "items"))


def mood(m):
    return "<mood xmlns='%s'><%s/></mood>" % (MOOD, m)


def payload_of(msg):
    return event_child(msg).find(q(PS_EVENT, "item"))


def test_autocreate_and_disco(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    # Only the owner publishes to her own account.
    el = pep(b, "set", "<publish node='%s'><item>%s</item></publish>"
             % (MOOD, mood("happy")), to="alice@localhost")
    assert err(el)[0] == "forbidden"
    ok(pub(a, MOOD, mood("happy"), id_="current"))
    ok(pub(a, NICK, "<nick xmlns='%s'>Alice</nick>" % NICK))
    # disco#info of the account: the PEP identity.
    el = ok(disco_info(a, "alice@localhost"))
    qe = el.find(q(NS_DISCO_INFO, "query"))
    ids = {(i.get("category"), i.get("type"))
           for i in qe.findall(q(NS_DISCO_INFO, "identity"))}
    assert ("pubsub", "pep") in ids and ("account", "registered") in ids
    feats = {f.get("var") for f in qe.findall(q(NS_DISCO_INFO, "feature"))}
    for f in ("publish", "auto-create", "publish-options", "access-presence",
              "filtered-notifications", "presence-notifications"):
        assert PS + "#" + f in feats, f
    # The server advertises PEP (XEP-0163 section 8).
    el = ok(disco_info(a, "localhost"))
    feats = {f.get("var") for f in el.iter(q(NS_DISCO_INFO, "feature"))}
    assert PS + "#pep" in feats
    # The owner lists her nodes; a stranger sees none (presence access).
    el = ok(a.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS,
                 to="alice@localhost"))
    assert {i.get("node") for i in el.iter(q(NS_DISCO_ITEMS, "item"))} == \
        {MOOD, NICK}
    el = ok(b.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS,
                 to="alice@localhost"))
    assert list(el.iter(q(NS_DISCO_ITEMS, "item"))) == []
    el = ok(disco_info(a, "alice@localhost", node=MOOD))
    meta = form_values(el.find(q(NS_DISCO_INFO, "query")).find(q(XDATA, "x")))
    assert meta["pubsub#access_model"] == "presence"
    # Default access model presence: bob, no contact, is refused.
    el = pep(b, "get", "<items node='%s'/>" % MOOD, to="alice@localhost")
    assert err(el) == ("not-authorized", "presence-subscription-required")
    # Becoming a contact opens it.
    mutual(server, "alice", "bob")
    assert item_ids(items_of(b, "alice@localhost", MOOD)) == ["current"]
    a.close()
    b.close()


def test_contacts_notified_by_notify(server, passwords):
    mutual(server, "alice", "bob")
    a = with_caps(server, passwords, "alice", [MOOD], resource="a")
    b = with_caps(server, passwords, "bob", [MOOD], resource="b")
    b2 = with_caps(server, passwords, "bob", [], resource="b2")
    c = with_caps(server, passwords, "carol", [MOOD, TUNE, ACTIVITY],
                  resource="c")
    ok(pub(a, MOOD, mood("happy"), id_="m1"))
    m = recv_event(b, node=MOOD)
    assert m.get("from") == "alice@localhost" and m.get("to") == b.jid
    assert payload_of(m).find(q(MOOD, "mood")).find(q(MOOD, "happy")) \
        is not None
    # The owner's own +notify session hears it too.
    assert recv_event(a, node=MOOD).get("to") == a.jid
    # No +notify, no contact: nothing.
    no_event(b2, wait=0.3)
    no_event(c, wait=0.3)
    # Activity (XEP-0108): bob wants mood only.
    ok(pub(a, ACTIVITY, "<activity xmlns='%s'><relaxing/></activity>"
           % ACTIVITY))
    # Tune: bob does not want it.
    ok(pub(a, TUNE, "<tune xmlns='%s'><artist>X</artist></tune>" % TUNE))
    no_event(b, wait=0.3, node=TUNE)
    no_event(b, wait=0.1, node=ACTIVITY)
    assert item_ids(items_of(b, "alice@localhost", ACTIVITY))
    # Retract notifications follow the same filter.
    ok(pep(a, "set", "<retract node='%s' notify='1'><item id='m1'/>"
           "</retract>" % MOOD))
    ch = event_child(recv_event(b, node=MOOD))
    assert ch.find(q(PS_EVENT, "retract")).get("id") == "m1"
    # An explicit subscription from a stranger to an open node.
    ok(pub(a, "urn:example:open", "<x xmlns='urn:example:open'/>",
           options={"pubsub#access_model": "open"}))
    ok(pep(c, "set", "<subscribe node='urn:example:open' jid='%s'/>" % c.jid,
           to="alice@localhost"))
    recv_event(c, node="urn:example:open")       # the last item, on_sub
    ok(pub(a, "urn:example:open", "<x xmlns='urn:example:open'>2</x>"))
    recv_event(c, node="urn:example:open")
    for x in (a, b, b2, c):
        x.close()


def test_last_items_at_login(server, passwords):
    mutual(server, "alice", "bob")
    a = client(server, passwords, "alice")
    ok(pub(a, NICK, "<nick xmlns='%s'>Alice</nick>" % NICK))
    ok(pub(a, AVATAR_META, "<metadata xmlns='%s'><info bytes='3' id='abc' "
           "type='image/png'/></metadata>" % AVATAR_META, id_="abc"))
    ok(pub(a, AVATAR_DATA, "<data xmlns='%s'>AAAA</data>" % AVATAR_DATA,
           id_="abc"))
    # bob comes online wanting nick and avatar metadata.
    b = with_caps(server, passwords, "bob", [NICK, AVATAR_META])
    got = {}
    for _ in range(2):
        m = recv_event(b)
        got[event_child(m).get("node")] = m
    assert set(got) == {NICK, AVATAR_META}
    assert payload_of(got[NICK]).find(q(NICK, "nick")).text == "Alice"
    assert payload_of(got[AVATAR_META]).get("id") == "abc"
    no_event(b, wait=0.3)          # not the avatar data: no +notify
    # The avatar data is fetched by id (XEP-0084).
    el = ok(pep(b, "get", "<items node='%s'><item id='abc'/></items>"
                % AVATAR_DATA, to="alice@localhost"))
    it = el.find(q(PS, "pubsub")).find(q(PS, "items")).find(q(PS, "item"))
    assert it.find(q(AVATAR_DATA, "data")).text == "AAAA"
    # carol, no contact, gets nothing at login.
    c = with_caps(server, passwords, "carol", [NICK, AVATAR_META])
    no_event(c, wait=0.5)
    # The owner's own new session gets her last items too.
    a2 = with_caps(server, passwords, "alice", [NICK], resource="two")
    assert event_child(recv_event(a2)).get("node") == NICK
    for x in (a, a2, b, c):
        x.close()


def test_omemo_flow(server, passwords):
    mutual(server, "alice", "bob")
    b = with_caps(server, passwords, "bob", [DEVICES])
    a = client(server, passwords, "alice")
    opts = {"pubsub#access_model": "open"}
    devlist = ("<list xmlns='eu.siacs.conversations.axolotl'>"
               "<device id='31415'/></list>")
    bundle = ("<bundle xmlns='eu.siacs.conversations.axolotl'>"
              "<signedPreKeyPublic signedPreKeyId='1'>BASE64</signedPreKeyPublic>"
              "<signedPreKeySignature>SIG</signedPreKeySignature>"
              "<identityKey>IK</identityKey><prekeys><preKeyPublic "
              "preKeyId='1'>PK1</preKeyPublic></prekeys></bundle>")
    ok(pub(a, BUNDLE, bundle, id_="current", options=opts))
    ok(pub(a, DEVICES, devlist, id_="current", options=opts))
    m = recv_event(b, node=DEVICES)
    dl = payload_of(m).find("{eu.siacs.conversations.axolotl}list")
    assert dl.find("{eu.siacs.conversations.axolotl}device").get("id") == \
        "31415"
    # A stranger fetches both (open access), as a client starting a
    # session does.
    c = client(server, passwords, "carol")
    assert item_ids(items_of(c, "alice@localhost", DEVICES)) == ["current"]
    el = items_of(c, "alice@localhost", BUNDLE)
    assert el.find(q(PS, "item")).find(
        "{eu.siacs.conversations.axolotl}bundle") is not None
    # Publishing again with the same options replaces the item.
    ok(pub(a, DEVICES, devlist.replace("31415", "27183"), id_="current",
           options=opts))
    m = recv_event(b, node=DEVICES)
    assert "27183" in str(
        [d.get("id") for d in payload_of(m).iter(
            "{eu.siacs.conversations.axolotl}device")])
    assert len(item_ids(items_of(c, "alice@localhost", DEVICES))) == 1
    # Options that do not match the node: precondition-not-met.
    el = pub(a, DEVICES, devlist, id_="current",
             options={"pubsub#access_model": "whitelist"})
    assert err(el) == ("conflict", "precondition-not-met")
    for x in (a, b, c):
        x.close()


def test_bookmarks_xep0402(server, passwords):
    a = with_caps(server, passwords, "alice", [BOOKMARKS], resource="one")
    a2 = with_caps(server, passwords, "alice", [BOOKMARKS], resource="two")
    opts = {"pubsub#persist_items": "true", "pubsub#max_items": "max",
            "pubsub#send_last_published_item": "never",
            "pubsub#access_model": "whitelist"}
    for room in ("a@conf.example", "b@conf.example"):
        ok(pub(a, BOOKMARKS, "<conference xmlns='%s' name='%s' "
               "autojoin='true'><nick>al</nick></conference>"
               % (BOOKMARKS, room), id_=room, options=opts))
        m = recv_event(a2, node=BOOKMARKS)
        assert payload_of(m).get("id") == room
    el = items_of(a, "alice@localhost", BOOKMARKS)
    assert sorted(item_ids(el)) == ["a@conf.example", "b@conf.example"]
    # Bookmarks are private, even to contacts.
    mutual(server, "alice", "bob")
    b = client(server, passwords, "bob")
    el = pep(b, "get", "<items node='%s'/>" % BOOKMARKS, to="alice@localhost")
    assert err(el) == ("not-allowed", "closed-node")
    # A retraction notifies the owner's other session.
    ok(pep(a, "set", "<retract node='%s' notify='true'><item "
           "id='a@conf.example'/></retract>" % BOOKMARKS))
    ch = event_child(recv_event(a2, node=BOOKMARKS))
    assert ch.find(q(PS_EVENT, "retract")).get("id") == "a@conf.example"
    # Owner operations on a PEP node.
    el = ok(pep(a, "get", "<configure node='%s'/>" % BOOKMARKS, ns=PS_OWNER))
    vals = form_values(el.find(q(PS_OWNER, "pubsub")).find(
        q(PS_OWNER, "configure")).find(q(XDATA, "x")))
    assert vals["pubsub#access_model"] == "whitelist"
    ok(pep(a, "set", "<delete node='%s'/>" % BOOKMARKS, ns=PS_OWNER))
    el = pep(a, "get", "<items node='%s'/>" % BOOKMARKS)
    assert err(el)[0] == "item-not-found"
    for x in (a, a2, b):
        x.close()


def test_pep_restart(server, passwords):
    mutual(server, "alice", "bob")
    a = client(server, passwords, "alice")
    ok(pub(a, NICK, "<nick xmlns='%s'>Persistent</nick>" % NICK))
    ok(pub(a, MOOD, mood("calm"), options={"pubsub#access_model": "open"}))
    a.close()
    server.restart()
    b = with_caps(server, passwords, "bob", [NICK])
    m = recv_event(b, node=NICK)
    assert payload_of(m).find(q(NICK, "nick")).text == "Persistent"
    c = client(server, passwords, "carol")
    el = items_of(c, "alice@localhost", MOOD)
    assert el.find(q(PS, "item")).find(q(MOOD, "mood")) is not None
    b.close()
    c.close()


def test_user_deleted_wipes_pep(server, passwords):
    server.adduser("dave", "dave-secret")
    passwords = dict(passwords, dave="dave-secret")
    d = client(server, passwords, "dave")
    ok(pub(d, MOOD, mood("sad"), options={"pubsub#access_model": "open"}))
    d.close()
    server.ctl_ok("deluser", "dave@localhost")
    server.adduser("dave", "dave-secret")
    d = client(server, passwords, "dave")
    el = pep(d, "get", "<items node='%s'/>" % MOOD)
    assert err(el)[0] == "item-not-found"
    d.close()


def test_roster_access_model(server, passwords):
    server.ctl_ok("roster-add", "alice@localhost", "bob@localhost",
                  "--subscription=both", "--group=Friends")
    server.ctl_ok("roster-add", "alice@localhost", "carol@localhost",
                  "--subscription=both", "--group=Work")
    a = client(server, passwords, "alice")
    ok(pub(a, "urn:example:friends", "<x xmlns='urn:example:friends'/>",
           options={"pubsub#access_model": "roster"}))
    from pubsublib import node_config
    ok(pep(a, "set", "<configure node='urn:example:friends'>%s</configure>"
           % node_config({"pubsub#roster_groups_allowed": ["Friends"]}),
           ns=PS_OWNER))
    b = client(server, passwords, "bob")
    c = client(server, passwords, "carol")
    assert len(item_ids(items_of(b, "alice@localhost",
                                 "urn:example:friends"))) == 1
    el = pep(c, "get", "<items node='urn:example:friends'/>",
             to="alice@localhost")
    assert err(el) == ("not-authorized", "not-in-roster-group")
    for x in (a, b, c):
        x.close()


def test_pep_only_host(server_factory, passwords):
    """pubsub service="false": no pubsub.HOST, the engine still runs PEP."""
    srv = server_factory(start=False)
    srv.add_module("pubsub", service="false")
    srv.start()
    mutual(srv, "alice", "bob")
    a = client(srv, passwords, "alice")
    b = client(srv, passwords, "bob")
    ok(pub(a, MOOD, mood("calm"), id_="now"))
    assert item_ids(items_of(b, "alice@localhost", MOOD)) == ["now"]
    el = ok(b.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS,
                 to="localhost"))
    assert "pubsub.localhost" not in \
        {i.get("jid") for i in el.iter(q(NS_DISCO_ITEMS, "item"))}
    assert err(ps(b, "get", "<items node='x'/>",
                  to="pubsub.localhost"))[0] is not None
    a.close()
    b.close()
