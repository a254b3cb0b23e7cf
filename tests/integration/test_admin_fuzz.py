"""Hostile HTTP on the AdminServer, pyzk against Java 3.8.0 (Jetty 9.4) side by side, and on
pyzk's Prometheus port (Java's provider jars are not in Debian: pyzk only, it must survive).

Each case of tests/fuzz/adminfuzz.py goes to both servers on a fresh connection; the status
codes, the JSON "error" values and whether the server closed must be equal, up to the entries of
tests/fuzz/admin_known_differences.py. Then half-sent requests (both close after
admin.idleTimeout), clients that never read (both drop them), many connections at once (both
go on answering, pyzk keeps none of them after the clients left), and at the end of each test
pyzk still answers on the admin and client ports with no traceback in its log.

Default run: the catalogue with 4 bogus queries per command and 150 random mutations of seed
ADMINFUZZ_SEED (default 1). ADMINFUZZ_SOAK=N: every command with every bogus query and N random
mutations for each of 5 seeds from ADMINFUZZ_SEED on (minutes for N=5000). Replay a seed with
ADMINFUZZ_SEED=<seed> ADMINFUZZ_SOAK=<N>.
"""

from __future__ import annotations

import fnmatch
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from kazoo.client import KazooClient

from tests.fuzz.admin_known_differences import ADMIN_KNOWN_DIFFERENCES
from tests.fuzz.adminfuzz import (
    STALLS,
    Case,
    Outcome,
    cases,
    established_from,
    get,
    many_connections,
    never_read,
    send_case,
    stall,
)
from tests.integration.test_admin_https import AdminProc, wait_admin_listening
from tests.servers import free_port, java_available

SUBNET = os.environ.get("ADMINFUZZ_SUBNET", "127.0.63")  # another /24: run beside CI
HOSTS = {"java": f"{SUBNET}.1", "pyzk": f"{SUBNET}.2"}
CLIENT_IP = f"{SUBNET}.9"  # the fuzzer's source address: its connections are told apart
IDLE_MS = 2000
PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
SEED = int(os.environ.get("ADMINFUZZ_SEED", "1"))
SOAK = int(os.environ.get("ADMINFUZZ_SOAK", "0"))
LOG_ALARMS = ("Traceback", "Task exception was never retrieved", "Unhandled exception",
              '"exception":', "never retrieved")


@dataclass
class Pair:
    java: AdminProc
    pyzk: AdminProc
    metrics_port: int

    def both(self) -> dict[str, AdminProc]:
        return {"java": self.java, "pyzk": self.pyzk}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    if not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    work = tmp_path_factory.mktemp("adminfuzz")
    metrics = free_port(HOSTS["pyzk"])
    procs = {}
    for kind, host in HOSTS.items():
        cfg = {"admin.enableServer": "true", "admin.serverAddress": host,
               "admin.serverPort": str(free_port(host)), "admin.idleTimeout": str(IDLE_MS)}
        if kind == "pyzk":
            cfg.update({"metricsProvider.className": PROMETHEUS,
                        "metricsProvider.httpHost": host, "metricsProvider.httpPort": str(metrics)})
        procs[kind] = AdminProc(kind, work / kind, host=host, cfg=cfg)
    try:
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(p.start) for p in procs.values()]:
                f.result()
        for p in procs.values():
            assert wait_admin_listening(p), p.tail_log()
        yield Pair(procs["java"], procs["pyzk"], metrics)
    finally:
        for p in procs.values():
            p.stop()


def connect_from_client_ip(host: str, port: int) -> socket.socket:
    s = socket.socket()
    s.bind((CLIENT_IP, 0))
    s.settimeout(10)
    s.connect((host, port))
    return s


def assert_pyzk_healthy(srv: AdminProc, metrics_port: int | None = None) -> None:
    """Still serving on the admin port, the client port (a write and a read) and /metrics, and
    nothing alarming in its log."""
    out = send_case(srv.host, srv.admin_port, Case("ruok", get()))
    assert out.statuses == (200,) and out.errors == ("null",), out
    zk = KazooClient(hosts=f"{srv.host}:{srv.port}", timeout=10)
    zk.start(timeout=10)
    try:
        path = zk.create("/adminfuzz-", b"alive", sequence=True)
        assert zk.get(path)[0] == b"alive"
    finally:
        zk.stop()
        zk.close()
    if metrics_port is not None:
        assert send_case(srv.host, metrics_port, Case("metrics", get("/metrics"))).statuses[:1] \
            == (200,)
    log = srv.log_path.read_text(errors="replace")
    alarms = [line for line in log.splitlines() if any(a in line for a in LOG_ALARMS)]
    assert not alarms, "\n".join(alarms[:5])


def accepted(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, k.pattern) for k in ADMIN_KNOWN_DIFFERENCES)


def run_both(pair: Pair, batch: list[Case]) -> dict[str, list[Outcome]]:
    results: dict[str, list[Outcome]] = {}
    with ThreadPoolExecutor(4) as pool:
        for kind, srv in pair.both().items():
            results[kind] = list(pool.map(
                lambda c, s=srv: send_case(s.host, s.admin_port, c), batch))
    return results


def compare(pair: Pair, batch: list[Case]) -> list[str]:
    """Each case to both servers (4 at a time per server); the unexpected differences. A case
    whose answers differ is sent once more to both, one at a time (a loaded machine can
    delay an answer past send_case's quiet time); it counts only if they differ again."""
    first = run_both(pair, batch)
    differ = [i for i, (j, p) in enumerate(zip(first["java"], first["pyzk"], strict=True))
              if (j.statuses, j.end, j.errors) != (p.statuses, p.end, p.errors)
              and not accepted(batch[i].name)]
    diffs = []
    for i in differ:
        case = batch[i]
        j, p = (send_case(s.host, s.admin_port, case) for s in (pair.java, pair.pyzk))
        same = (j.statuses, j.end, j.errors) == (p.statuses, p.end, p.errors)
        if not same:
            diffs.append(f"{case.name!r} {case.data[:300]!r}: java {j} {j.errors[:2]} | "
                         f"pyzk {p} {p.errors[:2]}")
    return diffs


@pytest.mark.slow
@pytest.mark.java
def test_hostile_requests_get_javas_answers(pair: Pair) -> None:
    seeds = range(SEED, SEED + 5) if SOAK else [SEED]
    for seed in seeds:
        batch = (cases(seed, SOAK) if SOAK else cases(seed, 150, per_command=4))
        diffs = compare(pair, batch)
        assert not diffs, f"seed {seed}: {len(diffs)} differences:\n" + "\n".join(diffs[:40])
    assert_pyzk_healthy(pair.pyzk, pair.metrics_port)


@pytest.mark.slow
@pytest.mark.java
def test_stalled_unread_and_many_connections_like_java(pair: Pair) -> None:
    limit = IDLE_MS / 1000 + 4
    with ThreadPoolExecutor(2 * len(STALLS) + 2) as pool:
        stalls = {(kind, name): pool.submit(stall, srv.host, srv.admin_port, data, limit)
                  for kind, srv in pair.both().items() for name, data in STALLS.items()}
        unread = {kind: pool.submit(never_read, srv.host, srv.admin_port, limit + 4)
                  for kind, srv in pair.both().items()}
        for name in STALLS:
            j, jt = stalls["java", name].result()
            p, pt = stalls["pyzk", name].result()
            assert (p.statuses, p.end) == (j.statuses, j.end) == (p.statuses, "closed"), name
            assert pt < limit, (name, pt)
        for kind, f in unread.items():
            assert f.result()[0], f"{kind} kept a connection whose client never reads"
    for kind, srv in pair.both().items():
        held = []
        try:
            held = [connect_from_client_ip(srv.host, srv.admin_port) for _ in range(150)]
            for s in held:
                s.sendall(b"GET /commands/ruok HTTP/1.1\r\nHost")
            out = send_case(srv.host, srv.admin_port, Case("ruok", get()))
            assert out.statuses == (200,), (kind, out)
        finally:
            for s in held:
                s.close()
    deadline = time.monotonic() + 10
    while established_from(pair.pyzk.host, pair.pyzk.admin_port, CLIENT_IP) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert established_from(pair.pyzk.host, pair.pyzk.admin_port, CLIENT_IP) == 0
    assert_pyzk_healthy(pair.pyzk, pair.metrics_port)


@pytest.mark.slow
def test_metrics_port_survives_hostile_requests(pair: Pair) -> None:
    """prometheus-client's HTTP server: no comparison (no Java provider here), only that every
    case ends (answer or close) and the port, the server and its log stay fine."""
    srv = pair.pyzk
    batch = cases(SEED, 50, per_command=0)
    batch = [c for c in batch if not c.name.startswith("cmd ")]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda c: send_case(srv.host, pair.metrics_port, c,
                                                 limit_s=10), batch))
    assert len(outs) == len(batch)
    held = many_connections(srv.host, pair.metrics_port, 50)
    try:
        out = send_case(srv.host, pair.metrics_port, Case("metrics", get("/metrics")))
        assert out.statuses[:1] == (200,)
    finally:
        for s in held:
            s.close()
    assert_pyzk_healthy(srv, pair.metrics_port)

