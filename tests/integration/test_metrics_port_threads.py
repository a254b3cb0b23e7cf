"""Idle connections to the Prometheus port cost the server no threads (hostile input).

prometheus-client's ThreadingWSGIServer ran a thread per connection: 3000 idle connections
held for the 30 s idle timeout made 3007 threads, and a client opening them faster could use
up the process's threads, so that the txn-log fsync (run_in_executor) could not start one.
Java's Jetty connector keeps idle connections on its selector; pyzk.metrics_http holds them
on one thread's event loop. Here 2000 idle connections (half of them with half a request
head) are opened to a running server: its thread count stays small while /metrics is scraped
and the client port serves a write and a read.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.servers import ServerProc, free_port

HOST = "127.0.68.50"
PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
IDLE_CONNECTIONS = 2000
MAX_THREADS = 50
BATCH = 100


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no Threads line for pid {pid}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProc, int]]:
    metrics = free_port(HOST)
    proc = ServerProc("pyzk", tmp_path / "pyzk", host=HOST, cfg={
        "metricsProvider.className": PROMETHEUS, "metricsProvider.httpHost": HOST,
        "metricsProvider.httpPort": str(metrics), "metricsProvider.exportJvmInfo": "false"})
    try:
        proc.start()
        yield proc, metrics
    finally:
        proc.stop()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def test_idle_metrics_connections_do_not_add_threads(server: tuple[ServerProc, int]) -> None:
    proc, port = server
    assert proc.proc is not None
    assert "znode_count" in scrape(port)
    before = threads_of(proc.proc.pid)
    held: list[socket.socket] = []
    try:
        for i in range(IDLE_CONNECTIONS):
            s = socket.create_connection((HOST, port), timeout=10)
            held.append(s)
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
            if i % BATCH == BATCH - 1:
                # Accepted in order: once a later connection is answered, these are all held
                # (a batch stays within the listen backlog, so no connect waits on a SYN retry).
                assert "znode_count" in scrape(port)
        during = threads_of(proc.proc.pid)
        assert during < MAX_THREADS, (before, during)
        zk = KazooClient(hosts=proc.address, timeout=10)
        zk.start(timeout=10)
        try:
            path = zk.create("/metrics-threads-", b"alive", sequence=True)
            assert zk.get(path)[0] == b"alive"
        finally:
            zk.stop()
            zk.close()
        assert threads_of(proc.proc.pid) < MAX_THREADS
    finally:
        for s in held:
            s.close()
    assert "Traceback" not in proc.tail_log(200)
