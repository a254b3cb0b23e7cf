"""Bridge between the server and pyzk.storage: recovery, group-commit writes, snapshots, purge.

Appends are encoded on the event loop; the batch's write+fsync runs in a worker thread. A
snapshot is a cheap fuzzy capture on the loop, serialized in a thread (FileTxnSnapLog/
SyncRequestProcessor), with at most one in flight ("Too busy to snap, skipping").
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from .. import audit
from ..config.model import Config
from ..protocol import records as r
from ..storage import txnlog
from ..storage.datadir import DataDir
from ..storage.logfile import TxnLogWriter, iter_log
from ..storage.recovery import Recovered, recover
from ..storage.snapshot import SnapshotView, capture
from ..storage.txnlog import SnapshotTrigger
from ..tree.datatree import DataTree

if TYPE_CHECKING:
    from .pending import Origin
    from .stats import ServerStats

log = structlog.get_logger("pyzk.storage")


SNAPSHOT_SWITCH_INTERVAL_S = 0.00025
# The snapshot thread encodes a piece of this many znodes (~0.16 ms of work), then sleeps
# SNAPSHOT_PIECE_PAUSE_S, leaving the GIL to the event loop. While it is runnable, every GIL
# release of the loop (each syscall) can cost the loop up to a switch interval, so what
# clients feel is the thread's duty cycle: with 2048-znode pieces (~1.4 ms each since nodes
# carry no cached record) it was over half, and client p99 during a snapshot of 100k znodes
# 1.61x / 1.80x of outside snapshots; with 256, 1.17x / 0.97x (bench.snapshot_load, same
# run, 2026-12-05). A snapshot of 100k znodes then takes ~0.45 s instead of ~0.25 s.
SNAPSHOT_PIECE_ZNODES = 256
SNAPSHOT_PIECE_PAUSE_S = 0.001


def _yield_to_loop() -> None:
    time.sleep(SNAPSHOT_PIECE_PAUSE_S)


def settle_heap() -> None:
    """Move the (long-lived) tree out of the cyclic GC's reach.

    A full collection walks every tracked object: 85 ms with 100k znodes, a latency spike
    every client sees. Znodes hold no reference cycles, so after collecting the young
    generations the survivors are frozen (gc.freeze); they are still freed by reference
    counting when deleted. Done after recovery and after each snapshot.
    """
    gc.collect(1)
    gc.freeze()


# gc.set_threshold: collect the young generation every 10000 net allocations instead of 700.
# A write keeps its request, txn and reply objects alive until its fsync, so at the default
# most of them are traversed in two or three collections before they die; creates add znodes
# that are traversed again in every older generation. bench.pipeline (min of 5 rounds, us per
# request, snapCount 100000): create 31.3 -> 28.0, setData 16.5 -> 15.9; collector time per
# 385k creates 1.86 s -> 0.42 s. A young collection of 10000 objects is well under 1 ms.
GC_THRESHOLDS = (10000, 10, 10)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


class TxnSnapLog:
    """The data directory as the server uses it (Java's FileTxnSnapLog plus the snapshot
    trigger): recover, append and flush txns, take snapshots, purge."""

    def __init__(self, config: Config, rng: random.Random | None = None) -> None:
        self.config = config
        self.datadir = DataDir(config.data_dir, config.data_log_dir,
                               compression=config.snapshot_compression)
        # Before anything is read or written: a second server on these directories stops here.
        self.dir_lock = self.datadir.lock()
        self.writer = TxnLogWriter(self.datadir.log_dir, prealloc=config.pre_alloc_size_kb * 1024,
                                   size_limit=config.txn_log_size_limit_kb * 1024)
        self.trigger = SnapshotTrigger(config.snap_count, config.snap_size_limit_kb * 1024,
                                       rng if rng is not None else random.Random())
        self._snapshot_task: asyncio.Future[Path] | None = None
        self.last_snapshot: tuple[int, int] | None = None
        self.snapshots_taken = 0
        self.stats: ServerStats | None = None  # set once the server exists
        self.recovery: Recovered | None = None  # what the last recover() found
        self.recovery_ms = 0

    def recover(self) -> tuple[DataTree, dict[int, int]]:
        cfg = self.config
        t0 = time.monotonic()
        rec = recover(self.datadir, lambda: audit.watch_tree(
            cfg, DataTree(extended_types=cfg.extended_types, skip_acl=cfg.skip_acl,
                          emulate_353=cfg.emulate_353_ttl_nodes,
                          digest_enabled=cfg.digest_enabled)),
                      trust_empty_snapshot=cfg.snapshot_trust_empty)
        for note in rec.torn:
            log.warning("truncated a torn txn log entry", detail=note)
        if rec.needs_initial_snapshot:
            # Like Java: an empty data dir gets snapshot.0 before serving.
            self.datadir.save_snapshot(capture(rec.tree, {}))
        elif rec.snapshot_path is None:
            # snapshot.trust.empty let the logs be replayed with no snapshot (FileTxnSnapLog
            # .restore's WARN); the snapshot ZooKeeperServer.loadData takes after every load
            # means the next start needs no such trust.
            log.warning("No snapshot found, but there are log entries. This should only be"
                        " allowed during upgrading.")
            self.datadir.save_snapshot(capture(rec.tree, rec.sessions))
        settle_heap()
        self.recovery = rec
        self.recovery_ms = int((time.monotonic() - t0) * 1000)
        log.info("data directory recovered", snapshot=str(rec.snapshot_path),
                 txns_replayed=rec.txns_replayed, zxid=hex(rec.last_zxid),
                 sessions=len(rec.sessions), nodes=rec.tree.node_count(),
                 seconds=round(time.monotonic() - t0, 3))
        return rec.tree, rec.sessions

    def replayed_txns(self) -> Iterator[tuple[int, bytes]]:
        """The txns the last recover() replayed on top of its snapshot, as (zxid, PROPOSAL
        data), oldest first: what loadDataBase's playback listener puts in the committed log.
        Not the log entries before that snapshot: after a SNAP sync the log still holds what
        the member had logged before, which may be of a branch the SNAP superseded and ends
        short of the SNAP's zxid (a window holding that TRUNCs a learner into the old branch,
        cutting committed txns: found by tests/simulation/hostsim.py, seed 1667 of "3")."""
        rec = self.recovery
        after = rec.snapshot_zxid if rec is not None and rec.snapshot_zxid > 0 else 0
        for _, _, e in iter_log(self.datadir.log_dir, after + 1):
            yield e.hdr.zxid, txnlog.serialize_txn(e.hdr, e.txn, e.digest)

    # -- group commit ---------------------------------------------------------------------
    def append(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord) -> None:
        self.writer.append(hdr, txn)

    def append_batch(self, txns: list[tuple[r.TxnHeaderRecord, r.TxnRecord,
                                            r.TxnDigestRecord | None, Origin]]) -> None:
        """append() of each (hdr, txn, digest, _) in order."""
        self.writer.append_batch(txns)

    def flush(self, fsync: bool) -> int:
        """Blocking: write every appended txn and (when fsync) make it durable."""
        return self.writer.flush(fsync)

    # -- snapshots ------------------------------------------------------------------------
    def maybe_snapshot(self, tree: DataTree, sessions: Callable[[], dict[int, int]]) -> None:
        w = self.writer
        if not self.trigger.should_snapshot(w.txn_count, w.bytes_since_roll):
            return
        if self._snapshot_task is not None and not self._snapshot_task.done():
            log.warning("Too busy to snap, skipping")
            return
        w.roll()
        self.trigger.reset()
        view = capture(tree, sessions())
        zxid = tree.last_processed_zxid
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        fut = loop.run_in_executor(None, self._save_snapshot, view)

        def done(f: asyncio.Future[Path]) -> None:
            settle_heap()
            if f.exception() is not None:
                log.error("snapshot failed", zxid=hex(zxid), error=str(f.exception()))
                return
            self.snapshots_taken += 1
            self.last_snapshot = (zxid, int(time.time()))
            if self.stats is not None:
                self.stats.snapshot_time.add(int((time.monotonic() - t0) * 1000))
            log.info("snapshot written", zxid=hex(zxid), path=str(f.result()),
                     seconds=round(time.monotonic() - t0, 3))

        fut.add_done_callback(done)
        self._snapshot_task = fut

    def _save_snapshot(self, view: SnapshotView) -> Path:
        # Serializing holds the GIL in this thread; hand it back to the event loop every
        # 0.25 ms instead of every 5 ms so client latency stays flat during a snapshot.
        previous = sys.getswitchinterval()
        sys.setswitchinterval(SNAPSHOT_SWITCH_INTERVAL_S)
        try:
            # ZooKeeperServer.takeSnapshot() from SyncRequestProcessor: syncSnap=false, so no
            # fsync (a snapshot lost in a crash is replaced by the previous one plus the log,
            # which is fsynced). Syncing ~10 MB here stalls the txn log's group commit.
            return self.datadir.save_snapshot(view, fsync=False, pause=_yield_to_loop,
                                              per_chunk=SNAPSHOT_PIECE_ZNODES)
        finally:
            sys.setswitchinterval(previous)

    def purge(self) -> list[Path]:
        removed = self.datadir.purge(self.config.autopurge_snap_retain_count)
        if removed:
            log.info("purged old snapshots and logs", count=len(removed))
        return removed

    def close(self) -> None:
        try:
            self.writer.close(self.config.force_sync)
        finally:
            self.dir_lock.release()


def open_storage(config: Config, rng: random.Random | None = None) -> TxnSnapLog:
    return TxnSnapLog(config, rng)
