"""What a standalone server (runtime.py) and a quorum member (quorum_peer.py) both start: the
client ports, plaintext and TLS (NIOServerCnxnFactory and its secure twin), and the HTTP front
ends; and the error a failed start raises.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config.model import Config
from .connection import ClientConn
from .frontends import Stoppable, start_admin_server, start_metrics_server
from .tls import TlsClientConn, start_secure_listener, start_unified_client_listener
from .unified import AcceptLoop

if TYPE_CHECKING:
    from .fourlw_port import FourLetterWords
    from .view import LiveView
    from .zkserver import ZkServer


class StartupError(Exception):
    """The server cannot start; the message says why (logged once, exit status 1)."""


def listen_error(what: str, host: str | None, port: int, e: OSError) -> str:
    """"cannot listen on the client port 127.0.0.1:2181: Address already in use"."""
    reason = os.strerror(e.errno) if e.errno else str(e)  # uvloop's text repeats the address
    return f"cannot listen on the {what} {host or '0.0.0.0'}:{port}: {reason}"


class ClientPorts:
    """clientPort and secureClientPort. Each accepted connection serves whichever ZkServer
    `server()` returns at that moment (a quorum member replaces it with every role); each port
    keeps its own per-IP connection counts (maxClientCnxns)."""

    def __init__(self, cfg: Config, server: Callable[[], ZkServer | None],
                 words: Callable[[], FourLetterWords], per_ip: dict[str, int]) -> None:
        self.cfg = cfg
        self._server = server
        self._words = words
        self.per_ip = per_ip
        # An AcceptLoop when client.portUnification makes clientPort speak TLS too.
        self.plain: asyncio.base_events.Server | AcceptLoop | None = None
        self.secure: asyncio.base_events.Server | None = None

    def _conn(self, kind: type[ClientConn], per_ip: dict[str, int],
              netty: bool = False) -> ClientConn:
        srv = self._server()
        assert srv is not None, "the ports serve only once a server exists"
        conn = kind(srv, self._words(), self.cfg.max_client_cnxns, per_ip,
                    max_total=self.cfg.max_cnxns, keepalive=self.cfg.client_tcp_keep_alive)
        conn.netty = netty or kind is not ClientConn or self.cfg.client_port_netty
        return conn

    async def open(self, start_serving: bool) -> None:
        """Bind both ports (those configured); raises StartupError when one cannot be bound.
        With start_serving False nothing is accepted until serve()."""
        cfg = self.cfg
        host = cfg.client_port_address or None
        if cfg.client_port:  # 0 when only secureClientPort is set
            backlog = cfg.client_port_listen_backlog
            try:
                if cfg.client_port_unification:
                    # TLS clients on this port share its per-IP counts: Java's one factory.
                    # Java needs the Netty factory for port unification.
                    self.plain = await start_unified_client_listener(
                        cfg, lambda: self._conn(ClientConn, self.per_ip, netty=True),
                        lambda: self._conn(TlsClientConn, self.per_ip), start_serving)
                else:
                    self.plain = await asyncio.get_running_loop().create_server(
                        lambda: self._conn(ClientConn, self.per_ip), host=host,
                        port=cfg.client_port, reuse_address=True,
                        backlog=backlog if backlog > 0 else 1024, start_serving=start_serving)
            except OSError as e:
                raise StartupError(listen_error("client port", host, cfg.client_port, e)
                                   ) from None
        if cfg.secure_client_port:  # TLS port (pyzk/server/tls.py)
            secure_per_ip: dict[str, int] = {}
            try:
                self.secure = await start_secure_listener(
                    cfg, lambda: self._conn(TlsClientConn, secure_per_ip),
                    start_serving=start_serving)
            except OSError as e:
                raise StartupError(listen_error(
                    "secure client port", cfg.secure_client_port_address or None,
                    cfg.secure_client_port, e)) from None

    async def serve(self) -> None:
        for listener in (self.plain, self.secure):
            if listener is not None:
                await listener.start_serving()

    def close(self) -> None:
        for listener in (self.plain, self.secure):
            if listener is not None:
                listener.close()


async def start_front_ends(cfg: Config, view: LiveView) -> list[Stoppable]:
    """The AdminServer and the Prometheus endpoint, those configured."""
    started = []
    for starter in (start_admin_server, start_metrics_server):
        extra = await starter(cfg, view)
        if extra is not None:
            started.append(extra)
    return started
