"""pyzk.metrics_http: the /metrics port on one event-loop thread (Jetty's connector rules for
heads, keep-alive, bodies and the idle timeout) with prometheus-client's app rendering on one
more thread."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pyzk.metrics import PrometheusExporter, ServerMetrics, ZooKeeperCollector

HOST = "127.0.68.7"
GET = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


class Gauge(Collector):
    def __init__(self) -> None:
        self.fail = False

    def collect(self) -> Iterable[Metric]:
        if self.fail:
            raise RuntimeError("collector broke")
        yield GaugeMetricFamily("znode_count", "znode_count", value=5)


@pytest.fixture
def gauge() -> Gauge:
    return Gauge()


@pytest.fixture
def exporter(gauge: Gauge) -> Iterator[PrometheusExporter]:
    reg = CollectorRegistry()
    reg.register(gauge)
    exp = PrometheusExporter(reg, HOST, 0, idle_timeout_s=0.5)
    exp.start()
    try:
        yield exp
    finally:
        exp.stop()


def exchange(port: int, data: bytes, limit_s: float = 5.0) -> tuple[bytes, bool]:
    """Send data; read until the server closes (True) or is quiet for 0.3 s (False)."""
    got = b""
    with socket.create_connection((HOST, port), timeout=limit_s) as s:
        s.sendall(data)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            s.settimeout(0.3)
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return got, False
            if not chunk:
                return got, True
            got += chunk
    return got, False


def statuses(data: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def test_keep_alive_pipelining_bodies_skipped_and_http10_closes(
        exporter: PrometheusExporter) -> None:
    with_body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    chunked = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n0\r\n\r\n")
    got, closed = exchange(exporter.port, with_body + chunked + GET)
    assert statuses(got) == [200, 200, 200] and not closed
    assert got.count(b"znode_count 5.0") == 3 and b"Connection: keep-alive" in got
    got, closed = exchange(exporter.port, b"GET /metrics HTTP/1.0\r\n\r\n" + GET)
    assert statuses(got) == [200] and closed and b"Connection: close" in got
    got, closed = exchange(exporter.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                           b"Connection: close\r\n\r\n" + GET)
    assert statuses(got) == [200] and closed


def test_the_servlet_is_mapped_at_metrics_only_with_httpservlets_methods(
        exporter: PrometheusExporter) -> None:
    """PrometheusMetricsProvider: addServlet(MetricsServlet, "/metrics") in a
    ServletContextHandler; HttpServlet.service picks the method."""
    got, _ = exchange(exporter.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + GET)
    assert statuses(got) == [200, 200]  # doHead = doGet without the body
    assert got.index(b"HTTP/1.1 200", 1) == got.index(b"\r\n\r\n") + 4
    assert got.count(b"znode_count 5.0") == 1
    got, _ = exchange(exporter.port, b"POST /metrics HTTP/1.0\r\n\r\n")  # doPost = doGet
    assert statuses(got) == [200] and b"znode_count 5.0" in got
    for other in (b"/", b"/anything?x=1", b"/metrics/", b"/favicon.ico"):
        got, _ = exchange(exporter.port, b"GET " + other + b" HTTP/1.0\r\n\r\n")
        assert statuses(got) == [404] and b"znode_count" not in got, other
    got, _ = exchange(exporter.port, b"OPTIONS /metrics HTTP/1.0\r\n\r\n")
    assert statuses(got) == [200] and b"Allow: GET, HEAD, POST, TRACE, OPTIONS" in got
    got, _ = exchange(exporter.port, b"PUT /metrics HTTP/1.0\r\n\r\n")
    assert statuses(got) == [405]
    got, _ = exchange(exporter.port, b"TRACE /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(got) == [200] and b"\r\n\r\nTRACE /metrics HTTP/1.1\r\n" in got
    with urllib.request.urlopen(f"http://{HOST}:{exporter.port}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert r.headers.get("Content-Encoding") is None  # simpleclient's servlet: no gzip


def test_name_filter_keeps_the_named_samples(exporter: PrometheusExporter) -> None:
    """CollectorRegistry.filteredMetricFamilySamples: samples by name; families left empty
    go."""
    got, _ = exchange(exporter.port, b"GET /metrics?name[]=znode_count HTTP/1.0\r\n\r\n")
    assert statuses(got) == [200] and b"znode_count 5.0" in got
    got, _ = exchange(exporter.port, b"GET /metrics?name[]=nothing&name[]=x HTTP/1.0\r\n\r\n")
    assert statuses(got) == [200] and b"znode_count" not in got


@pytest.mark.parametrize(("data", "status"), [
    (b"GET /metrics\r\n\r\n", 505),
    (b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /metrics HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET /metrics HTTP/1.1\r\nHost: x", 400),  # the stream ends inside the head
])
def test_refused_heads_get_jettys_status_and_close(exporter: PrometheusExporter, data: bytes,
                                                   status: int) -> None:
    with socket.create_connection((HOST, exporter.port), timeout=5) as s:
        s.sendall(data)
        if not data.endswith(b"\r\n\r\n"):
            s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert statuses(got) == [status]


def test_idle_timeout_closes_between_requests_and_a_failed_scrape_is_a_500(
        exporter: PrometheusExporter, gauge: Gauge) -> None:
    with socket.create_connection((HOST, exporter.port), timeout=5) as s:
        s.sendall(GET)
        t0 = time.monotonic()
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        assert statuses(got) == [200] and time.monotonic() - t0 < 4  # closed once idle 0.5 s
    gauge.fail = True
    got, _ = exchange(exporter.port, GET)
    assert statuses(got) == [500]
    gauge.fail = False
    assert statuses(exchange(exporter.port, GET)[0]) == [200]


def test_connections_add_no_threads_and_stop_closes_them(exporter: PrometheusExporter) -> None:
    assert statuses(exchange(exporter.port, GET)[0]) == [200]
    before = threading.active_count()
    held = [socket.create_connection((HOST, exporter.port), timeout=5) for _ in range(100)]
    try:
        assert statuses(exchange(exporter.port, GET)[0]) == [200]  # all 100 accepted by now
        assert threading.active_count() == before
        exporter.stop()
        held[0].settimeout(5)
        assert held[0].recv(10) == b""
    finally:
        for s in held:
            s.close()


def test_collector_samples_on_the_servers_loop_and_renders_off_it() -> None:
    """ZooKeeperCollector hops onto the given loop for its gauges; the rendering thread is
    neither that loop's nor the connections' one."""
    seen: list[str] = []

    def gauges() -> dict[str, int]:
        seen.append(threading.current_thread().name)
        return {"znode_count": 3}

    async def main() -> str:
        reg = CollectorRegistry()
        reg.register(ZooKeeperCollector(ServerMetrics(), gauges, asyncio.get_running_loop()))
        exp = PrometheusExporter(reg, HOST, 0)
        exp.start()
        try:
            url = f"http://{HOST}:{exp.port}/metrics"

            def fetch() -> str:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return str(r.read().decode())
            return await asyncio.to_thread(fetch)
        finally:
            exp.stop()

    assert "znode_count 3.0" in asyncio.run(main())
    assert seen == [threading.current_thread().name]


def test_an_answer_to_a_client_that_has_gone_is_dropped_quietly_under_uvloop() -> None:
    """uvloop raises RuntimeError on a write to a closed transport (asyncio's loop only warns):
    write_all, which the metrics port and the AdminServer answer through, must see the closed
    connection and return False instead of ending the handler with that error."""
    import uvloop

    from pyzk.fourlw.http_stream import write_all

    async def main() -> None:
        srv = await asyncio.start_server(lambda r, w: None, HOST, 0)
        port = srv.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection(HOST, port)
        writer.close()
        await writer.wait_closed()  # the transport is closed, as after a client's reset
        assert await write_all(writer, b"HTTP/1.1 200 OK\r\n\r\n", 1.0) is False
        srv.close()

    uvloop.run(main())
