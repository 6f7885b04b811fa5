"""Connection limits from <limits>: what a client sees when it hits one."""
import time

from rawxmpp import RawClient
from test_stream import logged_in


def test_connections_per_ip_limit(server_factory, passwords):
    srv = server_factory(start=False)
    srv.set_limits(max_connections_per_ip=2)
    srv.start()
    time.sleep(0.3)    # the harness's readiness probe frees its slot
    first, second = RawClient(srv.c2s_port), RawClient(srv.c2s_port)
    first.open()
    second.open()
    third = RawClient(srv.c2s_port)
    third._reset_parser()
    third.send("<?xml version='1.0'?><stream:stream to='localhost' "
               "xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "version='1.0'>")
    assert third.expect_stream_error() == "policy-violation"
    third.wait_closed()
    # The two within the limit still work, and a slot frees on close.
    first.close()
    time.sleep(0.3)
    c = logged_in(srv, passwords)
    c.sync()
    c.close()


def test_unauthenticated_stream_times_out(server_factory):
    srv = server_factory(start=False)
    srv.set_limits(auth_timeout=1)
    srv.start()
    c = RawClient(srv.c2s_port)
    c.open()
    assert c.expect_stream_error(timeout=5) == "connection-timeout"
    c.wait_closed()


def test_idle_stream_times_out(server_factory, passwords):
    srv = server_factory(start=False)
    srv.set_limits(idle_timeout=2)
    srv.start()
    c = logged_in(srv, passwords)
    assert c.expect_stream_error(timeout=6) == "connection-timeout"
    c.wait_closed()
