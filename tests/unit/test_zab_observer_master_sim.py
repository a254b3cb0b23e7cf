"""Seeded schedules of one follower's ObserverMasterCore and a pyzk observer's LearnerCore:
the follower commits txns while the observer connects, syncs (DIFF from the window or the
txn log, or SNAP), loses its connection (packets in flight lost) and comes back, with the
deliveries interleaved at random. The observer's applied history must always be a prefix of
the follower's (no gap, no duplicate at the seam between the sync and the INFORMs), and equal
to it once everything is delivered. OM_SIM_SEEDS (default 150) schedules."""

from __future__ import annotations

import os
import random
from collections import deque
from typing import Any

from pyzk.protocol import records as r
from pyzk.storage.snapshot import Snapshot
from pyzk.zab import learner as LN
from pyzk.zab import observer_master as OM
from pyzk.zab import packets as P
from pyzk.zab.leader import Close, SendSnap, SendTo
from pyzk.zab.packets import PT, packet
from pyzk.zab.zxid import make_zxid as z

# What a SNAP carried: the learner core only passes it on to the host (LoadSnapshot).
EMPTY_SNAP = Snapshot([], [], [])

SEEDS = int(os.environ.get("OM_SIM_SEEDS", "150"))
WINDOW = 8


def _data(zxid: int) -> bytes:
    return P.encode_txn(r.TxnHeader(1, 1, zxid, 0, 5), r.SetDataTxn("/a", b"v", 0))


class Schedule:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.history: list[int] = []
        disk = self.rng.random() < 0.5
        self.om = OM.ObserverMasterCore(
            2, 1, 0, b"", self._db, self._disk if disk else None,
            tick_ms=100, init_limit=5, sync_limit=2)
        self.now = 0
        self.applied: list[int] = []  # the observer's tree (and log: persisted at once)
        self.conn = 0
        self.ob: LN.LearnerCore | None = None
        self.to_ob: deque[Any] = deque()  # (packet, snapshot marker)
        self.to_om: deque[Any] = deque()

    def _db(self) -> tuple[int, list[tuple[int, bytes]]]:
        last = self.history[-1] if self.history else 0
        return last, [(x, _data(x)) for x in self.history[-WINDOW:]]

    def _disk(self, zxid: int) -> list[tuple[int, bytes]]:
        return [(x, _data(x)) for x in self.history]

    def check(self) -> None:
        assert self.applied == self.history[:len(self.applied)], (
            f"seed {self.seed}: observer {[hex(x) for x in self.applied]} is not a prefix of "
            f"{[hex(x) for x in self.history]}")

    # -- wiring ------------------------------------------------------------------------------
    def om_actions(self, acts: list[Any]) -> None:
        for a in acts:
            if isinstance(a, SendTo) and a.conn == self.conn:
                self.to_ob.append((a.qp, None))
            elif isinstance(a, SendSnap) and a.conn == self.conn:
                self.to_ob.append((packet(PT.SNAP, a.zxid), a.zxid))
            elif isinstance(a, Close) and a.conn == self.conn:
                self.disconnect()

    def ob_actions(self, acts: list[Any]) -> None:
        assert self.ob is not None
        for a in acts:
            if isinstance(a, LN.Send):
                self.to_om.append(a.qp)
            elif isinstance(a, LN.Persist):
                self.ob_actions(self.ob.persisted(a.seq))
            elif isinstance(a, LN.Apply):
                self.applied.append(a.entry.zxid)
                self.check()
            elif isinstance(a, LN.LoadSnapshot):
                self.applied = [x for x in self.history if x <= a.zxid]
                self.check()
            elif isinstance(a, LN.Truncate):
                self.applied = [x for x in self.applied if x <= a.zxid]
            elif isinstance(a, LN.Disconnected):
                self.disconnect()
                return

    def connect(self) -> None:
        self.conn += 1
        last = self.applied[-1] if self.applied else 0
        self.ob = LN.LearnerCore(4, True, 1, 1, last, tick_ms=100, init_limit=5, sync_limit=2)
        self.ob_actions(self.ob.connected(self.now))

    def disconnect(self) -> None:
        if self.ob is None:
            return
        self.om_actions(self.om.on_disconnect(self.conn))
        self.ob = None
        self.to_ob.clear()
        self.to_om.clear()

    # -- steps -------------------------------------------------------------------------------
    def commit(self) -> None:
        zxid = z(1, len(self.history) + 1)
        self.history.append(zxid)
        self.om_actions(self.om.committed(zxid, _data(zxid)))

    def deliver_to_observer(self) -> None:
        if self.ob is not None and self.to_ob:
            qp, snap_zxid = self.to_ob.popleft()
            self.ob_actions(self.ob.on_packet(qp, self.now, EMPTY_SNAP if snap_zxid else None))

    def deliver_to_master(self) -> None:
        if self.ob is not None and self.to_om:
            self.om_actions(self.om.on_packet(self.conn, self.to_om.popleft(), self.now))

    def step(self) -> None:
        self.now += 5
        roll = self.rng.random()
        if roll < 0.2:
            self.commit()
        elif roll < 0.5:
            self.deliver_to_observer()
        elif roll < 0.8:
            self.deliver_to_master()
        elif roll < 0.85:
            self.disconnect()
        elif roll < 0.95:
            if self.ob is None:
                self.connect()
        else:
            self.om_actions(self.om.on_tick(self.now))

    def settle(self) -> None:
        if self.ob is None:
            self.connect()
        for _ in range(10_000):
            if not (self.to_ob or self.to_om):
                break
            self.deliver_to_observer()
            self.deliver_to_master()
        assert self.ob is not None and self.ob.state is LN.LearnerState.BROADCAST, self.seed
        assert self.applied == self.history, f"seed {self.seed}"


def test_observer_histories_follow_the_follower_across_reconnects() -> None:
    for seed in range(SEEDS):
        s = Schedule(seed)
        for _ in range(300):
            s.step()
        s.settle()
