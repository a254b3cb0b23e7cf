"""The Prometheus /metrics port without a thread per connection, as Java's Jetty connector holds
it (PrometheusMetricsProvider: Server(InetSocketAddress), an NIO ServerConnector whose
selector keeps idle connections, a bounded thread pool, a 30 s idle timeout, no connection
limit).

One thread ("prometheus-http") runs its own asyncio loop: it accepts, reads and parses requests
with Jetty 9.4's rules (pyzk.fourlw.http, as the AdminServer), drops a connection that sends
nothing (or half a head, or does not take its answer) for the idle timeout, and writes the
answers, keeping HTTP/1.1 connections alive. One more thread ("prometheus-render") builds each
answer, one scrape at a time, off both loops, as Java's ServletContextHandler does: the
MetricsServlet mapped at /metrics only (GET and POST scrape, HEAD is GET without the body,
`name[]` keeps the named samples), Jetty's Default404Servlet everywhere else. The collector hops
onto the server's main loop for its samples. So an idle connection costs a socket and a
coroutine, and the process's threads stay two whatever clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from urllib.parse import parse_qs

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from pyzk.fourlw.http import Head, body_of, decode_target
from pyzk.fourlw.http_stream import REASONS, bad_message, next_head, skip_body, write_all

log = structlog.get_logger("pyzk.metrics")

Answer = tuple[int, list[tuple[str, str]], bytes]
BACKLOG = 128  # socketserver's 5 dropped connections in a burst
STOP_WAIT_S = 5.0


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening (OSError when the address is taken, as Jetty's start fails)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                flags=socket.AI_PASSIVE)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Filtered:
    """CollectorRegistry.filteredMetricFamilySamples (simpleclient): only the samples whose name
    is asked for, and only the families that keep one."""

    def __init__(self, registry: CollectorRegistry, names: set[str]) -> None:
        self.registry, self.names = registry, names

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            kept = [s for s in family.samples if s.name in self.names]
            if kept:
                m = Metric(family.name, family.documentation, family.type, family.unit)
                m.samples = kept
                yield m


def servlet_answer(registry: CollectorRegistry, head: Head, path: str, query: bytes) -> Answer:
    """PrometheusMetricsProvider's ServletContextHandler: MetricsServlet at exactly /metrics
    (doGet, and doPost = doGet), Jetty's Default404Servlet elsewhere; HttpServlet.service
    picks the method (HEAD is doGet without the body, which the connection drops)."""
    method = head.method
    mapped = path == "/metrics"
    if method in ("GET", "HEAD") or (method == "POST" and mapped):
        if not mapped:
            return 404, [("Content-Type", "text/plain")], b"Not Found\n"
        accept = ",".join(v.decode("latin-1") for v in head.values("accept"))
        encoder, content_type = choose_encoder(accept)
        names = parse_qs(query.decode("latin-1")).get("name[]")
        target: CollectorRegistry | Filtered = registry if not names else \
            Filtered(registry, set(names))
        return 200, [("Content-Type", content_type)], encoder(target)  # type: ignore[arg-type]
    if method == "OPTIONS":
        allow = "GET, HEAD, POST, TRACE, OPTIONS" if mapped else "GET, HEAD, TRACE, OPTIONS"
        return 200, [("Allow", allow)], b""
    if method == "TRACE":
        echo = f"TRACE {path} {head.version}" + "".join(
            f"\r\n{k}: {v.decode('latin-1')}" for k, v in head.fields) + "\r\n"
        return 200, [("Content-Type", "message/http")], echo.encode("latin-1")
    if method in ("POST", "PUT", "DELETE"):
        return 405, [("Content-Type", "text/plain")], b"HTTP method not allowed\n"
    return 501, [("Content-Type", "text/html;charset=iso-8859-1")], (
        b"<html><head><title>Error 501 Method not implemented</title></head><body>"
        b"<h2>HTTP ERROR 501 Method not implemented</h2></body></html>\n")


def response_bytes(status: int, headers: list[tuple[str, str]], body: bytes, keep: bool,
                   head_only: bool) -> bytes:
    """An HTTP/1.1 answer with Content-Length (no body for HEAD)."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
             f"Date: {formatdate(usegmt=True)}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length",
                                                                       "connection")]
    lines += [f"Content-Length: {len(body)}", f"Connection: {'keep-alive' if keep else 'close'}"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


class MetricsHttpServer:
    """start() binds (raising OSError) and starts the two threads; stop() ends them."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int,
                 idle_timeout_s: float) -> None:
        self.registry, self.host, self.port = registry, host, port
        self.idle_timeout_s = idle_timeout_s
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._render = ThreadPoolExecutor(1, thread_name_prefix="prometheus-render")
        self._conns: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._sock = listening_socket(self.host, self.port)
        self.port = int(self._sock.getsockname()[1])  # resolves port 0 in tests
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="prometheus-http")
        self._thread.start()
        ready.wait(STOP_WAIT_S)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(self._stop_soon)
        thread.join(STOP_WAIT_S)
        self._render.shutdown(wait=False, cancel_futures=True)

    def _stop_soon(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        try:
            loop.run_until_complete(self._main(ready))
        except Exception as e:  # noqa: BLE001 - the endpoint ends, the server goes on
            log.error("metrics endpoint failed", error=repr(e))
        finally:
            ready.set()
            if self._sock is not None:
                self._sock.close()
            loop.close()

    async def _main(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._serve, sock=self._sock)
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            await self._requests(reader, writer)
            writer.close()  # the last answer goes out first, within the idle timeout
            await asyncio.wait_for(writer.wait_closed(), self.idle_timeout_s)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, asyncio.CancelledError):
            pass  # the client went away or did not take its answer, or the port stops
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.transport.abort()  # nothing left to do once closed

    async def _requests(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        """Request after request on one connection, until one closes it."""
        idle = self.idle_timeout_s
        pending: bytes | None = b""
        served = False
        while pending is not None:
            head, pending = await next_head(reader, pending, served, idle)
            served = True
            if head is None:
                return
            decoded = None if isinstance(head, int) else decode_target(head.target)
            if isinstance(head, int) or decoded is None:
                status, ctype, page = bad_message(head if isinstance(head, int) else 400)
                answer = response_bytes(status, [("Content-Type", ctype)],
                                        page.encode("latin-1"), False, False)
                await write_all(writer, answer, idle)
                return
            status, headers, body = await self._render_answer(head, *decoded)
            keep = head.keep_alive
            answer = response_bytes(status, headers, body, keep, head.method == "HEAD")
            if not await write_all(writer, answer, idle) or not keep:
                return
            pending = await skip_body(reader, body_of(head), pending, idle)

    async def _render_answer(self, head: Head, path: str, query: bytes) -> Answer:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._render, servlet_answer, self.registry,
                                              head, path, query)
        except Exception as e:  # noqa: BLE001 - a failed scrape is a 500, not a dead port
            log.warning("metrics scrape failed", error=repr(e))
            return 500, [("Content-Type", "text/plain; charset=utf-8")], b"scrape failed\n"
