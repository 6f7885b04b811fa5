"""Helpers shared by test_pubsub*.py and test_pep*.py (raw XML clients); no
tests of its own."""

from rawxmpp import NS_CLIENT, NS_DISCO_INFO, RawClient, q, stanza_error

PS = "http://jabber.org/protocol/pubsub"
PS_OWNER = PS + "#owner"
PS_EVENT = PS + "#event"
PS_ERRORS = PS + "#errors"
XDATA = "jabber:x:data"
NS_CAPS = "http://jabber.org/protocol/caps"
SERVICE = "pubsub.localhost"


def client(server, passwords, user, resource=None, presence=True):
    """A logged-in raw client; available (messages to the bare JID reach
    it) unless presence is False."""
    c = RawClient(server.c2s_port, domain=server.domain)
    c.login(user, passwords[user], resource=resource)
    if presence:
        c.presence()
        c.sync()
    return c


def ps(c, type_, body, to=SERVICE, ns=PS, extra=""):
    return c.iq(type_, "<pubsub xmlns='%s'>%s</pubsub>%s" % (ns, body, extra),
                to=to)


def ok(el):
    assert el.get("type") == "result", (stanza_error(el), el)
    return el


def err(el):
    """(condition, pubsub#errors condition or None) of an error iq."""
    e = stanza_error(el)
    assert e is not None, "expected an error"
    app = None
    er = el.find(q(NS_CLIENT, "error"))
    for ch in er:
        if ch.tag.startswith("{%s}" % PS_ERRORS):
            app = ch.tag.split("}")[1]
    return e[1], app


def form(ftype, fields, type_="submit"):
    out = "<x xmlns='%s' type='%s'>" % (XDATA, type_)
    out += ("<field var='FORM_TYPE' type='hidden'><value>%s</value></field>"
            % ftype)
    for var, val in fields.items():
        vals = val if isinstance(val, list) else [val]
        out += "<field var='%s'>%s</field>" % (
            var, "".join("<value>%s</value>" % v for v in vals))
    return out + "</x>"


def node_config(fields):
    return form(PS + "#node_config", fields)


def publish_options(fields):
    return ("<publish-options>%s</publish-options>"
            % form(PS + "#publish-options", fields))


def publish(c, node, payload, id_=None, to=SERVICE, options=None):
    item = "<item%s>%s</item>" % (" id='%s'" % id_ if id_ else "", payload)
    body = "<publish node='%s'>%s</publish>" % (node, item)
    if options:
        body += publish_options(options)
    return ps(c, "set", body, to=to)


def is_event(e):
    return (e.tag == q(NS_CLIENT, "message") and
            e.find(q(PS_EVENT, "event")) is not None)


def recv_event(c, timeout=5.0, node=None):
    def match(e):
        if not is_event(e):
            return False
        if node is None:
            return True
        ev = e.find(q(PS_EVENT, "event"))
        return any(ch.get("node") == node for ch in ev)
    return c.recv(match, timeout=timeout)


def no_event(c, wait=1.0, node=None):
    c.sync()
    try:
        e = recv_event(c, timeout=wait, node=node)
    except TimeoutError:
        return True
    raise AssertionError("unexpected event: %s" % e)


def event_child(msg):
    ev = msg.find(q(PS_EVENT, "event"))
    return list(ev)[0]


def item_ids(items_el, ns=PS):
    return [i.get("id") for i in items_el.findall(q(ns, "item"))]


def form_values(x):
    out = {}
    for f in x.findall(q(XDATA, "field")):
        vals = [v.text or "" for v in f.findall(q(XDATA, "value"))]
        out[f.get("var")] = vals[0] if len(vals) == 1 else vals
    return out


def disco_info(c, to, node=None):
    n = " node='%s'" % node if node else ""
    return c.iq("get", "<query xmlns='%s'%s/>" % (NS_DISCO_INFO, n), to=to)
