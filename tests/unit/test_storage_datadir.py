"""Data directory layout, epoch/myid files, purge rules, and recovery's refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.storage.datadir import ACCEPTED_EPOCH, CURRENT_EPOCH, DataDir, DataDirError
from pyzk.storage.errors import LogFormatError
from pyzk.storage.logfile import TxnLogWriter
from pyzk.storage.recovery import RecoveryError, recover
from pyzk.tree.datatree import DataTree

OPEN = [r.ACL(31, r.Id("world", "anyone"))]


def test_epoch_files_are_decimal_text_without_newline_written_atomically(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    assert dd.read_epoch(CURRENT_EPOCH) is None
    dd.write_epoch(ACCEPTED_EPOCH, 5)
    dd.write_epoch(ACCEPTED_EPOCH, 12)
    assert (dd.snap_dir / ACCEPTED_EPOCH).read_bytes() == b"12"
    assert dd.read_epoch(ACCEPTED_EPOCH) == 12
    assert not list(dd.snap_dir.glob("*.tmp"))
    (dd.snap_dir / CURRENT_EPOCH).write_text("x1")
    with pytest.raises(DataDirError, match="Found x1 in"):
        dd.read_epoch(CURRENT_EPOCH)


def test_myid_is_read_from_the_first_line(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    assert dd.read_myid() is None
    (tmp_path / "myid").write_text("3\n")
    assert dd.read_myid() == 3
    dd.write_myid(7)
    assert dd.read_myid() == 7


def test_swapped_snapshot_and_log_dirs_are_refused(tmp_path: Path) -> None:
    (tmp_path / "logs" / "version-2").mkdir(parents=True)
    (tmp_path / "logs" / "version-2" / "snapshot.0").write_bytes(b"x")
    with pytest.raises(DataDirError, match="Log directory has snapshot files"):
        DataDir(tmp_path / "data", tmp_path / "logs")


def _populate(dd: DataDir, snaps: list[int], logs: list[int]) -> None:
    for z in snaps:
        dd.write_snapshot(z, sc.encode_snapshot(sc.Snapshot([], [], [
            sc.SnapNode("", b"", -1, r.StatPersisted(0, 0, 0, 0, 0, 0, 0, 0, 0))])), fsync=False)
    for z in logs:
        (dd.log_dir / f"log.{z:x}").write_bytes(b"ZKLG")


def test_purge_keeps_n_snapshots_and_the_logs_they_need(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    _populate(dd, [0x10, 0x20, 0x30, 0x40, 0x50], [0x1, 0x15, 0x25, 0x32, 0x45])
    removed = dd.purge(3)
    # oldest kept snapshot is 0x30; log.25 starts before it and holds its following txns
    assert sorted(p.name for p in removed) == ["log.1", "log.15", "snapshot.10", "snapshot.20"]
    assert [z for z, _ in dd.snapshots()] == [0x30, 0x40, 0x50]
    assert [z for z, _ in dd.logs()] == [0x25, 0x32, 0x45]
    with pytest.raises(ValueError):
        dd.purge(2)


def test_purge_ignores_snapshots_with_a_bad_tail(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    _populate(dd, [0x10, 0x20, 0x30], [])
    (dd.snap_dir / "snapshot.40").write_bytes(b"ZKSN" + b"\0" * 30)
    dd.purge(3)
    assert [z for z, _ in dd.snapshots()] == [0x10, 0x20, 0x30, 0x40]


# -- recovery ---------------------------------------------------------------------------------

def _hdr(z: int, t: int, sid: int = 0x500) -> r.TxnHeader:
    return r.TxnHeader(sid, z, z, 10_000 + z, t)


def _build(tmp_path: Path, snap_at: int | None = 3, n: int = 8) -> tuple[DataDir, DataTree]:
    """A data dir with txns 1..n, snapshot.0 and a snapshot taken after `snap_at`."""
    dd = DataDir(tmp_path)
    tree = DataTree()
    dd.write_snapshot(0, sc.encode_view(sc.capture(tree, {})), fsync=False)
    w = TxnLogWriter(dd.log_dir, prealloc=4096)
    sessions: dict[int, int] = {}
    for z in range(1, n + 1):
        if z == 1:
            h, txn = _hdr(z, Op.CREATE_SESSION), r.CreateSessionTxn(9000)
            sessions[0x500] = 9000
        else:
            h, txn = _hdr(z, Op.CREATE), r.CreateTxn(f"/n{z}", b"%d" % z, OPEN, z % 2 == 0, z - 1)
        tree.process_txn(h, txn)
        w.append(h, txn)
        if z == snap_at:
            w.flush()
            w.roll()
            dd.write_snapshot(z, sc.encode_view(sc.capture(tree, sessions)), fsync=False)
    w.close()
    return dd, tree


def _same(a: DataTree, b: DataTree) -> None:
    assert set(a.nodes) == set(b.nodes)
    for p, n in a.nodes.items():
        m = b.nodes[p]
        assert (n.data, a.stat_of(n), a.acl_of(n)) == (m.data, b.stat_of(m), b.acl_of(m)), p


def test_recovery_is_snapshot_plus_replay(tmp_path: Path) -> None:
    dd, tree = _build(tmp_path)
    res = recover(dd)
    assert (res.snapshot_zxid, res.last_zxid, res.txns_replayed) == (3, 8, 5)
    assert res.sessions == {0x500: 9000}
    _same(res.tree, tree)
    assert res.tree.ephemerals == tree.ephemerals


def test_corrupt_newest_snapshot_falls_back_to_older_one(tmp_path: Path) -> None:
    dd, tree = _build(tmp_path)
    p = dd.snap_dir / "snapshot.3"
    data = bytearray(p.read_bytes())
    data[30] ^= 0x40
    p.write_bytes(bytes(data))
    res = recover(dd)
    assert res.snapshot_zxid == 0 and res.last_zxid == 8
    _same(res.tree, tree)


def test_fallback_is_refused_when_its_logs_were_purged(tmp_path: Path) -> None:
    dd, _ = _build(tmp_path)
    (dd.log_dir / "log.1").unlink()
    p = dd.snap_dir / "snapshot.3"
    data = bytearray(p.read_bytes())
    data[-30] ^= 0x10  # inside the digest trailer: the second seal fails
    p.write_bytes(bytes(data))
    with pytest.raises(LogFormatError, match="missing"):
        recover(dd)


def test_mid_log_corruption_names_file_and_offset(tmp_path: Path) -> None:
    dd, _ = _build(tmp_path, snap_at=None)
    log1 = dd.log_dir / "log.1"
    data = bytearray(log1.read_bytes())
    data[120] ^= 0xFF
    log1.write_bytes(bytes(data))
    with pytest.raises(LogFormatError) as ei:
        recover(dd)
    assert str(log1) in str(ei.value) and "offset" in str(ei.value)


def test_torn_tail_is_dropped_and_reported(tmp_path: Path) -> None:
    dd, _ = _build(tmp_path, snap_at=None, n=6)
    log1 = dd.log_dir / "log.1"
    data = log1.read_bytes().rstrip(b"\0")
    log1.write_bytes(data[:-7] + b"\0" * 100)  # last entry only half written
    res = recover(dd)
    assert res.last_zxid == 5 and len(res.torn) == 1 and "log.1" in res.torn[0]
    assert "/n6" not in res.tree.nodes


def test_no_snapshot_but_logs_is_refused(tmp_path: Path) -> None:
    dd, _ = _build(tmp_path)
    for _, p in dd.snapshots():
        p.unlink()
    with pytest.raises(RecoveryError, match="No snapshot found, but there are log entries"):
        recover(dd)


def test_empty_dir_recovers_to_empty_tree_needing_snapshot_zero(tmp_path: Path) -> None:
    res = recover(DataDir(tmp_path))
    assert res.needs_initial_snapshot and res.last_zxid == 0
    assert set(res.tree.nodes) == {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}


def test_every_snapshot_corrupt_is_refused(tmp_path: Path) -> None:
    dd, _ = _build(tmp_path)
    for _, p in dd.snapshots():
        data = bytearray(p.read_bytes())
        data[20] ^= 1
        p.write_bytes(bytes(data))
    with pytest.raises(RecoveryError, match="Not able to find valid snapshots"):
        recover(dd)


def test_newest_log_cut_before_its_header_is_ignored_with_a_warning(tmp_path) -> None:
    """kill -9 between creating log.<zxid> and writing its 16-byte header: recovery goes on."""
    from pyzk.protocol import records as r
    from pyzk.storage.datadir import DataDir
    from pyzk.storage.logfile import TxnLogWriter, log_name
    from pyzk.storage.recovery import recover
    from pyzk.storage.snapshot import capture
    from pyzk.tree.datatree import DataTree

    dd = DataDir(tmp_path)
    dd.save_snapshot(capture(DataTree(), {}))
    w = TxnLogWriter(dd.log_dir, prealloc=4096)
    acl = [r.ACL(31, r.Id("world", "anyone"))]
    w.append(r.TxnHeader(1, 1, 1, 1000, 1), r.CreateTxn("/a", b"x", acl, False, 1))
    w.close()
    for size in (0, 7):
        (dd.log_dir / log_name(2)).write_bytes(b"ZKLG\0\0\0\2"[:size])
        rec = recover(DataDir(tmp_path))
        assert rec.last_zxid == 1 and "/a" in rec.tree.nodes
        assert any("no complete file header" in t for t in rec.torn)


def test_dir_lock_keeps_a_second_holder_out_and_names_the_pid(tmp_path: Path) -> None:
    """pyzk.lock in the dataDir root (not version-2, which Java and the tools read)."""
    from pyzk.storage.datadir import LOCK_FILE

    logs = tmp_path / "logs"
    dd = DataDir(tmp_path, logs)
    held = dd.lock()
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    assert (logs / LOCK_FILE).exists() and not (dd.snap_dir / LOCK_FILE).exists()
    with pytest.raises(DataDirError, match=rf"{tmp_path} is in use by another pyzk server "
                       rf"\(pid {os.getpid()} holds"):
        DataDir(tmp_path).lock()
    with pytest.raises(DataDirError, match="in use"):  # the dataLogDir alone is locked too
        DataDir(tmp_path / "other", logs).lock()
    held.release()
    DataDir(tmp_path, logs).lock().release()  # free again
    assert [p.name for p in dd.snap_dir.iterdir()] == []  # nothing in version-2


def test_unusable_data_dir_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataDirError, match=r"cannot create .*file/d/version-2: Not a directory"):
        DataDir(tmp_path / "file" / "d")


def test_log_copied_over_a_later_name_is_refused(tmp_path: Path) -> None:
    """tests/fuzz/dirfuzz.py (file-duplicate, file-rename): log.1 copied to log.9 holds txns
    older than its name. Java replays them again over the newer tree; pyzk skipped them
    silently. Both can serve a wrong tree: refuse, naming the file."""
    dd, _ = _build(tmp_path)
    (dd.log_dir / "log.9").write_bytes((dd.log_dir / "log.1").read_bytes())
    with pytest.raises(LogFormatError, match="older than the file's name") as ei:
        recover(dd)
    assert "log.9" in str(ei.value)


@pytest.mark.parametrize("cut", ["torn-tail", "headerless"])
def test_txns_missing_after_a_file_that_ended_early_are_refused(tmp_path: Path,
                                                                cut: str) -> None:
    """tests/fuzz/dirfuzz.py (trunc-tail, trunc-header of a log that is not the newest): a
    later file holds txns logged after this one was complete, so the txns cut from its end
    were acknowledged. Java moves on to the next file at the EOF (or refuses at a headerless
    one); pyzk replayed on with the hole."""
    dd, _ = _build(tmp_path, n=8)
    (dd.snap_dir / "snapshot.3").unlink()  # replay from snapshot.0: log.1 (1..3), log.4 (4..8)
    log1 = dd.log_dir / "log.1"
    data = log1.read_bytes().rstrip(b"\0")
    log1.write_bytes(data[:-7] if cut == "torn-tail" else data[:9])
    with pytest.raises(LogFormatError, match="are missing where") as ei:
        recover(dd)
    assert "log.4" in str(ei.value) and "log.1" in str(ei.value)


def test_newest_log_ending_early_still_starts(tmp_path: Path) -> None:
    """The newest log's torn tail is what a crash leaves: nothing after it, recovery goes on."""
    dd, _ = _build(tmp_path, n=8)
    log4 = dd.log_dir / "log.4"
    log4.write_bytes(log4.read_bytes().rstrip(b"\0")[:-7])
    assert recover(dd).last_zxid == 7
