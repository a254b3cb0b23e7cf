"""Launch an ensemble for tests: one process per member (pyzk, or Java ZooKeeper as JavaMember),
with the standard ports 2181/2888/3888. Members are started, killed (-9) and restarted by PID
only; waits poll the four-letter word `srvr` with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kazoo.client import KazooClient

from pyzk.testing.ensemble import four_letter as four_letter_at
from tests.servers import JAVA_CLASSPATH

REPO = Path(__file__).resolve().parents[2]


def four_letter(host: str, word: str, port: int = 2181, timeout: float = 2.0) -> str:
    """`word` to a member's client port (the standard one by default); "" if none answers."""
    return four_letter_at(host, port, word, timeout)


def mode_of(host: str) -> str | None:
    for line in four_letter(host, "srvr").splitlines():
        if line.startswith("Mode: "):
            return line[6:]
    return None


def wait_for(cond: Callable[[], object], timeout: float, what: str,
             interval: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def start_client(hosts: str, timeout: float = 8.0) -> KazooClient:
    """A started kazoo client that never gives up reconnecting, as the Java client: kazoo's
    default connection_retry (max_tries=1) abandons the connection for good after two failed
    passes over the hosts, which a loaded box can produce during an election."""
    c = KazooClient(hosts=hosts, timeout=timeout,
                    connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 1.0})
    c.start(timeout=15)
    return c


class Member:
    def __init__(self, sid: int, host: str, workdir: Path, cfg: dict[str, str]) -> None:
        self.sid = sid
        self.host = host
        self.workdir = workdir
        self.datadir = workdir / "data"
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "pyzk.log"
        # Hooks for partition_fabric.py: a command prefix (`ip netns exec NS`) and the 4LW probe to use
        # (one that opens its socket inside the member's namespace).
        self.cmd_prefix: list[str] = []
        self.fourlw: Callable[[str, str], str] = four_letter
        # Extra environment, e.g. SERVER_JVMFLAGS (-D options both kinds read, as zkServer.sh
        # hands them to Java).
        self.env: dict[str, str] = {}

    @property
    def address(self) -> str:
        return f"{self.host}:2181"

    def start(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        (self.datadir / "myid").write_text(f"{self.sid}\n")
        cfg_path = self.workdir / "zoo.cfg"
        cfg_path.write_text("".join(f"{k}={v}\n" for k, v in self.cfg.items()))
        env = dict(os.environ) | self.env
        # PYZK_SERVER_PATH: the compiled build (pyzk.tools.compiled) instead of the checkout;
        # -P keeps the working directory off sys.path.
        tree = env.get("PYZK_SERVER_PATH") or str(REPO)
        env["PYTHONPATH"] = tree + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*self.cmd_prefix, sys.executable, "-P", "-m", "pyzk",
                                          "--config", str(cfg_path)],
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
                                         env=env, start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def mode(self) -> str | None:
        if not self.running:
            return None
        for line in self.fourlw(self.host, "srvr").splitlines():
            if line.startswith("Mode: "):
                return line[6:]
        return None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail_log(self, n: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])


class JavaMember(Member):
    """A Java QuorumPeerMain member (Debian's 3.8.0); it reads readonlymode.enabled only as a
    system property. Same data directory layout and zoo.cfg as a pyzk Member, so a member can be
    swapped for the other kind on the same dataDir and myid."""

    def start(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        (self.datadir / "myid").write_text(f"{self.sid}\n")
        cfg_path = self.workdir / "zoo.cfg"
        cfg_path.write_text("".join(f"{k}={v}\n" for k, v in self.cfg.items()))
        props = [f"-Dreadonlymode.enabled={self.cfg.get('readonlymode.enabled', 'false')}",
                 "-Dzookeeper.admin.enableServer=false",
                 *self.env.get("SERVER_JVMFLAGS", "").split()]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.cmd_prefix, "java", "-Xmx256m", "-XX:+UseSerialGC",
                 "-XX:TieredStopAtLevel=1", "-cp", JAVA_CLASSPATH, *props,
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg_path)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=dict(os.environ) | self.env,
                start_new_session=True)


def make_member(kind: str, sid: int, host: str, workdir: Path, cfg: dict[str, str]) -> Member:
    """A member of `kind` ("pyzk" or "java")."""
    if kind == "java":
        return JavaMember(sid, host, workdir, cfg)
    if kind == "pyzk":
        return Member(sid, host, workdir, cfg)
    raise ValueError(f"unknown member kind {kind!r}")


class Ensemble:
    """N members on `hosts` (127.0.0.x), standard ports, a fast tickTime; the sids in
    `observers` are observers (`:observer` in every server list, peerType=observer in theirs).
    `kinds` maps a sid to "java" or "pyzk" (default pyzk) for mixed ensembles."""

    def __init__(self, workdir: Path, hosts: list[str], tick_ms: int = 200,
                 extra: dict[str, str] | None = None,
                 observers: tuple[int, ...] = (),
                 kinds: dict[int, str] | None = None) -> None:
        servers = {f"server.{i}": f"{h}:2888:3888" + (":observer" if i in observers else "")
                   for i, h in enumerate(hosts, 1)}
        self.members: dict[int, Member] = {}
        for i, h in enumerate(hosts, 1):
            own = {"peerType": "observer"} if i in observers else {}
            cfg = {"tickTime": str(tick_ms), "initLimit": "5", "syncLimit": "2",
                   "dataDir": str(workdir / f"s{i}" / "data"), "clientPort": "2181",
                   "clientPortAddress": h, "4lw.commands.whitelist": "*",
                   "admin.enableServer": "false", "maxClientCnxns": "0",
                   "minSessionTimeout": "1000", **servers, **(extra or {}), **own}
            self.members[i] = make_member((kinds or {}).get(i, "pyzk"), i, h,
                                          workdir / f"s{i}", cfg)

    def replace(self, sid: int, kind: str) -> Member:
        """Swap member `sid` (stopped) for one of `kind` on the same workdir, dataDir and myid."""
        old = self.members[sid]
        assert not old.running, f"member {sid} still running"
        new = make_member(kind, sid, old.host, old.workdir, old.cfg)
        new.cmd_prefix, new.fourlw, new.env = old.cmd_prefix, old.fourlw, old.env
        self.members[sid] = new
        return new

    def kind(self, sid: int) -> str:
        return "java" if isinstance(self.members[sid], JavaMember) else "pyzk"

    @property
    def connect_string(self) -> str:
        return ",".join(m.address for m in self.members.values())

    def start(self, timeout: float = 30.0) -> None:
        # Fixed addresses: a server left over (or another run of the same test) would be
        # mistaken for ours by wait_serving; fail with that cause instead.
        busy = [m.address for m in self.members.values() if m.fourlw(m.host, "ruok")]
        if busy:
            raise RuntimeError(f"something already serves on {busy}")
        for m in self.members.values():
            m.start()
        self.wait_serving(timeout)

    def stop(self) -> None:
        for m in self.members.values():
            m.stop()

    def modes(self) -> dict[int, str | None]:
        return {sid: m.mode() for sid, m in self.members.items()}

    def wait_serving(self, timeout: float = 30.0,
                     members: list[int] | None = None) -> dict[int, str | None]:
        """Until one leader and every other running member follows (or observes) it."""
        ids = members or [s for s, m in self.members.items() if m.running]

        def ready() -> dict[int, str | None] | None:
            modes = {s: self.members[s].mode() for s in ids}
            leaders = [s for s, v in modes.items() if v == "leader"]
            ok = len(leaders) == 1 and all(v in ("leader", "follower", "observer")
                                            for v in modes.values())
            return modes if ok else None

        try:
            return wait_for(ready, timeout, "an established ensemble")  # type: ignore[return-value]
        except TimeoutError as e:
            logs = "\n".join(f"--- member {s}:\n{m.tail_log()}" for s, m in self.members.items())
            raise TimeoutError(f"{e}; modes {self.modes()}\n{logs}") from None

    def logs(self, n: int = 30) -> str:
        """The last `n` log lines of every member, for assertion messages."""
        return "\n".join(f"--- member {s}:\n{m.tail_log(n)}" for s, m in self.members.items())

    def leader(self) -> int:
        for sid, m in self.members.items():
            if m.mode() == "leader":
                return sid
        raise LookupError("no leader")

    def followers(self) -> list[int]:
        return [sid for sid, m in self.members.items() if m.mode() == "follower"]
