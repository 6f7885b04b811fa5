"""Conversions the server makes between an account's PEP nodes and its
older storage: XEP-0398 (XEP-0084 avatars <-> vcard-temp PHOTO, with the
XEP-0153 hash in presence), XEP-0411 and XEP-0402 section 6.3 (XEP-0048
bookmarks in XEP-0049 private storage <-> PEP 'storage:bookmarks' and
PEP native bookmarks 'urn:xmpp:bookmarks:1')."""

import asyncio
import base64
import hashlib
import time

from slixmpp.exceptions import IqError

from rawxmpp import NS_CLIENT, q
from pubsublib import PS, PS_EVENT, PS_OWNER, client, disco_info, ok, ps, \
    publish, recv_event
from slix import login, run
from test_pep import mutual, with_caps

NS_VCARD = "vcard-temp"
NS_UPDATE = "vcard-temp:x:update"
AVATAR_DATA = "urn:xmpp:avatar:data"
AVATAR_META = "urn:xmpp:avatar:metadata"
CONVERSION = "urn:xmpp:pep-vcard-conversion:0"

IMAGE = bytes(range(256)) * 2 + b"ember"     # any bytes stand for a PNG
IMAGE_SHA1 = hashlib.sha1(IMAGE).hexdigest()
IMAGE_B64 = base64.b64encode(IMAGE).decode()
OPEN = {"pubsub#access_model": "open"}


def eventually(fn, timeout=5.0):
    """fn()'s first true value: the server converts after it has answered
    the write, so the copy shows up a little later."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def stays(fn, wait=1.0):
    """fn() stays true for `wait` seconds (a conversion that must not
    happen has had time to)."""
    deadline = time.time() + wait
    while time.time() < deadline:
        assert fn()
        time.sleep(0.05)
    return True


def features(c, to):
    el = ok(disco_info(c, to))
    return {f.get("var") for f in el.iter(q("http://jabber.org/protocol/"
                                            "disco#info", "feature"))}


def vcard_of(c, jid):
    el = ok(c.iq("get", "<vCard xmlns='vcard-temp'/>", to=jid))
    return el.find(q(NS_VCARD, "vCard"))


def photo_seen(c, jid):
    """The PHOTO of jid's vCard as read by c, None while there is none
    (no vCard at all is service-unavailable to others, XEP-0054 1.3)."""
    el = c.iq("get", "<vCard xmlns='vcard-temp'/>", to=jid)
    if el.get("type") != "result":
        return None
    return photo_of(el.find(q(NS_VCARD, "vCard")))


def photo_of(vcard):
    """(TYPE, decoded BINVAL) of a vCard, or None."""
    p = vcard.find(q(NS_VCARD, "PHOTO")) if vcard is not None else None
    if p is None:
        return None
    t = p.find(q(NS_VCARD, "TYPE"))
    b = p.find(q(NS_VCARD, "BINVAL"))
    return (t.text if t is not None else None,
            base64.b64decode(b.text or "") if b is not None else b"")


def hash_in(presence):
    x = presence.find(q(NS_UPDATE, "x"))
    if x is None:
        return None
    p = x.find(q(NS_UPDATE, "photo"))
    return None if p is None else (p.text or "")


def publish_avatar(c, options=OPEN, image=IMAGE, type_="image/png"):
    sha = hashlib.sha1(image).hexdigest()
    ok(publish(c, AVATAR_DATA, "<data xmlns='%s'>%s</data>"
               % (AVATAR_DATA, base64.b64encode(image).decode()), sha,
               to=None, options=options))
    meta = ("<metadata xmlns='%s'><info id='%s' bytes='%d' type='%s'"
            " url='https://example.org/a.png'/>"
            "<info id='%s' bytes='%d' type='%s'/></metadata>"
            % (AVATAR_META, "0" * 40, 99, "image/gif", sha, len(image),
               type_))
    ok(publish(c, AVATAR_META, meta, sha, to=None, options=options))


def test_feature_on_the_account(server, passwords):
    # XEP-0398 section 2: "The service MUST include a XEP-0030 feature of
    # 'urn:xmpp:pep-vcard-conversion:0' on the account."
    a = client(server, passwords, "alice")
    assert CONVERSION in features(a, "alice@localhost")
    # Any entity asking the account sees it, not only its owner.
    b = client(server, passwords, "bob")
    assert CONVERSION in features(b, "alice@localhost")
    a.close()
    b.close()


def test_pep_avatar_becomes_vcard_photo(server, passwords):
    """slixmpp publishes a XEP-0084 avatar; a stock vcard-temp client then
    reads it as the vCard PHOTO (XEP-0398 section 3.1)."""
    async def go():
        a = await login(server, "alice", passwords["alice"])
        b = await login(server, "bob", passwords["bob"])
        for c in (a, b):
            for p in ("xep_0004", "xep_0060", "xep_0163", "xep_0084",
                      "xep_0054"):
                c.register_plugin(p)
        form = a["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden",
                       value=PS + "#publish-options")
        form.add_field(var="pubsub#access_model", value="open")
        await a["xep_0084"].publish_avatar(IMAGE, options=form)
        await a["xep_0084"].publish_avatar_metadata(
            [{"id": IMAGE_SHA1, "type": "image/png", "bytes": len(IMAGE)}],
            options=form)
        # No vCard yet is service-unavailable (XEP-0054 1.3), until the
        # conversion has stored one.
        deadline = time.time() + 5
        while True:
            try:
                iq = await b["xep_0054"].get_vcard("alice@localhost",
                                                   cached=False)
            except IqError:
                if time.time() > deadline:
                    raise
                await asyncio.sleep(0.05)
                continue
            v = iq["vcard_temp"]
            if v["PHOTO"]["BINVAL"] or time.time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert v["PHOTO"]["TYPE"] == "image/png"
        assert v["PHOTO"]["BINVAL"] == IMAGE
        a.disconnect()
        b.disconnect()
    run(go())


def test_photo_hash_follows_pep_avatar(server, passwords):
    # XEP-0398 section 3.1: "MUST pick the info element that does not point
    # to an external URL"; section 4: the hash goes into presence, also
    # directed presence.
    a = client(server, passwords, "alice", resource="r")
    b = client(server, passwords, "bob", resource="r")
    ok(a.iq("set", "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>"))
    publish_avatar(a)
    assert eventually(lambda: photo_seen(b, "alice@localhost"))
    v = vcard_of(b, "alice@localhost")
    assert photo_of(v) == ("image/png", IMAGE)
    # What the vCard held before is kept.
    assert v.find(q(NS_VCARD, "FN")).text == "Alice"
    a.send("<presence to='bob@localhost/r'/>")
    pres = b.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                  e.get("from") == "alice@localhost/r")
    assert hash_in(pres) == IMAGE_SHA1
    # An empty <metadata/> disables the avatar: the PHOTO goes too.
    ok(publish(a, AVATAR_META, "<metadata xmlns='%s'/>" % AVATAR_META,
               "off", to=None))
    assert eventually(lambda: photo_of(vcard_of(b, "alice@localhost"))
                      is None)
    a.close()
    b.close()


def test_avatar_not_open_stays_off_the_vcard(server, passwords):
    # XEP-0398 section 7: copy from PEP to the (world-readable) vCard
    # "only if the access model ... has been set to 'open'".
    a = client(server, passwords, "alice")
    publish_avatar(a, options=None)
    assert stays(lambda: photo_of(vcard_of(a, "alice@localhost")) is None)
    a.close()


def test_image_must_match_its_id(server, passwords):
    # XEP-0398 section 3.1: "SHOULD verify that the SHA-1 hash of the image
    # matches the id".
    a = client(server, passwords, "alice")
    ok(publish(a, AVATAR_DATA, "<data xmlns='%s'>%s</data>"
               % (AVATAR_DATA, IMAGE_B64), "f" * 40, to=None, options=OPEN))
    ok(publish(a, AVATAR_META, "<metadata xmlns='%s'><info id='%s' "
               "bytes='%d' type='image/png'/></metadata>"
               % (AVATAR_META, "f" * 40, len(IMAGE)), "f" * 40, to=None,
               options=OPEN))
    assert stays(lambda: photo_of(vcard_of(a, "alice@localhost")) is None)
    a.close()


def test_vcard_photo_published_on_pep(server, passwords):
    # XEP-0398 section 3.2: "MUST first publish an item to the
    # 'urn:xmpp:avatar:data' node ... The id of that item MUST be the SHA-1
    # hash of the image ... Afterwards ... a new item to the
    # 'urn:xmpp:avatar:metadata' node with one info element ... using the
    # type value from the vCard"; subscribers SHOULD be notified.
    mutual(server, "alice", "bob")
    b = with_caps(server, passwords, "bob", [AVATAR_META])
    a = client(server, passwords, "alice")
    b.sync()
    ok(a.iq("set", "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/jpeg</TYPE>"
            "<BINVAL>%s</BINVAL></PHOTO></vCard>"
            % base64.encodebytes(IMAGE).decode()))
    ev = recv_event(b, node=AVATAR_META)
    assert ev.get("from") == "alice@localhost"
    item = ev.find(q(PS_EVENT, "event")).find(q(PS_EVENT, "items")).find(
        q(PS_EVENT, "item"))
    assert item.get("id") == IMAGE_SHA1
    infos = item.find(q(AVATAR_META, "metadata")).findall(
        q(AVATAR_META, "info"))
    assert [(i.get("id"), i.get("type"), i.get("bytes")) for i in infos] == \
        [(IMAGE_SHA1, "image/jpeg", str(len(IMAGE)))]
    el = ok(ps(b, "get", "<items node='%s'/>" % AVATAR_DATA,
               to="alice@localhost"))
    items = el.find(q(PS, "pubsub")).find(q(PS, "items")).findall(
        q(PS, "item"))
    assert [i.get("id") for i in items] == [IMAGE_SHA1]
    data = items[0].find(q(AVATAR_DATA, "data")).text
    assert base64.b64decode(data) == IMAGE
    a.close()
    b.close()


def test_empty_photo_element_untouched(server, passwords):
    # XEP-0398 section 4: the hash goes into "every available presence that
    # does not contain an empty photo element"; "Empty x elements ... MUST
    # be overwritten"; an empty <photo/> is left as sent.
    a = client(server, passwords, "alice", resource="r")
    b = client(server, passwords, "bob", resource="r")
    ok(a.iq("set", "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>"
            "<BINVAL>%s</BINVAL></PHOTO></vCard>" % IMAGE_B64))

    def is_pres(e):
        return (e.tag == q(NS_CLIENT, "presence") and
                e.get("from") == "alice@localhost/r")
    a.send("<presence to='bob@localhost/r'><x xmlns='%s'><photo/></x>"
           "</presence>" % NS_UPDATE)
    assert hash_in(b.recv(is_pres)) == ""
    a.send("<presence to='bob@localhost/r'><x xmlns='%s'/></presence>"
           % NS_UPDATE)
    assert hash_in(b.recv(is_pres)) == IMAGE_SHA1
    a.close()
    b.close()


# ---- bookmarks: XEP-0411 and XEP-0402 section 6.3 ----

NS_PRIVATE = "jabber:iq:private"
BM1 = "storage:bookmarks"
BM2 = "urn:xmpp:bookmarks:1"
BM_CONVERSION = "urn:xmpp:bookmarks-conversion:0"
BM2_OPTIONS = {"pubsub#persist_items": "true", "pubsub#max_items": "max",
               "pubsub#send_last_published_item": "never",
               "pubsub#access_model": "whitelist"}


def private_get(c):
    el = ok(c.iq("get", "<query xmlns='%s'><storage xmlns='%s'/></query>"
                 % (NS_PRIVATE, BM1)))
    return el.find(q(NS_PRIVATE, "query")).find(q(BM1, "storage"))


def private_set(c, inner):
    return ok(c.iq("set", "<query xmlns='%s'><storage xmlns='%s'>%s"
                   "</storage></query>" % (NS_PRIVATE, BM1, inner)))


def pep_items(c, node, owner="alice@localhost"):
    el = ps(c, "get", "<items node='%s'/>" % node, to=owner)
    if el.get("type") != "result":
        return el
    return el.find(q(PS, "pubsub")).find(q(PS, "items")).findall(
        q(PS, "item"))


def conferences(storage):
    """{jid: (name, autojoin, nick)} of a XEP-0048 <storage/>."""
    out = {}
    for c in storage.findall(q(BM1, "conference")):
        n = c.find(q(BM1, "nick"))
        out[c.get("jid")] = (c.get("name"), c.get("autojoin") in
                             ("true", "1"), n.text if n is not None else None)
    return out


def native(items):
    """{id: (name, autojoin, nick)} of urn:xmpp:bookmarks:1 items."""
    out = {}
    for it in items:
        c = it.find(q(BM2, "conference"))
        n = c.find(q(BM2, "nick"))
        out[it.get("id")] = (c.get("name"), c.get("autojoin") in
                             ("true", "1"), n.text if n is not None else None)
    return out


def test_bookmark_features_on_the_account(server, passwords):
    # XEP-0411 section 2: "MUST include a XEP-0030 feature of
    # 'urn:xmpp:bookmarks-conversion:0' on the account"; XEP-0402 section
    # 6.3: "SHOULD announce the '...#compat' feature on the account", and
    # '#compat-pep' for XEP-0223 bookmarks.
    a = client(server, passwords, "alice")
    f = features(a, "alice@localhost")
    assert {BM_CONVERSION, BM2 + "#compat", BM2 + "#compat-pep"} <= f
    a.close()


def test_private_bookmarks_appear_on_pep(server, passwords):
    """slixmpp stores XEP-0048 bookmarks in private storage (its default);
    a second client of the user sees them as PEP native bookmarks and as
    the 'storage:bookmarks' node, and is notified (XEP-0411 section 4:
    "When a legacy client modifies bookmarks over Private XML the service
    MUST send out notification messages to all subscribers of the
    'storage:bookmarks' node")."""
    watcher = with_caps(server, passwords, "alice", [BM1, BM2],
                        resource="watch")

    async def go():
        a = await login(server, "alice", passwords["alice"], resource="old")
        for p in ("xep_0004", "xep_0049", "xep_0060", "xep_0163",
                  "xep_0223", "xep_0048"):
            a.register_plugin(p)
        from slixmpp.plugins.xep_0048 import Bookmarks
        bm = Bookmarks()
        bm.add_conference("council@conference.localhost", "Puck",
                          name="Council of Oberon", autojoin=True)
        bm.add_conference("orchard@conference.localhost", "JC",
                          name="Orchard")
        bm.add_url("https://example.org/", name="Example")
        await a["xep_0048"].set_bookmarks(bm)
        a.disconnect()
    run(go())
    ev = recv_event(watcher, node=BM1)
    assert ev.get("from") == "alice@localhost"
    got = {}
    while len(got) < 2:
        ev = recv_event(watcher, node=BM2)
        for it in ev.find(q(PS_EVENT, "event")).find(
                q(PS_EVENT, "items")).findall(q(PS_EVENT, "item")):
            got[it.get("id")] = it.find(q(BM2, "conference")).get("name")
    assert got == {"council@conference.localhost": "Council of Oberon",
                   "orchard@conference.localhost": "Orchard"}
    assert eventually(lambda: len(pep_items(watcher, BM2)) == 2)
    assert native(pep_items(watcher, BM2)) == {
        "council@conference.localhost": ("Council of Oberon", True, "Puck"),
        "orchard@conference.localhost": ("Orchard", False, "JC")}
    [cur] = pep_items(watcher, BM1)
    assert cur.get("id") == "current"
    assert conferences(cur.find(q(BM1, "storage"))) == conferences(
        private_get(watcher))
    # Only the user reads them (XEP-0411 section 5).
    b = client(server, passwords, "bob")
    for node in (BM1, BM2):
        el = pep_items(b, node)
        assert not isinstance(el, list) and el.get("type") == "error"
    b.close()
    watcher.close()


def test_native_bookmarks_reach_private_storage(server, passwords):
    # XEP-0411 section 3: "MUST support conversion from PEP to Private XML
    # and vice versa"; XEP-0402 section 6.3.1: collate the items into
    # 'storage:bookmarks' "setting the jid attribute to the item id".
    a = client(server, passwords, "alice")
    private_set(a, "<url name='Ex' url='https://example.org/'/>")
    ok(publish(a, BM2, "<conference xmlns='%s' name='The Play' "
               "autojoin='1'><nick>JC</nick><extensions><state xmlns="
               "'urn:example' minimized='true'/></extensions></conference>"
               % BM2, "theplay@conference.localhost", to=None,
               options=BM2_OPTIONS))
    assert eventually(lambda: pep_items(a, BM1) and
                      conferences(private_get(a)))
    st = private_get(a)
    assert conferences(st) == {
        "theplay@conference.localhost": ("The Play", True, "JC")}
    # The <url/> XEP-0402 has no place for stays in private storage.
    assert st.find(q(BM1, "url")).get("url") == "https://example.org/"
    [cur] = pep_items(a, BM1)
    assert conferences(cur.find(q(BM1, "storage"))) == conferences(st)
    # Retracting the native bookmark removes it from the old views.
    ok(ps(a, "set", "<retract node='%s' notify='true'><item id='%s'/>"
          "</retract>" % (BM2, "theplay@conference.localhost"),
          to="alice@localhost"))
    assert eventually(lambda: conferences(private_get(a)) == {})
    # An edit by a legacy client keeps what it does not know about:
    # unknown elements ride along into <extensions/>.
    private_set(a, "<conference jid='theplay@conference.localhost' "
                "name='The Play'><nick>JC</nick><state xmlns='urn:example'"
                " minimized='true'/></conference>")
    assert eventually(lambda: len(pep_items(a, BM2)) == 1)
    [it] = pep_items(a, BM2)
    ext = it.find(q(BM2, "conference")).find(q(BM2, "extensions"))
    assert ext.find(q("urn:example", "state")).get("minimized") == "true"
    a.close()


def test_pep_storage_bookmarks_converted(server, passwords):
    # XEP-0411: PEP 'storage:bookmarks' to private XML; XEP-0402 '#compat-
    # pep': and to the native bookmarks.
    a = client(server, passwords, "alice")
    ok(publish(a, BM1, "<storage xmlns='%s'><conference jid='a@conference."
               "localhost' autojoin='true' name='A'><nick>al</nick>"
               "</conference></storage>" % BM1, "current", to=None,
               options={"pubsub#access_model": "whitelist"}))
    assert eventually(lambda: conferences(private_get(a)))
    assert eventually(lambda: not isinstance(pep_items(a, BM2), list) or
                      len(pep_items(a, BM2)) == 1)
    assert conferences(private_get(a)) == {
        "a@conference.localhost": ("A", True, "al")}
    assert native(pep_items(a, BM2)) == {
        "a@conference.localhost": ("A", True, "al")}
    a.close()


def test_unchanged_bookmarks_not_notified(server, passwords):
    # XEP-0402 section 6.3.2: "SHOULD NOT send notifications for unchanged
    # items."
    w = with_caps(server, passwords, "alice", [BM2], resource="w")
    a = client(server, passwords, "alice", resource="old")
    room = ("<conference jid='r@conference.localhost' name='R' "
            "autojoin='true'><nick>n</nick></conference>")
    private_set(a, room)
    recv_event(w, node=BM2)
    private_set(a, room + "<conference jid='s@conference.localhost'/>")
    ev = recv_event(w, node=BM2)
    ids = [i.get("id") for i in ev.find(q(PS_EVENT, "event")).find(
        q(PS_EVENT, "items"))]
    assert ids == ["s@conference.localhost"]
    # Dropping a room from private storage retracts it.
    private_set(a, room)
    ev = recv_event(w, node=BM2)
    r = ev.find(q(PS_EVENT, "event")).find(q(PS_EVENT, "items")).find(
        q(PS_EVENT, "retract"))
    assert r.get("id") == "s@conference.localhost"
    a.close()
    w.close()


def test_open_bookmark_node_left_alone(server, passwords):
    # XEP-0411 section 5: the copy "MUST make [sure] that the user is the
    # only one who has access to that node ... either changing the access
    # model accordingly or not doing the conversion".
    a = client(server, passwords, "alice")
    ok(publish(a, BM2, "<conference xmlns='%s'/>" % BM2,
               "x@conference.localhost", to=None,
               options={"pubsub#access_model": "open"}))
    private_set(a, "<conference jid='y@conference.localhost'/>")
    assert stays(lambda: set(native(pep_items(a, BM2))) ==
                 {"x@conference.localhost"})
    a.close()


def test_hash_injected_into_muc_join(server, passwords):
    # XEP-0398 section 4: "The hash MUST also be injected into directed
    # presences such as MUC joins".
    from muclib import Occ
    a = Occ(server, "alice", passwords["alice"])
    b = Occ(server, "bob", passwords["bob"])
    a.c.sync()
    publish_avatar(a.c)
    assert eventually(lambda: photo_seen(b.c, "alice@localhost"))
    b.create("tea", "bob")
    a.join("tea", "alice")
    p = b.c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
                 e.get("from") == b.room("tea") + "/alice")
    assert hash_in(p) == IMAGE_SHA1


def test_private_bookmarks_copied_at_login(server, passwords):
    # XEP-0411 section 5: "the server should make sure that the data gets
    # copied from Private XML to PEP before the user logs in for the first
    # time" -- here: bookmarks private storage has while PEP has no native
    # node (deleted by a client) reach PEP when a session binds.
    a = client(server, passwords, "alice")
    private_set(a, "<conference jid='m@conference.localhost' name='M'/>")
    assert eventually(lambda: isinstance(pep_items(a, BM2), list))
    ok(ps(a, "set", "<delete node='%s'/>" % BM2, to="alice@localhost",
          ns=PS_OWNER))
    assert not isinstance(pep_items(a, BM2), list)
    a.close()
    a = client(server, passwords, "alice")
    assert eventually(lambda: isinstance(pep_items(a, BM2), list))
    assert native(pep_items(a, BM2)) == {
        "m@conference.localhost": ("M", False, None)}
    a.close()
