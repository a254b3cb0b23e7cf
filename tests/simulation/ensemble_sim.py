"""Seeded simulation of a whole ensemble: every server runs the real FLE core (pyzk.zab.election)
and, once it decides, the real LeaderCore or LearnerCore, wired as QuorumPeer._run, LeaderHost and
LearnerHost wire them; roles end back in LOOKING. Each member's database bookkeeping is the real
ReplicaDatabase (pyzk/zab/database.py): the committed window, fast-forward, unsaved SNAP trees
and TRUNC run as the server runs them; this file only carries out their disk steps on a
simulated disk (`run_db`), as pyzk/server/replication.carry_out does on the real one. The
network is FIFO per connection with random interleaving across connections, resets,
partitions, crashes (durable log/epochs/snapshot kept) and restarts. Invariants are checked after every step (see `Violation` raises).

    .venv/bin/python -m tests.simulation.ensemble_sim [schedules] [first_seed] [3|3+1|5|all]
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter, deque
from typing import Any

from pyzk.config.model import LearnerType, QuorumServer
from pyzk.protocol import records as r
from pyzk.storage.snapshot import SnapNode
from pyzk.zab import database as D
from pyzk.zab import election as E
from pyzk.zab import leader as LD
from pyzk.zab import learner as LN
from pyzk.zab.packets import encode_txn
from pyzk.zab.quorum import QuorumMaj
from pyzk.zab.vote import ServerState
from pyzk.zab.zxid import epoch_of
from tests.simulation.zabsim import _STAT0, TICK, Violation, _FakeSnap, _val

STATS: Counter[str] = Counter()
WINDOW = 4       # commitLogCount: small, so that syncs go to the disk log and to SNAP
SETDATA = 5
FIN = ("fin",)
CONFIGS = {"3": (3, 0), "3+1": (3, 1), "5": (5, 0)}


class Conn:
    """One quorum-port TCP connection: FIFO each way; a FIN follows the data it closed after."""

    def __init__(self, leader: Server, learner: Server, n: int) -> None:
        self.leader, self.learner, self.n = leader, learner, n
        self.lcore: Any = leader.core
        self.ncore: Any = None
        self.up: deque[Any] = deque()    # learner -> leader
        self.down: deque[Any] = deque()  # leader -> learner

    def __repr__(self) -> str:
        return f"c{self.n}:{self.leader.sid}<-{self.learner.sid}"


class Server:
    def __init__(self, sid: int, observer: bool, quorum: QuorumMaj) -> None:
        self.sid, self.observer, self.quorum = sid, observer, quorum
        self.alive = True
        # durable: epoch files, snapshot (as applied history + its zxid), txn log
        self.accepted = self.current = 0
        self.snap: dict[int, tuple[str, bytes]] = {}
        self.snap_zxid = 0
        self.log: list[tuple[int, Any, Any]] = []
        self.boot()

    def boot(self) -> None:
        """Process start: recover the tree from snapshot + log, load the committed window."""
        self.db = D.ReplicaDatabase(WINDOW)
        self.reload()
        self.pending: list[tuple[int, Any, Any]] = []  # (role token, core, Persist) not durable
        self.fle = E.FLE(self.sid, self.quorum)
        self.timer_at: int | None = None
        self.role = "looking"
        self.token = 0
        self.core: Any = None
        self.conn: Conn | None = None
        self.leader_sid = -1
        self.tries, self.next_try = 0, 0
        self.serving = False
        self.origins: dict[Any, tuple[int, tuple[str, bytes]]] = {}
        self.inbox: Any = None  # the SNAP body being delivered

    def reload(self) -> None:
        """D.Reload: the tree from snapshot + log, and the window from the log."""
        self.hist = self.disk_tree()
        self.last_applied = max([self.snap_zxid, *self.hist])
        self.db.loaded(self.last_applied, ((z, encode_txn(h, t)) for z, h, t in self.log))

    def disk_tree(self) -> dict[int, tuple[str, bytes]]:
        """What recovery rebuilds: the snapshot, then the logged txns after it."""
        hist = dict(self.snap)
        for z, _h, t in self.log:
            if z > self.snap_zxid:
                hist[z] = _val(t)
        return hist

    def last_logged(self) -> int:
        return self.log[-1][0] if self.log else self.snap_zxid


class Sim:
    def __init__(self, seed: int, voters: int = 3, observers: int = 0) -> None:
        self.seed, self.rng = seed, random.Random(seed)
        members = {sid: QuorumServer(sid, f"127.0.0.{sid}", 2888, 3888,
                                     LearnerType.OBSERVER if sid > voters
                                     else LearnerType.PARTICIPANT)
                   for sid in range(1, voters + observers + 1)}
        self.quorum = QuorumMaj(members)
        self.nodes = {sid: Server(sid, sid > voters, self.quorum) for sid in members}
        self.now = 0
        self.chan: dict[tuple[int, int], deque[Any]] = {}  # election connections, FIFO
        self.last_note: dict[tuple[int, int], Any] = {}
        self.conns: list[Conn] = []
        self.conn_n = 0
        self.cut: set[frozenset[int]] = set()
        self.established: dict[int, int] = {}  # epoch -> leader sid
        self.committed: dict[int, tuple[str, bytes]] = {}
        self.acked: dict[int, tuple[str, bytes]] = {}
        self.cxid = 0
        self.writes = 0
        self.trace: list[str] = []
        for n in self.nodes.values():
            self.look(n)

    # -- small helpers --------------------------------------------------------------------------
    def ok_link(self, a: int, b: int) -> bool:
        return a == b or frozenset((a, b)) not in self.cut

    def log_(self, msg: str) -> None:
        self.trace.append(f"{self.now} {msg}")

    # -- election (QuorumPeer._run + ElectionService) -------------------------------------------
    def look(self, n: Server) -> None:
        """Back to LOOKING: wait for the disk, fast-forward the tree from the log, elect."""
        n.role, n.core, n.conn, n.serving, n.leader_sid = "looking", None, None, False, -1
        n.token += 1
        n.origins = {}
        self.run_db(n, n.db.before_election())
        self.fle_out(n, n.fle.start(n.last_applied, n.current, self.now))

    def fle_out(self, n: Server, actions: list[Any]) -> None:
        for a in actions:
            if isinstance(a, E.Broadcast):
                for to in a.to_sids:
                    self.note(n.sid, to, a.notification)
            elif isinstance(a, E.SendNotification):
                self.note(n.sid, a.to_sid, a.notification)
            elif isinstance(a, E.SetTimer):
                n.timer_at = a.at_ms
            elif isinstance(a, E.Decided):
                self.decided(n, a)

    def note(self, src: int, dst: int, note: Any) -> None:
        if not self.nodes[dst].alive:
            return
        q = self.chan.setdefault((src, dst), deque())
        if src != dst:
            self.last_note[(src, dst)] = note
            if q and self.rng.random() < 0.2:
                q[-1] = note  # the send slot of one: the newest notification wins
                return
        q.append(note)

    def deliver_note(self, key: tuple[int, int]) -> None:
        note = self.chan[key].popleft()
        n = self.nodes[key[1]]
        self.fle_out(n, n.fle.on_message(key[0], note, self.now))

    def reset_chan(self, a: int, b: int) -> None:
        """An election connection breaks; the next one resends the last message each way."""
        for key in ((a, b), (b, a)):
            self.chan.pop(key, None)
            last = self.last_note.get(key)
            if last is not None and self.nodes[a].alive and self.nodes[b].alive:
                self.chan[key] = deque([last])

    def decided(self, n: Server, d: Any) -> None:
        STATS["decisions"] += 1
        n.leader_sid = d.vote.id
        n.timer_at = None
        self.log_(f"s{n.sid} decided {d.state.name} for s{d.vote.id}")
        if d.state == ServerState.LEADING:
            n.role = "leading"
            disk = self._disk_reader(n)
            n.core = LD.LeaderCore(n.sid, set(self.quorum.voting_members),
                                   set(self.quorum.observing_members), n.accepted, n.current,
                                   n.last_applied, list(n.db.window), TICK, 10, 5,
                                   disk_log=disk, commit_log_count=WINDOW)
            self.handle(n, n.core.start(self.now))
        else:
            n.role = "following"
            n.tries, n.next_try = 0, self.now

    def _disk_reader(self, n: Server) -> Any:
        def read(peer: int) -> list[tuple[int, bytes]]:
            if not n.log or n.log[0][0] > peer:
                return []
            return [(z, encode_txn(h, t)) for z, h, t in n.log if z >= peer]
        return read

    def end_role(self, n: Server, why: str) -> None:
        if n.role == "looking":
            return
        self.log_(f"s{n.sid} leaves {n.role}: {why}")
        if n.role == "leading":
            for c in [c for c in self.conns if c.leader is n]:
                self.close(c, leader_side=True)
        elif n.conn is not None:
            self.close(n.conn, leader_side=False)
        self.look(n)

    # -- quorum-port connections -----------------------------------------------------------------
    def connect(self, n: Server) -> None:
        ld = self.nodes[n.leader_sid]
        if (ld.alive and ld.role == "leading" and ld.core.phase != "stopped"
                and self.ok_link(n.sid, ld.sid)):
            self.conn_n += 1
            c = Conn(ld, n, self.conn_n)
            self.conns.append(c)
            n.conn = c
            n.core = c.ncore = LN.LearnerCore(n.sid, n.observer, n.accepted, n.current,
                                              n.last_applied, tick_ms=TICK, init_limit=10,
                                              sync_limit=5, full_resync=n.db.full_resync)
            self.handle(n, n.core.connected(self.now))
            return
        n.tries += 1  # Learner.connectToLeader: 5 tries 100 ms apart, then LOOKING
        n.next_try = self.now + 100
        if n.tries >= 5:
            self.end_role(n, "cannot connect")

    def close(self, c: Conn, leader_side: bool) -> None:
        """One end closes: it reads no more; the other end reads what was sent, then EOF."""
        if leader_side:
            c.lcore = None
            c.up.clear()
            c.down.append(FIN)
        else:
            c.ncore = None
            c.down.clear()
            c.up.append(FIN)
            if c.learner.conn is c:
                c.learner.conn = None
        if c.lcore is None and c.ncore is None and c in self.conns:
            self.conns.remove(c)

    def reset(self, c: Conn) -> None:
        """A TCP reset: both ends see the connection fail at once."""
        STATS["resets"] += 1
        lcore, ncore = c.lcore, c.ncore
        c.lcore = c.ncore = None
        if c in self.conns:
            self.conns.remove(c)
        if ncore is not None and c.learner.core is ncore:
            c.learner.conn = None
            self.handle(c.learner, ncore.on_disconnect())
        if lcore is not None and c.leader.core is lcore:
            self.handle(c.leader, lcore.on_disconnect(c))

    def deliver(self, c: Conn, down: bool) -> None:
        msg = (c.down if down else c.up).popleft()
        if down:
            n, core = c.learner, c.ncore
            if core is None or n.core is not core:
                return
            if msg is FIN:
                c.ncore = None
                n.conn = None
                if c.lcore is None and c in self.conns:
                    self.conns.remove(c)
                return self.handle(n, core.on_disconnect())
            if msg[0] == "snap":
                n.inbox = msg
                self.handle(n, core.on_packet(msg[1], self.now, _FakeSnap(msg[2])))
                n.inbox = None
                return None
            return self.handle(n, core.on_packet(msg, self.now))
        ld, lcore = c.leader, c.lcore
        if lcore is None or ld.core is not lcore:
            return None
        if msg is FIN:
            c.lcore = None
            if c.ncore is None and c in self.conns:
                self.conns.remove(c)
            return self.handle(ld, lcore.on_disconnect(c))
        return self.handle(ld, lcore.on_packet(c, msg, self.now))

    # -- the hosts' action execution -------------------------------------------------------------
    def handle(self, n: Server, actions: list[Any]) -> None:
        core = n.core
        for a in actions:
            if n.core is not core:
                return  # the role ended in this batch (the host stops executing)
            t = type(a)
            if t is LD.SendTo:
                c = a.conn
                if c.lcore is core and c.ncore is not None:
                    c.down.append(a.qp)
            elif t is LN.Send:
                c = n.conn
                if c is not None and c.ncore is core and c.lcore is not None:
                    c.up.append(a.qp)
            elif t is LD.SendSnap:
                self.send_snap(n, a)
            elif t is LD.LogProposals or t is LN.Persist:
                snap = None
                if t is LN.Persist and a.snapshot:
                    snap = (dict(n.hist), n.db.snapshot_queued())
                n.pending.append((n.token, core, (a, snap, n.last_applied)))
            elif t is LD.PersistEpoch or t is LN.PersistEpoch:
                if a.name == "acceptedEpoch":
                    n.accepted = a.value
                else:
                    n.current = a.value
            elif t is LD.ApplyCommitted:
                self.apply(n, a.zxid, a.hdr, a.txn, a.data, True)
            elif t is LN.Apply:
                e = a.entry
                self.apply(n, e.zxid, e.hdr, e.txn, e.data, False)
            elif t is LN.Truncate:
                self.run_db(n, n.db.truncate(a.zxid))
            elif t is LN.LoadSnapshot:
                self.run_db(n, n.db.replace())
                msg = n.inbox
                n.hist, n.last_applied = dict(msg[3]), msg[1].zxid
            elif t is LN.ResetDatabase:
                self.run_db(n, n.db.replace())
                n.hist, n.last_applied = {}, 0
            elif t is LD.Established:
                self.on_established(n, a.epoch)
            elif t is LN.StartServing:
                self.on_serving(n, a.epoch)
            elif t is LD.Close:
                self.close(a.conn, leader_side=True)
            elif t is LD.StepDown:
                self.end_role(n, a.reason)
            elif t is LN.Disconnected:
                self.end_role(n, a.reason)
            elif t is LD.LearnerRequest:
                self.learner_request(n, a)

    def send_snap(self, n: Server, a: Any) -> None:
        if n.last_applied != a.zxid:
            raise Violation(f"s{n.sid} SNAP at {a.zxid:#x} but its tree is at {n.last_applied:#x}")
        c = a.conn
        if c.lcore is n.core and c.ncore is not None:
            nodes = [SnapNode(p, d, -1, _STAT0) for p, d in self.tree(n).items()]
            c.down.append(("snap", r.QuorumPacket(15, a.zxid, None, None), nodes, dict(n.hist)))

    def run_db(self, n: Server, actions: list[D.DbAction]) -> None:
        """replication.carry_out on the simulated disk."""
        for a in actions:
            match a:
                case D.Drain():
                    self.fsync(n)
                case D.Reload():
                    n.reload()
                case D.ReplayLog():  # replication.fast_forward
                    for z, h, t in n.log:
                        if z > n.last_applied:
                            n.hist[z] = _val(t)
                            n.last_applied = z
                            n.db.replayed(z, encode_txn(h, t))
                case D.CutLog(zxid=zxid):  # replication.truncate
                    ok = n.snap_zxid <= zxid
                    if ok:
                        n.log = [e for e in n.log if e[0] <= zxid]
                    self.run_db(n, n.db.truncated(ok))
                case D.ResyncFully():
                    STATS["full_resync"] += 1
                    self.handle(n, n.core.truncate_failed())

    def fsync(self, n: Server, notify: bool = False) -> None:
        """The persist worker finishes every queued job, in order (a group commit)."""
        batch, n.pending = n.pending, []
        top = 0
        for token, core, (a, snap, at) in batch:
            if snap is not None:  # a sync snapshot: the old logs are discarded after it
                n.snap, n.snap_zxid, n.log = snap[0], at, []
                n.db.snapshot_durable(snap[1])
            last = n.last_logged()
            for e in a.entries:
                z, hdr, txn = e[0], e[1], e[2]
                if z <= last:
                    raise Violation(f"s{n.sid}: log append {z:#x} after {last:#x}")
                n.log.append((z, hdr, txn))
                last = z
            if getattr(a, "current_epoch", None) is not None:
                n.current = a.current_epoch
            if token == n.token and core is n.core:
                top = a.seq
        if notify and top and n.core is not None:
            self.handle(n, n.core.persisted(top))

    # -- invariants ------------------------------------------------------------------------------
    def apply(self, n: Server, z: int, hdr: Any, txn: Any, data: bytes | None,
              leading: bool) -> None:
        v = _val(txn)
        if z <= n.last_applied:
            raise Violation(f"s{n.sid}: applied {z:#x} after {n.last_applied:#x}")
        if leading:
            if self.committed.get(z, v) != v:
                raise Violation(f"zxid {z:#x} committed twice with different txns")
            self.committed[z] = v
            STATS["commits"] += 1
        else:
            known = self.committed.get(z)
            if known is None:
                ld = n.conn.leader if n.conn is not None else None
                known = ld.hist.get(z) if ld is not None else None
            if known != v:
                raise Violation(f"s{n.sid}: applied {z:#x}={v} which is not the committed txn")
        gap = [c for c in self.committed if n.last_applied < c < z]
        if gap:
            raise Violation(f"s{n.sid}: applied {z:#x} skipping committed {gap[0]:#x}")
        n.hist[z] = v
        n.last_applied = z
        n.db.committed(z, data if data is not None else encode_txn(hdr, txn))
        origin = n.origins.pop(z if leading else (hdr.clientId, hdr.cxid), None)
        if origin is not None:
            if origin[1] != v:
                raise Violation(f"s{n.sid}: client write {origin} answered with {v}")
            if self.committed.get(z) != v:
                raise Violation(f"s{n.sid}: acked {z:#x} which is not committed")
            self.acked[z] = v
            STATS["acked"] += 1

    def check_prefix(self, n: Server, what: str) -> None:
        want = {z: v for z, v in self.committed.items() if z <= n.last_applied}
        if n.hist != want:
            diff = sorted(set(n.hist.items()) ^ set(want.items()))[:3]
            raise Violation(f"s{n.sid} {what}: history is not the committed prefix: {diff}")

    def on_established(self, n: Server, epoch: int) -> None:
        STATS["established"] += 1
        self.log_(f"s{n.sid} established epoch {epoch}")
        other = self.established.setdefault(epoch, n.sid)
        if other != n.sid:
            raise Violation(f"epoch {epoch} established by s{other} and by s{n.sid}")
        for z, v in self.committed.items():
            if n.hist.get(z, v) != v or (epoch_of(z) < epoch and z not in n.hist):
                raise Violation(f"new leader s{n.sid} lacks committed {z:#x}")
        if epoch < max(self.established):
            # NEWLEADER acks counted before their senders moved on to a later epoch: this
            # leader can serve but never commit (a quorum accepted the later epoch).
            STATS["late_established"] += 1
        else:
            for z, v in n.hist.items():
                self.committed.setdefault(z, v)
        n.fle.update_election_vote(epoch)
        n.serving = True

    def on_serving(self, n: Server, epoch: int) -> None:
        STATS[n.core.mode] += 1
        n.fle.update_election_vote(epoch)
        n.serving = True
        if epoch < max(self.established):
            return  # synced with a late leader (see on_established): nothing to compare yet
        self.check_prefix(n, "StartServing")
        lost = [z for z in self.acked if epoch_of(z) < epoch and z not in n.hist]
        if lost:
            raise Violation(f"s{n.sid} synced in epoch {epoch} without acked {lost[0]:#x}")

    # -- clients ---------------------------------------------------------------------------------
    def client_write(self) -> None:
        srv = [n for n in self.nodes.values() if n.alive and n.serving and n.core is not None
               and (n.role == "leading" or n.core.state == "broadcast")]
        if not srv:
            return
        n = self.rng.choice(srv)
        self.writes -= 1
        self.cxid += 1
        path, data = f"/p{self.rng.randrange(4)}", f"w{self.cxid}".encode()
        if n.role == "leading":
            if n.core.phase != "broadcast":
                return
            z = n.core.next_zxid()
            n.origins[z] = (self.cxid, (path, data))
            self.propose(n, r.TxnHeader(1, self.cxid, z, 0, SETDATA), path, data)
        else:
            n.origins[(1, self.cxid)] = (self.cxid, (path, data))
            body = path.encode() + b"|" + data
            self.handle(n, n.core.forward(1, self.cxid, SETDATA, body))

    def learner_request(self, n: Server, a: Any) -> None:
        if not n.serving or n.core.phase != "broadcast":
            return
        fr = a.request
        path, data = fr.body.split(b"|", 1)
        hdr = r.TxnHeader(fr.session_id, fr.cxid, n.core.next_zxid(), 0, fr.type)
        self.propose(n, hdr, path.decode(), data)

    def propose(self, n: Server, hdr: Any, path: str, data: bytes) -> None:
        self.handle(n, n.core.propose(hdr, r.SetDataTxn(path, data, -1), None, self.now))

    # -- chaos -----------------------------------------------------------------------------------
    def crash(self, n: Server) -> None:
        STATS["crashes"] += 1
        self.log_(f"s{n.sid} crashes")
        for c in [c for c in self.conns if n in (c.leader, c.learner)]:
            self.close(c, leader_side=c.leader is n)
        for key in [k for k in self.chan if n.sid in k]:
            del self.chan[key]
        n.alive = False
        n.pending.clear()
        n.core, n.conn, n.role, n.serving, n.timer_at = None, None, "down", False, None

    def restart(self, n: Server) -> None:
        self.log_(f"s{n.sid} restarts")
        n.alive = True
        n.boot()
        for (src, dst), note in self.last_note.items():
            if dst == n.sid and src != dst and self.nodes[src].alive:
                self.chan[(src, dst)] = deque([note])
        self.look(n)

    def partition(self) -> None:
        sids = list(self.nodes)
        side = set(self.rng.sample(sids, self.rng.randrange(1, len(sids) // 2 + 1)))
        self.cut = {frozenset((a, b)) for a in side for b in sids if b not in side}
        self.log_(f"partition {sorted(side)} | rest")

    def heal(self) -> None:
        self.cut = set()

    # -- the scheduler ---------------------------------------------------------------------------
    def advance(self, busy: bool) -> None:
        step = self.rng.randrange(1, TICK // 2 + 1)
        if not busy and not any(n.core for n in self.nodes.values() if n.alive):
            dl = [n.timer_at for n in self.nodes.values() if n.alive and n.timer_at is not None]
            dl += [n.next_try for n in self.nodes.values()
                   if n.alive and n.role == "following" and n.core is None]
            if dl:
                step = max(step, min(dl) - self.now)
        self.now += step
        for n in list(self.nodes.values()):
            if not n.alive:
                continue
            if n.timer_at is not None and self.now >= n.timer_at:
                n.timer_at = None
                self.fle_out(n, n.fle.on_timer(self.now))
            if n.core is not None:
                self.handle(n, n.core.on_tick(self.now))

    def events(self, chaos: bool) -> tuple[list[tuple[float, Any]], bool]:
        ev: list[tuple[float, Any]] = []
        for key, q in self.chan.items():
            if q and self.ok_link(*key):
                ev.append((20 if key[0] == key[1] else 8, (self.deliver_note, key)))
        for c in self.conns:
            if self.ok_link(c.leader.sid, c.learner.sid):
                if c.up:
                    ev.append((10, (self.deliver, c, False)))
                if c.down:
                    ev.append((10, (self.deliver, c, True)))
        for n in self.nodes.values():
            if not n.alive:
                continue
            if n.pending:
                ev.append((4, (self.fsync, n, True)))
            if n.role == "following" and n.core is None and self.now >= n.next_try:
                ev.append((5, (self.connect, n)))
        if self.writes > 0:
            ev.append((2, (self.client_write,)))
        busy = bool(ev)
        ev.append((0.6 if busy else 1.0, (self.advance, busy)))
        if chaos:
            for c in self.conns:
                ev.append((0.02, (self.reset, c)))
            for key in self.chan:
                if key[0] < key[1]:
                    ev.append((0.01, (self.reset_chan, *key)))
            for n in self.nodes.values():
                ev.append((0.015 if n.alive else 0.1, (self.crash if n.alive else self.restart, n)))
            ev.append((0.02 if self.cut else 0.006, (self.heal if self.cut else self.partition,)))
        return ev, busy

    def step(self, chaos: bool) -> None:
        ev, _ = self.events(chaos)
        x = self.rng.random() * sum(w for w, _ in ev)
        chosen = ev[-1][1]
        for w, c in ev:
            x -= w
            if x <= 0:
                chosen = c
                break
        chosen[0](*chosen[1:])

    def run(self, steps: int = 1500, writes: int = 40) -> Sim:
        self.writes = writes
        for _ in range(steps):
            self.step(chaos=True)
        self.heal()
        for n in self.nodes.values():
            if not n.alive:
                self.restart(n)
        self.writes = 3
        for _ in range(40000):
            if self.quiet():
                self.final_check()
                return self
            self.step(chaos=False)
        raise Violation("no quiescence: " + " | ".join(self.trace[-12:]))

    def quiet(self) -> bool:
        leaders = [n for n in self.nodes.values() if n.role == "leading"]
        if len(leaders) != 1 or self.writes > 0:
            return False
        ld = leaders[0]
        if ld.core.phase != "broadcast" or ld.core.outstanding:
            return False
        if any(self.chan.values()) or any(c.up or c.down for c in self.conns):
            return False
        return all(n.serving and not n.pending and n.leader_sid == ld.sid
                   for n in self.nodes.values())

    def final_check(self) -> None:
        ld = next(n for n in self.nodes.values() if n.role == "leading")
        for n in self.nodes.values():
            self.check_prefix(n, "quiescence")
            if n.hist != ld.hist or self.tree(n) != self.tree(ld):
                raise Violation(f"s{n.sid} differs from leader s{ld.sid} after quiescence")
            lost = [z for z in self.acked if self.acked[z] != n.hist.get(z)]
            if lost:
                raise Violation(f"s{n.sid} lost acknowledged {lost[0]:#x}")
            # The durable state alone (a restart now) must rebuild the same tree.
            disk = n.disk_tree()
            if disk != n.hist:
                diff = sorted(set(disk.items()) ^ set(n.hist.items()))[:3]
                raise Violation(f"s{n.sid}: snapshot+log differ from its tree: {diff}")

    @staticmethod
    def tree(n: Server) -> dict[str, bytes]:
        t: dict[str, bytes] = {}
        for z in sorted(n.hist):
            p, v = n.hist[z]
            t[p] = v
        return t


def run_one(seed: int, config: str) -> Sim:
    voters, observers = CONFIGS[config]
    sim = Sim(seed, voters, observers)
    try:
        return sim.run()
    except Violation as e:
        raise Violation(f"seed={seed} config={config}: {e}\n  reproduce: .venv/bin/python -m "
                        f"tests.simulation.ensemble_sim 1 {seed} {config}\n"
                        "  last events: "
                        + " | ".join(sim.trace[-10:])) from None


def run_many(count: int, first_seed: int = 0, configs: tuple[str, ...] = tuple(CONFIGS)
             ) -> tuple[int, float]:
    t0 = time.perf_counter()
    for seed in range(first_seed, first_seed + count):
        for cfg in configs:
            run_one(seed, cfg)
    return count * len(configs), time.perf_counter() - t0


if __name__ == "__main__":
    cnt = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    which = sys.argv[3] if len(sys.argv) > 3 else "all"
    cfgs = tuple(CONFIGS) if which == "all" else (which,)
    print(f"ensemble_sim: seeds {first}..{first + cnt - 1} configs {cfgs}")
    n, dt = run_many(cnt, first, cfgs)
    print(f"{n} schedules in {dt:.1f}s ({n / dt:.1f}/s); {dict(STATS)}")
