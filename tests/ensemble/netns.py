"""Network namespaces for the partition tests: a hub namespace holding a bridge, one namespace
per member joined to it by a veth pair (10.77.0.N/24, nothing in the root namespace), links cut
and healed by downing the member's bridge port, and code run inside a namespace from a worker
thread that setns()'d into it (threads it starts, e.g. kazoo's, inherit the namespace).
"""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ensemble import Ensemble, four_letter

PREFIX = "pyzk-t-"
SUBNET = "10.77.0"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                          check=check)


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (not root, no CAP_SYS_ADMIN, no veth), or None."""
    probe = f"{PREFIX}probe{os.getpid()}"
    try:
        r = ip("netns", "add", probe, check=False)
        if r.returncode != 0:
            return f"`ip netns add` is not permitted here: {r.stderr.strip()}"
        r = ip("link", "add", "name", "a", "netns", probe, "type", "veth", "peer", "name", "b",
               "netns", probe, check=False)
        if r.returncode != 0:
            return f"cannot create veth pairs in a namespace: {r.stderr.strip()}"
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run `ip`: {e}"
    finally:
        ip("netns", "del", probe, check=False)


def _enter(name: str) -> None:
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


class NsThread:
    """One worker thread inside namespace `name`; `run` executes a callable there."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_enter,
                                       initargs=(name,))

    def run(self, fn: Callable[..., T], *args: Any, timeout: float = 60) -> T:
        return self.pool.submit(fn, *args).result(timeout)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _probe(th: NsThread, host: str, word: str) -> str:
    return th.run(four_letter, host, word)


class Fabric:
    """`n` member namespaces on one bridge; member i has address 10.77.0.i."""

    def __init__(self, n: int) -> None:
        tag = f"{os.getpid() % 100000}"
        self.hub = f"{PREFIX}{tag}-hub"
        self.names = {i: f"{PREFIX}{tag}-m{i}" for i in range(1, n + 1)}
        self.threads: dict[int, NsThread] = {}
        self.made: list[str] = []

    def host(self, i: int) -> str:
        return f"{SUBNET}.{i}"

    def create(self) -> None:
        ip("netns", "add", self.hub)
        self.made.append(self.hub)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for i, ns in self.names.items():
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
            # Both ends are created directly inside their namespaces: nothing touches the
            # root namespace.
            ip("link", "add", "name", "eth0", "netns", ns, "type", "veth",
               "peer", "name", f"p{i}", "netns", self.hub)
            ip("-n", self.hub, "link", "set", f"p{i}", "master", "br0")
            ip("-n", self.hub, "link", "set", f"p{i}", "up")
            ip("-n", ns, "addr", "add", f"{self.host(i)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            self.threads[i] = NsThread(ns)

    def cut(self, i: int) -> None:
        """Partition member i from everyone: its bridge port goes down (packets dropped)."""
        ip("-n", self.hub, "link", "set", f"p{i}", "down")

    def heal(self, i: int) -> None:
        ip("-n", self.hub, "link", "set", f"p{i}", "up")

    def run(self, i: int, fn: Callable[..., T], *args: Any, timeout: float = 60) -> T:
        return self.threads[i].run(fn, *args, timeout=timeout)

    def destroy(self) -> None:
        for t in self.threads.values():
            t.close()
        # Deleting a namespace deletes its veth ends, and with them their peers.
        for ns in reversed(self.made):
            ip("netns", "del", ns, check=False)
        self.made.clear()

    def ensemble(self, workdir: Any, **kw: Any) -> Ensemble:
        """An Ensemble whose member i runs inside namespace i (`ip netns exec`, which execs,
        so the PID is pyzk's own) and is probed with 4LWs from inside it."""
        ens = Ensemble(workdir, [self.host(i) for i in self.names], **kw)
        for i, m in ens.members.items():
            m.cmd_prefix = ["ip", "netns", "exec", self.names[i]]
            m.fourlw = functools.partial(_probe, self.threads[i])
        return ens
