"""The server a quorum member runs while it looks for a leader with readonlymode.enabled=true
(ReadOnlyZooKeeperServer + ReadOnlyRequestProcessor): it serves only clients that asked for
read-only, answers state changes NOTREADONLY, and its sessions are local to this member.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from ..config.model import Config
from ..pipeline.request import Request
from ..protocol import records as r
from ..protocol.codes import Err
from ..protocol.opcodes import CLIENT_OPS, Op
from ..tree.datatree import DataTree
from .clock import SYSTEM_CLOCK, Clock
from .pending import Pending
from .persistence import TxnSnapLog
from .zkserver import ZkServer

if TYPE_CHECKING:
    from .connection import ClientConn

log = structlog.get_logger("pyzk.readonly")

# ReadOnlyRequestProcessor.run: these are answered NOTREADONLY (sync too: there is no leader
# to sync with). `check` alone never gets this far: CLIENT_OPS refuses it as UNIMPLEMENTED.
REFUSED = frozenset({Op.SYNC, Op.CREATE, Op.CREATE2, Op.CREATE_TTL, Op.CREATE_CONTAINER,
                     Op.DELETE, Op.DELETE_CONTAINER, Op.SET_DATA, Op.RECONFIG, Op.SET_ACL,
                     Op.MULTI})


def grace_ms(tick_ms: int) -> int:
    """QuorumPeer.run: the read-only server starts after max(2 s, tickTime) of LOOKING."""
    return max(2000, tick_ms)


class ReadOnlyServer(ZkServer):
    """A ZooKeeperServer over the member's database that never writes to it.

    `global_sessions` is the replicated session table it was handed (LearnerSessionTracker's
    globalSessionsWithTimeouts): those sessions cannot re-attach here, and they are handed on
    unchanged to the server that follows. `self.sessions` holds only this server's local
    sessions, which Java creates only when localSessionsEnabled=true."""

    read_only = True

    def __init__(self, config: Config, tree: DataTree, sink: TxnSnapLog,
                 global_sessions: dict[int, int], server_id: int,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(config, tree, sink, sessions=None, server_id=server_id, clock=clock)
        self.global_sessions = dict(global_sessions)
        self.local_sessions_enabled: bool = config.local_sessions_enabled
        self.leads = False

    def start(self) -> None:
        # LearnerSessionTracker.start: only the local sessions expire here; nothing is logged.
        self._tasks = [asyncio.create_task(self._local_expiry_loop(), name="pyzk-ro-expiry")]
        for t in self._tasks:
            t.add_done_callback(self._task_died)

    # -- connections ------------------------------------------------------------------------
    def on_connect(self, conn: ClientConn, req: r.Record, read_only: bool, old_client: bool) -> None:
        if not self.serving:
            conn.close()
            return
        if not read_only:
            # processConnectRequest: NOT_READ_ONLY_CLIENT (old clients cannot ask for it).
            log.info("Refusing session request for not-read-only client", client=conn.peer)
            conn.close()
            return
        if req.lastZxidSeen > self.tree.last_processed_zxid:
            log.info("refusing session: client has seen a newer zxid", client=conn.peer,
                     client_zxid=hex(req.lastZxidSeen),
                     our_zxid=hex(self.tree.last_processed_zxid))
            conn.close()
            return
        timeout = min(max(req.timeOut, self.min_timeout), self.max_timeout)
        conn.old_client = old_client
        conn.timeout_ms = timeout
        if req.sessionId == 0:
            sid = self.sessions.new_session_id()
            conn.session_id = sid
            if not self.local_sessions_enabled:
                # A global createSession reaches ReadOnlyRequestProcessor, which answers it
                # with a NOTREADONLY reply header where the client awaits its ConnectResponse
                # (ZOOKEEPER-3863: no global sessions in read-only mode).
                log.info("refusing a global session in read-only mode", client=conn.peer)
                conn.send_reply(0, self.tree.last_processed_zxid, Err.NOTREADONLY, b"")
                return
            self.sessions.add(sid, timeout, self.mono_ms())
            self.owner[sid] = conn
            log.info("local session established", session=hex(sid), timeout=timeout,
                     client=conn.peer)
            self._finish_session_init(conn, True)
            return
        sid = req.sessionId
        if self._is_global(sid):
            # ReadOnlyZooKeeperServer.validateSession: RENEW_GLOBAL_SESSION_IN_RO_MODE.
            log.info("Refusing global session reconnection in RO mode", session=hex(sid),
                     client=conn.peer)
            conn.close()
            return
        old = self.owner.get(sid)
        if old is not None and old is not conn:
            old.close()
        valid = (self.sessions.check_password(sid, req.passwd)
                 and self.sessions.touch(sid, self.mono_ms(), timeout))
        if valid:
            conn.session_id = sid
            self.owner[sid] = conn
        self._finish_session_init(conn, valid)

    def _is_global(self, sid: int) -> bool:
        """Whether Java would hold `sid` in its replicated session table.

        With localSessionsEnabled Java replicates a session only once it is upgraded, which
        creating an ephemeral does; pyzk replicates every session, so one that owns no
        ephemeral counts as the local session Java would have kept on one member (it gets
        "expired" here, not a closed connection)."""
        if sid not in self.global_sessions:
            return False
        return not self.local_sessions_enabled or bool(self.tree.ephemerals.get(sid))

    def on_request(self, conn: ClientConn, xid: int, op: int, body: memoryview) -> None:
        spec = CLIENT_OPS.get(op)
        refused = op in REFUSED or (spec is not None and spec.write and op != Op.CLOSE_SESSION)
        if not refused and op != Op.CLOSE_SESSION:
            super().on_request(conn, xid, op, body)
            return
        self.stats.packets_received += 1
        sid = conn.session_id
        if not self.sessions.touch(sid, self.mono_ms(), conn.timeout_ms):
            conn.send_reply(xid, self.tree.last_processed_zxid, Err.SESSIONEXPIRED, b"")
            conn.close_after_flush()
            return
        # Through the connection's reply queue, so the answer keeps its place behind reads.
        pending = Pending(Request(sid, xid, op, None, conn.auth, conn), False, time.monotonic())
        pending.reply = self._reply_bytes(xid, 0 if op == Op.CLOSE_SESSION else
                                          Err.NOTREADONLY, b"")
        conn.queue.push(pending)
        self.outstanding += 1
        if op == Op.CLOSE_SESSION:
            # A local closeSession passes the read-only filter and logs no txn.
            self.sessions.set_closing(sid)
            conn.queue.drain(self._run_read, conn.emit_pending)
            self._session_closed(sid)
            conn.close_after_flush()
            return
        conn.queue.drain(self._run_read, conn.emit_pending)

    async def _local_expiry_loop(self) -> None:
        while True:
            deadline = self.sessions.next_deadline_ms()
            wait_ms = self.tick_ms if deadline is None else deadline - self.mono_ms()
            await asyncio.sleep(min(max(wait_ms, 1), self.tick_ms) / 1000)
            for sid in self.sessions.expire(self.mono_ms()):
                log.info("local session expired", session=hex(sid))
                self.stats.sessions_expired += 1
                conn = self.owner.get(sid)
                if conn is not None:
                    conn.closing_session = False
                self._session_closed(sid)
