"""The ZAB learner (follower or observer) as a pure state machine for one connection to a leader:
Learner.registerWithLeader, syncWithLeader (DIFF/TRUNC/SNAP, NEWLEADER, UPTODATE) and the
Follower/Observer processPacket loops. One LearnerCore per connection attempt.

Durability follows etcd raft's msgsAfterAppend discipline: every ACK that promises data is
released only by `persisted(seq)` for the Persist action that wrote it (ZOOKEEPER-3911).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any, NamedTuple

from pyzk.protocol import records as r
from pyzk.storage.snapshot import Snapshot

from .packets import (
    PT,
    Packet,
    decode_revalidate_reply,
    decode_txn,
    encode_int,
    encode_learner_info,
    encode_request,
    encode_revalidate,
    encode_touches,
    packet,
)
from .zxid import epoch_of, make_zxid


class Entry(NamedTuple):
    zxid: int
    hdr: Any
    txn: Any
    digest: Any
    data: bytes | None = None  # the PROPOSAL data it came in: also its txn log entry body


class LearnerState(StrEnum):
    """Learner's progress with one leader: NEW until connected(), LEADERINFO (registered,
    waiting for it), FIRST (the first sync packet: DIFF, SNAP or TRUNC), SYNC (until
    NEWLEADER), UPTODATE (NEWLEADER acked, until UPTODATE), BROADCAST (serving), DEAD."""
    NEW = "new"
    LEADERINFO = "leaderinfo"
    FIRST = "first"
    SYNC = "sync"
    UPTODATE = "uptodate"
    BROADCAST = "broadcast"
    DEAD = "dead"


# -- actions ----------------------------------------------------------------------------------

class Send(NamedTuple):
    qp: Any


class PersistEpoch(NamedTuple):
    """Write acceptedEpoch durably before executing later actions (Learner.registerWithLeader)."""
    name: str
    value: int


class Truncate(NamedTuple):
    """Cut the log after `zxid` and reload the tree from disk (ZKDatabase.truncateLog)."""
    zxid: int


class LoadSnapshot(NamedTuple):
    """Replace the in-memory database with the SNAP body; lastProcessedZxid = zxid."""
    snapshot: Snapshot
    zxid: int


class ResetDatabase(NamedTuple):
    """Full resync: start from an empty in-memory tree; disk stays as is until the NEWLEADER
    Persist(snapshot=True) replaces it, so a crash mid-sync keeps the acked history."""


class Persist(NamedTuple):
    """In order: snapshot the tree if `snapshot`, append+fsync `entries`, then write currentEpoch
    if not None; then call `persisted(seq)`."""
    seq: int
    entries: list[Entry]
    snapshot: bool = False
    current_epoch: int | None = None


class Apply(NamedTuple):
    """A committed txn, in zxid order."""
    entry: Entry


class StartServing(NamedTuple):
    epoch: int


class Revalidated(NamedTuple):
    session_id: int
    valid: bool


class SyncDone(NamedTuple):
    """The leader answered a forwarded sync: release the oldest pending sync (fzk.sync())."""


class Disconnected(NamedTuple):
    reason: str


class SeenConfig(NamedTuple):
    """A proposed config (a reconfig PROPOSAL's data, or NEWLEADER's): the host calls
    QuorumPeer.setLastSeenQuorumVerifier(configFromString(config), true)."""
    config: bytes


class Activate(NamedTuple):
    """QuorumPeer.processReconfig(configFromString(config), designated, zxid): if it reports
    a role or leader change the host leaves this leader, at once when `now` (Learner's sync
    loop throws before the commit), else after this batch (Follower applies the commit first)."""
    config: bytes
    designated: int | None
    zxid: int | None
    now: bool


# Everything LearnerCore returns; the host handles each kind (LearnerHost.execute).
LearnerAction = (Send | PersistEpoch | Truncate | LoadSnapshot | ResetDatabase | Persist | Apply
                 | StartServing | Revalidated | SyncDone | Disconnected | SeenConfig | Activate)

_RECONFIG = 16  # OpCode.reconfig: its txn is a SetDataTxn carrying the config text

# The broadcast loop's packet types as plain ints: an IntEnum member costs a class attribute
# lookup each time, and a follower compares a few per PROPOSAL and COMMIT.
_PROPOSAL = int(PT.PROPOSAL)
_COMMIT = int(PT.COMMIT)
_COMMITANDACTIVATE = int(PT.COMMITANDACTIVATE)
_INFORM = int(PT.INFORM)
_INFORMANDACTIVATE = int(PT.INFORMANDACTIVATE)
_PING = int(PT.PING)
_REVALIDATE = int(PT.REVALIDATE)
_SYNC = int(PT.SYNC)
_ACK = int(PT.ACK)
_BROADCAST = LearnerState.BROADCAST
_tnew = tuple.__new__
_QP = r.QuorumPacket


class LearnerCore:
    def __init__(self, my_id: int, observer: bool, accepted_epoch: int, current_epoch: int,
                 last_logged_zxid: int, config_version: int = 0, tick_ms: int = 2000,
                 init_limit: int = 10, sync_limit: int = 5,
                 touches: Callable[[], list[tuple[int, int]]] | None = None,
                 full_resync: bool = False) -> None:
        self.my_id = my_id
        self.observer = observer
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        self.last_logged = last_logged_zxid
        self.config_version = config_version
        self.tick_ms, self.init_limit, self.sync_limit = tick_ms, init_limit, sync_limit
        self.touches = touches or (lambda: [])
        # Set after the host could not Truncate (a sync snapshot newer than the TRUNC point):
        # announce zxid 0 so the leader resends everything, and rebuild from empty.
        self.full_resync = full_resync
        if full_resync:
            self.last_logged = 0
        self.state = LearnerState.NEW
        self.new_epoch = -1
        self.new_leader_zxid = 0
        self.mode = ""
        self.write_to_log = False
        self.received: list[Entry] = []  # synced txns to log at NEWLEADER (DIFF mode)
        self.pending: deque[Entry] = deque()  # received, not yet applied
        # DIFF sync: txns committed before NEWLEADER wait for its log write to be applied
        # (Learner.syncWithLeader's packetsCommitted): a tree ahead of the log would vote with
        # txns a crash or the next sync's log could lose (the simulator found such a gap).
        self.deferred: list[Entry] = []
        self.last_queued = 0
        self.last_rx = 0
        self.seq = 0
        self.after: dict[int, list[Packet]] = {}  # seq -> packets released by persisted(seq)
        self.released = 0  # every seq up to this one has been through persisted()
        self.newleader_config: bytes | None = None  # Learner.syncWithLeader's newLeaderQV
        self.out: list[LearnerAction] = []

    def _take(self) -> list[LearnerAction]:
        out, self.out = self.out, []
        return out

    def _send(self, qp: Any) -> None:
        self.out.append(_tnew(Send, (qp,)))

    def _fail(self, reason: str) -> None:
        if self.state is not LearnerState.DEAD:
            self.state = LearnerState.DEAD
            self.out.append(Disconnected(reason))

    def _persist(self, entries: list[Entry], release: list[Packet], snapshot: bool = False,
                 current_epoch: int | None = None) -> None:
        seq = self.seq = self.seq + 1
        self.after[seq] = release
        self.out.append(_tnew(Persist, (seq, entries, snapshot, current_epoch)))
        if entries:
            last = entries[-1].zxid
            if last > self.last_logged:
                self.last_logged = last

    # -- inputs -----------------------------------------------------------------------------

    def connected(self, now_ms: int) -> list[LearnerAction]:
        """Learner.registerWithLeader's first packet."""
        self.state = LearnerState.LEADERINFO
        self.last_rx = now_ms
        ptype = PT.OBSERVERINFO if self.observer else PT.FOLLOWERINFO
        info = encode_learner_info(self.my_id, self.config_version)
        self._send(packet(ptype, make_zxid(self.accepted_epoch, 0), info))
        return self._take()

    def on_packet(self, qp: Any, now_ms: int, snapshot: Snapshot | None = None) -> list[LearnerAction]:
        self.last_rx = now_ms
        if self.state is LearnerState.DEAD:
            return []
        try:
            self._on_packet(qp, snapshot)
        except ValueError as e:
            self._fail(f"bad packet from leader: {e}")
        return self._take()

    def _on_packet(self, qp: Any, snapshot: Snapshot | None) -> None:
        t = qp.type
        st = self.state
        if st is _BROADCAST:  # the serving state first: every packet after the sync
            return self._broadcast_packet(qp)
        if st is LearnerState.LEADERINFO:
            if t != PT.LEADERINFO:
                return self._fail("First packet should have been LEADERINFO")
            new_epoch = epoch_of(qp.zxid)
            if new_epoch > self.accepted_epoch:
                data = encode_int(self.current_epoch)
                self.accepted_epoch = new_epoch
                self.out.append(PersistEpoch("acceptedEpoch", new_epoch))
            elif new_epoch == self.accepted_epoch:
                data = encode_int(-1)
            else:
                return self._fail(f"Leaders epoch, {new_epoch} is less than accepted epoch, "
                                  f"{self.accepted_epoch}")
            self.new_epoch = new_epoch
            self.new_leader_zxid = make_zxid(new_epoch, 0)
            self.state = LearnerState.FIRST
            self._send(packet(PT.ACKEPOCH, self.last_logged, data))
            return None
        if st is LearnerState.FIRST:
            if t == PT.DIFF and self.full_resync:
                self.mode, self.write_to_log = "DIFF", False
                self.out.append(ResetDatabase())
            elif t == PT.DIFF:
                self.mode, self.write_to_log = "DIFF", True
            elif t == PT.SNAP:
                if snapshot is None:
                    return self._fail("SNAP without its snapshot body")
                self.mode, self.write_to_log = "SNAP", False
                self.out.append(LoadSnapshot(snapshot, qp.zxid))
            elif t == PT.TRUNC:
                self.mode, self.write_to_log = "TRUNC", False
                self.out.append(Truncate(qp.zxid))
            else:
                return self._fail(f"Got unexpected packet from leader: {t}")
            self.last_logged = qp.zxid if t != PT.DIFF else self.last_logged
            self.state = LearnerState.SYNC
            return None
        if st in (LearnerState.SYNC, LearnerState.UPTODATE):
            return self._sync_packet(qp)
        if st is LearnerState.BROADCAST:
            return self._broadcast_packet(qp)
        return None

    def _entry(self, data: bytes | None) -> Entry:
        hdr, txn, digest = decode_txn(data)
        return _tnew(Entry, (hdr.zxid, hdr, txn, digest, data))

    def _proposed(self, e: Entry) -> None:
        """A reconfig PROPOSAL: its config becomes the last seen one (Follower/Learner)."""
        if e.hdr.type == _RECONFIG:
            self.out.append(SeenConfig(e.txn.data or b""))

    def _activate(self, qp: Any, now: bool) -> None:
        """COMMITANDACTIVATE for the oldest pending txn: data is the designated leader."""
        if self.pending and self.pending[0].zxid == qp.zxid and \
                self.pending[0].hdr.type == _RECONFIG:
            designated = int.from_bytes(qp.data[:8], "big", signed=True)
            self.out.append(Activate(self.pending[0].txn.data or b"", designated, qp.zxid,
                                     now))

    def _commit(self, zxid: int) -> None:
        """FollowerZooKeeperServer.commit: the commit must match the oldest pending txn."""
        if not self.pending:
            return  # "Committing ... without seeing txn"
        if self.pending[0].zxid != zxid:
            return self._fail(f"Committing zxid {zxid:#x} but next pending txn "
                              f"{self.pending[0].zxid:#x}")
        if self.state is LearnerState.SYNC and self.write_to_log:
            self.deferred.append(self.pending.popleft())
        else:
            self.out.append(_tnew(Apply, (self.pending.popleft(),)))
        return None

    def _sync_packet(self, qp: Any) -> None:
        t = qp.type
        if t == PT.PROPOSAL:
            e = self._entry(qp.data)
            self.last_queued = e.zxid
            self._proposed(e)
            self.pending.append(e)
            if self.state is LearnerState.UPTODATE:
                # After NEWLEADER proposals are logged (and acked once durable) as they come.
                self._persist([e], [] if self.observer else [packet(PT.ACK, e.zxid)])
            elif self.write_to_log:
                self.received.append(e)
        elif t in (PT.COMMIT, PT.COMMITANDACTIVATE):
            if t == PT.COMMITANDACTIVATE:
                self._activate(qp, True)
            self._commit(qp.zxid)
        elif t in (PT.INFORM, PT.INFORMANDACTIVATE):
            data = qp.data if t == PT.INFORM else qp.data[8:]
            e = self._entry(data)
            if t == PT.INFORMANDACTIVATE:
                designated = int.from_bytes(qp.data[:8], "big", signed=True)
                self.out.append(Activate(e.txn.data or b"", designated, qp.zxid, True))
            self.last_queued = e.zxid
            if self.state is LearnerState.UPTODATE:
                self._persist([e], [])
            elif self.write_to_log:
                self.received.append(e)
                self.deferred.append(e)
                return None
            self.out.append(Apply(e))
        elif t == PT.NEWLEADER:
            if self.state is not LearnerState.SYNC:
                return None
            if qp.data is not None and len(qp.data) > 1:
                self.newleader_config = bytes(qp.data)
                self.out.append(SeenConfig(self.newleader_config))
            # Snapshot (SNAP/TRUNC: committed txns were applied, not logged), log what the
            # leader sent, set currentEpoch, all durable before the ACK (ZOOKEEPER-3911).
            if self.write_to_log:
                entries = self.received
            else:
                entries = list(self.pending)
            self.received = []
            self.current_epoch = self.new_epoch
            acks = [packet(PT.ACK, self.new_leader_zxid)]
            if not self.observer:
                applied = {e.zxid for e in entries} - {e.zxid for e in self.pending}
                acks += [packet(PT.ACK, e.zxid) for e in entries if e.zxid not in applied]
            self._persist(entries, acks, snapshot=not self.write_to_log,
                          current_epoch=self.new_epoch)
            # The committed DIFF txns are now queued for the log ahead of anything later.
            self.out.extend(Apply(e) for e in self.deferred)
            self.deferred = []
            self.state = LearnerState.UPTODATE
        elif t == PT.UPTODATE:
            if self.state is not LearnerState.UPTODATE:
                return self._fail("UPTODATE before NEWLEADER (pre-ZAB-1.0 leader)")
            if self.newleader_config is not None:
                self.out.append(Activate(self.newleader_config, None, None, True))
            self.state = LearnerState.BROADCAST
            self._send(packet(PT.ACK, make_zxid(self.new_epoch, 0)))
            self.out.append(StartServing(self.new_epoch))
        elif t == PT.PING:
            # The leader drops a learner whose first packet after NEWLEADER is not its ACK
            # (LearnerHandler: "Next packet was supposed to be an ACK"), and our NEWLEADER ACK
            # waits for its persist: a PING reply must not overtake it, so it queues behind.
            reply = packet(PT.PING, qp.zxid, encode_touches(self.touches()), qp.authinfo)
            if self.after:
                self.after[max(self.after)].append(reply)
            else:
                self._send(reply)
        return None

    def _broadcast_packet(self, qp: Any) -> None:
        # Most frequent first; the types are distinct, so the order changes nothing else.
        t = qp.type
        if t == _PROPOSAL and not self.observer:
            e = self._entry(qp.data)
            self.last_queued = e.zxid
            if e.hdr.type == _RECONFIG:
                self._proposed(e)
            self.pending.append(e)
            self._persist([e], [_tnew(_QP, (_ACK, e.zxid, None, None))])
        elif (t == _COMMIT or t == _COMMITANDACTIVATE) and not self.observer:
            if t == _COMMITANDACTIVATE:
                self._activate(qp, False)
            self._commit(qp.zxid)
        elif (t == _INFORM or t == _INFORMANDACTIVATE) and self.observer:
            e = self._entry(qp.data if t == _INFORM else qp.data[8:])
            if t == _INFORMANDACTIVATE:
                designated = int.from_bytes(qp.data[:8], "big", signed=True)
                self.out.append(Activate(e.txn.data or b"", designated, qp.zxid, False))
            self.last_queued = e.zxid
            self._persist([e], [])
            self.out.append(_tnew(Apply, (e,)))
        elif t == _PING:
            self._ping(qp)
        elif t == _REVALIDATE:
            sess, valid = decode_revalidate_reply(qp.data)
            self.out.append(Revalidated(sess, valid))
        elif t == _SYNC:
            self.out.append(SyncDone())
        return None

    def _ping(self, qp: Any) -> None:
        """Learner.ping: echo type, zxid and authinfo with the session touches."""
        self._send(packet(PT.PING, qp.zxid, encode_touches(self.touches()), qp.authinfo))

    def persisted(self, seq: int) -> list[LearnerAction]:
        """Persist `seq` (and all before it) is durable: release the ACKs waiting on it."""
        # Seqs are consecutive: walk from the last released one instead of sorting `after`.
        top = min(seq, self.seq)
        while self.released < top:
            self.released += 1
            for qp in self.after.pop(self.released, ()):
                if self.state is not LearnerState.DEAD:
                    self._send(qp)
        return self._take()

    def forward(self, session_id: int, cxid: int, op: int, body: bytes | None,
                authinfo: Any = None) -> list[LearnerAction]:
        """Learner.request: a client write (or sync, type 9) for the leader."""
        self._send(packet(PT.REQUEST, -1, encode_request(session_id, cxid, op, body), authinfo))
        return self._take()

    def revalidate(self, session_id: int, timeout: int) -> list[LearnerAction]:
        """Learner.validateSession."""
        self._send(packet(PT.REVALIDATE, -1, encode_revalidate(session_id, timeout)))
        return self._take()

    def _read_deadline(self) -> int | None:
        """Learner's soTimeout (connectToLeader: initLimit ticks; syncWithLeader switches to
        syncLimit ticks on NEWLEADER) counted from the last packet read."""
        if self.state in (LearnerState.NEW, LearnerState.DEAD):
            return None
        synced = self.state in (LearnerState.UPTODATE, LearnerState.BROADCAST)
        ticks = self.sync_limit if synced else self.init_limit
        return self.last_rx + ticks * self.tick_ms

    def wakeup_ms(self) -> int | None:
        """The next time on_tick has something to do (the host sleeps until then)."""
        return self._read_deadline()

    def on_tick(self, now_ms: int) -> list[LearnerAction]:
        """Socket read timeout: initLimit ticks until NEWLEADER, syncLimit ticks after."""
        deadline = self._read_deadline()
        if deadline is None:
            return []
        if now_ms >= deadline:
            self._fail("Read timed out")
        return self._take()

    def truncate_failed(self) -> list[LearnerAction]:
        """The host cannot rebuild its state at the TRUNC zxid: drop the connection; the next
        LearnerCore should be made with full_resync=True (Java exits here instead)."""
        self._fail("Not able to truncate the log; full resync needed")
        return self._take()

    def on_disconnect(self) -> list[LearnerAction]:
        self._fail("connection closed")
        return self._take()
