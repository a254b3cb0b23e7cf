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
from collections.abc import Callable
from typing import TYPE_CHECKING, assert_never

import structlog

from ..zab import observer_master as M
from ..zab.leader import Close, Conn, SendSnap, SendTo, Touch
from ..zab.packets import Packet, encode_packet
from .leader_host import LearnerConn, read_learner, tick_core
from .replication import disk_log_reader

if TYPE_CHECKING:
    from .quorum_net import QuorumListener
    from .quorum_peer import QuorumPeer
    from .zkserver import ZkServer

log = structlog.get_logger("pyzk.observer_master")


class ObserverMasterHost:
    """Serves observers from the server `server()` returns (the follower's current one)."""

    def __init__(self, peer: QuorumPeer, port: int, server: Callable[[], ZkServer],
                 to_leader: Callable[[Packet, Conn | None], None],
                 touched: Callable[[int], None]) -> None:
        self.peer = peer
        self.port = port
        self.server = server
        self.to_leader = to_leader
        self.touched = touched
        cfg = peer.config
        self.core = M.ObserverMasterCore(
            peer.my_id, peer.current_epoch, peer.quorum.version,
            peer.last_seen.config_bytes(), self._db_state, disk_log_reader(peer.storage),
            tick_ms=cfg.tick_time_ms, init_limit=cfg.init_limit, sync_limit=cfg.sync_limit)
        self.conns: dict[Conn, LearnerConn] = {}
        self._ids = itertools.count(1)
        self._listener: QuorumListener | None = None
        self._ticker: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._flush_scheduled = False
        self._commit_time = peer.metrics.summary("om_commit_process_time_ms")

    def now_ms(self) -> int:
        return int(self._loop.time() * 1000)

    def _db_state(self) -> tuple[int, list[tuple[int, bytes]]]:
        return self.server().tree.last_processed_zxid, list(self.peer.db.window)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        me = self.peer.me
        try:
            # quorumListenOnAllIPs: the wildcard address, else the member's quorum host
            host = None if self.peer.config.quorum_listen_on_all_ips else me.host
            self._listener = await self.peer.net.listen(self._accept, host, self.port,
                                                        reuse_address=True)
        except OSError as e:
            # Java's follower fails to follow when ObserverMaster.start throws.
            raise OSError(f"cannot listen on observerMasterPort {self.port}: {e}") from e
        self.core.next_ping = self.now_ms() + self.peer.config.tick_time_ms // 2
        self._ticker = asyncio.ensure_future(self._tick_loop())
        log.info("Starting ObserverMaster", address=f"{me.host}:{self.port}")

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._listener is not None:
            self._listener.close()
        self.execute(self.core.stop())

    async def _tick_loop(self) -> None:
        await tick_core(self.peer.config.tick_time_ms, self.now_ms, self.core.wakeup_ms,
                        lambda now: self.execute(self.core.on_tick(now)))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.core.stopped or not await self.peer.net.authenticate_accepted(reader, writer):
            writer.close()
            return
        cid = next(self._ids)
        ln = self.conns[cid] = LearnerConn(writer)

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
                    self.touched(a.session_id)
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
                case _:
                    assert_never(a)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for ln in self.conns.values():
            if ln.out:
                ln.write_out()

    # -- views -------------------------------------------------------------------------------
    def observer_info(self) -> list[tuple[int, str]]:
        """(sid, address) of the synced observers (Follower.getSyncedObserversInfo)."""
        return [(sid, self.conns[c].addr) for c, sid in self.core.synced() if c in self.conns]
