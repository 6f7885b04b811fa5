"""Entity Capabilities (XEP-0115): the server's caps in stream features,
and client caps verified once per verification string."""

import asyncio
import base64
import hashlib
import json

from rawxmpp import (NS_CLIENT, NS_DISCO_INFO, RawClient, q, stanza_error)
from slix import login, run

NS_CAPS = "http://jabber.org/protocol/caps"
NS_XDATA = "jabber:x:data"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

NODE = "https://client.example/caps"
FEATURES = ["http://jabber.org/protocol/caps",
            "http://jabber.org/protocol/disco#info",
            "urn:xmpp:ping", "urn:xmpp:mood+notify"]


def verstring(query):
    """XEP-0115 section 5.1 over a disco#info <query/> element."""
    ids = sorted("%s/%s/%s/%s" % (i.get("category"), i.get("type"),
                                  i.get(XML_LANG) or "", i.get("name") or "")
                 for i in query.findall(q(NS_DISCO_INFO, "identity")))
    feats = sorted(f.get("var")
                   for f in query.findall(q(NS_DISCO_INFO, "feature")))
    s = "".join(x + "<" for x in ids + feats)
    forms = {}
    for x in query.findall(q(NS_XDATA, "x")):
        fields = {}
        for f in x.findall(q(NS_XDATA, "field")):
            fields[f.get("var")] = sorted(v.text or "" for v in
                                          f.findall(q(NS_XDATA, "value")))
        forms[fields.pop("FORM_TYPE")[0]] = fields
    for ft in sorted(forms):
        s += ft + "<"
        for var in sorted(forms[ft]):
            s += var + "<" + "".join(v + "<" for v in forms[ft][var])
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def info_xml(features, name="Test 1.0", extra=""):
    return ("<query xmlns='%s'%%s><identity category='client' type='pc' "
            "name='%s'/>%s%s</query>"
            % (NS_DISCO_INFO, name,
               "".join("<feature var='%s'/>" % f for f in features), extra))


def ver_of(features, name="Test 1.0", extra=""):
    import xml.etree.ElementTree as ET
    return verstring(ET.fromstring(info_xml(features, name, extra) % ""))


def logged_in(server, passwords, user="alice", resource=None):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    return c


def send_caps(c, ver, node=NODE, hash_="sha-1"):
    c.send("<presence><c xmlns='%s' hash='%s' node='%s' ver='%s'/>"
           "</presence>" % (NS_CAPS, hash_, node, ver))


def is_caps_query(e):
    qe = e.find(q(NS_DISCO_INFO, "query"))
    return (e.tag == q(NS_CLIENT, "iq") and e.get("type") == "get" and
            qe is not None)


def answer(c, query_iq, body):
    node = query_iq.find(q(NS_DISCO_INFO, "query")).get("node")
    c.send("<iq type='result' id='%s' to='%s'>%s</iq>"
           % (query_iq.get("id"), query_iq.get("from"),
              body % (" node='%s'" % node)))
    c.sync()


def no_query(c, wait=1.0):
    try:
        el = c.recv(is_caps_query, timeout=wait)
    except TimeoutError:
        return True
    raise AssertionError("unexpected caps query: %s" % el)


def caps_of(srv, jid):
    r = srv.ctl_ok("--json", "caps", jid)
    return json.loads(r.stdout)


# ---- the server's own caps ----

def test_verstring_helper():
    # The test's own algorithm against XEP-0115's example 1.
    import xml.etree.ElementTree as ET
    el = ET.fromstring(
        "<query xmlns='%s'><identity category='client' type='pc' "
        "name='Exodus 0.9.1'/><feature var='http://jabber.org/protocol/caps'"
        "/><feature var='http://jabber.org/protocol/disco#info'/><feature "
        "var='http://jabber.org/protocol/disco#items'/><feature "
        "var='http://jabber.org/protocol/muc'/></query>" % NS_DISCO_INFO)
    assert verstring(el) == "QgayPKawpkPSDYmwT/WM94uAlu0="


def test_server_caps_in_stream_features(server, passwords):
    c = logged_in(server, passwords)
    cap = c.features.find(q(NS_CAPS, "c"))
    assert cap is not None, "no caps in stream features"
    assert cap.get("hash") == "sha-1"
    node, ver = cap.get("node"), cap.get("ver")
    assert node and ver
    # The node#ver disco#info is what the string was made of.
    el = c.iq("get", "<query xmlns='%s' node='%s#%s'/>"
              % (NS_DISCO_INFO, node, ver), to="localhost")
    assert el.get("type") == "result", stanza_error(el)
    qe = el.find(q(NS_DISCO_INFO, "query"))
    assert qe.get("node") == "%s#%s" % (node, ver)
    assert verstring(qe) == ver
    feats = {f.get("var") for f in qe.findall(q(NS_DISCO_INFO, "feature"))}
    assert NS_CAPS in feats and "vcard-temp" in feats
    # ... and the same features as the plain disco#info.
    plain = c.disco_info().find(q(NS_DISCO_INFO, "query"))
    assert feats == {f.get("var") for f in
                     plain.findall(q(NS_DISCO_INFO, "feature"))}
    # Another string is not a node of the server.
    el = c.iq("get", "<query xmlns='%s' node='%s#bogus='/>"
              % (NS_DISCO_INFO, node), to="localhost")
    assert stanza_error(el)[1] == "item-not-found"
    c.close()

    # slixmpp checks the server's caps itself and caches them.
    async def body():
        cl = await login(server, "bob", passwords["bob"])
        try:
            cl.register_plugin("xep_0115")
            cl.event("entity_caps", _features_presence(cl, cap))
            for _ in range(50):
                if await cl["xep_0115"].get_caps(verstring=ver) is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("slixmpp did not validate %s" % ver)
        finally:
            await cl.close()
    run(body())


def _features_presence(cl, cap):
    """The stream feature, as slixmpp's own handler would pass it on."""
    p = cl.Presence()
    p["from"] = "localhost"
    p["caps"]["hash"] = cap.get("hash")
    p["caps"]["node"] = cap.get("node")
    p["caps"]["ver"] = cap.get("ver")
    return p


# ---- clients' caps ----

def test_client_caps_queried_once(server, passwords):
    ver = ver_of(FEATURES)
    a = logged_in(server, passwords, resource="a")
    send_caps(a, ver)
    query = a.recv(is_caps_query)
    assert query.get("from") == "localhost"
    assert query.find(q(NS_DISCO_INFO, "query")).get("node") == \
        "%s#%s" % (NODE, ver)
    answer(a, query, info_xml(FEATURES))
    st = caps_of(server, "alice@localhost/a")
    assert st["known"] is True and st["ver"] == ver
    assert st["features"] == sorted(FEATURES)
    # The same presence again asks nothing.
    send_caps(a, ver)
    assert no_query(a, 0.5)
    # A second client with the same string is not asked.
    b = logged_in(server, passwords, "bob", resource="b")
    send_caps(b, ver)
    assert no_query(b)
    st = caps_of(server, "bob@localhost/b")
    assert st["known"] is True and "urn:xmpp:mood+notify" in st["features"]
    # A session without caps has nothing known.
    c = logged_in(server, passwords, "carol", resource="c")
    c.presence()
    c.sync()
    assert caps_of(server, "carol@localhost/c")["known"] is False
    for x in (a, b, c):
        x.close()
    # The cache survives a restart.
    server.restart()
    c = logged_in(server, passwords, "carol", resource="c")
    send_caps(c, ver)
    assert no_query(c)
    assert caps_of(server, "carol@localhost/c")["known"] is True
    c.close()


def test_lying_client_not_cached(server, passwords):
    ver = ver_of(FEATURES)
    a = logged_in(server, passwords, resource="a")
    send_caps(a, ver)
    query = a.recv(is_caps_query)
    # Features that do not hash to the string announced.
    answer(a, query, info_xml(FEATURES + ["urn:example:evil"]))
    assert caps_of(server, "alice@localhost/a")["known"] is False
    # So the next client with that string is asked again.
    b = logged_in(server, passwords, "bob", resource="b")
    send_caps(b, ver)
    query = b.recv(is_caps_query)
    answer(b, query, info_xml(FEATURES))
    assert caps_of(server, "bob@localhost/b")["known"] is True
    # Duplicate features make an answer ill-formed even when it hashes.
    dup = FEATURES + ["urn:xmpp:ping"]
    c = logged_in(server, passwords, "carol", resource="c")
    send_caps(c, ver_of(dup))
    answer(c, c.recv(is_caps_query), info_xml(dup))
    assert caps_of(server, "carol@localhost/c")["known"] is False
    for x in (a, b, c):
        x.close()


def test_second_announcer_asked_when_first_lies(server, passwords):
    feats = FEATURES + ["urn:example:second"]
    ver = ver_of(feats)
    a = logged_in(server, passwords, resource="a")
    b = logged_in(server, passwords, "bob", resource="b")
    send_caps(a, ver)
    qa = a.recv(is_caps_query)
    # While alice is being asked, bob announces the same string: he waits.
    send_caps(b, ver)
    assert no_query(b, 0.5)
    answer(a, qa, info_xml(FEATURES))          # wrong
    qb = b.recv(is_caps_query)
    answer(b, qb, info_xml(feats))             # right
    for jid in ("bob@localhost/b", "alice@localhost/a"):
        st = caps_of(server, jid)
        assert st["known"] is True and "urn:example:second" in st["features"]
    a.close()
    b.close()


def test_extended_forms_and_languages(server, passwords):
    # XEP-0115 section 5.3: identities in two languages and a form.
    psi = ("<query xmlns='%s'%%s>"
           "<identity xml:lang='en' category='client' name='Psi 0.11' "
           "type='pc'/><identity xml:lang='el' category='client' "
           "name='\u03a8 0.11' type='pc'/>"
           "<feature var='http://jabber.org/protocol/caps'/>"
           "<feature var='http://jabber.org/protocol/disco#info'/>"
           "<feature var='http://jabber.org/protocol/disco#items'/>"
           "<feature var='http://jabber.org/protocol/muc'/>"
           "<x xmlns='jabber:x:data' type='result'>"
           "<field var='FORM_TYPE' type='hidden'>"
           "<value>urn:xmpp:dataforms:softwareinfo</value></field>"
           "<field var='ip_version' type='text-multi'><value>ipv4</value>"
           "<value>ipv6</value></field>"
           "<field var='os'><value>Mac</value></field>"
           "<field var='os_version'><value>10.5.1</value></field>"
           "<field var='software'><value>Psi</value></field>"
           "<field var='software_version'><value>0.11</value></field>"
           "</x></query>" % NS_DISCO_INFO)
    ver = "q07IKJEyjvHSyhy//CH0CxmKi8w="
    a = logged_in(server, passwords, resource="psi")
    send_caps(a, ver, node="http://psi-im.org")
    answer(a, a.recv(is_caps_query), psi)
    st = caps_of(server, "alice@localhost/psi")
    assert st["known"] is True
    assert "http://jabber.org/protocol/muc" in st["features"]
    a.close()


def test_slixmpp_client_caps(server, passwords):
    async def body():
        cl = await login(server, "alice", passwords["alice"],
                         resource="slix")
        try:
            cl.register_plugin("xep_0115")
            cl["xep_0030"].add_feature("urn:example:slix")
            await cl["xep_0115"].update_caps(broadcast=False)
            cl.send_presence()
            for _ in range(50):
                st = caps_of(server, "alice@localhost/slix")
                if st["known"]:
                    break
                await asyncio.sleep(0.1)
            assert st["known"] is True, st
            assert "urn:example:slix" in st["features"]
        finally:
            await cl.close()
    run(body())


def test_unknown_hash_function_not_cached(server, passwords):
    # md5 is not checked: each session is asked, for itself only.
    a = logged_in(server, passwords, resource="a")
    send_caps(a, "whatever", hash_="md5")
    answer(a, a.recv(is_caps_query), info_xml(FEATURES))
    st = caps_of(server, "alice@localhost/a")
    assert st["known"] is True and st["hash"] == "md5"
    b = logged_in(server, passwords, "bob", resource="b")
    send_caps(b, "whatever", hash_="md5")
    answer(b, b.recv(is_caps_query), info_xml(["urn:example:other"]))
    assert caps_of(server, "bob@localhost/b")["features"] == \
        ["urn:example:other"]
    # Legacy caps (no hash) are ignored.
    c = logged_in(server, passwords, "carol", resource="c")
    c.send("<presence><c xmlns='%s' node='%s' ver='1.0'/></presence>"
           % (NS_CAPS, NODE))
    assert no_query(c, 0.5)
    assert caps_of(server, "carol@localhost/c")["known"] is False
    for x in (a, b, c):
        x.close()
