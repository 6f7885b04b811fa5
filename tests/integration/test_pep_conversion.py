"""Conversions the server makes between an account's PEP nodes and its
older storage: XEP-0398 (XEP-0084 avatars <-> vcard-temp PHOTO, with the
XEP-0153 hash in presence), XEP-0411 and XEP-0402 section 6.3 (XEP-0048
bookmarks in XEP-0049 private storage <-> PEP 'storage:bookmarks' and
PEP native bookmarks 'urn:xmpp:bookmarks:1')."""

import base64
import hashlib

from rawxmpp import NS_CLIENT, q
from pubsublib import PS, PS_EVENT, client, disco_info, ok, ps, publish, \
    recv_event
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


def features(c, to):
    el = ok(disco_info(c, to))
    return {f.get("var") for f in el.iter(q("http://jabber.org/protocol/"
                                            "disco#info", "feature"))}


def vcard_of(c, jid):
    el = ok(c.iq("get", "<vCard xmlns='vcard-temp'/>", to=jid))
    return el.find(q(NS_VCARD, "vCard"))


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
        iq = await b["xep_0054"].get_vcard("alice@localhost", cached=False)
        v = iq["vcard_temp"]
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
    a.sync()
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
    a.sync()
    assert photo_of(vcard_of(b, "alice@localhost")) is None
    a.close()
    b.close()


def test_avatar_not_open_stays_off_the_vcard(server, passwords):
    # XEP-0398 section 7: copy from PEP to the (world-readable) vCard
    # "only if the access model ... has been set to 'open'".
    a = client(server, passwords, "alice")
    publish_avatar(a, options=None)
    a.sync()
    assert photo_of(vcard_of(a, "alice@localhost")) is None
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
    a.sync()
    assert photo_of(vcard_of(a, "alice@localhost")) is None
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
