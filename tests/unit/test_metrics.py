"""ServerMetrics keeps Java's names and mntr order, averages and percentiles as Java computes
them, and exports Java-named Prometheus families (gauges, untyped counters, summaries with
0.5/0.9/0.99 quantiles for ADVANCED and 0.5 for BASIC) on /metrics."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from pyzk.metrics import (
    ADVANCED_SUMMARIES,
    GAUGE_ORDER,
    PrometheusExporter,
    ServerMetrics,
    Summary,
    ZooKeeperCollector,
    exporter_from_config,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "fourlw" / "serving" / "4lw"
HOST = "127.0.0.61"


def test_metric_dump_has_javas_keys_in_javas_order() -> None:
    m = ServerMetrics()
    m.summary_set("read_per_namespace").add("golden", 1)
    m.summary_set("write_per_namespace").add("golden", 1)
    java = [ln.split("\t")[0][3:] for ln in (GOLDEN / "mntr.txt").read_text().splitlines()]
    java_after_gauges = java[2 + 24:]
    assert [k for k, _ in m.dump()] == java_after_gauges
    assert java[2:26] == list(GAUGE_ORDER[:24])


def test_summary_average_rounds_half_up_to_four_places_and_empty_is_zero() -> None:
    s = Summary("x")
    assert s.values()[:4] == [("avg_x", 0.0), ("min_x", 0), ("max_x", 0), ("cnt_x", 0)]
    for v in (1, 2, 2, 2, 2, 4):
        s.add(v)
    assert s.avg() == 2.1667 and (s.min, s.max, s.count, s.total) == (1, 4, 6, 13)


def test_advanced_summary_percentiles_follow_dropwizard_uniform_snapshot() -> None:
    s = Summary("lat", advanced=True)
    for v in range(1, 101):
        s.add(v)
    vals = dict(s.values())
    assert (vals["p50_lat"], vals["p95_lat"], vals["p99_lat"], vals["p999_lat"]) == \
        (51, 96, 100, 100)


def test_reset_all_zeroes_counters_and_summaries() -> None:
    m = ServerMetrics()
    m.counter("commit_count").add(3)
    m.summary("fsynctime").add(9)
    m.reset_all()
    assert m.counter("commit_count").value == 0 and m.summary("fsynctime").count == 0


def test_prometheus_exposition_uses_java_names_types_and_quantiles() -> None:
    m = ServerMetrics()
    m.counter("commit_count").add(2)
    m.summary("readlatency").add(5)
    m.summary("fsynctime").add(7)
    m.summary_set("write_per_namespace").add("app", 3)
    reg = CollectorRegistry()
    reg.register(ZooKeeperCollector(m, lambda: {"znode_count": 8, "avg_latency": 1.5,
                                                 "version": "x"}))
    text = generate_latest(reg).decode()
    assert "# TYPE znode_count gauge\nznode_count 8.0\n" in text
    assert "# TYPE commit_count untyped\ncommit_count 2.0\n" in text
    assert 'readlatency{quantile="0.5"} 5.0' in text
    assert 'readlatency{quantile="0.99"} 5.0' in text and "readlatency_count 1.0" in text
    assert 'fsynctime{quantile="0.5"} 7.0' in text and 'fsynctime{quantile="0.9"}' not in text
    assert 'write_per_namespace{key="app",quantile="0.5"} 3.0' in text
    assert not any(ln.startswith("zk_") or "_total" in ln for ln in text.splitlines())
    assert all(f"# TYPE {n} summary" in text for n in ADVANCED_SUMMARIES)


def test_metrics_endpoint_only_with_prometheus_class_and_serves_slash_metrics() -> None:
    m = ServerMetrics()
    assert exporter_from_config({}, m, dict) is None
    exp = exporter_from_config({
        "metricsProvider.className":
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        "metricsProvider.httpHost": HOST, "metricsProvider.httpPort": "0",
        "metricsProvider.exportJvmInfo": "false"}, m, lambda: {"znode_count": 5})
    assert exp is not None
    exp.start()
    try:
        with urllib.request.urlopen(f"http://{HOST}:{exp.port}/metrics", timeout=10) as r:
            body = r.read().decode()
        assert "znode_count 5.0" in body and "commit_count 0.0" in body
    finally:
        exp.stop()


def test_metrics_endpoint_drops_idle_connections_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    """Java's /metrics is a Jetty connector (30 s idle timeout). prometheus-client's own server
    kept a connection that sent nothing or half a request, and its thread, for as long as the
    client liked (seen: 300 such connections, 304 threads); now the idle timeout drops it."""
    exp = PrometheusExporter(CollectorRegistry(), HOST, 0, idle_timeout_s=0.5)
    exp.start()
    try:
        for data in (b"", b"GET /metrics HTTP/1.1\r\nHo"):
            with socket.create_connection((HOST, exp.port), timeout=10) as s:
                s.sendall(data)
                t0 = time.monotonic()
                assert s.recv(100) == b""  # closed by the server, well before the 10 s timeout
                assert time.monotonic() - t0 < 5
        with urllib.request.urlopen(f"http://{HOST}:{exp.port}/metrics", timeout=10) as r:
            assert r.status == 200
    finally:
        exp.stop()
    assert "Traceback" not in capfd.readouterr().err
