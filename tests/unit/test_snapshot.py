"""Snapshot codec: Java's layout, all trailer variants, corruption detection, fuzzy capture."""

from __future__ import annotations

import struct
import threading
import zlib

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.storage.recovery import apply_logged
from pyzk.tree.datatree import DataTree
from pyzk.tree.znode import Znode

OPEN = [r.ACL(31, r.Id("world", "anyone"))]
DIGEST_ACL = [r.ACL(31, r.Id("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="))]


def stat(z: int, owner: int = 0) -> r.StatPersisted:
    return r.StatPersisted(z, z + 1, 1000 + z, 2000 + z, 3, 4, 5, owner, z + 2)


DIGEST = sc.ZxidDigest(7, 2, -99)


def sample(digest: sc.ZxidDigest | None = DIGEST, last: int | None = None) -> sc.Snapshot:
    return sc.Snapshot(
        sessions=[(0x100, 30000), (0x200, 4000)],
        acls=[(1, OPEN), (2, DIGEST_ACL)],
        nodes=[sc.SnapNode("", b"", -1, stat(0)), sc.SnapNode("/a", b"data", 1, stat(1)),
               sc.SnapNode("/a/b", None, 2, stat(2, 0x100))],
        digest=digest, last_processed_zxid=last)


@pytest.mark.parametrize("digest,last", [
    (None, None), (sc.ZxidDigest(7, 2, -99), None), (sc.ZxidDigest(7, 2, 5), 0x1234)])
def test_snapshot_round_trips_with_each_trailer_variant(digest: object, last: object) -> None:
    snap = sample(digest, last)  # type: ignore[arg-type]
    data = sc.encode_snapshot(snap)
    assert sc.decode_snapshot(data) == snap
    assert sc.has_valid_tail(data)


def test_layout_header_sessions_acls_nodes_end_marker_and_seal() -> None:
    data = sc.encode_snapshot(sample(None))
    assert data[:16] == b"ZKSN" + struct.pack(">iq", 2, -1)
    assert data[16:20] == struct.pack(">i", 2)
    assert data[20:32] == struct.pack(">qi", 0x100, 30000)
    # the root is written with the empty path
    assert struct.pack(">i", 0) + struct.pack(">i", 0) in data
    # ... "/" end marker, then the Adler32 of everything before the seal, then "/" again
    body = data[:-13]
    assert body.endswith(b"\x00\x00\x00\x01/")
    assert data[-13:-5] == struct.pack(">q", zlib.adler32(body))
    assert data[-5:] == b"\x00\x00\x00\x01/"


def test_old_hex_string_digest_is_read() -> None:
    base = bytearray(sc.encode_snapshot(sample(None)))
    base += struct.pack(">qi", 9, 1) + struct.pack(">i", 2) + b"ff"
    base += struct.pack(">q", zlib.adler32(base)) + b"\x00\x00\x00\x01/"
    assert sc.decode_snapshot(bytes(base)).digest == sc.ZxidDigest(9, 1, 255)


def test_flipped_byte_is_crc_corruption() -> None:
    data = bytearray(sc.encode_snapshot(sample()))
    data[40] ^= 0x01
    with pytest.raises(sc.SnapshotFormatError, match="snapshot.5: offset .*CRC|malformed"):
        sc.decode_snapshot(bytes(data), "snapshot.5")


@pytest.mark.parametrize("cut", [1, 5, 13, 30, 60])
def test_truncated_snapshot_is_refused(cut: int) -> None:
    data = sc.encode_snapshot(sample())
    with pytest.raises(sc.SnapshotFormatError):
        sc.decode_snapshot(data[:-cut], "snapshot.5")


def test_bad_magic_is_refused() -> None:
    data = sc.encode_snapshot(sample())
    with pytest.raises(sc.SnapshotFormatError, match="magic"):
        sc.decode_snapshot(b"ZKLG" + data[4:])


def _tree_with_content() -> DataTree:
    t = DataTree()
    z = 0

    def txn(tp: int, rec: object, sid: int = 0x100) -> None:
        nonlocal z
        z += 1
        t.process_txn(r.TxnHeader(sid, z, z, 5000 + z, tp), rec)

    txn(Op.CREATE, r.CreateTxn("/a", b"A", OPEN, False, 2))
    txn(Op.CREATE, r.CreateTxn("/a/e", b"E", OPEN, True, 1))
    txn(Op.CREATE, r.CreateTxn("/s", b"S", DIGEST_ACL, False, 3))
    txn(Op.SET_DATA, r.SetDataTxn("/a", b"A2", 1))
    return t


def _shape(t: DataTree) -> dict[str, tuple[object, ...]]:
    return {p: (n.data, t.acl_of(n), t.stat_of(n), frozenset(n.children or ()))
            for p, n in t.nodes.items()}


def test_tree_capture_encode_load_reproduces_the_tree() -> None:
    t = _tree_with_content()
    t.last_processed_zxid = 4
    data = sc.encode_view(sc.capture(t, {0x100: 30000}))
    snap = sc.decode_snapshot(data)
    assert snap.nodes[0].path == ""  # root first, as ""
    assert snap.sessions == [(0x100, 30000)]
    t2 = DataTree()
    sc.load_tree(snap, t2, 4)
    assert _shape(t2) == _shape(t)
    assert t2.ephemerals == {0x100: {"/a/e"}}
    assert t2.last_processed_zxid == 4


def test_fuzzy_snapshot_plus_replay_converges() -> None:
    """Changes made after capture but before encoding may half-appear; replay repairs them."""
    t = _tree_with_content()
    view = sc.capture(t, {0x100: 30000})
    later = [
        (r.TxnHeader(0x100, 5, 5, 6000, Op.SET_DATA), r.SetDataTxn("/a", b"A3", 2)),
        (r.TxnHeader(0x100, 6, 6, 6001, Op.CREATE), r.CreateTxn("/a/x", b"", OPEN, False, 3)),
        (r.TxnHeader(0x100, 7, 7, 6002, Op.DELETE), r.DeleteTxn("/s")),
    ]
    for h, txn in later:  # the loop keeps applying while the thread serializes
        t.process_txn(h, txn)
    out: list[bytes] = []
    th = threading.Thread(target=lambda: out.append(sc.encode_view(view)))
    th.start()
    th.join(10)
    t2 = DataTree()
    sc.load_tree(sc.decode_snapshot(out[0]), t2, view.zxid)
    sessions: dict[int, int] = {}
    for h, txn in later:
        apply_logged(t2, sessions, h, txn)
    assert _shape(t2) == _shape(t)


def test_capture_of_a_large_tree_is_a_cheap_copy() -> None:
    t = DataTree()
    for i in range(50):
        t.add_node(f"/d{i}", Znode(b"x", -1))
        for j in range(1000):
            t.add_node(f"/d{i}/n{j}", Znode(b"y" * 10, -1, j, j, j, j))
    view = sc.capture(t, {})
    assert len(view.nodes) == len(t.nodes)
    t.nodes.pop("/d0/n0")  # later loop-side changes do not disturb the captured table
    snap = sc.decode_snapshot(sc.encode_view(view))
    assert len(snap.nodes) == len(view.nodes)
