"""Helpers shared by the test_muc_*.py files (no tests here).

Occupants are RawClients, so that each test sees exactly the stanzas,
status codes and error conditions the room sends.
"""

import xml.etree.ElementTree as ET

from rawxmpp import RawClient, NS_CLIENT, q, stanza_error

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_DATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"

PRESENCE = q(NS_CLIENT, "presence")
MESSAGE = q(NS_CLIENT, "message")


def muc_domain(server):
    return "conference." + server.domain


def codes(el):
    x = el.find(q(NS_MUC_USER, "x"))
    if x is None:
        return set()
    return {int(s.get("code")) for s in x.findall(q(NS_MUC_USER, "status"))}


def item(el):
    x = el.find(q(NS_MUC_USER, "x"))
    return x.find(q(NS_MUC_USER, "item")) if x is not None else None


def body(el):
    b = el.find(q(NS_CLIENT, "body"))
    return b.text if b is not None else None


def error(el):
    return stanza_error(el)


def form_fields(x):
    out = {}
    for f in x.findall(q(NS_DATA, "field")):
        vals = [v.text or "" for v in f.findall(q(NS_DATA, "value"))]
        out[f.get("var")] = vals
    return out


def submit_form(fields):
    parts = ["<field var='FORM_TYPE'><value>"
             "http://jabber.org/protocol/muc#roomconfig</value></field>"]
    for var, val in fields.items():
        vals = val if isinstance(val, list) else [val]
        parts.append("<field var='%s'>%s</field>" % (
            var, "".join("<value>%s</value>" % v for v in vals)))
    return "<x xmlns='%s' type='submit'>%s</x>" % (NS_DATA, "".join(parts))


class Occ:
    """One client session, joined to rooms with raw XML."""

    def __init__(self, server, user, password, resource="r1", host=None):
        self.server = server
        self.c = RawClient(server.c2s_port, host or server.domain)
        self.jid = self.c.login(user, password, resource=resource)
        self.bare = self.jid.split("/")[0]
        self.c.presence()
        self.domain = muc_domain(server)

    def room(self, name):
        return "%s@%s" % (name, self.domain)

    def send(self, xml):
        self.c.send(xml)

    def join_raw(self, room, nick, password=None, history=None, x=True):
        extra = ""
        if password is not None:
            extra += "<password>%s</password>" % password
        if history is not None:
            extra += "<history %s/>" % " ".join(
                "%s='%s'" % kv for kv in history.items())
        xml = "<x xmlns='%s'>%s</x>" % (NS_MUC, extra) if x else ""
        self.send("<presence to='%s/%s'>%s</presence>"
                  % (self.room(room), nick, xml))

    def join(self, room, nick, **kw):
        """Join; returns (self-presence, [other presences]).  The history
        and the subject that follow are read into self.history and
        self.subject."""
        self.join_raw(room, nick, **kw)
        others = []
        while True:
            p = self.recv_presence(room)
            if error(p):
                raise AssertionError("join failed: %s" % (error(p),))
            if 110 in codes(p):
                break
            others.append(p)
        self.history, self.subject = [], None
        while True:
            m = self.recv_message()
            s = m.find(q(NS_CLIENT, "subject"))
            if s is not None and body(m) is None:
                self.subject = s.text or ""
                return p, others
            self.history.append(m)

    def create(self, room, nick, config=None):
        """Create a room and configure it (instant room when no config)."""
        p, _ = self.join(room, nick)
        assert 201 in codes(p), ET.tostring(p)
        r = self.owner_set(room, submit_form(config or {}))
        assert r.get("type") == "result", ET.tostring(r)
        return p

    def recv(self, match=None, timeout=None):
        return self.c.recv(match, timeout=timeout)

    def recv_presence(self, room=None, timeout=None):
        full = self.room(room) if room else None
        return self.c.recv(lambda e: e.tag == PRESENCE and (
            full is None or e.get("from", "").split("/")[0] == full),
            timeout=timeout)

    def recv_message(self, timeout=None, pred=None):
        return self.c.recv(lambda e: e.tag == MESSAGE and
                           (pred is None or pred(e)), timeout=timeout)

    def recv_groupchat(self, timeout=None):
        return self.recv_message(timeout, lambda e:
                                 e.get("type") == "groupchat" and
                                 body(e) is not None)

    def say(self, room, text):
        return self.c.message(self.room(room), text, type_="groupchat")

    def leave(self, room, nick):
        self.send("<presence type='unavailable' to='%s/%s'/>"
                  % (self.room(room), nick))

    def iq(self, type_, to, payload):
        return self.c.iq(type_, payload, to=to)

    def admin(self, room, items, type_="set"):
        return self.iq(type_, self.room(room), "<query xmlns='%s'>%s</query>"
                       % (NS_MUC_ADMIN, items))

    def owner_set(self, room, inner):
        return self.iq("set", self.room(room), "<query xmlns='%s'>%s</query>"
                       % (NS_MUC_OWNER, inner))

    def owner_get(self, room):
        return self.iq("get", self.room(room),
                       "<query xmlns='%s'/>" % NS_MUC_OWNER)

    def nothing(self, timeout=0.5, pred=None):
        """Assert no stanza (matching pred) arrives within timeout."""
        try:
            el = self.c.recv(pred, timeout=timeout)
        except TimeoutError:
            return True
        raise AssertionError("unexpected: %s" % ET.tostring(el)[:400])

    def drain(self):
        self.c.pending.clear()

    def close(self):
        self.c.stream_end()
        self.c.close()
