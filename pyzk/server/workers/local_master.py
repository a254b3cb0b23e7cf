"""The worker processes of a server that proposes its own txns (standalone, or the leader):
an ObserverMasterCore over this server's commits, whose workers' requests go into this
server's own prep stage instead of on to a leader.

A follower's or observer's workers use the follower's ObserverMaster as observers do
(learner_host.py); only the upstream differs here: REQUEST -> submit_forwarded, REVALIDATE ->
this server's session tracker, sync -> answered once every txn handed out before it is
applied (and, on a leader with pyzk.linearizableSync, after a confirmation round).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ...protocol import records as r
from ...protocol.opcodes import Op
from ...zab import observer_master as M
from ...zab.leader import Conn
from ...zab.packets import PT, Packet, decode_request, decode_revalidate, encode_txn
from ...zab.zxid import epoch_of
from ..learner_requests import submit_forwarded
from ..observer_master_host import ObserverMasterHost
from . import link_limits

if TYPE_CHECKING:
    from ...config.model import Config
    from ..zkserver import ZkServer

class WorkerSync(NamedTuple):
    """A worker's sync a leader confirms (LeaderCore.confirm_read's token)."""
    host: ObserverMasterHost
    conn: Conn

    def done(self) -> None:
        self.host.execute(self.host.core.sync_done(self.conn))


# How a leader answers a worker's sync; None on a standalone server.
ConfirmSync = Callable[[WorkerSync], None]


class LocalMaster:
    def __init__(self, config: Config, server: Callable[[], ZkServer], my_id: int,
                 window: Callable[[], list[tuple[int, bytes]]] | None = None,
                 confirm_sync: ConfirmSync | None = None, config_version: int = 0,
                 config_bytes: bytes = b"") -> None:
        self.server = server
        self.my_id = my_id
        self.confirm_sync = confirm_sync
        srv = server()

        def db_state() -> tuple[int, list[tuple[int, bytes]]]:
            return server().tree.last_processed_zxid, (window() if window else [])

        init_limit, sync_limit = link_limits(config)
        core = M.ObserverMasterCore(
            my_id, epoch_of(srv.last_zxid), config_version, config_bytes, db_state,
            tick_ms=config.tick_time_ms, init_limit=init_limit, sync_limit=sync_limit)
        self.host = ObserverMasterHost(core, server, self._upstream, self._touched,
                                       config.tick_time_ms)
        # Standalone syncs: (the last zxid handed out when it came, its worker connection).
        self.syncs: deque[tuple[int, Conn]] = deque()

    def start(self) -> None:
        self.host.start()

    def stop(self) -> None:
        self.host.stop()

    def committed(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord,
                  digest: r.TxnDigestRecord | None, data: bytes | None = None) -> None:
        """This server applied a txn: on to every synced worker (INFORM), then the syncs it
        completes."""
        zxid = hdr.zxid
        self.host.committed(zxid, data if data is not None else encode_txn(hdr, txn, digest),
                            None)
        while self.syncs and self.syncs[0][0] <= zxid:
            self._sync_done(self.syncs.popleft()[1])

    def _sync_done(self, conn: Conn) -> None:
        self.host.execute(self.host.core.sync_done(conn))

    def _touched(self, session_id: int, timeout: int) -> None:
        srv = self.server()
        srv.sessions.touch(session_id, srv.mono_ms(), timeout)

    def _upstream(self, qp: Packet, sync_for: Conn | None) -> None:
        srv = self.server()
        if qp.type == PT.REVALIDATE:
            session, timeout = decode_revalidate(qp.data)
            # Leader.revalidateSession -> touch: valid while the session lives.
            valid = srv.sessions.touch(session, srv.mono_ms(), timeout)
            relayed = self.host.core.revalidated(session, valid)
            if relayed is not None:
                self.host.execute(relayed)
            return
        fr = decode_request(qp.data)
        if fr.type != Op.SYNC:
            submit_forwarded(srv, fr, list(qp.authinfo or []), self.my_id)
            return
        assert sync_for is not None
        if self.confirm_sync is not None:
            self.confirm_sync(WorkerSync(self.host, sync_for))
        elif srv.tree.last_processed_zxid >= srv.last_zxid:
            self._sync_done(sync_for)
        else:
            self.syncs.append((srv.last_zxid, sync_for))
