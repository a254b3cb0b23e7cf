"""Process wiring: recover the data directory, start the client port, timers and HTTP front ends.

`run(config)` is what `python -m pyzk` calls. SIGTERM/SIGINT stop the server cleanly; a SIGKILL
loses nothing acknowledged because replies leave only after the txn log is fsynced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING

import structlog

from .. import __version__
from ..config.model import Config
from .auth import enable_auth_providers
from .connection import ClientConn
from .fourlw_port import FourLetterWords
from .persistence import TxnSnapLog, open_storage, tune_gc
from .view import LiveView
from .zkserver import ZkServer

if TYPE_CHECKING:
    from .frontends import Stoppable
    from .quorum_peer import QuorumPeer

log = structlog.get_logger("pyzk.runtime")


class Runtime:
    """A running standalone server (also used in-process by pyzk.testing)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server: ZkServer | None = None
        self.storage: TxnSnapLog | None = None  # opened by start()
        self._listener: asyncio.base_events.Server | None = None
        self._secure_listener: asyncio.base_events.Server | None = None
        self._extras: list[Stoppable] = []

    async def start(self) -> None:
        cfg = self.config
        # Java's order (ZooKeeperServerMain: the factory binds, then the database loads): lock
        # the data directories, bind the client ports (accepting nothing yet), then recover.
        # A second server, a port in use or a bad TLS store fails at once, before a long
        # recovery and before anything is read.
        self.storage = open_storage(cfg)
        words: FourLetterWords  # assigned before the listeners start serving
        per_ip: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        host = cfg.client_port_address or None
        if cfg.client_port:  # 0 when only secureClientPort is set
            try:
                self._listener = await loop.create_server(
                    lambda: ClientConn(self.server, words, cfg.max_client_cnxns, per_ip),  # type: ignore[arg-type]
                    host=host, port=cfg.client_port, reuse_address=True, backlog=cfg.client_port_listen_backlog if cfg.client_port_listen_backlog > 0 else 1024,
                    start_serving=False)
            except OSError as e:
                raise StartupError(listen_error("client port", host, cfg.client_port, e)) from None
        if cfg.secure_client_port:  # TLS port (pyzk/server/tls.py); its own per-IP counts
            from .tls import TlsClientConn, start_secure_listener

            secure_per_ip: dict[str, int] = {}
            try:
                self._secure_listener = await start_secure_listener(
                    cfg, lambda: TlsClientConn(self.server, words, cfg.max_client_cnxns,  # type: ignore[arg-type]
                                               secure_per_ip), start_serving=False)
            except OSError as e:
                raise StartupError(listen_error(
                    "secure client port", cfg.secure_client_port_address or None,
                    cfg.secure_client_port, e)) from None
        tree, sessions = self.storage.recover()
        self.server = ZkServer(cfg, tree, self.storage, sessions=sessions,
                               server_id=1)  # Java's createSessionTrackerServerId
        self._record_startup()
        self.view = LiveView(self.server)
        words = FourLetterWords(cfg, self.view)
        enable_auth_providers(cfg)
        self.server.start()
        for listener in (self._listener, self._secure_listener):
            if listener is not None:
                await listener.start_serving()
        for starter in _front_ends():
            extra = await starter(cfg, self.view)
            if extra is not None:
                self._extras.append(extra)
        log.info("serving", client_port=cfg.client_port, address=host or "0.0.0.0",
                 secure_client_port=cfg.secure_client_port,
                 data_dir=str(cfg.data_dir), zxid=hex(tree.last_processed_zxid),
                 mode="standalone", version=__version__,
                 config=str(cfg.source or "<embedded default>"))

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
        assert self._listener is not None
        return int(self._listener.sockets[0].getsockname()[1])

    @property
    def secure_port(self) -> int:
        assert self._secure_listener is not None
        return int(self._secure_listener.sockets[0].getsockname()[1])

    async def stop(self, quiet: bool = False) -> None:
        """Stop whatever start() got to (quiet: after a failed start, no "stopped" line)."""
        for listener in (self._listener, self._secure_listener):
            if listener is not None:
                listener.close()
        for extra in self._extras:
            await extra.stop()
        if self.server is not None:
            await self.server.stop()
        if self.storage is not None:
            self.storage.close()
        if not quiet:
            log.info("stopped")


def _front_ends() -> list[Callable[[Config, LiveView], Awaitable[Stoppable | None]]]:
    """AdminServer and Prometheus endpoint starters (each returns an object with stop())."""
    from .frontends import start_admin_server, start_metrics_server

    return [start_admin_server, start_metrics_server]


class StartupError(Exception):
    """The server cannot start; the message says why (logged once, exit status 1)."""


class ServerFailed(Exception):
    """The server stopped itself after a fatal error, already logged (exit status 1)."""


def listen_error(what: str, host: str | None, port: int, e: OSError) -> str:
    """"cannot listen on the client port 127.0.0.1:2181: Address already in use"."""
    reason = os.strerror(e.errno) if e.errno else str(e)  # uvloop's text repeats the address
    return f"cannot listen on the {what} {host or '0.0.0.0'}:{port}: {reason}"


async def serve(config: Config) -> None:
    from ..storage.datadir import DataDirError
    from ..storage.recovery import RecoveryError
    from .tls import TlsError

    rt: Runtime | QuorumPeer
    if config.is_distributed:
        from .quorum_peer import QuorumPeer

        rt = QuorumPeer(config)
    else:
        rt = Runtime(config)
    try:
        try:
            await rt.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await rt.stop(quiet=True)  # releases the ports and the data directory lock
            raise
    except StartupError:
        raise
    except DataDirError as e:  # an OSError: before the generic case below
        raise StartupError(f"cannot use the data directory: {e}") from None
    except RecoveryError as e:
        raise StartupError(f"cannot recover the data directory: {e}") from None
    except TlsError as e:
        what = "the quorum (ssl.quorum.*)" if e.where == "quorum" else "secureClientPort"
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
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await rt.stop()
    if failed:
        raise ServerFailed()


def run(config: Config) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        runner: Callable[[Coroutine[object, object, None]], None] = asyncio.run
    else:
        runner = uvloop.run
    tune_gc()
    try:
        runner(serve(config))
    except StartupError as e:
        log.error("startup failed", error=str(e))
        return 1
    except ServerFailed:
        return 1
    return 0
