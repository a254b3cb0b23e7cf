"""Reference-counted ACL list cache: znodes hold a long id instead of their ACL list.

Mirrors ReferenceCountedACLCache.java, including id -1 meaning OPEN_ACL_UNSAFE and ids handed
out by an increasing index, so the maps serialize in Java's snapshot layout unchanged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..protocol import records as r

OPEN_UNSAFE_ACL_ID = -1
OPEN_ACL_UNSAFE: list[Any] = [r.ACL(31, r.Id("world", "anyone"))]
READ_ACL_UNSAFE: list[Any] = [r.ACL(1, r.Id("world", "anyone"))]


class AclCache:
    __slots__ = ("longs", "keys", "refs", "index")

    def __init__(self) -> None:
        self.longs: dict[int, list[Any]] = {}  # id -> ACL list (longKeyMap)
        self.keys: dict[tuple[Any, ...], int] = {}  # ACL tuple -> id (aclKeyMap)
        self.refs: dict[int, int] = {}  # id -> reference count (referenceCounter)
        self.index = 0  # aclIndex: last id handed out

    def convert(self, acls: list[Any] | None) -> int:
        """convertAcls: the id of this ACL list, creating it, and count one more usage."""
        if acls is None:
            return OPEN_UNSAFE_ACL_ID
        key = tuple(acls)
        ret = self.keys.get(key)
        if ret is None:
            self.index += 1
            ret = self.index
            self.longs[ret] = list(acls)
            self.keys[key] = ret
        self.add_usage(ret)
        return ret

    def get(self, acl_id: int) -> list[Any]:
        """convertLong; a missing id is a corrupted tree (Java throws RuntimeException)."""
        if acl_id == OPEN_UNSAFE_ACL_ID:
            return OPEN_ACL_UNSAFE
        acls = self.longs.get(acl_id)
        if acls is None:
            raise RuntimeError(f"Failed to fetch acls for {acl_id}")
        return acls

    def add_usage(self, acl_id: int) -> None:
        if acl_id == OPEN_UNSAFE_ACL_ID or acl_id not in self.longs:
            return
        self.refs[acl_id] = self.refs.get(acl_id, 0) + 1

    def add_usages(self, acl_ids: list[int]) -> None:
        """add_usage for each id in the list (a snapshot load's nodes), counted in C."""
        for acl_id, n in Counter(acl_ids).items():
            if acl_id != OPEN_UNSAFE_ACL_ID and acl_id in self.longs:
                self.refs[acl_id] = self.refs.get(acl_id, 0) + n

    def remove_usage(self, acl_id: int) -> None:
        if acl_id == OPEN_UNSAFE_ACL_ID or acl_id not in self.longs:
            return
        n = self.refs.get(acl_id, 0) - 1
        if n <= 0:
            self.refs.pop(acl_id, None)
            self.keys.pop(tuple(self.longs.pop(acl_id)), None)
        else:
            self.refs[acl_id] = n

    # -- snapshot support (ReferenceCountedACLCache.serialize/deserialize/purgeUnused) --------

    def load(self, entries: list[tuple[int, list[Any]]]) -> None:
        """Replace the cache with deserialized (id, ACL list) entries, counts at zero.

        Usages are then added back per node (DataTree.deserialize) and `purge_unused` drops
        the rest.
        """
        self.longs.clear()
        self.keys.clear()
        self.refs.clear()
        for acl_id, acls in entries:
            if self.index < acl_id:
                self.index = acl_id
            self.longs[acl_id] = list(acls)
            self.keys[tuple(acls)] = acl_id
            self.refs[acl_id] = 0

    def purge_unused(self) -> None:
        for acl_id, n in list(self.refs.items()):
            if n <= 0:
                del self.refs[acl_id]
                self.keys.pop(tuple(self.longs.pop(acl_id)), None)

    def entries(self) -> list[tuple[int, list[Any]]]:
        """(id, ACL list) pairs to serialize: `int map` size then `long` + `vector<ACL>` each."""
        return list(self.longs.items())

    def size(self) -> int:
        return len(self.keys)
