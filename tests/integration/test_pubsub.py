"""Publish-Subscribe (XEP-0060) on pubsub.localhost: nodes, items,
notifications, subscriptions, affiliations, access models, disco,
persistence and the admin commands."""

import json

from rawxmpp import NS_DISCO_INFO, NS_DISCO_ITEMS, q
from pubsublib import (PS, PS_EVENT, PS_OWNER, SERVICE, XDATA, client,
                              disco_info, err, event_child, form, form_values,
                              item_ids, no_event, node_config, ok, ps,
                              publish, recv_event)

ENTRY = "<entry xmlns='http://www.w3.org/2005/Atom'><title>%s</title></entry>"


def create(c, node, config=None):
    extra = ""
    if config is not None:
        extra = "<configure>%s</configure>" % node_config(config)
    return ps(c, "set", "<create node='%s'/>%s" % (node, extra))


def subscribe(c, node, jid=None):
    el = ps(c, "set", "<subscribe node='%s' jid='%s'/>"
            % (node, jid or c.jid))
    return el


def items(c, node, body="", max_items=None, extra=""):
    m = " max_items='%d'" % max_items if max_items else ""
    el = ok(ps(c, "get", "<items node='%s'%s>%s</items>%s"
               % (node, m, body, extra)))
    return el.find(q(PS, "pubsub")).find(q(PS, "items"))


def test_disco_service(server, passwords):
    a = client(server, passwords, "alice")
    el = ok(a.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS,
                 to="localhost"))
    jids = [i.get("jid") for i in el.iter(q(NS_DISCO_ITEMS, "item"))]
    assert SERVICE in jids
    el = ok(disco_info(a, SERVICE))
    qe = el.find(q(NS_DISCO_INFO, "query"))
    ids = {(i.get("category"), i.get("type"))
           for i in qe.findall(q(NS_DISCO_INFO, "identity"))}
    assert ("pubsub", "service") in ids
    feats = {f.get("var") for f in qe.findall(q(NS_DISCO_INFO, "feature"))}
    for f in ("publish", "subscribe", "create-nodes", "config-node",
              "publish-options", "retrieve-items", "purge-nodes",
              "delete-nodes", "manage-subscriptions", "modify-affiliations",
              "access-authorize", "access-whitelist", "persistent-items",
              "instant-nodes", "meta-data", "item-ids"):
        assert PS + "#" + f in feats, f
    # The service has no user part: an iq to x@pubsub is refused.
    el = a.iq("get", "<ping xmlns='urn:xmpp:ping'/>", to="x@" + SERVICE)
    assert err(el)[0] == "service-unavailable"
    a.close()


def test_publish_items_and_notifications(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    el = ok(create(a, "news"))
    el = ok(subscribe(b, "news"))
    sub = el.find(q(PS, "pubsub")).find(q(PS, "subscription"))
    assert sub.get("subscription") == "subscribed" and sub.get("subid")
    for i in range(1, 4):
        el = ok(publish(a, "news", ENTRY % ("t%d" % i), id_="i%d" % i))
        pub = el.find(q(PS, "pubsub")).find(q(PS, "publish"))
        assert pub.find(q(PS, "item")).get("id") == "i%d" % i
        m = recv_event(b)
        assert m.get("from") == SERVICE
        its = event_child(m)
        assert its.tag == q(PS_EVENT, "items") and its.get("node") == "news"
        it = its.find(q(PS_EVENT, "item"))
        assert it.get("id") == "i%d" % i
        title = it.find("{http://www.w3.org/2005/Atom}entry/"
                        "{http://www.w3.org/2005/Atom}title")
        assert title.text == "t%d" % i
    # The publisher is not a subscriber: nothing for alice.
    no_event(a, wait=0.3)
    # An item without id gets one.
    el = ok(publish(a, "news", ENTRY % "t4"))
    gen = el.find(q(PS, "pubsub")).find(q(PS, "publish")).find(
        q(PS, "item")).get("id")
    assert gen
    recv_event(b)
    # Re-publishing an id replaces the item.
    ok(publish(a, "news", ENTRY % "t1b", id_="i1"))
    recv_event(b)
    # All items, newest first; by id; the last N.
    assert item_ids(items(b, "news")) == ["i1", gen, "i3", "i2"]
    assert item_ids(items(b, "news", "<item id='i2'/><item id='nope'/>")) \
        == ["i2"]
    assert item_ids(items(b, "news", max_items=2)) == ["i1", gen]
    # Result set management (XEP-0059).
    rsm = "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max>%s</set>"
    el = ok(ps(b, "get", "<items node='news'/>" + rsm % ""))
    pub = el.find(q(PS, "pubsub"))
    assert item_ids(pub.find(q(PS, "items"))) == ["i1", gen]
    s = pub.find("{http://jabber.org/protocol/rsm}set")
    assert s.find("{http://jabber.org/protocol/rsm}count").text == "4"
    last = s.find("{http://jabber.org/protocol/rsm}last").text
    el = ok(ps(b, "get", "<items node='news'/>" +
               rsm % ("<after>%s</after>" % last)))
    assert item_ids(el.find(q(PS, "pubsub")).find(q(PS, "items"))) == \
        ["i3", "i2"]
    # Unknown node; missing node attribute.
    assert err(ps(b, "get", "<items node='nope'/>"))[0] == "item-not-found"
    assert err(ps(b, "get", "<items/>")) == ("bad-request", "nodeid-required")
    a.close()
    b.close()


def test_create_configure(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    ok(create(a, "cfg", {"pubsub#title": "Configured",
                         "pubsub#max_items": "2",
                         "pubsub#notify_config": "1"}))
    assert err(create(a, "cfg"))[0] == "conflict"
    # Instant node.
    el = ok(ps(a, "set", "<create/>"))
    inst = el.find(q(PS, "pubsub")).find(q(PS, "create")).get("node")
    assert inst
    # A bad configure form at creation: not-acceptable, no node.
    el = create(a, "bad", {"pubsub#max_items": "lots"})
    assert err(el)[0] == "not-acceptable"
    assert err(ps(a, "get", "<items node='bad'/>"))[0] == "item-not-found"
    # The configuration form.
    el = ok(ps(a, "get", "<configure node='cfg'/>", ns=PS_OWNER))
    x = el.find(q(PS_OWNER, "pubsub")).find(q(PS_OWNER, "configure")).find(
        q(XDATA, "x"))
    vals = form_values(x)
    assert vals["FORM_TYPE"] == PS + "#node_config"
    assert vals["pubsub#title"] == "Configured"
    assert vals["pubsub#max_items"] == "2"
    assert vals["pubsub#access_model"] == "open"
    # Default configuration.
    el = ok(ps(a, "get", "<default/>", ns=PS_OWNER))
    assert el.find(q(PS_OWNER, "pubsub")).find(q(PS_OWNER, "default")) \
        is not None
    ok(subscribe(b, "cfg"))
    for i in range(3):
        ok(publish(a, "cfg", ENTRY % i, id_="c%d" % i))
        recv_event(b)
    # max_items 2: the oldest went.
    assert item_ids(items(a, "cfg")) == ["c2", "c1"]
    # Only the owner configures.
    el = ps(b, "set", "<configure node='cfg'>%s</configure>"
            % node_config({"pubsub#title": "x"}), ns=PS_OWNER)
    assert err(el)[0] == "forbidden"
    el = ps(a, "set", "<configure node='cfg'>%s</configure>"
            % node_config({"pubsub#access_model": "nonsense"}), ns=PS_OWNER)
    assert err(el)[0] == "not-acceptable"
    ok(ps(a, "set", "<configure node='cfg'>%s</configure>"
          % node_config({"pubsub#max_items": "1", "pubsub#title": "New"}),
          ns=PS_OWNER))
    # notify_config: the subscriber hears of it.
    m = recv_event(b)
    ch = event_child(m)
    assert ch.tag == q(PS_EVENT, "configuration")
    assert form_values(ch.find(q(XDATA, "x")))["pubsub#title"] == "New"
    assert item_ids(items(a, "cfg")) == ["c2"]
    # Cancel is accepted and changes nothing.
    ok(ps(a, "set", "<configure node='cfg'>%s</configure>"
          % form(PS + "#node_config", {}, type_="cancel"), ns=PS_OWNER))
    a.close()
    b.close()


def test_retract_purge_delete(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    ok(create(a, "rp"))
    ok(subscribe(b, "rp"))
    for i in range(3):
        ok(publish(a, "rp", ENTRY % i, id_="r%d" % i))
        recv_event(b)
    # Retract with notify.
    ok(ps(a, "set", "<retract node='rp' notify='true'><item id='r0'/>"
          "</retract>"))
    ch = event_child(recv_event(b))
    assert ch.find(q(PS_EVENT, "retract")).get("id") == "r0"
    # Retract without notify: silent.
    ok(ps(a, "set", "<retract node='rp' notify='0'><item id='r1'/>"
          "</retract>"))
    no_event(b, wait=0.3)
    assert item_ids(items(a, "rp")) == ["r2"]
    # Errors: unknown item; a non-publisher.
    el = ps(a, "set", "<retract node='rp'><item id='zz'/></retract>")
    assert err(el)[0] == "item-not-found"
    el = ps(b, "set", "<retract node='rp'><item id='r2'/></retract>")
    assert err(el)[0] == "forbidden"
    # Purge.
    assert err(ps(b, "set", "<purge node='rp'/>", ns=PS_OWNER))[0] == \
        "forbidden"
    ok(ps(a, "set", "<purge node='rp'/>", ns=PS_OWNER))
    assert event_child(recv_event(b)).tag == q(PS_EVENT, "purge")
    assert item_ids(items(a, "rp")) == []
    # Delete, with notification.
    ok(ps(a, "set", "<delete node='rp'/>", ns=PS_OWNER))
    ch = event_child(recv_event(b))
    assert ch.tag == q(PS_EVENT, "delete") and ch.get("node") == "rp"
    assert err(ps(a, "get", "<items node='rp'/>"))[0] == "item-not-found"
    assert err(ps(a, "set", "<delete node='rp'/>", ns=PS_OWNER))[0] == \
        "item-not-found"
    a.close()
    b.close()


def test_publish_errors_and_options(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    ok(create(a, "po"))
    # bob is no publisher.
    assert err(publish(b, "po", ENTRY % "x"))[0] == "forbidden"
    # Malformed publishes.
    el = ps(a, "set", "<publish node='po'/>")
    assert err(el) == ("bad-request", "item-required")
    el = ps(a, "set", "<publish node='po'><item/></publish>")
    assert err(el) == ("bad-request", "payload-required")
    el = ps(a, "set", "<publish node='po'><item><a xmlns='x'/><b xmlns='x'/>"
            "</item></publish>")
    assert err(el) == ("bad-request", "invalid-payload")
    el = ps(a, "set", "<publish><item><a xmlns='x'/></item></publish>")
    assert err(el) == ("bad-request", "nodeid-required")
    # Publish-options: matching, then not.
    ok(publish(a, "po", ENTRY % 1, options={"pubsub#access_model": "open"}))
    el = publish(a, "po", ENTRY % 2,
                 options={"pubsub#access_model": "whitelist"})
    assert err(el) == ("conflict", "precondition-not-met")
    el = publish(a, "po", ENTRY % 2, options={"pubsub#persist_items": "true",
                                              "pubsub#max_items": "64"})
    ok(el)
    # Auto-create with options: the node gets them.
    ok(publish(a, "auto", ENTRY % 1, options={"pubsub#access_model":
                                              "whitelist",
                                              "pubsub#max_items": "5"}))
    el = ok(ps(a, "get", "<configure node='auto'/>", ns=PS_OWNER))
    vals = form_values(el.find(q(PS_OWNER, "pubsub")).find(
        q(PS_OWNER, "configure")).find(q(XDATA, "x")))
    assert vals["pubsub#access_model"] == "whitelist"
    assert vals["pubsub#max_items"] == "5"
    # Whitelist: bob may neither read nor subscribe.
    assert err(ps(b, "get", "<items node='auto'/>")) == \
        ("not-allowed", "closed-node")
    assert err(subscribe(b, "auto")) == ("not-allowed", "closed-node")
    a.close()
    b.close()


def test_create_permission(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("pubsub", **{"create-nodes": "admins"})
    srv.start()
    a = client(srv, passwords, "alice")
    assert err(ps(a, "set", "<create node='x'/>"))[0] == "forbidden"
    assert err(publish(a, "x", ENTRY % 1))[0] == "item-not-found"
    a.close()


def test_subscriptions_and_affiliations(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob", resource="r1")
    c = client(server, passwords, "carol")
    ok(create(a, "aff"))
    ok(create(a, "aff2"))
    # Subscribing another's JID is refused.
    assert err(subscribe(b, "aff", jid="carol@localhost")) == \
        ("bad-request", "invalid-jid")
    ok(subscribe(b, "aff", jid="bob@localhost"))
    ok(subscribe(b, "aff2", jid=b.jid))
    # The subscriber's own list, and its affiliations.
    el = ok(ps(b, "get", "<subscriptions/>"))
    subs = el.find(q(PS, "pubsub")).find(q(PS, "subscriptions"))
    got = {(s.get("node"), s.get("jid"), s.get("subscription"))
           for s in subs.findall(q(PS, "subscription"))}
    assert got == {("aff", "bob@localhost", "subscribed"),
                   ("aff2", b.jid, "subscribed")}
    el = ok(ps(b, "get", "<subscriptions node='aff2'/>"))
    assert len(el.find(q(PS, "pubsub")).find(q(PS, "subscriptions"))
               .findall(q(PS, "subscription"))) == 1
    el = ok(ps(a, "get", "<affiliations/>"))
    affs = {(x.get("node"), x.get("affiliation")) for x in
            el.find(q(PS, "pubsub")).find(q(PS, "affiliations"))}
    assert affs == {("aff", "owner"), ("aff2", "owner")}
    # Owner: list subscriptions.
    el = ok(ps(a, "get", "<subscriptions node='aff'/>", ns=PS_OWNER))
    subs = el.find(q(PS_OWNER, "pubsub")).find(q(PS_OWNER, "subscriptions"))
    assert [(s.get("jid"), s.get("subscription"))
            for s in subs.findall(q(PS_OWNER, "subscription"))] == \
        [("bob@localhost", "subscribed")]
    assert err(ps(b, "get", "<subscriptions node='aff'/>", ns=PS_OWNER))[0] \
        == "forbidden"
    # Owner subscribes carol; carol hears of it.
    ok(ps(a, "set", "<subscriptions node='aff'><subscription "
          "jid='carol@localhost' subscription='subscribed'/></subscriptions>",
          ns=PS_OWNER))
    ch = event_child(recv_event(c))
    assert ch.tag == q(PS_EVENT, "subscription")
    assert ch.get("subscription") == "subscribed"
    # Affiliations: bob becomes a publisher.
    ok(ps(a, "set", "<affiliations node='aff'><affiliation "
          "jid='bob@localhost' affiliation='publisher'/></affiliations>",
          ns=PS_OWNER))
    ok(publish(b, "aff", ENTRY % "by bob"))
    m = recv_event(c)
    assert event_child(m).find(q(PS_EVENT, "item")).get("publisher") == \
        "bob@localhost"
    el = ok(ps(a, "get", "<affiliations node='aff'/>", ns=PS_OWNER))
    affs = {(x.get("jid"), x.get("affiliation")) for x in
            el.find(q(PS_OWNER, "pubsub")).find(q(PS_OWNER, "affiliations"))}
    assert affs == {("alice@localhost", "owner"),
                    ("bob@localhost", "publisher")}
    # Outcast: carol's subscription goes, she may not come back.
    ok(ps(a, "set", "<affiliations node='aff'><affiliation "
          "jid='carol@localhost' affiliation='outcast'/></affiliations>",
          ns=PS_OWNER))
    assert err(subscribe(c, "aff"))[0] == "forbidden"
    assert err(ps(c, "get", "<items node='aff'/>"))[0] == "forbidden"
    ok(publish(a, "aff", ENTRY % "after"))
    no_event(c, wait=0.3)
    # A bad affiliation value.
    el = ps(a, "set", "<affiliations node='aff'><affiliation "
            "jid='carol@localhost' affiliation='king'/></affiliations>",
            ns=PS_OWNER)
    assert err(el)[0] == "not-acceptable"
    # The last owner cannot leave the node without one.
    el = ps(a, "set", "<affiliations node='aff'><affiliation "
            "jid='alice@localhost' affiliation='none'/></affiliations>",
            ns=PS_OWNER)
    assert err(el)[0] == "not-acceptable"
    assert ok(ps(a, "get", "<affiliations node='aff'/>", ns=PS_OWNER))
    # Whitelist + member.
    ok(ps(a, "set", "<configure node='aff2'>%s</configure>"
          % node_config({"pubsub#access_model": "whitelist"}), ns=PS_OWNER))
    assert err(subscribe(c, "aff2"))[0] == "not-allowed"
    ok(ps(a, "set", "<affiliations node='aff2'><affiliation "
          "jid='carol@localhost' affiliation='member'/></affiliations>",
          ns=PS_OWNER))
    ok(subscribe(c, "aff2"))
    # Unsubscribe.
    ok(ps(b, "set", "<unsubscribe node='aff' jid='bob@localhost'/>"))
    el = ps(b, "set", "<unsubscribe node='aff' jid='bob@localhost'/>")
    assert err(el) == ("unexpected-request", "not-subscribed")
    el = ps(b, "set", "<unsubscribe node='aff2' jid='carol@localhost'/>")
    assert err(el)[0] == "forbidden"
    for x in (a, b, c):
        x.close()


def test_subscription_options(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    ok(create(a, "opt"))
    ok(subscribe(b, "opt"))
    el = ok(ps(b, "get", "<options node='opt' jid='%s'/>" % b.jid))
    x = el.find(q(PS, "pubsub")).find(q(PS, "options")).find(q(XDATA, "x"))
    assert form_values(x)["pubsub#deliver"] == "1"
    ok(ps(b, "set", "<options node='opt' jid='%s'>%s</options>"
          % (b.jid, form(PS + "#subscribe_options",
                         {"pubsub#deliver": "false"}))))
    ok(publish(a, "opt", ENTRY % 1))
    no_event(b, wait=0.3)
    ok(ps(b, "set", "<options node='opt' jid='%s'>%s</options>"
          % (b.jid, form(PS + "#subscribe_options",
                         {"pubsub#deliver": "1"}))))
    ok(publish(a, "opt", ENTRY % 2))
    recv_event(b)
    el = ps(b, "set", "<options node='opt' jid='%s'>%s</options>"
            % (b.jid, form(PS + "#subscribe_options",
                           {"pubsub#deliver": "maybe"})))
    assert err(el) == ("bad-request", "invalid-options")
    el = ps(b, "get", "<options node='opt' jid='bob@localhost/other'/>")
    assert err(el) == ("unexpected-request", "not-subscribed")
    el = ps(b, "get", "<options node='opt' jid='carol@localhost'/>")
    assert err(el)[0] == "forbidden"
    # Subscribe with options at once.
    c = client(server, passwords, "carol")
    el = ok(ps(c, "set", "<subscribe node='opt' jid='%s'/><options>%s"
               "</options>" % (c.jid, form(PS + "#subscribe_options",
                                            {"pubsub#deliver": "0"}))))
    ok(publish(a, "opt", ENTRY % 3))
    no_event(c, wait=0.3)
    for x in (a, b, c):
        x.close()


def test_authorize_access_model(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    c = client(server, passwords, "carol")
    ok(create(a, "auth", {"pubsub#access_model": "authorize"}))
    ok(publish(a, "auth", ENTRY % "secret", id_="s1"))
    assert err(ps(b, "get", "<items node='auth'/>")) == \
        ("not-authorized", "not-subscribed")
    el = ok(subscribe(b, "auth"))
    sub = el.find(q(PS, "pubsub")).find(q(PS, "subscription"))
    assert sub.get("subscription") == "pending"
    # The owner gets the authorization form.
    m = a.recv(lambda e: e.find(q(XDATA, "x")) is not None, timeout=5)
    vals = form_values(m.find(q(XDATA, "x")))
    assert vals["FORM_TYPE"] == PS + "#subscribe_authorization"
    assert vals["pubsub#node"] == "auth"
    assert vals["pubsub#subscriber_jid"] == b.jid
    # Approve by answering the form.
    a.send("<message to='%s'>%s</message>"
           % (SERVICE, form(PS + "#subscribe_authorization",
                            {"pubsub#subid": vals["pubsub#subid"],
                             "pubsub#node": "auth",
                             "pubsub#subscriber_jid": b.jid,
                             "pubsub#allow": "true"})))
    ch = event_child(recv_event(b))
    assert ch.tag == q(PS_EVENT, "subscription")
    assert ch.get("subscription") == "subscribed"
    # on_sub: the last item follows.
    ch = event_child(recv_event(b))
    assert ch.find(q(PS_EVENT, "item")).get("id") == "s1"
    assert item_ids(items(b, "auth")) == ["s1"]
    # carol is denied through the form.
    ok(subscribe(c, "auth"))
    m = a.recv(lambda e: e.find(q(XDATA, "x")) is not None, timeout=5)
    vals = form_values(m.find(q(XDATA, "x")))
    a.send("<message to='%s'>%s</message>"
           % (SERVICE, form(PS + "#subscribe_authorization",
                            {"pubsub#node": "auth",
                             "pubsub#subscriber_jid": c.jid,
                             "pubsub#allow": "false"})))
    ch = event_child(recv_event(c))
    assert ch.get("subscription") == "none"
    assert err(ps(c, "get", "<items node='auth'/>"))[0] == "not-authorized"
    for x in (a, b, c):
        x.close()


def test_disco_nodes_and_metadata(server, passwords):
    a = client(server, passwords, "alice")
    ok(create(a, "d1", {"pubsub#title": "First"}))
    ok(create(a, "d2", {"pubsub#access_model": "whitelist"}))
    ok(publish(a, "d1", ENTRY % 1, id_="x1"))
    b = client(server, passwords, "bob")
    el = ok(b.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=SERVICE))
    its = {(i.get("node"), i.get("name")) for i in
           el.iter(q(NS_DISCO_ITEMS, "item"))}
    assert ("d1", "First") in its
    assert all(n != "d2" for n, _ in its)     # bob may not see it
    el = ok(a.iq("get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=SERVICE))
    assert "d2" in {i.get("node") for i in el.iter(q(NS_DISCO_ITEMS, "item"))}
    el = ok(b.iq("get", "<query xmlns='%s' node='d1'/>" % NS_DISCO_ITEMS,
                 to=SERVICE))
    assert [i.get("name") for i in el.iter(q(NS_DISCO_ITEMS, "item"))] == \
        ["x1"]
    el = ok(disco_info(b, SERVICE, node="d1"))
    qe = el.find(q(NS_DISCO_INFO, "query"))
    assert qe.get("node") == "d1"
    assert qe.find(q(NS_DISCO_INFO, "identity")).get("type") == "leaf"
    meta = form_values(qe.find(q(XDATA, "x")))
    assert meta["FORM_TYPE"] == PS + "#meta-data"
    assert meta["pubsub#title"] == "First"
    assert meta["pubsub#owner"] == "alice@localhost"
    assert err(disco_info(b, SERVICE, node="nope"))[0] == "item-not-found"
    a.close()
    b.close()


def test_persistence_across_restart(server, passwords):
    # bob subscribes with his full JID and comes back with the same
    # resource: a notification for a resource that is gone is not
    # redirected (RFC 6121 8.5.3.2.1, type normal).
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob", resource="desk")
    ok(create(a, "keep", {"pubsub#title": "Kept", "pubsub#max_items": "10"}))
    ok(subscribe(b, "keep"))
    for i in range(3):
        ok(publish(a, "keep", ENTRY % i, id_="k%d" % i))
    ok(ps(a, "set", "<affiliations node='keep'><affiliation "
          "jid='carol@localhost' affiliation='publisher'/></affiliations>",
          ns=PS_OWNER))
    ok(ps(a, "set", "<retract node='keep'><item id='k0'/></retract>"))
    a.close()
    b.close()
    server.restart()
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob", resource="desk")
    c = client(server, passwords, "carol")
    assert item_ids(items(b, "keep")) == ["k2", "k1"]
    el = ok(ps(a, "get", "<configure node='keep'/>", ns=PS_OWNER))
    vals = form_values(el.find(q(PS_OWNER, "pubsub")).find(
        q(PS_OWNER, "configure")).find(q(XDATA, "x")))
    assert vals["pubsub#title"] == "Kept"
    # The subscription and the affiliation survived too.
    ok(publish(c, "keep", ENTRY % "new", id_="k9"))
    m = recv_event(b)
    assert event_child(m).find(q(PS_EVENT, "item")).get("id") == "k9"
    # Item ids keep their order after a restart.
    assert item_ids(items(b, "keep"))[0] == "k9"
    for x in (a, b, c):
        x.close()


def test_admin_commands(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    ok(create(a, "adm", {"pubsub#title": "Admin"}))
    ok(subscribe(b, "adm"))
    ok(publish(a, "adm", ENTRY % 1))
    recv_event(b)
    nodes = json.loads(server.ctl_ok("--json", "pubsub-nodes").stdout)
    assert {"node": "adm", "title": "Admin", "items": 1, "subscribers": 1,
            "access_model": "open"} in nodes
    node = json.loads(server.ctl_ok("--json", "pubsub-node", "adm").stdout)
    assert node["node"] == "adm" and node["items"] == 1
    assert node["config"]["pubsub#title"] == "Admin"
    assert {"jid": b.jid, "subscription": "subscribed"} in \
        node["subscriptions"]
    assert {"jid": "alice@localhost", "affiliation": "owner"} in \
        node["affiliations"]
    r = server.ctl("pubsub-node", "nope")
    assert r.returncode != 0 and "no node" in r.stdout + r.stderr
    server.ctl_ok("pubsub-configure", "adm",
                  json.dumps({"pubsub#title": "Renamed",
                              "pubsub#max_items": 3}))
    node = json.loads(server.ctl_ok("--json", "pubsub-node", "adm").stdout)
    assert node["config"]["pubsub#title"] == "Renamed"
    assert node["config"]["pubsub#max_items"] == "3"
    r = server.ctl("pubsub-configure", "adm",
                   json.dumps({"pubsub#max_items": "many"}))
    assert r.returncode != 0 and "pubsub#max_items" in r.stdout + r.stderr
    server.ctl_ok("pubsub-delete", "adm")
    ch = event_child(recv_event(b))
    assert ch.tag == q(PS_EVENT, "delete")
    nodes = json.loads(server.ctl_ok("--json", "pubsub-nodes").stdout)
    assert all(n["node"] != "adm" for n in nodes)
    a.close()
    b.close()


def test_item_expiry_and_non_persistent(server, passwords):
    import time
    a = client(server, passwords, "alice")
    ok(create(a, "exp", {"pubsub#item_expire": "1",
                         "pubsub#max_items": "10"}))
    ok(publish(a, "exp", ENTRY % 1, id_="old"))
    time.sleep(2.1)
    ok(publish(a, "exp", ENTRY % 2, id_="new"))
    assert item_ids(items(a, "exp")) == ["new"]
    # Not persistent: only the last item is kept.
    ok(create(a, "np", {"pubsub#persist_items": "0",
                        "pubsub#max_items": "10"}))
    for i in range(3):
        ok(publish(a, "np", ENTRY % i, id_="n%d" % i))
    assert item_ids(items(a, "np")) == ["n2"]
    a.close()


def test_payload_too_big(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("pubsub", **{"max-payload": "1024"})
    srv.start()
    a = client(srv, passwords, "alice")
    ok(create(a, "small"))
    el = publish(a, "small", "<big xmlns='x'>%s</big>" % ("x" * 2000))
    assert err(el) == ("not-acceptable", "payload-too-big")
    ok(publish(a, "small", "<big xmlns='x'>%s</big>" % ("x" * 900)))
    a.close()


def test_notifications_without_payload(server, passwords):
    a = client(server, passwords, "alice")
    b = client(server, passwords, "bob")
    ok(create(a, "light", {"pubsub#deliver_payloads": "0"}))
    ok(subscribe(b, "light"))
    ok(publish(a, "light", ENTRY % "heavy", id_="h1"))
    it = event_child(recv_event(b)).find(q(PS_EVENT, "item"))
    assert it.get("id") == "h1" and len(list(it)) == 0
    # The item itself keeps its payload.
    el = items(b, "light")
    assert len(list(el.find(q(PS, "item")))) == 1
    # deliver_notifications off: nothing at all.
    ok(ps(a, "set", "<configure node='light'>%s</configure>"
          % node_config({"pubsub#deliver_notifications": "false"}),
          ns=PS_OWNER))
    ok(publish(a, "light", ENTRY % "quiet"))
    no_event(b, wait=0.3)
    a.close()
    b.close()
