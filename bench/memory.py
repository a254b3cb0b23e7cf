"""Bytes per znode: pyzk vs Apache ZooKeeper 3.8.0, 100k creates of 100-byte znodes.

For each repeat, shape and server (order alternating), a fresh standalone server is started,
its baseline RSS read (Java: after a full GC, with the live heap), the znodes created through
one pipelined raw-protocol session, and RSS read again (Java: after another full GC, with the
live heap). RSS and PSS are summed over the server's processes: with pyzk.workers
(--pyzk-workers 1,2: kinds pyzk-w1, pyzk-w2) every worker holds its own copy of the tree.
Markdown to stdout, JSON to bench/results/memory-<timestamp>.json.
Usage: python -m bench.memory --help
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.loadgen import _run_loop, run_script
from bench.run import (
    expand_kinds,
    java_heap_used_kb,
    node_count,
    process_tree,
    server_kind,
    settle_tree_rss,
    tree_pss_kb,
    tree_rss_kb,
    wait_workers,
    workers_list,
)
from bench.wire import OPEN_ACL_UNSAFE
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import OP_CREATE
from tests.servers import ServerProc, handshake_ok

REPO = Path(__file__).resolve().parent.parent
HOSTS = {"java": "127.0.23.1", "pyzk": "127.0.23.2"}
PARTITIONS = 24  # per topic: the topic, its partitions node, and partition + state per partition


def kafka_paths(count: int) -> Iterator[str]:
    """Kafka-like parents-first paths: /brokers/topics/t-NNNNN/partitions/P/state."""
    def endless() -> Iterator[str]:
        yield from ("/brokers", "/brokers/topics")
        for t in itertools.count():
            topic = f"/brokers/topics/t-{t:05d}"
            yield topic
            yield topic + "/partitions"
            for p in range(PARTITIONS):
                yield f"{topic}/partitions/{p}"
                yield f"{topic}/partitions/{p}/state"
    return itertools.islice(endless(), count)


def flat_paths(count: int) -> Iterator[str]:
    """One parent with count - 1 children: /flat/n-NNNNNN."""
    yield "/flat"
    for i in range(count - 1):
        yield f"/flat/n-{i:06d}"


SHAPES = {"kafka": kafka_paths, "flat": flat_paths}


def create_all(host: str, port: int, paths: list[str], payload: int) -> int:
    """Create every path (in order, pipelined on one session); return how many failed."""
    data = bytes(range(256)) * (payload // 256 + 1)
    data = data[:payload]
    reqs: list[tuple[int, bytes]] = [(OP_CREATE, r.CreateRequest.to_bytes(r.CreateRequest(p, data, OPEN_ACL_UNSAFE, 0)))
            for p in paths]
    errs: list[int] = []
    for i in range(0, len(reqs), 20000):  # run_script allows 120 s per call
        errs += _run_loop(run_script(host, port, reqs[i:i + 20000], outstanding=64))
    return sum(1 for e in errs if e != 0)


def one_run(kind: str, shape: str, args: argparse.Namespace, base: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"{kind}-{shape}-", dir=base))
    server, workers = server_kind(kind)
    cfg = {"forceSync": "no"}
    if workers > 1:
        cfg["pyzk.workers"] = str(workers)
    host = args.hosts.get(kind) or args.hosts.get(server) or HOSTS[server]
    srv = ServerProc(server, work, host=host, cfg=cfg).start(timeout=60)
    assert srv.proc is not None
    pid = srv.proc.pid
    out: dict[str, Any] = {"server": kind, "shape": shape, "znodes": args.znodes}
    try:
        wait_workers(srv, workers)
        out["processes"] = len(process_tree(pid))
        if not handshake_ok(srv.host, srv.port):
            raise RuntimeError("connect/close failed")
        if kind == "java":
            out["heap_before_kb"] = java_heap_used_kb(pid)
        out["rss_before_kb"] = tree_rss_kb(pid)
        out["pss_before_kb"] = tree_pss_kb(pid)
        paths = list(SHAPES[shape](args.znodes))
        t0 = time.monotonic()
        failed = create_all(srv.host, srv.port, paths, args.payload)
        out["create_seconds"] = round(time.monotonic() - t0, 2)
        if failed:
            raise RuntimeError(f"{failed} of {len(paths)} creates failed")
        out["node_count_srvr"] = node_count(srv.host, srv.port)
        if kind == "java":
            out["heap_after_kb"] = java_heap_used_kb(pid)
            out["heap_per_znode"] = round(
                (out["heap_after_kb"] - out["heap_before_kb"]) * 1024 / args.znodes, 1)
        # settled over every process: workers may still be applying the last txns
        out["rss_after_kb"] = settle_tree_rss(pid, args.settle)
        out["pss_after_kb"] = tree_pss_kb(pid)
        out["rss_per_znode"] = round(
            (out["rss_after_kb"] - out["rss_before_kb"]) * 1024 / args.znodes, 1)
        if out["pss_before_kb"] is not None and out["pss_after_kb"] is not None:
            out["pss_per_znode"] = round(
                (out["pss_after_kb"] - out["pss_before_kb"]) * 1024 / args.znodes, 1)
    finally:
        srv.stop()
    return out


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    kinds = args.servers
    pyzks = [k for k in kinds if server_kind(k)[0] == "pyzk"]
    java = "java" in kinds
    lines = [f"bytes per znode, {args.znodes} znodes of {args.payload} B, medians of "
             f"{args.repeats} (not pinned; Java after a full GC; RSS and PSS summed over the "
             f"server's processes)", ""]
    head, sep = "| shape |", "|---|"
    for k in kinds:
        head += f" {k} RSS B/znode | {k} PSS B/znode | {k} RSS after MiB |"
        sep += "---:|---:|---:|"
    if java:
        head += " Java live heap B/znode |"
        sep += "---:|"
        for k in pyzks:
            head += f" {k}/Java RSS |"
            sep += "---:|"
    lines += [head, sep]
    med: dict[str, Any] = {}
    for shape in args.shapes:
        def m(kind: str, key: str, shape: str = shape) -> float:
            vals = [x[key] for x in runs if x["server"] == kind and x["shape"] == shape
                    and x.get(key) is not None]
            return statistics.median(vals) if vals else float("nan")
        med[shape] = {k: {"rss": m(k, "rss_per_znode"), "pss": m(k, "pss_per_znode"),
                          "rss_after_kb": m(k, "rss_after_kb")} for k in kinds}
        row = f"| {shape} |"
        for k in kinds:
            mk = med[shape][k]
            row += f" {mk['rss']:.0f} | {mk['pss']:.0f} | {mk['rss_after_kb'] / 1024:.1f} |"
        if java:
            j = med[shape]["java"]["rss"]
            med[shape]["java_heap"] = h = m("java", "heap_per_znode")
            row += f" {h:.0f} |"
            for k in pyzks:
                p = med[shape][k]["rss"]
                ratio = p / j if j == j and p == p and j else float("nan")
                med[shape][k]["ratio"] = ratio
                row += f" {ratio:.2f} |"
        lines.append(row)
    return "\n".join(lines), med


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--servers", default="java,pyzk")
    ap.add_argument("--shapes", default="kafka,flat")
    ap.add_argument("--znodes", type=int, default=100000)
    ap.add_argument("--payload", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settle", type=float, default=10.0,
                    help="longest wait for RSS to stop moving after the creates (s)")
    ap.add_argument("--pyzk-workers", default="1", metavar="N[,N...]",
                    help="pyzk.workers: one pyzk server per value, kinds pyzk-wN (e.g. 1,2 -> "
                         "pyzk-w1, pyzk-w2); the default 1 keeps kind 'pyzk'")
    ap.add_argument("--hosts", default="", metavar="KIND=IP,...",
                    help="loopback addresses instead of the defaults, e.g. "
                         "java=127.0.32.11,pyzk-w1=127.0.32.12,pyzk-w2=127.0.32.13")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    args.pyzk_workers = workers_list(ap, args.pyzk_workers)
    args.hosts = dict(kv.split("=", 1) for kv in args.hosts.split(",") if kv)
    args.servers = expand_kinds([s for s in args.servers.split(",") if s], args.pyzk_workers)
    args.shapes = [s for s in args.shapes.split(",") if s]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pyzk-mem-") as tmp:
        for rep in range(args.repeats):
            for shape in args.shapes:
                order = args.servers if rep % 2 == 0 else args.servers[::-1]
                for kind in order:
                    res = one_run(kind, shape, args, Path(tmp))
                    print(f"  {res}", file=sys.stderr, flush=True)
                    runs.append(res)
    table, med = report(runs, args)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"memory-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "runs": runs, "medians": med}, indent=1))
    print(f"\n{path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
