"""Snapshot node records: one struct call per znode (node_record) equals the field-by-field
encoder after any kind of change, the fused loader equals decode-then-load, and the SNAP stream
and chunked encodings equal the plain ones."""

from __future__ import annotations

from typing import Any

import pytest

from pyzk.protocol import records as r
from pyzk.storage import snapshot as sc
from pyzk.tree.datatree import DataTree

OPEN = [r.ACL(31, r.Id("world", "anyone"))]
READ = [r.ACL(1, r.Id("world", "anyone"))]


def fresh_encoding(tree: DataTree) -> bytes:
    """The nodes' part of a snapshot of tree, encoded field by field (encode_node)."""
    out = bytearray()
    for path, n in sc.capture(tree, {0x10: 4000}).nodes.items():
        sc.encode_node(out, "" if path == "/" else path, n)
    return bytes(out)


def record_encoding(tree: DataTree) -> bytes:
    return b"".join(sc.node_record(p, n) for p, n in sc.capture(tree, {0x10: 4000}).nodes.items())


def build() -> DataTree:
    t = DataTree()
    ev: list[Any] = []
    t.create_node("/a", b"one", OPEN, 0, -1, 2, 100, ev)
    t.create_node("/a/b", None, OPEN, 0x10, -1, 3, 101, ev)
    t.create_node("/c", b"", READ, 0, -1, 4, 102, ev)
    return t


def test_every_kind_of_change_shows_in_the_next_snapshot() -> None:
    t = build()
    ev: list[Any] = []
    before = sc.encode_view(sc.capture(t, {0x10: 4000}))
    assert record_encoding(t) == fresh_encoding(t)
    changes = [
        lambda: t.set_data("/a", b"two", 1, 5, 103, ev),
        lambda: t.create_node("/a/d", b"x", OPEN, 0, -1, 6, 104, ev),  # parent cversion/pzxid
        lambda: t.delete_node("/a/b", 7, ev),                            # parent pzxid
        lambda: t.set_acl("/c", OPEN, 1),
        lambda: t.set_cversion_pzxid("/c", -1, 8),
        lambda: t.set_config_data(b"server.1=h:1:2;3\nversion=0"),
        lambda: t.set_data("/a", None, 2, 9, 105, ev),
    ]
    for change in changes:
        change()
        got = sc.encode_view(sc.capture(t, {0x10: 4000}))
        assert got != before
        assert record_encoding(t) == fresh_encoding(t)
        assert record_encoding(t) in got
        before = got


def _state(t: DataTree) -> tuple[Any, ...]:
    fields = ("data", "acl", "czxid", "mzxid", "ctime", "mtime", "version", "cversion",
              "aversion", "ephemeral_owner", "pzxid", "children")
    nodes = {p: tuple(getattr(n, f) for f in fields) for p, n in t.nodes.items()}
    return (nodes, dict(t.acl_cache.refs), {k: set(v) for k, v in t.ephemerals.items()},
            set(t.containers), t.data_size, t.last_processed_zxid)


def test_fused_load_builds_the_same_tree_as_decode_then_load() -> None:
    from pyzk.protocol.codes import CONTAINER_EPHEMERAL_OWNER

    t = build()
    ev: list[Any] = []
    t.create_node("/box", None, READ, CONTAINER_EPHEMERAL_OWNER, -1, 5, 106, ev)
    t.create_node("/box/e", "ünï".encode(), [r.ACL(31, r.Id("digest", "u:x"))], 0x20, -1, 6,
                  107, ev)
    t.last_processed_zxid = 6
    raw = sc.encode_view(sc.capture(t, {0x10: 4000, 0x20: 6000}))
    a, b = DataTree(), DataTree()
    sc.load_tree(sc.decode_snapshot(raw), a, 6)
    sessions = sc.load_snapshot_into(raw, b, 6)
    assert sorted(sessions) == [(0x10, 4000), (0x20, 6000)]
    assert _state(a) == _state(b)
    for cut in (1, 7, len(raw) // 2, len(raw) - 3):
        with pytest.raises(sc.SnapshotFormatError):
            sc.load_snapshot_into(raw[:-cut], DataTree(), 6)


def test_snap_stream_from_node_records_equals_the_plain_encoding() -> None:
    from pyzk.server.replication import snap_body
    from pyzk.zab.packets import encode_snap_body

    t = build()
    sessions = {0x10: 4000, 0x20: 6000}
    plain = encode_snap_body(sorted(sessions.items()), t.acl_cache.entries(),
                             sc.decode_snapshot(sc.encode_view(sc.capture(t, sessions))).nodes)
    assert snap_body(t, sessions) == plain


def test_chunked_encoding_pauses_between_pieces_and_equals_the_whole() -> None:
    t = DataTree()
    ev: list[Any] = []
    for i in range(50):
        t.create_node(f"/n{i}", b"d", OPEN, 0, -1, i + 2, 100, ev)
    view = sc.capture(t, {})
    pauses: list[int] = []
    chunks = sc.encode_view_chunks(view, per_chunk=8, pause=lambda: pauses.append(1))
    assert len(pauses) == len(t.nodes) // 8  # after every full piece
    assert b"".join(chunks) == sc.encode_view(view)
    assert len(sc.decode_snapshot(b"".join(chunks)).nodes) == len(t.nodes)
