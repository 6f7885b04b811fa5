"""vcard-temp (XEP-0054) and vCard-based avatars (XEP-0153)."""

import base64
import hashlib

import pytest

from rawxmpp import NS_CLIENT, RawClient, q, stanza_error
from slix import login, run

NS_VCARD = "vcard-temp"
NS_UPDATE = "vcard-temp:x:update"

PNG = bytes(range(256)) * 3          # stands for the image: any bytes do
PNG_B64 = base64.encodebytes(PNG).decode()   # with line breaks, as clients do
PNG_SHA1 = hashlib.sha1(PNG).hexdigest()

ALICE = ("<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN>"
         "<NICKNAME>alice</NICKNAME></vCard>")
ALICE_PHOTO = ("<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><PHOTO>"
               "<TYPE>image/png</TYPE><BINVAL>%s</BINVAL></PHOTO></vCard>"
               % PNG_B64)


def logged_in(server, passwords, user="alice", resource=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def bye(c):
    """Close the stream and wait until the server has let the session go."""
    c.stream_end()
    try:
        c.wait_closed()
    finally:
        c.close()


def vcard_get(c, to=None):
    return c.iq("get", "<vCard xmlns='vcard-temp'/>", to=to)


def vcard_of(el):
    assert el.get("type") == "result", stanza_error(el)
    return el.find(q(NS_VCARD, "vCard"))


def text(vc, name):
    e = vc.find(q(NS_VCARD, name))
    return e.text if e is not None else None


def test_vcard_own_and_others(server, passwords):
    a = logged_in(server, passwords)
    # None yet: an empty vCard for its owner.
    vc = vcard_of(vcard_get(a))
    assert vc is not None and len(vc) == 0
    el = a.iq("set", ALICE)
    assert el.get("type") == "result", stanza_error(el)
    for to in (None, "alice@localhost"):
        el = vcard_get(a, to)
        assert text(vcard_of(el), "FN") == "Alice Liddell"
    # Someone else reads it; the answer comes from alice's bare JID.
    b = logged_in(server, passwords, "bob")
    el = vcard_get(b, "alice@localhost")
    assert el.get("from") == "alice@localhost"
    assert text(vcard_of(el), "NICKNAME") == "alice"
    # XEP-0054 1.3: no vCard and no account give the same error.
    assert stanza_error(vcard_get(b, "carol@localhost")) == (
        "cancel", "service-unavailable")
    assert stanza_error(vcard_get(b, "nobody@localhost")) == (
        "cancel", "service-unavailable")
    # Nobody changes someone else's vCard.
    el = b.iq("set", "<vCard xmlns='vcard-temp'><FN>Eve</FN></vCard>",
              to="alice@localhost")
    assert stanza_error(el) == ("auth", "forbidden")
    assert text(vcard_of(vcard_get(b, "alice@localhost")), "FN") == \
        "Alice Liddell"
    b.close()
    # An empty vCard removes it.
    assert a.iq("set", "<vCard xmlns='vcard-temp'/>").get("type") == "result"
    assert len(vcard_of(vcard_get(a))) == 0
    assert a.iq("set", ALICE).get("type") == "result"
    a.close()
    # Kept across a restart.
    server.restart()
    b = logged_in(server, passwords, "bob")
    vc = vcard_of(vcard_get(b, "alice@localhost"))
    assert text(vc, "FN") == "Alice Liddell"
    b.close()


def test_vcard_limits_and_bad_requests(server_factory, passwords):
    srv = server_factory(start=False)
    srv.add_module("vcard", max_size=2048)
    srv.start()
    a = logged_in(srv, passwords)
    el = a.iq("set", "<vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard>"
              % ("x" * 3000))
    assert stanza_error(el) == ("modify", "policy-violation")
    el = a.iq("set", "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>*not base64*"
              "</BINVAL></PHOTO></vCard>")
    assert stanza_error(el) == ("modify", "bad-request")
    # Nothing was stored.
    assert len(vcard_of(vcard_get(a))) == 0
    a.close()


def photo_of(presence):
    x = presence.find(q(NS_UPDATE, "x"))
    if x is None:
        return None
    p = x.find(q(NS_UPDATE, "photo"))
    return p.text or "" if p is not None else "<none>"


def test_avatar_hash_in_presence(server, passwords):
    a = logged_in(server, passwords, resource="r")
    b = logged_in(server, passwords, "bob", resource="r")
    b.presence()
    el = a.iq("set", ALICE_PHOTO)
    assert el.get("type") == "result", stanza_error(el)

    def is_pres(e):
        return (e.tag == q(NS_CLIENT, "presence") and e.get("type") is None
                and e.get("from", "").startswith("alice@"))
    # Directed presence without <x/>: the server adds the hash.
    a.send("<presence to='bob@localhost/r'/>")
    assert photo_of(b.recv(is_pres)) == PNG_SHA1
    # An empty <x/> (not ready) is filled in; an empty <photo/> ("no
    # avatar") is not touched (XEP-0398 section 4).
    a.send("<presence to='bob@localhost/r'><x xmlns='%s'/></presence>"
           % NS_UPDATE)
    assert photo_of(b.recv(is_pres)) == PNG_SHA1
    a.send("<presence to='bob@localhost/r'><x xmlns='%s'><photo/></x>"
           "</presence>" % NS_UPDATE)
    assert photo_of(b.recv(is_pres)) == ""
    # A hash of the client's own is left alone.
    a.send("<presence to='bob@localhost/r'><x xmlns='%s'><photo>abc</photo>"
           "</x></presence>" % NS_UPDATE)
    assert photo_of(b.recv(is_pres)) == "abc"
    a.close()
    # A later session learns the hash from the store.
    a = logged_in(server, passwords, resource="r2")
    a.send("<presence to='bob@localhost/r'/>")
    assert photo_of(b.recv(is_pres)) == PNG_SHA1
    # Without a photo in the vCard nothing is added.
    assert a.iq("set", ALICE).get("type") == "result"
    a.send("<presence to='bob@localhost/r'/>")
    assert photo_of(b.recv(is_pres)) is None
    bye(a)
    bye(b)


def test_avatar_broadcast_to_contact(server, passwords):
    if "presence" not in server.modules():
        pytest.skip("mod_presence not built")
    for u, c in (("alice", "bob"), ("bob", "alice")):
        r = server.ctl("roster-add", server.jid(u), server.jid(c),
                       "--subscription=both")
        if r.returncode != 0:
            pytest.skip("no roster-add command: %s" % r.stderr.strip())
    b = logged_in(server, passwords, "bob", resource="r")
    b.send("<iq type='get' id='ro'><query xmlns='jabber:iq:roster'/></iq>")
    b.presence()
    a = logged_in(server, passwords, resource="r")
    assert a.iq("set", ALICE_PHOTO).get("type") == "result"
    a.presence()
    is_pres = (lambda e: e.tag == q(NS_CLIENT, "presence") and
               e.get("from", "") == "alice@localhost/r" and
               e.get("type") is None)
    assert photo_of(b.recv(is_pres)) == PNG_SHA1
    bye(a)
    bye(b)


def test_vcard_slixmpp(server, passwords):
    async def body():
        a = await login(server, "alice", passwords["alice"])
        b = await login(server, "bob", passwords["bob"])
        try:
            for c in (a, b):
                c.register_plugin("xep_0054")
            vc = a["xep_0054"].make_vcard()
            vc["FN"] = "Alice Liddell"
            vc["NICKNAME"] = "alice"
            await a["xep_0054"].publish_vcard(vc, timeout=10)
            r = await b["xep_0054"].get_vcard("alice@localhost", local=False,
                                              timeout=10)
            assert r["vcard_temp"]["FN"] == "Alice Liddell"
            r = await a["xep_0054"].get_vcard("alice@localhost", local=False,
                                              timeout=10)
            assert r["vcard_temp"]["FN"] == "Alice Liddell"
            info = await b["xep_0030"].get_info(jid="localhost", timeout=10)
            assert "vcard-temp" in info["disco_info"]["features"]
        finally:
            await a.close()
            await b.close()
    run(body())


def _pipelined(c, requests):
    """Send every (id, xml) at once; the replies by id, in arrival order."""
    for id_, xml in requests:
        c.send(xml)
    got = []
    for _ in requests:
        got.append(c.recv(lambda e: e.tag == q(NS_CLIENT, "iq") and
                          e.get("type") in ("result", "error")))
    return got


def test_deferred_replies_addressed(server, passwords):
    """Replies that wait for storage carry the RFC 6120 8.1.2 addresses:
    to the sender's full JID, the request's id, from the address the iq
    was sent to, or from the sender's bare JID when it had no 'to'."""
    a = logged_in(server, passwords, resource="desk")
    b = logged_in(server, passwords, "bob", resource="lap")
    el = a.iq("set", ALICE, id_="set-1")
    assert el.get("type") == "result", stanza_error(el)
    assert (el.get("id"), el.get("to"), el.get("from")) == (
        "set-1", "alice@localhost/desk", "alice@localhost")
    # Several in flight at once: each answer finds its own request.
    got = _pipelined(a, [
        ("own-1", "<iq type='get' id='own-1'>"
                  "<vCard xmlns='vcard-temp'/></iq>"),
        ("own-2", "<iq type='get' id='own-2' to='alice@localhost'>"
                  "<vCard xmlns='vcard-temp'/></iq>"),
    ])
    assert sorted((e.get("id"), e.get("to"), e.get("from")) for e in got) \
        == [("own-1", "alice@localhost/desk", "alice@localhost"),
            ("own-2", "alice@localhost/desk", "alice@localhost")]
    for e in got:
        assert text(vcard_of(e), "FN") == "Alice Liddell"
    got = _pipelined(b, [
        ("b-1", "<iq type='get' id='b-1' to='alice@localhost'>"
                "<vCard xmlns='vcard-temp'/></iq>"),
        ("b-2", "<iq type='get' id='b-2' to='carol@localhost'>"
                "<vCard xmlns='vcard-temp'/></iq>"),
    ])
    by_id = {e.get("id"): e for e in got}
    assert by_id["b-1"].get("from") == "alice@localhost"
    assert by_id["b-1"].get("to") == "bob@localhost/lap"
    assert text(vcard_of(by_id["b-1"]), "NICKNAME") == "alice"
    # The error of a late answer is addressed the same way.
    assert by_id["b-2"].get("from") == "carol@localhost"
    assert by_id["b-2"].get("to") == "bob@localhost/lap"
    assert stanza_error(by_id["b-2"]) == ("cancel", "service-unavailable")
    a.close()
    b.close()
