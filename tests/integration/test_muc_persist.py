"""XEP-0045 persistent rooms across a restart, service limits, and rooms
used by several slixmpp clients (the xep_0045 plugin) at once."""

import asyncio
import json
import time

import slix
from rawxmpp import q, NS_DISCO_ITEMS, disco_features
from muclib import (Occ, codes, item, body, error, form_fields,
                          submit_form, NS_MUC_ADMIN, NS_MUC_OWNER, NS_DATA,
                          NS_DELAY)


def test_persistent_room_survives_restart(server, passwords):
    a = Occ(server, "alice", passwords["alice"])
    b = Occ(server, "bob", passwords["bob"])
    a.create("keep", "Alice", {"muc#roomconfig_persistentroom": "1",
                               "muc#roomconfig_roomname": "Kept",
                               "muc#roomconfig_moderatedroom": "1",
                               "muc#maxhistoryfetch": "3"})
    a.create("gone", "Alice")
    r = a.admin("keep", "<item jid='%s' affiliation='member'/>" % b.bare)
    assert r.get("type") == "result"
    r = a.admin("keep", "<item jid='carol@%s' affiliation='outcast'>"
                "<reason>no</reason></item>" % server.domain)
    assert r.get("type") == "result"
    a.send("<message to='%s' type='groupchat'><subject>Persisted</subject>"
           "</message>" % a.room("keep"))
    for i in range(5):
        a.say("keep", "h%d" % i)
    for i in range(5):
        a.recv_groupchat()
    a.close()
    b.close()
    time.sleep(0.3)
    server.restart()

    b = Occ(server, "bob", passwords["bob"])
    try:
        items = b.iq("get", b.domain, "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
        listed = {i.get("jid"): i.get("name")
                  for i in items.iter(q(NS_DISCO_ITEMS, "item"))}
        assert listed == {b.room("keep"): "Kept"}
        feats = disco_features(b.c.disco_info(b.room("keep")))
        assert {"muc_persistent", "muc_moderated"} <= feats
        # Bob is still a member (so a participant in the moderated room),
        # the last 3 messages and the subject come back.
        p, _ = b.join("keep", "Bob")
        assert (item(p).get("affiliation"), item(p).get("role")) == \
            ("member", "participant")
        assert [body(m) for m in b.history] == ["h2", "h3", "h4"]
        assert all(m.find(q(NS_DELAY, "delay")) is not None
                   for m in b.history)
        assert b.subject == "Persisted"
        c = Occ(server, "carol", passwords["carol"])
        c.join_raw("keep", "Carol")
        assert error(c.recv_presence("keep")) == ("auth", "forbidden")
        c.close()
        a = Occ(server, "alice", passwords["alice"])
        p, _ = a.join("keep", "Alice")
        assert item(p).get("affiliation") == "owner"
        f = form_fields(a.owner_get("keep").find(q(NS_MUC_OWNER, "query"))
                        .find(q(NS_DATA, "x")))
        assert f["muc#roomconfig_roomname"] == ["Kept"]
        assert f["muc#maxhistoryfetch"] == ["3"]
        # The temporary room did not survive.
        assert error(a.c.disco_info(a.room("gone"))) == \
            ("cancel", "item-not-found")
        # Made temporary, it goes once empty, and stays gone on restart.
        r = a.owner_set("keep", submit_form(
            {"muc#roomconfig_persistentroom": "0"}))
        assert r.get("type") == "result"
        a.close()
        b.close()
        time.sleep(0.3)
        server.restart()
        rooms = json.loads(server.ctl_ok("--json", "muc-rooms").stdout)
        assert rooms == []
    finally:
        b.close()


def test_limits(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("muc", message_rate="1", message_burst="3",
                   max_rooms_per_user="1", max_occupants="2",
                   max_history="10")
    srv.start()
    a = Occ(srv, "alice", passwords["alice"])
    b = Occ(srv, "bob", passwords["bob"])
    c = Occ(srv, "carol", passwords["carol"])
    a.create("one", "Alice")
    # Rooms per user.
    a.join_raw("two", "Alice")
    assert error(a.recv_presence("two")) == ("wait", "resource-constraint")
    # Occupants per room (the service's cap).
    b.join("one", "Bob")
    c.join_raw("one", "Carol")
    assert error(c.recv_presence("one")) == ("cancel", "service-unavailable")
    r = a.owner_set("one", submit_form({"muc#maxhistoryfetch": "11"}))
    assert error(r) == ("modify", "not-acceptable")
    # Message rate: the burst passes, then an error, never a silent drop.
    ids = [b.say("one", "x%d" % i) for i in range(5)]
    errs = []
    for _ in range(5):
        m = b.recv_message(pred=lambda e: e.get("type") in
                           ("groupchat", "error") and
                           (e.get("type") == "error" or body(e)))
        if m.get("type") == "error":
            errs.append((m.get("id"), error(m)))
    assert len(errs) == 2
    assert all(e == ("wait", "resource-constraint") for _, e in errs)
    assert sorted(i for i, _ in errs) == sorted(ids[3:])
    for o in (a, b, c):
        o.close()
    time.sleep(0.3)


def test_create_rooms_admins_only(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("muc", create_rooms="admins")
    srv.start()
    a = Occ(srv, "alice", passwords["alice"])
    a.join_raw("nope", "Alice")
    assert error(a.recv_presence("nope")) == ("cancel", "not-allowed")
    a.close()
    time.sleep(0.3)


def test_create_rooms_local_default(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_host("other.test", modules=("disco", "presence", "roster"))
    srv.start()
    srv.adduser("dave@other.test", "dave-pw")
    d = Occ(srv, "dave", "dave-pw", host="other.test")
    # Accounts of another host may not create rooms here...
    d.join_raw("mine", "Dave")
    assert error(d.recv_presence("mine")) == ("cancel", "not-allowed")
    # ...but may join a room that exists.
    a = Occ(srv, "alice", passwords["alice"])
    a.create("open", "Alice")
    d.join("open", "Dave")
    a.close()
    d.close()
    time.sleep(0.3)


def test_slixmpp_clients(server, passwords):
    async def go():
        room = "slix@conference." + server.domain
        cl = [await slix.login(server, u, passwords[u])
              for u in ("alice", "bob", "carol")]
        try:
            for c in cl:
                c.register_plugin("xep_0045")
            got = {c.boundjid.bare: [] for c in cl}
            for c in cl:
                c.add_event_handler(
                    "groupchat_message",
                    lambda m, c=c: got[c.boundjid.bare].append(
                        (m["mucnick"], m["body"])))
            muc = [c.plugin["xep_0045"] for c in cl]
            await muc[0].join_muc_wait(room, "Alice", timeout=10)
            form = await muc[0].get_room_config(room)
            form["type"] = "submit"
            await muc[0].set_room_config(room, form)
            await muc[1].join_muc_wait(room, "Bob", timeout=10)
            await muc[2].join_muc_wait(room, "Carol", timeout=10)
            assert sorted(muc[0].get_roster(room)) == \
                ["Alice", "Bob", "Carol"]
            for i, c in enumerate(cl):
                c.send_message(mto=room, mbody="from %d" % i,
                               mtype="groupchat")
            for _ in range(50):
                if all(len(v) >= 3 for v in got.values()):
                    break
                await asyncio.sleep(0.1)
            for v in got.values():
                assert sorted(v) == [("Alice", "from 0"), ("Bob", "from 1"),
                                     ("Carol", "from 2")]
            await muc[0].set_affiliation(room, "member",
                                         jid=cl[1].boundjid.bare)
            members = await muc[0].get_affiliation_list(room, "member")
            assert members == [cl[1].boundjid.bare]
            await muc[0].set_role(room, "Carol", "none")
            for _ in range(50):
                if "Carol" not in muc[1].get_roster(room):
                    break
                await asyncio.sleep(0.1)
            assert sorted(muc[1].get_roster(room)) == ["Alice", "Bob"]
        finally:
            for c in cl:
                await c.close()
            # The server finishes the exits before the fixture stops it.
            await asyncio.sleep(0.3)
    slix.run(go())
