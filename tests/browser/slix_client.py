"""Log one account in with slixmpp and stay connected, for the browser test.

    /usr/bin/python3 slix_client.py JID PASSWORD C2S_PORT [ROOM NODE]

With ROOM (room@conference.host) and NODE (a node name on pubsub.host), it
also joins (so creates) the room and creates the node, for the console's
room and node pages, and prints ROOM and NODE when done.
Prints READY once the session is bound, DISCONNECTED when the server closes
it (a kick), and exits 0 then; exits 2 if the login fails, 3 on timeout.
Closing stdin or SIGTERM ends it as well.
"""

import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from slix import Client, LoginFailed  # noqa: E402

LIFETIME = 150.0


async def main(jid, password, port, room=None, node=None):
    c = Client(jid, password, port)
    c.register_plugin("xep_0045")
    c.register_plugin("xep_0060")
    c["xep_0092"].software_name = "ember-console-test"
    c["xep_0092"].version = "1.0"
    gone = asyncio.get_running_loop().create_future()
    c.add_event_handler("disconnected",
                        lambda _e: gone.done() or gone.set_result(True))
    try:
        await c.start()
    except (LoginFailed, asyncio.TimeoutError) as e:
        print("LOGIN FAILED %s" % e, flush=True)
        return 2
    c.add_event_handler(
        "message",
        lambda m: print("MESSAGE %s" % m["body"].replace("\n", " "),
                        flush=True))
    c.send_presence()
    print("READY", flush=True)
    if room:
        await c["xep_0045"].join_muc_wait(room, "console-test", timeout=10)
        print("ROOM", flush=True)
    if node:
        service = "pubsub." + jid.split("@")[1].split("/")[0]
        await c["xep_0060"].create_node(service, node, timeout=10)
        print("NODE", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM,
                            lambda: stop.done() or stop.set_result(True))
    loop.add_reader(sys.stdin.fileno(), lambda: (
        sys.stdin.readline() or stop.done() or stop.set_result(True)))
    done, _ = await asyncio.wait([gone, stop], timeout=LIFETIME,
                                 return_when=asyncio.FIRST_COMPLETED)
    if gone in done:
        print("DISCONNECTED", flush=True)
        return 0
    if stop in done:
        await c.close()
        return 0
    await c.close()
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                              *sys.argv[4:6])))
