"""The divergence the rolling replacement found (a member kept an epoch-1 txn the others never
got): a txn a learner logged but never saw committed is applied before the next election
(ZKDatabase.fastForwardDataBase) and must join the committed window too, or that member, once
leader, DIFFs the others straight past it. Pure: a data directory and the sync planner, no
servers (it lives here beside the mixed tests that found it)."""

from __future__ import annotations

from pathlib import Path

from pyzk.config.load import build_config
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.server.persistence import TxnSnapLog, open_storage
from pyzk.server.replication import fast_forward
from pyzk.storage import snapshot as sc
from pyzk.storage.datadir import DataDir
from pyzk.storage.logfile import TxnLogWriter
from pyzk.tree.datatree import DataTree
from pyzk.zab.database import ReplicaDatabase
from pyzk.zab.packets import PT, encode_txn
from pyzk.zab.sync import choose_sync
from pyzk.zab.zxid import make_zxid

OPEN = [r.ACL(31, r.Id("world", "anyone"))]


def _txn(n: int) -> tuple[r.TxnHeader, r.CreateTxn]:
    z = make_zxid(1, n)
    return r.TxnHeader(0x77, n, z, 1000 + n, Op.CREATE), r.CreateTxn(f"/n{n}", b"", OPEN, False, n)


def _storage(tmp_path: Path, writer: TxnLogWriter | None = None) -> TxnSnapLog:
    """The real storage over tmp_path (a stand-in fails a compiled fast_forward's type check).
    Its own log writer wrote nothing, so it cannot vouch for the txns: they are read from the
    files, unless `writer` (the live writer that wrote them) takes its place."""
    storage = open_storage(build_config({"dataDir": str(tmp_path), "clientPort": "2181",
                                         "forceSync": "no"}))
    if writer is not None:
        storage.writer = writer
    return storage


def _member(tmp_path: Path, applied: int, logged: int) -> tuple[TxnSnapLog, DataTree,
                                                                  ReplicaDatabase]:
    """A learner's state when its leader vanished: txns 1..logged in the log, 1..applied
    committed (in the tree and the window)."""
    dd = DataDir(tmp_path)
    tree = DataTree()
    dd.write_snapshot(0, sc.encode_view(sc.capture(tree, {})), fsync=False)
    w = TxnLogWriter(dd.log_dir, prealloc=4096)
    window = ReplicaDatabase(500)
    for n in range(1, logged + 1):
        hdr, txn = _txn(n)
        w.append(hdr, txn)
        if n <= applied:
            tree.process_txn(hdr, txn)
            window.committed(hdr.zxid, encode_txn(hdr, txn))
    w.flush()
    w.close()
    return _storage(tmp_path), tree, window


def test_fast_forwarded_txn_joins_the_committed_window(tmp_path: Path) -> None:
    storage, tree, window = _member(tmp_path, applied=4, logged=5)
    assert fast_forward(storage, tree, {}, window) == 1
    assert tree.last_processed_zxid == make_zxid(1, 5)
    assert [z for z, _ in window.window] == [make_zxid(1, n) for n in range(1, 6)]


def test_new_leader_diffs_its_fast_forwarded_txn_to_a_learner_that_lacks_it(
        tmp_path: Path) -> None:
    # Member A logged 1:5 (never committed), so it wins the election over B at 1:4; its DIFF
    # to B must carry 1:5, else 1:5 lives on A alone.
    storage, tree, window = _member(tmp_path, applied=4, logged=5)
    fast_forward(storage, tree, {}, window)
    plan = choose_sync(make_zxid(1, 4), tree.last_processed_zxid, list(window.window))
    shape = [(PT(p.type).name, p.zxid) for p in plan.packets]
    assert shape == [("DIFF", make_zxid(1, 5)), ("PROPOSAL", make_zxid(1, 5)),
                     ("COMMIT", make_zxid(1, 5))]


def test_cleared_window_after_a_snap_holds_nothing_of_the_old_branch(tmp_path: Path) -> None:
    # A member that fast-forwarded 1:5 and was then sent a SNAP (ZKDatabase.deserializeSnapshot
    # clears committedLog) must not offer 1:5 from its window when it leads later.
    storage, tree, window = _member(tmp_path, applied=4, logged=5)
    fast_forward(storage, tree, {}, window)
    window.replace()
    assert list(window.window) == []


def _writer_member(tmp_path: Path, applied: int, logged: int, per_flush: int
                   ) -> tuple[TxnSnapLog, DataTree, TxnLogWriter]:
    """As _member, but the writer stays open (a live learner) and flushes every `per_flush`."""
    dd = DataDir(tmp_path)
    tree = DataTree()
    dd.write_snapshot(0, sc.encode_view(sc.capture(tree, {})), fsync=False)
    w = TxnLogWriter(dd.log_dir, prealloc=4096)
    for n in range(1, logged + 1):
        hdr, txn = _txn(n)
        w.append(hdr, txn)
        if n % per_flush == 0:
            w.flush(fsync=False)
        if n <= applied:
            tree.process_txn(hdr, txn)
    w.flush(fsync=False)
    return _storage(tmp_path, w), tree, w


def test_live_writer_reads_back_only_what_it_flushed_past_the_tree(tmp_path: Path) -> None:
    storage, tree, w = _writer_member(tmp_path, applied=37, logged=40, per_flush=3)
    got = w.logged_after(tree.last_processed_zxid)
    assert got is not None and [e.hdr.zxid for e in got] == [make_zxid(1, n) for n in (38, 39, 40)]
    window = ReplicaDatabase(500)
    assert fast_forward(storage, tree, {}, window) == 3
    assert tree.last_processed_zxid == make_zxid(1, 40)
    assert [z for z, _ in window.window] == [make_zxid(1, n) for n in (38, 39, 40)]
    # Same tree as the whole-file reader builds.
    other, full_tree, _ = _writer_member(tmp_path / "b", applied=37, logged=40, per_flush=3)
    other.writer = TxnLogWriter(other.datadir.log_dir, prealloc=4096)  # vouches for nothing
    assert fast_forward(other, full_tree, {}) == 3
    assert full_tree.digest_sum == tree.digest_sum
    assert full_tree.last_processed_zxid == tree.last_processed_zxid


def test_writer_that_cannot_vouch_for_the_next_txn_says_so(tmp_path: Path) -> None:
    storage, tree, w = _writer_member(tmp_path, applied=0, logged=5, per_flush=1)
    # Txns flushed by an earlier process (or forgotten) are not in its memory: None, and the
    # caller reads the files.
    before = make_zxid(1, 0)
    w2 = TxnLogWriter(storage.datadir.log_dir, prealloc=4096)
    assert w2.logged_after(before) is None
    # Nor can it say nothing was logged between an older epoch and its first txn.
    assert w.logged_after(make_zxid(0, 7)) is None
    # A file it wrote that is gone: None rather than a partial answer.
    assert w.logged_after(before) is not None
    w.close(fsync=False)
    for f in storage.datadir.log_dir.glob("log.*"):
        f.unlink()
    assert w.logged_after(before) is None


def test_writer_spans_a_rolled_log(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    w = TxnLogWriter(dd.log_dir, prealloc=4096)
    for n in range(1, 7):
        hdr, txn = _txn(n)
        w.append(hdr, txn)
        w.flush(fsync=False)
        if n == 3:
            w.roll()
    assert len(list(dd.log_dir.glob("log.*"))) == 2
    got = w.logged_after(make_zxid(1, 2))
    assert got is not None and [e.hdr.zxid for e in got] == [make_zxid(1, n) for n in range(3, 7)]
    assert w.logged_after(make_zxid(1, 6)) == []
