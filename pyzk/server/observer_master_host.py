"""The asyncio side of a follower serving observers (observerMasterPort, Java's
ObserverMaster): the listener on the follower's quorum address, one reader per observer, the
half-tick pinger, and ObserverMasterCore's actions carried out. The follower's LearnerHost
starts it once synced, feeds it every txn it applies and the leader's answers to relayed
revalidations and syncs, carries what observers send on to the leader (`to_leader`; a relayed
sync joins the follower's own queue of pending syncs), and stops it when it leaves its leader.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, assert_never

import structlog

from ..zab import observer_master as M
from ..zab.leader import Close, Conn, ReadDiskLog, SendSnap, SendTo, Touch
from ..zab.packets import Packet, encode_packet
from .learner_conn import LearnerConn, read_learner, tick_core
from .replication import disk_log_reader, read_disk_log_off_loop

if TYPE_CHECKING:
    from ..metric_values import Summary
    from .quorum_net import QuorumListener, QuorumNet
    from .quorum_peer import QuorumPeer
    from .zkserver import ZkServer

log = structlog.get_logger("pyzk.observer_master")


def _no_leader(qp: Packet, sync_for: Conn | None) -> None:
    raise AssertionError("ObserverMasterHost.to_leader is not set")


class ObserverMasterHost:
    """Serves observers (or this server's worker processes, pyzk/server/workers) from the
    server `server()` returns (the member's current one)."""

    def __init__(self, core: M.ObserverMasterCore, server: Callable[[], ZkServer],
                 to_leader: Callable[[Packet, Conn | None], None],
                 touched: Callable[[int, int], None], tick_ms: int,
                 commit_time: Summary | None = None,
                 disk_log: Callable[[int], Iterator[tuple[int, bytes]]] | None = None) -> None:
        self.core = core
        self.server = server
        self.to_leader = to_leader
        self.touched = touched
        self.tick_ms = tick_ms
        self.conns: dict[Conn, LearnerConn] = {}
        self._ids = itertools.count(1)
        self._listener: QuorumListener | None = None
        self._ticker: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._flush_scheduled = False
        self._commit_time = commit_time
        self._net: QuorumNet | None = None
        # An observer's sync from the txn log is read in a thread (ReadDiskLog), one at a time.
        self._disk_log = disk_log
        self._disk_lock = asyncio.Lock()
        self._disk_reads: set[asyncio.Task[None]] = set()

    @classmethod
    def of_follower(cls, peer: QuorumPeer, server: Callable[[], ZkServer],
                    touched: Callable[[int, int], None]) -> ObserverMasterHost:
        """A synced member's ObserverMaster over its committed window and txn log; the caller
        sets `to_leader`."""
        cfg = peer.config

        def db_state() -> tuple[int, list[tuple[int, bytes]]]:
            return server().tree.last_processed_zxid, list(peer.db.window)

        core = M.ObserverMasterCore(
            peer.my_id, peer.current_epoch, peer.quorum.version,
            peer.last_seen.config_bytes(), db_state, tick_ms=cfg.tick_time_ms,
            init_limit=cfg.init_limit, sync_limit=cfg.sync_limit, defer_disk_log=True)
        return cls(core, server, _no_leader, touched, cfg.tick_time_ms,
                   peer.metrics.summary("om_commit_process_time_ms"),
                   disk_log_reader(peer.storage))

    def now_ms(self) -> int:
        return int(self._loop.time() * 1000)

    # -- lifecycle ---------------------------------------------------------------------------
    async def listen(self, net: QuorumNet, host: str | None, port: int) -> None:
        """observerMasterPort: accept observers there (quorum authentication and TLS as the
        member's quorum port)."""
        try:
            self._listener = await net.listen(self._accept, host, port, reuse_address=True)
        except OSError as e:
            # Java's follower fails to follow when ObserverMaster.start throws.
            raise OSError(f"cannot listen on observerMasterPort {port}: {e}") from e
        self._net = net
        log.info("Starting ObserverMaster", address=f"{host}:{port}")

    def start(self) -> None:
        """The pinger and the read timeouts."""
        self.core.next_ping = self.now_ms() + self.tick_ms // 2
        self._ticker = asyncio.ensure_future(self._tick_loop())

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for task in list(self._disk_reads):
            task.cancel()
        if self._listener is not None:
            self._listener.close()
        self.execute(self.core.stop())

    async def _tick_loop(self) -> None:
        await tick_core(self.tick_ms, self.now_ms, self.core.wakeup_ms,
                        lambda now: self.execute(self.core.on_tick(now)))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._net is not None
        if self.core.stopped or not await self._net.authenticate_accepted(reader, writer):
            writer.close()
            return
        await self.serve(reader, writer)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One observer's (or worker's) connection, until it or this master ends it."""
        if self.core.stopped:
            writer.close()
            return
        cid = next(self._ids)
        ln = self.conns[cid] = LearnerConn(writer)
        self.execute(self.core.on_connect(cid, self.now_ms()))

        def feed(qp: Packet) -> bool:
            self.execute(self.core.on_packet(cid, qp, self.now_ms()))
            return cid in self.conns

        try:
            broken = await read_learner(reader, ln, feed, lambda: self.core.stopped)
            if broken is not None:
                log.info("observer connection broken", observer=ln.sid, error=broken)
        finally:
            if self.conns.pop(cid, None) is not None:
                writer.close()
                self.execute(self.core.on_disconnect(cid))

    def committed(self, zxid: int, data: bytes, designated: int | None) -> None:
        """Follower.processPacket's om.proposalCommitted / informAndActivate, timed as Java's
        om_commit_process_time_ms."""
        start = self._loop.time()
        self.execute(self.core.committed(zxid, data, designated))
        if self._commit_time is not None:
            self._commit_time.add(int((self._loop.time() - start) * 1000))

    # -- actions -----------------------------------------------------------------------------
    def execute(self, actions: list[M.ObserverMasterAction]) -> None:
        last_qp: Packet | None = None
        last_bytes = b""
        for a in actions:
            match a:
                case SendTo():
                    ln = self.conns.get(a.conn)
                    if ln is not None:
                        if a.qp is not last_qp:  # one INFORM goes to every observer
                            last_qp, last_bytes = a.qp, encode_packet(a.qp)
                        ln.out.append(last_bytes)
                        if not self._flush_scheduled:
                            self._flush_scheduled = True
                            self._loop.call_soon(self._flush)
                case M.ToLeader():
                    self.to_leader(a.qp, a.sync_for)
                case Touch():
                    self.touched(a.session_id, a.timeout)
                case SendSnap():
                    ln = self.conns.get(a.conn)
                    if ln is not None:
                        srv = self.server()
                        ln.send_snap(srv.tree, srv.sessions.timeouts(), a.zxid)
                case Close():
                    ln = self.conns.pop(a.conn, None)
                    if ln is not None:
                        log.info("closing observer connection", observer=ln.sid,
                                 reason=a.reason)
                        ln.write_out()
                        ln.writer.close()
                case ReadDiskLog():
                    task = asyncio.ensure_future(self._read_disk_log(a.conn, a.zxid))
                    self._disk_reads.add(task)
                    task.add_done_callback(self._disk_reads.discard)
                case _:
                    assert_never(a)

    async def _read_disk_log(self, conn: Conn, zxid: int) -> None:
        """ZKDatabase.getProposalsFromTxnLog for one observer's sync, off the loop; nothing
        without a reader (that observer then gets a SNAP)."""
        entries = [] if self._disk_log is None else \
            await read_disk_log_off_loop(self._disk_log, zxid, self._disk_lock)
        if not self.core.stopped:
            self.execute(self.core.disk_log_read(conn, entries, self.now_ms()))

    def _flush(self) -> None:
        self._flush_scheduled = False
        for ln in self.conns.values():
            if ln.out:
                ln.write_out()

    # -- views -------------------------------------------------------------------------------
    def observer_info(self) -> list[tuple[int, str]]:
        """(sid, address) of the synced observers (Follower.getSyncedObserversInfo)."""
        return [(sid, self.conns[c].addr) for c, sid in self.core.synced() if c in self.conns]
