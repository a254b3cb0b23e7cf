"""The divergence the rolling replacement found (a member kept an epoch-1 txn the others never
got): a txn a learner logged but never saw committed is applied before the next election
(ZKDatabase.fastForwardDataBase) and must join the committed window too, or that member, once
leader, DIFFs the others straight past it. Pure: a data directory and the sync planner, no
servers (it lives here beside the mixed tests that found it)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
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


def _member(tmp_path: Path, applied: int, logged: int) -> tuple[SimpleNamespace, DataTree,
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
    return SimpleNamespace(datadir=dd), tree, window


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
