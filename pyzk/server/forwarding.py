"""The write path of a server that forwards (ZkServer.writes on a follower, an observer or a
worker process): writes, session creation, revalidation and sync go to the learner master
as REQUEST/REVALIDATE packets, and each waits for its txn (or the master's answer) to come
back (FollowerRequestProcessor, LearnerSessionTracker). Output to the master is encoded into
one buffer and written once per loop iteration.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import TYPE_CHECKING

from ..protocol import records as r
from ..protocol.opcodes import Op
from ..zab import learner as N
from ..zab.packets import Packet, encode_packet
from .pending import Origin

if TYPE_CHECKING:
    from ..zab.leader import Conn
    from .connection import ClientConn
    from .observer_master_host import ObserverMasterHost
    from .pending import Pending
    from .zkserver import ZkServer


class ObserverSync:
    """A sync an observer (or a worker process) relayed through this learner: its place in
    the pending syncs, and the master it came through. A plain class, not a NamedTuple: the
    compiled build (pyzk.tools.compiled) would evaluate a NamedTuple's annotations at import,
    and these name types imported only for the type checker."""

    __slots__ = ("conn", "master")

    def __init__(self, conn: Conn, master: ObserverMasterHost) -> None:
        self.conn = conn
        self.master = master


class ForwardingWrites:
    forwards = True
    forwards_sync = True
    forwards_closing = True

    core: N.LearnerCore
    server: ZkServer
    writer: asyncio.StreamWriter | None
    done: asyncio.Event

    def _init_forwarding(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Per session, the (cxid, origin) of each request forwarded from here, in forwarding
        # order: the master logs them in that order, so a commit is ours when it matches the
        # head (CommitProcessor: the earliest local write with its sessionId and cxid). A
        # client may repeat an xid, so no lookup by xid.
        self.origins: dict[int, deque[tuple[int, Origin]]] = {}
        # Pending syncs, oldest first: our clients' (connection, pending) and, on a learner,
        # those relayed for its observers and workers.
        self.syncs: deque[tuple[ClientConn, Pending] | ObserverSync] = deque()
        self.revalidating: dict[int, list[ClientConn]] = {}
        # LearnerSessionTracker's touch table: session id -> the timeout to report.
        self._touched: dict[int, int] = {}
        # Learner.writePacket(pp, false) + flush after a batch: one socket write per batch.
        self._out: list[bytes] = []
        self._flush_scheduled = False

    def _send(self, qp: Packet) -> None:
        if self.writer is not None and not self.done.is_set():
            self._out.append(encode_packet(qp))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        w = self.writer
        # A connection the master reset is closed under us: what is queued is lost with it.
        if out and w is not None and not w.is_closing():
            w.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    # -- the write path (ZkServer.writes) ------------------------------------------------------
    def submit(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord, origin: Origin,
               digest: r.TxnDigestRecord | None = None) -> None:
        raise AssertionError("learners forward writes")

    def forward(self, conn: ClientConn, pending: Pending, op: int, body: bytes) -> None:
        req = pending.req
        if op == Op.SYNC:
            self.syncs.append((conn, pending))
        else:
            self._expect(req.session_id, req.xid, Origin(conn, pending))
        self._send_all(self.core.forward(req.session_id, req.xid, op, body, list(conn.auth)))

    def _expect(self, session_id: int, cxid: int, origin: Origin) -> None:
        q = self.origins.get(session_id)
        if q is None:
            q = self.origins[session_id] = deque()
        q.append((cxid, origin))

    def create_session(self, conn: ClientConn | None, session_id: int, timeout: int,
                       origin: Origin) -> None:
        self._expect(session_id, 0, origin)
        self._touched[session_id] = timeout
        self._send_all(self.core.forward(session_id, 0, Op.CREATE_SESSION,
                                         struct.pack(">i", timeout)))

    def revalidate(self, conn: ClientConn, session_id: int, timeout: int) -> None:
        self.revalidating.setdefault(session_id, []).append(conn)
        self._send_all(self.core.revalidate(session_id, timeout))

    def touched(self, session_id: int, timeout_ms: int) -> None:
        """LearnerSessionTracker.touchSession: reported with the connection's timeout whether
        or not this server has applied the session's createSession yet."""
        self._touched[session_id] = timeout_ms

    def _touches(self) -> list[tuple[int, int]]:
        """LearnerSessionTracker.snapshot: sessions touched since the last ping."""
        # Sessions with a live connection here stay alive (their client pings us).
        out = sorted(self._touched.items())
        self._touched = {}
        return out

    def _send_all(self, actions: list[N.LearnerAction]) -> None:
        for a in actions:
            if isinstance(a, N.Send):
                self._send(a.qp)

    def _applied(self, e: N.Entry) -> None:
        """A committed txn onto the tree, answering the client that asked for it here."""
        origin = None
        q = self.origins.get(e.hdr.clientId)
        if q is not None and q[0][0] == e.hdr.cxid:
            origin = q.popleft()[1]
            if not q:
                del self.origins[e.hdr.clientId]
        if e.hdr.type == Op.CLOSE_SESSION:
            self._touched.pop(e.hdr.clientId, None)  # removeSession: out of the touch table
        elif e.hdr.type == Op.CREATE_SESSION:
            # LearnerSessionTracker.commitSession: into the touch table with the txn's timeout,
            # so the next ping touches it so on the leader (a createSession inside a session
            # with a short timeOut makes the session expire that soon, as on Java).
            self._touched[e.hdr.clientId] = e.txn.timeOut
        self.server.apply_committed(e.hdr, e.txn, origin, e.digest)

    def _revalidated_here(self, a: N.Revalidated) -> None:
        for conn in self.revalidating.pop(a.session_id, []):
            self.server.revalidated(conn, a.valid)
