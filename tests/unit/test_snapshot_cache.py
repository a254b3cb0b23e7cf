"""Snapshot record cache (Znode.snap): a snapshot taken after any kind of change equals one
encoded from scratch, and a record claimed before (or during) a change is never reused."""

from __future__ import annotations

from typing import Any

import pytest

from pyzk.protocol import records as r
from pyzk.storage import snapshot as sc
from pyzk.tree.datatree import DataTree

OPEN = [r.ACL(31, r.Id("world", "anyone"))]
READ = [r.ACL(1, r.Id("world", "anyone"))]


def fresh_encoding(tree: DataTree) -> bytes:
    """The same view with every cache dropped first."""
    for n in tree.nodes.values():
        n.snap = None
    return sc.encode_view(sc.capture(tree, {0x10: 4000}))


def cached_encoding(tree: DataTree) -> bytes:
    return sc.encode_view(sc.capture(tree, {0x10: 4000}))


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
    first = cached_encoding(t)
    assert all(n.snap is not None for n in t.nodes.values())
    assert cached_encoding(t) == first  # all from the cache
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
        got = cached_encoding(t)
        assert got == fresh_encoding(t)
        assert sc.decode_snapshot(got) == sc.decode_snapshot(fresh_encoding(t))


def test_a_record_claimed_before_a_change_is_not_reused() -> None:
    t = build()
    node = t.nodes["/a"]
    # A snapshot thread claims the slot and reads the fields ...
    tok = bytearray()
    node.snap = tok
    old = bytes(sc.node_record("/a", node))  # an unfilled claim is not a record: encoded afresh
    assert b"one" in old and node.snap is not tok
    node.snap = tok
    # ... the loop changes the node before the thread fills its slot ...
    t.set_data("/a", b"new", 1, 5, 103, [])
    tok += old
    # ... so the filled slot is orphaned and the next snapshot encodes the new state.
    assert node.snap is None
    assert b"new" in sc.node_record("/a", node)
    assert sc.node_record("/a", node) is sc.node_record("/a", node)  # now cached



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


def test_snap_stream_from_cached_records_equals_the_plain_encoding() -> None:
    from pyzk.server.replication import snap_body
    from pyzk.zab.packets import encode_snap_body

    t = build()
    sessions = {0x10: 4000, 0x20: 6000}
    plain = encode_snap_body(sorted(sessions.items()), t.acl_cache.entries(),
                             sc.decode_snapshot(fresh_encoding(t)).nodes)
    assert snap_body(t, sessions) == plain
    assert snap_body(t, sessions) == plain  # second time from the per-znode cache


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
