"""Seeded discrete-event simulator for pure FLE instances (pyzk.zab.election), with a small stub
of what follows an election (a leader is established once a quorum of learners joins it within
initLimit; learners of a missing leader and leaders without a quorum go back to LOOKING).

Network: per-message random delay (so reordering), optional loss, a capacity-1 send queue per
channel (a newer message may supersede one still queued), crashes and restarts. Loopback
messages are delivered at once and never lost (QuorumCnxManager.toSend to self).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyzk.config.model import LearnerType, QuorumServer
from pyzk.zab.election import FLE, Broadcast, Decided, SendNotification, SetTimer
from pyzk.zab.packets_election import Notification
from pyzk.zab.quorum import QuorumMaj
from pyzk.zab.vote import ServerState

INIT_LIMIT_MS = 10000     # initLimit 5 x tickTime 2000
SYNC_LIMIT_MS = 4000      # syncLimit 2 x tickTime 2000
FOLLOW_RETRY_MS = 1000    # Learner.connectToLeader retries about once a second, 5 times


@dataclass
class Params:
    voters: int = 3
    observers: int = 0
    max_delay: int = 50
    start_jitter: int = 20
    supersede: float = 0.2     # chance that a send replaces the channel's still-queued message
    loss: float = 0.0          # chance a message is lost outright
    crashes: int = 0           # crash (and later restart) events during the chaos window
    chaos_ms: int = 0          # after this, no more loss/crashes; delays stay
    horizon_ms: int = 600_000


@dataclass
class Node:
    sid: int
    fle: FLE
    last_zxid: int
    epoch: int
    alive: bool = False              # becomes True at its start event
    inc: int = 0
    timer_gen: int = 0
    leader: int | None = None        # whom it decided for, None while LOOKING
    joined: bool = False             # synced with an established leader
    leader_inc: int = -1             # the leader incarnation it joined
    established: bool = False        # (leaders) a quorum joined
    follow_tries: int = 0
    zxids: set[int] = field(default_factory=set)
    epochs: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)  # peers it has been connected to


@dataclass
class Decision:
    time: int
    sid: int
    inc: int
    round: int
    leader: int
    state: ServerState
    via_first_round: bool


class Sim:
    def __init__(self, seed: int, p: Params) -> None:
        self.seed = seed
        self.p = p
        self.rng = random.Random(seed)
        members = {}
        for sid in range(1, p.voters + p.observers + 1):
            members[sid] = QuorumServer(sid, f"10.0.0.{sid}", 2888, 3888,
                                        LearnerType.OBSERVER if sid > p.voters
                                        else LearnerType.PARTICIPANT)
        self.quorum = QuorumMaj(members)
        self.nodes: dict[int, Node] = {}
        for sid in members:
            # Few distinct values so that ties on epoch and zxid are common.
            epoch = self.rng.choice([0, 1, 1, 2])
            zxid = (epoch << 32) | self.rng.choice([0, 3, 5])
            n = Node(sid, FLE(sid, self.quorum), zxid, epoch)
            n.zxids.add(zxid)
            n.epochs.add(epoch)
            self.nodes[sid] = n
        self.now = 0
        self.seq = 0
        self.events: list[tuple[int, int, str, tuple[object, ...]]] = []
        self.inflight: dict[tuple[int, int], int] = {}
        self.last_sent: dict[tuple[int, int], Notification] = {}
        self.cancelled: set[int] = set()
        self.messages = 0
        self.decisions: list[Decision] = []
        self.first_established: int | None = None
        self.messages_at_first_established: int | None = None
        self.established_any = False
        self.errors: list[str] = []
        self.init_votes = {sid: (n.epoch, n.last_zxid, sid) for sid, n in self.nodes.items()}

    # -- plumbing -------------------------------------------------------------------------------
    def at(self, t: int, kind: str, *args: object) -> int:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, args))
        return self.seq

    def apply(self, node: Node, actions: Sequence[object]) -> None:
        for a in actions:
            if isinstance(a, SendNotification):
                self.send(node.sid, a.to_sid, a.notification)
            elif isinstance(a, Broadcast):
                for to in a.to_sids:
                    self.send(node.sid, to, a.notification)
            elif isinstance(a, SetTimer):
                node.timer_gen += 1
                if a.at_ms is not None:
                    self.at(a.at_ms, "timer", node.sid, node.inc, node.timer_gen)
            elif isinstance(a, Decided):
                self.on_decided(node, a)

    def send(self, src: int, dst: int, n: Notification) -> None:
        if dst == src:
            self.at(self.now, "msg", src, dst, n, self.nodes[dst].inc)
            return
        self.messages += 1
        self.last_sent[(src, dst)] = n
        chaos = self.now < self.p.chaos_ms
        prev = self.inflight.get((src, dst))
        if prev is not None and self.rng.random() < self.p.supersede:
            self.cancelled.add(prev)
        if chaos and self.rng.random() < self.p.loss:
            return
        mid = self.at(self.now + self.rng.randint(1, self.p.max_delay), "msg", src, dst, n,
                      self.nodes[dst].inc)
        self.inflight[(src, dst)] = mid

    # -- election outcome and the ZAB stub -------------------------------------------------------
    def on_decided(self, node: Node, d: Decided) -> None:
        v = d.vote
        q = self.quorum
        first = not self.established_any
        self.decisions.append(Decision(self.now, node.sid, node.inc, v.election_epoch, v.id,
                                       d.state, first))
        if not q.is_voter(v.id):
            self.errors.append(f"sid {node.sid} decided for non-voter {v.id}")
        expect = (ServerState.LEADING if v.id == node.sid else
                  ServerState.FOLLOWING if q.is_voter(node.sid) else ServerState.OBSERVING)
        if d.state != expect:
            self.errors.append(f"sid {node.sid} decided {d.state.name}, expected {expect.name}")
        ld = self.nodes.get(v.id)
        if ld is not None and (v.zxid not in ld.zxids or v.peer_epoch not in ld.epochs):
            self.errors.append(f"sid {node.sid} decided a vote {v} its leader never held")
        if first:
            # A leader chosen before any epoch moved is the max of the initial votes of a quorum.
            lv = self.init_votes[v.id]
            below = {s for s, iv in self.init_votes.items() if iv <= lv and q.is_voter(s)}
            if not q.contains_quorum(below):
                self.errors.append(f"leader {v.id} is not the max of any quorum")
        node.leader = v.id
        node.joined = False
        node.established = False
        node.follow_tries = 0
        if d.state == ServerState.LEADING:
            self.at(self.now + INIT_LIMIT_MS, "establish", node.sid, node.inc)
        else:
            self.at(self.now + self.rng.randint(1, 100), "follow", node.sid, node.inc)

    def lead_ok(self, ld: Node) -> bool:
        return ld.alive and ld.leader == ld.sid

    def ensemble(self, ld: Node) -> list[Node]:
        return [n for n in self.nodes.values()
                if n.alive and n.leader == ld.sid
                and (n is ld or (n.joined and n.leader_inc == ld.inc))]

    def on_follow(self, node: Node) -> None:
        assert node.leader is not None
        ld = self.nodes[node.leader]
        if self.lead_ok(ld):
            node.joined = True
            node.leader_inc = ld.inc
            if ld.established:
                self.sync(node, ld.epoch)
            elif self.quorum.contains_quorum(
                    {n.sid for n in self.ensemble(ld) if self.quorum.is_voter(n.sid)}):
                # The leader goes on as soon as a quorum has joined (Leader.waitForEpochAck).
                self.on_establish(ld)
            return
        node.follow_tries += 1
        if node.follow_tries >= 5:
            self.look(node)
        else:
            self.at(self.now + FOLLOW_RETRY_MS, "follow", node.sid, node.inc)

    def on_establish(self, ld: Node) -> None:
        members = self.ensemble(ld)
        voters = {n.sid for n in members if self.quorum.is_voter(n.sid)}
        if not self.quorum.contains_quorum(voters):
            for n in members:
                self.look(n)
            return
        epoch = max(n.epoch for n in members) + 1
        ld.established = True
        for n in members:
            self.sync(n, epoch)
        if not self.established_any:
            self.established_any = True
            self.first_established = self.now
            self.messages_at_first_established = self.messages
        self.at(self.now + SYNC_LIMIT_MS, "health", ld.sid, ld.inc)

    def sync(self, n: Node, epoch: int) -> None:
        n.epoch = epoch
        n.epochs.add(epoch)
        n.fle.update_election_vote(epoch)

    def on_health(self, ld: Node) -> None:
        members = self.ensemble(ld)
        voters = {n.sid for n in members if self.quorum.is_voter(n.sid)}
        if not self.quorum.contains_quorum(voters):
            for n in members:
                self.look(n)
            return
        self.at(self.now + SYNC_LIMIT_MS, "health", ld.sid, ld.inc)

    def look(self, n: Node) -> None:
        n.leader = None
        n.joined = False
        n.established = False
        self.apply(n, n.fle.start(n.last_zxid, n.epoch, self.now))

    # -- crashes ---------------------------------------------------------------------------------
    def crash(self, n: Node) -> None:
        n.alive = False
        n.inc += 1
        n.leader = None
        n.joined = n.established = False
        for m in self.nodes.values():
            if m.alive and m.leader == n.sid and m is not n:
                self.at(self.now + SYNC_LIMIT_MS, "lost_leader", m.sid, m.inc, n.sid)
        self.report_peers()

    def restart(self, n: Node) -> None:
        n.inc += 1
        n.fle = FLE(n.sid, self.quorum)
        n.seen = set()  # a new process has no connections yet
        self.boot(n)

    def boot(self, n: Node) -> None:
        """A (re)started server connects to its peers; each peer's SendWorker then resends the
        last message it had for it (QuorumCnxManager.SendWorker.run, lastMessageSent)."""
        n.alive = True
        self.report_peers()
        self.look(n)
        for (src, dst), note in list(self.last_sent.items()):
            if dst == n.sid and src != dst and self.nodes[src].alive:
                self.at(self.now + self.rng.randint(1, self.p.max_delay), "msg", src, dst, note,
                        n.inc)

    def report_peers(self) -> None:
        """Each live server learns, after a network delay, which peers it is connected to
        (ElectionService -> FLE.peers_changed reports the ones it had and lost): a connection
        breaks or forms when a peer crashes or starts. Loss does not break connections."""
        for m in self.nodes.values():
            if m.alive:
                self.at(self.now + self.rng.randint(1, self.p.max_delay), "peers", m.sid, m.inc)

    # -- run -------------------------------------------------------------------------------------
    def run(self) -> Sim:
        for sid in self.nodes:
            self.at(self.rng.randint(0, self.p.start_jitter), "start", sid)
        for _ in range(self.p.crashes):
            sid = self.rng.choice(list(self.nodes))
            t = self.rng.randint(0, max(1, self.p.chaos_ms))
            self.at(t, "crash", sid)
            self.at(t + self.rng.randint(1, 5000), "restart", sid)
        self.at(self.p.chaos_ms, "heal")
        while self.events:
            t, seq, kind, args = heapq.heappop(self.events)
            if t > self.p.horizon_ms:
                break
            self.now = t
            self.dispatch(seq, kind, args)
        return self

    def dispatch(self, seq: int, kind: str, args: tuple[object, ...]) -> None:
        if kind == "start":
            self.boot(self.nodes[args[0]])  # type: ignore[index]
        elif kind == "msg":
            src, dst, note, inc = args
            n = self.nodes[dst]  # type: ignore[index]
            if seq in self.cancelled or not n.alive or n.inc != inc or not self.nodes[src].alive:  # type: ignore[index]
                return
            self.apply(n, n.fle.on_message(src, note, self.now))  # type: ignore[arg-type]
        elif kind == "timer":
            sid, inc, gen = args
            n = self.nodes[sid]  # type: ignore[index]
            if n.alive and n.inc == inc and n.timer_gen == gen:
                self.apply(n, n.fle.on_timer(self.now))
        elif kind == "peers":
            sid, inc = args
            n = self.nodes[sid]  # type: ignore[index]
            if n.alive and n.inc == inc:
                up = {m.sid for m in self.nodes.values() if m.alive and m is not n}
                n.seen |= up
                self.apply(n, n.fle.peers_changed(frozenset(n.seen - up), self.now))
        elif kind == "lost_leader":
            sid, inc, gone = args
            n = self.nodes[sid]  # type: ignore[index]
            if n.alive and n.inc == inc and n.leader == gone:
                self.look(n)
        elif kind in ("follow", "establish", "health"):
            sid, inc = args
            n = self.nodes[sid]  # type: ignore[index]
            if not n.alive or n.inc != inc:
                return
            if kind == "follow" and n.leader is not None and not n.joined:
                self.on_follow(n)
            elif kind == "establish" and n.leader == n.sid and not n.established:
                self.on_establish(n)
            elif kind == "health" and n.leader == n.sid and n.established:
                self.on_health(n)
        elif kind == "crash":
            n = self.nodes[args[0]]  # type: ignore[index]
            if n.alive:
                self.crash(n)
        elif kind == "restart":
            n = self.nodes[args[0]]  # type: ignore[index]
            if not n.alive and n.inc > 0:
                self.restart(n)

    def election_done(self) -> tuple[int, int] | None:
        """(ms, messages) when the first leader was established, None if never."""
        if self.first_established is None or self.messages_at_first_established is None:
            return None
        return self.first_established, self.messages_at_first_established

    # -- verdicts --------------------------------------------------------------------------------
    def final_leaders(self) -> dict[int, int | None]:
        """sid -> leader of the established ensemble it is synced with (None if not)."""
        out: dict[int, int | None] = {}
        for n in self.nodes.values():
            if not n.alive:
                continue
            ld = self.nodes.get(n.leader) if n.leader is not None else None
            ok = (ld is not None and ld.established and ld.alive and ld.leader == ld.sid
                  and (n is ld or (n.joined and n.leader_inc == ld.inc)))
            out[n.sid] = n.leader if ok else None
        return out
