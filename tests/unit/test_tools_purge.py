"""`python -m pyzk.tools purge` keeps the newest snapshots and every log recovery still needs."""

from __future__ import annotations

from pathlib import Path

from pyzk.protocol import records as r
from pyzk.storage.datadir import DataDir
from pyzk.storage.logfile import TxnLogWriter
from pyzk.storage.recovery import recover
from pyzk.storage.snapshot import capture
from pyzk.tools.__main__ import main
from pyzk.tree.datatree import DataTree

ACL = [r.ACL(31, r.Id("world", "anyone"))]


def _write_history(root: Path, rounds: int) -> None:
    dd = DataDir(root)
    tree = DataTree()
    w = TxnLogWriter(dd.log_dir, prealloc=4096)
    zxid = 0
    for i in range(rounds):
        for j in range(3):
            zxid += 1
            hdr = r.TxnHeader(1, zxid, zxid, 1000 + zxid, 1)
            txn = r.CreateTxn(f"/n{i}-{j}", b"d", ACL, False, tree.nodes["/"].cversion + 1)
            w.append(hdr, txn)
            tree.process_txn(hdr, txn)
        w.flush(True)
        w.roll()
        dd.save_snapshot(capture(tree, {}))
    w.close()


def test_purge_keeps_count_snapshots_and_recovery_still_works(tmp_path: Path, capsys) -> None:
    _write_history(tmp_path, rounds=6)
    before = recover(DataDir(tmp_path)).tree
    assert main(["purge", str(tmp_path), "-n", "3"]) == 0
    assert "files removed" in capsys.readouterr().out
    assert len(DataDir(tmp_path).snapshots()) == 3
    after = recover(DataDir(tmp_path)).tree
    assert sorted(after.nodes) == sorted(before.nodes)


def test_purge_refuses_fewer_than_three(tmp_path: Path) -> None:
    _write_history(tmp_path, rounds=1)
    assert main(["purge", str(tmp_path), "-n", "2"]) == 2
