"""The standalone server's background tasks: group commit of the txn log (SyncRequestProcessor),
session expiry (SessionTrackerImpl), container/TTL cleanup (ContainerManager) and autopurge
(DatadirCleanupManager). Each runs as an asyncio task over a ZkServer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import structlog

from ..protocol import records as r
from .pending import NO_ORIGIN, Origin

if TYPE_CHECKING:
    from .zkserver import TxnSink, ZkServer

log = structlog.get_logger("pyzk.server")

Batch = list[tuple[r.TxnHeaderRecord, r.TxnRecord, Origin]]


async def group_commit(srv: ZkServer) -> None:
    """Group commit, double-buffered: while batch N is applied on the loop, batch N+1
    (everything that arrived during N's fsync) is already being written and fsynced."""
    inflight: tuple[Batch, Awaitable[object], float] | None = None
    loop = asyncio.get_running_loop()
    while True:
        if inflight is None:
            await srv.batch_ready.wait()
            inflight = _start_flush(srv)
            if inflight is None:
                continue
        batch, flushed, t0 = inflight
        await flushed
        elapsed = time.monotonic() - t0
        srv.stats.record_fsync(elapsed, len(batch))
        if elapsed * 1000 > srv.fsync_warn_ms:
            log.warning("fsync of the txn log took too long", ms=int(elapsed * 1000),
                        txns=len(batch))
        inflight = _start_flush(srv)
        apply = srv.apply_committed
        for hdr, txn, origin in batch:
            apply(hdr, txn, origin)
        # After this batch's replies are written: taking a snapshot copies the node table.
        loop.call_soon(srv.sink.maybe_snapshot, srv.tree, srv.sessions.timeouts)


def _start_flush(srv: ZkServer) -> tuple[Batch, Awaitable[object], float] | None:
    """Append the waiting batch to the log and start its write (+fsync) in a thread."""
    srv.batch_ready.clear()
    batch, srv.batch = srv.batch, []
    if not batch:
        return None
    sink = srv.sink
    sink.append_batch(batch)
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    if srv.force_sync:
        flushed: Awaitable[object] = loop.run_in_executor(None, sink.flush, True)
    else:
        sink.flush(False)
        done: asyncio.Future[None] = loop.create_future()
        done.set_result(None)
        flushed = done
    return batch, flushed, t0


async def expire_sessions(srv: ZkServer) -> None:
    while True:
        # Wake at the next expiry bucket (ExpiryQueue.getWaitTime), at most a tick away.
        deadline = srv.sessions.next_deadline_ms()
        wait_ms = srv.tick_ms if deadline is None else deadline - srv.mono_ms()
        await asyncio.sleep(min(max(wait_ms, 1), srv.tick_ms) / 1000)
        for sid in srv.sessions.expire(srv.mono_ms()):
            try:
                _expire_one(srv, sid, srv.wall_ms())
            except Exception:  # noqa: PERF203 - one session's failure must not end expiry
                log.error("Failed to expire session", session=hex(sid), exc_info=True)


def _expire_one(srv: ZkServer, sid: int, now: int) -> None:
    timeout = srv.sessions.sessions[sid].timeout_ms
    log.info("session expired", session=hex(sid), timeout=timeout)
    srv.stats.sessions_expired += 1
    conn = srv.owner.get(sid)
    if conn is not None:
        conn.closing_session = False
    # The zxid is taken only once the txn exists: a failure here leaves no hole in the log.
    zxid = srv.last_zxid + 1
    try:
        txn = srv.prep.close_session_txn(sid, 0, zxid, now)
    except Exception:
        srv.prep.outstanding.discard(zxid)
        raise
    srv.next_zxid()
    srv.enqueue_txn(txn, NO_ORIGIN)


async def expire_containers(srv: ZkServer) -> None:
    interval = srv.config.container_check_interval_ms
    max_per_minute = srv.config.container_max_per_minute
    while True:
        await asyncio.sleep(interval / 1000)
        now = srv.wall_ms()
        budget = max(1, max_per_minute * interval // 60000)
        try:
            candidates = srv.tree.expiry_candidates(now)[:budget]
        except Exception:
            log.error("Failed to list expired containers", exc_info=True)
            continue
        for path in candidates:
            try:
                txn = srv.prep.delete_container_txn(path, srv.last_zxid + 1, now)
            except Exception:  # noqa: PERF203 - one node's failure must not end the sweep
                srv.prep.outstanding.discard(srv.last_zxid + 1)
                log.error("Failed to prepare container deletion", path=path, exc_info=True)
                continue
            if txn is None:
                continue
            srv.next_zxid()
            srv.enqueue_txn(txn, NO_ORIGIN)


async def purge_periodically(sink: TxnSink, interval_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await loop.run_in_executor(None, sink.purge)
        await asyncio.sleep(interval_s)
