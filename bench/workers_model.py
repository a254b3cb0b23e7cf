"""A model of pyzk.workers' throughput and memory at more cores, from measured figures only.

Reads the JSON of a `bench.run` with `--pyzk-workers 1,2` (and optionally of a `bench.memory`
with the same kinds) and prints, per workload, the measured CPU milliseconds per 1000 requests
(pyzk-w1; pyzk-w2's member and workers apart) and the throughput the formulas below give at
4, 8 and 16 cores; then the memory of N processes. Nothing here is measured: every figure is
one of the JSON's or follows from them by the formulas in bench/README.md
("pyzk.workers: a model"). Usage: python -m bench.workers_model RUN.json [--memory MEM.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READS = ("getData", "exists", "getChildren")
WRITES = ("setData", "create")
CORES = (4, 8, 16)


@dataclass
class Costs:
    """CPU ms per 1000 completed requests (= CPU µs per request) of one workload."""

    one: float  # pyzk-w1: the member alone serves everything
    member: float  # pyzk-w2: the member process
    worker: float  # pyzk-w2: its one worker

    @property
    def two(self) -> float:
        return self.member + self.worker


def read_rate(c: Costs, cores: int) -> float:
    """Reads: every process serves its share of the sessions at the same cost per read (the
    larger of the measured totals with 1 and 2 processes), no other work in a worker, one
    process per core: X = cores x 1e6 / cost (cost in µs per request)."""
    return cores * 1e6 / max(c.one, c.two)


def write_rate(c: Costs, cores: int) -> float:
    """Writes: every process applies every txn, so each process does a fixed amount of work
    per write whatever N is; taking pyzk-w2's measured member and worker costs as those
    amounts, one process per core, the slowest process bounds the rate:
    X = 1e6 / max(member, worker), the same at every core count >= 2. (The member's and the
    workers' share of the client sessions shrinks as N grows, so this is a lower bound in that
    respect; the member sends every commit to N - 1 workers, an upper bound in that one.)"""
    del cores  # no dependence: the point of the formula
    return 1e6 / max(c.member, c.worker)


def mix_rate(reads: Costs, writes: Costs, cores: int, write_share: float = 0.1) -> float:
    """A read/write mix: per request, a process pays its 1/N share of the reads (read_rate's
    cost) and the write share of its own per-write cost (write_rate's member or worker);
    one process per core, the slowest process bounds: X = 1e6 / max over processes."""
    n = cores
    r = (1 - write_share) * max(reads.one, reads.two) / n
    return 1e6 / max(r + write_share * writes.member, r + write_share * writes.worker)


def costs(medians: dict[str, Any], workload: str) -> Costs | None:
    m = medians.get(workload, {})
    w1, w2 = m.get("pyzk-w1"), m.get("pyzk-w2")
    if not w1 or not w2:
        return None
    return Costs(w1["cpu_ms_per_1k"], w2["member_cpu_ms_per_1k"], w2["workers_cpu_ms_per_1k"])


def throughput_lines(doc: dict[str, Any]) -> list[str]:
    med = doc["throughput_medians"]
    cfg = doc["config"]
    lines = [f"### Model from {doc['timestamp']} ({cfg['sessions']} sessions x "
             f"{cfg['outstanding']} outstanding)", "",
             "| workload | w1 ms/1k | w2 member ms/1k | w2 worker ms/1k | w2 total ms/1k | "
             "java ms/1k | measured w1 / w2 / java ops/s | model ops/s at "
             + " / ".join(f"{c}" for c in CORES) + " cores |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    reads = {w: c for w in READS if (c := costs(med, w))}
    writes = {w: c for w in WRITES if (c := costs(med, w))}
    for wl in (*READS, *WRITES, "mix90"):
        c = costs(med, wl)
        if c is None:
            continue
        if wl in reads:
            model = [read_rate(c, n) for n in CORES]
        elif wl in writes:
            model = [write_rate(c, n) for n in CORES]
        elif "getData" in reads and "setData" in writes:  # mix90: 90% getData, 10% setData
            model = [mix_rate(reads["getData"], writes["setData"], n) for n in CORES]
        else:
            continue
        ops = [med[wl].get(k, {}).get("ops_per_s", float("nan"))
               for k in ("pyzk-w1", "pyzk-w2", "java")]
        java = med[wl].get("java", {}).get("cpu_ms_per_1k", float("nan"))
        lines.append(f"| {wl} | {c.one:.1f} | {c.member:.1f} | {c.worker:.1f} | {c.two:.1f} | "
                     f"{java:.1f} | " + " / ".join(f"{x:.0f}" for x in ops) + " | "
                     + " / ".join(f"{x:.0f}" for x in model) + " |")
    if "getData" in reads and "setData" in writes and costs(med, "mix90"):
        g, s, x = reads["getData"], writes["setData"], costs(med, "mix90")
        assert x is not None
        lines += ["", f"Check of the mix formula at N = 2: 0.9 x getData + 0.1 x setData "
                  f"(w2 totals) = {0.9 * g.two + 0.1 * s.two:.1f} ms/1k predicted, "
                  f"{x.two:.1f} measured for mix90."]
    return lines + [""]


def memory_lines(mem: dict[str, Any]) -> list[str]:
    runs = mem["runs"]

    def first(kind: str) -> dict[str, Any] | None:
        return next((r for r in runs if r["server"] == kind), None)

    w1, w2 = first("pyzk-w1"), first("pyzk-w2")
    if w1 is None or w2 is None:
        return []
    member = w1["rss_per_znode"]  # B/znode: the member alone, one tree
    worker = w2["rss_per_znode"] - member  # B/znode a worker adds: its own tree
    idle_worker = w2["rss_before_kb"] - w1["rss_before_kb"]  # kB: a worker with an empty tree
    lines = ["### Memory model", "",
             f"Measured: pyzk-w1 {member:.0f} B/znode, pyzk-w2 {w2['rss_per_znode']:.0f} "
             f"B/znode (RSS summed over its processes), so a worker's tree costs {worker:.0f} "
             f"B/znode (w2 - w1); an idle worker {idle_worker / 1024:.1f} MiB "
             f"(w2 - w1 before the creates); the member idle {w1['rss_before_kb'] / 1024:.1f} "
             f"MiB.", "",
             "| processes N | B/znode: w1 + (N - 1) x (w2 - w1) | 1M znodes, GiB: "
             "(w1 idle + (N - 1) x idle worker + B/znode x 1M) |", "|---:|---:|---:|"]
    for n in (1, 2, *CORES):
        per = member + (n - 1) * worker
        total_kb = w1["rss_before_kb"] + (n - 1) * idle_worker + per * 1e6 / 1024
        lines.append(f"| {n} | {per:.0f} | {total_kb / 1024 / 1024:.2f} |")
    java = first("java")
    if java is not None:
        lines += ["", f"Java on the same run: {java['rss_per_znode']:.0f} B/znode RSS after a "
                  f"full GC, {java.get('heap_per_znode', float('nan')):.0f} live heap."]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="+", help="bench.run JSON(s) with kinds pyzk-w1, pyzk-w2")
    ap.add_argument("--memory", default="", help="bench.memory JSON with pyzk-w1, pyzk-w2")
    args = ap.parse_args(argv)
    lines: list[str] = []
    for path in args.run:
        lines += throughput_lines(json.loads(Path(path).read_text()))
    if args.memory:
        lines += memory_lines(json.loads(Path(args.memory).read_text()))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
