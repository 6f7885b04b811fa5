"""Typed settings (issue 18): <limits> and <s2s> as fields with a type, a
range and help, changed by name with a dry run that shows the new config
text, checked before anything is written, files left to the file on
disk; the console draws its forms from the same descriptors."""

import json

from test_admin_cmds import cj, ok


def settings(srv):
    return {"%s/%s" % (s["element"], s["attr"]): s for s in ok(srv,
                                                               "settings")}


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
