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
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

# Raw per-request latencies of this process's runs: {server: {workload: [bytes per repeat]}}.
from bench.loadgen import WORKLOADS, LoadSpec, prepare_sync, run_load
from pyzk.tools import compiled
from tests.servers import ServerProc, handshake_ok
from tests.workers_util import workers_serving

REPO = Path(__file__).resolve().parent.parent
SAMPLES: dict[str, dict[str, list[bytes]]] = {}

# pyzkc: pyzk running its request path compiled with mypyc (pyzk.tools.compiled, built into
# build/compiled before the servers start).
HOSTS = {"java": "127.0.0.71", "pyzk": "127.0.0.72", "pyzkc": "127.0.0.73"}
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


def pids_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (fields 14 and 15 of /proc/<pid>/stat, every thread
    included); one that ended counts 0."""
    total = 0
    for p in pids:
        try:
            fields = _stat_fields(p)
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def pids_wait_seconds(pids: list[int]) -> float:
    """Seconds the threads of these processes were runnable but waiting for a CPU (second
    field of /proc/<pid>/task/<tid>/schedstat), summed over every thread."""
    total = 0
    for p in pids:
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for t in tasks:
            try:
                total += int((t / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that just ended
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its descendants (a pyzk server's worker processes)."""
    return pids_cpu_seconds(process_tree(pid))


def server_groups(pid: int) -> dict[str, list[int]]:
    """A server's processes: the member (`pid`; a JVM is one process) and its workers (every
    live descendant: pyzk.workers' processes, none for Java or a pyzk without workers)."""
    return {"member": [pid], "workers": [p for p in process_tree(pid) if p != pid]}


class CpuSampler(threading.Thread):
    """Every `period` s, the CPU seconds of fixed groups of processes, and (key
    '<group> wait') the seconds their threads were runnable but waiting for a CPU. The process
    list is taken once, so a sample reads a few /proc files per process and nothing else."""

    def __init__(self, groups: dict[str, list[int]], period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.groups, self.period = groups, period
        self.samples: list[tuple[int, dict[str, float]]] = []
        self.halt = threading.Event()

    def sample(self) -> None:
        now = time.perf_counter_ns()
        vals = {g: pids_cpu_seconds(p) for g, p in self.groups.items()}
        vals.update({f"{g} wait": pids_wait_seconds(p) for g, p in self.groups.items()})
        self.samples.append((now, vals))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.period)

    def stop(self) -> None:
        self.halt.set()
        self.join(5)

    def window(self, start_ns: int, end_ns: int) -> dict[str, float]:
        """Each key's rate (CPU or waiting seconds per second; 1.0 = one core) between the
        first and the last sample inside [start_ns, end_ns]; {} with fewer than two there."""
        inside = [x for x in self.samples if start_ns <= x[0] <= end_ns]
        if len(inside) < 2:
            return {}
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        dt = (t1 - t0) / 1e9
        return {g: (c1[g] - c0[g]) / dt for g in c0}


def cpu_columns(rates: dict[str, float], ops_per_s: float) -> dict[str, float]:
    """A run's CPU figures from its window rates: CPU% (100 = one core) of the whole server
    and of the member and the workers, CPU milliseconds per 1000 completed requests
    (rate x 1e6 / ops/s: CPU s per request x 1000 requests x 1000 ms), and wait%: the time
    the server's threads were runnable but not running (100 = one thread kept waiting all
    window), what the scheduler withheld."""
    nan = float("nan")
    if not rates:
        return {k: nan for k in ("cpu_window_pct", "member_cpu_pct", "workers_cpu_pct",
                                 "cpu_ms_per_1k", "member_cpu_ms_per_1k",
                                 "workers_cpu_ms_per_1k", "wait_pct", "member_wait_pct",
                                 "workers_wait_pct")}
    total = sum(v for k, v in rates.items() if not k.endswith(" wait"))
    waits = {k.removesuffix(" wait"): v for k, v in rates.items() if k.endswith(" wait")}
    per_1k = 1e6 / ops_per_s if ops_per_s else nan
    return {"cpu_window_pct": round(100 * total, 1),
            "member_cpu_pct": round(100 * rates.get("member", 0.0), 1),
            "workers_cpu_pct": round(100 * rates.get("workers", 0.0), 1),
            "cpu_ms_per_1k": round(total * per_1k, 2),
            "member_cpu_ms_per_1k": round(rates.get("member", 0.0) * per_1k, 2),
            "workers_cpu_ms_per_1k": round(rates.get("workers", 0.0) * per_1k, 2),
            "wait_pct": round(100 * sum(waits.values()), 1) if waits else nan,
            "member_wait_pct": round(100 * waits.get("member", nan), 1),
            "workers_wait_pct": round(100 * waits.get("workers", nan), 1)}


def tree_rss_kb(pid: int) -> int:
    """VmRSS summed over `pid` and its descendants (a member and its workers; pages shared
    between processes, such as the interpreter's text, count once per process)."""
    return sum(rss_kb(p) for p in process_tree(pid))


def tree_pss_kb(pid: int) -> int | None:
    """Pss (/proc/<pid>/smaps_rollup: shared pages divided among their sharers) summed over
    the tree: the memory the processes take together; None where it cannot be read."""
    total = 0
    for p in process_tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            return None
        m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        if m is None:
            return None
        total += int(m.group(1))
    return total


def settle_tree_rss(pid: int, seconds: float) -> int:
    """tree_rss_kb once it stops moving (a snapshot may still be written, workers may still
    be applying txns): bounded by `seconds`."""
    deadline = time.monotonic() + seconds
    last = tree_rss_kb(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = tree_rss_kb(pid)
        if now == last:
            return now
        last = now
    return last


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

def server_kind(kind: str) -> tuple[str, int]:
    """'java' -> ('java', 1), 'pyzk' -> ('pyzk', 1), 'pyzk-w2' -> ('pyzk', 2): the server and
    its pyzk.workers."""
    if kind.startswith("pyzk-w") and kind[6:].isdigit() and int(kind[6:]) >= 1:
        return "pyzk", int(kind[6:])
    if kind.startswith("pyzkc-w") and kind[7:].isdigit() and int(kind[7:]) >= 1:
        return "pyzk", int(kind[7:])  # compiled, with workers
    if kind == "pyzkc":
        return "pyzk", 1
    if kind in HOSTS:
        return kind, 1
    raise ValueError(f"unknown server kind {kind!r}")


def workers_list(ap: argparse.ArgumentParser, value: str) -> list[int]:
    """--pyzk-workers "1,2" -> [1, 2]; anything else is a usage error."""
    try:
        out = [int(n) for n in value.split(",") if n]
    except ValueError:
        ap.error(f"--pyzk-workers: a comma list of numbers, not {value!r}")
    if not out or min(out) < 1:
        ap.error("--pyzk-workers: each value at least 1")
    return out


def expand_kinds(servers: list[str], workers: list[int]) -> list[str]:
    """`--servers` with `--pyzk-workers`: pyzk stays 'pyzk' for the default [1], else one
    kind 'pyzk-wN' per value."""
    out: list[str] = []
    for s in servers:
        if s in ("pyzk", "pyzkc") and workers != [1]:
            out += [f"{s}-w{n}" for n in workers]
        else:
            out.append(s)
    return out


def host_for(kind: str, args: argparse.Namespace) -> str:
    hosts = getattr(args, "hosts", {})
    if kind.startswith("pyzkc"):
        return str(hosts.get(kind) or hosts.get("pyzkc") or HOSTS["pyzkc"])
    return str(hosts.get(kind) or HOSTS.get(kind) or hosts.get(server_kind(kind)[0])
               or HOSTS[server_kind(kind)[0]])


def wait_workers(srv: ServerProc, workers: int, timeout: float = 60.0) -> None:
    """Until workers - 1 worker processes serve (before that the member takes every client)."""
    deadline = time.monotonic() + timeout
    while workers_serving(srv.log_path.read_text(errors="replace")) < workers - 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{workers - 1} worker(s) not serving after {timeout:g} s\n"
                               f"{srv.tail_log(15)}")
        time.sleep(0.1)


def start_server(kind: str, base: Path, args: argparse.Namespace) -> ServerProc:
    server, workers = server_kind(kind)
    cfg = {"tickTime": str(args.tick_time), "forceSync": args.force_sync}
    if workers > 1:
        cfg["pyzk.workers"] = str(workers)
    work = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=base))
    tree = str(compiled.build(REPO / "pyzk", REPO / "build" / "compiled",
                              log=lambda s: print(s, file=sys.stderr))) if kind.startswith("pyzkc") else None
    srv = ServerProc(server, work, host=host_for(kind, args), cfg=cfg,
                     pythonpath=tree).start(timeout=60)
    try:
        wait_workers(srv, workers)
    except TimeoutError:
        srv.stop()
        raise
    return srv


def spec_for(srv: ServerProc, workload: str, args: argparse.Namespace, tag: str) -> LoadSpec:
    return LoadSpec(srv.host, srv.port, workload, sessions=args.sessions,
                    outstanding=args.outstanding, duration=args.duration, max_ops=args.count,
                    warmup=args.warmup, keys=args.keys, tag=tag, procs=args.procs,
                    cpus=parse_pin(args.pin)[1])


def measured_run(srv: ServerProc, spec: LoadSpec, samples: dict[str, dict[str, list[bytes]]],
                 kind: str) -> dict[str, Any]:
    """One run_load with the server's CPU sampled: `server_cpu_pct` over the whole run
    (connect, warm-up, window, drain), the other CPU figures over the measured window."""
    assert srv.proc is not None
    groups = server_groups(srv.proc.pid)
    sampler = CpuSampler(groups)
    cpu0, t0 = pids_cpu_seconds(sum(groups.values(), [])), time.monotonic()
    sampler.start()
    try:
        res = run_load(spec)
    finally:
        sampler.stop()
    cpu1, t1 = pids_cpu_seconds(sum(groups.values(), [])), time.monotonic()
    row = res.summary()
    row["server_cpu_pct"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 1)
    row["server_processes"] = {g: len(p) for g, p in groups.items()}
    rates = sampler.window(res.win_start_ns, res.win_start_ns + int(res.window * 1e9))
    row.update(cpu_columns(rates, res.ops_per_s))
    samples.setdefault(kind, {}).setdefault(spec.workload, []).append(res.lat_ns.tobytes())
    return row


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
                        for pid in process_tree(srv.proc.pid):  # the member and its workers
                            pin_threads(pid, parse_pin(args.pin)[0])
                    row = measured_run(srv, spec_for(srv, wl, args, f"r{rep}"), samples,
                                       kind)
                    row["repeat"] = rep
                    results[kind][wl].append(row)
                    log(f"  {kind:7} {wl:11} rep {rep}: {row['ops_per_s']:>9.0f} ops/s  "
                        f"p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                        f"errors {row['errors']}  server CPU {row['cpu_window_pct']}% "
                        f"(member {row['member_cpu_pct']}%, workers "
                        f"{row['workers_cpu_pct']}%), {row['cpu_ms_per_1k']} ms/1k req, "
                        f"waiting {row['member_wait_pct']}% / {row['workers_wait_pct']}%")
    finally:
        for srv in procs.values():
            srv.stop()
    return results


def memory_phase(kind: str, args: argparse.Namespace, base: Path, log: Any) -> dict[str, Any]:
    """RSS figures are summed over the server's processes (the member and its workers)."""
    srv = start_server(kind, base, args)
    assert srv.proc is not None
    pid = srv.proc.pid
    out: dict[str, Any] = {"znodes": args.znodes, "processes": len(process_tree(pid))}
    try:
        out["rss_idle_kb"] = tree_rss_kb(pid)
        if not handshake_ok(srv.host, srv.port):
            raise RuntimeError("connect/close failed")
        out["rss_after_connect_kb"] = tree_rss_kb(pid)
        out["pss_after_connect_kb"] = tree_pss_kb(pid)
        if kind == "java":
            out["heap_used_idle_kb"] = java_heap_used_kb(pid)
            out["rss_idle_after_gc_kb"] = tree_rss_kb(pid)
        before = out.get("rss_idle_after_gc_kb", out["rss_after_connect_kb"])
        spec = LoadSpec(srv.host, srv.port, "create", sessions=args.sessions,
                        outstanding=args.outstanding, duration=3600, warmup=0,
                        max_ops=args.znodes, keys=0, parents=0, root="/mem", tag="m", procs=1)
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
            out["rss_after_kb"] = tree_rss_kb(pid)
        else:  # workers may still be applying the last txns
            out["rss_after_kb"] = settle_tree_rss(pid, 10.0)
        out["pss_after_kb"] = tree_pss_kb(pid)
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


TP_KEYS = ("ops_per_s", "p50_ms", "p99_ms", "server_cpu_pct", "cpu_window_pct",
           "member_cpu_pct", "workers_cpu_pct", "cpu_ms_per_1k", "member_cpu_ms_per_1k",
           "workers_cpu_ms_per_1k", "wait_pct", "member_wait_pct", "workers_wait_pct")


def _f(x: float, spec: str) -> str:
    return "-" if x != x else format(x, spec)


def ratio_table(servers: list[str], pyzks: list[str], tp: dict[str, Any],
                medians: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Each pyzk kind over Java: ratios of the medians, and ops/s paired by repeat (both
    servers drift together as the create repeats grow the tree, so a ratio of medians can
    pair different repeats). Stores the paired ratios in medians[wl][kind]."""
    lines = ["#### Ratios to Java", ""]
    head, sep = "| workload |", "|---|"
    for k in pyzks:
        head += (f" ops/s {k}/java | p50 {k}/java | p99 {k}/java | CPU ms/1k {k}/java |"
                 f" ops/s {k}/java per repeat (median) |")
        sep += "---:|---:|---:|---:|---|"
    lines += [head, sep]
    for wl in args.workloads:
        row = f"| {wl} |"
        j = medians[wl]["java"]
        for k in pyzks:
            p = medians[wl][k]
            paired = [a["ops_per_s"] / b["ops_per_s"]
                      for a, b in zip(tp[k][wl], tp["java"][wl], strict=False) if b["ops_per_s"]]
            p["paired_ops_ratio"] = {"each": [round(x, 3) for x in paired],
                                     "median": statistics.median(paired) if paired
                                     else float("nan")}
            row += (f" {_ratio(p['ops_per_s'], j['ops_per_s'])} |"
                    f" {_ratio(p['p50_ms'], j['p50_ms'])} |"
                    f" {_ratio(p['p99_ms'], j['p99_ms'])} |"
                    f" {_ratio(p['cpu_ms_per_1k'], j['cpu_ms_per_1k'])} |")
            row += (f" {', '.join(f'{x:.2f}' for x in paired)}"
                    f" ({statistics.median(paired):.2f}) |") if paired else " - |"
        lines.append(row)
    lines.append("")
    return lines


def report(servers: list[str], tp: dict[str, Any], mem: dict[str, Any],
           args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    lines: list[str] = []
    medians: dict[str, Any] = {}
    servers = [k for k in servers if k in tp]
    pyzks = [k for k in servers if server_kind(k)[0] == "pyzk"]
    multi = [k for k in pyzks if server_kind(k)[1] > 1]
    if tp:
        lines += [f"### Throughput and latency (medians of {args.repeats}; {args.sessions} "
                  f"sessions x {args.outstanding} outstanding, {args.duration:g} s window, "
                  f"{args.procs} generator process(es)"
                  f"{'; CPU pinning server:generator ' + args.pin if args.pin else '; not pinned'})",
                  ""]
        head, sep = "| workload |", "|---|"
        for k in servers:
            head += (f" {k} ops/s | {k} p50 ms | {k} p99 ms | {k} CPU% | {k} wait% |"
                     f" {k} CPU ms/1k req |")
            sep += "---:|---:|---:|---:|---:|---:|"
        lines += [head, sep]
        for wl in args.workloads:
            m = {k: {x: _med(tp[k][wl], x) for x in TP_KEYS} for k in servers}
            row = f"| {wl} |"
            for k in servers:
                row += (f" {m[k]['ops_per_s']:.0f} | {m[k]['p50_ms']:.2f} | "
                        f"{m[k]['p99_ms']:.2f} | {_f(m[k]['cpu_window_pct'], '.0f')} | "
                        f"{_f(m[k]['wait_pct'], '.0f')} | {_f(m[k]['cpu_ms_per_1k'], '.1f')} |")
            medians[wl] = m
            lines.append(row)
        lines += ["", "CPU%, wait% and CPU ms/1k req: the server's processes (all threads; a "
                  "pyzk member and its workers) over the measured window only; 100% = one "
                  "core. wait%: time its threads were runnable but not on a CPU (schedstat).",
                  ""]
        if "java" in servers and pyzks:
            lines += ratio_table(servers, pyzks, tp, medians, args)
        if multi:
            lines += ["#### pyzk with workers: member and workers apart (medians)", "",
                      "| workload | kind | member CPU% | workers CPU% | member wait% "
                      "| workers wait% | member ms/1k req | workers ms/1k req "
                      "| total ms/1k req |",
                      "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
            for wl in args.workloads:
                for k in pyzks:
                    mk = medians[wl][k]
                    lines.append(f"| {wl} | {k} | {_f(mk['member_cpu_pct'], '.0f')} | "
                                 f"{_f(mk['workers_cpu_pct'], '.0f')} | "
                                 f"{_f(mk['member_wait_pct'], '.0f')} | "
                                 f"{_f(mk['workers_wait_pct'], '.0f')} | "
                                 f"{_f(mk['member_cpu_ms_per_1k'], '.1f')} | "
                                 f"{_f(mk['workers_cpu_ms_per_1k'], '.1f')} | "
                                 f"{_f(mk['cpu_ms_per_1k'], '.1f')} |")
            lines.append("")
    if mem:
        lines += [f"### Memory ({args.znodes} znodes, 16-byte data; RSS summed over the "
                  f"server's processes)", "",
                  "| server | processes | RSS idle MiB | RSS after connect/close MiB "
                  "| RSS after znodes MiB | PSS after znodes MiB | bytes/znode (RSS) "
                  "| bytes/znode (Java live heap) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for k, mm in mem.items():
            if "error" in mm:
                lines.append(f"| {k} | error: {mm['error']} | | | | | | |")
                continue
            pss = mm.get("pss_after_kb")
            lines.append(f"| {k} | {mm.get('processes', 1)} | {mm['rss_idle_kb'] / 1024:.1f} | "
                         f"{mm['rss_after_connect_kb'] / 1024:.1f} | "
                         f"{mm['rss_after_kb'] / 1024:.1f} | "
                         f"{'-' if pss is None else f'{pss / 1024:.1f}'} | "
                         f"{mm['bytes_per_znode_rss']:.0f} | "
                         f"{mm.get('bytes_per_znode_heap', '-')} |")
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
    ap.add_argument("--pyzk-workers", default="1", metavar="N[,N...]",
                    help="pyzk.workers (processes serving clients): one pyzk server per value, "
                         "kinds pyzk-wN (e.g. 1,2 -> pyzk-w1, pyzk-w2); the default 1 keeps "
                         "the single kind 'pyzk'")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--hosts", default="", metavar="KIND=IP,...",
                    help="loopback addresses instead of the defaults, e.g. "
                         "java=127.0.24.71,pyzk=127.0.24.72 (engineers sharing a machine); "
                         "pyzk-wN kinds take their own (pyzk-w2=...) or pyzk's")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    args.hosts = dict(kv.split("=", 1) for kv in args.hosts.split(",") if kv)
    args.pyzk_workers = workers_list(ap, args.pyzk_workers)
    args.workloads = [w for w in args.workloads.split(",") if w]
    for s in args.servers.split(","):
        if s and s not in HOSTS:
            ap.error(f"unknown server {s}")
    args.servers = expand_kinds([s for s in args.servers.split(",") if s], args.pyzk_workers)
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
