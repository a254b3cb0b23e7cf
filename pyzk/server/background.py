"""The standalone server's background tasks besides group commit (group_commit.py): session
expiry (SessionTrackerImpl), container/TTL cleanup (ContainerManager) and autopurge
(DatadirCleanupManager). Each runs as an asyncio task over a ZkServer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from .pending import NO_ORIGIN

if TYPE_CHECKING:
    from .persistence import TxnSnapLog
    from .zkserver import ZkServer

log = structlog.get_logger("pyzk.server")


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


async def expire_local_sessions(srv: ZkServer) -> None:
    """LocalSessionTracker's expiry on every member with local sessions: the session and its
    connection end here, without a txn (its closeSession is local)."""
    local = srv.local
    assert local is not None
    while True:
        deadline = local.next_deadline_ms()
        wait_ms = srv.tick_ms if deadline is None else deadline - srv.mono_ms()
        await asyncio.sleep(min(max(wait_ms, 1), srv.tick_ms) / 1000)
        for sid in local.expire(srv.mono_ms()):
            log.info("Expiring local session", session=hex(sid),
                     timeout=local.sessions[sid].timeout_ms)
            srv.stats.sessions_expired += 1
            srv.close_local_session(sid)


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
    max_never_used = srv.config.container_max_never_used_ms
    while True:
        await asyncio.sleep(interval / 1000)
        now = srv.wall_ms()
        budget = max(1, max_per_minute * interval // 60000)
        try:
            candidates = srv.tree.expiry_candidates(now, max_never_used)[:budget]
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


async def purge_periodically(sink: TxnSnapLog, interval_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await loop.run_in_executor(None, sink.purge)
        await asyncio.sleep(interval_s)
