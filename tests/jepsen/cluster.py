"""The system under test for the Jepsen-style suite: an ensemble of N members (pyzk, Java
ZooKeeper 3.8.0, or mixed), each in its own network namespace on a bridge (10.78.0.i), and the
nemesis that kills, pauses and partitions them.

Partitions are blackhole routes inside the namespaces: `ip route add blackhole 10.78.0.j/32` in
member i's namespace drops everything i sends to j, so a pair is cut both ways with one route on
each side and one way with one route. A client lives in its home member's namespace and reaches
that member over the member's own address (local delivery, never routed): like a Jepsen client on
the node, it keeps talking to its member whatever the partition, and it is cut from the others
as its member is.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from pathlib import Path
from typing import Any

from pyzk.testing import netns as _ns
from pyzk.testing.netns import NsThread, ip
from tests.ensemble.launcher import Ensemble, four_letter

from .clockstep import preload_env, remove_shm, write_offset

REPO = Path(__file__).resolve().parents[2]
PREFIX = "pyzk-j-"
SUBNET = "10.78.0"


def unavailable_reason() -> str | None:
    return _ns.unavailable_reason(f"{PREFIX}probe{os.getpid()}")


def _probe(th: NsThread, host: str, word: str) -> str:
    return th.run(four_letter, host, word)


class Cluster:
    def __init__(self, workdir: Path, n: int, kinds: dict[int, str] | None = None,
                 tick_ms: int = 200, tag: str = "", clock_steps: bool = False,
                 cfg: dict[str, str] | None = None) -> None:
        self.n = n
        tag = tag or f"{os.getpid() % 100000}"
        self.hub = f"{PREFIX}{tag}-hub"
        self.names = {i: f"{PREFIX}{tag}-m{i}" for i in range(1, n + 1)}
        self.threads: dict[int, NsThread] = {}
        self.made: list[str] = []
        self.blocked: set[tuple[int, int]] = set()
        self.paused: set[int] = set()
        self.ens = Ensemble(workdir, [self.host(i) for i in self.names], tick_ms=tick_ms,
                            extra={"initLimit": "10", "syncLimit": "5", **(cfg or {})},
                            kinds=kinds)
        # clock_steps: every member runs under libfaketime with its own offset file, so that
        # step_clock can move one member's wall clock (clockstep.py).
        self.offset_files: dict[int, Path] = {}
        self.offsets: dict[int, int] = {}
        self.preloaded_pids: set[int] = set()
        for i, m in self.ens.members.items():
            m.cmd_prefix = ["ip", "netns", "exec", self.names[i]]
            if clock_steps:
                self.offset_files[i] = m.workdir / "faketime-offset"
                pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                             if p)
                m.cmd_prefix += ["env", *preload_env(
                    self.offset_files[i],
                    pythonpath if self.ens.kind(i) == "pyzk" else None)]

    def host(self, i: int) -> str:
        return f"{SUBNET}.{i}"

    # -- network ---------------------------------------------------------------------------
    def create(self) -> None:
        _ns.wire_to_bridge(self.hub, [(i, ns, self.host(i)) for i, ns in self.names.items()],
                           self.made)
        for i, ns in self.names.items():
            self.threads[i] = NsThread(ns)
        for i, f in self.offset_files.items():
            f.parent.mkdir(parents=True, exist_ok=True)
            write_offset(f, 0)
            self.offsets[i] = 0
        for i, m in self.ens.members.items():
            m.fourlw = functools.partial(_probe, self.threads[i])

    def destroy(self) -> None:
        for i in list(self.paused):
            self.resume(i)
        self._note_pids()
        self.ens.stop()
        for pid in self.preloaded_pids:
            remove_shm(pid)
        for t in self.threads.values():
            t.close()
        for ns in reversed(self.made):
            ip("netns", "del", ns, check=False)
        self.made.clear()

    def block(self, src: int, dst: int) -> None:
        """Drop everything member `src` sends to member `dst`."""
        if (src, dst) not in self.blocked:
            ip("-n", self.names[src], "route", "add", "blackhole", f"{self.host(dst)}/32")
            self.blocked.add((src, dst))

    def cut(self, a: int, b: int) -> None:
        self.block(a, b)
        self.block(b, a)

    def heal_network(self) -> None:
        for src, dst in sorted(self.blocked):
            ip("-n", self.names[src], "route", "del", "blackhole", f"{self.host(dst)}/32",
               check=False)
        self.blocked.clear()

    # -- clocks ----------------------------------------------------------------------------
    def step_clock(self, i: int, seconds: int) -> None:
        """Set member i's wall clock to real time + `seconds` at once (its monotonic clock is
        untouched); 0 steps it back to the real time."""
        write_offset(self.offset_files[i], seconds)
        self.offsets[i] = seconds

    def heal_clocks(self) -> None:
        for i, off in self.offsets.items():
            if off:
                self.step_clock(i, 0)

    def run(self, i: int, fn: Any, *args: Any, timeout: float = 60) -> Any:
        return self.threads[i].run(fn, *args, timeout=timeout)

    # -- processes -------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        self.ens.start(timeout)

    def _note_pids(self) -> None:
        """Member processes under libfaketime, whose shared memory is removed at the end."""
        if self.offset_files:
            self.preloaded_pids.update(m.proc.pid for m in self.ens.members.values()
                                       if m.proc is not None)

    def kill9(self, i: int) -> None:
        self.resume(i)
        self._note_pids()
        self.ens.members[i].kill9()

    def restart(self, i: int) -> None:
        if not self.ens.members[i].running:
            self.ens.members[i].start()

    def pause(self, i: int) -> None:
        m = self.ens.members[i]
        if m.running and m.proc is not None:
            os.kill(m.proc.pid, signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i: int) -> None:
        m = self.ens.members[i]
        if i in self.paused and m.proc is not None:
            if m.proc.poll() is None:
                os.kill(m.proc.pid, signal.SIGCONT)
            self.paused.discard(i)

    def leader(self) -> int | None:
        for i, m in self.ens.members.items():
            if i not in self.paused and m.mode() == "leader":
                return i
        return None

    def heal_all(self) -> None:
        self.heal_network()
        self.heal_clocks()
        for i in list(self.paused):
            self.resume(i)
        for i in self.ens.members:
            self.restart(i)

    def wait_healthy(self, timeout: float) -> dict[int, str | None]:
        return self.ens.wait_serving(timeout, members=list(self.ens.members))

    def mode_summary(self) -> str:
        return " ".join(f"{i}:{m.mode() or '-'}" for i, m in self.ens.members.items())

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))
