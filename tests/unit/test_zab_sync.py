"""The leader's DIFF/TRUNC/SNAP choice follows LearnerHandler.syncFollower case by case."""

from __future__ import annotations

from pyzk.zab.packets import PT
from pyzk.zab.sync import choose_sync
from pyzk.zab.zxid import make_zxid as z

LOG = [(z(1, i), f"p{i}".encode()) for i in range(3, 8)]  # committedLog 1:3 .. 1:7


def _shape(plan: object) -> list[tuple[str, int]]:
    return [(PT(p.type).name, p.zxid) for p in plan.packets]  # type: ignore[attr-defined]


def test_peer_at_leaders_zxid_gets_an_empty_diff() -> None:
    plan = choose_sync(z(1, 7), z(1, 7), LOG)
    assert (plan.mode, _shape(plan), plan.current_zxid) == ("DIFF", [("DIFF", z(1, 7))], z(1, 7))


def test_peer_inside_committed_log_gets_diff_and_proposal_commit_pairs() -> None:
    plan = choose_sync(z(1, 5), z(1, 7), LOG)
    assert _shape(plan) == [("DIFF", z(1, 7)), ("PROPOSAL", z(1, 6)), ("COMMIT", z(1, 6)),
                            ("PROPOSAL", z(1, 7)), ("COMMIT", z(1, 7))]
    assert plan.packets[1].data == b"p6" and plan.current_zxid == z(1, 7)


def test_peer_ahead_of_leader_is_truncated_to_max_committed() -> None:
    plan = choose_sync(z(1, 9), z(1, 7), LOG)
    assert (_shape(plan), plan.current_zxid) == ([("TRUNC", z(1, 7))], z(1, 7))


def test_peer_with_a_divergent_txn_inside_the_window_is_truncated_then_diffed() -> None:
    log = [(z(1, 3), b"a"), (z(1, 4), b"b"), (z(1, 6), b"c")]
    plan = choose_sync(z(1, 5), z(1, 6), log)  # the peer logged 1:5, which never committed
    assert _shape(plan) == [("TRUNC", z(1, 4)), ("PROPOSAL", z(1, 6)), ("COMMIT", z(1, 6))]


def test_peer_from_an_unknown_epoch_inside_window_falls_back_to_snap() -> None:
    log = [(z(1, 3), b"a"), (z(2, 1), b"c")]
    plan = choose_sync(z(1, 5), z(2, 1), log)
    assert plan.needs_snap and plan.current_zxid == z(2, 1) and plan.packets == []


def test_fresh_epoch_peer_below_window_uses_disk_log_or_snap() -> None:
    assert choose_sync(0, z(1, 7), LOG).needs_snap  # no txn log sync
    disk = [(z(1, i), f"p{i}".encode()) for i in range(1, 8)]
    plan = choose_sync(0, z(1, 7), LOG, disk_log=lambda peer: [e for e in disk if e[0] >= peer])
    assert not plan.needs_snap and plan.packets[0].type == PT.DIFF
    assert [p.zxid for p in plan.packets if p.type == PT.COMMIT] == [z(1, i) for i in range(1, 8)]


def test_disk_log_that_cannot_reach_the_window_means_snap() -> None:
    disk = [(z(1, 1), b"x"), (z(1, 2), b"y")]  # a gap before the committed log's 1:3
    plan = choose_sync(z(1, 1), z(1, 7), LOG, disk_log=lambda p: [e for e in disk if e[0] >= p])
    assert plan.needs_snap and plan.packets == []


def test_empty_committed_log_uses_last_processed_as_window() -> None:
    assert choose_sync(z(1, 2), z(1, 2), []).mode == "DIFF"
    assert choose_sync(z(1, 3), z(1, 2), []).mode == "TRUNC"
    assert choose_sync(z(1, 1), z(1, 2), []).needs_snap
