"""A real three-node (or N-node) pyzk ensemble for application test suites.

`ZkTestEnsemble` runs each member as its own process on a loopback address, forked from a
helper that has pyzk imported (pyzk.testing.zygote), or as `python -m pyzk` in its own network
namespace (as root), waits for one leader and N-1 followers, and can
stop, start, restart or kill a member, and partition it (a freeze, or a real network cut).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyzk

from .netns import BridgeNet, Forwarder, unavailable_reason
from .zygote import ForkedProcess, Zygote

# The directory holding the pyzk package: members import the same pyzk as the test process.
_PKG_PARENT = str(Path(pyzk.__file__).resolve().parents[1])
STANDARD_PORTS = (2181, 2888, 3888)


def four_letter(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter word; the reply, or "" when the member does not answer."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while b := s.recv(65536):
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_ports(host: str, n: int) -> list[int]:
    """n distinct ephemeral ports free on host (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def member_env() -> dict[str, str]:
    """Members' environment: ours, with the pyzk this process imported first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_PARENT, env.get("PYTHONPATH", "")) if p)
    return env


def prewarm() -> None:
    """Start the fork helper now (e.g. while pytest collects), so the first ensemble's start
    does not pay for its imports."""
    Zygote.shared(member_env())


def default_hosts(size: int) -> list[str]:
    """Distinct loopback addresses on Linux (all of 127/8 is loopback there), else 127.0.0.1."""
    if not sys.platform.startswith("linux"):
        return ["127.0.0.1"] * size
    a, b = random.randrange(100, 255), random.randrange(0, 255)
    return [f"127.{a}.{b}.{i}" for i in range(1, size + 1)]


def _wait(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class ZkTestMember:
    """One member process: its address, ports, data directory and log."""

    def __init__(self, sid: int, host: str, ports: Sequence[int], workdir: Path) -> None:
        self.sid = sid
        self.host = host
        self.client_port, self.quorum_port, self.election_port = ports
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "pyzk.log"
        self.config_path = workdir / "zoo.cfg"
        self.proc: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.frozen = False
        self.fork = False  # launch through the fork helper (pyzk.testing.zygote)
        self.cmd_prefix: list[str] = []  # `ip netns exec NS` in network="netns" mode

    @property
    def address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc is not None else None

    def four_letter(self, word: str, timeout: float = 2.0) -> str:
        return four_letter(self.host, self.client_port, word, timeout) if self.running else ""

    def mode(self) -> str | None:
        """`Mode:` from srvr (leader, follower, observer, standalone, read-only), else None."""
        if self.frozen:
            return None
        for line in self.four_letter("srvr").splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return None

    def launch(self, config: dict[str, str], env: dict[str, str]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{self.sid}\n")
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        argv = ["serve", "--no-env", "--config", str(self.config_path)]
        if self.fork and not self.cmd_prefix:
            # Already-imported pyzk, forked: no interpreter start-up per member.
            self.proc = Zygote.shared(env).spawn(argv, str(self.workdir), env, str(self.log_path))
            return
        with open(self.log_path, "ab") as log:
            # Own session: signals (SIGSTOP for freeze) reach only this member.
            self.proc = subprocess.Popen(
                [*self.cmd_prefix, sys.executable, "-m", "pyzk", *argv],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, env=env, start_new_session=True)

    def send(self, sig: int) -> None:
        if self.running and self.proc is not None:
            self.proc.send_signal(sig)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.frozen:  # a stopped process cannot act on SIGTERM
            self.send(signal.SIGCONT)
            self.frozen = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def tail_log(self, n: int = 25) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


class ZkTestEnsemble:
    """N pyzk members as processes on loopback. Settings are zoo.cfg keys for every member.

    hosts: one address per member (default: distinct 127.x.y.1..N on Linux, 127.0.0.1 elsewhere).
    standard_ports: 2181/2888/3888 on each address (needs distinct hosts), else free ports.
    network: "loopback" (members in this network namespace; partition() freezes) or "netns"
    (root only: member i runs in namespace `netns_prefix`zk<i> at `netns_subnet`.1<i> on a
    bridge, clients reach it through a forwarder on its loopback address, and partition()
    cuts its link to the other members).
    fork: start loopback members by forking a helper that has pyzk imported already
    (pyzk.testing.zygote) instead of running `python -m pyzk` for each; False runs a fresh
    interpreter per member. Either way each member is its own process and session.
    Indexes in stop/start/restart/kill/partition are server ids, 1..N.
    """

    def __init__(self, size: int = 3, hosts: Sequence[str] | None = None,
                 workdir: Path | str | None = None, standard_ports: bool = False,
                 tick_ms: int = 200, network: str = "loopback",
                 netns_prefix: str | None = None, netns_subnet: str = "10.254.0",
                 fork: bool = True, **settings: Any) -> None:
        hosts = list(hosts) if hosts is not None else default_hosts(size)
        if len(hosts) != size:
            raise ValueError(f"{size} members need {size} hosts, got {hosts}")
        if standard_ports and len(set(hosts)) != size:
            raise ValueError("standard ports need one distinct address per member")
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pyzk-ensemble-"))
        self.members: dict[int, ZkTestMember] = {}
        self.network = network
        self.net: BridgeNet | None = None
        self._forwarders: list[Forwarder] = []
        self._cut: set[int] = set()
        if network == "netns":
            self._make_namespaces(hosts, netns_prefix or f"pyzkt{os.getpid() % 10**5}-",
                                  netns_subnet)
        elif network != "loopback":
            raise ValueError(f"network must be 'loopback' or 'netns', not {network!r}")
        for sid, host in enumerate(hosts if network == "loopback" else [], 1):
            if standard_ports:
                busy = [p for p in STANDARD_PORTS if not _port_free(host, p)]
                if busy:
                    raise OSError(f"ports {busy} are in use on {host}")
                ports: Sequence[int] = STANDARD_PORTS
            else:
                ports = _free_ports(host, 3)
            self.members[sid] = ZkTestMember(sid, host, ports, self.workdir / f"zk{sid}")
            self.members[sid].fork = fork
        servers = {f"server.{m.sid}": f"{self._peer_host(m)}:{m.quorum_port}:{m.election_port}"
                   for m in self.members.values()}
        self._base = {
            "tickTime": str(tick_ms), "initLimit": "10", "syncLimit": "5",
            "minSessionTimeout": str(2 * tick_ms), "maxSessionTimeout": "60000",
            "maxClientCnxns": "0", "admin.enableServer": "false",
            "4lw.commands.whitelist": "*", "forceSync": "no", **servers,
            **{k: str(v) for k, v in settings.items()},
        }
        self._env = member_env()
        self.startup_seconds: float | None = None

    def _make_namespaces(self, hosts: list[str], prefix: str, subnet: str) -> None:
        reason = unavailable_reason(f"{prefix}zk1")
        if reason:
            raise OSError(f"network='netns' is not available: {reason}")
        self.net = BridgeNet([f"zk{i}" for i in range(1, len(hosts) + 1)], prefix, subnet)
        try:
            self.net.create()
            for sid, host in enumerate(hosts, 1):
                name = f"zk{sid}"
                fwd = Forwarder((host, 0), self.net.threads[name], (self.net.addr[name], 2181))
                self._forwarders.append(fwd)
                m = ZkTestMember(sid, host, STANDARD_PORTS, self.workdir / name)
                m.client_port = fwd.address[1]  # what clients and 4LW probes use
                m.cmd_prefix = ["ip", "netns", "exec", self.net.ns[name]]
                self.members[sid] = m
        except BaseException:
            self._destroy_network()
            raise

    def _destroy_network(self) -> None:
        for f in self._forwarders:
            f.close()
        self._forwarders.clear()
        if self.net is not None:
            self.net.destroy()
            self.net = None

    def _peer_host(self, m: ZkTestMember) -> str:
        return self.net.addr[f"zk{m.sid}"] if self.net is not None else m.host

    # -- addresses ------------------------------------------------------------------------
    @property
    def connection_string(self) -> str:
        return ",".join(m.address for m in self.members.values())

    def connection_string_without(self, *sids: int) -> str:
        return ",".join(m.address for s, m in self.members.items() if s not in sids)

    def member(self, sid: int) -> ZkTestMember:
        return self.members[sid]

    # -- lifecycle ------------------------------------------------------------------------
    def _config(self, m: ZkTestMember) -> dict[str, str]:
        if self.net is not None:  # its own namespace: the standard port on every interface
            return {**self._base, "dataDir": str(m.data_dir), "clientPort": "2181"}
        return {**self._base, "dataDir": str(m.data_dir), "clientPort": str(m.client_port),
                "clientPortAddress": m.host}

    def start(self, sid: int | None = None, timeout: float = 30.0) -> ZkTestEnsemble:
        """Start every member (sid None) and wait for a leader and N-1 followers, or start one
        member and wait until it has joined the running quorum."""
        t0 = time.monotonic()
        targets = list(self.members) if sid is None else [sid]
        for s in targets:
            m = self.members[s]
            if not m.running:
                m.launch(self._config(m), self._env)
        if sid is None:
            self.wait_serving(timeout)
            self.startup_seconds = time.monotonic() - t0
        else:
            self.wait_joined(sid, timeout)
        return self

    def stop(self, sid: int | None = None) -> None:
        """SIGTERM (graceful shutdown) one member, or all of them."""
        for s in ([sid] if sid is not None else list(self.members)):
            self.members[s].terminate()

    def kill(self, sid: int) -> None:
        """SIGKILL: a crash, nothing flushed beyond what the member already wrote."""
        self.members[sid].terminate(signal.SIGKILL)

    def restart(self, sid: int, timeout: float = 30.0) -> None:
        self.stop(sid)
        self.start(sid, timeout)

    def partition(self, sid: int) -> None:
        """network="netns": cut member `sid`'s link to the other members (its bridge port drops
        every packet); its clients, which come through the forwarder, still reach it, as a
        client on the member's side of the cut would.

        network="loopback": freeze member `sid` with SIGSTOP: to its peers and clients it goes silent (no
        pings, no replies) while its sockets stay open, as when a network cut drops every
        packet. It is a freeze, not a network cut: the member notices nothing while
        frozen, so it does not drop its clients or start an election on its side of the
        "partition"; heal() resumes it and it then finds it lost the quorum and rejoins."""
        m = self.members[sid]
        if self.net is not None:
            self.net.cut(f"zk{sid}")
            self._cut.add(sid)
            return
        if not m.running:
            raise RuntimeError(f"member {sid} is not running")
        m.send(signal.SIGSTOP)
        m.frozen = True

    def heal(self) -> None:
        """Reconnect every cut member, resume every frozen one (SIGCONT)."""
        for sid in sorted(self._cut):
            if self.net is not None:
                self.net.heal(f"zk{sid}")
        self._cut.clear()
        for m in self.members.values():
            if m.frozen:
                m.send(signal.SIGCONT)
                m.frozen = False

    def close(self) -> None:
        """Stop every member and remove the work directory this object created."""
        self.heal()
        self.stop()
        self._destroy_network()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ZkTestEnsemble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ----------------------------------------------------------------------------
    def modes(self) -> dict[int, str | None]:
        return {s: m.mode() for s, m in self.members.items()}

    def leader(self) -> int:
        for s, m in self.members.items():
            if m.mode() == "leader":
                return s
        raise LookupError(f"no leader; modes {self.modes()}")

    def followers(self) -> list[int]:
        return [s for s, m in self.members.items() if m.mode() == "follower"]

    def wait_serving(self, timeout: float = 30.0) -> dict[int, str | None]:
        """Until the running, unfrozen members are one leader and followers/observers."""
        def ready() -> dict[int, str | None] | None:
            live = [m for m in self.members.values() if m.running and not m.frozen]
            modes = {m.sid: m.mode() for m in live}
            roles = list(modes.values())
            ok = roles.count("leader") == 1 and all(
                r in ("leader", "follower", "observer") for r in roles)
            return modes if ok else None
        try:
            return _wait(ready, timeout, "an ensemble with one leader")  # type: ignore[no-any-return]
        except TimeoutError as e:
            raise TimeoutError(f"{e}; modes {self.modes()}\n{self.logs()}") from None

    def wait_joined(self, sid: int, timeout: float = 30.0) -> str:
        m = self.members[sid]
        try:
            return _wait(lambda: m.mode() in ("leader", "follower", "observer") and m.mode(),
                         timeout, f"member {sid} to join the quorum")  # type: ignore[no-any-return]
        except TimeoutError as e:
            raise TimeoutError(f"{e}; modes {self.modes()}\n{self.logs()}") from None

    def logs(self, n: int = 25) -> str:
        return "\n".join(f"--- member {s} ({m.address}):\n{m.tail_log(n)}"
                         for s, m in self.members.items())
