"""A worker process's link to its member: an observer's LearnerCore over the member's Unix
socket, with nothing on disk. The member is the learner master (an ObserverMasterCore fed by
its commits); the worker applies each INFORM to its own tree and answers the client that
asked once its txn is applied here, as an observer does (Observer.java,
ObserverZooKeeperServer with syncEnabled=false, and no snapshot or epoch files either: the
replica lives only as long as the process, and a new link starts from an empty tree).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, assert_never

import structlog

from ...storage.snapshot import load_tree
from ...tree.datatree import CONFIG_NODE
from ...zab import learner as N
from ...zab.packets import QuorumStreamReader
from ...zab.zxid import epoch_of
from ..forwarding import ForwardingWrites, ObserverSync
from ..learner_conn import tick_core
from . import link_limits

if TYPE_CHECKING:
    from ...tree.datatree import DataTree
    from .worker import Worker

log = structlog.get_logger("pyzk.worker")


class WorkerHost(ForwardingWrites):
    """One link to the member; `run()` returns the reason it ended."""

    # Requests of a closing session are dropped here as by the member's own tracker (the
    # server answers as one server; its member may lead or stand alone).
    forwards_closing = False

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        cfg = worker.config
        init_limit, sync_limit = link_limits(cfg)
        self.server = worker.new_server(worker.server.tree)
        self.server.writes = self
        self.core = N.LearnerCore(
            worker.sid, True, worker.epoch, worker.epoch, self.server.tree.last_processed_zxid,
            config_version=-1, tick_ms=cfg.tick_time_ms, init_limit=init_limit,
            sync_limit=sync_limit, touches=self._touches)
        self.writer: asyncio.StreamWriter | None = None
        self.done = asyncio.Event()
        self.reason = ""
        self._durable_seq = 0  # the newest Persist not yet reported (0: none waiting)
        self._init_forwarding()

    def now_ms(self) -> int:
        return int(self._loop.time() * 1000)

    async def run(self) -> str:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.worker.link_path))
        except OSError as e:
            return f"cannot reach the member: {e}"
        self.writer = writer
        ticker = asyncio.ensure_future(self._tick_loop())
        reading = asyncio.ensure_future(self._read_loop(reader))
        try:
            self.execute(self.core.connected(self.now_ms()))
            await self.done.wait()
        finally:
            ticker.cancel()
            reading.cancel()
            self._flush()
            writer.close()
        return self.reason

    def stop(self, reason: str) -> None:
        if not self.done.is_set():
            self.reason = reason
            self.done.set()

    async def _tick_loop(self) -> None:
        await tick_core(self.worker.config.tick_time_ms, self.now_ms, self.core.wakeup_ms,
                        lambda now: self.execute(self.core.on_tick(now)))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        stream = QuorumStreamReader()
        try:
            while not self.done.is_set():
                data = await reader.read(1 << 20)
                if not data:
                    break
                now = self.now_ms()
                for item in stream.feed(data):
                    self.execute(self.core.on_packet(item.qp, now, item.snapshot))
                    if self.done.is_set():
                        return
        except (OSError, ValueError) as e:
            log.info("member link broken", error=str(e))
        if not self.done.is_set():
            self.execute(self.core.on_disconnect())

    def execute(self, actions: list[N.LearnerAction]) -> None:
        for a in actions:
            match a:
                case N.Send():
                    self._send(a.qp)
                case N.Apply():
                    self._applied(a.entry)
                case N.Persist():
                    # Nothing to write: what the member sent is as durable as it gets here;
                    # released once per loop iteration, however many came in.
                    if not self._durable_seq:
                        self._loop.call_soon(self._release)
                    self._durable_seq = a.seq
                case N.PersistEpoch():
                    self.worker.epoch = a.value
                case N.LoadSnapshot():
                    tree = self.worker.new_tree()
                    load_tree(a.snapshot, tree, a.zxid)
                    self._replace(tree, dict(a.snapshot.sessions))
                case N.ResetDatabase():
                    self._replace(self.worker.new_tree(), {})
                case N.Truncate():
                    # Never expected (the member sends only committed txns); start over empty.
                    self.worker.reset()
                    self.stop("truncate: starting over from an empty tree")
                    return
                case N.StartServing():
                    self.worker.epoch = max(self.worker.epoch, a.epoch)
                    self.server.serving = True
                    self.server.start()
                    self.worker.serving(True)
                    log.info("serving", zxid=hex(self.server.tree.last_processed_zxid),
                             epoch=epoch_of(self.server.tree.last_processed_zxid))
                case N.Revalidated():
                    self._revalidated_here(a)
                case N.SyncDone():
                    if self.syncs:
                        waiting = self.syncs.popleft()
                        if not isinstance(waiting, ObserverSync):  # a worker relays none
                            self.server.reply_sync(*waiting)
                case N.Disconnected():
                    log.info("lost the member", reason=a.reason)
                    self.stop(a.reason)
                case N.Activate():
                    # The membership text /zookeeper/config shows, as the member's tree has it
                    # (QuorumPeer.init_config_node: version -1, mzxid = the config's version).
                    if a.config:
                        self.server.tree.set_data(CONFIG_NODE, a.config, -1,
                                                  _config_version(a.config),
                                                  self.server.wall_ms(), [])
                case N.SeenConfig():
                    pass  # a proposed config: the member's business
                case _:
                    assert_never(a)

    def _release(self) -> None:
        seq, self._durable_seq = self._durable_seq, 0
        if not self.done.is_set():
            self.execute(self.core.persisted(seq))

    def _replace(self, tree: DataTree, sessions: dict[int, int]) -> None:
        self.server = self.worker.new_server(tree, sessions)
        self.server.writes = self


def _config_version(config: bytes) -> int:
    """The `version=<hex>` a config text ends with (QuorumMaj.to_string), else 0."""
    last = config.rsplit(b"\n", 1)[-1]
    return int(last[8:], 16) if last.startswith(b"version=") else 0
