"""Files written by Java ZooKeeper 3.8.0 (tests/golden/java-3.8.0-datadir, made by
tests/golden/generate_java_datadir.py) decode completely, re-encode byte for byte, and recover
to exactly the tree Java served from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pyzk.storage import snapshot as sc
from pyzk.storage import txnlog
from pyzk.storage.datadir import DataDir
from pyzk.storage.logfile import TxnLogWriter, read_log_file
from pyzk.storage.recovery import recover
from pyzk.tools.dump import check_datadir, dump_log, dump_snapshot
from pyzk.tree.datatree import DataTree

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "java-3.8.0-datadir"
V2 = GOLDEN / "version-2"
LOGS = sorted(p.name for p in V2.glob("log.*"))
SNAPS = sorted(p.name for p in V2.glob("snapshot.*"))


def test_golden_set_covers_every_txn_type_we_claim() -> None:
    types = set()
    for name in LOGS:
        for _, e in txnlog.iter_entries(read_log_file(V2 / name)):
            types.add(e.hdr.type)
            if e.hdr.type == 14:
                types |= {100 + t for t, _ in txnlog.multi_subtxns(e.txn)}
    # createSession, closeSession, create, delete, setData, setACL, multi, createContainer,
    # createTTL; inside multis: create, delete, setData, check and error
    assert {-10, -11, 1, 2, 5, 7, 14, 19, 21} <= types
    assert {101, 102, 105, 113, 99} <= types


@pytest.mark.parametrize("name", LOGS)
def test_java_log_decodes_and_rewrites_byte_identical(name: str, tmp_path: Path) -> None:
    raw = (V2 / name).read_bytes()
    scan = read_log_file(V2 / name)
    assert scan.torn is None
    entries = list(txnlog.iter_entries(scan))
    assert entries
    for off, e in entries:
        again = txnlog.encode_txn_entry(e.hdr, e.txn, e.digest)
        assert raw[off:off + len(again)] == again
        # 3.8 appends a TxnDigest to every txn except failed requests (ErrorTxn)
        assert (e.digest is None) == (e.hdr.type == -1)
    # Our writer, fed the same txns with Java's preAllocSize, reproduces the whole file.
    w = TxnLogWriter(tmp_path, prealloc=64 * 1024)
    for _, e in entries:
        w.append(e.hdr, e.txn, e.digest)
    w.close()
    assert (tmp_path / name).read_bytes() == raw


@pytest.mark.parametrize("name", SNAPS)
def test_java_snapshot_decodes_and_reencodes_byte_identical(name: str) -> None:
    raw = (V2 / name).read_bytes()
    snap = sc.decode_snapshot(raw, name)
    assert snap.nodes[0].path == "" and snap.digest is not None
    assert sc.encode_snapshot(snap) == raw


def _expected() -> dict[str, object]:
    return json.loads((GOLDEN / "expected_tree.json").read_text())  # type: ignore[no-any-return]


def _served(tree: DataTree) -> dict[str, object]:
    out: dict[str, object] = {}
    for p, n in tree.nodes.items():
        out[p] = {"data": (n.data or b"").hex(),
                  "acl": [[a.perms, a.id.scheme, a.id.id] for a in tree.acl_of(n)],
                  "stat": list(tree.stat_of(n))}
    return out


def _copy(tmp_path: Path, drop_snaps: list[str] = ()) -> DataDir:  # type: ignore[assignment]
    shutil.copytree(V2, tmp_path / "version-2")
    for s in drop_snaps:
        (tmp_path / "version-2" / s).unlink()
    return DataDir(tmp_path)


@pytest.mark.parametrize("keep", range(len(SNAPS)), ids=lambda i: f"newest={SNAPS[i]}")
def test_recovery_from_any_java_snapshot_gives_the_tree_java_served(keep: int,
                                                                    tmp_path: Path) -> None:
    by_zxid = sorted(SNAPS, key=lambda n: int(n.split(".")[1], 16))
    newest = by_zxid[keep]
    dd = _copy(tmp_path, [s for s in by_zxid if by_zxid.index(s) > keep])
    res = recover(dd, lambda: DataTree(extended_types=True))
    assert res.snapshot_path is not None and res.snapshot_path.name == newest
    exp = _expected()
    assert _served(res.tree) == exp["tree"]
    assert exp["live_session"] in res.sessions


def test_tools_read_the_java_files(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    assert dump_log(V2 / LOGS[0], lines.append) == 0
    assert lines[0] == "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"
    assert " createSession 30000" in lines[1] and lines[-1].startswith("EOF reached after")
    lines.clear()
    assert dump_snapshot(V2 / SNAPS[-1], lines.append) == 0
    assert "Session Details (sid, timeout, ephemeralCount):" in lines
    lines.clear()
    assert check_datadir(GOLDEN, lines.append) == 0
    assert lines[-1].startswith("recovery: ok")


def test_node_counts_agree_with_javas_snapshot_formatter_and_srvr() -> None:
    """Java's zkSnapShotToolkit prints "ZNode Details (count=22):" for snapshot.2d (run by hand:
    java -cp ... org.apache.zookeeper.server.SnapshotFormatter); srvr's Node count is the same
    DataTree.getNodeCount(). dump-snapshot, check and the recovered tree all say 22."""
    lines: list[str] = []
    assert dump_snapshot(V2 / "snapshot.2d", lines.append) == 0
    assert "ZNode Details (count=22):" in lines
    lines.clear()
    assert check_datadir(GOLDEN, lines.append) == 0
    assert "snapshot snapshot.2d: ok, 22 nodes, " in "\n".join(lines)
    tree = recover(DataDir(GOLDEN, autocreate=False)).tree
    assert f", {tree.node_count()} nodes, " in lines[-1]


def test_flipped_byte_in_a_java_log_is_refused_with_file_and_offset(tmp_path: Path) -> None:
    dd = _copy(tmp_path)
    last = sorted(dd.log_dir.glob("log.*"), key=lambda p: int(p.name[4:], 16))[-1]
    raw = bytearray(last.read_bytes())
    off = read_log_file(last).entries[3][0]
    raw[off + 30] ^= 0x20
    last.write_bytes(bytes(raw))
    with pytest.raises(txnlog.LogFormatError) as ei:
        recover(dd, lambda: DataTree(extended_types=True))
    assert ei.value.name == str(last) and ei.value.offset == off


def test_truncated_java_log_tail_loses_only_the_torn_txn(tmp_path: Path) -> None:
    dd = _copy(tmp_path)
    last = sorted(dd.log_dir.glob("log.*"), key=lambda p: int(p.name[4:], 16))[-1]
    scan = read_log_file(last)
    off, payload = scan.entries[-1]
    last.write_bytes(last.read_bytes()[:off + 12 + len(payload) // 2])
    full = recover(_copy(tmp_path / "ref"), lambda: DataTree(extended_types=True))
    res = recover(dd, lambda: DataTree(extended_types=True))
    assert res.last_zxid == full.last_zxid - 1 and len(res.torn) == 1
