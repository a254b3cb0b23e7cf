"""One listening port for TLS and plaintext: peek at the first bytes of each accepted socket,
then hand it on as a TLS or a plaintext connection.

Two Java users, one test (Netty's SslHandler.isEncrypted on a 5-byte record header):
- the quorum and election ports (UnifiedServerSocket: sslQuorum / portUnification) wait for
  5 bytes, at most handshakeDetectionTimeoutMillis (pyzk.server.quorum_net);
- the client port with client.portUnification (NettyServerCnxnFactory.DualModeSslHandler):
  5 bytes, or fewer whose first byte is not a TLS handshake record (a four-letter word),
  which is plaintext at once; no timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("pyzk.unified")

TLS_HEADER_BYTES = 5
TLS_HANDSHAKE_RECORD = 22
_TLS_CONTENT_TYPES = frozenset({20, 21, 22, 23, 24})  # SslUtils: record content types
OnSocket = Callable[[socket.socket], Awaitable[None]]


def looks_like_tls(head: bytes) -> bool:
    """SslHandler.isEncrypted on the first 5 bytes: a TLS record header (content type,
    major version 3, a length within one record)."""
    if len(head) < TLS_HEADER_BYTES:
        return False
    length = int.from_bytes(head[3:5], "big")
    return head[0] in _TLS_CONTENT_TYPES and head[1] == 3 and 0 < length <= 18432


def header_complete(head: bytes) -> bool:
    """UnifiedServerSocket: decide once 5 bytes are there (or at EOF, by peek_head)."""
    return len(head) >= TLS_HEADER_BYTES


def client_port_decided(head: bytes) -> bool:
    """DualModeSslHandler.decode: 5 bytes, or a first byte that cannot start a handshake."""
    return len(head) >= TLS_HEADER_BYTES or (len(head) > 0 and head[0] != TLS_HANDSHAKE_RECORD)


async def peek_head(sock: socket.socket, decided: Callable[[bytes], bool]) -> bytes:
    """The first bytes of a non-blocking socket, left unread, once `decided` says they suffice
    (or the peer closed: then what there is, maybe b""). OSError when the socket fails."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            head: bytes | None = sock.recv(TLS_HEADER_BYTES, socket.MSG_PEEK)
        except BlockingIOError:
            head = None
        if head is not None and (head == b"" or decided(head)):
            return head
        if head is not None:
            await asyncio.sleep(0.005)  # part of the header has arrived: the rest is close
            continue
        ready = loop.create_future()
        loop.add_reader(sock.fileno(), ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(sock.fileno())


class AcceptLoop:
    """A listening socket whose accepted sockets go to `on_socket` (each in its own task), the
    part of an asyncio.Server a unified port needs: sockets, start_serving, close."""

    def __init__(self, sock: socket.socket, on_socket: OnSocket,
                 cancel_on_close: bool = False) -> None:
        """cancel_on_close: close() also cancels on_socket calls still running (for callers
        whose on_socket only sets a connection up, or serves it and may stop with the port)."""
        sock.setblocking(False)
        self.cancel_on_close = cancel_on_close
        self.sock = sock
        self.sockets = [sock]
        self.on_socket = on_socket
        self.task: asyncio.Future[None] | None = None
        self.conns: set[asyncio.Future[None]] = set()
        self.closed = False

    @classmethod
    def bind(cls, host: str | None, port: int, on_socket: OnSocket, backlog: int = 1024,
             cancel_on_close: bool = False) -> AcceptLoop:
        family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
        sock = socket.create_server((host or "", port), family=family, backlog=backlog)
        return cls(sock, on_socket, cancel_on_close)

    async def start_serving(self) -> None:
        if self.task is None and not self.closed:
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except OSError as e:
                if self.closed:
                    return
                log.warning("accept failed", error=str(e))
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            t = asyncio.ensure_future(self._guarded(conn))
            self.conns.add(t)
            t.add_done_callback(self.conns.discard)

    async def _guarded(self, conn: socket.socket) -> None:
        try:
            await self.on_socket(conn)
        except Exception as e:  # noqa: BLE001 - one bad connection must not end the loop
            log.warning("connection setup failed", error=repr(e))
            conn.close()

    def close(self) -> None:
        self.closed = True
        if self.task is not None:
            self.task.cancel()
        if self.cancel_on_close:
            for t in list(self.conns):
                t.cancel()
        self.sock.close()

    async def wait_closed(self) -> None:
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
