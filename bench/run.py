"""Side-by-side benchmark: pyzk vs Debian's Apache ZooKeeper 3.8, same config, same generator.

Runs every workload against every server (interleaved, R repeats, medians, pyzk/java ratios),
then measures idle RSS and bytes per znode on fresh servers. Markdown to stdout, JSON to
bench/results/<timestamp>.json. Usage: python -m bench.run --help
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack

# Raw per-request latencies of this process's runs: {server: {workload: [bytes per repeat]}}.
from bench.loadgen import WORKLOADS, LoadSpec, prepare_sync, run_load
from tests.servers import ServerProc, handshake_ok

REPO = Path(__file__).resolve().parent.parent
SAMPLES: dict[str, dict[str, list[bytes]]] = {}

HOSTS = {"java": "127.0.0.71", "pyzk": "127.0.0.72"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- process probes ---------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _stat_fields(pid: int) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants (a pyzk server's worker processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its descendants (fields 14 and 15 of /proc/<pid>/stat,
    every thread included)."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = _stat_fields(p)
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def jcmd(pid: int, cmd: str) -> str:
    out = subprocess.run(["jcmd", str(pid), cmd], capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def java_heap_used_kb(pid: int, gc_first: bool = True) -> int | None:
    """Live heap after a full GC (jcmd GC.run, then GC.heap_info's 'used')."""
    if gc_first:
        jcmd(pid, "GC.run")
    m = re.search(r"total (\d+)K, used (\d+)K", jcmd(pid, "GC.heap_info"))
    return int(m.group(2)) if m else None


def node_count(host: str, port: int) -> int | None:
    """Znode count from the `srvr` four-letter word, if the server answers it."""
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"srvr")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    m = re.search(rb"Node count: (\d+)", data)
    return int(m.group(1)) if m else None


def pin_threads(pid: int, cpus: set[int]) -> None:
    """Pin every current thread of pid (like `taskset -a -p`); threads made later inherit."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass  # the thread ended meanwhile


def parse_pin(pin: str) -> tuple[set[int], tuple[int, ...]]:
    """'0:1' -> server CPUs {0}, generator CPUs (1,); '' -> no pinning."""
    if not pin:
        return set(), ()
    srv, gen = pin.split(":")
    return {int(x) for x in srv.split(",")}, tuple(int(x) for x in gen.split(","))


def java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        return out.stderr.splitlines()[0]
    except (OSError, IndexError):
        return "?"


def _reason(e: BaseException) -> str:
    """First and last line of an error (ServerProc puts the log tail after the first)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()] or [repr(e)]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


# -- phases -----------------------------------------------------------------------------------

def start_server(kind: str, base: Path, args: argparse.Namespace) -> ServerProc:
    cfg = {"tickTime": str(args.tick_time), "forceSync": args.force_sync}
    if kind == "pyzk" and getattr(args, "pyzk_workers", 1) > 1:
        cfg["pyzk.workers"] = str(args.pyzk_workers)
    work = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=base))
    host = args.hosts.get(kind, HOSTS[kind]) if hasattr(args, "hosts") else HOSTS[kind]
    return ServerProc(kind, work, host=host, cfg=cfg).start(timeout=60)


def spec_for(srv: ServerProc, workload: str, args: argparse.Namespace, tag: str) -> LoadSpec:
    return LoadSpec(srv.host, srv.port, workload, sessions=args.sessions,
                    outstanding=args.outstanding, duration=args.duration, max_ops=args.count,
                    warmup=args.warmup, keys=args.keys, tag=tag, procs=args.procs,
                    cpus=parse_pin(args.pin)[1])


def throughput_phase(servers: list[str], args: argparse.Namespace, base: Path,
                     log: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
    procs: dict[str, ServerProc] = {}
    for k in servers:
        try:
            procs[k] = start_server(k, base, args)
        except (RuntimeError, TimeoutError, OSError) as e:
            log(f"  {k}: failed to start, left out: {_reason(e)}")
    servers = [k for k in servers if k in procs]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        k: {w: [] for w in args.workloads} for k in servers}
    samples = SAMPLES
    try:
        for srv in procs.values():
            prepare_sync(spec_for(srv, "getData", args, "prep"))
        for rep in range(args.repeats):
            for wi, wl in enumerate(args.workloads):
                # Alternate which server goes first so drift (thermal, neighbours) hits both.
                order = servers if (rep + wi) % 2 == 0 else list(reversed(servers))
                for kind in order:
                    srv = procs[kind]
                    assert srv.proc is not None
                    if args.pin:
                        pin_threads(srv.proc.pid, parse_pin(args.pin)[0])
                    cpu0, t0 = cpu_seconds(srv.proc.pid), time.monotonic()
                    res = run_load(spec_for(srv, wl, args, f"r{rep}"))
                    cpu1, t1 = cpu_seconds(srv.proc.pid), time.monotonic()
                    row = res.summary()
                    row["server_cpu_pct"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 1)
                    row["repeat"] = rep
                    samples.setdefault(kind, {}).setdefault(wl, []).append(res.lat_ns.tobytes())
                    results[kind][wl].append(row)
                    log(f"  {kind:5} {wl:8} rep {rep}: {row['ops_per_s']:>9.0f} ops/s  "
                        f"p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                        f"errors {row['errors']}  server CPU {row['server_cpu_pct']}%")
    finally:
        for srv in procs.values():
            srv.stop()
    return results


def memory_phase(kind: str, args: argparse.Namespace, base: Path, log: Any) -> dict[str, Any]:
    srv = start_server(kind, base, args)
    assert srv.proc is not None
    pid = srv.proc.pid
    out: dict[str, Any] = {"znodes": args.znodes}
    try:
        out["rss_idle_kb"] = rss_kb(pid)
        if not handshake_ok(srv.host, srv.port):
            raise RuntimeError("connect/close failed")
        out["rss_after_connect_kb"] = rss_kb(pid)
        if kind == "java":
            out["heap_used_idle_kb"] = java_heap_used_kb(pid)
            out["rss_idle_after_gc_kb"] = rss_kb(pid)
        before = out.get("rss_idle_after_gc_kb", out["rss_after_connect_kb"])
        spec = LoadSpec(srv.host, srv.port, "create", sessions=args.sessions,
                        outstanding=args.outstanding, duration=3600, warmup=0,
                        max_ops=args.znodes, keys=0, root="/mem", tag="m", procs=1)
        prepare_sync(spec)
        t0 = time.monotonic()
        res = run_load(spec)
        out["create_seconds"] = round(time.monotonic() - t0, 2)
        out["create_errors"] = res.errors
        if res.ops != args.znodes or res.errors:
            raise RuntimeError(f"created {res.ops - res.errors} of {args.znodes} znodes")
        out["node_count_srvr"] = node_count(srv.host, srv.port)
        if kind == "java":
            out["heap_used_after_kb"] = java_heap_used_kb(pid)
        out["rss_after_kb"] = rss_kb(pid)
        out["bytes_per_znode_rss"] = round((out["rss_after_kb"] - before) * 1024 / args.znodes, 1)
        if out.get("heap_used_after_kb") and out.get("heap_used_idle_kb"):
            out["bytes_per_znode_heap"] = round(
                (out["heap_used_after_kb"] - out["heap_used_idle_kb"]) * 1024 / args.znodes, 1)
        log(f"  {kind}: {out}")
    finally:
        srv.stop()
    return out


# -- report -----------------------------------------------------------------------------------

def _med(rows: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in rows if r[key] == r[key]]  # drop NaN
    return statistics.median(vals) if vals else float("nan")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and a == a and b == b else "-"


def report(servers: list[str], tp: dict[str, Any], mem: dict[str, Any],
           args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    lines: list[str] = []
    medians: dict[str, Any] = {}
    servers = [k for k in servers if k in tp]
    if tp:
        lines += [f"### Throughput and latency (medians of {args.repeats}; {args.sessions} "
                  f"sessions x {args.outstanding} outstanding, {args.duration:g} s window, "
                  f"{args.procs} generator process(es)"
                  f"{'; CPU pinning server:generator ' + args.pin if args.pin else ''})", ""]
        head = "| workload |"
        sep = "|---|"
        for k in servers:
            head += f" {k} ops/s | {k} p50 ms | {k} p99 ms | {k} CPU% |"
            sep += "---:|---:|---:|---:|"
        both = "java" in servers and "pyzk" in servers
        if both:
            # Paired by repeat too: both servers drift together as the create repeats grow
            # the tree, so a ratio of medians can pair different repeats.
            head += (" ops/s pyzk/java | p50 pyzk/java | p99 pyzk/java |"
                     " ops/s pyzk/java per repeat (median) |")
            sep += "---:|---:|---:|---|"
        lines += [head, sep]
        for wl in args.workloads:
            row = f"| {wl} |"
            m: dict[str, dict[str, float]] = {}
            for k in servers:
                rows = tp[k][wl]
                m[k] = {x: _med(rows, x) for x in ("ops_per_s", "p50_ms", "p99_ms",
                                                   "server_cpu_pct")}
                row += (f" {m[k]['ops_per_s']:.0f} | {m[k]['p50_ms']:.2f} | "
                        f"{m[k]['p99_ms']:.2f} | {m[k]['server_cpu_pct']:.0f} |")
            if both:
                p, j = m["pyzk"], m["java"]
                paired = [a["ops_per_s"] / b["ops_per_s"]
                          for a, b in zip(tp["pyzk"][wl], tp["java"][wl], strict=False)
                          if b["ops_per_s"]]
                m["paired_ops_ratio"] = {"each": [round(x, 3) for x in paired],
                                         "median": statistics.median(paired) if paired
                                         else float("nan")}  # type: ignore[dict-item]
                row += (f" {_ratio(p['ops_per_s'], j['ops_per_s'])} |"
                        f" {_ratio(p['p50_ms'], j['p50_ms'])} |"
                        f" {_ratio(p['p99_ms'], j['p99_ms'])} |")
                row += (f" {', '.join(f'{x:.2f}' for x in paired)}"
                        f" ({statistics.median(paired):.2f}) |") if paired else " - |"
            medians[wl] = m
            lines.append(row)
        lines.append("")
    if mem:
        lines += [f"### Memory ({args.znodes} znodes, 16-byte data)", "",
                  "| server | RSS idle MiB | RSS after connect/close MiB | RSS after znodes MiB "
                  "| bytes/znode (RSS) | bytes/znode (Java live heap) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for k, mm in mem.items():
            if "error" in mm:
                lines.append(f"| {k} | error: {mm['error']} | | | | |")
                continue
            lines.append(f"| {k} | {mm['rss_idle_kb'] / 1024:.1f} | "
                         f"{mm['rss_after_connect_kb'] / 1024:.1f} | {mm['rss_after_kb'] / 1024:.1f} "
                         f"| {mm['bytes_per_znode_rss']:.0f} | {mm.get('bytes_per_znode_heap', '-')} |")
        lines.append("")
    return "\n".join(lines), medians


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", default="java,pyzk", help="comma list of java,pyzk")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--outstanding", type=int, default=16)
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--count", type=int, default=0, help="max requests per run (0: none)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--pin", default="", metavar="SRV:GEN",
                    help="CPU pinning for the throughput phase, e.g. 0:1 (server on CPU 0, "
                         "generator on CPU 1); default: none")
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--znodes", type=int, default=100_000)
    ap.add_argument("--tick-time", type=int, default=2000)
    ap.add_argument("--force-sync", default="yes")
    ap.add_argument("--pyzk-workers", type=int, default=1,
                    help="pyzk.workers for the pyzk server (processes serving clients)")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--hosts", default="", metavar="KIND=IP,...",
                    help="loopback addresses instead of the defaults, e.g. "
                         "java=127.0.24.71,pyzk=127.0.24.72 (engineers sharing a machine)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    args.hosts = dict(kv.split("=", 1) for kv in args.hosts.split(",") if kv)
    args.servers = [s for s in args.servers.split(",") if s]
    args.workloads = [w for w in args.workloads.split(",") if w]
    for s in args.servers:
        if s not in HOSTS:
            ap.error(f"unknown server {s}")
    for w in args.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="pyzk-bench-") as tmp:
        base = Path(tmp)
        tp: dict[str, Any] = {}
        if not args.no_throughput:
            log("throughput:")
            tp = throughput_phase(args.servers, args, base, log)
        mem: dict[str, Any] = {}
        if not args.no_memory:
            log("memory:")
            for kind in args.servers:
                try:
                    mem[kind] = memory_phase(kind, args, base, log)
                except (RuntimeError, OSError, TimeoutError) as e:
                    mem[kind] = {"error": _reason(e)}
    table, medians = report(args.servers, tp, mem, args)
    print(table)
    doc = {
        "timestamp": stamp,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "java": java_version(),
                    "loadavg_end": os.getloadavg()},
        "throughput_runs": tp, "throughput_medians": medians, "memory": mem,
        "markdown": table,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    log(f"wrote {path}")
    if SAMPLES:
        # Every request's latency (int64 ns, native order) per server/workload/repeat: far too
        # many numbers for JSON, so msgpack carries the raw arrays for later plotting.
        raw = out_dir / f"{stamp}.samples.msgpack"
        raw.write_bytes(msgpack.packb({"byteorder": sys.byteorder, "unit": "ns",
                                       "latency": SAMPLES}))
        log(f"wrote {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
