"""Seeded simulator for the ZAB cores: one LeaderCore and LearnerCores over FIFO connections,
with random delivery order across connections, fsync completion, time, connection resets,
crashes/restarts and oracle elections; invariants are checked after every step.

    .venv/bin/python -m tests.simulation.zabsim [schedules] [first_seed]
"""

from __future__ import annotations

import random
import sys
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from pyzk.protocol import records as r
from pyzk.storage.snapshot import SnapNode
from pyzk.zab import leader as LD
from pyzk.zab import learner as LN
from pyzk.zab.packets import encode_snap_body, encode_txn

TICK = 100
STATS: Counter[str] = Counter()
_STAT0 = r.StatPersisted(0, 0, 0, 0, 0, 0, 0, 0, 0)


class Violation(AssertionError):
    pass


@dataclass
class Node:
    sid: int
    observer: bool
    alive: bool = True
    accepted: int = 0
    current: int = 0
    snap: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # durable snapshot history
    log: list[tuple[int, Any, Any]] = field(default_factory=list)  # durable (zxid, hdr, txn)
    pending: list[Any] = field(default_factory=list)  # Persist actions not yet fsynced
    hist: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # applied, in memory
    last_applied: int = 0
    core: Any = None
    conn: Any = None
    serving: bool = False
    full_resync: bool = False


def _val(txn: Any) -> tuple[str, bytes]:
    return (txn.path, bytes(txn.data))


class Sim:
    def __init__(self, seed: int, voters: int = 3, observers: int = 0, window: int = 4) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.nodes = {i: Node(i, i > voters) for i in range(1, voters + observers + 1)}
        self.voters = set(range(1, voters + 1))
        self.observers = set(range(voters + 1, voters + observers + 1))
        self.window = window
        self.now = 0
        self.leader: Node | None = None
        self.committed: dict[int, tuple[str, bytes]] = {}
        self.net: dict[Any, list[deque[Any]]] = {}  # conn -> [to_leader, to_learner]
        self.conn_n = 0
        self.cxid = 0
        self.trace: list[str] = []

    # -- durable state ----------------------------------------------------------------------

    def reload(self, n: Node, crash: bool) -> None:
        if crash:
            n.pending.clear()
        else:
            while n.pending:
                self._fsync_one(n, n.pending.pop(0), notify=False)
        n.hist = dict(n.snap)
        for z, _h, t in n.log:
            n.hist[z] = _val(t)
        n.last_applied = max(n.hist, default=0)
        n.core, n.conn, n.serving = None, None, False

    def last_logged(self, n: Node) -> int:
        return n.log[-1][0] if n.log else max(n.snap, default=0)

    def _fsync_one(self, n: Node, a: Any, notify: bool = True) -> None:
        if isinstance(a, _SnapPersist):
            n.full_resync = False
            # The host discards its old log when it writes a SNAP/TRUNC sync snapshot: entries
            # after the snapshot's zxid may be from a dead branch.
            n.snap = a.entries_snapshot
            n.log = []
        last = self.last_logged(n)
        for e in a.entries:
            z, hdr, txn = e[0], e[1], e[2]
            if z <= last:
                raise Violation(f"s{n.sid}: log append {z:#x} after {last:#x}")
            n.log.append((z, hdr, txn))
            last = z
        if getattr(a, "current_epoch", None) is not None:
            n.current = a.current_epoch
        if notify and n.core is not None:
            self.handle(n, n.core.persisted(a.seq))

    def apply(self, n: Node, z: int, txn: Any, is_leader: bool) -> None:
        v = _val(txn)
        if z <= n.last_applied:
            raise Violation(f"s{n.sid}: apply {z:#x} after {n.last_applied:#x}")
        if is_leader:
            if z in self.committed and self.committed[z] != v:
                raise Violation(f"zxid {z:#x} committed twice with different txns")
            self.committed[z] = v
        else:
            known = self.committed.get(z)
            if known is None and self.leader is not None:
                known = self.leader.hist.get(z)  # the new leader's history, about to commit
            if known != v:
                raise Violation(f"s{n.sid}: applied {z:#x} which is not that committed txn")
        gap = [c for c in self.committed if n.last_applied < c < z]
        if gap:
            raise Violation(f"s{n.sid}: applied {z:#x} skipping committed {gap[0]:#x}")
        n.hist[z] = v
        n.last_applied = z

    def check_prefix(self, n: Node, what: str) -> None:
        top = n.last_applied
        want = {z: v for z, v in self.committed.items() if z <= top}
        if n.hist != want:
            diff = sorted(set(n.hist.items()) ^ set(want.items()))[:3]
            raise Violation(f"s{n.sid} {what}: history is not the committed prefix: {diff}")

    # -- wiring -----------------------------------------------------------------------------

    def handle(self, n: Node, actions: list[Any]) -> None:
        for a in actions:
            self.trace.append(f"s{n.sid} {type(a).__name__}")
            if isinstance(a, (LD.SendTo, LN.Send)):
                conn = a.conn if isinstance(a, LD.SendTo) else n.conn
                q = self.net.get(conn)
                if q is not None:
                    q[1 if isinstance(a, LD.SendTo) else 0].append(("pkt", a.qp))
            elif isinstance(a, LD.SendSnap):
                q = self.net.get(a.conn)
                if n.last_applied != a.zxid:
                    raise Violation(f"leader tree at {n.last_applied:#x}, SNAP says {a.zxid:#x}")
                if q is not None:
                    nodes = [SnapNode(p, d, -1, _STAT0) for p, d in self.tree(n).items()]
                    if self.rng.random() < 0.05:
                        encode_snap_body([], [], nodes)  # exercise the codec now and then
                    q[1].append(("snap", r.QuorumPacket(15, a.zxid, None, None), nodes,
                                 dict(n.hist)))
            elif isinstance(a, (LD.LogProposals, LN.Persist)):
                if isinstance(a, LN.Persist) and a.snapshot:
                    a = _SnapPersist(a, dict(n.hist))  # the snapshot is of the tree now
                n.pending.append(a)
            elif isinstance(a, (LD.PersistEpoch, LN.PersistEpoch)):
                if a.name == "acceptedEpoch":
                    n.accepted = a.value
                else:
                    n.current = a.value
            elif isinstance(a, LD.ApplyCommitted):
                STATS["commits"] += 1
                self.apply(n, a.zxid, a.txn, True)
            elif isinstance(a, LN.Apply):
                self.apply(n, a.entry.zxid, a.entry.txn, False)
            elif isinstance(a, LN.Truncate):
                if max(n.snap, default=0) > a.zxid:
                    # A sync snapshot from a leader that never established, now truncated away:
                    # disk cannot give the state at a.zxid. Resync from empty without touching
                    # disk (Java exits with "Not able to truncate the log").
                    STATS["full_resync"] += 1
                    n.full_resync = True
                    self.handle(n, n.core.truncate_failed())
                    return
                n.log = [e for e in n.log if e[0] <= a.zxid]
                n.pending.clear()
                core, conn = n.core, n.conn
                self.reload(n, crash=True)
                n.core, n.conn = core, conn
            elif isinstance(a, LN.LoadSnapshot):
                pass  # the history rides with the message; see deliver()
            elif isinstance(a, LN.ResetDatabase):
                n.hist, n.last_applied = {}, 0
            elif isinstance(a, LD.Established):
                STATS["elections"] += 1
                self.established(n)
            elif isinstance(a, LN.StartServing):
                STATS[n.core.mode] += 1
                n.serving = True
                self.check_prefix(n, "StartServing")
            elif isinstance(a, LD.StepDown):
                self.drop_leader(crash=False)
            elif isinstance(a, LD.Close):
                self.reset(a.conn)
            elif isinstance(a, LN.Disconnected):
                if n.conn is not None:
                    self.reset(n.conn)

    def tree(self, n: Node) -> dict[str, bytes]:
        t: dict[str, bytes] = {}
        for z in sorted(n.hist):
            p, v = n.hist[z]
            t[p] = v
        return t

    def established(self, n: Node) -> None:
        for z, v in self.committed.items():
            if n.hist.get(z) != v:
                raise Violation(f"new leader s{n.sid} lost committed {z:#x}")
        for z, v in n.hist.items():
            self.committed.setdefault(z, v)
        n.serving = True

    def reset(self, conn: Any) -> None:
        """A TCP reset: both ends see the connection close."""
        if self.net.pop(conn, None) is None:
            return
        lid, sid, _ = conn
        ln = self.nodes[sid]
        if ln.conn == conn and ln.core is not None:
            ln.conn = None
            self.handle(ln, ln.core.on_disconnect())
            self.reload(ln, crash=False)
        if self.leader is not None and self.leader.sid == lid and self.leader.core is not None:
            self.handle(self.leader, self.leader.core.on_disconnect(conn))

    def drop_leader(self, crash: bool) -> None:
        ld, self.leader = self.leader, None
        if ld is None:
            return
        for conn in [c for c in self.net if c[0] == ld.sid]:
            self.reset(conn)
        if not crash:
            self.reload(ld, crash=False)

    def connect(self, n: Node) -> None:
        assert self.leader is not None and n.core is None and n.alive
        self.conn_n += 1
        conn = (self.leader.sid, n.sid, self.conn_n)
        self.net[conn] = [deque(), deque()]
        n.conn = conn
        n.core = LN.LearnerCore(n.sid, n.observer, n.accepted, n.current, self.last_logged(n),
                                tick_ms=TICK, init_limit=10, sync_limit=5,
                                full_resync=n.full_resync)
        self.handle(n, n.core.connected(self.now))

    def elect(self) -> None:
        live = [n for n in self.nodes.values() if n.alive and n.sid in self.voters]
        if 2 * len(live) <= len(self.voters):
            return
        for n in self.nodes.values():
            if n.alive and n.conn is not None:
                self.reset(n.conn)
        # The oracle: FLE's order (currentEpoch, last logged zxid, sid) over the live voters.
        ld = max(live, key=lambda n: (n.current, self.last_logged(n), n.sid))
        self.reload(ld, crash=False)
        hist = sorted(ld.log, key=lambda e: e[0])
        cl = [(z, encode_txn(h, t)) for z, h, t in hist][-self.window:]

        def disk(peer: int, ld: Node = ld) -> list[tuple[int, bytes]]:
            if not ld.log or ld.log[0][0] > peer:
                return []
            return [(z, encode_txn(h, t)) for z, h, t in ld.log if z >= peer]

        ld.core = LD.LeaderCore(ld.sid, self.voters, self.observers, ld.accepted, ld.current,
                                ld.last_applied, cl, TICK, 10, 5, disk_log=disk,
                                commit_log_count=self.window)
        self.leader = ld
        self.handle(ld, ld.core.start(self.now))
        for n in self.nodes.values():
            if n.alive and n is not ld:
                self.reload(n, crash=False)
                self.connect(n)

    # -- events -----------------------------------------------------------------------------

    def deliver(self, conn: Any, to_learner: bool) -> None:
        msg = self.net[conn][1 if to_learner else 0].popleft()
        if to_learner:
            n = self.nodes[conn[1]]
            if msg[0] == "snap":
                self.handle(n, n.core.on_packet(msg[1], self.now, _FakeSnap(msg[2])))
                if n.core is not None and n.core.mode == "SNAP":
                    n.hist, n.last_applied = msg[3], msg[1].zxid
            else:
                self.handle(n, n.core.on_packet(msg[1], self.now))
        elif self.leader is not None and self.leader.core is not None:
            self.handle(self.leader, self.leader.core.on_packet(conn, msg[1], self.now))

    def write(self) -> None:
        ld = self.leader
        if ld is None or ld.core is None or ld.core.phase != "broadcast":
            return
        self.cxid += 1
        z = ld.core.next_zxid()
        hdr = r.TxnHeader(1, self.cxid, z, 0, 5)
        txn = r.SetDataTxn(f"/p{self.rng.randrange(4)}", f"{z:x}.{self.cxid}".encode(), 0)
        self.handle(ld, ld.core.propose(hdr, txn, None, self.now))

    def advance(self) -> None:
        self.now += self.rng.randrange(1, TICK // 2 + 1)
        for n in list(self.nodes.values()):
            if n.core is not None and n.alive:
                if n is self.leader:
                    self.handle(n, n.core.on_tick(self.now))
                elif n.conn is not None:
                    self.handle(n, n.core.on_tick(self.now))

    def step(self, chaos: bool) -> bool:
        """One random event; False when nothing but time can happen."""
        rng = self.rng
        ev: list[tuple[float, Any]] = []
        for conn, (up, down) in self.net.items():
            if up:
                ev.append((10, (self.deliver, conn, False)))
            if down:
                ev.append((10, (self.deliver, conn, True)))
        for n in self.nodes.values():
            if n.pending and n.alive:
                ev.append((4, (self._fsync_all, n)))
            if n.alive and n.core is None and self.leader is not None and n is not self.leader:
                ev.append((2, (self.connect, n)))
        if self.leader is None:
            ev.append((3, (self.elect,)))
        elif self.leader.core.phase == "broadcast" and self.writes > 0:
            ev.append((3, (self._write1,)))
        busy = bool(ev)
        ev.append((0.6 if busy else 1, (self.advance,)))
        if chaos:
            for conn in self.net:
                ev.append((0.15, (self.reset, conn)))
            for n in self.nodes.values():
                ev.append((0.3 if n.alive else 1.0, (self.crash if n.alive else self.restart, n)))
        total = sum(w for w, _ in ev)
        x = rng.random() * total
        chosen = ev[-1][1]
        for w, c in ev:
            x -= w
            if x <= 0:
                chosen = c
                break
        chosen[0](*chosen[1:])
        return busy

    def _write1(self) -> None:
        self.writes -= 1
        self.write()

    def _fsync_all(self, n: Node) -> None:
        batch, n.pending = n.pending, []
        for a in batch:
            self._fsync_one(n, a)

    def crash(self, n: Node) -> None:
        n.alive = False
        if n is self.leader:
            self.drop_leader(crash=True)
        elif n.conn is not None:
            conn, n.core = n.conn, None
            n.conn = None
            self.net.pop(conn, None)
            if self.leader is not None and self.leader.core is not None:
                self.handle(self.leader, self.leader.core.on_disconnect(conn))
        self.reload(n, crash=True)

    def restart(self, n: Node) -> None:
        n.alive = True
        self.reload(n, crash=True)

    def run(self, steps: int = 300, writes: int = 30) -> None:
        self.writes = writes
        for _ in range(steps):
            self.step(chaos=True)
        for n in self.nodes.values():
            if not n.alive:
                self.restart(n)
        self.writes = 3
        for _ in range(20000):
            if self.quiet():
                return self.final_check()
            self.step(chaos=False)
        raise Violation("no quiescence: " + " | ".join(self.trace[-12:]))

    def quiet(self) -> bool:
        ld = self.leader
        if ld is None or ld.core.phase != "broadcast" or ld.core.outstanding or self.writes:
            return False
        if any(q[0] or q[1] for q in self.net.values()):
            return False
        return all(n.serving and not n.pending for n in self.nodes.values())

    def final_check(self) -> None:
        ld = self.leader
        assert ld is not None
        for n in self.nodes.values():
            self.check_prefix(n, "quiescence")
            if n.last_applied != ld.last_applied or self.tree(n) != self.tree(ld):
                raise Violation(f"s{n.sid} differs from leader s{ld.sid} after quiescence")


class _SnapPersist:
    """An LN.Persist plus the tree history captured when it was issued (the snapshot)."""

    def __init__(self, a: Any, hist: dict[int, tuple[str, bytes]]) -> None:
        self.seq, self.entries, self.snapshot, self.current_epoch = a
        self.entries_snapshot = hist


class _FakeSnap:
    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = nodes


def run_many(count: int, first_seed: int = 0) -> tuple[int, float]:
    import time
    t0 = time.perf_counter()
    for seed in range(first_seed, first_seed + count):
        for voters, obs in ((3, 0), (3, 1), (5, 0)):
            sim = Sim(seed, voters, obs)
            try:
                sim.run()
            except Violation as e:
                raise Violation(f"seed={seed} voters={voters} observers={obs}: {e}") from None
    return count * 3, time.perf_counter() - t0


if __name__ == "__main__":
    cnt = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(f"zabsim: seeds {first}..{first + cnt - 1}")
    n, dt = run_many(cnt, first)
    print(f"{n} schedules in {dt:.1f}s ({n / dt:.0f}/s); {dict(STATS)}")
