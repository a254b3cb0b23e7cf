"""The real C client (Debian's cli_mt, ZooKeeper 3.8 libzookeeper_mt) runs a scripted session
against each server kind and prints what it prints against Java ZooKeeper.

cli_mt reads one command per stdin line and runs it asynchronously, printing completions and
watch events on stderr (see zookeeper-client-c/src/cli.c); it has no multi command.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.servers import ServerProc

CLI = "/usr/lib/zookeeper/bin/cli_mt"
WAIT_S = 20.0


class CliSession:
    """One cli_mt process; `expect` waits (bounded) for an output line matching a regex."""

    def __init__(self, address: str) -> None:
        self.proc = subprocess.Popen([CLI, "-h", address], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, errors="replace")
        self.lines: list[str] = []
        self.cursor = 0
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append("<EOF>")
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def send(self, command: str) -> int:
        """Send one command line; returns the output mark from before it was sent."""
        at = self.mark()
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return at

    def expect(self, pattern: str, since: int | None = None) -> re.Match[str]:
        """First line at/after `since` (default: the cursor) fully matching `pattern`; the cursor
        moves past it, so sequential expects read the output in order."""
        regex = re.compile(pattern)
        start = self.cursor if since is None else since
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    m = regex.fullmatch(self.lines[i])
                    if m:
                        self.cursor = max(self.cursor, i + 1)
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] == "<EOF>"):
                    raise AssertionError(f"no line matching {pattern!r}; output:\n"
                                         + "\n".join(self.lines))
                self.cond.wait(left)

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                return self.proc.wait(WAIT_S)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        return self.proc.wait(WAIT_S)


def stat_block(cli: CliSession) -> dict[str, str]:
    """Parse cli.c's dumpStat block: ctime_r() ends the dates with a newline, so six lines."""
    cli.expect(r"\tctime = \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}")
    czxid = cli.expect(r"\tczxid=([0-9a-f]+)").group(1)
    cli.expect(r"\tmtime=\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}")
    mzxid = cli.expect(r"\tmzxid=([0-9a-f]+)").group(1)
    ver = cli.expect(r"\tversion=([0-9a-f]+)\taversion=([0-9a-f]+)")
    owner = cli.expect(r"\tephemeralOwner = ([0-9a-f]+)")
    return {"czxid": czxid, "mzxid": mzxid, "version": ver.group(1),
            "aversion": ver.group(2), "ephemeralOwner": owner.group(1)}


@pytest.mark.skipif(not Path(CLI).exists(), reason="cli_mt not installed (zookeeper-bin)")
def test_c_client_scripted_session_matches_java_zookeeper(ref_server: ServerProc) -> None:
    cli = CliSession(ref_server.address)
    try:
        cli.expect(r"Watcher SESSION_EVENT state = CONNECTED_STATE")
        session = cli.expect(r"Got a new session id: 0x([0-9a-f]+)").group(1)

        # create: cli.c always stores the 3 bytes "new" with OPEN_ACL_UNSAFE.
        cli.send("create /c")
        cli.expect(r"Creating \[/c\] node \(mode: 0\)")
        cli.expect(r"\[/c\]: rc = 0")
        cli.expect(r"\tname = /c")
        cli.send("create /c")
        cli.expect(r"\[/c\]: rc = -110")  # ZNODEEXISTS
        cli.send("create +s /c/seq-")
        cli.expect(r"\[/c/seq-\]: rc = 0")
        cli.expect(r"\tname = /c/seq-0000000000")  # suffix = parent cversion, 0 for a new /c
        cli.send("create +e /c/eph")
        cli.expect(r"\[/c/eph\]: rc = 0")
        cli.send("create2 /c/two")
        cli.expect(r"\[/c/two\]: rc = 0")
        cli.expect(r"\tname = /c/two")
        two = stat_block(cli)
        assert two["version"] == "0" and two["czxid"] == two["mzxid"], two

        # get sets a data watch (cli.c passes watch=1); set then fires it.
        cli.send("get /c")
        cli.expect(r"/c: rc = 0")
        cli.expect(r" value_len = 3")
        cli.expect(r"new")
        cli.expect(r"Stat:")
        got = stat_block(cli)
        assert got["version"] == "0" and got["ephemeralOwner"] == "0", got
        mark = cli.send("set /c hello")
        cli.expect(r"/c: rc = 0 Stat:")
        after_set = stat_block(cli)
        assert after_set["version"] == "1" and after_set["czxid"] == got["czxid"], after_set
        assert int(after_set["mzxid"], 16) > int(got["mzxid"], 16)
        cli.expect(r"Watcher CHANGED_EVENT state = CONNECTED_STATE for path /c", since=mark)

        cli.send("get /c/eph")
        cli.expect(r"/c/eph: rc = 0")
        cli.expect(r"Stat:")
        assert stat_block(cli)["ephemeralOwner"] == session

        # ls sets a child watch; listing order is the server's, so compare as a set.
        cli.send("ls /c")
        cli.expect(r"/c: rc = 0")
        children = {cli.expect(r"\t(\S+)").group(1) for _ in range(3)}
        assert children == {"seq-0000000000", "eph", "two"}
        cli.expect(r"time = \d+ msec")
        mark = cli.send("ls2 /c")
        cli.expect(r"/c: rc = 0")
        for _ in range(3):
            cli.expect(r"\t(seq-0000000000|eph|two)")
        cli.expect(r"time = \d+ msec")
        assert stat_block(cli)["czxid"] == got["czxid"]

        # exists on a missing node leaves an exists watch; creating it fires NodeCreated.
        cli.send("exists /c/later")
        cli.expect(r"Error -101 for /c/later")  # ZNONODE from the synchronous zoo_exists
        mark = cli.send("create /c/later")
        cli.expect(r"\[/c/later\]: rc = 0")
        cli.expect(r"Watcher CREATED_EVENT state = CONNECTED_STATE for path /c/later", since=mark)
        cli.expect(r"Watcher CHILD_EVENT state = CONNECTED_STATE for path /c", since=mark)

        cli.send("delete /c")
        cli.expect(r"/c: rc = -111")  # ZNOTEMPTY
        cli.send("delete /c/nope")
        cli.expect(r"/c/nope: rc = -101")  # ZNONODE
        for child in ("seq-0000000000", "eph", "two", "later"):
            cli.send(f"delete /c/{child}")
            cli.expect(rf"/c/{child}: rc = 0")
        cli.send("sync /c")
        cli.expect(r"\[/c\]: rc = 0")
        cli.expect(r"\tname = /c")
        cli.send("delete /c")
        cli.expect(r"/c: rc = 0")
        cli.send("exists /c")
        cli.expect(r"Error -101 for /c")
        cli.send("ls /")
        cli.expect(r"/: rc = 0")
        cli.expect(r"\tzookeeper")
    finally:
        rc = cli.close()
    assert rc == 0, "\n".join(cli.lines)
