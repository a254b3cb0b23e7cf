"""A worker process (pyzk.workers > 1): serves the client sockets its member hands it from a
replica of the member's tree, kept current over the observer protocol (worker_host.py).

What the member does for the whole server, a worker leaves to it: the txn log, snapshots,
session expiry, connection limits (the member counts connections when it hands them out;
the worker reports each one that ends), the AdminServer and the metrics endpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
from pathlib import Path

import structlog

from ...config.model import Config
from ...session.tracker import SessionTracker
from ...tree.datatree import DataTree
from ..auth import enable_auth_providers
from ..fourlw_port import FourLetterWords
from ..persistence import TxnSnapLog, open_storage
from ..startup import ClientPorts
from ..view import LiveView
from ..zkserver import ZkServer
from .links import KINDS, read_frame, write_frame
from .report import WorkerStats, report
from .worker_host import WorkerHost

log = structlog.get_logger("pyzk.worker")

RECONNECT_DELAY_S = (0.02, 1.0)
WORD_TIMEOUT_S = 5.0
# Session ids embed the start time in ms (SessionTrackerImpl.initializeNextSessionId); each
# worker starts its own count this many ms later than the member's, so that the processes of
# one server never hand out the same id.
SESSION_ID_SPACING_MS = 1 << 30  # ~12 days of ids


class Worker:
    def __init__(self, config: Config, index: int, link_path: Path, fds: socket.socket,
                 ctl_reader: asyncio.StreamReader, ctl_writer: asyncio.StreamWriter) -> None:
        private = link_path.parent / f"worker-{index}"
        self.config = dataclasses.replace(
            config, max_client_cnxns=0, max_cnxns=0, autopurge_purge_interval_hours=0,
            data_dir=private, data_log_dir=private)
        self.index = index
        # LearnerInfo's sid: above any server id, one per worker.
        self.sid = (1 << 40) + index
        self.server_id = config.my_id if config.my_id is not None else 1
        self.link_path = link_path
        self.fds = fds
        self.ctl_reader, self.ctl_writer = ctl_reader, ctl_writer
        self.epoch = 0
        self.storage: TxnSnapLog = open_storage(self.config)  # empty, never written
        self.stats = WorkerStats()
        self._questions = itertools.count(1)
        self._replies: dict[int, asyncio.Future[str]] = {}
        self.server = self._make_server(self.new_tree(), {})
        self.view = LiveView(self.server)
        self.words = FourLetterWords(self.config, self.view)
        self.words.answer = self._ask_member
        self.ports = ClientPorts(self.config, lambda: self.server, lambda: self.words, {})
        self.ports.on_lost = self._lost
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._dial = asyncio.Event()  # the member has a master again: retry the link now

    def new_tree(self) -> DataTree:
        cfg = self.config
        return DataTree(extended_types=cfg.extended_types, skip_acl=cfg.skip_acl,
                        emulate_353=cfg.emulate_353_ttl_nodes,
                        digest_enabled=cfg.digest_enabled)

    def _make_server(self, tree: DataTree, sessions: dict[int, int]) -> ZkServer:
        srv = ZkServer(self.config, tree, self.storage, sessions=sessions,
                       server_id=self.server_id)
        srv.sessions = SessionTracker(
            self.config.tick_time_ms, self.server_id,
            srv.clock.wall_ms() + self.index * SESSION_ID_SPACING_MS)
        now = srv.clock.mono_ms()
        for sid, timeout in sessions.items():
            srv.sessions.add(sid, timeout, now)
        if self.config.local_sessions_enabled:
            # As QuorumPeer.new_server, with this worker's own range of local session ids.
            srv.local = SessionTracker(self.config.tick_time_ms, self.server_id,
                                       self.index * SESSION_ID_SPACING_MS)
            srv.prep.ephemeral_session_error = srv.ephemeral_session_error
        srv.leads = False
        srv.serving = False
        srv.fails_like_standalone = not self.config.is_distributed
        srv.stats = self.stats  # one process's counters, whichever link it is on
        return srv

    def new_server(self, tree: DataTree, sessions: dict[int, int] | None = None) -> ZkServer:
        """A fresh server over `tree`; the previous one stops and its clients are
        disconnected (they reconnect, to this or another process of the member)."""
        old = self.server
        if sessions is None:
            sessions = old.sessions.timeouts()
        srv = self._make_server(tree, sessions)
        old.serving = False
        for conn in list(old.conns):
            conn.close()
        asyncio.ensure_future(old.stop())
        self.server = srv
        self.view.server = srv
        return srv

    def reset(self) -> None:
        self.new_server(self.new_tree(), {})

    def serving(self, on: bool) -> None:
        write_frame(self.ctl_writer, {"serving": on})

    def _lost(self, kind: str, ip: str) -> None:
        write_frame(self.ctl_writer, {"lost": kind, "ip": ip})

    # -- running ---------------------------------------------------------------------------
    async def run(self) -> None:
        enable_auth_providers(self.config)
        self.fds.setblocking(False)
        self._loop.add_reader(self.fds.fileno(), self._take_sockets)
        control = asyncio.ensure_future(self._control())
        links = asyncio.ensure_future(self._links())
        try:
            await control  # the member went away (or stopped us): so do we
        finally:
            self._stopping = True
            links.cancel()
            self._loop.remove_reader(self.fds.fileno())
            for conn in list(self.server.conns):
                conn.close()
            await self.server.stop()
            self.storage.close()

    async def _links(self) -> None:
        delay = RECONNECT_DELAY_S[0]
        while not self._stopping:
            host = WorkerHost(self)
            reason = await host.run()
            self.serving(False)
            if host.server.serving:
                delay = RECONNECT_DELAY_S[0]
            host.server.serving = False
            for conn in list(host.server.conns):
                conn.close()  # as an observer that lost its leader: clients go elsewhere
            log.info("member link ended", reason=reason)
            self._dial.clear()
            try:
                await asyncio.wait_for(self._dial.wait(), delay)
                delay = RECONNECT_DELAY_S[0]
            except TimeoutError:
                delay = min(delay * 2, RECONNECT_DELAY_S[1])

    def _take_sockets(self) -> None:
        """Client sockets from the member, each with its kind (plain, secure, unified)."""
        for _ in range(64):  # bounded: other work gets its turn
            try:
                msg, fds, _flags, _addr = socket.recv_fds(self.fds, 16, 4)
            except BlockingIOError:
                return
            except OSError:
                self._loop.remove_reader(self.fds.fileno())
                return
            if not msg and not fds:
                self._loop.remove_reader(self.fds.fileno())
                return
            kind = KINDS.get(msg[0]) if msg else None
            for fd in fds:
                sock = socket.socket(fileno=fd)
                sock.setblocking(False)
                if kind is None or not self.server.serving:
                    sock.close()  # it reconnects, like a client of a server that lost its leader
                    continue
                task = asyncio.ensure_future(self.ports.handle(kind, sock))
                task.add_done_callback(_log_failure)

    async def _control(self) -> None:
        while True:
            msg = await read_frame(self.ctl_reader)
            if msg is None:
                return
            if not isinstance(msg, dict):
                continue
            if "ask" in msg:
                data = report(self.view) if msg.get("what") == "report" else None
                write_frame(self.ctl_writer, {"answer": msg["ask"], "data": data})
            elif "reset" in msg:
                if msg["reset"] == "srst":
                    self.stats.reset()
                    self.stats.metrics.reset_all()
                else:
                    for conn in list(self.server.conns):
                        conn.reset_stats()
            elif "dial" in msg:
                self._dial.set()
            elif "reply" in msg:
                fut = self._replies.pop(int(msg["reply"]), None)
                if fut is not None and not fut.done():
                    fut.set_result(str(msg.get("data") or ""))

    async def _ask_member(self, word: str, extra: bytes) -> str:
        """A four-letter word, answered by the member for the whole server."""
        q = next(self._questions)
        fut: asyncio.Future[str] = self._loop.create_future()
        self._replies[q] = fut
        write_frame(self.ctl_writer, {"word": word, "extra": extra, "q": q})
        try:
            return await asyncio.wait_for(fut, WORD_TIMEOUT_S)
        finally:
            self._replies.pop(q, None)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("client connection setup failed", error=repr(task.exception()))
