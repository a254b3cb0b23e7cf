"""One simulated member of tests/simulation/hostsim.py: an unmodified QuorumPeer per
incarnation, on its data directory (real files), its clock, and its seeded generator. A crash
freezes the incarnation (simloop.py) and does to its files what the kernel does to a killed
process's."""

from __future__ import annotations

import contextvars
import dataclasses
import os
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from pyzk.config.load import build_config
from pyzk.config.model import Config
from pyzk.server.clock import Clock
from pyzk.server.leader_host import LeaderHost
from pyzk.server.quorum_peer import QuorumPeer
from pyzk.server.zkserver import ZkServer
from tests.simulation.simloop import MEMBER, Incarnation, SimLoop

if TYPE_CHECKING:
    from tests.simulation.hostsim import Sim

STATS: Counter[str] = Counter()  # what the schedules did, summed over runs (hostsim.STATS)
TICK_MS = 100
WINDOW = 8        # commitLogCount, set below Java's floor so syncs reach the disk log and SNAP


class LoopClock(Clock):
    """One member's clocks on the simulated loop's virtual time; its wall clock can be stepped
    (NTP, an operator), its elapsed clock cannot."""

    def __init__(self, loop: SimLoop) -> None:
        self.loop = loop
        self.wall_offset_ms = 0

    def wall_ms(self) -> int:
        return 1_700_000_000_000 + self.wall_offset_ms + int(self.loop.time() * 1000)

    def mono_ms(self) -> int:
        return 1_000 + int(self.loop.time() * 1000)


def host(sid: int) -> str:
    return f"10.22.0.{sid}"


def member_config(sid: int, n: int, observers: int, root: Path) -> Config:
    data = root / f"m{sid}"
    data.mkdir(parents=True, exist_ok=True)
    (data / "myid").write_text(f"{sid}\n")
    entries = {
        "tickTime": str(TICK_MS), "initLimit": "10", "syncLimit": "5",
        "dataDir": str(data), "clientPort": "2181", "clientPortAddress": host(sid),
        "admin.enableServer": "false", "preAllocSize": "16", "snapCount": "40",
        "minSessionTimeout": str(2 * TICK_MS), "maxSessionTimeout": str(20 * TICK_MS),
        "cnxTimeout": "500",
    }
    for i in range(1, n + observers + 1):
        kind = ":observer" if i > n else ""
        entries[f"server.{i}"] = f"{host(i)}:2888:3888{kind}"
    if sid > n:
        entries["peerType"] = "observer"
    cfg = build_config(entries, myid=sid)
    return dataclasses.replace(cfg, commit_log_count=WINDOW)


class Member:
    def __init__(self, sim: Sim, sid: int, config: Config) -> None:
        self.sim = sim
        self.sid = sid
        self.config = config
        self.peer: QuorumPeer | None = None
        self.inc: Incarnation | None = None
        self.boots = 0
        self.corpses: list[tuple[Incarnation, QuorumPeer]] = []  # kept: frozen, never collected
        self.clock = LoopClock(sim.loop)

    @property
    def alive(self) -> bool:
        return self.inc is not None and self.inc.alive

    def start(self) -> None:
        self.boots += 1
        self.inc = Incarnation(self.sid, self.boots)
        peer = self.peer = QuorumPeer(
            self.config, clock=self.clock,
            rng=random.Random(self.sim.seed * 1000 + self.sid * 50 + self.boots))
        peer.on_fatal = lambda: self.sim.fatal(self.sid)
        ctx = contextvars.copy_context()
        ctx.run(MEMBER.set, self.inc)
        self.sim.loop.create_task(self._boot(peer), context=ctx)

    async def _boot(self, peer: QuorumPeer) -> None:
        try:
            await peer.start()
        except Exception as e:  # noqa: BLE001 - a member that cannot start is a finding
            self.sim.errors.append(f"member {self.sid} failed to start: {e!r}")

    def crash(self) -> None:
        assert self.inc is not None and self.peer is not None
        self.inc.alive = False
        self.sim.fabric.crashed(self.inc)
        _kill_files(self.config.data_dir)
        self.corpses.append((self.inc, self.peer))
        STATS["crashes"] += 1

    def server(self) -> ZkServer | None:
        return self.peer.server if self.alive and self.peer is not None else None

    def leading_epoch(self) -> int | None:
        peer = self.peer
        if not self.alive or peer is None:
            return None
        role = peer.role
        if isinstance(role, LeaderHost) and role.established_at is not None:
            return peer.current_epoch
        return None


def _kill_files(data_dir: Path) -> None:
    """What the kernel does to a killed process's files: every descriptor into its data
    directory is closed (its locks released, what it wrote kept, Python's unflushed buffers
    lost). Each is pointed at /dev/null, so the frozen objects that still hold the number can
    never write into a file a later incarnation opened under it."""
    prefix = str(data_dir.resolve()) + "/"
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(prefix):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)
