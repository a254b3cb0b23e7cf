"""Network namespaces for the partition tests: a hub namespace holding a bridge, one namespace
per member joined to it by a veth pair (10.77.0.N/24, nothing in the root namespace), links cut
and healed by downing the member's bridge port, and code run inside a namespace from a worker
thread that setns()'d into it (threads it starts, e.g. kazoo's, inherit the namespace).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from pyzk.testing import netns as _ns
from pyzk.testing.netns import NsThread, ip
from tests.ensemble.launcher import Ensemble, four_letter

PREFIX = "pyzk-t-"
SUBNET = "10.77.0"
T = TypeVar("T")

__all__ = ["Fabric", "NsThread", "ip", "unavailable_reason"]


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (not root, no CAP_SYS_ADMIN, no veth), or None."""
    return _ns.unavailable_reason(f"{PREFIX}probe{os.getpid()}")


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
        _ns.wire_to_bridge(self.hub, [(i, ns, self.host(i)) for i, ns in self.names.items()],
                           self.made)
        for i, ns in self.names.items():
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
