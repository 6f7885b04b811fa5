"""The admin console in a real browser: Debian's chromium, headless, driven
by playwright-core (tests/browser/console.test.mjs) against a real emberd
with mod_admin_console serving web/.  The script walks the whole console
(setup, login, live dashboard, users, a slixmpp session kicked, a module
disabled and re-enabled, every other page, logout), fails on any console
error or CSP violation, and writes a screenshot of every page into
$EMBER_TEST_OUT (default tests/browser/out), in console-screenshots-BUILD/.
"""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import REPO, B
from rawxmpp import RawClient, q

BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = BROWSER_DIR / "node_modules" / "playwright-core"
ADMIN = "admin"
ADMIN_PASSWORD = "console-admin-secret"


def _missing():
    if not CHROMIUM.exists():
        return "%s is missing (apt-get install chromium)" % CHROMIUM
    if not (PLAYWRIGHT / "package.json").exists():
        return ("%s is missing (run npm ci in tests/browser)"
                % PLAYWRIGHT.relative_to(REPO))
    if shutil.which("node") is None:
        return "node is not installed"
    return None


def _console_module(srv):
    for m in srv.cfg.iter("module"):
        if m.get("name") == "admin_console":
            return m
    # Global modules sit at top level, before the hosts.
    m = ET.Element("module", name="admin_console")
    srv.cfg.insert(0, m)
    return m


def _upload(srv, user, password, name):
    """A file in mod_upload, as a client puts it there: its id."""
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, password)
    data = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
    r = c.iq("get", "<request xmlns='urn:xmpp:http:upload:0' filename='%s' "
             "size='%d' content-type='image/png'/>" % (name, len(data)),
             to="upload." + srv.domain)
    c.close()
    url = urllib.parse.urlsplit(r.find(q("urn:xmpp:http:upload:0", "slot"))
                                .find(q("urn:xmpp:http:upload:0", "put"))
                                .get("url"))
    h = http.client.HTTPSConnection(url.hostname, url.port, timeout=10,
                                    context=ssl._create_unverified_context())
    h.request("PUT", url.path, body=data,
              headers={"Content-Type": "image/png"})
    assert h.getresponse().status == 201
    return url.path.split("/")[-2]


def _archive_a_message(srv, user, password, body):
    """A chat message in user's archive (mod_mam keeps what is sent)."""
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login(user, password)
    c.send("<message to='%s' type='chat'><body>%s</body></message>"
           % (srv.jid(user), body))
    c.iq("get", "<ping xmlns='urn:xmpp:ping'/>", to=srv.domain)
    c.close()


@pytest.mark.slow
def test_console_in_browser(server_factory):
    why = _missing()
    if why:
        pytest.skip(why)
    srv = server_factory(start=False, users=False)
    _console_module(srv).set("web-root", str(REPO / "web"))
    srv.adduser("uploader", "uploader-secret")
    srv.start()
    upload_id = _upload(srv, "uploader", "uploader-secret", "holiday.png")
    _archive_a_message(srv, "uploader", "uploader-secret",
                       "archived for the console")
    out = Path(os.environ.get("EMBER_TEST_OUT") or BROWSER_DIR / "out")
    out = out if out.is_absolute() else REPO / out
    # One directory per build: make check runs the suite plain and ASAN.
    shots = out / ("console-screenshots-" + B.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    env = dict(os.environ,
               EMBER_CONSOLE_URL="http://127.0.0.1:%d/" % srv.admin_port,
               EMBER_ADMIN_JID=srv.jid(ADMIN),
               EMBER_ADMIN_PASSWORD=ADMIN_PASSWORD,
               EMBER_C2S_PORT=str(srv.c2s_port),
               EMBER_DOMAIN=srv.domain,
               EMBER_SETUP_TOKEN=json.loads(srv.ctl_ok(
                   "--json", "console-setup-token").stdout)["token"],
               EMBER_SCREENSHOT_DIR=str(shots),
               EMBER_UPLOAD_ID=upload_id, EMBER_UPLOAD_NAME="holiday.png")
    r = subprocess.run(["node", str(BROWSER_DIR / "console.test.mjs")],
                       cwd=str(BROWSER_DIR), env=env, capture_output=True,
                       text=True, timeout=170)
    (out / ("console-browser-%s.log" % B.name)).write_text(r.stdout + r.stderr)
    assert r.returncode == 0, (
        "browser test failed (%d):\n%s\n%s\n--- emberd log (tail) ---\n%s"
        % (r.returncode, r.stdout[-8000:], r.stderr[-4000:],
           srv.log()[-6000:]))
    assert "ALL STEPS PASSED" in r.stdout
    for page in ("setup", "login", "dashboard", "dashboard-phone", "users",
                 "user", "sessions", "modules", "rooms", "room", "nodes",
                 "node", "uploads", "archives", "settings",
                 "settings-listeners", "settings-components", "certs", "logs",
                 "keys"):
        assert (shots / (page + ".png")).stat().st_size > 1000, page
