"""Quotas against Java ZooKeeper 3.8.0, the same steps on both servers in each test.

zkCli's setquota/listquota/delquota (its own command classes, driven by tests/java/ZkCliScript)
print the same; the zookeeper_limits/zookeeper_stats znodes hold the same text after creates,
deletes, setData, multis, ephemeral cleanup and restarts; with enforceQuota the same writes fail
with QUOTAEXCEEDED and log the same "Quota exceeded" lines; mntr shows the same zk_*quota*
values, and pyzk's Prometheus endpoint serves those values.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.protocol.states import ZnodeStat
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import JAVA_CLASSPATH, ServerProc, compile_java, free_port, java_available

pytestmark = [pytest.mark.java,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

TESTS = Path(__file__).resolve().parent.parent
CLI_SOURCE = TESTS / "java" / "ZkCliScript.java"
RUN_CP = JAVA_CLASSPATH + ":/usr/share/java/slf4j-api.jar"
HOSTS = {"java": "127.0.0.86", "pyzk": "127.0.0.87"}
PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
QUOTA_ROOT = "/zookeeper/quota"
# RateLogger's first line for a message (ZooKeeperServer.checkQuota's WARN).
QUOTA_LOG = re.compile(r"Message:Quota exceeded: [^\"\n]*? Value:null")


def start_pair(workdir: Path, cfg: dict[str, str]) -> dict[str, ServerProc]:
    servers: dict[str, ServerProc] = {}
    for kind in ("java", "pyzk"):
        extra = dict(cfg)
        if kind == "pyzk":
            # Debian ships no Prometheus jars for Java; pyzk's endpoint is checked against
            # Java's mntr values instead.
            extra.update({"metricsProvider.className": PROMETHEUS,
                          "metricsProvider.httpHost": HOSTS[kind],
                          "metricsProvider.httpPort": str(free_port(HOSTS[kind]))})
        servers[kind] = ServerProc(kind, workdir / kind, host=HOSTS[kind], cfg=extra)
    try:
        for s in servers.values():
            s.start()
    except Exception:
        for s in servers.values():
            s.stop()
        raise
    return servers


@contextmanager
def server_pair(workdir: Path, cfg: dict[str, str]) -> Iterator[dict[str, ServerProc]]:
    servers = start_pair(workdir, cfg)
    try:
        yield servers
    finally:
        for s in servers.values():
            s.stop()


@contextmanager
def client(server: ServerProc) -> Iterator[KazooClient]:
    zk = KazooClient(hosts=server.address, timeout=10)
    zk.start(timeout=20)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def zkcli_script(server: ServerProc, commands: list[str]) -> str:
    classes = compile_java(CLI_SOURCE, "ZkCliScript", "")
    proc = subprocess.run(
        ["java", "-cp", f"{RUN_CP}:{classes}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=off",
         "ZkCliScript", server.address],
        input="".join(c + "\n" for c in commands), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def quota_znodes(zk: KazooClient) -> dict[str, str]:
    """Every znode under /zookeeper/quota with its data."""
    out: dict[str, str] = {}
    stack = [QUOTA_ROOT]
    for _ in range(10000):
        if not stack:
            return out
        path = stack.pop()
        data, _ = zk.get(path)
        out[path] = (data or b"").decode()
        stack.extend(f"{path}/{c}" for c in zk.get_children(path))
    raise AssertionError("quota subtree walk did not end")


def mntr_quota(server: ServerProc) -> dict[str, str]:
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"mntr")
        chunks = []
        for _ in range(10000):
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    lines = b"".join(chunks).decode().splitlines()
    return dict(ln.split("\t", 1) for ln in lines if "quota" in ln)


def prometheus_quota(server: ServerProc) -> dict[str, str]:
    """pyzk's /metrics quota samples in mntr's shape: zk_<key>_<family> -> value."""
    port = server.cfg["metricsProvider.httpPort"]
    with urllib.request.urlopen(f"http://{server.host}:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        if "quota" in fam.name:
            for s in fam.samples:
                out[f"zk_{s.labels['key']}_{s.name}"] = str(int(s.value))
    return out


def quota_log_lines(server: ServerProc) -> list[str]:
    return QUOTA_LOG.findall(server.log_path.read_text(errors="replace"))


def outcome(call: Any) -> str:
    try:
        result = call()
    except KazooException as e:
        return type(e).__name__
    if isinstance(result, list):  # a transaction's results (stats without their times)
        return repr([type(r).__name__ if isinstance(r, Exception)
                     else f"version={r.version}" if isinstance(r, ZnodeStat) else r
                     for r in result])
    return "ok"


def set_limits(zk: KazooClient, path: str, limits: str) -> None:
    """What zkCli's setquota does for a new quota: limits node first, then the stats node."""
    zk.ensure_path(QUOTA_ROOT + path)
    zk.create(f"{QUOTA_ROOT}{path}/zookeeper_limits", limits.encode())
    zk.create(f"{QUOTA_ROOT}{path}/zookeeper_stats", b"count=0,bytes=0")


def write_steps(zk: KazooClient, other: KazooClient) -> list[str]:
    """One scenario of writes against quotas; every step's outcome and the quota znodes after
    the interesting ones."""
    seen: list[str] = []

    def step(name: str, call: Any) -> None:
        seen.append(f"{name}: {outcome(call)}")

    def snap(name: str) -> None:
        seen.append(f"{name}: {sorted(quota_znodes(zk).items())}")

    zk.create("/h", b"abc")
    zk.create("/h/x", b"12")
    set_limits(zk, "/h", "count=-1,bytes=-1=;byteHardLimit=30;countHardLimit=6")
    zk.create("/s", b"")
    set_limits(zk, "/s", "count=2,bytes=4")
    snap("after setquota")
    step("create /h/y", lambda: zk.create("/h/y", b"1234"))
    step("create /h/y/z deep", lambda: zk.create("/h/y/z", b"1"))
    step("ephemeral /h/e", lambda: other.create("/h/e", b"eph", ephemeral=True))
    step("ephemeral /s/e", lambda: other.create("/s/e", b"eph", ephemeral=True))
    step("create up to count", lambda: zk.create("/h/w", b""))
    step("create over count", lambda: zk.create("/h/v", b""))
    step("setData over bytes", lambda: zk.set("/h/x", b"x" * 40))
    step("setData within bytes", lambda: zk.set("/h/x", b"x" * 10))
    step("setData over bytes again", lambda: zk.set("/h/x", b"x" * 30))
    snap("after hard limits")

    def multi_over() -> Any:
        # checkQuota reads the committed tree: the delete before it does not make room
        t = zk.transaction()
        t.delete("/h/y/z")
        t.create("/h/m1", b"m")
        return t.commit()
    step("multi over count", multi_over)

    def multi_within() -> Any:
        t = zk.transaction()
        t.set_data("/h/x", b"")
        t.create("/s/m", b"m")
        return t.commit()
    step("multi within", multi_within)
    snap("after multis")
    other.stop()  # closeSession removes the ephemerals
    snap("after session close")
    step("create after cleanup", lambda: zk.create("/h/m1", b"m"))
    step("delete /h/y/z", lambda: zk.delete("/h/y/z"))
    step("soft count exceeded", lambda: zk.create("/s/a", b"12345"))
    step("soft again", lambda: zk.create("/s/b", b""))
    step("soft setData", lambda: zk.set("/s/a", b"123456"))
    snap("after soft limits")
    return seen


def test_zkcli_quota_commands_print_the_same_against_pyzk_and_java(workdir: Path) -> None:
    commands = [
        "create /a x", "create /a/b yy", "create /b", "create /b/c",
        "setquota -n 3 /a", "listquota /a", "get /zookeeper/quota/a/zookeeper_stats",
        "setquota -N 4 /a", "setquota -B 10 /a", "listquota /a",
        "create /a/c 1", "create /a/d 1", "create /a/e 1", "set /a/c 12345678901",
        "listquota /a",
        "setquota -n 1 /a/b", "setquota -n 1 /nope", "setquota -n 0 /b", "setquota -b -1 /b",
        "setquota -N 1 /b", "listquota /b", "setquota -b 1 /b/c", "setquota -n 1 /",
        "setquota -n 1 /zookeeper/quota/x", "setquota /b",
        "delquota -B /a", "listquota /a", "delquota -n /a", "listquota /a",
        "get /zookeeper/quota/a/zookeeper_limits",
        "delquota /a", "listquota /a", "delquota /a", "listquota /nope",
        "ls -R /zookeeper/quota", "delquota /b", "ls /zookeeper/quota",
        # a quota on /zookeeper covers its own quota znodes
        "setquota -n 100 /zookeeper", "listquota /zookeeper", "create /zookeeper/x 12",
        "listquota /zookeeper", "delquota /zookeeper", "ls /zookeeper/quota",
    ]
    with server_pair(workdir, {"enforceQuota": "true"}) as servers:
        got = {kind: zkcli_script(s, commands) for kind, s in servers.items()}
    assert got["pyzk"] == got["java"]
    java = got["java"]
    assert "Output quota for /a count=3,bytes=-1=;byteHardLimit=10;countHardLimit=4" in java
    assert "Quota has exceeded : /a/e" in java
    assert "/a/b has a parent /a which has a quota" in java
    assert "[Warning]: the count quota you create is less than the existing count:2" in java


def test_stats_enforcement_metrics_and_restart_match_java(workdir: Path) -> None:
    with server_pair(workdir, {"enforceQuota": "true"}) as servers:
        steps, dumps, mntr, logs = {}, {}, {}, {}
        for kind, s in servers.items():
            with client(s) as zk, client(s) as other:
                steps[kind] = write_steps(zk, other)
                # A stats node rewritten by a client is recounted from the tree at the next
                # snapshot load (setupQuota), not at txn-log replay.
                zk.set(QUOTA_ROOT + "/s/zookeeper_stats", b"count=99,bytes=99")
                dumps[kind] = quota_znodes(zk)
            mntr[kind] = mntr_quota(s)
            logs[kind] = quota_log_lines(s)
        prom = prometheus_quota(servers["pyzk"])
        restarted = {}
        for kind, s in servers.items():
            s.stop()
            s.start()  # replays the txn log over the first snapshot: 99 stays
            with client(s) as zk:
                restarted[kind] = quota_znodes(zk)
            s.stop()
        # Java took a snapshot after that load (ZooKeeperServer.loadData); both servers start
        # from a copy of it and recount the stats nodes from the tree (setupQuota).
        loaded = {}
        copy = ServerProc("pyzk", workdir / "pyzk-on-java-dir", host=HOSTS["pyzk"])
        shutil.copytree(servers["java"].datadir, copy.datadir)
        for kind, s in (("java", servers["java"]), ("pyzk", copy)):
            s.start()
            try:
                with client(s) as zk:
                    loaded[kind] = quota_znodes(zk)
            finally:
                s.stop()
    assert steps["pyzk"] == steps["java"]
    assert dumps["pyzk"] == dumps["java"]
    assert mntr["pyzk"] == mntr["java"]
    assert logs["pyzk"] == logs["java"]
    assert restarted["pyzk"] == restarted["java"]
    assert loaded["pyzk"] == loaded["java"]
    joined = "\n".join(steps["java"])
    assert "create over count: QuotaExceededError" in joined
    assert "multi over count: ['RolledBackError', 'QuotaExceededError']" in joined
    assert "create after cleanup: ok" in joined
    assert "soft count exceeded: ok" in joined
    assert mntr["java"]["zk_h_quota_count_limit_per_namespace"] == "6"
    assert int(mntr["java"]["zk_h_quota_exceeded_error_per_namespace"]) >= 3
    assert "Message:Quota exceeded: /h [current count=7, hardCountLimit=6] Value:null" \
        in logs["java"]
    assert "Message:Quota exceeded: /s [current count=3, softCountLimit=2] Value:null" \
        in logs["java"]
    # Prometheus: the gauge sets and the counter set carry mntr's values.
    assert prom == mntr["pyzk"], (prom, mntr["pyzk"])
    assert restarted["java"][QUOTA_ROOT + "/s/zookeeper_stats"] == "count=99,bytes=99"
    assert loaded["java"][QUOTA_ROOT + "/s/zookeeper_stats"] == "count=4,bytes=7"


def test_without_enforcement_writes_pass_and_nothing_is_logged(workdir: Path) -> None:
    with server_pair(workdir, {}) as servers:
        steps, logs, mntr = {}, {}, {}
        for kind, s in servers.items():
            with client(s) as zk, client(s) as other:
                steps[kind] = write_steps(zk, other)
            logs[kind] = quota_log_lines(s)
            mntr[kind] = mntr_quota(s)
    assert steps["pyzk"] == steps["java"]
    assert mntr["pyzk"] == mntr["java"]
    assert "QuotaExceededError" not in "\n".join(steps["java"])
    # Java 3.8.0 checks (and logs) only with enforceQuota; the stats are kept either way.
    assert logs["java"] == [] and logs["pyzk"] == []
    assert "zk_h_quota_count_usage_per_namespace" in mntr["java"]
