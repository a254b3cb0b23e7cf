"""bench.memory's tree shapes: the asked-for count of distinct paths, every parent first."""

from __future__ import annotations

import pytest

from bench.memory import SHAPES


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("count", [3, 51, 52, 1000])
def test_shapes_make_count_paths_parents_first(shape: str, count: int) -> None:
    paths = list(SHAPES[shape](count))
    assert len(paths) == len(set(paths)) == count
    seen = {"/"}
    for p in paths:
        assert (p[:p.rfind("/")] or "/") in seen, p
        seen.add(p)


def test_report_has_a_column_group_per_pyzk_kind() -> None:
    from bench.memory import parse_args, report

    args = parse_args(["--pyzk-workers", "1,2", "--shapes", "flat", "--repeats", "1"])
    assert args.servers == ["java", "pyzk-w1", "pyzk-w2"]
    runs = [{"server": k, "shape": "flat", "rss_per_znode": b, "pss_per_znode": b,
             "rss_after_kb": 1024.0, "heap_per_znode": 400.0}
            for k, b in (("java", 2000.0), ("pyzk-w1", 500.0), ("pyzk-w2", 1000.0))]
    text, med = report(runs, args)
    assert text.splitlines()[-1] == ("| flat | 2000 | 2000 | 1.0 | 500 | 500 | 1.0 | 1000 | 1000 "
                                     "| 1.0 | 400 | 0.25 | 0.50 |")
    assert med["flat"]["pyzk-w2"]["ratio"] == 0.5
