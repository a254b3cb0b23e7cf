"""Regression (found by the ensemble simulation): in a DIFF sync, txns the leader
commits before NEWLEADER are applied only after the NEWLEADER Persist that logs them, as Java's
Learner.syncWithLeader defers them (packetsCommitted). Applying them at once let a learner whose
connection broke before NEWLEADER keep a tree ahead of its txn log: its next DIFF logged after
that gap, and a restart rebuilt a tree missing committed txns."""

from __future__ import annotations

from typing import Any

from pyzk.protocol import records as r
from pyzk.zab import learner as LN
from pyzk.zab import packets as P
from pyzk.zab.packets import PT, packet
from pyzk.zab.zxid import make_zxid as z


def _txn(zxid: int) -> bytes:
    return P.encode_txn(r.TxnHeader(1, zxid & 0xFF, zxid, 0, 5), r.SetDataTxn("/a", b"v", 0))


def _diff_sync(observer: bool) -> tuple[LN.LearnerCore, list[Any]]:
    ln = LN.LearnerCore(2, observer, 1, 1, z(1, 3), tick_ms=100, init_limit=5, sync_limit=2)
    ln.connected(0)
    ln.on_packet(packet(PT.LEADERINFO, z(2, 0), P.encode_int(0x10000)), 1)
    acts = ln.on_packet(packet(PT.DIFF, z(1, 5)), 2)
    for zx in (z(1, 4), z(1, 5)):
        if observer:
            acts += ln.on_packet(packet(PT.INFORM, zx, _txn(zx)), 2)
        else:
            acts += ln.on_packet(packet(PT.PROPOSAL, zx, _txn(zx)), 2)
            acts += ln.on_packet(packet(PT.COMMIT, zx), 2)
    return ln, acts


def _applied(acts: list[Any]) -> list[int]:
    return [a.entry.zxid for a in acts if isinstance(a, LN.Apply)]


def test_diff_commits_before_newleader_leave_the_tree_alone_if_the_sync_breaks() -> None:
    for observer in (False, True):
        ln, acts = _diff_sync(observer)
        assert _applied(acts) == []
        acts = ln.on_disconnect()
        assert _applied(acts) == [] and any(isinstance(a, LN.Disconnected) for a in acts)


def test_diff_commits_are_applied_right_after_the_newleader_log_write_in_zxid_order() -> None:
    for observer in (False, True):
        ln, _ = _diff_sync(observer)
        acts = ln.on_packet(packet(PT.NEWLEADER, z(2, 0), b""), 3)
        kinds = [type(a).__name__ for a in acts]
        persist = next(a for a in acts if isinstance(a, LN.Persist))
        assert [e.zxid for e in persist.entries] == [z(1, 4), z(1, 5)]
        assert _applied(acts) == [z(1, 4), z(1, 5)]
        assert kinds.index("Persist") < kinds.index("Apply")
        acts = ln.on_packet(packet(PT.PROPOSAL, z(2, 1), _txn(z(2, 1))), 4) if not observer \
            else []
        if not observer:
            assert _applied(ln.on_packet(packet(PT.COMMIT, z(2, 1)), 4)) == [z(2, 1)]
