"""One znode of the data tree: Java's DataNode with its StatPersisted fields inlined.

Slots only, so a znode costs no more than Java's DataNode + StatPersisted; `acl` is the
ReferenceCountedACLCache id. `digest` is the node's share of the tree digest (DataNode.digest,
pyzk.tree.digest), kept up to date by DataTree while the node is in a tree.

`children` holds the children's full paths, the very str objects that key DataTree.nodes, so a
child costs its parent one reference instead of a second string (child_names cuts the names
out for getChildren). It is None until the first child (DataNode.java), a tuple while there
are at most SMALL_CHILDREN, then a dict of path -> None: most parents have one or a few children
(Kafka's /brokers/topics/t/partitions/N has one, `state`), and an empty set alone costs 216
bytes against a 1-tuple's 48; beyond, a str-keyed dict is a third to a half of a set's size
(24 keys: 832 against 2264 bytes). Readers only use len(), `in`, iteration and truthiness,
which all shapes answer alike; writers go through with_child/without_child.
"""

from __future__ import annotations

from typing import TypeAlias

Children: TypeAlias = "tuple[str, ...] | dict[str, None] | None"
SMALL_CHILDREN = 8  # a tuple's linear `in` and copy-on-add stay cheaper than hashing up to here


def child_names(children: Children, path: str) -> list[str]:
    """The children's names (getChildren), given the parent's path ("" or "/" for the root)."""
    if not children:
        return []
    cut = 1 if path in ("/", "") else len(path) + 1
    return [c[cut:] for c in children]


def with_child(children: Children, path: str) -> tuple[str, ...] | dict[str, None]:
    """children plus the child at path; a dict is changed in place and returned."""
    if children is None:
        return (path,)
    if isinstance(children, tuple):
        if path in children:
            return children
        if len(children) < SMALL_CHILDREN:
            return (*children, path)
        grown = dict.fromkeys(children)
        grown[path] = None
        return grown
    children[path] = None
    return children


def without_child(children: Children, path: str) -> Children:
    """children minus the child at path (if there); None once empty."""
    if children is None:
        return None
    if isinstance(children, tuple):
        if path not in children:
            return children
        return tuple(c for c in children if c != path) or None
    children.pop(path, None)
    return children or None


class Znode:
    __slots__ = ("data", "acl", "czxid", "mzxid", "ctime", "mtime", "version",
                 "cversion", "aversion", "ephemeral_owner", "pzxid", "children", "digest")

    def __init__(self, data: bytes | None, acl: int, czxid: int = 0, mzxid: int = 0,
                 ctime: int = 0, mtime: int = 0, version: int = 0, cversion: int = 0,
                 aversion: int = 0, ephemeral_owner: int = 0, pzxid: int = 0,
                 children: Children = None) -> None:
        self.data = data
        self.acl = acl
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = version
        # cversion is the persisted count of child creations; clients see cversion*2 - numChildren
        # (DataNode.copyStat), and sequential suffixes use this persisted value.
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeral_owner = ephemeral_owner
        self.pzxid = pzxid
        self.children = children
        self.digest = 0

    def __repr__(self) -> str:
        return (f"Znode(czxid={self.czxid:#x}, mzxid={self.mzxid:#x}, version={self.version}, "
                f"cversion={self.cversion}, aversion={self.aversion}, "
                f"owner={self.ephemeral_owner:#x}, children={len(self.children or ())})")
