"""Converse.js, the browser XMPP client, as npm ships it, in Debian's
headless chromium (tests/browser/converse.test.mjs) against a real emberd
over XMPP-over-WebSocket and over BOSH: logs in, chats with a TCP client,
joins a room, and sends a picture through XEP-0363 HTTP File Upload that
the TCP client downloads.
Any console error in the page fails the test; screenshots go to
$EMBER_TEST_OUT (default tests/browser/out)/converse-screenshots-BUILD/."""

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from harness import REPO, B
from rawxmpp import NS_CLIENT, RawClient, q
from test_console_browser import BROWSER_DIR, _missing

ROOM = "webroom@conference.localhost"


def _serve(root):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _bob(srv, password, stop, ready):
    """The other side: answers alice's chat and her room messages."""
    c = RawClient(srv.c2s_port, domain=srv.domain)
    c.login("bob", password)
    c.presence()
    c.send("<presence to='%s/bob'><x xmlns='http://jabber.org/protocol/muc'/>"
           "</presence>" % ROOM)
    # bob creates the room: an instant room, so others may enter it.
    c.recv(lambda e: e.tag == q(NS_CLIENT, "presence") and
           (e.get("from") or "").startswith(ROOM))
    r = c.iq("set", "<query xmlns='http://jabber.org/protocol/muc#owner'>"
             "<x xmlns='jabber:x:data' type='submit'/></query>", to=ROOM)
    assert r.get("type") == "result"
    ready.set()
    while not stop.is_set():
        try:
            el = c.recv(lambda e: e.tag == q(NS_CLIENT, "message"),
                        timeout=0.5)
        except TimeoutError:
            continue
        body = el.findtext(q(NS_CLIENT, "body"))
        frm = el.get("from") or ""
        if body is None:
            continue
        if body.startswith("http://") and frm.startswith("alice@localhost"):
            data = urllib.request.urlopen(body.split()[0], timeout=10).read()
            c.message(frm, "bob downloaded %d bytes, sha256 %s"
                      % (len(data), hashlib.sha256(data).hexdigest()[:16]))
            continue
        if el.get("type") == "groupchat":
            if frm.endswith("/alice-web"):
                c.send("<message to='%s' type='groupchat'><body>bob heard: "
                       "%s</body></message>" % (ROOM, body))
        elif frm.startswith("alice@localhost"):
            c.message(frm, "pong: " + body)
    c.close()


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["websocket", "bosh"])
def test_converse(server_factory, passwords, transport):
    why = _missing()
    dist = BROWSER_DIR / "node_modules" / "converse.js" / "dist"
    if why is None and not dist.exists():
        why = "converse.js is missing (run npm ci in tests/browser)"
    if why:
        pytest.skip(why)
    server = server_factory(start=False)
    # The page is plain HTTP, and the browser would refuse the
    # self-signed certificate of the default https:// URLs.
    server.add_module("upload", **{"url-base": "http://localhost:%d/upload"
                                   % server.http_port})
    server.start()
    out = Path(os.environ.get("EMBER_TEST_OUT") or BROWSER_DIR / "out")
    out = out if out.is_absolute() else REPO / out
    shots = out / ("converse-screenshots-%s-%s" % (transport, B.name))
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    site = out / ("converse-site-%s-%s" % (transport, B.name))
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    shutil.copy(BROWSER_DIR / "converse" / "index.html", site / "index.html")
    (site / "dist").symlink_to(dist)
    httpd = _serve(site)
    stop = threading.Event()
    ready = threading.Event()
    bob = threading.Thread(target=_bob, args=(server, passwords["bob"], stop,
                                              ready), daemon=True)
    bob.start()
    assert ready.wait(20), "bob could not set the room up"

    url = ("ws://127.0.0.1:%d/xmpp-websocket" if transport == "websocket"
           else "http://127.0.0.1:%d/http-bind") % server.http_port
    query = urllib.parse.urlencode({
        "ws" if transport == "websocket" else "bosh": url,
        "jid": "alice@localhost", "password": passwords["alice"],
        "loglevel": os.environ.get("EMBER_CONVERSE_LOGLEVEL", "info")})
    env = dict(os.environ,
               EMBER_PAGE_URL="http://127.0.0.1:%d/index.html?%s"
                              % (httpd.server_address[1], query),
               EMBER_JID="alice@localhost", EMBER_PEER="bob@localhost",
               EMBER_ROOM=ROOM, EMBER_SCREENSHOT_DIR=str(shots))
    try:
        r = subprocess.run(["node", str(BROWSER_DIR / "converse.test.mjs")],
                           cwd=str(BROWSER_DIR), env=env, capture_output=True,
                           text=True, timeout=170)
    finally:
        stop.set()
        bob.join(5)
        httpd.shutdown()
    (out / ("converse-browser-%s-%s.log" % (transport, B.name))).write_text(r.stdout +
                                                             r.stderr)
    assert r.returncode == 0 and "ALL STEPS PASSED" in r.stdout, (
        "converse test failed (%d):\n%s\n%s\n--- emberd log (tail) ---\n%s"
        % (r.returncode, r.stdout[-6000:], r.stderr[-3000:],
           server.log()[-5000:]))
