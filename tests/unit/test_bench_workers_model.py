"""bench.workers_model's formulas on round numbers (no servers)."""

from __future__ import annotations

from bench.workers_model import Costs, costs, mix_rate, read_rate, write_rate


def test_reads_scale_with_cores_at_the_larger_measured_cost() -> None:
    c = Costs(one=10.0, member=5.5, worker=5.5)  # 10 µs/read alone, 11 with a worker
    assert read_rate(c, 4) == 4e6 / 11


def test_writes_are_bound_by_the_slowest_process_whatever_the_cores() -> None:
    c = Costs(one=20.0, member=25.0, worker=10.0)
    assert write_rate(c, 4) == write_rate(c, 16) == 1e6 / 25


def test_mix_spreads_reads_and_repeats_writes_in_every_process() -> None:
    reads, writes = Costs(10.0, 5.0, 5.0), Costs(20.0, 30.0, 10.0)
    # per request: 0.9 x 10 / 4 spread + 0.1 x 30 on the member (the slowest)
    assert mix_rate(reads, writes, 4) == 1e6 / (0.9 * 10 / 4 + 0.1 * 30)


def test_costs_come_from_the_run_medians() -> None:
    med = {"getData": {"pyzk-w1": {"cpu_ms_per_1k": 9.0},
                       "pyzk-w2": {"member_cpu_ms_per_1k": 5.0, "workers_cpu_ms_per_1k": 4.5}}}
    assert costs(med, "getData") == Costs(9.0, 5.0, 4.5)
    assert costs(med, "setData") is None


def test_memory_is_the_member_tree_plus_one_tree_per_worker() -> None:
    from bench.workers_model import memory_lines

    runs = [{"server": "pyzk-w1", "rss_per_znode": 700.0, "rss_before_kb": 40 * 1024},
            {"server": "pyzk-w2", "rss_per_znode": 1200.0, "rss_before_kb": 78 * 1024}]
    lines = memory_lines({"runs": runs})
    # w1 + (N - 1) x (w2 - w1): 700 + 3 x 500 at N = 4
    assert any(ln.startswith("| 4 | 2200 |") for ln in lines)
    assert "a worker's tree costs 500 B/znode" in " ".join(lines)
