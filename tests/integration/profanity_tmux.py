"""Drive the stock Profanity client inside tmux, as a user at a terminal.

One private tmux server per TmuxServer (its own socket, `tmux -L NAME`,
no user config), one tmux session per Profanity.  Each Profanity gets its
own HOME, XDG_CONFIG_HOME and XDG_DATA_HOME, so runs never share accounts,
OMEMO keys, trusted certificates or logs.  Nothing of Profanity's is
configured: the test types what a user types and reads the screen with
`tmux capture-pane`.

    tm = TmuxServer(tmp_path / "tmux")
    alice = Profanity(tm, "alice", tmp_path / "alice")
    alice.start()
    alice.type("/connect alice@localhost server 127.0.0.1 port 5222")
    alice.wait_for("Enter password:")
    ...
    tm.kill()
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

PROFANITY = shutil.which("profanity") or "/usr/bin/profanity"
TMUX = shutil.which("tmux") or "/usr/bin/tmux"
WIDTH, HEIGHT = 200, 50

# Nothing of the test runner's desktop reaches the clients (Profanity's
# default desktop notifications, a GPG agent, a user's tmux).
_DROP_ENV = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS",
             "GPG_AGENT_INFO", "TMUX", "TMUX_PANE", "XDG_RUNTIME_DIR")


def missing():
    """Why the Profanity tests cannot run here, or None."""
    for tool in (PROFANITY, TMUX):
        if not os.access(tool, os.X_OK):
            return "%s is not installed" % tool
    return None


class TmuxError(AssertionError):
    pass


class TmuxServer:
    """A tmux server of our own: `tmux -L <unique name>`."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # The socket lives in /tmp/tmux-UID/NAME: unique per instance.
        self.name = "ember-prof-%d-%s" % (os.getpid(), os.urandom(4).hex())
        self.conf = self.root / "tmux.conf"
        # No status line: the pane is the whole WIDTHxHEIGHT window.  Keep
        # a pane whose program died, so its last screen can be read.
        self.conf.write_text("set -g status off\n"
                             "set -g remain-on-exit on\n"
                             "set -g history-limit 5000\n")
        self.started = False

    def run(self, *args, check=True):
        r = subprocess.run([TMUX, "-L", self.name, "-f", str(self.conf)] +
                           [str(a) for a in args],
                           capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise TmuxError("tmux %s -> %d: %s"
                            % (" ".join(map(str, args)), r.returncode,
                               r.stderr.strip()))
        return r

    def kill(self):
        if self.started:
            self.run("kill-server", check=False)
            self.started = False


class Profanity:
    """One Profanity in its own tmux session and its own directories."""

    def __init__(self, tmux, name, root, log_level=None):
        self.tmux = tmux
        self.name = name
        self.root = Path(root)
        self.home = self.root / "home"
        self.config = self.root / "config"
        self.data = self.root / "data"
        self.log_level = log_level

    # ---- process ----
    def start(self, timeout=10.0):
        for d in (self.home, self.config, self.data):
            d.mkdir(parents=True, exist_ok=True)
        cmd = ["env"]
        for var in _DROP_ENV:
            cmd += ["-u", var]
        cmd += ["HOME=%s" % self.home,
                "XDG_CONFIG_HOME=%s" % self.config,
                "XDG_DATA_HOME=%s" % self.data,
                "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                PROFANITY]
        if self.log_level:        # a command-line option of Profanity's
            cmd += ["-l", self.log_level]
        self.tmux.run("new-session", "-d", "-s", self.name,
                      "-x", WIDTH, "-y", HEIGHT, "--", *cmd)
        self.tmux.started = True
        self.wait_for(r"Type '/help' to show complete help", timeout)
        return self

    def alive(self):
        r = self.tmux.run("display-message", "-p", "-t", self.name,
                          "#{pane_dead}", check=False)
        return r.returncode == 0 and r.stdout.strip() == "0"

    # ---- keyboard ----
    def type(self, text, enter=True):
        """Type a line as a user does (literally: no key names)."""
        self.tmux.run("send-keys", "-t", self.name, "-l", "--", text)
        if enter:
            self.tmux.run("send-keys", "-t", self.name, "Enter")

    # ---- screen ----
    def screen(self):
        r = self.tmux.run("capture-pane", "-p", "-t", self.name, check=False)
        if r.returncode != 0:
            return "<no screen: %s>" % r.stderr.strip()
        return r.stdout

    def dump(self):
        text = "\n".join(line.rstrip() for line in self.screen().splitlines())
        state = "" if self.alive() else " (Profanity is no longer running)"
        return "---- screen of %s%s ----\n%s" % (self.name, state,
                                                 text.rstrip())

    def wait_for(self, pattern, timeout=10.0, flags=0, every=None,
                 resend=None):
        """Poll the screen until the regex matches; the match object.
        With resend, type that line again every `every` seconds while
        waiting (for answers that depend on the network catching up).
        Raises TmuxError with the screen on timeout."""
        rx = re.compile(pattern, flags)
        deadline = time.monotonic() + timeout
        next_resend = time.monotonic() + (every or 0)
        while True:
            text = self.screen()
            m = rx.search(text)
            if m:
                return m
            now = time.monotonic()
            if now > deadline:
                raise TmuxError("%s: %r not on the screen after %.0f s"
                                % (self.name, pattern, timeout))
            if resend and now >= next_resend:
                self.type(resend)
                next_resend = now + every
            time.sleep(0.1)

    def log_text(self):
        p = self.data / "profanity" / "logs" / "profanity.log"
        try:
            return p.read_text(errors="replace")
        except FileNotFoundError:
            return ""
