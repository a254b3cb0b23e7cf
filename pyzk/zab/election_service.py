"""Runs the pure FLE (pyzk.zab.election) over the election port's connection manager
(election_transport.QuorumCnxManager): FastLeaderElection.lookForLeader's loop on asyncio,
carrying out the core's actions and feeding it notifications, timers and peer changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, assert_never

from pyzk.zab.election import (
    FLE,
    Action,
    AdoptConfig,
    Broadcast,
    ConnectAll,
    Decided,
    LookingPeer,
    RivalLeader,
    SendNotification,
    SetTimer,
)
from pyzk.zab.election_transport import QuorumCnxManager
from pyzk.zab.packets_election import ElectionWireError, Notification

if TYPE_CHECKING:
    from pyzk.zab.quorum import QuorumMaj

log = logging.getLogger("pyzk.zab.election_transport")


class ElectionService:
    """Runs an FLE over a QuorumCnxManager: elect() returns the decision; afterwards the
    service keeps answering LOOKING peers with the current vote until closed."""

    def __init__(self, fle: FLE, manager: QuorumCnxManager) -> None:
        self.fle = fle
        self.manager = manager
        self._timer_at: float | None = None
        self._decided: asyncio.Future[Decided] | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        manager._on_receive = self._wake.set
        self._peers_changed = True
        manager.on_peers = self._on_peers
        # QuorumPeer.processReconfig(qv, null, null, false) for a config learnt from a
        # notification (AdoptConfig); set by the quorum peer.
        self.on_config: Callable[[QuorumMaj], object] | None = None

    def now_ms(self) -> int:
        return int(asyncio.get_running_loop().time() * 1000)

    def _on_peers(self) -> None:
        self._peers_changed = True
        self._wake.set()

    async def start(self) -> None:
        await self.manager.start()
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.manager.close()

    async def elect(self, last_zxid: int, current_epoch: int) -> Decided:
        self._decided = asyncio.get_running_loop().create_future()
        self._apply(self.fle.start(last_zxid, current_epoch, self.now_ms()))
        return await self._decided

    def _apply(self, actions: list[Action]) -> None:
        for a in actions:
            match a:
                case SendNotification():
                    self.manager.to_send(a.to_sid, a.notification.encode())
                case Broadcast():
                    payload = a.notification.encode()
                    for sid in a.to_sids:
                        self.manager.to_send(sid, payload)
                case SetTimer():
                    self._timer_at = a.at_ms
                    self._wake.set()
                case ConnectAll():
                    self.manager.connect_all()
                case Decided():
                    if self._decided is not None and not self._decided.done():
                        self._decided.set_result(a)
                case AdoptConfig():
                    log.info("%d Received version: %x my version: %x", self.fle.my_id,
                             a.quorum.version, a.previous_version)
                    if self.on_config is not None:
                        self.on_config(a.quorum)
                    if a.restarted:
                        log.info("restarting leader election")
                case RivalLeader():
                    log.error("Multiple leaders detected: server %d leads epoch %d while this "
                              "server %d leads epoch %d", a.sid, a.peer_epoch, self.fle.my_id,
                              a.my_epoch)
                case LookingPeer():
                    pass  # Leader.reportLookingSid: a no-op unless maxTimeToWaitForEpoch is set
                case _:
                    assert_never(a)

    async def _run(self) -> None:
        while True:
            if self._peers_changed:
                self._peers_changed = False
                self._apply(self.fle.peers_changed(self.manager.gone_sids(), self.now_ms()))
            while self.manager.recv_queue:
                sid, payload = self.manager.recv_queue.popleft()
                try:
                    n = Notification.decode(payload)
                except ElectionWireError as e:
                    log.warning("Skipping malformed notification from sid=%s: %s", sid, e)
                    continue
                self._apply(self.fle.on_message(sid, n, self.now_ms()))
            now = self.now_ms()
            if self._timer_at is not None and now >= self._timer_at:
                self._timer_at = None
                timeouts = self.fle.stats.timeouts
                self._apply(self.fle.on_timer(now, self.manager.have_delivered()))
                if self.fle.stats.timeouts != timeouts:
                    log.info("Notification time out: %d ms", self.fle.notification_timeout_ms)
                continue
            self._wake.clear()
            timeout = None if self._timer_at is None else max(0, self._timer_at - now) / 1000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


__all__ = ["ElectionService"]
