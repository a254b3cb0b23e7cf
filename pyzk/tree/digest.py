"""Tree digests (ZooKeeper 3.6+ `digest.enabled`): the arithmetic and the per-zxid history.

A node's digest is the CRC-32 of its path ("" for the root), its data and 60 bytes of
StatPersisted (czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner:
DigestCalculator.calculateDigest, version 2). The tree digest is the sum of the node digests
modulo 2^64 (AdHash), kept incrementally: a change subtracts the node's old digest and adds the
new one (NodeHashMapImpl.preChange/postChange). Everything under "/zookeeper/" counts 0: quota
nodes are updated locally and would differ between servers ("/zookeeper" itself counts).

DigestHistory is DataTree's digest bookkeeping around processTxn: the digest recorded after
each txn (lastProcessedZxidDigest), one kept every 128 zxids for the `hash` command
(digestLog, DIGEST_LOG_INTERVAL/LIMIT), the comparison of a txn's carried TxnDigest with the
tree once applied (compareDigest), and the snapshot's ZxidDigest, compared when replay reaches
its zxid (compareSnapshotDigests). Pure: the caller supplies the tree digest.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import structlog

DIGEST_VERSION = 2  # DigestCalculator.DIGEST_VERSION (3.6-3.9)
DIGEST_LOG_LIMIT = 1024  # DataTree.DIGEST_LOG_LIMIT: digests kept for `hash`
DIGEST_LOG_INTERVAL = 128  # DataTree.DIGEST_LOG_INTERVAL: zxids that are a multiple of it
EXCLUDED_PREFIX = "/zookeeper/"  # ZooDefs.ZOOKEEPER_NODE_SUBTREE
RATE_LOG_INTERVAL_MS = 15 * 60 * 1000  # DataTree's RateLogger(LOG, 15 min)

_MASK = (1 << 64) - 1
_tnew = tuple.__new__
_STAT = struct.Struct(">qqqqqiiiq")

log = structlog.get_logger("pyzk.tree")


class ZxidDigest(NamedTuple):
    """DataTree.ZxidDigest: the tree digest after a zxid (as in a snapshot's trailer)."""
    zxid: int
    version: int
    digest: int  # signed 64-bit, as Java's long


def to_long(v: int) -> int:
    """The signed 64-bit value of a sum kept as an unbounded Python int."""
    v &= _MASK
    return v - (1 << 64) if v >> 63 else v


def node_digest(path: str, data: bytes | None, czxid: int, mzxid: int, pzxid: int, ctime: int,
                mtime: int, version: int, cversion: int, aversion: int, owner: int) -> int:
    """DigestCalculator.calculateDigest: 0 for the /zookeeper/ subtree, "/" hashed as ""."""
    if path.startswith(EXCLUDED_PREFIX):
        return 0
    crc = zlib.crc32(b"" if path == "/" else path.encode("utf-8"))
    if data:
        crc = zlib.crc32(data, crc)
    return zlib.crc32(_STAT.pack(czxid, mzxid, pzxid, ctime, mtime, version, cversion,
                                 aversion, owner), crc)


class NodeFields(Protocol):
    """What a node digest reads: a Znode's or a prepped ChangeRecord's fields."""
    data: bytes | None
    czxid: int
    mzxid: int
    pzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeral_owner: int


_crc32 = zlib.crc32
_pack_stat = _STAT.pack


def digest_of(path: str, n: NodeFields) -> int:
    """node_digest of a node or change record: the same CRC, for the write path, which
    computes two to four of these per txn (one call instead of eleven arguments, path bytes
    data and stat hashed in one pass)."""
    if path.startswith(EXCLUDED_PREFIX):
        return 0
    return _crc32(b"".join((b"" if path == "/" else path.encode(), n.data or b"",
                            _pack_stat(n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime, n.version,
                                       n.cversion, n.aversion, n.ephemeral_owner))))


class DigestHistory:
    """The digest side of DataTree.processTxn, compareDigest and the snapshot's ZxidDigest."""

    __slots__ = ("_last_zxid", "_last_digest", "log", "from_snapshot", "mismatches", "on_mismatch", "_unreported",
                 "_first",
                 "_rate_msg", "_rate_count", "_rate_value", "_rate_at", "now_ms")

    def __init__(self, now_ms: Callable[[], int] | None = None) -> None:
        # lastProcessedZxidDigest as two ints (no tuple per txn); _last_zxid -1: none yet
        self._last_zxid = -1
        self._last_digest = 0
        self.log: deque[ZxidDigest] = deque(maxlen=DIGEST_LOG_LIMIT)  # digestLog
        # digestFromLoadedSnapshot: while set the tree is "fuzzy" (a snapshot's content may be
        # ahead of its zxid) and nothing is compared or recorded until replay reaches it.
        self.from_snapshot: ZxidDigest | None = None
        self.mismatches = 0  # reportDigestMismatch calls (digest_mismatches_count)
        self.on_mismatch: Callable[[int], None] | None = None  # DigestWatcher.process(zxid)
        self._unreported = 0  # mismatches found while on_mismatch was None (at load)
        self._first = True  # firstMismatchTxn
        # RateLogger state (message, repeats, last value, first time)
        self._rate_msg: str | None = None
        self._rate_count = 0
        self._rate_value: str | None = None
        self._rate_at: int | None = 0  # None: the count began before there was a clock
        # The rate-limited log's clock, the server's (ZkServer sets it). A tree loaded before
        # the server exists has none: a count begun then starts its interval when the clock
        # arrives, so the switch causes no spurious interval flush.
        self.now_ms: Callable[[], int] | None = now_ms

    @property
    def last(self) -> ZxidDigest | None:
        """lastProcessedZxidDigest: the digest recorded after the last applied txn."""
        if self._last_zxid < 0:
            return None
        return _tnew(ZxidDigest, (self._last_zxid, DIGEST_VERSION, self._last_digest))

    # -- processTxn ------------------------------------------------------------------------
    def applied(self, zxid: int, tree_digest: int) -> None:
        """After a whole txn (not a multi's sub-txn) is applied to the tree."""
        if self.from_snapshot is not None:
            self.compare_snapshot(zxid, tree_digest)
            return
        self._last_zxid = zxid
        self._last_digest = tree_digest
        if zxid % DIGEST_LOG_INTERVAL == 0:
            self.log.append(_tnew(ZxidDigest, (zxid, DIGEST_VERSION, tree_digest)))

    def compare(self, hdr: Any, txn: Any, version: int, logged: int, actual: int) -> bool:
        """compareDigest: the txn's TxnDigest (version, treeDigest) against the tree after it;
        hdr and txn only name the txn in the first mismatch's ERROR line."""
        zxid = hdr.zxid
        if self.from_snapshot is not None:
            return True
        if version != DIGEST_VERSION:
            self._rate_limit_log("Digest version not the same on zxid.", str(zxid))
            return True
        if logged != actual:
            self.report_mismatch(zxid)
            if self._first:
                log.error(f"First digest mismatch on txn: {hdr}, {txn}, expected digest is "
                          f"TxnDigest(version:{version},treeDigest:{logged}), "
                          f"actual digest is {actual}, ")
                self._first = False
            return False
        if self._rate_msg is not None:  # a rate-limited message is pending: flush it
            self._rate_flush()
        return True

    def report_mismatch(self, zxid: int) -> None:
        self.mismatches += 1
        self._rate_limit_log("Digests are not matching. Value is Zxid.", str(zxid))
        if self.on_mismatch is not None:
            self.on_mismatch(zxid)
        else:
            self._unreported += 1

    def take_unreported(self) -> int:
        """Mismatches no watcher saw (found while loading); counted once by the taker."""
        n, self._unreported = self._unreported, 0
        return n

    # -- snapshots ---------------------------------------------------------------------------
    def snapshot_loaded(self, zd: ZxidDigest | None, snapshot_zxid: int) -> None:
        """deserializeZxidDigest: remember a real digest no older than the snapshot's zxid."""
        if zd is None:
            return
        if zd.zxid <= 0:
            self.from_snapshot = None
            log.info("The digest value is empty in snapshot")
            return
        log.info(f"The digest in the snapshot has digest version of {zd.version}, with zxid "
                 f"as 0x{zd.zxid:x}, and digest value as {zd.digest}")
        if zd.zxid < snapshot_zxid:
            log.info(f"The zxid of snapshot digest 0x{zd.zxid:x} is smaller than the known "
                     f"snapshot highest zxid, the snapshot started with zxid "
                     f"0x{snapshot_zxid:x}. It will be invalid to use this snapshot digest "
                     f"associated with this zxid, will ignore comparing it.")
            self.from_snapshot = None
            return
        self.from_snapshot = zd

    def compare_snapshot(self, zxid: int, tree_digest: int) -> None:
        """compareSnapshotDigests: at the snapshot digest's zxid the tree must match it."""
        snap = self.from_snapshot
        if snap is None:
            return
        if zxid == snap.zxid:
            if snap.version != DIGEST_VERSION:
                log.info(f"Digest version changed, local: {snap.version}, new: "
                         f"{DIGEST_VERSION}, skip comparing digest now.")
            elif tree_digest != snap.digest:
                self.report_mismatch(zxid)
            self.from_snapshot = None
        elif snap.zxid != 0 and zxid > snap.zxid:
            self._rate_limit_log(f"The txn 0x{snap.zxid:x} of snapshot digest does not exist.",
                                 None)

    def snapshot_digest(self) -> ZxidDigest:
        """serializeZxidDigest: the last txn's digest, or the "empty digest" (zxid 0)."""
        last = self.last
        return last if last is not None else ZxidDigest(0, DIGEST_VERSION, 0)

    # -- RateLogger (one WARN at first, then a summary per interval or on flush) ------------
    def _rate_limit_log(self, msg: str, value: str | None) -> None:
        now = self.now_ms() if self.now_ms is not None else None
        if msg == self._rate_msg:
            self._rate_count += 1
            self._rate_value = value
            if now is None:
                return
            if self._rate_at is None:
                self._rate_at = now
            elif now - self._rate_at >= RATE_LOG_INTERVAL_MS:
                self._rate_flush()
                self._rate_msg, self._rate_at, self._rate_value = msg, now, value
            return
        self._rate_flush()
        self._rate_msg, self._rate_value, self._rate_at = msg, value, now
        log.warning(f"Message:{msg} Value:{value}")

    def _rate_flush(self) -> None:
        if self._rate_msg is not None and self._rate_count > 0:
            text = f"[{self._rate_count} times] " if self._rate_count > 1 else ""
            text += "Message: " + self._rate_msg
            if self._rate_value is not None:
                text += " Last value:" + self._rate_value
            log.warning(text)
        self._rate_msg = None
        self._rate_value = None
        self._rate_count = 0
