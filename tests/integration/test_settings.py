"""Typed settings (issue 18): <limits> and <s2s> as fields with a type, a
range and help, changed by name with a dry run that shows the new config
text, checked before anything is written, files left to the file on
disk; the console draws its forms from the same descriptors.  The
repeated elements (listeners and HTTP transports, external components,
certificates) are listed instance by instance, changed, added and removed
the same way, all or nothing; secrets are written, never shown back."""

import json
import socket
import xml.etree.ElementTree as ET

import pytest

from rawxmpp import RawClient, StreamClosed
from test_admin_cmds import cj, ok
from test_component import COMPONENT_OFFSET, RawComponent
from test_console_api import ADMIN, Admin, console_module, make_web


def settings(srv):
    return {"%s/%s" % (s["element"], s["attr"]): s
            for s in ok(srv, "settings") if "attr" in s}


def groups(srv):
    return {g["element"]: g for g in ok(srv, "settings") if "fields" in g}


def listener(srv, type_):
    """The id of the first listener of that type."""
    return next(i["id"] for i in groups(srv)["listen"]["instances"]
                if i["values"]["type"] == type_)


def refused(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_descriptors_carry_type_range_default_and_value(server):
    s = settings(server)
    it = s["limits/idle-timeout"]
    assert it["kind"] == "duration" and it["default"] == 600
    assert (it["min"], it["max"]) == (1, 604800) and it["help"]
    assert s["s2s/bidi"]["kind"] == "bool" and s["s2s/bidi"]["value"] is True
    assert s["s2s/ca-file"]["read_only"] is True
    assert s["limits/max-stanza-size"]["value"] == 262144


def test_dry_run_shows_the_text_and_writes_nothing(server):
    before = server.config_path.read_text()
    r = ok(server, "settings-set", '--values={"limits/idle-timeout": "15m",'
           ' "s2s/bidi": false}', "--dry_run=true")
    assert r["ok"] is True
    assert 'idle-timeout="15m"' in r["text"] and 'bidi="false"' in r["text"]
    assert server.config_path.read_text() == before


def test_set_applies_by_reload_and_null_restores_the_default(server):
    ok(server, "settings-set", '--values={"limits/idle-timeout": "15m"}')
    assert settings(server)["limits/idle-timeout"]["value"] == 900
    assert 'idle-timeout="15m"' in server.config_path.read_text()
    ok(server, "settings-set", '--values={"limits/idle-timeout": null}')
    assert settings(server)["limits/idle-timeout"]["value"] == 600
    assert "idle-timeout" not in server.config_path.read_text()


def test_bad_values_are_refused_before_anything_is_written(server):
    before = server.config_path.read_text()
    for values, error, words in (
            ({"limits/idle-timeout": "soon"}, "EINVAL", "not a duration"),
            ({"limits/max-depth": 2}, "EINVAL", "out of range 4..1024"),
            ({"limits/nothing": 1}, "EINVAL", "no such setting"),
            ({"s2s/ca-file": "/etc/shadow"}, "EPERM", "names a file")):
        rc, out = cj(server, "settings-set", "--values=" + json.dumps(values))
        assert rc == 1 and out["error"] == error, out
        assert words in out["message"], out
    assert server.config_path.read_text() == before


def test_listeners_components_and_certificates_are_listed(server_factory):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "component", domain="irc.localhost",
                  secret="never-shown", name="IRC")
    srv.start()
    out = ok(srv, "settings")
    assert "never-shown" not in json.dumps(out)
    g = {x["element"]: x for x in out if "fields" in x}
    listen = g["listen"]
    fields = {f["attr"]: f for f in listen["fields"]}
    assert fields["port"]["kind"] == "int" and fields["port"]["max"] == 65535
    assert "c2s-tls" in fields["type"]["choices"]
    ports = {i["values"]["port"]: i["values"]["type"]
             for i in listen["instances"]}
    assert ports[srv.c2s_port] == "c2s" and ports[srv.tls_port] == "c2s-tls"
    assert all(i["line"] > 0 for i in listen["instances"])
    comp = g["component"]
    assert comp["key"] == "domain"
    assert {f["attr"]: f["write_only"] for f in comp["fields"]}["secret"]
    (irc,) = comp["instances"]
    assert irc["id"] == "irc.localhost"
    assert irc["values"] == {"domain": "irc.localhost", "secret": True,
                             "name": "IRC"}
    tls = g["tls"]
    assert tls["fixed"] and all(f["read_only"] for f in tls["fields"])


def test_a_listener_moves_to_another_port_on_reload(server):
    old, new = server.c2s_port, server.base + COMPONENT_OFFSET
    lid = listener(server, "c2s")
    r = ok(server, "settings-set", "--values=" + json.dumps(
        {"listen[%s]/port" % lid: new}), "--dry_run=true")
    assert r["ok"] is True and 'port="%d"' % new in r["text"]
    assert 'port="%d"' % old in r["before"]
    ok(server, "settings-set", "--values=" + json.dumps(
        {"listen[%s]/port" % lid: new}))
    assert 'port="%d"' % new in server.config_path.read_text()
    c = RawClient(new, domain=server.domain)
    assert c.open() is not None
    c.close()
    assert refused(old)


def test_a_component_added_over_rest_connects_with_its_secret(
        server_factory, tmp_path):
    srv = server_factory(start=False)
    ET.SubElement(srv.cfg, "admin", jid=ADMIN)
    console_module(srv).set("web-root", str(make_web(tmp_path)))
    srv.set_limits(connections_per_second_per_ip=0)
    srv.start()
    api = Admin(srv)
    secret = "s3cret-of-the-gateway"
    values = {"listen[new]": {"type": "component", "address": "127.0.0.1",
                              "port": srv.base + COMPONENT_OFFSET},
              "component[irc.localhost]": {"secret": secret,
                                           "name": "IRC gateway"}}
    st, _, dry = api("PUT", "/api/v1/settings",
                     {"values": values, "dry_run": True})
    assert st == 200 and dry["ok"] is True, dry
    assert secret not in json.dumps(dry)
    assert 'secret="(new secret)"' in dry["text"]
    assert 'type="component"' in dry["text"]
    st, _, doc = api("PUT", "/api/v1/settings", {"values": values})
    assert st == 200, doc
    assert secret in srv.config_path.read_text()
    c = RawComponent(srv)
    el = c.connect_as("irc.localhost", secret)
    assert len(el) == 0
    c.close()
    # Listed without the secret, kept out of the audit log.
    st, _, listed = api("GET", "/api/v1/settings")
    assert st == 200 and secret not in json.dumps(listed)
    audit = srv.ctl_ok("--json", "audit", "--max=100").stdout
    assert "settings-set" in audit and secret not in audit
    # Removed again: its domain is unknown to the component port.
    st, _, doc = api("PUT", "/api/v1/settings",
                     {"values": {"component[irc.localhost]": None}})
    assert st == 200, doc
    assert "irc.localhost" not in srv.config_path.read_text()
    c = RawComponent(srv)
    with pytest.raises(StreamClosed) as e:
        c.connect_as("irc.localhost", secret)
    assert e.value.error == "host-unknown"


@pytest.mark.parametrize("values, error, words", [
    ({"listen[0]/port": 70000}, "EINVAL", "listen[0]/port: 70000 is out of "
     "range 1..65535"),
    ({"listen[0]/type": "ftp"}, "EINVAL", "listen[0]/type: 'ftp' is not "
     "one of"),
    ({"listen[0]/address": "localhost"}, "EINVAL", "listen[0]/address: "
     "'localhost' is not an IPv4 or IPv6 address"),
    ({"listen[0]/colour": "red"}, "EINVAL", "listen[0]/colour: no such "
     "setting"),
    ({"listen[42]/port": 5300}, "ENOENT", "listen[42]: no such listen"),
    ({"component[x.localhost]": {"name": "X"}}, "EINVAL",
     "component[x.localhost]/secret: required"),
    ({"component[x.localhost]": {"secret": "a", "port": 1}}, "EINVAL",
     "component[x.localhost]/port: no such setting"),
    ({"listen[new]": {"port": 5300}}, "EINVAL", "listen[new]/type: "
     "required"),
    ({"tls[]/cert": "/etc/shadow"}, "EPERM", "tls[]/cert names a file"),
    ({"tls[]": None}, "EPERM", "only the file on disk may remove"),
    ({"tls[example.net]": {"cert": "a", "key": "b"}}, "EPERM",
     "only the file on disk may add"),
])
def test_bad_instance_values_name_the_field_and_write_nothing(
        server, values, error, words):
    before = server.config_path.read_text()
    values = dict(values)
    for k in list(values):      # a valid change first: all or nothing
        values = {"limits/max-depth": 32, **values}
    rc, out = cj(server, "settings-set", "--values=" + json.dumps(values))
    assert rc == 1 and out["error"] == error, out
    assert words in out["message"], out
    assert server.config_path.read_text() == before


def test_a_clash_only_the_whole_file_shows_names_its_line(server):
    """Each field is fine alone; two listeners on one port are not."""
    before = server.config_path.read_text()
    tls = listener(server, "c2s-tls")
    values = {"listen[%s]/port" % tls: server.c2s_port}
    r = ok(server, "settings-set", "--values=" + json.dumps(values),
           "--dry_run=true")
    assert r["ok"] is False and r["line"] > 0
    assert "already used" in r["message"]
    rc, out = cj(server, "settings-set", "--values=" + json.dumps(values))
    assert rc == 1 and out["error"] == "EINVAL", out
    assert out["message"].startswith("line %d: " % r["line"]), out
    assert server.config_path.read_text() == before
