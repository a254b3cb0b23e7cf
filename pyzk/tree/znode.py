"""One znode of the data tree: Java's DataNode with its StatPersisted fields inlined.

Slots only, so a znode costs no more than Java's DataNode + StatPersisted; `acl` is the
ReferenceCountedACLCache id and `children` stays None until the first child (DataNode.java).
`snap` caches the node's snapshot record (pyzk.storage.snapshot.node_record); whoever changes a
persisted field sets it to None afterwards. `digest` is the node's share of the tree digest
(DataNode.digest, pyzk.tree.digest), kept up to date by DataTree while the node is in a tree.
"""

from __future__ import annotations


class Znode:
    __slots__ = ("data", "acl", "czxid", "mzxid", "ctime", "mtime", "version",
                 "cversion", "aversion", "ephemeral_owner", "pzxid", "children", "snap",
                 "digest")

    def __init__(self, data: bytes | None, acl: int, czxid: int = 0, mzxid: int = 0,
                 ctime: int = 0, mtime: int = 0, version: int = 0, cversion: int = 0,
                 aversion: int = 0, ephemeral_owner: int = 0, pzxid: int = 0,
                 children: set[str] | None = None) -> None:
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
        self.snap: bytearray | None = None
        self.digest = 0

    def __repr__(self) -> str:
        return (f"Znode(czxid={self.czxid:#x}, mzxid={self.mzxid:#x}, version={self.version}, "
                f"cversion={self.cversion}, aversion={self.aversion}, "
                f"owner={self.ephemeral_owner:#x}, children={len(self.children or ())})")
