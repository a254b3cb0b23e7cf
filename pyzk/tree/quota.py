"""Quotas as ZooKeeper 3.8.0 keeps them: limits and usage live in znodes under /zookeeper/quota.

`setquota` (a client) creates /zookeeper/quota<path>/zookeeper_limits and .../zookeeper_stats;
the server then keeps the stats node's "count=N,bytes=M" equal to the subtree's node count and
data bytes (DataTree.updateQuotaStat, updateQuotaForPath), finds a path's quota through a trie
of the quota'd paths (PathTrie, getMaxPrefixWithQuota), and, with enforceQuota, checks a create
or setData against the limits before it becomes a txn (ZooKeeperServer.checkQuota). Pure: the
tree and the check read znodes, the caller logs the messages and counts the metric.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import structlog

from .znode import Znode

log = structlog.get_logger("pyzk.tree")

PROC_ROOT = "/zookeeper"
QUOTA_ROOT = "/zookeeper/quota"
LIMIT_NODE = "zookeeper_limits"
STAT_NODE = "zookeeper_stats"

COUNT, BYTES, COUNT_HARD, BYTE_HARD = "count", "bytes", "countHardLimit", "byteHardLimit"
_SEPARATORS = re.compile("[,;]+")  # StatsTrack.PAIRS_SEPARATOR
_JAVA_LONG = re.compile(r"[+-]?[0-9]+")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
# String.trim() removes every char <= U+0020 (PathTrie drops components that trim to "").
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))


def limit_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{LIMIT_NODE}"


def stat_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{STAT_NODE}"


def top_namespace(path: str) -> str | None:
    """PathUtils.getTopNamespace: the second field of path.split("/") (trailing empty fields
    dropped, as Java's split does), or None."""
    parts = path.split("/")
    while parts and not parts[-1]:
        parts.pop()
    return parts[1] if len(parts) > 1 else None


def _java_split(text: str, sep: str) -> list[str]:
    """String.split(sep): trailing empty strings removed (all of them for an all-empty split,
    except that splitting "" gives [""])."""
    if not text:
        return [""]
    parts = text.split(sep)
    while parts and not parts[-1]:
        parts.pop()
    return parts


def _parse_long(text: str) -> int:
    if not _JAVA_LONG.fullmatch(text):
        raise ValueError(f'For input string: "{text}"')  # NumberFormatException's message
    value = int(text)
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(f'For input string: "{text}"')
    return value


class StatsTrack:
    """The text of a limits or stats znode: "count=4,bytes=5=;byteHardLimit=10;countHardLimit=2".

    count and bytes come first (",", and an "=" after bytes when more follow, so that 3.4
    parsers ignore the rest), the other keys sorted after ";". A missing value reads -1.
    Malformed text raises ValueError where Java's parser throws."""

    __slots__ = ("stats",)

    def __init__(self, text: str = "") -> None:
        self.stats: dict[str, int] = {}
        if not text:
            return
        pairs = _SEPARATORS.split(text)
        while pairs and not pairs[-1]:
            pairs.pop()
        for pair in pairs:
            kv = _java_split(pair, "=")
            if len(kv) < 2:
                raise ValueError(f"Index 1 out of bounds for length {len(kv)}")
            self.stats[kv[0]] = _parse_long(kv[1] if kv[1] else "-1")

    @classmethod
    def of(cls, data: bytes | None) -> StatsTrack:
        return cls((data or b"").decode("utf-8", "replace"))

    def get(self, key: str) -> int:
        return self.stats.get(key, -1)

    @property
    def count(self) -> int:
        return self.get(COUNT)

    @property
    def byte_count(self) -> int:
        return self.get(BYTES)

    @property
    def count_hard_limit(self) -> int:
        return self.get(COUNT_HARD)

    @property
    def byte_hard_limit(self) -> int:
        return self.get(BYTE_HARD)

    def __str__(self) -> str:
        text = f"{COUNT}={self.count},{BYTES}={self.byte_count}"
        extra = sorted(k for k in self.stats if k not in (COUNT, BYTES))
        if extra:
            text += "=" + "".join(f";{k}={self.stats[k]}" for k in extra)
        return text

    def to_bytes(self) -> bytes:
        return str(self).encode("utf-8")


def _components(path: str) -> tuple[str, ...]:
    """PathTrie.split: the non-blank names of a path."""
    return tuple(t for t in path.split("/") if t.strip(_JAVA_TRIM))


class PathTrie:
    """The paths that have a quota (PathTrie with the property set). Java's trie keeps
    property-less inner nodes, which never change an answer, so a set of component tuples
    answers findMaxPrefix the same way."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths: set[tuple[str, ...]] = set()

    def add_path(self, path: str) -> None:
        if path:  # Java throws IllegalArgumentException for ""
            self.paths.add(_components(path))

    def delete_path(self, path: str) -> None:
        if path:
            self.paths.discard(_components(path))

    def find_max_prefix(self, path: str) -> str:
        """The deepest quota'd ancestor-or-self of path, "/" when none."""
        paths = self.paths
        if not paths:
            return "/"
        parts = _components(path)
        for end in range(len(parts), 0, -1):
            if parts[:end] in paths:
                return "/" + "/".join(parts[:end])
        return "/"

    def clear(self) -> None:
        self.paths.clear()


class QuotaTracker:
    """DataTree's quota bookkeeping over a {path: Znode} map. The stats znode's data is
    replaced in place, as Java does: no version, mzxid or nodeDataSize change."""

    __slots__ = ("nodes", "trie")

    def __init__(self, nodes: dict[str, Znode]) -> None:
        self.nodes = nodes
        self.trie = PathTrie()

    def max_prefix_with_quota(self, path: str) -> str | None:
        """getMaxPrefixWithQuota: the quota'd path governing `path`; never the root."""
        prefix = self.trie.find_max_prefix(path)
        return None if prefix == "/" or not prefix else prefix

    def created(self, path: str, parent: str, name: str, data: bytes | None) -> None:
        """createNode's tail: a new limits node registers its path, a new stats node is
        filled from the subtree, and the node counts against its quota."""
        if parent.startswith(QUOTA_ROOT):
            if name == LIMIT_NODE:
                self.trie.add_path(parent[len(QUOTA_ROOT):])
            if name == STAT_NODE:
                self.recount(parent[len(QUOTA_ROOT):])
        if self.trie.paths:
            prefix = self.max_prefix_with_quota(path)
            if prefix is not None:
                self.update_stat(prefix, len(data) if data else 0, 1)

    def deleted(self, path: str, parent: str, name: str, data: bytes | None) -> None:
        """deleteNode's tail: a deleted limits node drops its path from the trie first."""
        if name == LIMIT_NODE and parent.startswith(PROC_ROOT) and len(parent) >= len(QUOTA_ROOT):
            # Java trims len("/zookeeper/quota") characters off any parent under /zookeeper
            self.trie.delete_path(parent[len(QUOTA_ROOT):])
        if self.trie.paths:
            prefix = self.max_prefix_with_quota(path)
            if prefix is not None:
                self.update_stat(prefix, -(len(data) if data else 0), -1)

    def data_changed(self, path: str, old: bytes | None, new: bytes | None) -> None:
        if self.trie.paths:
            prefix = self.max_prefix_with_quota(path)
            if prefix is not None:
                self.update_stat(prefix, (len(new) if new else 0) - (len(old) if old else 0), 0)

    def update_stat(self, prefix: str, bytes_diff: int, count_diff: int) -> None:
        """updateQuotaStat: add the differences to the stats node's count and bytes. Java
        swaps the data without NodeHashMap.preChange/postChange, so its tree digest does not
        follow this change (recount's does)."""
        spath = stat_path(prefix)
        node = self.nodes.get(spath)
        if node is None:
            log.error(f"Missing node for stat {spath}")
            return
        try:
            st = StatsTrack.of(node.data)
        except ValueError as e:
            # Java's parser throws out of the txn's application here; the node stays as is.
            log.error(f"Malformed quota stat node {spath}: {e}")
            return
        st.stats[COUNT] = st.count + count_diff
        st.stats[BYTES] = st.byte_count + bytes_diff
        node.data = st.to_bytes()

    def recount(self, path: str) -> None:
        """updateQuotaForPath: the stats node becomes the subtree's node count and data bytes
        (the quota'd node itself included)."""
        count = size = 0
        for n in self._subtree(path):
            count += 1
            size += len(n.data) if n.data else 0
        spath = stat_path(path)
        node = self.nodes.get(spath)
        if node is None:
            log.warning(f"Missing quota stat node {spath}")
            return
        node.data = StatsTrack(f"{COUNT}={count},{BYTES}={size}").to_bytes()

    def _subtree(self, path: str) -> Iterator[Znode]:
        nodes = self.nodes
        stack = [path]
        while stack:
            p = stack.pop()
            n = nodes.get(p or "/")  # Java's node map has "" as the root's alias
            if n is None:
                continue
            yield n
            if n.children:
                stack.extend(n.children)  # full paths (Znode.children)

    def setup(self) -> None:
        """setupQuota after a snapshot load: every leaf limits node under /zookeeper/quota
        registers its path and has its stats recounted from the tree."""
        self.trie.clear()
        nodes = self.nodes
        stack = [QUOTA_ROOT]
        suffix = "/" + LIMIT_NODE
        while stack:
            p = stack.pop()
            n = nodes.get(p)
            if n is None:
                continue
            if n.children:
                stack.extend(n.children)  # full paths (Znode.children)
            elif p.endswith(suffix):
                real = p[len(QUOTA_ROOT):p.index(suffix)]
                self.recount(real)
                self.trie.add_path(real)


# -- enforcement (ZooKeeperServer.checkQuota) ---------------------------------------------


@dataclass
class QuotaVerdict:
    """What checkQuota decided: the messages Java rate-logs (WARN), and on a hard limit the
    quota'd path the QuotaExceededException names and the namespace counted in
    quota_exceeded_error_per_namespace. `errors` are Java's LOG.error lines."""

    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exceeded: str | None = None
    namespace: str | None = None


def check_quota(nodes: Mapping[str, Znode], prefix_of: Callable[[str], str | None],
                path: str, last_data: bytes | None, data: bytes | None,
                create: bool) -> QuotaVerdict:
    """checkQuota for a create (count + 1, bytes + len(data)) or a setData (bytes + len(data)
    - len(last_data)), against the committed tree's limits and stats nodes."""
    verdict = QuotaVerdict()
    prefix = prefix_of(path)
    if not prefix:
        return verdict
    data_bytes = len(data) if data else 0
    if create:
        bytes_diff, count_diff = data_bytes, 1
    else:
        bytes_diff, count_diff = data_bytes - (len(last_data) if last_data else 0), 0
    lpath = limit_path(prefix)
    lnode = nodes.get(lpath)
    if lnode is None:
        verdict.errors.append(f"Missing limit node for quota {lpath}")
        return verdict
    limits = StatsTrack.of(lnode.data)
    check_count = count_diff != 0 and (limits.count > -1 or limits.count_hard_limit > -1)
    check_bytes = bytes_diff != 0 and (limits.byte_count > -1 or limits.byte_hard_limit > -1)
    if not check_count and not check_bytes:
        return verdict
    spath = stat_path(prefix)
    snode = nodes.get(spath)
    if snode is None:
        verdict.errors.append(f"Missing node for stat {spath}")
        return verdict
    current = StatsTrack.of(snode.data)
    checks = []
    if check_count:
        checks.append(("count", "Count", current.count + count_diff, limits.count_hard_limit,
                       limits.count))
    if check_bytes:
        checks.append(("bytes", "Byte", current.byte_count + bytes_diff, limits.byte_hard_limit,
                       limits.byte_count))
    for what, label, new, hard, soft in checks:
        is_hard = hard > -1
        limit = hard if is_hard else soft
        if new > limit:
            kind = "hard" if is_hard else "soft"
            verdict.warnings.append(
                f"Quota exceeded: {prefix} [current {what}={new}, {kind}{label}Limit={limit}]")
            if is_hard:
                verdict.exceeded = prefix
                verdict.namespace = top_namespace(path)
                return verdict
    return verdict


# -- metrics (QuotaMetricsUtils) ------------------------------------------------------------

GAUGE_SETS = ("quota_count_limit_per_namespace", "quota_bytes_limit_per_namespace",
              "quota_count_usage_per_namespace", "quota_bytes_usage_per_namespace")


def gauge_sets(nodes: Mapping[str, Znode]) -> dict[str, dict[str, int]]:
    """The four registerGaugeSet maps: per top namespace, the sum over the leaf limits nodes
    of the limit (the hard one when set) and over the leaf stats nodes of the usage."""
    sets: dict[str, dict[str, int]] = {name: {} for name in GAUGE_SETS}
    count_limit, bytes_limit, count_usage, bytes_usage = (sets[n] for n in GAUGE_SETS)
    stack = [QUOTA_ROOT]
    while stack:
        p = stack.pop()
        n = nodes.get(p)
        if n is None:
            continue
        if n.children:
            stack.extend(n.children)  # full paths (Znode.children)
            continue
        is_limit = p.endswith("/" + LIMIT_NODE)
        if not is_limit and not p.endswith("/" + STAT_NODE):
            continue
        ns = top_namespace(p[len(QUOTA_ROOT):])
        if ns is None or n.data is None:
            continue
        try:
            st = StatsTrack.of(n.data)
        except ValueError:
            continue  # Java's gauge throws for this node's text; the others still count
        if is_limit:
            hard, soft = st.count_hard_limit, st.count
            count_limit[ns] = count_limit.get(ns, 0) + (hard if hard > -1 else soft)
            hard, soft = st.byte_hard_limit, st.byte_count
            bytes_limit[ns] = bytes_limit.get(ns, 0) + (hard if hard > -1 else soft)
        else:
            count_usage[ns] = count_usage.get(ns, 0) + st.count
            bytes_usage[ns] = bytes_usage.get(ns, 0) + st.byte_count
    return sets
