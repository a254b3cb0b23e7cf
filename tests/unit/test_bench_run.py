"""bench.run's pure parts: server kinds from --pyzk-workers, CPU per 1000 requests from
window samples, and a report with one ratio column group per pyzk kind (no servers)."""

from __future__ import annotations

import math

from bench.run import (
    HOSTS,
    CpuSampler,
    cpu_columns,
    expand_kinds,
    host_for,
    parse_args,
    report,
    server_kind,
)


def test_pyzk_workers_make_one_kind_per_value() -> None:
    assert expand_kinds(["java", "pyzk"], [1]) == ["java", "pyzk"]
    assert expand_kinds(["java", "pyzk"], [1, 2]) == ["java", "pyzk-w1", "pyzk-w2"]
    assert [server_kind(k) for k in ("java", "pyzk", "pyzk-w2")] == [
        ("java", 1), ("pyzk", 1), ("pyzk", 2)]
    args = parse_args(["--pyzk-workers", "1,2", "--hosts", "pyzk-w2=127.0.32.3"])
    assert args.servers == ["java", "pyzk-w1", "pyzk-w2"] and args.pyzk_workers == [1, 2]
    # The compiled build with workers: its own kinds, on the compiled build's address.
    assert expand_kinds(["pyzkc"], [1, 2]) == ["pyzkc-w1", "pyzkc-w2"]
    assert [server_kind(k) for k in ("pyzkc", "pyzkc-w2")] == [("pyzk", 1), ("pyzk", 2)]
    assert host_for("pyzkc-w2", parse_args([])) == HOSTS["pyzkc"]


def test_cpu_per_1000_requests_comes_from_the_window_samples() -> None:
    s = CpuSampler({"member": [1], "workers": [2]})
    s.samples = [(0, {"member": 0.0, "workers": 0.0}),
                 (1_000_000_000, {"member": 0.5, "workers": 0.1}),
                 (3_000_000_000, {"member": 2.5, "workers": 1.1}),
                 (9_000_000_000, {"member": 9.0, "workers": 9.0})]
    rates = s.window(500_000_000, 4_000_000_000)
    assert rates == {"member": 1.0, "workers": 0.5}
    cols = cpu_columns(rates, 10_000.0)  # 1.5 CPU s/s over 10k req/s = 150 us per request
    assert cols["cpu_window_pct"] == 150.0 and cols["cpu_ms_per_1k"] == 150.0
    assert (cols["member_cpu_ms_per_1k"], cols["workers_cpu_ms_per_1k"]) == (100.0, 50.0)
    assert math.isnan(cpu_columns({}, 1.0)["cpu_ms_per_1k"])
    waits = cpu_columns({"member": 1.0, "member wait": 0.25, "workers": 0.0,
                         "workers wait": 0.5}, 1000.0)
    assert (waits["member_wait_pct"], waits["workers_wait_pct"], waits["wait_pct"]) == (
        25.0, 50.0, 75.0)
    assert waits["cpu_ms_per_1k"] == 1000.0  # waiting is not CPU


def test_report_has_ratios_for_each_pyzk_kind() -> None:
    args = parse_args(["--pyzk-workers", "1,2", "--workloads", "getData", "--repeats", "1"])

    def row(ops: float, member: float, workers: float) -> dict[str, float]:
        return {"ops_per_s": ops, "p50_ms": 1.0, "p99_ms": 2.0, "server_cpu_pct": 100.0,
                **cpu_columns({"member": member, "workers": workers, "member wait": 0.1,
                               "workers wait": 0.2}, ops)}

    tp = {"java": {"getData": [row(1000, 1.0, 0.0)]},
          "pyzk-w1": {"getData": [row(500, 1.0, 0.0)]},
          "pyzk-w2": {"getData": [row(2000, 0.5, 0.5)]}}
    text, med = report(args.servers, tp, {}, args)
    ratios = next(ln for ln in text.splitlines() if ln.startswith("| getData | 0.50"))
    # ops/s w1/java 0.50, CPU ms/1k 2.00; w2/java 2.00 and 0.50
    assert "| 0.50 | 1.00 | 1.00 | 2.00 |" in ratios and "| 2.00 | 1.00 | 1.00 | 0.50 |" in ratios
    assert "| getData | pyzk-w2 | 50 | 50 | 10 | 20 | 250.0 | 250.0 | 500.0 |" in text
    assert med["getData"]["pyzk-w2"]["paired_ops_ratio"]["median"] == 2.0
