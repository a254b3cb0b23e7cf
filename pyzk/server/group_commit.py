"""The txn log's one writer (SyncRequestProcessor), for a standalone server and a quorum member.

Jobs become durable strictly in order. Whatever is queued while one write (+fsync) runs forms
the next batch (group commit). As in SyncRequestProcessor, a batch's callbacks (apply, reply,
ACK) run before the next batch is written, and the next batch also takes what the loop reads in
the turns right after them: the clients' answers to those replies.

Appends are encoded on the event loop when their batch starts; the write and fsync run in a
worker thread. A batch that starts with a snapshot (a learner's SNAP or full-resync tree) runs
wholly in the thread: flush, snapshot, drop the older logs, then its appends.

When a waiting batch is written follows SyncRequestProcessor's rules (flushDelay,
maxWriteQueuePollTime, maxBatchSize: pyzk.pipeline.sync_policy); replies still wait for the
fsync.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from ..pipeline.sync_policy import SyncPolicy
from ..protocol import records as r
from ..storage.logfile import TxnLogWriter, sorted_logs
from ..storage.snapshot import SnapshotView, capture
from ..tree.datatree import DataTree
from .pending import Origin

if TYPE_CHECKING:
    from .persistence import TxnSnapLog

log = structlog.get_logger("pyzk.replication")

# (hdr, txn, digest, body): body is the serialized txn (the PROPOSAL data) or None to encode.
LogEntry = tuple[r.TxnHeaderRecord, r.TxnRecord, r.TxnDigestRecord, "bytes | None"]
# A standalone server's txn, its TxnDigest (None: an error txn or digests off) and who waits
# for it.
ClientTxn = tuple[r.TxnHeaderRecord, r.TxnRecord, "r.TxnDigestRecord | None", Origin]


class _Job:
    __slots__ = ("entries", "txns", "snapshot", "after", "done")

    def __init__(self, entries: list[LogEntry], txns: list[ClientTxn],
                 snapshot: SnapshotView | None, after: Callable[[], None] | None,
                 done: Callable[[], None]) -> None:
        self.entries = entries    # a quorum member's txns
        self.txns = txns          # a standalone server's txns (add())
        self.snapshot = snapshot  # a SnapshotView captured on the loop, or None
        self.after = after        # blocking work after the fsync (currentEpoch), in the thread
        self.done = done          # on the loop, after everything is durable


def _nothing() -> None:
    """The callback of the head split off a job: the job's own `done` reports it."""


class GroupCommit:
    def __init__(self, storage: TxnSnapLog, force_sync: bool = True,
                 on_flushed: Callable[[float, int], None] | None = None,
                 log_failure: bool = False, policy: SyncPolicy | None = None,
                 wall_ms: Callable[[], float] | None = None) -> None:
        self.storage = storage
        self.force_sync = force_sync
        self.on_flushed = on_flushed  # (seconds, txns) after each batch is durable
        self.log_failure = log_failure  # else the owner of the task reports it
        self.policy = policy or SyncPolicy()
        # the clock of the txn header times (when a txn reached this stage)
        self._wall_ms = wall_ms or (lambda: time.time() * 1000)
        self._last_flush = self._wall_ms()
        self._jobs: deque[_Job] = deque()
        self._open: _Job | None = None  # the queued job add() extends
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None

    def start(self, name: str = "pyzk-commit") -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(), name=name)
        return self._task

    async def stop(self) -> None:
        await self.wait_idle()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: S110 - shutdown only
                pass

    # -- queueing ----------------------------------------------------------------------------
    def add(self, txn: ClientTxn, durable: Callable[[list[ClientTxn]], None]) -> None:
        """A standalone server's txn: `durable(txns)` gets it with the rest of its batch."""
        job = self._open
        if job is None:
            txns: list[ClientTxn] = []
            job = self._open = _Job([], txns, None, None, lambda: durable(txns))
            self._queue(job)
        job.txns.append(txn)
        if len(job.txns) >= self.policy.max_batch:
            self._open = None  # a batch holds at most maxBatchSize txns
        if not self._wake.is_set():
            self._wake.set()  # a batch being gathered (flushDelay) hears of each arrival

    def submit(self, entries: list[LogEntry], done: Callable[[], None],
               snapshot_tree: DataTree | None = None,
               sessions: Callable[[], dict[int, int]] | None = None,
               after: Callable[[], None] | None = None) -> None:
        """Queue (hdr, txn, digest, body) entries; a snapshot of `snapshot_tree` (with the
        session timeouts `sessions()`) is captured now."""
        view = (capture(snapshot_tree, sessions() if sessions is not None else {})
                if snapshot_tree is not None else None)
        self._open = None  # later add()s go after this job
        self._queue(_Job(entries, [], view, after, done))

    def submit_runs(self, runs: list[tuple[list[LogEntry], int]],
                    done: Callable[[int], None]) -> None:
        """(entries, seq) runs in log order, gathered by a host from one chunk of packets:
        packed into jobs of at most maxBatchSize entries (a run is never split, as a job is
        not), each reported with `done(seq of its last run)`."""
        limit = self.policy.max_batch
        entries: list[LogEntry] = []
        seq = 0
        for run, run_seq in runs:
            if entries and len(entries) + len(run) > limit:
                self.submit(entries, functools.partial(done, seq))
                entries = []
            entries.extend(run)
            seq = run_seq
        if entries:
            self.submit(entries, functools.partial(done, seq))

    def _queue(self, job: _Job) -> None:
        self._jobs.append(job)
        if self._idle.is_set():
            self._idle.clear()
        if not self._wake.is_set():
            self._wake.set()

    async def wait_idle(self) -> None:
        while self._jobs or not self._idle.is_set():
            if self.failed is not None or self._task is None or self._task.done():
                return
            await self._idle.wait()

    # -- the worker --------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if not self._jobs:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            hold = self._hold()
            if hold > 0:  # gather more first (flushDelay)
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), hold / 1000)
                except TimeoutError:
                    pass
                continue
            batch, written, t0 = self._start()
            try:
                await written
            except BaseException as e:
                self.failed = e
                if self.log_failure:
                    log.critical("txn log write failed", error=repr(e))
                self._idle.set()
                raise
            self._last_flush = self._wall_ms()
            if self.on_flushed is not None:
                self.on_flushed(time.monotonic() - t0,
                                sum(len(j.txns) + len(j.entries) for j in batch))
            # Java's sync thread replies to a batch before it takes the next one, and so do we:
            # the answers to these replies then join the next batch. Writing the next batch
            # while replying (double-buffered) split closed-loop clients into two cohorts of
            # half the batch each, one fsync apiece: half the throughput when fsync dominates.
            for job in batch:
                job.done()
            if self._jobs:
                await self._gather()

    async def _gather(self) -> None:
        """Let the answers to the replies just sent be read before the next write starts:
        yield to the loop until two turns in a row bring no txn (a reader scheduled in one
        turn runs after this task in the next), at most 8 turns."""
        seen, still = -1, 0
        for _ in range(8):
            await asyncio.sleep(0)
            n = sum(len(j.txns) + len(j.entries) for j in self._jobs)
            still = still + 1 if n == seen else 0
            if still >= 2:
                return
            seen = n

    def _hold(self) -> float:
        """How much longer the waiting jobs may gather before they are written (ms); jobs of
        a learner's sync phase (snapshot, currentEpoch) never wait."""
        if self.policy.flush_delay_ms <= 0:
            return 0.0
        jobs = self._jobs
        if any(j.snapshot is not None or j.after is not None for j in jobs):
            return 0.0
        waiting = sum(len(j.txns) + len(j.entries) for j in jobs)
        if not waiting:
            return 0.0
        newest = next(j.txns[-1][0] if j.txns else j.entries[-1][0]
                      for j in reversed(jobs) if j.txns or j.entries)
        return self.policy.hold_ms(waiting, self._wall_ms(), self._last_flush, newest.time)

    def _take(self) -> list[_Job]:
        """The next batch: a snapshot job alone, or plain jobs up to one with `after`, at most
        maxBatchSize txns. A quorum member's plain job that would overflow the batch is split
        (SyncRequestProcessor flushes at exactly maxBatchSize requests): its head goes now
        with no callback, the rest stays first in line with the job's `done`, so nothing is
        reported durable before all of it is."""
        jobs = self._jobs
        limit = self.policy.max_batch
        if len(jobs[0].entries) > limit and self._splittable(jobs[0]):
            head = jobs[0].entries[:limit]
            jobs[0].entries = jobs[0].entries[limit:]
            return [_Job(head, [], None, None, _nothing)]
        batch = [jobs.popleft()]
        size = len(batch[0].txns) + len(batch[0].entries)
        while (jobs and batch[-1].snapshot is None and batch[-1].after is None
               and jobs[0].snapshot is None and size < limit):
            nxt = jobs[0]
            n = len(nxt.txns) + len(nxt.entries)
            if size + n > limit:
                if not self._splittable(nxt):
                    break
                room = limit - size
                batch.append(_Job(nxt.entries[:room], [], None, None, _nothing))
                nxt.entries = nxt.entries[room:]
                break
            batch.append(jobs.popleft())
            size += n
        if self._open is not None and self._open in batch:
            self._open = None
        return batch

    def _splittable(self, job: _Job) -> bool:
        """Only a quorum member's plain log write: no standalone txns (their job may still be
        growing), no snapshot, no work after its fsync."""
        return (not job.txns and job.snapshot is None and job.after is None
                and job is not self._open)

    def _start(self) -> tuple[list[_Job], Awaitable[object], float]:
        batch = self._take()
        loop = asyncio.get_running_loop()
        if batch[0].snapshot is not None:
            t0 = time.monotonic()
            return batch, loop.run_in_executor(None, self._write_all, batch), t0
        for job in batch:
            self._append(job)
        t0 = time.monotonic()
        if self.force_sync or batch[-1].after is not None:
            return batch, loop.run_in_executor(None, self._flush, batch), t0
        self._flush(batch)  # no fsync: a buffered write, cheaper than a thread hand-off
        done: asyncio.Future[None] = loop.create_future()
        done.set_result(None)
        return batch, done, t0

    def _append(self, job: _Job) -> None:
        st = self.storage
        if job.txns:
            st.append_batch(job.txns)
        w = st.writer
        for hdr, txn, digest, body in job.entries:
            if body is None:
                w.append(hdr, txn, digest)
            else:
                w.append_serialized(hdr, body)

    def _flush(self, batch: list[_Job]) -> None:
        """Write and (force_sync) fsync everything appended, then the `after` work."""
        self.storage.flush(self.force_sync)
        for job in batch:
            if job.after is not None:
                job.after()

    def _write_all(self, batch: list[_Job]) -> None:
        """Worker thread, a snapshot batch: snapshot (then drop the old logs), appends, one
        fsync, then `after`."""
        st = self.storage
        for job in batch:
            if job.snapshot is not None:
                st.writer.flush(self.force_sync)
                st.datadir.save_snapshot(job.snapshot, self.force_sync)
                discard_logs(st)
            self._append(job)
        self._flush(batch)


def discard_logs(storage: TxnSnapLog) -> None:
    """After a sync snapshot every older log is superseded (it may hold a divergent history
    past the snapshot zxid): close the writer and delete them; the next append opens a file."""
    storage.writer.close(False)
    for path in sorted_logs(storage.datadir.log_dir):
        os.unlink(path)
    storage.writer = TxnLogWriter(storage.datadir.log_dir,
                                  prealloc=storage.config.pre_alloc_size_kb * 1024)
