"""slixmpp 1.8.3 as a stock client against the test server.

Use inside a coroutine run by `run()`: every wait is bounded, so a test
cannot hang on a server that never answers.
"""

import asyncio
import logging
import ssl

import slixmpp

TIMEOUT = 10.0

logging.getLogger("slixmpp").setLevel(logging.ERROR)


def run(coro, timeout=60.0):
    """Run a test coroutine on a fresh loop, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class LoginFailed(Exception):
    pass


class Client(slixmpp.ClientXMPP):
    """slixmpp as it ships.  mech=None lets it choose, as every bot does:
    on TLS 1.3 it tries the -PLUS mechanisms with tls-unique (undefined
    there), then SCRAM flagged 'y' (refused: we offer -PLUS), then PLAIN,
    and the server must let it get that far (doc/interop.md)."""

    def __init__(self, jid, password, port, mech=None, direct_tls=False):
        super().__init__(jid, password, sasl_mech=mech)
        self.port = port
        self.direct_tls = direct_tls
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if direct_tls:
            self.ssl_context.set_alpn_protocols(["xmpp-client"])
        for p in ("xep_0030", "xep_0092", "xep_0199"):
            self.register_plugin(p)
        loop = asyncio.get_running_loop()
        self.started = loop.create_future()
        self.messages = asyncio.Queue()
        self.stream_errors = []
        self.add_event_handler("session_start", self._on_start)
        self.last_failure = None
        self.add_event_handler("failed_auth", self._on_fail)
        self.add_event_handler("failed_all_auth", self._on_all_failed)
        self.add_event_handler("stream_error", self.stream_errors.append)
        self.add_event_handler("disconnected", self._on_disconnected)
        self.add_event_handler("message", self.messages.put_nowait)

    async def get_dns_records(self, domain, port=None):
        # Never ask DNS: the virtual hosts all live on 127.0.0.1.
        return [(domain, "127.0.0.1", self.port)]

    def _on_start(self, _ev):
        if not self.started.done():
            self.started.set_result(True)

    def _on_fail(self, ev):
        # slixmpp goes on with the next mechanism; remember why.
        try:
            self.last_failure = ev["condition"]
        except (TypeError, KeyError):
            self.last_failure = "failed"

    def _on_all_failed(self, _ev):
        if not self.started.done():
            self.started.set_exception(
                LoginFailed(self.last_failure or "no usable mechanism"))

    def _on_disconnected(self, _ev):
        if not self.started.done():
            self.started.set_exception(LoginFailed("disconnected"))

    async def start(self, timeout=TIMEOUT):
        self.connect(("127.0.0.1", self.port), use_ssl=self.direct_tls,
                     force_starttls=not self.direct_tls)
        try:
            await asyncio.wait_for(self.started, timeout)
        except BaseException:
            self.abort()
            raise
        return self

    async def recv_message(self, timeout=TIMEOUT):
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def close(self, timeout=5.0):
        try:
            await asyncio.wait_for(self.disconnect(wait=1.0), timeout)
        except (asyncio.TimeoutError, Exception):
            self.abort()


async def login(server, user, password, mech=None, resource=None,
                direct_tls=False):
    jid = server.jid(user)
    if resource:
        jid += "/" + resource
    port = server.tls_port if direct_tls else server.c2s_port
    c = Client(jid, password, port, mech=mech, direct_tls=direct_tls)
    return await c.start()
