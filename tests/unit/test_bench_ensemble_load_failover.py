"""The ensemble benchmark's pure parts (no servers, no timing asserts): both kinds get the same
zoo.cfg, sessions spread evenly over the members, CPU rates come from /proc/stat and window
samples, failover counts only writes sent after the kill, and the tables show pyzk/java ratios.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.ensemble_load_failover import (
    HOSTS,
    Sampler,
    failover_table,
    machine_busy,
    parse_args,
    recovery_time,
    session_split,
    throughput_table,
    zoo_cfg,
)


def test_both_kinds_get_the_same_cfg_apart_from_addresses_and_datadir() -> None:
    cfgs = {k: zoo_cfg(HOSTS[k], 2, Path(f"/d/{k}")) for k in ("pyzk", "java")}
    for k, cfg in cfgs.items():
        assert cfg["clientPortAddress"] == HOSTS[k][1] and cfg["clientPort"] == "2181"
        assert [cfg[f"server.{i}"] for i in (1, 2, 3)] == [f"{h}:2888:3888" for h in HOSTS[k]]
    same = {"tickTime": "2000", "initLimit": "5", "syncLimit": "2", "forceSync": "yes"}
    varying = {"clientPortAddress", "dataDir", "server.1", "server.2", "server.3"}
    p, j = ({k: v for k, v in c.items() if k not in varying} for c in cfgs.values())
    assert p == j and same.items() <= p.items()
    assert not set(HOSTS["pyzk"]) & set(HOSTS["java"])


def test_sessions_spread_evenly_over_members() -> None:
    assert session_split(32, 3) == [11, 11, 10]
    assert sum(session_split(7, 3)) == 7


def test_machine_busy_excludes_idle_and_iowait() -> None:
    stat = "cpu  100 0 50 800 40 5 5 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n"
    assert machine_busy(stat) == (160, 1000)


def test_sampler_window_uses_first_and_last_sample_inside() -> None:
    s = Sampler([1, 2, 3])
    s.samples = [(0, [0.0, 0.0, 0.0], 0.0, (0, 100)),
                 (1_000_000_000, [0.5, 0.2, 0.1], 0.3, (100, 200)),
                 (3_000_000_000, [1.5, 0.6, 0.3], 0.7, (300, 400)),
                 (9_000_000_000, [9.0, 9.0, 9.0], 9.0, (900, 1000))]
    w = s.window(500_000_000, 4_000_000_000)
    assert w["member_cpu_pct"] == [50.0, 20.0, 10.0] and w["server_cpu_pct"] == 80.0
    assert w["gen_cpu_pct"] == 20.0
    assert s.window(5_000_000_000, 6_000_000_000) == {}  # fewer than two samples


def test_recovery_counts_only_writes_sent_after_the_kill() -> None:
    oks = [(9.0, 10.2), (10.5, 11.4), (10.6, 11.1)]  # the first was sent before the kill
    got = recovery_time(10.0, oks)
    assert got is not None and abs(got - 1.1) < 1e-9
    assert recovery_time(12.0, oks) is None


def _args(**kw: object) -> argparse.Namespace:
    a = parse_args(["--workloads", "getData,create", "--repeats", "2"])
    vars(a).update(kw)
    return a


def test_tables_show_medians_and_pyzk_over_java_ratios() -> None:
    def row(ops: float, p50: float) -> dict[str, float]:
        return {"ops_per_s": ops, "p50_ms": p50, "p99_ms": 2 * p50, "server_cpu_pct": 150.0,
                "gen_cpu_pct": 20.0, "machine_busy_pct": 190.0,
                "server_cpu_us_per_op": 1e6 * 1.5 / ops}

    tp = {"pyzk": {"getData": [row(100, 4), row(300, 2)], "create": [row(10, 8), row(10, 8)]},
          "java": {"getData": [row(100, 4), row(100, 4)], "create": [row(20, 4), row(20, 4)]}}
    lines, med = throughput_table(tp, _args())
    get = next(ln for ln in lines if ln.startswith("| getData |"))
    create = next(ln for ln in lines if ln.startswith("| create |"))
    # medians 200 vs 100 ops/s, p50 3 vs 4 ms; CPU per op at equal CPU% is the inverse of ops/s
    assert get.rstrip().endswith("| 2.00 | 0.75 | 0.75 | 0.67 |")
    assert create.rstrip().endswith("| 0.50 | 2.00 | 2.00 | 2.00 |")
    assert med["getData"]["pyzk"]["ops_per_s"] == 200

    kill = {"write_recovery_s": 0.5, "srvr_elected_s": 0.4}
    fo = {"pyzk": [kill, {**kill, "write_recovery_s": 0.7}, {**kill, "write_recovery_s": 0.6}],
          "java": [{**kill, "write_recovery_s": 0.3}] * 3}
    lines, fmed = failover_table(fo)
    assert fmed["pyzk"]["write_recovery_s"] == 0.6
    assert "write recovery pyzk/java: 2.00" in lines


def test_pyzk_workers_make_one_ensemble_kind_each_with_ratios_to_java() -> None:
    a = parse_args(["--pyzk-workers", "1,2", "--workloads", "getData", "--repeats", "1",
                    "--pyzk-hosts", "127.0.33.1,127.0.33.2,127.0.33.3"])
    assert a.kinds == ["pyzk-w1", "pyzk-w2", "java"]
    assert a.hosts["pyzk-w1"] == a.hosts["pyzk-w2"] == ["127.0.33.1", "127.0.33.2", "127.0.33.3"]
    six = ",".join(f"127.0.33.{i}" for i in range(1, 7))
    b = parse_args(["--pyzk-workers", "1,2", "--pyzk-hosts", six])
    assert b.hosts["pyzk-w2"] == ["127.0.33.4", "127.0.33.5", "127.0.33.6"]

    def row(ops: float, workers: float) -> dict[str, float]:
        return {"ops_per_s": ops, "p50_ms": 1.0, "p99_ms": 2.0, "server_cpu_pct": 100.0,
                "workers_cpu_pct": workers, "gen_cpu_pct": 20.0, "machine_busy_pct": 190.0,
                "server_cpu_us_per_op": 1e6 / ops}

    tp = {"pyzk-w1": {"getData": [row(500, 0.0)]}, "pyzk-w2": {"getData": [row(2000, 40.0)]},
          "java": {"getData": [row(1000, 0.0)]}}
    lines, _ = throughput_table(tp, a)
    head = next(ln for ln in lines if ln.startswith("| workload |"))
    assert head.index("pyzk-w1 ops/s") < head.index("pyzk-w2 ops/s") < head.index("java ops/s")
    assert "pyzk-w2 workers CPU%" in head and "pyzk-w1 workers CPU%" not in head
    get = next(ln for ln in lines if ln.startswith("| getData |"))
    # w1/java: ops 0.50, CPU per request 2.00; w2/java: 2.00 and 0.50
    assert get.rstrip().endswith("| 0.50 | 1.00 | 1.00 | 2.00 | 2.00 | 1.00 | 1.00 | 0.50 |")
    assert "| 2000 | 1.00 | 2.00 | 100 | 40 | 500.0 |" in get
