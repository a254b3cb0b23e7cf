"""The replica database core (pyzk/zab/database.py): the committed window through start-up,
commits, fast-forward, SNAP/reset and TRUNC; an unsaved SNAP tree dropped for the disk's before
the next election; a full resync after an impossible TRUNC. Pure: no disk, no tree."""

from __future__ import annotations

from pyzk.zab.database import (
    CutLog,
    Drain,
    Reload,
    ReplayLog,
    ReplicaDatabase,
    ResyncFully,
)


def _txns(*zxids: int) -> list[tuple[int, bytes]]:
    return [(z, b"t%d" % z) for z in zxids]


def test_startup_window_is_the_logged_txns_up_to_the_tree_and_bounded() -> None:
    db = ReplicaDatabase(3)
    db.loaded(5, _txns(1, 2, 3, 4, 5, 6))
    assert [z for z, _ in db.window] == [3, 4, 5]


def test_commits_and_fast_forwarded_txns_both_join_the_window() -> None:
    db = ReplicaDatabase(10)
    db.loaded(2, _txns(1, 2, 3))
    db.replayed(3, b"t3")
    db.committed(4, b"t4")
    assert [z for z, _ in db.window] == [1, 2, 3, 4]


def test_election_drains_then_fast_forwards_a_tree_backed_by_the_disk() -> None:
    assert ReplicaDatabase(5).before_election() == [Drain(), ReplayLog()]


def test_snap_clears_the_window_and_drains_before_the_tree_is_replaced() -> None:
    db = ReplicaDatabase(5)
    db.loaded(3, _txns(1, 2, 3))
    assert db.replace() == [Drain()]
    assert list(db.window) == [] and db.unsaved


def test_unsaved_snap_tree_is_dropped_for_the_disk_before_the_next_election() -> None:
    db = ReplicaDatabase(5)
    db.replace()
    db.snapshot_queued()  # queued, not durable: the role ends here
    assert db.before_election() == [Drain(), Reload(), ReplayLog()]
    db.loaded(4, _txns(3, 4))
    assert not db.unsaved and [z for z, _ in db.window] == [3, 4]
    assert db.before_election() == [Drain(), ReplayLog()]


def test_durable_sync_snapshot_keeps_the_snap_tree() -> None:
    db = ReplicaDatabase(5)
    db.replace()
    db.snapshot_durable(db.snapshot_queued())
    assert db.before_election() == [Drain(), ReplayLog()]


def test_snapshot_of_an_earlier_tree_does_not_save_a_later_replacement() -> None:
    db = ReplicaDatabase(5)
    db.replace()
    token = db.snapshot_queued()
    db.replace()  # a second SNAP while the first tree's snapshot is being written
    db.snapshot_durable(token)
    assert db.unsaved


def test_trunc_drains_cuts_the_log_and_reloads_the_window_from_it() -> None:
    db = ReplicaDatabase(5)
    db.loaded(4, _txns(1, 2, 3, 4))
    db.replayed(5, b"t5")
    assert db.truncate(3) == [Drain(), CutLog(3)]
    assert db.truncated(True) == [Reload()]
    db.loaded(3, _txns(1, 2, 3))
    assert [z for z, _ in db.window] == [1, 2, 3]


def test_impossible_trunc_asks_for_a_full_resync_until_a_sync_snapshot() -> None:
    db = ReplicaDatabase(5)
    assert db.truncated(False) == [ResyncFully()]
    assert db.full_resync
    db.replace()
    db.snapshot_queued()
    assert not db.full_resync


def test_zero_commit_log_count_still_keeps_one_entry() -> None:
    # CommittedWindow kept at least one entry; LeaderCore trims to its own commit_log_count.
    db = ReplicaDatabase(0)
    db.committed(1, b"a")
    db.committed(2, b"b")
    assert list(db.window) == [(2, b"b")]
