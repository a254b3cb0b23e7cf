"""The AdminServer (JettyAdminServer.java) as a small HTTP/1.1 server on asyncio streams:
GET <commandURL> lists the commands as links, GET <commandURL>/<name>?k=v runs one and answers
Jackson-styled JSON. Keys: admin.enableServer, admin.serverAddress, admin.serverPort,
admin.idleTimeout, admin.commandURL; admin.forceHttps (TLS only) and admin.portUnification (a
first byte 0x16 is TLS, anything else HTTP: UnifiedConnectionFactory) with the SSLContext the
caller builds. HTTPS answers carry Jetty's SecureRequestCustomizer header (HSTS, one day).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable, Mapping

from pyzk.fourlw.commands import AdminServerError, admin_json, admin_response, command_links
from pyzk.fourlw.http import PARSE_ERRORS, body_of, decode_target, parse_query
from pyzk.fourlw.http_stream import REASONS as _REASONS
from pyzk.fourlw.http_stream import bad_message, next_head, skip_body, write_all
from pyzk.fourlw.info import ServerView
from pyzk.server.unified import AcceptLoop, peek_head

DEFAULT_PORT = 8080
DEFAULT_ADDRESS = "0.0.0.0"
DEFAULT_IDLE_TIMEOUT_MS = 30000
DEFAULT_COMMAND_URL = "/commands"
MAX_HEADER_BYTES = 16384
TLS_HANDSHAKE_RECORD = 0x16
HSTS = "max-age=86400; includeSubDomains"  # JettyAdminServer.DEFAULT_STS_MAX_AGE, subdomains


class AdminServer:
    """`view()` returns the current ServerView, or None while no server is running."""

    def __init__(self, view: Callable[[], ServerView | None], host: str = DEFAULT_ADDRESS,
                 port: int = DEFAULT_PORT, command_url: str = DEFAULT_COMMAND_URL,
                 idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS,
                 tls: ssl.SSLContext | None = None, force_https: bool = False) -> None:
        """tls: HTTPS with this context; only HTTPS when force_https, else both (unified)."""
        self.view, self.host, self.port = view, host, port
        self.command_url = "/" + command_url.strip("/")
        self.idle_timeout = idle_timeout_ms / 1000.0
        self.tls, self.force_https = tls, force_https
        self._server: asyncio.base_events.Server | AcceptLoop | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, str],
                    view: Callable[[], ServerView | None]) -> AdminServer | None:
        """None when admin.enableServer=false (default true, as Java)."""
        if cfg.get("admin.enableServer", "true").strip().lower() == "false":
            return None
        return cls(view, cfg.get("admin.serverAddress", DEFAULT_ADDRESS).strip(),
                   int(cfg.get("admin.serverPort", str(DEFAULT_PORT))),
                   cfg.get("admin.commandURL", DEFAULT_COMMAND_URL).strip(),
                   int(cfg.get("admin.idleTimeout", str(DEFAULT_IDLE_TIMEOUT_MS))))

    async def start(self) -> None:
        if self.tls is not None and not self.force_https:
            loop = AcceptLoop.bind(self.host, self.port, self._unified, cancel_on_close=True)
            await loop.start_serving()
            self._server = loop
        else:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, limit=MAX_HEADER_BYTES, ssl=self.tls,
                ssl_handshake_timeout=self.idle_timeout if self.tls is not None else None)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _unified(self, sock: socket.socket) -> None:
        """UnifiedConnectionFactory: one byte read ahead; 0x16 starts a TLS handshake."""
        try:
            head = await asyncio.wait_for(peek_head(sock, lambda h: len(h) >= 1),
                                          self.idle_timeout)
        except (OSError, TimeoutError):
            sock.close()
            return
        tls = self.tls if head[:1] == bytes([TLS_HANDSHAKE_RECORD]) else None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_HEADER_BYTES)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=tls,
                ssl_handshake_timeout=self.idle_timeout if tls is not None else None)
        except (OSError, ssl.SSLError, TimeoutError):
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]
        await self._serve(reader, writer)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def handle(self, method: str, target: str) -> tuple[int, str, str]:
        """(status, content type, body) for one request; no I/O, so tests call it directly."""
        return self.dispatch(method, target.encode("utf-8"))

    def dispatch(self, method: str, target: bytes) -> tuple[int, str, str]:
        """Jetty's URI checks, the TRACE constraint, HttpServlet.service's methods (every path
        has a servlet: CommandServlet or Jetty's Default404Servlet), then CommandServlet."""
        decoded = decode_target(target)
        if decoded is None:
            return bad_message(400)
        if method == "TRACE":
            return 403, "text/html;charset=iso-8859-1", error_page(403, "!role")
        if method in ("POST", "PUT", "DELETE"):
            return 405, "text/plain", "HTTP method not allowed\n"
        if method == "OPTIONS":
            return 200, "", ""
        if method not in ("GET", "HEAD"):
            return 501, "text/html;charset=iso-8859-1", error_page(501, "Method not implemented")
        path, query = decoded
        base = self.command_url
        if path in (base, base + "/"):
            return 200, "text/html;charset=utf-8", command_links(base)
        if not path.startswith(base + "/"):
            return 404, "text/plain", "Not Found\n"
        name = path[len(base) + 1:]
        kwargs = parse_query(query)
        if kwargs is None:
            return bad_message(400)
        try:
            resp = admin_response(name, self.view(), kwargs)
        except AdminServerError:
            return 500, "text/plain", f"Error 500 command {name} needs a running server\n"
        return 200, "application/json", admin_json(resp)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        secure = writer.get_extra_info("ssl_object") is not None
        pending: bytes | None = b""
        served = False
        try:
            while pending is not None:
                head, pending = await next_head(reader, pending, served, self.idle_timeout)
                served = True
                if head is None:
                    return
                if isinstance(head, int):
                    await self._write(writer, *bad_message(head), False, False, secure)
                    return
                view = self.view()
                gather = getattr(view, "gather", None)
                if gather is not None:
                    await gather()  # a server with worker processes: their parts too
                status, ctype, body = self.dispatch(head.method, head.target)
                keep = head.keep_alive and status not in PARSE_ERRORS
                if not await self._write(writer, status, ctype, body, keep,
                                         head.method == "HEAD", secure) or not keep:
                    return
                pending = await skip_body(reader, body_of(head), pending, self.idle_timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _write(self, writer: asyncio.StreamWriter, status: int, ctype: str, body: str,
                     keep: bool, head_only: bool, secure: bool = False) -> bool:
        """False when the client did not take the answer within idle_timeout (Jetty's idle
        timeout covers blocked writes too): the connection is dropped."""
        payload = body.encode("utf-8")
        hsts = f"Strict-Transport-Security: {HSTS}\r\n" if secure else ""
        ctype_line = f"Content-Type: {ctype}\r\n" if ctype else ""
        allow = "Allow: GET, HEAD, TRACE, OPTIONS\r\n" if status == 200 and not ctype else ""
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n{hsts}{allow}"
                f"{ctype_line}Content-Length: {len(payload)}\r\n"
                f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n")
        data = head.encode("latin-1") + (b"" if head_only else payload)
        return await write_all(writer, data, self.idle_timeout)


def error_page(status: int, reason: str) -> str:
    """Jetty's ErrorHandler page, short."""
    return (f"<html><head><title>Error {status} {reason}</title></head><body>"
            f"<h2>HTTP ERROR {status} {reason}</h2></body></html>\n")

