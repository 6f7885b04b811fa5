"""What an unauthenticated client can cost the server (issue 13, finding 1).

A client that has not logged in may only make the server do work bounded
by what it sends: a stream header of tens of thousands of namespace
declarations, then single bytes trickled one packet at a time, used to
make every read re-parse the whole header and held the loop at 97 % with
two connections.
"""
import socket
import statistics
import threading
import time

from rawxmpp import RawClient
from test_stream import logged_in

STREAM_OPEN = ("<?xml version='1.0'?><stream:stream to='localhost' "
               "xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "version='1.0'")


def _header_with(declarations):
    return (STREAM_OPEN + "".join(" xmlns:a%d='urn:x:%d'" % (i, i)
                                  for i in range(declarations)) + ">")


def _trickle(port, header, stop, outcome, sent=None):
    """Send the header, then one byte per packet until told to stop;
    sent[0] counts the trickled bytes."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    received = b""
    try:
        s.sendall(header.encode())
        s.setblocking(False)
        while not stop.is_set():
            try:
                s.send(b" ")
                if sent is not None:
                    sent[0] += 1
            except BlockingIOError:
                time.sleep(0.0005)
            except OSError:
                break
            try:
                data = s.recv(65536)
                if data == b"":
                    break
                received += data
            except BlockingIOError:
                pass
    finally:
        outcome.append(received)
        s.close()


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def _ping_ms(client, n=40):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        client.ping()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def test_huge_stream_header_is_refused(server):
    c = RawClient(server.c2s_port)
    c._reset_parser()
    c.send(_header_with(15000))
    assert c.expect_stream_error() == "policy-violation"
    c.wait_closed()


def test_header_with_too_many_attributes_is_refused(server):
    c = RawClient(server.c2s_port)
    c._reset_parser()
    c.send(_header_with(70))
    assert c.expect_stream_error() == "policy-violation"
    c.wait_closed()


def test_header_trickle_does_not_stall_the_loop(server, passwords):
    """Two connections, each with the largest header the server accepts,
    trickle bytes; a logged-in user's ping stays under 5 ms and each byte
    costs emberd what reading one byte costs (4 us), not a new parse of
    the whole 4 KB header as before the fix.  CPU per byte, not CPU per
    second: how fast the attackers can send depends on the machine."""
    user = logged_in(server, passwords)
    # 2 declarations of the stream itself + 60 = under max-attributes (64).
    header = _header_with(60)
    assert len(header) < 4096
    stop, outcome, sent = threading.Event(), [], [0]
    attackers = [threading.Thread(target=_trickle,
                                  args=(server.c2s_port, header, stop,
                                        outcome, sent))
                 for _ in range(2)]
    for t in attackers:
        t.start()
    try:
        time.sleep(0.5)
        cpu0, sent0 = _cpu_seconds(server.pid), sent[0]
        ping = _ping_ms(user)
        time.sleep(2)
        cpu = _cpu_seconds(server.pid) - cpu0
        trickled = sent[0] - sent0
    finally:
        stop.set()
        for t in attackers:
            t.join()
    # The attack ran: both streams were opened and stayed open.
    assert len(outcome) == 2
    for received in outcome:
        assert b"stream:features" in received or b"<features" in received
        assert b"policy-violation" not in received
    assert ping < 5.0, "median ping %.2f ms under attack" % ping
    assert trickled > 1000, "the attackers sent %d bytes" % trickled
    per_byte_us = cpu * 1e6 / trickled
    print("emberd: %.1f us of CPU per trickled byte (%d bytes)"
          % (per_byte_us, trickled))
    assert per_byte_us < 50, "%.0f us of CPU per byte" % per_byte_us
    user.close()
