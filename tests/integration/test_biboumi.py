"""A real third-party component (issue 17): biboumi, Debian's XMPP to IRC
gateway, connected to emberd's component port as XEP-0114 describes, and
to a local ngircd.  A slixmpp user joins an IRC channel through it and
talks with a plain IRC client on ngircd, both ways, in the channel and one
to one (nick%server@gateway).

ngircd listens on a random 127.x.y.z address on the IRC port 6667, the
last port biboumi tries (after 6697 and 6670 with TLS, refused there), so
neither needs a port setting and parallel runs do not collide.  One
ngircd, one biboumi and one emberd serve the whole module."""

import os
import random
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import slix
from conftest import PASSWORDS
from harness import REPO, Server

COMPONENT_OFFSET = 9
BIBOUMI = "biboumi.localhost"
SECRET = "biboumi-secret-%d" % random.randrange(1 << 30)
IRC_PORT = 6667


def _binaries():
    return shutil.which("biboumi") and (shutil.which("ngircd") or
                                        os.path.exists("/usr/sbin/ngircd"))


def _ngircd():
    return shutil.which("ngircd") or "/usr/sbin/ngircd"


if not _binaries():
    if os.geteuid() == 0:
        subprocess.run(["sh", str(REPO / "tools/deps.sh"), "test"],
                       cwd=str(REPO), check=True, timeout=900)
    else:
        pytest.skip("biboumi and ngircd are not installed (tools/deps.sh "
                    "test installs them as root)", allow_module_level=True)


def _free_loopback():
    """127.a.b.c with the IRC ports free: ngircd on 6667, and nothing on
    the TLS ports biboumi tries first."""
    for _ in range(100):
        addr = "127.%d.%d.%d" % (random.randrange(1, 255),
                                 random.randrange(1, 255),
                                 random.randrange(2, 255))
        try:
            with socket.socket() as s:
                s.bind((addr, IRC_PORT))
            return addr
        except OSError:
            continue
    raise RuntimeError("no free loopback address for ngircd")


def _wait_port(addr, port, proc, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (what, proc.returncode))
        try:
            socket.create_connection((addr, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s not listening on %s:%d" % (what, addr, port))


class Irc:
    """A plain IRC client: lines in, lines out, PING answered."""

    def __init__(self, addr, nick):
        self.sock = socket.create_connection((addr, IRC_PORT), timeout=10)
        self.buf = b""
        self.nick = nick
        self.send("NICK %s" % nick)
        self.send("USER %s 0 * :Ember test" % nick)
        self.expect(lambda l: l.split()[1:2] == ["001"])

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def lines(self, deadline):
        while time.monotonic() < deadline:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                line = line.decode(errors="replace")
                if line.startswith("PING"):
                    self.send("PONG" + line[4:])
                    continue
                yield line
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            if not data:
                return
            self.buf += data

    def expect(self, match, timeout=15.0):
        seen = []
        for line in self.lines(time.monotonic() + timeout):
            seen.append(line)
            if match(line):
                return line
        raise TimeoutError("IRC: nothing matched; got %r" % seen[-20:])

    def close(self):
        try:
            self.send("QUIT :bye")
        except OSError:
            pass
        self.sock.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """emberd with biboumi as its component, and ngircd."""
    root = tmp_path_factory.mktemp("biboumi")
    procs = []
    srv = Server(root / "ember")
    srv.add_listener("component", srv.base + COMPONENT_OFFSET)
    ET.SubElement(srv.cfg, "component", domain=BIBOUMI, secret=SECRET,
                  name="IRC")
    for u, pw in PASSWORDS.items():
        srv.adduser(u, pw)
    srv.start()

    irc_addr = _free_loopback()
    # ngircd drops root for ServerUID; its files must be readable then.
    os.chmod(root, 0o755)
    conf = root / "ngircd.conf"
    conf.write_text(
        "[Global]\n\tName = irc.test\n\tInfo = Ember test IRC server\n"
        "\tAdminInfo1 = Ember\n\tAdminInfo2 = test\n"
        "\tAdminEMail = root@localhost\n"
        "\tListen = %s\n\tPorts = %d\n\tMotdPhrase = ember test\n"
        "\tPidFile = %s\n"
        "[Limits]\n\tMaxConnectionsIP = 0\n\tMaxJoins = 0\n"
        "[Options]\n\tPAM = no\n\tIdent = no\n\tDNS = no\n"
        % (irc_addr, IRC_PORT, root / "ngircd.pid"))
    conf.chmod(0o644)
    ngircd_log = open(root / "ngircd.log", "wb")
    ngircd = subprocess.Popen([_ngircd(), "-n", "-f", str(conf)],
                              stdout=ngircd_log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    procs.append(ngircd)

    bconf = root / "biboumi.cfg"
    bconf.write_text(
        "hostname=%s\npassword=%s\nxmpp_server_ip=127.0.0.1\nport=%d\n"
        "db_name=%s\nidentd_port=0\nlog_level=0\nlog_file=%s\n"
        "realname_customization=true\npolicy_directory=%s\n"
        % (BIBOUMI, SECRET, srv.base + COMPONENT_OFFSET,
           root / "biboumi.sqlite", root / "biboumi.log", root))
    bconf.chmod(0o600)
    biboumi = None
    try:
        _wait_port(irc_addr, IRC_PORT, ngircd, "ngircd")
        biboumi = subprocess.Popen(["biboumi", str(bconf)],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL)
        procs.append(biboumi)
        srv.wait_log(r"component\] 127\.0\.0\.1: %s connected"
                     % BIBOUMI.replace(".", r"\."), timeout=20)
        yield srv, irc_addr, root
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        ngircd_log.close()
        problems = []
        if srv.running():
            try:
                srv.stop()
            except AssertionError as e:
                problems.append(str(e).splitlines()[0])
        mark = srv.sanitizer_report()
        if mark:
            problems.append("sanitizer report in emberd log: %s" % mark)
        if problems:
            print(srv.log())
            for name in ("biboumi.log", "ngircd.log"):
                p = root / name
                if p.exists():
                    print("==== %s ====\n%s" % (name, p.read_text(
                        errors="replace")))
            pytest.fail("; ".join(problems), pytrace=False)


def test_biboumi_authenticates_with_the_handshake(gateway):
    srv, _, _ = gateway
    # No failure was counted for it on the way.
    assert "for %s (component)" % BIBOUMI not in srv.log()
    assert "%s: stream error" % BIBOUMI not in srv.log()


def test_disco_items_show_the_gateway_and_it_answers_disco(gateway):
    srv, _, _ = gateway

    async def go():
        c = await slix.login(srv, "carol", PASSWORDS["carol"])
        try:
            items = await c.plugin["xep_0030"].get_items(jid=srv.domain,
                                                         timeout=10)
            jids = {i[0]: i[2] for i in items["disco_items"]["items"]}
            assert jids.get(BIBOUMI) == "IRC"
            # biboumi's own answer, routed through its stream.
            info = await c.plugin["xep_0030"].get_info(jid=BIBOUMI,
                                                      timeout=10)
            idents = info["disco_info"]["identities"]
            assert any(i[0] == "conference" and i[1] == "irc"
                       for i in idents), idents
            assert "http://jabber.org/protocol/muc" in \
                info["disco_info"]["features"]
        finally:
            await c.close()

    slix.run(go())


def test_join_an_irc_channel_and_talk_both_ways(gateway):
    srv, irc_addr, root = gateway
    chan = "#ember%d" % random.randrange(1 << 20)
    room = "%s%%%s@%s" % (chan, irc_addr, BIBOUMI)
    irc = Irc(irc_addr, "ircbob")
    try:
        irc.send("JOIN %s" % chan)
        irc.expect(lambda l: " JOIN " in l or l.endswith("JOIN :" + chan))

        async def go():
            alice = await slix.login(srv, "alice", PASSWORDS["alice"])
            alice.register_plugin("xep_0045")
            muc = alice.plugin["xep_0045"]
            groupchat = []
            got = alice.loop.create_future()

            def on_groupchat(msg):
                groupchat.append(msg)
                if (msg["mucnick"] == "ircbob" and
                        msg["body"] == "hello from irc" and not got.done()):
                    got.set_result(msg)

            alice.add_event_handler("groupchat_message", on_groupchat)
            try:
                await muc.join_muc_wait(room, "alicexmpp", timeout=30)
                # biboumi shows the IRC side's occupants.
                await wait_until(
                    lambda: "ircbob" in muc.get_roster(room), 15)
                alice.send_message(mto=room, mbody="hello from xmpp",
                                   mtype="groupchat")
                line = await alice.loop.run_in_executor(
                    None, lambda: irc.expect(
                        lambda l: "PRIVMSG %s :hello from xmpp" % chan in l))
                assert line.startswith(":alicexmpp!"), line
                irc.send("PRIVMSG %s :hello from irc" % chan)
                msg = await asyncio_wait(got, 15)
                assert str(msg["from"]) == "%s/ircbob" % room
                assert msg["type"] == "groupchat"
                # One to one: the IRC user is nick%server at the gateway.
                private = "ircbob%%%s@%s" % (irc_addr, BIBOUMI)
                answer = alice.loop.create_future()

                def on_chat(msg):
                    if (msg["type"] == "chat" and
                            msg["body"] == "private answer" and
                            not answer.done()):
                        answer.set_result(msg)

                alice.add_event_handler("message", on_chat)
                alice.send_message(mto=private, mbody="private hello",
                                   mtype="chat")
                line = await alice.loop.run_in_executor(
                    None, lambda: irc.expect(
                        lambda l: "PRIVMSG ircbob :private hello" in l))
                assert line.startswith(":alicexmpp!"), line
                irc.send("PRIVMSG alicexmpp :private answer")
                msg = await asyncio_wait(answer, 15)
                assert msg["from"].bare == private
            finally:
                await alice.close()

        slix.run(go())
    finally:
        irc.close()
    assert "%s: stream error" % BIBOUMI not in srv.log()


async def wait_until(pred, timeout):
    import asyncio
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def asyncio_wait(fut, timeout):
    import asyncio
    return await asyncio.wait_for(fut, timeout)
