"""Faults aimed at syncs in progress, for tests/simulation/hostsim.py: a watch on the leader's
side of each quorum-port connection reads what the leader writes up to UPTODATE and, by the
seed, resets the connection a few ms into the sync, crashes the learner then, cuts the stream
right before NEWLEADER or UPTODATE (the learner got the DIFF, TRUNC or SNAP and what followed,
not the rest: an RST mid-stream), or crashes a member shortly after the sync ended.

The windows these open are where the past fixes of pyzk/zab/database.py and learner.py live:
a SNAP tree whose NEWLEADER snapshot never reached disk, DIFF commits applied before NEWLEADER
logged them, a member that just took a SNAP (its window replaced) leading soon after.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyzk.zab.packets import PT, _More, _next_packet
from tests.simulation.simloop import Incarnation
from tests.simulation.simmember import STATS
from tests.simulation.simnet import Connection

if TYPE_CHECKING:
    from tests.simulation.hostsim import Sim

SYNC_RESET = 0.12  # the share of syncs whose connection resets a few ms in
SYNC_CRASH = 0.12  # ... and of those whose learner crashes a few ms in
SYNC_CUT = 0.2     # ... whose stream is cut right before NEWLEADER (2/3) or UPTODATE (1/3)
AFTER_CUT_CRASH = 0.5  # the share of members whose sync was cut that crash after the next one
AFTER_SYNC_CRASH = 0.08  # ... of other syncs whose learner (or, as often, leader) crashes after
AFTER_SNAP_LEADER_CRASH = 0.25  # ... of SNAP syncs whose leader crashes soon after UPTODATE
_SYNC_OPS = (PT.DIFF, PT.SNAP, PT.TRUNC)


def packet_starts(data: bytes) -> list[tuple[int, int]]:
    """(type, offset) of each quorum packet a write holds, up to and including a SNAP (its
    snapshot body follows in the same write and is not walked)."""
    out: list[tuple[int, int]] = []
    buf = bytearray(data)
    off = 0
    while off < len(buf):
        try:
            qp, end = _next_packet(buf, off)
        except _More:
            break
        t = qp.type
        out.append((t, off))
        if t == PT.SNAP:
            break
        off = end
    return out


class SyncWatch:
    """One quorum-port connection seen from its leader's side."""

    def __init__(self, sim: Sim, conn: Connection) -> None:
        self.sim = sim
        self.conn = conn
        self.kind: int | None = None  # DIFF, SNAP or TRUNC once seen
        self.cut_before: int | None = None  # the packet type the stream is cut before
        self.done = False

    def __call__(self, side: int, data: bytes) -> int | None:
        if side != 1 or self.done:
            return None
        for t, off in packet_starts(data):
            if self.kind is None and t in _SYNC_OPS:
                self.kind = t
                STATS[PT(t).name] += 1
                self._planned()
            if self.kind is None:
                continue
            if t == self.cut_before:
                return self._cut(t, off)
            if t == PT.UPTODATE:
                self.done = True
                self._synced()
                return None
        return None

    def _learner(self) -> Incarnation | None:
        return self.conn.owners[0]

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        self.sim.loop.call_later(delay, fn, *args, context=contextvars.Context())

    def _planned(self) -> None:
        rng = self.sim.rng
        x = rng.random()
        later = rng.uniform(0.0, 0.02)
        learner = self._learner()
        if x < SYNC_RESET:
            self._later(later, self._reset)
        elif x < SYNC_RESET + SYNC_CRASH and learner is not None:
            self._later(later, self._crash, learner, "during a sync")
        elif x < SYNC_RESET + SYNC_CRASH + SYNC_CUT:
            self.cut_before = rng.choice((PT.NEWLEADER, PT.NEWLEADER, PT.UPTODATE))

    def _cut(self, t: int, off: int) -> int | None:
        self.done = True
        learner = self._learner()
        if self.conn.broken or not self.sim.faults_on or learner is None:
            return None
        self.sim.trace.append(f"cut the {PT(self.kind or 0).name} sync of {learner.sid} "
                              f"before {PT(t).name} at {self.sim.loop.time():.4f}")
        STATS["sync_cuts"] += 1
        self.sim.cut_members.add(learner.sid)
        return off

    def _synced(self) -> None:
        """UPTODATE is on its way: perhaps crash the learner or the leader a little later."""
        sim, rng = self.sim, self.sim.rng
        learner, leader = self._learner(), self.conn.owners[1]
        if learner is None or leader is None:
            return
        later = rng.uniform(0.002, 0.06)
        x = rng.random()
        if learner.sid in sim.cut_members:
            sim.cut_members.discard(learner.sid)
            if x < AFTER_CUT_CRASH:
                self._later(later, self._crash, learner, "after its sync that followed a cut")
        elif self.kind == PT.SNAP and x < AFTER_SNAP_LEADER_CRASH:
            self._later(later, self._crash, leader, "(leader) after a SNAP sync")
        elif x < AFTER_SYNC_CRASH:
            who = learner if rng.random() < 0.5 else leader
            self._later(later, self._crash, who, "after a sync")

    def _reset(self) -> None:
        if not self.conn.broken and self.sim.faults_on:
            self.sim.trace.append(f"reset during a sync at {self.sim.loop.time():.4f}")
            STATS["sync_resets"] += 1
            self.conn.reset()

    def _crash(self, inc: Incarnation, why: str) -> None:
        m = self.sim.members[inc.sid]
        if m.inc is inc and inc.alive and self.sim.faults_on and \
                sum(x.alive for x in self.sim.members.values()) > 1:
            self.sim.trace.append(f"crash {m.sid} {why} at {self.sim.loop.time():.4f}")
            STATS["sync_crashes"] += 1
            m.crash()
