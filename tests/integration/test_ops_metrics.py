"""Operations: pyzk's /metrics carries Java's family names, and mntr, the AdminServer `monitor`
and /metrics report the same values recorded from the server's real events.

Java's Prometheus provider jars are not in Debian, so the reference list of names
(tests/golden/prometheus/java-3.8.0-standalone-families.txt) is generated from the 3.8.0 source
(ServerMetrics.java + ZooKeeperServer.registerMetrics) by generate_java_names.py there.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.itest_util import wait_for
from tests.servers import REPO, ServerProc, free_port

HOST = "127.0.0.91"
GOLDEN = REPO / "tests" / "golden" / "prometheus" / "java-3.8.0-standalone-families.txt"
PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
# Runtime families (Java's DefaultExports jvm_*/process_*, prometheus-client's python_*/process_*)
# describe the VM, not ZooKeeper.
RUNTIME_PREFIXES = ("jvm_", "process_", "python_")


def four_letter(port: int, word: str) -> str:
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(word.encode())
        chunks: list[bytes] = []
        while True:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks).decode()
            chunks.append(b)


def http_get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=10) as resp:
        return str(resp.read().decode())


class Ops:
    def __init__(self, proc: ServerProc, admin_port: int, metrics_port: int) -> None:
        self.proc, self.admin_port, self.metrics_port = proc, admin_port, metrics_port

    def mntr(self) -> dict[str, str]:
        return dict(line.split("\t", 1) for line in four_letter(self.proc.port, "mntr")
                    .splitlines())

    def families(self) -> dict[str, Any]:
        text = http_get(self.metrics_port, "/metrics")
        return {f.name: f for f in text_string_to_metric_families(text)}


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    admin, metrics = free_port(HOST), free_port(HOST)
    proc = ServerProc("pyzk", tmp_path_factory.mktemp("ops-metrics"), host=HOST, cfg={
        "admin.enableServer": "true", "admin.serverAddress": HOST,
        "admin.serverPort": str(admin), "metricsProvider.className": PROMETHEUS,
        "metricsProvider.httpHost": HOST, "metricsProvider.httpPort": str(metrics)})
    try:
        proc.start()
        yield Ops(proc, admin, metrics)
    finally:
        proc.stop()


@pytest.fixture
def client(ops: Ops) -> Iterator[KazooClient]:
    zk = KazooClient(hosts=f"{HOST}:{ops.proc.port}", timeout=10)
    zk.start(timeout=15)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def java_families() -> dict[str, str]:
    lines = GOLDEN.read_text().splitlines()
    return dict(line.split() for line in lines if line and not line.startswith("#"))


def test_metrics_endpoint_serves_exactly_javas_zookeeper_family_names(ops: Ops) -> None:
    java = set(java_families())  # includes jvm_pause_time_ms, a ZooKeeper summary
    got = {n for n in ops.families() if n in java or not n.startswith(RUNTIME_PREFIXES)}
    assert got == java


def test_metrics_endpoint_family_types_follow_javas_provider(ops: Ops) -> None:
    fams = ops.families()
    for name, kind in java_families().items():
        want = {"gauge": "gauge", "gaugeset": "gauge", "summary": "summary",
                "summaryset": "summary", "counter": "unknown", "counterset": "unknown"}[kind]
        # Counters are untyped on purpose: prometheus-client would append _total, Java 3.8's
        # simpleclient 0.9 does not (see pyzk.metrics.ZooKeeperCollector).
        assert fams[name].type == want, name


def test_namespace_sizes_and_latencies_agree_across_mntr_monitor_and_metrics(
        ops: Ops, client: KazooClient) -> None:
    client.ensure_path("/opsns/a")
    client.set("/opsns/a", b"12345")
    client.get("/opsns/a")
    client.get_children("/opsns")
    mntr = ops.mntr()
    monitor = json.loads(http_get(ops.admin_port, "/commands/monitor"))
    fams = ops.families()
    # ensure_path creates /opsns and /opsns/a; set writes 8 + 5 bytes.
    writes = int(mntr["zk_cnt_opsns_write_per_namespace"])
    assert writes >= 3 and int(mntr["zk_max_opsns_write_per_namespace"]) >= len("/opsns/a") + 5
    # getData: path + data + STAT_OVERHEAD_BYTES (68)
    assert int(mntr["zk_max_opsns_read_per_namespace"]) >= len("/opsns/a") + 5 + 68
    assert monitor["cnt_opsns_write_per_namespace"] == writes
    samples = {(s.name, s.labels.get("key")): s.value
               for s in fams["write_per_namespace"].samples}
    assert samples[("write_per_namespace_count", "opsns")] == writes
    assert int(mntr["zk_cnt_updatelatency"]) >= 3 and int(mntr["zk_cnt_readlatency"]) >= 2
    assert int(mntr["zk_cnt_fsynctime"]) >= 1 and int(mntr["zk_bytes_received_count"]) > 0
    assert int(mntr["zk_max_client_response_size"]) > 0
    count = {s.name: s.value for s in fams["fsynctime"].samples}["fsynctime_count"]
    assert count >= int(mntr["zk_cnt_fsynctime"])  # one source: it can only have grown


def test_watch_fanout_counts_each_triggered_watch(ops: Ops, client: KazooClient) -> None:
    client.ensure_path("/opswatch")
    before = int(ops.mntr()["zk_sum_node_changed_watch_count"])
    fired: list[Any] = []
    client.get("/opswatch", watch=fired.append)
    client.set("/opswatch", b"x")
    wait_for(lambda: fired, what="data watch")
    assert int(ops.mntr()["zk_sum_node_changed_watch_count"]) == before + 1


def test_cons_names_last_operation_like_java(ops: Ops, client: KazooClient) -> None:
    client.ensure_path("/opscons")
    sid = f"0x{client.client_id[0]:x}"

    def last_op_after(call: Any) -> str:
        # A client ping between the call and `cons` would show lop=PING: retry a few times.
        for _ in range(5):
            call()
            line = next(ln for ln in four_letter(ops.proc.port, "cons").splitlines()
                        if sid in ln)
            op = re.search(r"lop=(\w+)", line).group(1)  # type: ignore[union-attr]
            if op != "PING":
                return op
        return "PING"

    assert last_op_after(lambda: client.get("/opscons")) == "GETD"
    assert last_op_after(lambda: client.exists("/opscons")) == "EXIS"
    assert last_op_after(lambda: client.set("/opscons", b"v")) == "SETD"
    with pytest.raises(NodeExistsError):
        client.create("/opscons")
    assert last_op_after(lambda: None) == "NA"  # a failed write: Java names no op


def test_dump_lists_every_connection_in_its_expiry_bucket(ops: Ops, client: KazooClient) -> None:
    sid = f"0x{client.client_id[0]:x}"
    dump = four_letter(ops.proc.port, "dump")
    conns = dump.split("Connections dump:\n", 1)[1]
    assert re.search(rf"\tip: /[\d.]+:\d+ sessionId: {sid}\n", conns)
    # the asking connection itself, before any session (sessionless timeout bucket)
    assert re.search(r"\tip: /[\d.]+:\d+ sessionId: 0x0\n", conns)


def test_stat_reset_keeps_namespace_keys_with_zero_values(ops: Ops, client: KazooClient) -> None:
    client.ensure_path("/opsreset")
    four_letter(ops.proc.port, "srst")
    mntr = ops.mntr()
    assert mntr["zk_cnt_opsreset_write_per_namespace"] == "0"
    assert mntr["zk_cnt_fsynctime"] == "0"


def test_golden_reference_list_is_current() -> None:
    """The generator's output is what is checked in (guards hand edits)."""
    text = GOLDEN.read_text()
    assert text.startswith("# generated by generate_java_names.py")
    assert Path(GOLDEN.with_name("generate_java_names.py")).exists()
