"""A follower serving observers (observerMasterPort) as a pure state machine: ObserverMaster
plus the LearnerHandler it runs per observer connection (Java 3.8.0).

The follower is already synced and serving when this starts, so there is no discovery: each
observer gets LEADERINFO with the follower's current epoch, is synced from the follower's own
committed window or txn log (the same `choose_sync` the leader uses: DIFF, TRUNC or SNAP),
then NEWLEADER and UPTODATE. After that every txn the follower commits goes on to its
observers as INFORM (INFORMANDACTIVATE for a reconfig), and the observers' REQUEST and
REVALIDATE packets are relayed to the leader, the answers coming back through here. The
follower pings its observers every half tick; their PING replies touch their sessions in the
follower's tracker, whose own PING replies carry them on to the leader.

Nothing here is specific to following: anything that applies committed txns in order and can
relay packets to a leader can drive it (the host decides what ToLeader means).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from ..protocol.opcodes import Op
from .leader import Close, Conn, ReadDiskLog, SendSnap, SendTo, Touch, refuse_learner
from .packets import (
    PROTOCOL_VERSION,
    PT,
    Packet,
    decode_int,
    decode_learner_info,
    decode_request,
    decode_revalidate,
    decode_touches,
    encode_inform_and_activate,
    encode_int,
    encode_revalidate_reply,
    packet,
)
from .sync import Committed, DiskLog, choose_sync, reads_disk_log
from .zxid import counter_of, make_zxid


class ToLeader(NamedTuple):
    """Relay `qp` (an observer's REQUEST or REVALIDATE) to the leader as it came. A relayed
    sync (`sync_for` set) joins the follower's queue of pending syncs, so that the leader's
    SYNC answer reaches `sync_for` through `sync_done` in its turn (fzk.pendingSyncs)."""
    qp: Packet
    sync_for: Conn | None = None


ObserverMasterAction = SendTo | SendSnap | Close | Touch | ToLeader | ReadDiskLog


class ObserverStage(StrEnum):
    """One observer connection, in protocol order."""
    INFO = "info"  # waiting for OBSERVERINFO
    ACKEPOCH = "ackepoch"  # LEADERINFO sent
    NEWLEADER = "newleader"  # synced and NEWLEADER sent; waiting for its ACK
    BROADCAST = "broadcast"  # UPTODATE sent: INFORMs, pings, relayed requests


@dataclass
class _Observer:
    conn: Conn
    sid: int = -1
    stage: ObserverStage = ObserverStage.INFO
    read_since: int = 0
    forwarding: bool = False  # in activeObservers: committed txns go to it
    disk: list[tuple[int, bytes]] | None = None  # the txn log read for its sync (ReadDiskLog)
    disk_pending: int | None = None  # its lastZxid while that read is under way


# The follower's data as of now: (lastProcessedZxid of its tree, its committed window).
DbState = Callable[[], tuple[int, Committed]]


class ObserverMasterCore:
    def __init__(self, my_id: int, current_epoch: int, config_version: int,
                 config_bytes: bytes, db_state: DbState, disk_log: DiskLog | None = None,
                 tick_ms: int = 2000, init_limit: int = 10, sync_limit: int = 5,
                 defer_disk_log: bool = False) -> None:
        self.my_id = my_id
        self.current_epoch = current_epoch
        self.config_version, self.config_bytes = config_version, config_bytes
        self.db_state = db_state
        self.disk_log = disk_log
        # The host reads the txn log for a sync (ReadDiskLog, off its loop) instead of
        # disk_log here: a handshake claiming an old lastZxid must not stall the follower.
        self.defer_disk_log = defer_disk_log
        self.tick_ms, self.init_limit, self.sync_limit = tick_ms, init_limit, sync_limit
        self.observers: dict[Conn, _Observer] = {}
        self.last_sent = db_state()[0]  # lastProposedZxid: the zxid pings carry
        self.next_ping = 0
        self._anon_sid = -1  # ObserverMaster's followerCounter, for learners that send no sid
        # Revalidations relayed to the leader, oldest first (pendingRevalidations):
        # (session, timeout, observer connection).
        self.revalidations: deque[tuple[int, int, Conn]] = deque()
        self.stopped = False
        self.out: list[ObserverMasterAction] = []

    def _take(self) -> list[ObserverMasterAction]:
        out, self.out = self.out, []
        return out

    def _send(self, o: _Observer, qp: Packet) -> None:
        self.out.append(SendTo(o.conn, qp))

    def _drop(self, o: _Observer, reason: str) -> None:
        self.observers.pop(o.conn, None)
        self.out.append(Close(o.conn, reason))

    def synced(self) -> list[tuple[Conn, int]]:
        """(connection, sid) of the observers past UPTODATE (getActiveObservers)."""
        return [(o.conn, o.sid) for o in self.observers.values()
                if o.stage is ObserverStage.BROADCAST]

    # -- an observer's packets ----------------------------------------------------------------

    def on_connect(self, conn: Conn, now_ms: int) -> list[ObserverMasterAction]:
        """An observer connected: its read timeout (initLimit ticks) runs from now, so a
        connection that never completes its first packet is closed too."""
        if not self.stopped:
            self.observers.setdefault(conn, _Observer(conn)).read_since = now_ms
        return self._take()

    def on_packet(self, conn: Conn, qp: Packet, now_ms: int) -> list[ObserverMasterAction]:
        if self.stopped:
            self.out.append(Close(conn, "ObserverMaster is not running"))
            return self._take()
        o = self.observers.get(conn)
        if o is None:
            o = self.observers[conn] = _Observer(conn)
        o.read_since = now_ms
        try:
            self._on_packet(o, qp, now_ms)
        except ValueError as e:  # a malformed packet ends the handler, as Java's IOException
            self._drop(o, f"bad packet: {e}")
        return self._take()

    def _on_packet(self, o: _Observer, qp: Packet, now: int) -> None:
        t = qp.type
        if o.stage is ObserverStage.INFO:
            if t != PT.OBSERVERINFO:
                return self._drop(o, f"Non observer attempting to connect to ObserverMaster."
                                     f" type = {t}")
            info = decode_learner_info(qp.data)
            refused = refuse_learner(info, self.config_version)
            if refused:
                return self._drop(o, refused)
            if info.sid is None:
                o.sid, self._anon_sid = self._anon_sid, self._anon_sid - 1
            else:
                o.sid = info.sid
            # getEpochToPropose: the follower's own epoch, nothing to wait for.
            o.stage = ObserverStage.ACKEPOCH
            self._send(o, packet(PT.LEADERINFO, self._epoch_zxid(),
                                 encode_int(PROTOCOL_VERSION)))
            return None
        if o.stage is ObserverStage.ACKEPOCH:
            if t != PT.ACKEPOCH:
                return self._drop(o, "not ACKEPOCH")
            decode_int(qp.data)  # the observer's currentEpoch: waitForEpochAck ignores it here
            return self._sync(o, qp.zxid, now)
        if o.stage is ObserverStage.NEWLEADER:
            if t != PT.ACK:
                return self._drop(o, "Next packet was supposed to be an ACK")
            # waitForNewLeaderAck and waitForStartup: nothing to wait for on a follower.
            o.stage = ObserverStage.BROADCAST
            self._send(o, packet(PT.UPTODATE, -1))
            return None
        if t == PT.ACK:
            if counter_of(qp.zxid) != 0:  # the ACK of UPTODATE is the only one expected
                return self._drop(o, f"Observers shouldn't send ACKS ack = {qp.zxid:#x}")
        elif t == PT.PING:
            self.out.extend(Touch(s, to) for s, to in decode_touches(qp.data))
        elif t == PT.REVALIDATE:
            session, timeout = decode_revalidate(qp.data)
            self.revalidations.append((session, timeout, o.conn))
            self.out.append(ToLeader(qp))
        elif t == PT.REQUEST:
            # FollowerRequestProcessor: the request goes on to the leader; the observer answers
            # its client when the txn comes back as an INFORM.
            op = decode_request(qp.data).type
            self.out.append(ToLeader(qp, o.conn if op == Op.SYNC else None))
        return None

    def _epoch_zxid(self) -> int:
        return make_zxid(self.current_epoch, 0)

    def _sync(self, o: _Observer, peer_last: int, now: int) -> None:
        """syncFollower from this follower's data, startForwarding, then NEWLEADER. Done in
        one step: no commit can slip in between the plan and the forwarding. When the plan
        needs the txn log and the host reads it (defer_disk_log), the observer waits in
        ACKEPOCH for disk_log_read, which comes back here; entries that end before the
        window now starts make choose_sync answer SNAP."""
        last_applied, window = self.db_state()
        disk = self.disk_log
        if self.defer_disk_log and reads_disk_log(peer_last, last_applied, window):
            if o.disk is None:
                if o.disk_pending is None:
                    o.disk_pending = peer_last
                    self.out.append(ReadDiskLog(o.conn, peer_last))
                return
            entries, o.disk = o.disk, None
            disk = lambda _zxid: iter(entries)  # noqa: E731
        plan = choose_sync(peer_last, last_applied, window, disk)
        if plan.needs_snap:
            self.out.append(SendSnap(o.conn, last_applied))
        for qp in plan.packets:
            self._send(o, qp)
        o.forwarding = True
        o.stage = ObserverStage.NEWLEADER
        o.read_since = max(o.read_since, now)
        self._send(o, packet(PT.NEWLEADER, self._epoch_zxid(), self.config_bytes))

    def disk_log_read(self, conn: Conn, entries: list[tuple[int, bytes]],
                      now: int) -> list[ObserverMasterAction]:
        """The host read the txn log a ReadDiskLog asked for: that observer's sync goes on."""
        o = self.observers.get(conn)
        if o is not None and o.disk_pending is not None and o.stage is ObserverStage.ACKEPOCH \
                and not self.stopped:
            peer_last, o.disk_pending, o.disk = o.disk_pending, None, entries
            self._sync(o, peer_last, now)
        return self._take()

    def on_disconnect(self, conn: Conn) -> list[ObserverMasterAction]:
        """removeLearnerHandler."""
        self.observers.pop(conn, None)
        return self._take()

    # -- what the follower hears from its leader ------------------------------------------------

    def committed(self, zxid: int, data: bytes,
                  designated: int | None = None) -> list[ObserverMasterAction]:
        """proposalCommitted / informAndActivate: the follower applied `zxid` (its PROPOSAL
        data `data`); every forwarding observer gets it, in commit order."""
        if designated is None:
            qp = packet(PT.INFORM, zxid, data)
        else:
            qp = packet(PT.INFORMANDACTIVATE, zxid, encode_inform_and_activate(designated, data))
        for o in self.observers.values():
            if o.forwarding:
                self._send(o, qp)
        self.last_sent = zxid
        return self._take()

    def revalidated(self, session_id: int, valid: bool) -> list[ObserverMasterAction] | None:
        """revalidateLearnerSession: the leader's answer to the oldest relayed revalidation
        goes to its observer (and touches the session when valid); None when the answer is
        not for an observer, so the follower's own client gets it."""
        if not self.revalidations or self.revalidations[0][0] != session_id:
            return None
        session, timeout, conn = self.revalidations.popleft()
        o = self.observers.get(conn)
        if o is not None:
            self._send(o, packet(PT.REVALIDATE, -1, encode_revalidate_reply(session, valid)))
        if valid:
            self.out.append(Touch(session, timeout))
        return self._take()

    def sync_done(self, conn: Conn) -> list[ObserverMasterAction]:
        """FollowerZooKeeperServer.sync for a LearnerSyncRequest: SYNC to that observer."""
        o = self.observers.get(conn)
        if o is not None:
            self._send(o, packet(PT.SYNC, 0))
        return self._take()

    def reconfigured(self, config_version: int, config_bytes: bytes) -> None:
        """The follower activated a new config: later observers are checked against it."""
        self.config_version, self.config_bytes = config_version, config_bytes

    # -- time -------------------------------------------------------------------------------

    def _read_limit(self, o: _Observer) -> int:
        """The handler's socket timeout: initLimit ticks until the NEWLEADER ACK, then
        syncLimit ticks."""
        ticks = self.sync_limit if o.stage is ObserverStage.BROADCAST else self.init_limit
        return ticks * self.tick_ms

    def wakeup_ms(self) -> int | None:
        if self.stopped:
            return None
        times = [self.next_ping] + [o.read_since + self._read_limit(o)
                                    for o in self.observers.values()]
        return min(times)

    def on_tick(self, now_ms: int) -> list[ObserverMasterAction]:
        if self.stopped:
            return []
        for o in list(self.observers.values()):
            if now_ms - o.read_since >= self._read_limit(o):
                self._drop(o, "Read timed out")
        if now_ms >= self.next_ping:
            # The pinger runs every tickTime/2; LearnerHandler.ping skips a handler that has
            # not started sending (it is still syncing).
            self.next_ping = now_ms + self.tick_ms // 2
            qp = packet(PT.PING, self.last_sent)
            for o in self.observers.values():
                if o.forwarding:
                    self._send(o, qp)
        return self._take()

    def stop(self) -> list[ObserverMasterAction]:
        """ObserverMaster.stop: the follower left its leader; every observer is dropped."""
        self.stopped = True
        for o in list(self.observers.values()):
            self._drop(o, "ObserverMaster stopped")
        return self._take()
