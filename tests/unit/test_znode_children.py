"""Znode.children's compact shapes (None, a tuple up to SMALL_CHILDREN, a dict of full paths
beyond) answer as a set of names did: Stat, getChildren, the walk order, snapshots, and the
memory a znode costs."""

from __future__ import annotations

import gc
import random
import tracemalloc
from typing import Any

from pyzk.protocol import records as r
from pyzk.storage import snapshot as sc
from pyzk.tree.datatree import DataTree
from pyzk.tree.znode import SMALL_CHILDREN, child_names, with_child, without_child

OPEN = [r.ACL(31, r.Id("world", "anyone"))]


def test_shapes_grow_and_shrink() -> None:
    ch: Any = None
    paths = [f"/p/c{i}" for i in range(SMALL_CHILDREN + 3)]
    for i, p in enumerate(paths):
        ch = with_child(ch, p)
        assert isinstance(ch, tuple if i < SMALL_CHILDREN else dict)
        assert len(ch) == i + 1 and p in ch
    assert with_child(ch, paths[0]) is ch and len(ch) == len(paths)  # already there
    for p in paths[:-1]:
        ch = without_child(ch, p)
        assert p not in ch
    assert list(ch) == [paths[-1]]
    assert without_child(ch, "/p/none") is ch
    assert without_child(ch, paths[-1]) is None
    small = with_child(with_child(None, "/p/a"), "/p/b")
    assert without_child(small, "/p/x") is small
    assert without_child(without_child(small, "/p/a"), "/p/b") is None


def test_child_names_cut_the_parent_prefix() -> None:
    assert child_names(None, "/a") == []
    assert child_names(("/a/x", "/a/y"), "/a") == ["x", "y"]
    assert child_names({"/x": None}, "/") == ["x"]
    assert child_names(("/x",), "") == ["x"]  # "" is Java's alias of the root


def _model_check(t: DataTree, model: dict[str, set[str]], creates: dict[str, int]) -> None:
    for parent, names in model.items():
        n = t.nodes[parent]
        assert sorted(child_names(n.children, parent)) == sorted(names)
        st = t.stat_of(n)
        assert st.numChildren == len(names)
        assert st.cversion == creates[parent] * 2 - len(names)  # DataNode.copyStat


def test_tree_at_the_shape_boundaries_matches_a_set_model() -> None:
    rng = random.Random(17)
    t = DataTree()
    ev: list[Any] = []
    zxid = 1
    model: dict[str, set[str]] = {}
    creates: dict[str, int] = {}
    for parent in ("/a", "/b"):
        zxid += 1
        t.create_node(parent, b"", OPEN, 0, -1, zxid, 100, ev)
        model[parent], creates[parent] = set(), 0
    for _ in range(400):  # sizes wander across SMALL_CHILDREN both ways
        parent = rng.choice(("/a", "/b"))
        name = f"n{rng.randrange(2 * SMALL_CHILDREN + 4)}"
        zxid += 1
        if name in model[parent]:
            t.delete_node(f"{parent}/{name}", zxid, ev)
            model[parent].discard(name)
        else:
            t.create_node(f"{parent}/{name}", b"d", OPEN, 0, -1, zxid, 100, ev)
            model[parent].add(name)
            creates[parent] += 1
        _model_check(t, model, creates)
        assert t.nodes[parent].pzxid == zxid
    walked = [p for p, _ in t.walk()]
    for parent in ("/a", "/b"):
        kids = [p for p in walked if p.startswith(parent + "/")]
        assert kids == sorted(f"{parent}/{n}" for n in model[parent])
    assert t.all_children_number("/") == len(t.nodes) - 1
    assert t.recompute_digest() == t.tree_digest()
    # a snapshot round trip rebuilds the same children and encodes to the same bytes
    raw = sc.encode_view(sc.capture(t, {}))
    back = DataTree()
    sc.load_snapshot_into(raw, back, zxid)
    for p, n in t.nodes.items():
        assert set(back.nodes[p].children or ()) == set(n.children or ())
    assert sc.encode_view(sc.capture(back, {})) == raw
    old = DataTree()
    sc.load_tree(sc.decode_snapshot(raw), old, zxid)
    assert sc.encode_view(sc.capture(old, {})) == raw


def test_children_share_the_node_map_keys() -> None:
    t = DataTree()
    ev: list[Any] = []
    t.create_node("/a", b"", OPEN, 0, -1, 2, 100, ev)
    t.create_node("/a/b", b"", OPEN, 0, -1, 3, 100, ev)
    key = next(k for k in t.nodes if k == "/a/b")
    assert next(iter(t.nodes["/a"].children or ())) is key


def test_a_leaf_under_a_one_child_parent_stays_small() -> None:
    """Guard: 2000 parents with one 16-byte child each, as Kafka's partitions/N/state. With a
    set per parent, a second string per name and a snapshot record cached on every node this
    was 736 B of traced allocations per znode; now 411 (CPython 3.11), the bound leaves room
    for other interpreters."""
    t = DataTree()
    ev: list[Any] = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        zxid = 0x100000000
        for i in range(2000):
            for p in (f"/p{i:05d}", f"/p{i:05d}/state"):
                zxid += 1
                t.create_node(p, bytes(bytearray(16)), OPEN, 0, -1, zxid, 1764900000000 + zxid,
                              ev)
        sc.encode_view(sc.capture(t, {}))  # a snapshot leaves nothing behind on the nodes
        gc.collect()
        per_znode = (tracemalloc.get_traced_memory()[0] - before) / 4000
    finally:
        tracemalloc.stop()
    assert per_znode < 520, per_znode
