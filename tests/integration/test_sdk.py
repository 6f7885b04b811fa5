"""The third-party plugin SDK, end to end.

`make install` into a temporary prefix, the two examples built from that
installed SDK alone (PKG_CONFIG_PATH, the pc file's plugindir), loaded into
a real emberd and exercised with slixmpp; a module built against the frozen
1.0 headers (tests/abi/v1.0) loaded by today's core; broken plugins (a
missing dependency, an undefined symbol, a failing load) reported by name
and reason while the server goes on; the static ABI check.
"""

import asyncio
import json
import os
import re
import shutil
import tempfile
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from harness import B, REPO
from rawxmpp import NS_PING, RawClient, disco_features, q, stanza_error
from slix import login, run

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_HELLO = "urn:example:hello"
NS_ABI = "urn:ember:test:abi-v10"

BUILD_TIMEOUT = 300

# Plugins that must fail to load, each for its own reason.
BROKEN = {
    "needs_dep": r"""
#include <ember/plugin.h>
static int
nd_load(ember_module_t *m, const ember_api_t *api)
{
    return api->disco_add_feature(m, "urn:ember:test:needs-dep");
}
EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER, .name = "needs_dep", .version = "0.1",
    .depends = (const char *const[]){ "no_such_dep", NULL },
    .load = nd_load,
};
""",
    "undef_sym": r"""
#include <ember/plugin.h>
int ember_helper_that_nobody_defines(void);
static int
us_load(ember_module_t *m, const ember_api_t *api)
{
    return ember_helper_that_nobody_defines();
}
EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER, .name = "undef_sym", .version = "0.1",
    .load = us_load,
};
""",
    "load_fails": r"""
#include <ember/plugin.h>
static int
lf_load(ember_module_t *m, const ember_api_t *api)
{
    api->disco_add_feature(m, "urn:ember:test:load-fails");
    return EMBER_EPERM;
}
EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER, .name = "load_fails", .version = "0.1",
    .load = lf_load,
};
""",
}


def _run(cmd, env=None, cwd=None, timeout=BUILD_TIMEOUT):
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        pytest.fail("%s -> %d\n%s%s" % (" ".join(map(str, cmd)),
                                        r.returncode, r.stdout, r.stderr),
                    pytrace=False)
    return r


class Sdk:
    def __init__(self, root):
        self.root = root
        self.prefix = root / "prefix"
        self.pcdir = self.prefix / "lib" / "pkgconfig"
        self.env = dict(os.environ)
        self.env["PKG_CONFIG_PATH"] = str(self.pcdir)
        # Nothing of the repository may leak into the plugin builds.
        for k in ("CFLAGS", "CPPFLAGS", "C_INCLUDE_PATH", "CPATH", "MAKEFLAGS",
                  "MFLAGS", "MAKELEVEL"):
            self.env.pop(k, None)
        self.plugindir = None
        self.broken = root / "broken"
        self.frozen = root / "frozen"

    def pkg(self, *args):
        return _run(["pkg-config"] + list(args) + ["ember-plugin"],
                    env=self.env).stdout.strip()


@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    s = Sdk(tmp_path_factory.mktemp("sdk"))
    make = ["make", "-s", "-C", str(REPO), "B=%s" % B, "install",
            "PREFIX=%s" % s.prefix]
    if "asan" in B.name:
        make.append("SAN=asan")     # never rebuild an ASan tree without it
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    _run(make, env=env)
    assert (s.pcdir / "ember-plugin.pc").exists()
    # The pc file of the repository is shared by every `make install`.
    assert s.pkg("--variable=prefix") == str(s.prefix), \
        "ember-plugin.pc was rewritten by a concurrent make install"
    s.plugindir = Path(s.pkg("--variable=plugindir"))

    # The examples, copied out of the tree and built like a third party's.
    ex = s.examples = s.root / "examples"
    shutil.copytree(REPO / "examples", ex)
    for name in ("wordfilter", "hello_http"):
        _run(["make", "-C", str(ex / name)], env=s.env)
        _run(["make", "-C", str(ex / name), "install"], env=s.env)

    cc = os.environ.get("CC", "cc")
    flags = s.pkg("--cflags").split() + s.pkg("--libs").split()
    s.broken.mkdir()
    for name, src in BROKEN.items():
        c = s.broken / ("%s.c" % name)
        c.write_text(src)
        _run([cc, "-std=c11", "-o", str(s.broken / ("mod_%s.so" % name)),
              str(c)] + flags, env=s.env)
    # Against the frozen headers, never plugin-api/ nor the installed ones.
    s.frozen.mkdir()
    _run([cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror",
          "-Wno-unused-parameter", "-fPIC", "-fvisibility=hidden", "-shared",
          "-I", str(REPO / "tests" / "abi" / "v1.0"),
          "-o", str(s.frozen / "mod_abi_v10.so"),
          str(REPO / "tests" / "abi" / "mod_abi_v10.c")], env=s.env)
    return s


def _plugin_server(server_factory, sdk, start=True, **kw):
    srv = server_factory(start=False, **kw)
    ET.SubElement(srv.cfg, "plugins", dir=str(sdk.plugindir))
    ET.SubElement(srv.cfg, "plugins", dir=str(sdk.broken))
    ET.SubElement(srv.cfg, "plugins", dir=str(sdk.frozen))
    return srv


def _add_global_module(srv, name, **opts):
    # Global modules sit directly under <ember>, before the hosts.
    el = ET.Element("module", name=name, **opts)
    root = srv.cfg
    first_host = next(i for i, c in enumerate(root) if c.tag == "host")
    root.insert(first_host, el)
    return el


def _modules_table(srv):
    out = srv.ctl_ok("modules").stdout
    return out, [l for l in out.splitlines()[1:] if l.strip()]


def _row(rows, name):
    for l in rows:
        if l.split() and l.split()[0] == name:
            return l
    return None


# ---- the installed SDK ----

def test_sdk_installed_headers_pc_and_manifests(sdk):
    inc = sdk.pkg("--cflags")
    assert "-I%s" % (sdk.prefix / "include") in inc.split(), inc
    assert "-fvisibility=hidden" in inc
    for h in ("plugin.h", "abi.h", "types.h", "errno.h", "events.h"):
        assert (sdk.prefix / "include" / "ember" / h).exists(), h
    assert sdk.plugindir.is_dir()
    for name, opts in (("wordfilter", {"words", "reason", "log"}),
                       ("hello", {"greeting"})):
        assert (sdk.plugindir / ("mod_%s.so" % name)).exists()
        man = json.loads((sdk.plugindir / ("mod_%s.json" % name)).read_text())
        assert man["name"] == name
        assert man["version"] == "1.0.0"
        assert re.fullmatch(r"1\.\d+", man["abi"])
        assert man["file"] == "mod_%s.so" % name
        assert man["description"]
        assert {o["name"] for o in man["options"]} == opts
        assert all(o["type"] in ("int", "bool", "string", "duration",
                                 "path") for o in man["options"])
    assert json.loads((sdk.plugindir / "mod_hello.json").read_text())[
        "global"] is True


# ---- examples/wordfilter ----

def _condition(stanza):
    # slixmpp 1.8.3 does not know policy-violation (RFC 6120 8.3.3.12):
    # read the condition element itself.
    err = stanza.xml.find("{jabber:client}error")
    assert err is not None, stanza
    conds = [c.tag.split("}")[1] for c in err
             if c.tag.startswith("{%s}" % NS_STANZAS) and
             not c.tag.endswith("}text")]
    return conds[0] if len(conds) == 1 else conds


async def _expect_error_message(queue, mid, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no error for message %s" % mid)
        m = await asyncio.wait_for(queue.get(), left)
        if m["id"] == mid:
            return m


def test_wordfilter_refuses_blocked_words(server_factory, sdk, passwords):
    srv = _plugin_server(server_factory, sdk)
    srv.add_module("wordfilter", words="spam, Eggs", reason="No spam here",
                   log="true")
    srv.start()

    async def body():
        a = await login(srv, "alice", passwords["alice"])
        b = await login(srv, "bob", passwords["bob"])
        errors = asyncio.Queue()
        a.add_event_handler("message_error", errors.put_nowait)
        try:
            bob = b.boundjid.full
            for i, text in enumerate(("Buy SPAM now", "green eggs and ham",
                                      "spam")):
                mid = "bad%d" % i
                m = a.make_message(mto=bob, mbody=text, mtype="chat")
                m["id"] = mid
                m.send()
                err = await _expect_error_message(errors, mid)
                assert err["type"] == "error", err
                assert _condition(err) == "policy-violation"
                assert err["error"]["type"] == "modify"
                assert err["error"]["text"] == "No spam here"
            # Whole words only: these pass, and are the first bob sees.
            for text in ("spammer eggshell", "hello bob"):
                a.send_message(mto=bob, mbody=text, mtype="chat")
                got = await b.recv_message()
                assert got["body"] == text, got
            assert b.messages.empty()
        finally:
            await a.close()
            await b.close()
    run(body())
    assert re.search(r"wordfilter.*refused a message from alice@localhost",
                     srv.log())

    # Reconfigured at runtime: the new list applies, the old one is gone.
    srv.add_module("wordfilter", words="ham")
    srv.save()
    srv.ctl_ok("reload")

    async def after():
        a = await login(srv, "alice", passwords["alice"])
        b = await login(srv, "bob", passwords["bob"])
        errors = asyncio.Queue()
        a.add_event_handler("message_error", errors.put_nowait)
        try:
            a.send_message(mto=b.boundjid.full, mbody="spam is fine now",
                           mtype="chat")
            assert (await b.recv_message())["body"] == "spam is fine now"
            m = a.make_message(mto=b.boundjid.full, mbody="Ham!",
                               mtype="chat")
            m["id"] = "ham"
            m.send()
            err = await _expect_error_message(errors, "ham")
            assert _condition(err) == "policy-violation"
        finally:
            await a.close()
            await b.close()
    run(after())


# ---- examples/hello_http (mod_hello) ----

async def _hello(c, to="localhost"):
    iq = c.make_iq_get(ito=to)
    iq.xml.append(ET.Element("{%s}hello" % NS_HELLO))
    resp = await iq.send(timeout=10)
    el = resp.xml.find("{%s}hello" % NS_HELLO)
    assert el is not None, resp
    return (el.find("{%s}greeting" % NS_HELLO).text,
            int(el.find("{%s}visits" % NS_HELLO).text))


def test_hello_iq_storage_and_commands(server_factory, sdk, passwords):
    srv = _plugin_server(server_factory, sdk)
    _add_global_module(srv, "hello", greeting="Howdy")
    srv.start()
    row = _row(_modules_table(srv)[1], "hello")
    assert row and "loaded" in row and "1.0.0" in row, row

    async def visits():
        a = await login(srv, "alice", passwords["alice"], resource="desk")
        try:
            info = await a["xep_0030"].get_info(jid="localhost", timeout=10)
            assert NS_HELLO in info["disco_info"]["features"]
            assert await _hello(a) == ("Howdy, alice@localhost!", 1)
            assert await _hello(a) == ("Howdy, alice@localhost!", 2)

            r = srv.ctl("hello-send", "alice@localhost/desk",
                        "Maintenance at 6pm")
            assert r.returncode == 0, r.stderr
            assert "sent: alice@localhost/desk" in r.stdout, r.stdout
            m = await a.recv_message()
            assert m["body"] == "Maintenance at 6pm"
            assert m["from"].bare == "localhost"
        finally:
            await a.close()
    run(visits())

    r = srv.ctl_ok("hello-stats")
    assert re.search(r"greetings: 2\b", r.stdout), r.stdout
    # The core checks arguments against the command's table.
    r = srv.ctl("hello-send", "not a jid@@")
    assert r.returncode != 0
    r = srv.ctl("commands")
    assert "hello-send" in r.stdout and "hello" in r.stdout

    # Visits live in the server's storage: they survive a restart.
    srv.restart()

    async def again():
        b = await login(srv, "bob", passwords["bob"])
        a = await login(srv, "alice", passwords["alice"])
        try:
            assert await _hello(b) == ("Howdy, bob@localhost!", 1)
            assert await _hello(a) == ("Howdy, alice@localhost!", 3)
        finally:
            await a.close()
            await b.close()
    run(again())


# ---- ABI guarantee ----

def test_frozen_abi_module_loads_and_works(server_factory, sdk, passwords):
    srv = _plugin_server(server_factory, sdk)
    srv.add_module("abi_v10", greeting="from-1.0", tick="10")
    srv.start()
    assert re.search(r"abi_v10.*built against plugin ABI 1\.0", srv.log())
    row = _row(_modules_table(srv)[1], "abi_v10")
    assert row and "loaded" in row, row

    async def body():
        c = await login(srv, "alice", passwords["alice"])
        try:
            await asyncio.sleep(0.2)
            iq = c.make_iq_get(ito="localhost")
            iq.xml.append(ET.Element("{%s}query" % NS_ABI))
            resp = await iq.send(timeout=10)
            qel = resp.xml.find("{%s}query" % NS_ABI)
            assert qel.get("greeting") == "from-1.0"
            assert qel.get("table") == "ok"
            assert qel.get("from") == "alice@localhost"
            assert int(qel.get("ticks")) > 0
            assert re.match(r"\d+\.\d+", qel.get("core"))

            iq = c.make_iq_get(ito="localhost")
            qq = ET.SubElement(iq.xml, "{%s}query" % NS_ABI)
            ET.SubElement(qq, "{%s}fail" % NS_ABI)
            with pytest.raises(IqError) as e:
                await iq.send(timeout=10)
            assert e.value.iq["error"]["condition"] == "bad-request"
            assert e.value.iq["error"]["text"] == "asked to fail"
        finally:
            await c.close()
    run(body())
    assert srv.ctl_ok("abi-v10-ping").stdout.strip() == "ok"


def test_abi_static_check():
    r = subprocess.run([str(REPO / "tools" / "abi-check.sh"), "--selftest"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "keeps every field" in r.stdout
    assert "every mutation caught" in r.stdout


# ---- plugins that fail to load ----

def test_broken_plugins_reported_server_goes_on(server_factory, sdk,
                                                 passwords):
    srv = _plugin_server(server_factory, sdk)
    for name in BROKEN:
        srv.add_module(name)
    srv.add_module("wordfilter", words="spam")
    srv.start()
    log = srv.log()
    reasons = {
        "needs_dep": r"missing dependency.*no_such_dep",
        "undef_sym": r"undefined symbol.*ember_helper_that_nobody_defines",
        "load_fails": r"load failed.*permission denied",
    }
    for name, why in reasons.items():
        assert re.search(r"%s.*%s" % (name, why), log), (name, log)

    # Twice: listing failed modules must not touch their unloaded code.
    for _ in range(2):
        out, rows = _modules_table(srv)
        for name, why in reasons.items():
            row = _row(rows, name)
            assert row is not None, (name, out)
            assert "failed" in row and re.search(why, row), (name, out)
        for name in ("disco", "ping", "version", "wordfilter"):
            row = _row(rows, name)
            assert row is not None and "loaded" in row, (name, out)
    assert srv.running()

    # The server goes on, without anything the broken ones registered.
    c = RawClient(srv.c2s_port)
    c.login("alice", passwords["alice"])
    assert c.ping().get("type") == "result"
    feats = disco_features(c.disco_info())
    assert NS_PING in feats
    assert not {f for f in feats if f.startswith("urn:ember:test:")}, feats
    c.message("bob@localhost", "spam", id_="w1")
    err = c.recv(lambda e: e.get("id") == "w1", timeout=10)
    assert stanza_error(err) == ("modify", "policy-violation")
    c.close()

    # A reload with the same broken plugins is not fatal either; it says
    # that some failed.
    r = srv.ctl("reload")
    assert r.returncode == 1 and "3 module(s) failed" in r.stderr, r
    assert srv.running()
    assert _row(_modules_table(srv)[1], "undef_sym") is not None
    c = RawClient(srv.c2s_port)
    c.login("bob", passwords["bob"])
    assert c.ping().get("type") == "result"
    c.close()


# ---- packaging: emberctl plugin install, emberctl plugins ----

def test_plugin_install_and_listing(server_factory, sdk, passwords):
    srv = _plugin_server(server_factory, sdk)
    if "plugin install" not in srv.ctl_raw("help").stdout:
        pytest.skip("emberctl has no `plugin install` yet "
                    "(/work/notes/sdk-emberctl.patch)")
    # Installs go to the first plugin directory: make it the instance's.
    mine = srv.root / "plugins"
    mine.mkdir()
    first = next(i for i, c in enumerate(srv.cfg) if c.tag == "plugins")
    srv.cfg.insert(first, ET.Element("plugins", dir=str(mine)))
    srv.start()

    wf = sdk.examples / "wordfilter" / "mod_wordfilter.so"
    r = srv.ctl("plugin", "install", wf)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reloaded" in r.stdout, r.stdout
    assert (mine / "mod_wordfilter.so").exists()
    man = json.loads((mine / "mod_wordfilter.json").read_text())
    assert man["name"] == "wordfilter" and man["version"] == "1.0.0"
    # The config file itself now enables it, indented like its neighbours.
    text = srv.config_path.read_text()
    host = ET.fromstring(text.encode()).find("host")
    assert "wordfilter" in [m.get("name") for m in host.findall("module")]
    assert re.search(r'\n    <module name="wordfilter"/>\n', text), text
    row = _row(_modules_table(srv)[1], "wordfilter")
    assert row and "loaded" in row, row
    # Once is enough.
    r = srv.ctl("plugin", "install", wf)
    assert r.returncode == 0 and "already enabled" in r.stdout, r

    # Copied, not enabled: listed from its manifest without being loaded.
    r = srv.ctl("plugin", "install", "--no-enable",
                sdk.examples / "hello_http" / "mod_hello.so")
    assert r.returncode == 0, r.stderr
    out = srv.ctl_ok("plugins").stdout
    hello = _row(out.splitlines(), "hello")
    assert hello and "available" in hello and "1.0.0" in hello, out
    assert "greets users" in hello
    assert "loaded" in _row(out.splitlines(), "wordfilter"), out
    listing = json.loads(srv.ctl_ok("--json", "plugins").stdout)
    h = next(p for p in listing if p["name"] == "hello")
    assert {o["name"] for o in h["options"]} == {"greeting"}
    assert h["manifest"] is True and not h["loaded_on"]

    # A plugin that cannot load is refused before anything is copied.
    r = srv.ctl("plugin", "install", sdk.broken / "mod_undef_sym.so")
    assert r.returncode == 1
    assert "undefined symbol" in r.stderr, r.stderr
    assert not (mine / "mod_undef_sym.so").exists()
    r = srv.ctl("plugin", "install", sdk.frozen / "nothing.so")
    assert r.returncode != 0

    c = RawClient(srv.c2s_port)
    c.login("alice", passwords["alice"])
    assert c.ping().get("type") == "result"
    c.close()


def test_plugin_install_runs_no_plugin_code_as_root(server_factory, sdk,
                                                    tmp_path):
    """Inspecting a plugin opens it, which runs its constructors: that
    happens in a child that is not root, and a plugin that kills it is
    refused (issue 13, finding 7)."""
    srv = _plugin_server(server_factory, sdk)
    mine = srv.root / "plugins"
    mine.mkdir()
    first = next(i for i, c in enumerate(srv.cfg) if c.tag == "plugins")
    srv.cfg.insert(first, ET.Element("plugins", dir=str(mine)))
    srv.start()
    cc = os.environ.get("CC", "cc")
    # Where the child, whoever it runs as, can write.
    open_dir = Path(tempfile.mkdtemp(prefix="ember-ctor-", dir="/tmp"))
    os.chmod(open_dir, 0o777)
    marker = open_dir / "uid"
    src = tmp_path / "ctor.c"
    src.write_text(
        '#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n'
        '__attribute__((constructor)) static void run(void) {\n'
        '  FILE *f = fopen("%s", "w");\n'
        '  if (f) { fprintf(f, "%%d", (int) getuid()); fclose(f); }\n'
        '#ifdef CRASH\n  abort();\n#endif\n}\n' % marker)
    spy = tmp_path / "spy" / "mod_spy.so"
    spy.parent.mkdir()
    _run([cc, "-shared", "-fPIC", "-o", str(spy), str(src)])
    r = srv.ctl("plugin", "install", spy)
    assert r.returncode == 1, r.stdout
    uid = int(marker.read_text())
    if os.geteuid() == 0:
        assert uid != 0
    assert not (mine / "mod_spy.so").exists()
    crash = tmp_path / "crash" / "mod_crash.so"
    crash.parent.mkdir()
    _run([cc, "-DCRASH", "-shared", "-fPIC", "-o", str(crash), str(src)])
    r = srv.ctl("plugin", "install", crash)
    assert r.returncode == 1
    assert "killed the process that opened it" in r.stderr, r.stderr
    assert not (mine / "mod_crash.so").exists()
    # An existing name in the plugin folder that is a link elsewhere is
    # replaced, never written through.
    outside = tmp_path / "outside.so"
    outside.write_bytes(b"precious")
    (mine / "mod_wordfilter.so").symlink_to(outside)
    r = srv.ctl("plugin", "install", "--no-enable",
                sdk.examples / "wordfilter" / "mod_wordfilter.so")
    assert r.returncode == 0, r.stderr
    assert outside.read_bytes() == b"precious"
    assert not (mine / "mod_wordfilter.so").is_symlink()
    shutil.rmtree(open_dir, ignore_errors=True)
