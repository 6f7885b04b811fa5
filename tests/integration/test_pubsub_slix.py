"""Pubsub and PEP with stock slixmpp clients (xep_0060, xep_0163, xep_0172,
xep_0084, xep_0115): what a real client library sends and expects."""

import asyncio

from slix import login, run
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0004 import Form

SERVICE = "pubsub.localhost"
NICK = "http://jabber.org/protocol/nick"


def mutual(server, a, b):
    for x, y in ((a, b), (b, a)):
        server.ctl_ok("roster-add", server.jid(x), server.jid(y),
                      "--subscription=both")


async def next_event(queue, timeout=5.0):
    return await asyncio.wait_for(queue.get(), timeout)


def test_slixmpp_pubsub_service(server, passwords):
    async def body():
        a = await login(server, "alice", passwords["alice"])
        b = await login(server, "bob", passwords["bob"])
        c = await login(server, "carol", passwords["carol"])
        events = asyncio.Queue()
        try:
            for cl in (a, b, c):
                cl.register_plugin("xep_0060")
            b.add_event_handler("pubsub_publish", events.put_nowait)
            b.add_event_handler("pubsub_retract", events.put_nowait)
            b.add_event_handler("pubsub_delete", events.put_nowait)
            cfg = Form()
            cfg.add_field(var="FORM_TYPE", ftype="hidden",
                          value="http://jabber.org/protocol/pubsub"
                                "#node_config")
            cfg.add_field(var="pubsub#title", value="Slix news")
            cfg.add_field(var="pubsub#max_items", value="5")
            await a["xep_0060"].create_node(SERVICE, "slix", config=cfg)
            # slixmpp subscribes the bare JID: be available to get events.
            b.send_presence()
            await b["xep_0060"].subscribe(SERVICE, "slix")
            c_sub = await c["xep_0060"].subscribe(SERVICE, "slix")
            assert c_sub["pubsub"]["subscription"]["subscription"] == \
                "subscribed"
            await c["xep_0060"].unsubscribe(SERVICE, "slix")
            from slixmpp.xmlstream import ET
            for i in range(3):
                payload = ET.fromstring("<n xmlns='urn:example:n'>%d</n>" % i)
                await a["xep_0060"].publish(SERVICE, "slix", id="n%d" % i,
                                            payload=payload)
                msg = await next_event(events)
                item = msg["pubsub_event"]["items"]["item"]
                assert item["id"] == "n%d" % i
                assert item["payload"].text == str(i)
            r = await b["xep_0060"].get_items(SERVICE, "slix", max_items=2)
            ids = [it["id"] for it in r["pubsub"]["items"]]
            assert ids == ["n2", "n1"]
            r = await b["xep_0060"].get_item(SERVICE, "slix", "n0")
            assert [it["id"] for it in r["pubsub"]["items"]] == ["n0"]
            r = await a["xep_0060"].get_node_config(SERVICE, "slix")
            form = r["pubsub_owner"]["configure"]["form"]
            assert form.get_values()["pubsub#title"] == "Slix news"
            r = await a["xep_0060"].get_node_subscriptions(SERVICE, "slix")
            subs = [s["jid"].bare for s in
                    r["pubsub_owner"]["subscriptions"]]
            assert subs == ["bob@localhost"]
            await a["xep_0060"].retract(SERVICE, "slix", "n0", notify=True)
            msg = await next_event(events)
            assert msg["pubsub_event"]["items"]["retract"]["id"] == "n0"
            # carol is no publisher.
            try:
                await c["xep_0060"].publish(SERVICE, "slix", payload=ET.
                                            fromstring("<n xmlns='x'/>"))
                raise AssertionError("carol published")
            except IqError as e:
                assert e.condition == "forbidden"
            r = await b["xep_0030"].get_items(jid=SERVICE)
            assert "slix" in [i[1] for i in r["disco_items"]["items"]]
            await a["xep_0060"].delete_node(SERVICE, "slix")
            msg = await next_event(events)
            assert msg["pubsub_event"]["delete"]["node"] == "slix"
        finally:
            for cl in (a, b, c):
                await cl.close()
    run(body())


def test_slixmpp_pep_nick_and_avatar(server, passwords):
    mutual(server, "alice", "bob")

    async def body():
        a = await login(server, "alice", passwords["alice"])
        b = await login(server, "bob", passwords["bob"])
        nicks = asyncio.Queue()
        avatars = asyncio.Queue()
        try:
            for cl in (a, b):
                for p in ("xep_0060", "xep_0115", "xep_0163", "xep_0172",
                          "xep_0084"):
                    cl.register_plugin(p)
            b.add_event_handler("user_nick_publish", nicks.put_nowait)
            b.add_event_handler("avatar_metadata_publish",
                                avatars.put_nowait)
            # xep_0172/0084 registered their +notify interest in the caps.
            await b["xep_0115"].update_caps()
            b.send_presence()
            a.send_presence()
            # Wait until the server learnt bob's caps (it asks bob).
            for _ in range(50):
                r = server.ctl("--json", "caps", "%s" % b.boundjid.full)
                if '"known": true' in r.stdout:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("bob's caps never known")
            await a["xep_0172"].publish_nick("Alice in slix")
            msg = await next_event(nicks)
            assert msg["from"].bare == "alice@localhost"
            assert msg["pubsub_event"]["items"]["item"]["nick"]["nick"] == \
                "Alice in slix"
            await a["xep_0084"].publish_avatar_metadata(items=[{
                "id": "0123abcd", "type": "image/png", "bytes": 4}])
            msg = await next_event(avatars)
            info = msg["pubsub_event"]["items"]["item"]["avatar_metadata"]
            assert list(info["items"])[0]["id"] == "0123abcd"
            await a["xep_0084"].publish_avatar(b"\x89PNG")
            r = await b["xep_0084"].retrieve_avatar("alice@localhost",
                                                    "0123abcd")
            assert r["pubsub"]["items"]["item"] is not None
        finally:
            for cl in (a, b):
                await cl.close()
    run(body())
