"""How a leader brings one learner up to date: LearnerHandler.syncFollower's choice of DIFF,
TRUNC or SNAP and queueCommittedProposals' PROPOSAL+COMMIT pairs, as a pure function over the
leader's committed-log window and (optionally) its on-disk txn log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from .packets import PT, packet
from .zxid import epoch_of, is_epoch_start

# (zxid, PROPOSAL data) pairs in zxid order: Java's committedLog Proposals / TxnLogProposalIterator.
Committed = Sequence[tuple[int, bytes]]
# Reads the on-disk log from a zxid on, already size-limited (ZKDatabase.getProposalsFromTxnLog
# with calculateTxnLogSizeLimit); returns nothing when the log cannot serve that zxid.
DiskLog = Callable[[int], Iterable[tuple[int, bytes]]]


class SyncPlan(NamedTuple):
    mode: str  # "DIFF", "TRUNC" or "SNAP" (the first op packet Java sends)
    packets: list[Any]  # queued before startForwarding (op packet, PROPOSAL/COMMIT pairs)
    needs_snap: bool
    current_zxid: int  # the zxid startForwarding takes as the learner's position


class _Queue:
    """queueCommittedProposals with its needOpPacket flag shared across calls, as in Java."""

    def __init__(self) -> None:
        self.packets: list[Any] = []
        self.need_op = True

    def op(self, ptype: int, zxid: int) -> None:
        self.packets.append(packet(ptype, zxid))

    def committed(self, itr: Iterable[tuple[int, bytes]], peer_last: int, max_zxid: int | None,
                  last_committed: int) -> int:
        new_epoch_peer = is_epoch_start(peer_last)
        queued = peer_last
        prev = -1
        for zxid, data in itr:
            if max_zxid is not None and zxid > max_zxid:
                break
            if zxid < peer_last:
                prev = zxid
                continue
            if self.need_op:
                if zxid == peer_last:
                    # The peer has this one: DIFF from here (Java logs lastCommittedZxid).
                    self.op(PT.DIFF, last_committed)
                    self.need_op = False
                    continue
                if new_epoch_peer:
                    self.op(PT.DIFF, last_committed)
                    self.need_op = False
                elif zxid > peer_last:
                    # The peer logged something the leader never committed: cut it back to
                    # the last zxid both have, unless that crosses an epoch (then SNAP).
                    if epoch_of(zxid) != epoch_of(peer_last):
                        return queued
                    self.op(PT.TRUNC, prev)
                    self.need_op = False
            if zxid <= queued:
                continue
            self.packets.append(packet(PT.PROPOSAL, zxid, data))
            self.op(PT.COMMIT, zxid)
            queued = zxid
        if self.need_op and new_epoch_peer:
            self.op(PT.DIFF, last_committed)
            self.need_op = False
        return queued


def reads_disk_log(peer_last_zxid: int, last_processed_zxid: int,
                   committed_log: Committed) -> bool:
    """Whether choose_sync (without force_snap) would ask the disk log: the peer is behind
    the committed window and neither up to date nor ahead of it."""
    max_c = committed_log[-1][0] if committed_log else last_processed_zxid
    min_c = committed_log[0][0] if committed_log else last_processed_zxid
    if last_processed_zxid == peer_last_zxid:
        return False
    if peer_last_zxid > max_c and not is_epoch_start(peer_last_zxid):
        return False
    return peer_last_zxid < min_c


def choose_sync(peer_last_zxid: int, last_processed_zxid: int, committed_log: Committed,
                disk_log: DiskLog | None = None, force_snap: bool = False) -> SyncPlan:
    """LearnerHandler.syncFollower (3.8.4), minus locking and metrics."""
    new_epoch_peer = is_epoch_start(peer_last_zxid)
    current = peer_last_zxid
    need_snap = True
    q = _Queue()
    if committed_log:
        min_c, max_c = committed_log[0][0], committed_log[-1][0]
    else:
        min_c = max_c = last_processed_zxid
    if force_snap:
        pass
    elif last_processed_zxid == peer_last_zxid:
        q.op(PT.DIFF, peer_last_zxid)
        q.need_op = False
        need_snap = False
    elif peer_last_zxid > max_c and not new_epoch_peer:
        q.op(PT.TRUNC, max_c)
        current = max_c
        q.need_op = False
        need_snap = False
    elif min_c <= peer_last_zxid <= max_c:
        current = q.committed(committed_log, peer_last_zxid, None, max_c)
        need_snap = False
    elif peer_last_zxid < min_c and disk_log is not None:
        from_disk = list(disk_log(peer_last_zxid))
        if from_disk:
            current = q.committed(from_disk, peer_last_zxid, min_c, max_c)
            if current < min_c:
                # A gap between the end of the txn log and the committed log: give up on DIFF.
                current = peer_last_zxid
                q.packets.clear()
                q.need_op = True
            else:
                current = q.committed(committed_log, current, None, max_c)
                need_snap = False
    if need_snap:
        current = last_processed_zxid
    if q.need_op and not need_snap:
        need_snap = True  # "Unhandled scenario ... fall back to use snapshot"
        current = last_processed_zxid
    if need_snap:
        return SyncPlan("SNAP", [], True, current)
    mode = PT(q.packets[0].type).name if q.packets else "DIFF"
    return SyncPlan(mode, q.packets, False, current)
