"""Outstanding change records: the view of the tree that includes prepped, unapplied txns.

Mirrors ZooKeeperServer.outstandingChanges/outstandingChangesForPath and ChangeRecord: prep
consults this overlay first, so pipelined writes see earlier ones before they are applied.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class ChangeRecord:
    """What prep needs of a node: stat, data (also checkQuota's lastData), child count, ACL
    list, or `deleted`; and, with digests on, the node's digest after this change and the
    tree's (PrecalculatedDigest)."""

    __slots__ = ("zxid", "path", "deleted", "version", "cversion", "aversion",
                 "ephemeral_owner", "child_count", "acl", "data", "czxid", "mzxid", "ctime",
                 "mtime", "pzxid", "digest", "tree_digest")

    def __init__(self, zxid: int, path: str, deleted: bool, version: int = 0,
                 cversion: int = 0, aversion: int = 0, ephemeral_owner: int = 0,
                 child_count: int = 0, acl: list[Any] | None = None,
                 data: bytes | None = None, czxid: int = 0, mzxid: int = 0, ctime: int = 0,
                 mtime: int = 0, pzxid: int = 0) -> None:
        self.zxid = zxid
        self.path = path
        self.deleted = deleted  # Java: stat == null
        self.version = version
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeral_owner = ephemeral_owner
        self.child_count = child_count
        self.acl = acl
        self.data = data
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.pzxid = pzxid
        self.digest = 0  # the node's digest after this change (0: deleted)
        self.tree_digest = 0  # the tree's digest once this change is applied

    def duplicate(self, zxid: int) -> ChangeRecord:
        return ChangeRecord(zxid, self.path, self.deleted, self.version, self.cversion,
                            self.aversion, self.ephemeral_owner, self.child_count, self.acl,
                            self.data, self.czxid, self.mzxid, self.ctime, self.mtime,
                            self.pzxid)


class Outstanding:
    __slots__ = ("queue", "by_path")

    def __init__(self) -> None:
        self.queue: deque[ChangeRecord] = deque()
        self.by_path: dict[str, ChangeRecord] = {}

    def add(self, c: ChangeRecord) -> None:
        self.queue.append(c)
        self.by_path[c.path] = c

    def committed(self, zxid: int) -> None:
        """Drop records up to an applied zxid (ZooKeeperServer.processTxn's cleanup)."""
        q = self.queue
        by_path = self.by_path
        while q and q[0].zxid <= zxid:
            c = q.popleft()
            if by_path.get(c.path) is c:
                del by_path[c.path]

    def snapshot_for(self, paths: list[str]) -> dict[str, ChangeRecord]:
        """getPendingChanges: current records of the multi's paths and their parents."""
        out: dict[str, ChangeRecord] = {}
        by_path = self.by_path
        for p in paths:
            c = by_path.get(p)
            if c is not None:
                out[p] = c
            slash = p.rfind("/")
            if slash == -1 or "\0" in p:
                continue
            pc = by_path.get(p[:slash])
            if pc is not None:
                out[p[:slash]] = pc
        return out

    def rollback(self, zxid: int, pending: dict[str, ChangeRecord]) -> None:
        """rollbackPendingChanges: drop this multi's records, restore still-live earlier ones."""
        q = self.queue
        by_path = self.by_path
        while q and q[-1].zxid == zxid:
            c = q.pop()
            by_path.pop(c.path, None)
        if not q:
            return
        first = q[0].zxid
        for c in pending.values():
            if c.zxid >= first:
                by_path[c.path] = c

    def discard(self, zxid: int) -> None:
        """Forget every record a failed preparation added for `zxid` (the newest records):
        each of their paths falls back to its latest earlier record, if any. Only on the
        failure path, so a scan of the queue is fine."""
        q = self.queue
        by_path = self.by_path
        dropped: set[str] = set()
        while q and q[-1].zxid == zxid:
            c = q.pop()
            dropped.add(c.path)
            if by_path.get(c.path) is c:
                del by_path[c.path]
        for c in reversed(q):
            if not dropped:
                break
            if c.path in dropped:
                dropped.discard(c.path)
                by_path.setdefault(c.path, c)
