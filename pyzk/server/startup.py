"""What a standalone server (runtime.py) and a quorum member (quorum_peer.py) both start: the
client ports, plaintext and TLS (NIOServerCnxnFactory and its secure twin), and the HTTP front
ends; and the error a failed start raises.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config.model import Config
from .connection import ClientConn
from .frontends import Stoppable, start_admin_server, start_metrics_server
from .tls import (
    HANDSHAKE_TIMEOUT_S,
    TlsClientConn,
    TlsError,
    build_context,
    start_secure_listener,
    start_unified_client_listener,
    unified_acceptor,
)
from .unified import AcceptLoop, OnSocket

# The kinds of accepted client socket a server hands to its worker processes (pyzk.workers):
# clientPort, secureClientPort, and clientPort with client.portUnification.
PLAIN, SECURE, UNIFIED = "plain", "secure", "unified"
# (socket, kind, peer address) -> True when a worker process took the socket
Dispatch = Callable[[socket.socket, str, str], bool]

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
                 words: Callable[[], FourLetterWords], per_ip: dict[str, int],
                 dispatch: Dispatch | None = None) -> None:
        self.cfg = cfg
        self._server = server
        self._words = words
        self.per_ip = per_ip
        self.secure_per_ip: dict[str, int] = {}
        # An AcceptLoop when client.portUnification makes clientPort speak TLS too, or when
        # accepted sockets may go to worker processes (`dispatch`).
        self.plain: asyncio.base_events.Server | AcceptLoop | None = None
        self.secure: asyncio.base_events.Server | AcceptLoop | None = None
        self.dispatch = dispatch
        # A worker process: told of each connection that ends (its member counts them).
        self.on_lost: Callable[[str, str], None] | None = None
        self._tls: ssl.SSLContext | None = None
        self._unified: OnSocket | None = None

    def _conn(self, kind: type[ClientConn], per_ip: dict[str, int],
              netty: bool = False) -> ClientConn:
        srv = self._server()
        assert srv is not None, "the ports serve only once a server exists"
        conn = kind(srv, self._words(), self.cfg.max_client_cnxns, per_ip,
                    max_total=self.cfg.max_cnxns, keepalive=self.cfg.client_tcp_keep_alive)
        conn.netty = netty or kind is not ClientConn or self.cfg.client_port_netty
        if self.on_lost is not None:
            port = PLAIN if per_ip is self.per_ip else SECURE
            conn.on_lost = lambda ip: self.on_lost(port, ip) if self.on_lost else None
        return conn

    def tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            if self.cfg.tls is None:  # load_config sets tls whenever TLS is configured
                raise TlsError("TLS is configured without ssl.* settings")
            self._tls = build_context(self.cfg.tls)
        return self._tls

    async def handle(self, kind: str, sock: socket.socket) -> None:
        """Serve an accepted client socket in this process."""
        loop = asyncio.get_running_loop()
        if kind == PLAIN:
            await loop.connect_accepted_socket(lambda: self._conn(ClientConn, self.per_ip), sock)
        elif kind == SECURE:
            try:
                await loop.connect_accepted_socket(
                    lambda: self._conn(TlsClientConn, self.secure_per_ip), sock,
                    ssl=self.tls_context(), ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
            except (OSError, ssl.SSLError, TimeoutError):
                sock.close()
        else:
            if self._unified is None:
                self._unified = unified_acceptor(
                    self.tls_context(), lambda: self._conn(ClientConn, self.per_ip, netty=True),
                    lambda: self._conn(TlsClientConn, self.per_ip))
            await self._unified(sock)

    def _full(self, per_ip: dict[str, int], ip: str) -> bool:
        """maxClientCnxns or maxCnxns reached: the connection is refused here, as Java does."""
        cfg = self.cfg
        return ((cfg.max_client_cnxns > 0 and per_ip.get(ip, 0) >= cfg.max_client_cnxns)
                or (cfg.max_cnxns > 0 and sum(per_ip.values()) >= cfg.max_cnxns))

    def _dispatching(self, kind: str) -> OnSocket:
        per_ip = self.secure_per_ip if kind == SECURE else self.per_ip

        async def on_socket(sock: socket.socket) -> None:
            try:
                ip = str(sock.getpeername()[0])
            except OSError:
                sock.close()
                return
            if self.dispatch is not None and not self._full(per_ip, ip) \
                    and self.dispatch(sock, kind, ip):
                per_ip[ip] = per_ip.get(ip, 0) + 1  # until the worker says it ended
                return
            await self.handle(kind, sock)

        return on_socket

    def released(self, kind: str, ip: str) -> None:
        """A worker's connection from `ip` ended."""
        per_ip = self.secure_per_ip if kind == SECURE else self.per_ip
        n = per_ip.get(ip, 1) - 1
        if n <= 0:
            per_ip.pop(ip, None)
        else:
            per_ip[ip] = n

    async def _open_dispatching(self) -> None:
        """Both ports as plain accept loops whose sockets go to a worker or stay here."""
        cfg = self.cfg
        backlog = cfg.client_port_listen_backlog if cfg.client_port_listen_backlog > 0 else 1024
        if cfg.client_port_unification or cfg.secure_client_port:
            self.tls_context()  # a bad store stops the start, as without workers
        if cfg.client_port:
            host = cfg.client_port_address or None
            kind = UNIFIED if cfg.client_port_unification else PLAIN
            try:
                self.plain = AcceptLoop.bind(host, cfg.client_port, self._dispatching(kind),
                                             backlog, cancel_on_close=True)
            except OSError as e:
                raise StartupError(listen_error("client port", host, cfg.client_port, e)
                                   ) from None
        if cfg.secure_client_port:
            host = cfg.secure_client_port_address or None
            try:
                self.secure = AcceptLoop.bind(host, cfg.secure_client_port,
                                              self._dispatching(SECURE), backlog,
                                              cancel_on_close=True)
            except OSError as e:
                raise StartupError(listen_error("secure client port", host,
                                                cfg.secure_client_port, e)) from None

    async def open(self, start_serving: bool) -> None:
        """Bind both ports (those configured); raises StartupError when one cannot be bound.
        With start_serving False nothing is accepted until serve()."""
        cfg = self.cfg
        if self.dispatch is not None:
            await self._open_dispatching()
            if start_serving:
                await self.serve()
            return
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
            secure_per_ip = self.secure_per_ip
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
