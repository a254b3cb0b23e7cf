"""The in-memory znode tree and the deterministic application of every txn type.

Mirrors DataTree.java (createNode/deleteNode/setData/setACL/processTxn/killSession, stats as
DataNode.copyStat shows them) and fires watches as those methods do. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ..protocol import records as r
from ..protocol.codes import (
    CONTAINER_EPHEMERAL_OWNER,
    MAX_TTL,
    TTL_MASK,
    Err,
    EventType,
    KeeperError,
    KeeperState,
)
from ..protocol.opcodes import OP_CREATE
from .acl import has_perm
from .acl_cache import OPEN_UNSAFE_ACL_ID, READ_ACL_UNSAFE, AclCache
from .digest import DigestHistory, ZxidDigest, digest_of, node_digest, to_long
from .quota import LIMIT_NODE, QUOTA_ROOT, QuotaTracker
from .txnapply import TxnResult, apply_txn
from .watches import WatchManager
from .znode import Znode, with_child, without_child

# Err/EventType members as module globals for the hot paths (see protocol.opcodes' OP_*)
_ERR_NODEEXISTS = Err.NODEEXISTS
_ERR_NONODE = Err.NONODE
_EV_NODE_CHILDREN_CHANGED = EventType.NODE_CHILDREN_CHANGED
_EV_NODE_CREATED = EventType.NODE_CREATED
_EV_NODE_DATA_CHANGED = EventType.NODE_DATA_CHANGED
_EV_NODE_DELETED = EventType.NODE_DELETED
_MASK64 = (1 << 64) - 1  # a tree digest sum as Java's long (digest.to_long)

SPECIAL_PATHS = frozenset({"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"})
CONFIG_NODE = "/zookeeper/config"
_RESERVED_MASK = 0x00FFFF0000000000
_SYNC = KeeperState.SYNC_CONNECTED
_JAVA_TRIMMED = "".join(map(chr, range(0x21)))  # what String.trim() cuts off either end
_tnew = tuple.__new__
_Stat = r.Stat
_WE = r.WatcherEvent
Event = tuple[Any, Any]  # (watcher, r.WatcherEvent)

__all__ = ["DataTree", "TxnResult", "SPECIAL_PATHS", "CONFIG_NODE"]


def _i32(v: int) -> int:
    return ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class DataTree:
    def __init__(self, extended_types: bool = False, skip_acl: bool = False,
                 watcher_auth: Callable[[Any], Sequence[Any]] | None = None,
                 emulate_353: bool = False, digest_enabled: bool = True) -> None:
        # extended_types = zookeeper.extendedTypesEnabled (EphemeralType.get reads TTL owners)
        self.extended_types = extended_types
        # zookeeper.emulate353TTLNodes: with extended types, also read 3.5.3's TTL owners
        # (any negative owner but the container marker: EphemeralTypeEmulate353).
        self.emulate_353 = emulate_353 and extended_types
        self.skip_acl = skip_acl
        # Watch events are filtered by the watcher's READ permission on the znode
        # (NIOServerCnxn.process(event, znodeAcl)); the server supplies the watcher's auth ids.
        self.watcher_auth = watcher_auth
        # audit.enable: told of each ephemeral a closed/expired session loses (session, path,
        # deleted) -- DataTree.deleteNodes' audit lines (pyzk.audit).
        self.on_ephemeral_deleted: Callable[[int, str, bool], None] | None = None
        self.acl_cache = AclCache()
        self.nodes: dict[str, Znode] = {}
        self.ephemerals: dict[int, set[str]] = {}
        self.containers: set[str] = set()
        self.ttls: set[str] = set()
        self.last_processed_zxid = 0
        self.watches = WatchManager()
        self.data_size = 0  # nodeDataSize: sum of len(path) + len(data)
        # digest.enabled: the tree digest (AdHash, an unbounded sum: see tree_digest) and
        # its per-zxid history. Disabled, the sum stays 0 as Java's does.
        self.digest_enabled = digest_enabled
        self.digest_sum = 0
        self.digests = DigestHistory()
        # DataTree(): root, /zookeeper, /zookeeper/quota with zeroed stats and OPEN_ACL_UNSAFE,
        # then addConfigNode: /zookeeper/config with READ_ACL_UNSAFE set via setACL(.., -1).
        self.nodes["/"] = Znode(b"", OPEN_UNSAFE_ACL_ID, children=("/zookeeper",))
        self.nodes["/zookeeper"] = Znode(b"", OPEN_UNSAFE_ACL_ID, children=("/zookeeper/quota", CONFIG_NODE))
        self.nodes["/zookeeper/quota"] = Znode(b"", OPEN_UNSAFE_ACL_ID)
        cfg = Znode(b"", self.acl_cache.convert(READ_ACL_UNSAFE))
        cfg.aversion = -1
        self.nodes[CONFIG_NODE] = cfg
        self.data_size = self.approximate_data_size()
        # Quota'd paths and their stats nodes (DataTree.pTrie, updateQuotaStat).
        self.quota = QuotaTracker(self.nodes)
        for p, n in self.nodes.items():
            self._add_digest(p, n)

    # -- ephemeral owner classification (EphemeralType.get) ------------------------------------

    def owner_type(self, owner: int) -> str:
        """'void', 'normal' (session ephemeral), 'container' or 'ttl'."""
        if self.emulate_353 and owner < 0 and owner != CONTAINER_EPHEMERAL_OWNER:
            return "ttl"
        if self.extended_types and (owner & TTL_MASK) == TTL_MASK:
            if owner & _RESERVED_MASK:
                raise ValueError(f"Invalid ephemeralOwner. [{owner & 0xFFFFFFFFFFFFFFFF:x}]")
            return "ttl"
        if owner == CONTAINER_EPHEMERAL_OWNER:
            return "container"
        return "void" if owner == 0 else "normal"

    def client_owner(self, owner: int) -> int:
        """DataNode.getClientEphemeralOwner: only session ephemerals show their owner."""
        if owner == 0 or owner == CONTAINER_EPHEMERAL_OWNER:
            return 0
        if self.extended_types and ((owner & TTL_MASK) == TTL_MASK
                                    or (self.emulate_353 and owner < 0)):
            return 0
        return owner

    def stat_of(self, n: Znode) -> Any:
        """DataNode.copyStat: the client's Stat (cversion = creates*2 - children)."""
        ch = n.children
        nc = len(ch) if ch else 0
        cv = n.cversion * 2 - nc
        if not -0x80000000 <= cv <= 0x7FFFFFFF:
            cv = _i32(cv)
        d = n.data
        return _tnew(_Stat, (n.czxid, n.mzxid, n.ctime, n.mtime, n.version, cv, n.aversion,
                             self.client_owner(n.ephemeral_owner), len(d) if d else 0, nc,
                             n.pzxid))

    def get_node(self, path: str) -> Znode | None:
        return self.nodes.get(path or "/")

    def acl_of(self, n: Znode) -> list[Any]:
        return self.acl_cache.get(n.acl)

    def set_config_data(self, data: bytes) -> None:
        """The standalone/dynamic config bytes shown by `get /zookeeper/config` (no txn)."""
        n = self.nodes[CONFIG_NODE]
        self.data_size += len(data) - len(n.data or b"")
        n.data = data
        self._changed(CONFIG_NODE, n)  # (the /zookeeper/ subtree's digest is 0)

    # -- the tree digest (NodeHashMapImpl: addDigest/removeDigest, preChange/postChange) --------

    def tree_digest(self) -> int:
        """getTreeDigest: the sum of the node digests as Java's long."""
        return to_long(self.digest_sum)

    def _add_digest(self, path: str, n: Znode) -> None:
        if self.digest_enabled:
            d = n.digest = digest_of(path, n)
            self.digest_sum += d

    def _changed(self, path: str, n: Znode) -> None:
        """After a change to n's data or stat: its old digest out, the new one in."""
        if self.digest_enabled:
            old = n.digest
            d = n.digest = digest_of(path, n)
            self.digest_sum += d - old

    def snapshot_loaded(self, nodes: Iterable[tuple[str, Znode]], zd: ZxidDigest | None,
                        zxid: int) -> None:
        """After a snapshot's nodes are in (loaded without add_node): their digests, then
        FileSnap.deserialize's digest steps: keep the file's ZxidDigest and, when it is for
        the file's own zxid, compare at once (compareSnapshotDigests)."""
        if not self.digest_enabled:
            return  # Java does not even read the trailer's digest
        total = 0
        for p, n in nodes:  # _add_digest inlined: this runs once per node at start-up
            d = n.digest = digest_of(p, n)
            total += d
        self.digest_sum += total
        h = self.digests
        h.snapshot_loaded(zd, zxid)
        if h.from_snapshot is not None:
            h.compare_snapshot(zxid, to_long(self.digest_sum))

    def recompute_digest(self) -> int:
        """Every node's digest from scratch (a check of the incremental sum)."""
        total = 0
        for p, n in self.nodes.items():
            total += node_digest(p, n.data, n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime,
                                 n.version, n.cversion, n.aversion, n.ephemeral_owner)
        return to_long(total)

    # -- watch delivery -------------------------------------------------------------------

    def _fire(self, watchers: dict[Any, None] | None, etype: int, path: str, acl_id: int,
              out: list[Event], suppress: dict[Any, None] | None = None) -> None:
        if not watchers:
            return
        ev = _tnew(_WE, (etype, _SYNC, path))
        auth_of = self.watcher_auth
        acl = None
        if auth_of is not None and not self.skip_acl and acl_id != OPEN_UNSAFE_ACL_ID:
            acl = self.acl_cache.longs.get(acl_id)
        for w in watchers:
            if suppress is not None and w in suppress:
                continue
            if acl is not None and auth_of is not None and not has_perm(acl, 1, auth_of(w)):
                continue
            out.append((w, ev))

    # -- mutations (DataTree.createNode/deleteNode/setData/setACL) --------------------------

    def create_node(self, path: str, data: bytes | None, acl: list[Any] | None, owner: int,
                    parent_cversion: int, zxid: int, time: int, events: list[Event]) -> Znode:
        slash = path.rfind("/")
        parent_name = path[:slash] or "/"
        parent = self.nodes.get(parent_name)
        if parent is None:
            raise KeeperError(_ERR_NONODE)
        acl_id = self.acl_cache.convert(acl)  # before the exists check, as Java (refcount)
        children = parent.children
        if children is not None and path in children:
            raise KeeperError(_ERR_NODEEXISTS)
        # `| 0` re-allocates an int at its exact size: CPython's `a + 1` (the zxid counter) and
        # `ns // 10**6` (the clock) leave a spare digit, a 48-byte block where 32 do, and these
        # two ints live as long as the node (czxid/mzxid/pzxid and ctime/mtime share them).
        zxid |= 0
        time |= 0
        if parent_cversion == -1:
            parent_cversion = parent.cversion + 1
        # replaying a fuzzy snapshot must not move cversion/pzxid backwards
        if parent_cversion > parent.cversion:
            parent.cversion = parent_cversion
            parent.pzxid = zxid
            self._changed(parent_name, parent)
        child = Znode(data, acl_id, zxid, zxid, time, time, 0, 0, 0, owner, zxid)
        parent.children = with_child(children, path)
        self.nodes[path] = child
        self._add_digest(path, child)
        self.data_size += len(path) + (len(data) if data else 0)
        if owner:
            kind = self.owner_type(owner)
            if kind == "container":
                self.containers.add(path)
            elif kind == "ttl":
                self.ttls.add(path)
            else:
                s = self.ephemerals.get(owner)
                if s is None:
                    s = self.ephemerals[owner] = set()
                s.add(path)
        quota = self.quota
        if quota.trie.paths or parent_name.startswith(QUOTA_ROOT):
            quota.created(path, parent_name, path[slash + 1:], data)
        w = self.watches
        self._fire(w.data.trigger(path, False), _EV_NODE_CREATED, path, acl_id, events)
        self._fire(w.child.trigger(parent_name, True), _EV_NODE_CHILDREN_CHANGED,
                   parent_name, parent.acl, events)
        return child

    def delete_node(self, path: str, zxid: int, events: list[Event]) -> None:
        slash = path.rfind("/")
        parent_name = path[:slash] or "/"
        parent = self.nodes.get(parent_name)
        if parent is None:
            raise KeeperError(_ERR_NONODE)
        parent.children = without_child(parent.children, path)
        # pzxid moves even if the child is already gone (fuzzy snapshot replay)
        if zxid > parent.pzxid:
            parent.pzxid = zxid
            self._changed(parent_name, parent)
        node = self.nodes.pop(path, None)
        if node is None:
            raise KeeperError(_ERR_NONODE)
        if self.digest_enabled:
            self.digest_sum -= node.digest
        self.acl_cache.remove_usage(node.acl)
        self.data_size -= len(path) + (len(node.data) if node.data else 0)
        owner = node.ephemeral_owner
        if owner:
            kind = self.owner_type(owner)
            if kind == "container":
                self.containers.discard(path)
            elif kind == "ttl":
                self.ttls.discard(path)
            else:
                s = self.ephemerals.get(owner)
                if s is not None:
                    s.discard(path)
        quota = self.quota
        if quota.trie.paths or path.endswith(LIMIT_NODE):
            quota.deleted(path, parent_name, path[slash + 1:], node.data)
        w = self.watches
        processed = w.data.trigger(path, False)
        self._fire(processed, _EV_NODE_DELETED, path, node.acl, events)
        self._fire(w.child.trigger(path, False), _EV_NODE_DELETED, path, node.acl, events,
                   processed)
        self._fire(w.child.trigger(parent_name, True), _EV_NODE_CHILDREN_CHANGED,
                   parent_name, parent.acl, events)

    def set_data(self, path: str, data: bytes | None, version: int, zxid: int, time: int,
                 events: list[Event]) -> Znode:
        n = self.nodes.get(path)
        if n is None:
            raise KeeperError(_ERR_NONODE)
        old = n.data
        n.data = data
        n.mtime = time | 0  # exact-size ints: see create_node
        n.mzxid = zxid | 0
        n.version = version
        self._changed(path, n)
        self.data_size += (len(data) if data else 0) - (len(old) if old else 0)
        if self.quota.trie.paths:
            self.quota.data_changed(path, old, data)
        self._fire(self.watches.data.trigger(path, False), _EV_NODE_DATA_CHANGED, path,
                   n.acl, events)
        return n

    def set_acl(self, path: str, acl: list[Any] | None, version: int) -> Znode:
        n = self.nodes.get(path)
        if n is None:
            raise KeeperError(Err.NONODE)
        self.acl_cache.remove_usage(n.acl)
        n.aversion = version
        n.acl = self.acl_cache.convert(acl)
        self._changed(path, n)
        return n

    def set_cversion_pzxid(self, path: str, new_cversion: int, zxid: int) -> None:
        if path.endswith("/"):
            path = path[:-1]
        n = self.nodes.get(path or "/")
        if n is None:
            raise KeeperError(Err.NONODE, path)
        if new_cversion == -1:
            new_cversion = n.cversion + 1
        if new_cversion > n.cversion:
            n.cversion = new_cversion
            n.pzxid = zxid
            self._changed(path or "/", n)

    def kill_session(self, session: int, zxid: int, paths_in_txn: list[str] | None,
                     events: list[Event]) -> None:
        """killSession: delete the txn's paths, then any ephemerals the txn did not list."""
        local = self.ephemerals.pop(session, None)
        if paths_in_txn is not None:
            self._delete_all(session, paths_in_txn, zxid, events)
            if local is not None:
                local.difference_update(paths_in_txn)
        if local:
            self._delete_all(session, sorted(local), zxid, events)

    def _delete_all(self, session: int, paths: list[str], zxid: int,
                    events: list[Event]) -> None:
        for p in paths:
            try:
                self.delete_node(p, zxid, events)
                deleted = True
            except KeeperError:
                deleted = False  # NoNode while removing a dead session's ephemeral is ignored
            if self.on_ephemeral_deleted is not None:
                self.on_ephemeral_deleted(session, p, deleted)

    # -- txn application ------------------------------------------------------------------

    def process_txn(self, hdr: Any, txn: Any, digest: Any = None) -> TxnResult:
        """DataTree.processTxn: apply one logged txn; sets last_processed_zxid, records the
        tree digest after it and compares it with the txn's TxnDigest, if it carries one."""
        rc = apply_txn(self, hdr, txn)
        if hdr.type == OP_CREATE and rc.err == _ERR_NODEEXISTS and rc.path is not None:
            # restore-time replay of a create over an existing node still bumps the parent
            try:
                self.set_cversion_pzxid(rc.path[: rc.path.rfind("/")], txn.parentCVersion,
                                        hdr.zxid)
            except KeeperError as e:
                rc.err = e.code
        if hdr.zxid > self.last_processed_zxid:
            self.last_processed_zxid = hdr.zxid
        actual = self.digest_sum & _MASK64  # to_long, inline (every txn)
        if actual >> 63:
            actual -= 1 << 64
        self.digests.applied(hdr.zxid, actual)
        if digest is not None and self.digest_enabled:
            self.digests.compare(hdr, txn, digest.version, digest.treeDigest, actual)
        return rc
    # -- queries --------------------------------------------------------------------------

    def node_count(self) -> int:
        """getNodeCount: Java's map also holds "" as an alias of the root, so one more."""
        return len(self.nodes) + 1

    def approximate_data_size(self) -> int:
        return sum(len(p) + (len(n.data) if n.data else 0) for p, n in self.nodes.items())

    def ephemeral_count(self) -> int:
        return sum(len(s) for s in self.ephemerals.values())

    def get_ephemerals(self, session: int, prefix: str | None = None) -> list[str]:
        """GetEphemerals: empty, blank or "/" prefix means all of the session's ephemerals.
        Blank as Java's String.trim() sees it: every char up to U+0020 (NUL and the other
        controls too, no Unicode spaces) is trimmed."""
        paths = self.ephemerals.get(session, ())
        if prefix is None or prefix.strip(_JAVA_TRIMMED) in ("", "/"):
            return list(paths)
        return [p for p in paths if p.startswith(prefix)]

    def all_children_number(self, path: str) -> int:
        """getAllChildrenNumber: every descendant (the root excludes itself). Java counts the
        keys of its node map that start with path + "/", so "" (the map's alias of the root)
        counts every node, the root "/" included."""
        if path == "/":
            return len(self.nodes) - 1
        if path == "":
            return len(self.nodes)
        n = self.nodes.get(path)
        if n is None:
            return 0
        total = 0
        stack = [(path, n)]
        nodes = self.nodes
        while stack:
            p, node = stack.pop()
            if node.children:
                for cp in node.children:
                    child = nodes.get(cp)
                    if child is not None:
                        total += 1
                        stack.append((cp, child))
        return total

    def walk(self) -> Iterator[tuple[str, Znode]]:
        """Parent-before-child, depth first from "/" (DataTree.serializeNode order)."""
        nodes = self.nodes
        stack = ["/"]
        while stack:
            p = stack.pop()
            n = nodes[p]
            yield p, n
            if n.children:
                # full paths of siblings share the prefix, so they sort as their names do
                stack.extend(sorted(n.children, reverse=True))

    def add_node(self, path: str, n: Znode) -> None:
        """Snapshot load (DataTree.deserialize): link under its parent, count ACL usage."""
        self.nodes[path] = n
        self.acl_cache.add_usage(n.acl)
        self.data_size += len(path) + (len(n.data) if n.data else 0)
        self._add_digest(path, n)
        if path == "/":
            return
        slash = path.rfind("/")
        parent = self.nodes.get(path[:slash] or "/")
        if parent is None:
            raise ValueError(f"Invalid Datatree, unable to find parent {path[:slash]} of {path}")
        parent.children = with_child(parent.children, path)
        if n.ephemeral_owner:
            self.link_owner(path, n.ephemeral_owner)

    def link_owner(self, path: str, owner: int) -> None:
        """Index a loaded node with an ephemeralOwner: container, TTL node or ephemeral."""
        if owner:
            kind = self.owner_type(owner)
            if kind == "container":
                self.containers.add(path)
            elif kind == "ttl":
                self.ttls.add(path)
            else:
                self.ephemerals.setdefault(owner, set()).add(path)

    def setup_quota(self) -> None:
        """After a snapshot load (DataTree.deserialize's setupQuota): find the quota'd paths
        and recount their stats nodes from the tree."""
        self.quota.setup()

    def clear_for_load(self) -> None:
        """Empty the tree before a snapshot load (the snapshot holds every node, root first)."""
        self.nodes.clear()
        self.ephemerals.clear()
        self.containers.clear()
        self.ttls.clear()
        self.data_size = 0
        self.digest_sum = 0

    def expiry_candidates(self, now_ms: int, max_never_used_ms: int = 0) -> list[str]:
        """ContainerManager.getCandidates: empty used containers and expired childless TTLs."""
        out = []
        nodes = self.nodes
        for p in self.containers:
            n = nodes.get(p)
            if n is not None and not n.children:
                if n.cversion > 0 or (max_never_used_ms and now_ms - n.mtime > max_never_used_ms):
                    out.append(p)
        for p in self.ttls:
            n = nodes.get(p)
            if n is not None and not n.children and self.owner_type(n.ephemeral_owner) == "ttl":
                ttl = n.ephemeral_owner & MAX_TTL
                if ttl and now_ms - n.mtime > ttl:
                    out.append(p)
        return sorted(out)
