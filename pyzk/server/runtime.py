"""Process wiring: recover the data directory, start the client port, timers and HTTP front ends.

`run(config)` is what `python -m pyzk` calls. SIGTERM/SIGINT stop the server cleanly; a SIGKILL
loses nothing acknowledged because replies leave only after the txn log is fsynced.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING

import structlog

from .. import __version__, audit
from ..config.model import Config
from ..storage.datadir import DataDirError
from ..storage.recovery import RecoveryError
from ..tree.datatree import DataTree
from . import zkserver as _zkserver_module
from .auth import enable_auth_providers
from .fourlw_port import FourLetterWords
from .malloc_tuning import tune_malloc
from .persistence import TxnSnapLog, open_storage, tune_gc
from .quorum_peer import QuorumPeer
from .startup import ClientPorts, StartupError, start_front_ends
from .tls import TlsError
from .view import LiveView
from .workers.local_master import LocalMaster
from .workers.pool import WorkerPool
from .zkserver import ZkServer

if TYPE_CHECKING:
    from .frontends import Stoppable

log = structlog.get_logger("pyzk.runtime")



def running_compiled() -> bool:
    """Whether the request path runs mypyc-compiled (pyzk.tools.compiled, PYZK_COMPILED=1)."""
    return not str(_zkserver_module.__file__).endswith(".py")

class Runtime:
    """A running standalone server (also used in-process by pyzk.testing)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server: ZkServer | None = None
        self.storage: TxnSnapLog | None = None  # opened by start()
        self.ports: ClientPorts | None = None
        self._extras: list[Stoppable] = []
        # pyzk.workers > 1: the worker processes and what feeds them (pyzk/server/workers)
        self.workers: WorkerPool | None = None
        self.local_master: LocalMaster | None = None

    async def start(self) -> None:
        cfg = self.config
        # Java's order (ZooKeeperServerMain: the factory binds, then the database loads): lock
        # the data directories, bind the client ports (accepting nothing yet), then recover.
        # A second server, a port in use or a bad TLS store fails at once, before a long
        # recovery and before anything is read.
        self.storage = open_storage(cfg)
        words: FourLetterWords  # assigned before the ports start serving
        if cfg.workers > 1:
            self.workers = WorkerPool(cfg, cfg.workers - 1, self._released)
        self.ports = ClientPorts(cfg, lambda: self.server, lambda: words, {},
                                 self.workers.dispatch if self.workers else None)
        await self.ports.open(start_serving=False)
        tree, sessions = self.storage.recover()
        kill_dead_sessions(tree, sessions)
        self.server = ZkServer(cfg, tree, self.storage, sessions=sessions,
                               server_id=1)  # Java's createSessionTrackerServerId
        self._record_startup()
        self.view = LiveView(self.server)
        words = FourLetterWords(cfg, self.view)
        if self.workers is not None:
            self.workers.serve_words(words, [self.view])
        enable_auth_providers(cfg)
        self.server.start()
        if self.workers is not None:
            srv = self.server
            self.local_master = LocalMaster(cfg, lambda: srv, cfg.my_id or 0)
            srv.on_committed = self.local_master.committed
            self.local_master.start()
            self.workers.master = self.local_master.host
            await self.workers.start()
        await self.ports.serve()
        self._extras = await start_front_ends(cfg, self.view)
        log.info("serving", client_port=cfg.client_port,
                 address=cfg.client_port_address or "0.0.0.0",
                 secure_client_port=cfg.secure_client_port,
                 data_dir=str(cfg.data_dir), zxid=hex(tree.last_processed_zxid),
                 mode="standalone", version=__version__, compiled=running_compiled(),
                 config=str(cfg.source or "<embedded default>"))

    def _released(self, kind: str, ip: str) -> None:
        if self.ports is not None:
            self.ports.released(kind, ip)

    def _record_startup(self) -> None:
        """dbinittime and the startup_* metrics Java records while loading the database."""
        assert self.server is not None
        storage, m = self.storage, self.server.stats.metrics
        assert storage is not None
        storage.stats = self.server.stats
        m.summary("dbinittime").add(storage.recovery_ms)
        rec = storage.recovery
        if rec is not None:
            m.summary("startup_txns_loaded").add(rec.txns_replayed)
            m.summary("startup_txns_load_time").add(storage.recovery_ms)

    @property
    def port(self) -> int:
        assert self.ports is not None and self.ports.plain is not None
        return int(self.ports.plain.sockets[0].getsockname()[1])

    @property
    def secure_port(self) -> int:
        assert self.ports is not None and self.ports.secure is not None
        return int(self.ports.secure.sockets[0].getsockname()[1])

    async def stop(self, quiet: bool = False) -> None:
        """Stop whatever start() got to (quiet: after a failed start, no "stopped" line)."""
        if self.ports is not None:
            self.ports.close()
        if self.workers is not None:
            await self.workers.stop()
        if self.local_master is not None:
            self.local_master.stop()
        for extra in self._extras:
            await extra.stop()
        if self.server is not None:
            await self.server.stop()
        if self.storage is not None:
            self.storage.close()
        if not quiet:
            log.info("stopped")


class ServerFailed(Exception):
    """The server stopped itself after a fatal error, already logged; exit_code is the
    process's status (1, or Java's ExitCode for the failure)."""

    def __init__(self, exit_code: int = 1) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


async def serve(config: Config) -> None:
    rt: Runtime | QuorumPeer
    if config.is_distributed:
        rt = QuorumPeer(config)
    else:
        rt = Runtime(config)
    audit_log = audit.provider(config)
    if audit_log is not None:
        log.info("ZooKeeper audit is enabled.", file=str(audit_log.path))
    try:
        try:
            await rt.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await rt.stop(quiet=True)  # releases the ports and the data directory lock
            if audit_log is not None:
                audit_log.server_start_failed()
            raise
    except StartupError:
        raise
    except DataDirError as e:  # an OSError: before the generic case below
        raise StartupError(f"cannot use the data directory: {e}") from None
    except RecoveryError as e:
        raise StartupError(f"cannot recover the data directory: {e}") from None
    except TlsError as e:
        what = "the quorum (ssl.quorum.*)" if e.where == "quorum" else e.where
        raise StartupError(f"cannot set up TLS for {what}: {e}") from None
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise StartupError(f"cannot start: {e.strerror or e}{where}") from None
    stop = asyncio.Event()
    failed = False

    def fatal() -> None:
        nonlocal failed
        failed = True
        stop.set()

    if isinstance(rt, Runtime):
        assert rt.server is not None
        rt.server.on_fatal = fatal
    else:
        rt.on_fatal = fatal
    if audit_log is not None:
        audit_log.server_start()  # ZKAuditProvider.addZKStartStopAuditLog
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if audit_log is not None:
        audit_log.server_stop()  # Java's shutdown hook: logged as the stop begins
    await rt.stop()
    if failed:
        raise ServerFailed(rt.exit_code if isinstance(rt, QuorumPeer) else 1)


def run(config: Config) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        runner: Callable[[Coroutine[object, object, None]], None] = asyncio.run
    else:
        runner = uvloop.run
    tune_gc()
    tune_malloc()
    if running_compiled():
        log.info("the request path runs compiled (pyzk.tools.compiled)",
                 module=str(_zkserver_module.__file__))
    try:
        runner(serve(config))
    except StartupError as e:
        log.error("startup failed", error=str(e))
        return 1
    except ServerFailed as e:
        return e.exit_code
    return 0


def kill_dead_sessions(tree: DataTree, sessions: Mapping[int, int]) -> None:
    """ZooKeeperServer.loadData's "Clean up dead sessions": ephemerals whose session the
    snapshot and logs do not hold (a session closed without its txn, or an owner read from an
    older encoding) are removed from the loaded tree, without a txn, as Java does."""
    for sid in [s for s in tree.ephemerals if s not in sessions]:
        log.debug("killing dead session at load", session=hex(sid))
        tree.kill_session(sid, tree.last_processed_zxid, None, [])
