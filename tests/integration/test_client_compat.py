"""What real clients read that the RFCs leave to tradition (issue 14):
XEP-0086 legacy error codes, the server's disco identity name.
"""

import xml.etree.ElementTree as ET

from rawxmpp import (NS_CLIENT, NS_DISCO_INFO, NS_STANZAS, RawClient, q,
                     stanza_error)

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
DEVICELIST = "eu.siacs.conversations.axolotl.devicelist"


def error_el(reply):
    return reply.find(q(NS_CLIENT, "error"))


def test_item_not_found_carries_code_404(server, passwords):
    """Profanity 0.13 asks for its own OMEMO device list on a fresh
    account and publishes its first one only on an error with code 404
    (XEP-0086, which ejabberd follows)."""
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login("alice", passwords["alice"])
    r = c.iq("get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
             % (NS_PUBSUB, DEVICELIST), to="alice@localhost")
    assert r.get("type") == "error"
    assert stanza_error(r)[1] == "item-not-found"
    assert error_el(r).get("code") == "404"
    assert error_el(r).get("type") == "cancel"
    c.close()


def test_legacy_codes_follow_xep_0086(server, passwords):
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login("alice", passwords["alice"])
    # service-unavailable: 503; feature-not-implemented or bad-request for
    # what the server does not take from a client.
    r = c.iq("get", "<query xmlns='urn:example:nothing'/>", to="localhost")
    assert stanza_error(r)[1] == "service-unavailable"
    assert error_el(r).get("code") == "503"
    r = c.iq("get", "<query xmlns='jabber:iq:version'/>",
             to="nobody@localhost/x")
    cond = stanza_error(r)[1]
    codes = {"service-unavailable": "503", "item-not-found": "404",
             "recipient-unavailable": "404"}
    assert error_el(r).get("code") == codes[cond], cond
    # policy-violation came after XEP-0086: no code is made up for it.
    c.close()


def identity_names(reply):
    query = reply.find(q(NS_DISCO_INFO, "query"))
    return [(i.get("category"), i.get("type"), i.get("name"))
            for i in query.findall(q(NS_DISCO_INFO, "identity"))]


def test_server_identity_has_the_servers_name(server_factory, passwords):
    srv = server_factory(start=False)
    srv.start()
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    assert ("server", "im", "Ember") in identity_names(c.disco_info())
    c.close()
    srv.stop()
    srv.module("disco").set("server-name", "Chat of Example Org")
    srv.start()
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    assert ("server", "im", "Chat of Example Org") in \
        identity_names(c.disco_info())
    c.close()


def test_an_option_may_not_be_called_name(server_factory, tmp_path):
    """<module name="x" name="..."> cannot exist: an option called name
    read the module's own name (the server's identity was "disco")."""
    import subprocess
    from harness import MODULES
    src = tmp_path / "named.c"
    src.write_text(
        '#include <ember/plugin.h>\n'
        'typedef struct { char *name; } c_t;\n'
        'static const ember_option_t opts[] = {\n'
        '  EMBER_OPT("name", EMBER_OPT_STRING, c_t, name, "x", 0, 9, "n"),\n'
        '  EMBER_OPT_END };\n'
        'static int ld(ember_module_t *m, const ember_api_t *a) '
        '{ return 0; }\n'
        'EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {\n'
        '  EMBER_MODULE_HEADER, .name = "named", .version = "1",\n'
        '  .conf_size = sizeof(c_t), .options = opts, .load = ld };\n')
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    repo = MODULES.parent.parent
    subprocess.run(["cc", "-shared", "-fPIC", "-I", str(repo / "plugin-api"),
                    "-o", str(plugdir / "mod_named.so"), str(src)],
                   check=True)
    srv = server_factory(start=False)
    srv.cfg.insert(0, ET.Element("plugins", dir=str(plugdir)))
    srv.add_module("named")
    srv.save()
    r = srv.ctl("check")
    assert r.returncode != 0
    assert "may not be called 'name'" in r.stdout + r.stderr


def test_contact_addresses_xep_0157(server_factory, passwords):
    """XEP-0157 addresses from the config, in disco#info as a serverinfo
    form, and in the server's entity-capabilities hash (XEP-0115 5.4)."""
    from test_caps import verstring, NS_CAPS
    NS_XDATA = "jabber:x:data"
    srv = server_factory(start=False)
    d = srv.module("disco")
    d.set("admin-addresses", "mailto:admin@example.org xmpp:admin@localhost")
    d.set("abuse-addresses", "mailto:abuse@example.org")
    srv.start()
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("alice", passwords["alice"])
    query = c.disco_info().find(q(NS_DISCO_INFO, "query"))
    forms = {}
    for x in query.findall(q(NS_XDATA, "x")):
        fields = {f.get("var"): [v.text for v in f.findall(q(NS_XDATA,
                                                               "value"))]
                  for f in x.findall(q(NS_XDATA, "field"))}
        forms[fields["FORM_TYPE"][0]] = fields
    info = forms["http://jabber.org/network/serverinfo"]
    assert info["admin-addresses"] == ["mailto:admin@example.org",
                                       "xmpp:admin@localhost"]
    assert info["abuse-addresses"] == ["mailto:abuse@example.org"]
    assert "support-addresses" not in info
    cap = c.features.find(q(NS_CAPS, "c"))
    assert cap.get("ver") == verstring(query)
    c.close()


def test_publish_options_above_the_item_limit(server, passwords):
    """Converse.js publishes its bookmarks with publish-options
    pubsub#max_items=9999, above PEP's limit (1000): the node keeps as
    many items as the service allows instead of failing the
    precondition ('Error while trying to update bookmarks')."""
    NS_PUBSUB = "http://jabber.org/protocol/pubsub"
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login("alice", passwords["alice"])
    pub = ("<pubsub xmlns='%s'><publish node='storage:bookmarks'>"
           "<item id='current'><storage xmlns='storage:bookmarks'/></item>"
           "</publish><publish-options><x xmlns='jabber:x:data' "
           "type='submit'><field var='FORM_TYPE' type='hidden'><value>"
           "http://jabber.org/protocol/pubsub#publish-options</value>"
           "</field><field var='pubsub#persist_items'><value>true</value>"
           "</field><field var='pubsub#max_items'><value>9999</value>"
           "</field><field var='pubsub#access_model'><value>whitelist"
           "</value></field></x></publish-options></pubsub>" % NS_PUBSUB)
    for _ in range(2):     # creates the node, then matches it
        r = c.iq("set", pub, to="alice@localhost")
        assert r.get("type") == "result", ET.tostring(r)
    c.close()
