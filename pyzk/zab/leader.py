"""The ZAB leader as a pure state machine: Leader.lead() plus one LearnerHandler per learner
connection (discovery, per-learner sync, broadcast, pings and the syncLimit rule).

Inputs are method calls carrying now_ms; outputs are Action records the host executes in order
(file writes it performs synchronously before later sends, as Java's setAcceptedEpoch does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from ..protocol.records import Id, QuorumPacket
from .leader_actions import (
    ApplyCommitted as ApplyCommitted,
)
from .leader_actions import (
    Close as Close,
)
from .leader_actions import (
    CommitReconfig as CommitReconfig,
)
from .leader_actions import Conn as Conn
from .leader_actions import (
    Established as Established,
)
from .leader_actions import (
    HandlerStage as HandlerStage,
)
from .leader_actions import (
    LeaderAction as LeaderAction,
)
from .leader_actions import (  # re-exported: hosts name them L.SendTo and so on
    LeaderPhase as LeaderPhase,
)
from .leader_actions import (
    LearnerRequest as LearnerRequest,
)
from .leader_actions import (
    LogProposals as LogProposals,
)
from .leader_actions import (
    PersistEpoch as PersistEpoch,
)
from .leader_actions import (
    ReadConfirmed as ReadConfirmed,
)
from .leader_actions import ReadDiskLog as ReadDiskLog
from .leader_actions import (
    SendSnap as SendSnap,
)
from .leader_actions import (
    SendTo as SendTo,
)
from .leader_actions import (
    StepDown as StepDown,
)
from .leader_actions import (
    Touch as Touch,
)
from .packets import (
    PROTOCOL_VERSION,
    PT,
    LearnerInfoData,
    decode_int,
    decode_learner_info,
    decode_request,
    decode_revalidate,
    decode_touches,
    encode_int,
    encode_long,
    encode_revalidate_reply,
    encode_txn,
    packet,
)
from .quorum import QuorumOracleMaj, VoterSet, has_quorum
from .sync import DiskLog, choose_sync, reads_disk_log
from .zxid import COUNTER_MASK, counter_of, epoch_of, make_zxid

# The broadcast path's constants as plain values: an enum member costs a class attribute
# lookup each time, and every proposal passes these checks once per learner or per ACK.
_PROPOSAL = int(PT.PROPOSAL)
_COMMIT = int(PT.COMMIT)
_INFORM = int(PT.INFORM)
_BROADCAST = LeaderPhase.BROADCAST
_ACKING = (HandlerStage.UPTODATE, HandlerStage.BROADCAST)
_tnew = tuple.__new__
_QP = QuorumPacket

# The authinfo tag of a confirmation-round PING. Learners echo a PING's authinfo (Java's
# Learner.ping copies qp.getAuthinfo()), so the echo tells which round the reply answers.
ROUND_SCHEME = "pyzk:round"


def _round_of(qp: Any) -> int:
    for ident in qp.authinfo or ():
        if ident.scheme == ROUND_SCHEME:
            try:
                return int(ident.id)
            except (TypeError, ValueError):
                return 0
    return 0


def refuse_learner(info: LearnerInfoData, config_version: int) -> str | None:
    """Why LearnerHandler refuses a FOLLOWERINFO/OBSERVERINFO, if it does (the leader and a
    follower's ObserverMaster alike)."""
    if info.config_version is not None and info.config_version > config_version:
        return "Follower is ahead of the leader (later configuration)"
    if info.protocol_version < PROTOCOL_VERSION:
        return "pre-ZAB-1.0 learners are not supported"
    return None


# -- state ------------------------------------------------------------------------------------

@dataclass
class _Handler:
    conn: Conn
    sid: int = -1
    observer: bool = False
    stage: HandlerStage = HandlerStage.INFO
    last_zxid: int = -1
    deadline_tick: int = 0
    sending: bool = False
    check_started: bool = False
    cur: tuple[int, int] = (0, 0)  # SyncLimitCheck current (zxid, time_ms); time 0 = none
    nxt: tuple[int, int] = (0, 0)
    # When the handler's current socket read began (its last packet, or the moment it went
    # back to reading after waiting on the leader): Java's soTimeout runs from there.
    read_since: int = 0
    round_seen: int = 0  # the highest sync-confirmation round this learner echoed
    # Linearizable syncs of this learner not yet answered: the last zxid proposed when each
    # arrived. A learner applies SYNC in its place among the COMMITs (Java's CommitProcessor
    # matches them against the session's queued requests), so COMMITs/INFORMs past the
    # oldest barrier wait in `held` until its SYNC has gone out.
    sync_barriers: deque[int] = field(default_factory=deque)
    held: list[tuple[int, Any]] = field(default_factory=list)
    disk: list[tuple[int, bytes]] | None = None  # the txn log read for this learner's sync
    disk_pending: bool = False  # ReadDiskLog sent, disk_log_read not yet called


class _Proposal:
    """A proposal awaiting its quorum of ACKs (a plain class: mypyc keeps a dataclass's
    __init__ interpreted, and one is made per txn)."""

    __slots__ = ("zxid", "data", "hdr", "txn", "digest", "acks", "quorums", "reconfig")

    def __init__(self, zxid: int, data: bytes, hdr: Any, txn: Any, digest: Any) -> None:
        self.zxid = zxid
        self.data = data
        self.hdr = hdr
        self.txn = txn
        self.digest = digest
        self.acks: set[int] = set()
        # Voter sets that must each hold a quorum of acks (Proposal.qvAcksetPairs): the
        # current config, plus the proposed one while a reconfig is pending.
        self.quorums: list[Set[int]] = []
        # For a reconfig proposal: (voters of the new config, this leader stays leader in it)
        self.reconfig: tuple[Set[int], bool] | None = None


class LeaderCore:
    def __init__(self, my_id: int, voters: Set[int], observers: set[int], accepted_epoch: int,
                 current_epoch: int, last_zxid: int, committed_log: Sequence[tuple[int, bytes]],
                 tick_ms: int = 2000, init_limit: int = 10, sync_limit: int = 5,
                 config_version: int = 0, config_bytes: bytes = b"",
                 disk_log: DiskLog | None = None,
                 session_valid: Callable[[int, int, int], bool] | None = None,
                 commit_log_count: int = 500,
                 newleader_config: Callable[[int], bytes] | None = None,
                 linearizable_sync: bool = False, defer_disk_log: bool = False) -> None:
        self.my_id = my_id
        # The host reads the disk log for a sync (ReadDiskLog) instead of disk_log here.
        self.defer_disk_log = defer_disk_log
        self.voters: Set[int] = voters  # a VoterSet carries a hierarchical rule: no copies
        self.observers = set(observers)
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        self.last_applied = last_zxid  # the data tree's lastProcessedZxid
        self.committed_log = list(committed_log)[-commit_log_count:] if commit_log_count else []
        self.commit_log_count = commit_log_count
        self.tick_ms, self.init_limit, self.sync_limit = tick_ms, init_limit, sync_limit
        self.config_version, self.config_bytes = config_version, config_bytes
        # Called with the NEWLEADER zxid once it is known: the lastSeen config text to send
        # with NEWLEADER (Leader.lead's ZOOKEEPER-1783 version bump happens there).
        self.newleader_config = newleader_config
        self.next_voters: Set[int] | None = None  # lastSeenQuorumVerifier's, while pending
        self.allowed_to_commit = True  # false once a reconfig designates another leader
        self.disk_log = disk_log
        self.session_valid = session_valid or (lambda sid, timeout, learner: False)
        self.handlers: dict[Conn, _Handler] = {}
        self.phase = LeaderPhase.NEW
        self.epoch = -1
        self.connecting: set[int] = set()
        self.electing: set[int] = set()
        self.newleader_acks: set[int] = set()
        self.new_leader_zxid = 0
        self.last_proposed = 0
        self.last_committed = -1
        self.outstanding: dict[int, _Proposal] = {}
        # Syncs waiting for a zxid to commit: (learner conn, None) or (None, local token).
        self.pending_syncs: dict[int, list[tuple[Conn | None, Any]]] = {}
        # Linearizable sync (beyond Java): a sync is answered only after a quorum answered a
        # PING this leader sent after the sync arrived (Raft's ReadIndex). One round is in
        # flight at a time; syncs arriving meanwhile wait for the next one.
        self.linearizable_sync = linearizable_sync
        self.round_started = 0
        self.round_done = 0
        self.round_syncs: dict[int, list[tuple[Conn | None, Any, int]]] = {}
        self.tick = 0
        self.tick_skip = True
        self.next_half_tick = 0
        self.last_tick_call = 0
        self.phase_deadline = 0
        self.persist_seq = 0
        self.persist_zxids: deque[tuple[int, int]] = deque()  # (seq, zxid) awaiting `persisted`
        self._observer_counter = -1
        self.out: list[LeaderAction] = []

    # -- helpers ----------------------------------------------------------------------------

    def _quorum(self, ids: set[int]) -> bool:
        """A quorum of the current config's voters."""
        return has_quorum(ids, self.voters)

    def _send(self, h: _Handler, qp: Any, now: int = 0) -> None:
        if qp.type == _PROPOSAL and h.check_started:
            # LearnerHandler.sendPackets -> SyncLimitCheck.updateProposal
            if h.cur[1] == 0:
                h.cur = (qp.zxid, now or 1)
            else:
                h.nxt = (qp.zxid, now or 1)
        self.out.append(_tnew(SendTo, (h.conn, qp)))

    def _drop(self, h: _Handler, reason: str) -> None:
        self.handlers.pop(h.conn, None)
        h.stage = HandlerStage.DEAD
        self.out.append(Close(h.conn, reason))
        self._update_need_oracle()

    def _oracle(self) -> QuorumOracleMaj | None:
        v = self.voters
        return v.verifier if type(v) is VoterSet and type(v.verifier) is QuorumOracleMaj else None

    def _update_need_oracle(self) -> None:
        """Leader.addForwardingFollower/removeForwardingFollower -> updateNeedOracle."""
        oracle = self._oracle()
        if oracle is not None:
            oracle.update_need_oracle(sum(1 for h in self.handlers.values()
                                          if h.sending and not h.observer))

    def _take(self) -> list[LeaderAction]:
        out, self.out = self.out, []
        return out

    def _step_down(self, reason: str) -> None:
        if self.phase is not LeaderPhase.STOPPED:
            self.phase = LeaderPhase.STOPPED
            for h in list(self.handlers.values()):
                self.out.append(Close(h.conn, "leader shutdown"))
            self.handlers.clear()
            self.out.append(StepDown(reason))

    def next_zxid(self) -> int:
        """The zxid the host's prep stage should give the next txn (ZooKeeperServer.getNextZxid)."""
        return self.last_proposed + 1

    # -- discovery --------------------------------------------------------------------------

    def start(self, now_ms: int) -> list[LeaderAction]:
        """Leader.lead(): count ourselves in getEpochToPropose."""
        self.phase = LeaderPhase.DISCOVERY
        self.last_tick_call = now_ms
        self.phase_deadline = now_ms + self.init_limit * self.tick_ms
        self._epoch_to_propose(self.my_id, self.accepted_epoch, now_ms)
        return self._take()

    def _epoch_to_propose(self, sid: int, accepted: int, now: int) -> None:
        if self.phase is not LeaderPhase.DISCOVERY:
            return
        if accepted >= self.epoch:
            self.epoch = accepted + 1
        if sid in self.voters:
            self.connecting.add(sid)
        if self.my_id in self.connecting and self._quorum(self.connecting):
            self.phase = LeaderPhase.SYNC
            self.phase_deadline = now + self.init_limit * self.tick_ms
            self.accepted_epoch = self.epoch
            self.out.append(PersistEpoch("acceptedEpoch", self.epoch))
            self.new_leader_zxid = self.last_proposed = make_zxid(self.epoch, 0)
            if self.newleader_config is not None:
                self.config_bytes = self.newleader_config(self.new_leader_zxid)
            # The leader's own waitForEpochAck with its StateSummary.
            self.electing.add(self.my_id)
            for h in list(self.handlers.values()):
                if h.stage is HandlerStage.EPOCH:
                    self._leader_info(h, now)
            self._check_epoch_quorum(now)

    def _leader_info(self, h: _Handler, now: int) -> None:
        h.stage = HandlerStage.ACKEPOCH
        h.read_since = max(h.read_since, now)
        self._send(h, packet(PT.LEADERINFO, self.new_leader_zxid, encode_int(PROTOCOL_VERSION)))

    def _check_epoch_quorum(self, now: int) -> None:
        if self.phase is not LeaderPhase.SYNC or self.current_epoch == self.epoch:
            return
        if self._quorum(self.electing) and self.my_id in self.electing:
            self.current_epoch = self.epoch
            self.out.append(PersistEpoch("currentEpoch", self.epoch))
            self.newleader_acks.add(self.my_id)  # waitForNewLeaderAck(self.getMyId(), ...)
            for h in list(self.handlers.values()):
                if h.stage is HandlerStage.EPOCHACK:
                    self._sync(h, now)
            self._check_newleader_quorum(now)

    # -- per-learner ------------------------------------------------------------------------

    def on_connect(self, conn: Conn, now_ms: int) -> list[LeaderAction]:
        """LearnerCnxAcceptor accepted `conn`: its socket timeout (initLimit ticks) runs from
        now, so a connection that never completes its first packet is closed too."""
        self._handler(conn).read_since = now_ms
        return self._take()

    def _handler(self, conn: Conn) -> _Handler:
        h = self.handlers.get(conn)
        if h is None:
            h = self.handlers[conn] = _Handler(conn)
            h.deadline_tick = self.tick + self.init_limit + self.sync_limit
        return h

    def on_packet(self, conn: Conn, qp: Any, now_ms: int) -> list[LeaderAction]:
        if self.phase in (LeaderPhase.NEW, LeaderPhase.STOPPED):
            self.out.append(Close(conn, "not leading"))
            return self._take()
        h = self._handler(conn)
        h.read_since = now_ms
        try:
            self._on_packet(h, qp, now_ms)
        except ValueError as e:  # JuteError and friends: Java's IOException kills the handler
            self._drop(h, f"bad packet: {e}")
        return self._take()

    def on_acks(self, conn: Conn, zxids: list[int], now_ms: int) -> list[LeaderAction]:
        """ACKs read together from one learner, in order: what `on_packet` does with each,
        minus the per-packet dispatch (the hot path: every follower ACKs every proposal)."""
        h = self.handlers.get(conn)
        if h is None or self.phase is not _BROADCAST or h.stage not in _ACKING:
            out: list[LeaderAction] = []
            for zxid in zxids:
                out += self.on_packet(conn, packet(PT.ACK, zxid), now_ms)
            return out
        h.read_since = now_ms
        h.deadline_tick = self.tick + self.sync_limit
        for zxid in zxids:
            if h.cur[0] == zxid:
                h.cur, h.nxt = h.nxt, (0, 0)
            elif h.nxt[0] == zxid:
                h.nxt = (0, 0)
            self._process_ack(h.sid, zxid)
        return self._take()

    def _on_packet(self, h: _Handler, qp: Any, now: int) -> None:
        t = qp.type
        if h.stage is HandlerStage.INFO:
            if t not in (PT.FOLLOWERINFO, PT.OBSERVERINFO):
                return self._drop(h, "First packet is not FOLLOWERINFO or OBSERVERINFO")
            info = decode_learner_info(qp.data)
            refused = refuse_learner(info, self.config_version)
            if refused:
                return self._drop(h, refused)
            if info.sid is None:
                h.sid = self._observer_counter
                self._observer_counter -= 1
            else:
                h.sid = info.sid
            h.observer = t == PT.OBSERVERINFO
            # Acks from this sid's earlier connection stop counting: its sync may TRUNC them
            # away (peer > maxCommittedLog) before the re-sent proposals are logged again.
            # Java keeps them, and the simulator finds a committed txn lost that way.
            for p in self.outstanding.values():
                p.acks.discard(h.sid)
            h.stage = HandlerStage.EPOCH
            self._epoch_to_propose(h.sid, epoch_of(qp.zxid), now)
            if self.phase is not LeaderPhase.DISCOVERY and h.stage is HandlerStage.EPOCH:
                self._leader_info(h, now)
            return None
        if h.stage is HandlerStage.EPOCH:
            return None  # Java's handler is blocked in getEpochToPropose; nothing is read
        if h.stage is HandlerStage.ACKEPOCH:
            if t != PT.ACKEPOCH:
                return self._drop(h, "not ACKEPOCH")
            cur_epoch, h.last_zxid = decode_int(qp.data), qp.zxid
            h.stage = HandlerStage.EPOCHACK
            if self.current_epoch == self.epoch:  # electionFinished
                return self._sync(h, now)
            if cur_epoch != -1:
                # StateSummary.isMoreRecentThan the leader's (currentEpoch, lastZxid)
                ahead = (cur_epoch > self.current_epoch
                         or (cur_epoch == self.current_epoch and h.last_zxid > self.last_applied))
                if ahead:
                    return self._drop(h, "Follower is ahead of the leader")
                if h.last_zxid != -1 and h.sid in self.voters:
                    self.electing.add(h.sid)
            self._check_epoch_quorum(now)
            return None
        if h.stage is HandlerStage.EPOCHACK:
            return None
        if h.stage is HandlerStage.NEWLEADER:
            if t != PT.ACK:
                return self._drop(h, "Next packet was supposed to be an ACK")
            # Leader.waitForNewLeaderAck only logs an ACK of another zxid ("is from a
            # different epoch") and the handler goes on to UPTODATE without counting it. A Java
            # learner's SyncThread ACKs the DIFF txns it logs on NEWLEADER, and those can
            # overtake its NEWLEADER ACK (Learner.syncWithLeader); the late one is then ignored.
            counted = qp.zxid == self.new_leader_zxid
            h.check_started = True
            h.stage = HandlerStage.UPTODATE
            h.deadline_tick = self.tick + self.sync_limit
            if not counted and self.phase is LeaderPhase.SYNC:
                return None
            if h.sid in self.voters and self.phase is LeaderPhase.SYNC:
                self.newleader_acks.add(h.sid)
                self._check_newleader_quorum(now)
            elif self.phase is LeaderPhase.BROADCAST:
                self._uptodate(h, now)
            return None
        # broadcast loop (LearnerHandler.run's while(true))
        h.deadline_tick = self.tick + self.sync_limit
        if t == PT.ACK:
            if h.cur[0] == qp.zxid:
                h.cur, h.nxt = h.nxt, (0, 0)
            elif h.nxt[0] == qp.zxid:
                h.nxt = (0, 0)
            self._process_ack(h.sid, qp.zxid)
        elif t == PT.PING:
            self.out.extend(Touch(s, to) for s, to in decode_touches(qp.data))
            if qp.authinfo:
                n = _round_of(qp)
                if n > h.round_seen:
                    h.round_seen = n
                    self._check_round()
        elif t == PT.REVALIDATE:
            sess, to = decode_revalidate(qp.data)
            ok = self.session_valid(sess, to, h.sid)
            self._send(h, packet(PT.REVALIDATE, qp.zxid, encode_revalidate_reply(sess, ok)))
        elif t == PT.REQUEST:
            self.out.append(LearnerRequest(h.conn, h.sid, decode_request(qp.data), qp.authinfo))
        return None

    def _sync(self, h: _Handler, now: int) -> None:
        """syncFollower + startForwarding + the NEWLEADER packet."""
        disk = self.disk_log
        if self.defer_disk_log and reads_disk_log(h.last_zxid, self.last_applied,
                                                  self.committed_log):
            if h.disk is None:  # read it first (ReadDiskLog); disk_log_read comes back here
                if not h.disk_pending:
                    h.disk_pending = True
                    self.out.append(ReadDiskLog(h.conn, h.last_zxid))
                return
            entries, h.disk = h.disk, None
            disk = lambda _zxid: iter(entries)  # noqa: E731
        plan = choose_sync(h.last_zxid, self.last_applied, self.committed_log, disk)
        if plan.needs_snap:
            self.out.append(SendSnap(h.conn, self.last_applied))
        h.sending = True
        self._update_need_oracle()
        for qp in plan.packets:
            self._send(h, qp, now)
        if not h.observer and self.last_proposed > plan.current_zxid:
            for z in sorted(self.outstanding):
                if z > plan.current_zxid:
                    self._send(h, packet(PT.PROPOSAL, z, self.outstanding[z].data), now)
        h.stage = HandlerStage.NEWLEADER
        h.read_since = max(h.read_since, now)
        self._send(h, packet(PT.NEWLEADER, self.new_leader_zxid, self.config_bytes))

    def disk_log_read(self, conn: Conn, entries: list[tuple[int, bytes]],
                      now_ms: int) -> list[LeaderAction]:
        """The host read the txn log a ReadDiskLog asked for: that learner's sync goes on."""
        h = self.handlers.get(conn)
        if h is not None and h.disk_pending and h.stage is HandlerStage.EPOCHACK \
                and self.phase not in (LeaderPhase.NEW, LeaderPhase.STOPPED):
            h.disk_pending, h.disk = False, entries
            self._sync(h, now_ms)
        return self._take()

    def _check_newleader_quorum(self, now: int) -> None:
        if self.phase is LeaderPhase.SYNC and self._quorum(self.newleader_acks):
            self.phase = LeaderPhase.BROADCAST
            self.tick = 0
            self.tick_skip = True
            self.next_half_tick = now + self.tick_ms // 2
            self.out.append(Established(self.epoch))
            for h in list(self.handlers.values()):
                if h.stage is HandlerStage.UPTODATE:
                    self._uptodate(h, now)

    def _uptodate(self, h: _Handler, now: int) -> None:
        h.stage = HandlerStage.BROADCAST
        h.read_since = max(h.read_since, now)
        self._send(h, packet(PT.UPTODATE, -1))
        if self.round_started > self.round_done and not h.observer:
            # A round in flight can count this learner too (it may replace a dropped one).
            self._send(h, packet(PT.PING, self.last_proposed, None,
                                 [Id(ROUND_SCHEME, str(self.round_started))]))

    def on_disconnect(self, conn: Conn) -> list[LeaderAction]:
        self.handlers.pop(conn, None)
        self._update_need_oracle()
        return self._take()

    # -- broadcast --------------------------------------------------------------------------

    def propose(self, hdr: Any, txn: Any, digest: Any, now_ms: int,
                reconfig: tuple[Set[int], bool] | None = None) -> list[LeaderAction]:
        """Leader.propose: PROPOSAL to forwarding followers and our own log write. A reconfig
        passes (next voters, stays leader): it and every later proposal until it commits need a
        quorum of both configurations."""
        if self.phase is not LeaderPhase.BROADCAST:
            raise RuntimeError("not established")
        zxid = hdr.zxid
        if zxid != self.last_proposed + 1 or epoch_of(zxid) != self.epoch:
            raise ValueError(f"proposal zxid {zxid:#x} after {self.last_proposed:#x}")
        if counter_of(zxid) == COUNTER_MASK:
            self._step_down("zxid lower 32 bits have rolled over")
            return self._take()
        data = encode_txn(hdr, txn, digest)
        self.last_proposed = zxid
        prop = self.outstanding[zxid] = _Proposal(zxid, data, hdr, txn, digest)
        prop.quorums.append(self.voters)
        if reconfig is not None:
            prop.reconfig = (set(reconfig[0]), reconfig[1])
            self.next_voters = reconfig[0]
        if self.next_voters is not None:
            prop.quorums.append(self.next_voters)
        qp = _tnew(_QP, (_PROPOSAL, zxid, data, None))
        for h in self.handlers.values():
            if h.sending and not h.observer:
                self._send(h, qp, now_ms)
        seq = self.persist_seq = self.persist_seq + 1
        self.persist_zxids.append((seq, zxid))
        self.out.append(_tnew(LogProposals, (seq, [(zxid, hdr, txn, digest, data)])))
        return self._take()

    def persisted(self, seq: int) -> list[LeaderAction]:
        """Our log write `seq` is durable: AckRequestProcessor -> processAck(self)."""
        while self.persist_zxids and self.persist_zxids[0][0] <= seq:
            _, zxid = self.persist_zxids.popleft()
            self._process_ack(self.my_id, zxid)
        return self._take()

    def _process_ack(self, sid: int, zxid: int) -> None:
        if not self.allowed_to_commit:
            return  # the last commit was a leader change: the designated leader commits
        if self.phase is not _BROADCAST or not zxid & COUNTER_MASK or not self.outstanding:
            return  # (zxid & COUNTER_MASK: counter_of, inline)
        if self.last_committed >= zxid:
            return
        p = self.outstanding.get(zxid)
        if p is None:
            return  # "Trying to commit future proposal"
        p.acks.add(sid)
        # Java retries only the acked zxid; later ones with a quorum commit on their next ACK.
        # Walking forward is equivalent under FIFO acks and never commits out of order.
        while p is not None and self.allowed_to_commit and self._try_commit(p):
            p = self.outstanding.get(p.zxid + 1)

    def _try_commit(self, p: _Proposal) -> bool:
        if p.zxid - 1 in self.outstanding:
            return False
        quorums = p.quorums
        if len(quorums) == 1:  # no reconfig pending: one voter set
            if not has_quorum(p.acks, quorums[0]):
                return False
        elif not all(has_quorum(p.acks, q) for q in quorums or [self.voters]):
            return False
        del self.outstanding[p.zxid]
        self.last_committed = p.zxid
        if p.reconfig is not None:
            designated = self._designated_leader(p)
            self.voters = p.reconfig[0]
            self.next_voters = None
            self.config_version = p.zxid
            self.out.append(CommitReconfig(p.zxid, designated, p.txn.data))
            if designated != self.my_id:
                self.allowed_to_commit = False
            d = encode_long(designated)
            commit = packet(PT.COMMITANDACTIVATE, p.zxid, d)
            inform = packet(PT.INFORMANDACTIVATE, p.zxid, d + p.data)
        else:
            commit = _tnew(_QP, (_COMMIT, p.zxid, None, None))
            inform = _tnew(_QP, (_INFORM, p.zxid, p.data, None))
        for h in self.handlers.values():
            if h.sending:
                if h.sync_barriers and p.zxid > h.sync_barriers[0]:
                    h.held.append((p.zxid, inform if h.observer else commit))
                else:
                    self._send(h, inform if h.observer else commit)
        self.out.append(_tnew(ApplyCommitted, (p.zxid, p.hdr, p.txn, p.digest, p.data)))
        self.last_applied = p.zxid
        if self.commit_log_count:
            self.committed_log.append((p.zxid, p.data))
            if len(self.committed_log) > self.commit_log_count:
                del self.committed_log[0]
        for conn, token in self.pending_syncs.pop(p.zxid, []):
            self._sync_reply(conn, token)
        return True

    def _designated_leader(self, p: _Proposal) -> int:
        """Leader.getDesignatedLeader: stay if a voter of the new config at the same quorum
        address; else the acker of the reconfig (new voters) that acked most later proposals."""
        assert p.reconfig is not None
        new_voters, stays = p.reconfig
        if stays:
            return self.my_id
        cands = (p.acks & new_voters) - {self.my_id}
        if not cands:
            return self.my_id
        cur = min(cands)
        q = self.outstanding.get(p.zxid + 1)
        while q is not None and cands:
            for voters in q.quorums:
                cands &= q.acks & voters
                if not cands:
                    return cur
                cur = min(cands)
                if len(cands) == 1:
                    return cur
            q = self.outstanding.get(q.zxid + 1)
        return cur

    def is_quorum_synced(self, voters: Set[int]) -> bool:
        """Leader.isQuorumSynced: this leader (if a voter there) and the synced followers that
        vote in `voters` make a quorum of it."""
        ids = {self.my_id} & voters
        ids |= {h.sid for h in self.handlers.values()
                if h.stage is HandlerStage.BROADCAST and not h.observer and h.sid in voters
                and self.tick <= h.deadline_tick}
        return has_quorum(ids, voters)

    def process_sync(self, conn: Conn, now_ms: int = 0) -> list[LeaderAction]:
        """Leader.processSync for a learner's forwarded sync: answer once the last proposal so
        far commits (at once if none is outstanding); with linearizable_sync, also only after
        a confirmation round that started after the sync arrived."""
        self._read_index(conn, None, now_ms)
        return self._take()

    def confirm_read(self, token: Any, now_ms: int) -> list[LeaderAction]:
        """A sync of the leader's own client: ReadConfirmed(token) when it may be answered
        (Java answers it at once, in the session's order; this is linearizable_sync only)."""
        self._read_index(None, token, now_ms)
        return self._take()

    def _read_index(self, conn: Conn | None, token: Any, now: int) -> None:
        if self.phase is not LeaderPhase.BROADCAST:
            return  # stepping down: the connection is about to close, unanswered
        index = self.last_proposed if self.outstanding else 0
        if not self.linearizable_sync:
            return self._sync_after(conn, token, index)
        # A round in flight began before this sync arrived: it waits for the next one.
        self.round_syncs.setdefault(self.round_started + 1, []).append((conn, token, index))
        h = self.handlers.get(conn) if conn is not None else None
        if h is not None:
            h.sync_barriers.append(self.last_proposed)
        if self.round_started == self.round_done:
            self._start_round()
            self._check_round()
        return None

    def _start_round(self) -> None:
        """PING every synced follower with this round's tag (the learner echoes it)."""
        self.round_started += 1
        qp = packet(PT.PING, self.last_proposed, None,
                    [Id(ROUND_SCHEME, str(self.round_started))])
        for h in self.handlers.values():
            if h.stage is HandlerStage.BROADCAST and not h.observer:
                self._send(h, qp)

    def _round_acked(self, n: int) -> bool:
        ids = {self.my_id} | {h.sid for h in self.handlers.values()
                              if h.round_seen >= n and h.stage is HandlerStage.BROADCAST
                              and not h.observer}
        return self._quorum(ids) and (self.next_voters is None
                                      or has_quorum(ids, self.next_voters))

    def _check_round(self) -> None:
        while self.round_started > self.round_done and self._round_acked(self.round_started):
            n = self.round_done = self.round_started
            for conn, token, index in self.round_syncs.pop(n, []):
                self._sync_after(conn, token, index)
            if self.round_syncs:
                self._start_round()

    def _sync_after(self, conn: Conn | None, token: Any, index: int) -> None:
        if index == 0 or self.last_committed >= index:
            self._sync_reply(conn, token)
        else:
            self.pending_syncs.setdefault(index, []).append((conn, token))

    def _sync_reply(self, conn: Conn | None, token: Any) -> None:
        if conn is None:
            self.out.append(ReadConfirmed(token))
            return
        h = self.handlers.get(conn)
        if h is not None:
            self._send(h, packet(PT.SYNC, 0))
            if h.sync_barriers:
                h.sync_barriers.popleft()
                # Release the COMMITs that waited for this SYNC, up to the next barrier.
                while h.held and (not h.sync_barriers or h.held[0][0] <= h.sync_barriers[0]):
                    self._send(h, h.held.pop(0)[1])

    # -- time -------------------------------------------------------------------------------

    def _read_limit(self, h: _Handler) -> int:
        """The socket read timeout of a handler that is reading (Leader's acceptor sets
        initLimit ticks, LearnerHandler syncLimit ticks once the NEWLEADER ACK is processed);
        0 while its Java thread waits on the leader instead of reading."""
        if h.stage in (HandlerStage.INFO, HandlerStage.ACKEPOCH, HandlerStage.NEWLEADER):
            return self.init_limit * self.tick_ms
        if h.stage is HandlerStage.BROADCAST:
            return self.sync_limit * self.tick_ms
        return 0

    def wakeup_ms(self) -> int | None:
        """The next time on_tick has something to do (the host sleeps until then)."""
        times = []
        if self.phase in (LeaderPhase.DISCOVERY, LeaderPhase.SYNC):
            times.append(self.phase_deadline)
        elif self.phase is LeaderPhase.BROADCAST:
            times.append(self.next_half_tick)
        for h in self.handlers.values():
            limit = self._read_limit(h)
            if limit:
                times.append(h.read_since + limit)
        return min(times) if times else None

    def on_tick(self, now_ms: int) -> list[LeaderAction]:
        # A host that could not call us for over a tick (a stalled event loop, SIGSTOP) may
        # hold learners' packets unread: their reads get one more pass before timing out, as
        # a Java socket read finds its buffered bytes on waking instead of timing out.
        stalled = now_ms - self.last_tick_call > self.tick_ms
        self.last_tick_call = now_ms
        running = self.phase in (LeaderPhase.DISCOVERY, LeaderPhase.SYNC, LeaderPhase.BROADCAST)
        if running and not stalled:
            for h in list(self.handlers.values()):
                limit = self._read_limit(h)
                if limit and now_ms - h.read_since >= limit:
                    # The read times out and the handler thread ends (isAlive() is false).
                    self._drop(h, "Read timed out")
        if self.phase in (LeaderPhase.DISCOVERY, LeaderPhase.SYNC):
            if now_ms >= self.phase_deadline:
                what = "epoch from quorum" if self.phase is LeaderPhase.DISCOVERY else (
                    "epoch to be acked by quorum" if self.current_epoch != self.epoch
                    else "NEWLEADER to be acked by quorum")
                self._step_down(f"Timeout while waiting for {what}")
            return self._take()
        if self.phase is LeaderPhase.BROADCAST and now_ms >= self.next_half_tick:
            # One pass per call: after a stall lead() does not run the missed passes back to
            # back (its wait is tickTime/2 from each pass's start), which would count several
            # ticks before the learners' buffered packets are read.
            self.next_half_tick += self.tick_ms // 2
            if self.next_half_tick <= now_ms:
                self.next_half_tick = now_ms + self.tick_ms // 2
            self._half_tick(now_ms)
        return self._take()

    def _half_tick(self, now: int) -> None:
        """One pass of lead()'s while(true): tick, the synced-quorum rule, then pings."""
        if not self.tick_skip:
            self.tick += 1
        synced = {self.my_id} | {h.sid for h in self.handlers.values()
                                 if self.tick <= h.deadline_tick}
        lost = not self._quorum(synced) or (
            self.next_voters is not None and not has_quorum(synced, self.next_voters))
        if not self.tick_skip and lost:
            return self._step_down(f"Not sufficient followers synced, only synced with sids: "
                                   f"{sorted(synced & self.voters)}")
        if self.outstanding and self._oracle() is not None:
            # revalidateOutstandingProp: what waited for the departed follower's ACK commits
            # on the oracle's word (contains_quorum asks it).
            for z in sorted(self.outstanding):
                p = self.outstanding.get(z)
                if p is None or not self._try_commit(p):
                    break
        self.tick_skip = not self.tick_skip
        limit = self.sync_limit * self.tick_ms
        for h in list(self.handlers.values()):
            if not h.sending:
                continue
            if h.cur[1] != 0 and now - h.cur[1] >= limit:
                self._drop(h, "Closing connection to peer due to transaction timeout.")
                continue
            self._send(h, packet(PT.PING, self.last_proposed))
        return None
