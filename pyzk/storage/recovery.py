"""Startup recovery: newest valid snapshot, then replay of the txn logs after it.

Follows FileTxnSnapLog.restore/fastForwardFromEdits and FileSnap.deserialize (fall back to an
older snapshot when one fails its checksum). A hole in the zxid sequence is logged and replay
goes on, as Java's does: every logged txn is still applied in order, and the one known writer of
such holes (pyzk before b5464fa's successor handed a zxid to a request whose preparation then
raised) left them where nothing was ever applied. Where Java would carry on with a tree that is
certainly wrong (a zxid going backwards, a corrupt entry mid-log, the logs after a fallback
snapshot purged, a log holding txns older than its name, txns missing after a log that ended
early), this refuses with an error naming the file and offset: an operator can
repair a data dir, but not un-serve wrong data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from pyzk.protocol.opcodes import Op

from . import snapshot as snapcodec
from . import txnlog
from .datadir import DataDir
from .errors import LogFormatError
from .logfile import logs_from, read_log_file, sorted_logs, zxid_from_name

log = logging.getLogger("pyzk.storage")


class RecoveryError(RuntimeError):
    """The data directory cannot be turned into a tree that is known to be right."""


class CorruptLogError(LogFormatError, RecoveryError):
    """A log that fails recovery: still a LogFormatError (file, offset), and a RecoveryError so
    the server refuses to start with that one line rather than a traceback."""


class Recovered(NamedTuple):
    tree: Any
    sessions: dict[int, int]  # session id -> timeout (ms), as sessionsWithTimeouts
    last_zxid: int
    snapshot_zxid: int  # -1 when started from an empty directory
    snapshot_path: Path | None
    txns_replayed: int
    torn: list[str]  # torn-tail warnings (files whose last entry did not fully reach disk)
    needs_initial_snapshot: bool  # empty dir: Java writes snapshot.0 before serving


def _default_tree() -> Any:
    from pyzk.tree.datatree import DataTree
    return DataTree()


def load_snapshot(dd: DataDir, make_tree: Callable[[], Any]) -> tuple[Any, dict[int, int],
                                                                      int, Path | None]:
    """FileSnap.deserialize: try the newest snapshots whose tail looks sealed, newest first."""
    tree, sessions, zxid, path, _ = _load_snapshot(dd, make_tree)
    return tree, sessions, zxid, path


def _load_snapshot(dd: DataDir, make_tree: Callable[[], Any]
                   ) -> tuple[Any, dict[int, int], int, Path | None, bool]:
    """load_snapshot, and whether it fell back past a newer snapshot that failed."""
    candidates = dd.valid_snapshots()
    failures: list[str] = []
    for zxid, path in candidates:
        log.info("Reading snapshot %s", path)
        try:
            raw = snapcodec.maybe_decompress(path.read_bytes(), str(path))
            tree = make_tree()
            sessions = snapcodec.load_snapshot_into(raw, tree, zxid, str(path))
        except (snapcodec.SnapshotFormatError, ValueError, RuntimeError, OSError) as e:
            log.warning("problem reading snap file %s: %s", path, e)
            failures.append(f"{path.name}: {e}")
            continue
        return tree, dict(sessions), zxid, path, bool(failures)
    if failures:
        raise RecoveryError(f"Not able to find valid snapshots in {dd.snap_dir}: "
                            + "; ".join(failures))
    return None, {}, -1, None, False


def recover(dd: DataDir, make_tree: Callable[[], Any] = _default_tree,
            trust_empty_snapshot: bool = False) -> Recovered:
    """Rebuild (tree, sessions, last zxid) from a data directory."""
    tree, sessions, snap_zxid, snap_path, fell_back = _load_snapshot(dd, make_tree)
    if tree is None:
        has_logs = bool(sorted_logs(dd.log_dir))
        if has_logs and not trust_empty_snapshot:
            # FileTxnSnapLog.restore, ZOOKEEPER-3056
            raise RecoveryError("No snapshot found, but there are log entries. "
                                "Something is broken!")
        tree = make_tree()
        if not has_logs:
            return Recovered(tree, {}, 0, -1, None, 0, [], True)
        snap_zxid = 0
    try:
        last, n, torn = replay(dd.log_dir, tree, sessions, snap_zxid, contiguous_start=fell_back)
    except LogFormatError as e:
        raise CorruptLogError(e.name, e.offset, e.reason) from None
    pending = getattr(getattr(tree, "digests", None), "from_snapshot", None)
    if pending is not None:
        log.warning("Highest txn zxid 0x%x is not covering the snapshot digest zxid 0x%x, "
                    "which might lead to inconsistent state", last, pending.zxid)
    return Recovered(tree, sessions, last, snap_zxid, snap_path, n, torn, False)


def replay(log_dir: Path, tree: Any, sessions: dict[int, int], after_zxid: int,
           on_txn: Callable[[txnlog.TxnEntry], None] | None = None,
           contiguous_start: bool = False) -> tuple[int, int, list[str]]:
    """Apply every logged txn with zxid > after_zxid; returns (last zxid, count, torn notes).
    `on_txn` sees each applied entry (FileTxnSnapLog.PlayBackListener.onTxnLoaded).

    Within one epoch zxids are consecutive. A gap is logged once per hole and replay
    continues, as fastForwardFromEdits does, except right after a snapshot that recovery fell
    back to (`contiguous_start`): there a gap means the logs that older snapshot needs were
    purged, and the tree would silently lack acknowledged txns, so it is refused; and right
    after a file that ended early (torn, no header), whose lost tail the later file proves
    was acknowledged. A txn older than its file's name (a renamed or copied log) is refused.
    A zxid going backwards means a mixed-up log and is refused (Java logs "highestZxid > next
    log" and continues).
    """
    prev = after_zxid
    count = 0
    torn: list[str] = []
    cut_short: str | None = None  # a file that ended early since the last applied txn
    for path in logs_from(log_dir, after_zxid + 1):
        scan = read_log_file(path)
        named = zxid_from_name(path.name, "log")
        for off, entry in txnlog.iter_entries(scan, str(path)):
            hdr = entry.hdr
            z = hdr.zxid
            if z < named:
                # log.<zxid> is named after its first txn (FileTxnLog.append): older txns in
                # it mean a file renamed or copied over another name. Java replays them again
                # on top of newer state (fastForwardFromEdits only logs "highestZxid > next
                # log"); replaying or skipping them silently could both serve a wrong tree.
                raise LogFormatError(str(path), off, f"holds zxid {z:#x}, older than the "
                                     f"file's name: a log renamed or copied from elsewhere")
            if z <= after_zxid:
                continue
            _check_follows(path, off, z, prev, cut_short, contiguous_start and count == 0)
            apply_logged(tree, sessions, hdr, entry.txn, entry.digest)
            if on_txn is not None:
                on_txn(entry)
            prev = z
            count += 1
            cut_short = None
        if scan.torn:
            msg = f"{path}: {scan.torn}"
            cut_short = msg
            log.warning("%s; ignoring the rest of this file", msg)
            torn.append(msg)
    return prev, count, torn


def _check_follows(path: Path, off: int, z: int, prev: int, cut_short: str | None,
                   first_after_fallback: bool) -> None:
    """Refuse txn `z` where it cannot follow `prev` (see replay); warn at a tolerated hole."""
    if z <= prev:
        raise LogFormatError(str(path), off, f"zxid {z:#x} does not follow {prev:#x}")
    if z >> 32 != prev >> 32 or z == prev + 1:
        return
    missing = f"zxid {z:#x} follows {prev:#x}: txns {prev + 1:#x}..{z - 1:#x} are missing"
    if cut_short is not None:
        # Txns logged after the end of a torn or headerless file were written after that
        # file was complete and synced (a new file starts only then), so what is missing
        # between them was acknowledged. Java's FileTxnIterator moves on to the next file at
        # an EOF and replays on with the hole.
        raise LogFormatError(str(path), off, f"{missing} where {cut_short}")
    if first_after_fallback:
        raise LogFormatError(str(path), off, missing)
    log.warning("%s: offset %d: zxid %#x follows %#x: no txns logged for %#x..%#x; replay "
                "continues", path, off, z, prev, prev + 1, z - 1)


def apply_logged(tree: Any, sessions: dict[int, int], hdr: Any, txn: Any,
                 digest: Any = None) -> Any:
    """FileTxnSnapLog.processTransaction: session bookkeeping, then DataTree.processTxn.

    A failed txn (rc.err) is not an error here: the log also records txns that failed
    identically on the leader, and fuzzy-snapshot replay hits NodeExists by design.
    """
    if hdr.type == Op.CREATE_SESSION:
        sessions[hdr.clientId] = txn.timeOut
    elif hdr.type == Op.CLOSE_SESSION:
        sessions.pop(hdr.clientId, None)
    return tree.process_txn(hdr, txn, digest)  # + compareDigest, as fastForwardFromEdits
