"""getChildren/getChildren2 replies built directly are the record codec's bytes."""

from __future__ import annotations

from pyzk.pipeline import final
from pyzk.protocol import records as r
from pyzk.tree.datatree import DataTree
from pyzk.tree.znode import child_names


def _expected(tree: DataTree, path: str) -> tuple[bytes, bytes]:
    n = tree.nodes[path]
    kids = child_names(n.children, path)
    return (r.GetChildrenResponse.to_bytes(r.GetChildrenResponse(kids)),
            r.GetChildren2Response.to_bytes(r.GetChildren2Response(kids, tree.stat_of(n))))


def test_children_bodies_equal_the_generic_encoding() -> None:
    tree = DataTree()
    tree.create_node("/a", b"", [], 0, -1, 4, 1000, [])
    for i, name in enumerate(("x", "\u00e9", "\U0001f600", "long" * 50)):
        tree.create_node(f"/{name}", b"d", [], 0, -1, 5 + i, 1000, [])
        tree.create_node(f"/a/{name}", b"", [], 0, -1, 10 + i, 1000, [])
    for path in ("/", "/a", "/x"):  # the root, a parent, a leaf (empty list)
        n = tree.nodes[path]
        plain, with_stat = _expected(tree, path)
        assert final._names_vector(n.children, path) == plain
        assert final._names_vector(n.children, path) + final._pack_stat(tree, n) == with_stat
