"""Disk and database chores shared by the leader and learner hosts: truncation, the SNAP body
of the live tree, the on-disk log reader LearnerHandler syncs from, and the disk steps of the
database core (pyzk/zab/database.py: reload, fast-forward, truncate). Their log writes go
through the one group-commit worker (group_commit.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

import structlog

from ..protocol import records as r
from ..storage import txnlog
from ..storage.logfile import (
    TxnLogWriter,
    read_log_file,
    sorted_logs,
    truncate_log,
    zxid_from_name,
)
from ..storage.recovery import apply_logged, replay
from ..storage.snapshot import capture, node_record
from ..tree.datatree import DataTree
from ..zab.database import CutLog, DbAction, Drain, Reload, ReplayLog, ReplicaDatabase, ResyncFully
from ..zab.packets import encode_snap_body_records, encode_txn

if TYPE_CHECKING:
    from .persistence import TxnSnapLog
    from .quorum_peer import QuorumPeer

log = structlog.get_logger("pyzk.replication")

# ZKDatabase.calculateTxnLogSizeLimit: a DIFF from the txn log is allowed while the log files
# after the one holding the peer's zxid are at most snapshotSizeFactor (0.33) of the newest
# snapshot's size; beyond that the leader sends a SNAP, as Java does (and the log is not read).
SNAPSHOT_SIZE_FACTOR = 0.33


def truncate(storage: TxnSnapLog, zxid: int) -> bool:
    """ZKDatabase.truncateLog: False when a snapshot newer than `zxid` makes it impossible."""
    snaps = storage.datadir.snapshots()
    if snaps and snaps[-1][0] > zxid:
        return False
    storage.writer.close(storage.config.force_sync)
    if sorted_logs(storage.datadir.log_dir):
        try:
            truncate_log(storage.datadir.log_dir, zxid)
        except FileNotFoundError:
            pass
    storage.writer = TxnLogWriter(storage.datadir.log_dir,
                                  prealloc=storage.config.pre_alloc_size_kb * 1024)
    return True


def fast_forward(storage: TxnSnapLog, tree: DataTree, sessions: dict[int, int],
                 db: ReplicaDatabase | None = None) -> int:
    """ZKDatabase.fastForwardDataBase (ReplayLog): apply logged txns the tree has not seen (a
    learner's acked-but-uncommitted proposals), so the tree matches the log before an
    election; each one is reported to `db` (it joins the committed window)."""
    writer = getattr(storage, "writer", None)
    if writer is not None and 0 < writer.last_zxid_seen <= tree.last_processed_zxid:
        # Nothing was logged past the tree since this process started (recovery replayed
        # what was there before): skip reading the whole (preallocated) log file.
        return 0

    def loaded(e: txnlog.TxnEntry) -> None:
        if db is not None:
            db.replayed(e.hdr.zxid, txnlog.serialize_txn(e.hdr, e.txn, e.digest))

    recent = writer.logged_after(tree.last_processed_zxid) if writer is not None else None
    if recent is not None:
        # The txns past the tree are ones this process flushed (a learner's acknowledged
        # proposals): read back just their bytes. Reading and checking the whole preallocated
        # file cost 75 ms idle and up to 570 ms under load, all of it before the election.
        for e in recent:
            apply_logged(tree, sessions, e.hdr, e.txn, e.digest)
            loaded(e)
        return len(recent)
    _, n, _ = replay(storage.datadir.log_dir, tree, sessions, tree.last_processed_zxid, loaded)
    return n


async def carry_out(peer: QuorumPeer, actions: list[DbAction],
                    install: Callable[[DataTree, dict[int, int]], None],
                    resync: Callable[[], Awaitable[None]] | None = None) -> None:
    """Perform the database core's disk steps (pyzk/zab/database.py) in order: `install`
    makes a reloaded tree the member's, `resync` ends a sync whose TRUNC was impossible."""
    db = peer.db
    for a in actions:
        match a:
            case Drain():
                await peer.disk.wait_idle()
            case Reload():
                tree, sessions = peer.reload_from_disk()
                install(tree, sessions)
                db.loaded(tree.last_processed_zxid, peer.storage.replayed_txns())
                log.info("reloaded the database from disk", zxid=hex(tree.last_processed_zxid))
            case ReplayLog():
                srv = peer.server
                assert srv is not None
                sessions = srv.sessions.timeouts()
                n = fast_forward(peer.storage, srv.tree, sessions, db)
                if n:
                    log.info("applied logged txns before the election", txns=n)
                    install(srv.tree, sessions)
            case CutLog(zxid=zxid):
                ok = truncate(peer.storage, zxid)
                if ok:
                    log.info("truncated the txn log", zxid=hex(zxid))
                else:
                    log.warning("cannot truncate below a snapshot; full resync", zxid=hex(zxid))
                await carry_out(peer, db.truncated(ok), install, resync)
            case ResyncFully():
                if resync is not None:
                    await resync()
            case _:
                assert_never(a)


def committed_data(hdr: r.TxnHeaderRecord, txn: r.TxnRecord, digest: r.TxnDigestRecord,
                   data: bytes | None) -> bytes:
    """A committed txn's PROPOSAL data for the window (encoded only when not at hand)."""
    return data if data is not None else encode_txn(hdr, txn, digest)


def snap_body(tree: DataTree, sessions: dict[int, int]) -> bytes:
    """The SNAP stream of the tree as it is now (ZKDatabase.serializeSnapshot)."""
    view = capture(tree, sessions)
    records = [node_record(path, n) for path, n in view.nodes.items()]
    return encode_snap_body_records(view.sessions, view.acl_cache.entries(), records)


async def read_disk_log_off_loop(read: Callable[[int], Iterator[tuple[int, bytes]]], zxid: int,
                                 lock: asyncio.Lock) -> list[tuple[int, bytes]]:
    """`read(zxid)` (disk_log_reader's) for one learner's sync, in a worker thread and one read
    at a time under `lock` (a burst of handshakes must not stall the event loop, or take the
    GIL from it, or the member's pings time out); a log that cannot be read gives nothing, so
    that learner gets a SNAP."""
    try:
        async with lock:
            return await asyncio.to_thread(lambda: list(read(zxid)))
    except (OSError, ValueError) as e:
        log.warning("could not read the txn log for a learner's sync", error=str(e))
        return []


def disk_log_reader(storage: TxnSnapLog, size_factor: float = SNAPSHOT_SIZE_FACTOR
                    ) -> Callable[[int], Iterator[tuple[int, bytes]]]:
    """ZKDatabase.getProposalsFromTxnLog(zxid, calculateTxnLogSizeLimit()): the logged txns
    from the start of the log file holding `zxid` on, or nothing when the log starts after
    `zxid` or the later files are too large (size_factor < 0 disables txn-log sync)."""

    def read(zxid: int) -> Iterator[tuple[int, bytes]]:
        if size_factor < 0:
            return iter(())
        files = java_log_files_from(storage.datadir.log_dir, zxid)
        if not files or zxid_from_name(files[0].name, "log") > zxid:
            # Every txn in a log file has a zxid >= the file's name: the first header read
            # would be past `zxid` ("Unable to find proposals"). Answered from the names alone,
            # because the read below runs on the leader's event loop: a learner (or anyone
            # who handshakes as one) claiming lastZxid 0 made it read and scan the whole
            # preallocated 64 MB log, ~0.15 s per handshake, and a burst of them starved the
            # followers' pings into a leader change (peer-port fuzzer, soak seed 13).
            return iter(())
        snaps = storage.datadir.valid_snapshots(1)
        limit = int(snaps[0][1].stat().st_size * size_factor) if snaps else 0
        # FileTxnIterator.getStorageSize: the files left after the first is opened. Checked
        # before reading anything, so an oversized log costs the leader no scan.
        if limit > 0 and sum(f.stat().st_size for f in files[1:]) > limit:
            return iter(())
        items: list[tuple[int, bytes]] = []
        for f in files:
            for _, e in txnlog.iter_entries(read_log_file(f), str(f)):
                if not items and e.hdr.zxid > zxid:
                    return iter(())  # "Unable to find proposals from txnlog for zxid"
                items.append((e.hdr.zxid, txnlog.serialize_txn(e.hdr, e.txn, e.digest)))
        return iter(items)

    return read


def java_log_files_from(log_dir: Path, zxid: int) -> list[Path]:
    """FileTxnIterator.init's storedFiles, oldest first: every log named >= zxid and the
    newest one named below it."""
    out = []
    for f in reversed(sorted_logs(log_dir)):
        out.append(f)
        if zxid_from_name(f.name, "log") < zxid:
            break
    out.reverse()
    return out
