"""Where an ensemble's write time goes, per member: one 3-member ensemble (pyzk, or Java for
comparison) under bench.loadgen's load, and for each member over the measured window its CPU
time per request, its time runnable but waiting for a CPU (schedstat), fsyncs per second and
the syscalls per request (`perf stat` tracepoints, when perf is installed), and optionally a
py-spy profile. By hand, not in CI: python -m bench.ensemble_profile --help
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench import ensemble_load_failover as ens
from bench import loadgen
from bench.loadgen import LoadSpec
from tests.ensemble.launcher import wait_for

SYSCALLS = ("fdatasync", "fsync", "pwrite64", "write", "writev", "sendto", "sendmsg", "read",
            "recvfrom", "epoll_wait", "futex")


def thread_stats(pid: int) -> dict[str, tuple[int, int]]:
    """Per thread ("tid name"): (ns on a CPU, ns runnable but waiting for one)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # a thread that just ended
        out[f"{task.name} {name}"] = (int(fields[0]), int(fields[1]))
    return out


def schedstat(pid: int) -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for one), summed over the process's threads."""
    stats = thread_stats(pid).values()
    return sum(r for r, _ in stats), sum(w for _, w in stats)


def perf_counts(text: str) -> dict[str, int]:
    """`perf stat -x,` output -> {syscall: count}."""
    out = {}
    for line in text.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].strip().isdigit():
            out[f[2].split(":")[-1].removeprefix("sys_enter_")] = int(f[0])
    return out


def probe(cl: ens.Cluster, leader: int, args: argparse.Namespace, out: dict[str, object],
          outdir: Path) -> None:
    """From the end of the warm-up for args.window seconds: schedstat, perf, py-spy."""
    time.sleep(args.warmup + 0.5)
    procs = []
    perf = shutil.which("perf")
    for sid, n in cl.nodes.items():
        role = f"{'L' if sid == leader else 'F'}{sid}"
        if perf:
            events = ",".join(["raw_syscalls:sys_enter"]
                              + [f"syscalls:sys_enter_{s}" for s in SYSCALLS])
            procs.append(subprocess.Popen(
                [perf, "stat", "-x,", "-e", events, "-p", str(n.pid), "--", "sleep",
                 str(args.window)], stderr=(outdir / f"perf-{role}.txt").open("w")))
        if args.py_spy:
            procs.append(subprocess.Popen(
                [args.py_spy, "record", "-p", str(n.pid), "-d", str(int(args.window)), "-r",
                 "200", "-f", "raw",
                 # py-spy unwinds C frames only with the process paused at each sample
                 *(["--native"] if args.native else ["--nonblocking"]), "-o",
                 str(outdir / f"spy-{args.workload}-{args.placement}-{role}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    before = {s: thread_stats(n.pid) for s, n in cl.nodes.items()}
    time.sleep(args.window)
    out["threads"] = {s: (thread_stats(n.pid), before[s]) for s, n in cl.nodes.items()}
    for p in procs:
        p.wait(30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="pyzk", choices=("pyzk", "java", "base"))
    ap.add_argument("--base-tree", default="",
                    help="kind base: the pyzk tree to run, e.g. build/compiled")
    ap.add_argument("--workload", default="setData", choices=loadgen.WORKLOADS)
    ap.add_argument("--placement", default="spread", choices=("spread", "leader"))
    ap.add_argument("--hosts", default="127.0.0.191,127.0.0.192,127.0.0.193")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=6.0, help="probed seconds")
    ap.add_argument("--py-spy", default="", help="path of a py-spy binary: also record stacks")
    ap.add_argument("--native", action="store_true",
                    help="py-spy --native: C frames too (the compiled build's functions)")
    ap.add_argument("--out", default=str(ens.REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    eargs = ens.parse_args(["--no-failover", f"--{args.kind}-hosts", args.hosts,
                            "--base-tree", args.base_tree])
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyzk-ens-profile-") as tmp:
        base = Path(tmp)
        cl = ens.Cluster(args.kind, base, eargs)
        sampler: ens.Sampler | None = None
        try:
            modes = cl.start()
            leader = next(s for s, v in modes.items() if v == "leader")
            spec = LoadSpec(cl.hosts[0], ens.CLIENT_PORT, args.workload, sessions=32,
                            outstanding=16, duration=args.window + 1.0, warmup=args.warmup,
                            keys=1000, tag="prof")
            loadgen.prepare_sync(spec)
            wait_for(lambda: ens.members_agree(cl.hosts), 30, "members to agree")
            hosts = cl.hosts if args.placement == "spread" else [cl.hosts[leader - 1]] * 3
            sampler = ens.Sampler([n.pid for n in cl.nodes.values()])
            sampler.start()
            got: dict[str, object] = {}
            th = threading.Thread(target=probe, args=(cl, leader, args, got, outdir))
            th.start()
            res, _ = ens.run_spread(hosts, replace(spec), sampler, base / "release")
            th.join()
        finally:
            if sampler is not None:
                sampler.halt.set()
            cl.stop()
    ops = res.ops_per_s
    print(f"{args.kind} {args.workload} sessions:{args.placement}: {ops:.0f} ops/s, p50 "
          f"{res.percentile_ms(50):.1f} ms, p99 {res.percentile_ms(99):.1f} ms")
    print("| member | CPU % | runnable, waiting % | CPU µs/op | fsync/s | txns/fsync | "
          "syscalls/op | write()s/op | read()s/op |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    threads = got["threads"]
    assert isinstance(threads, dict)
    busy: list[str] = []
    for sid in cl.nodes:
        role = f"{'L' if sid == leader else 'F'}{sid}"
        after, before = threads[sid]
        deltas = {k: (r - before.get(k, (0, 0))[0], w - before.get(k, (0, 0))[1])
                  for k, (r, w) in after.items()}
        r1 = sum(r for r, _ in deltas.values())
        w1 = sum(w for _, w in deltas.values())
        r0 = w0 = 0
        for k, (r, w) in sorted(deltas.items(), key=lambda kv: -kv[1][0])[:3]:
            if r > 0.01 * args.window * 1e9:  # threads that ran 1% of the window or more
                sleep = 100 - 100 * (r + w) / 1e9 / args.window
                busy.append(f"  {role} thread {k}: on a CPU {100 * r / 1e9 / args.window:.0f}%, "
                            f"runnable and waiting {100 * w / 1e9 / args.window:.0f}%, "
                            f"sleeping {sleep:.0f}%")
        cpu = (r1 - r0) / 1e9 / args.window
        pf = outdir / f"perf-{role}.txt"
        c = {k: v / args.window for k, v in perf_counts(pf.read_text()).items()} \
            if pf.exists() else {}
        syncs = c.get("fdatasync", 0) + c.get("fsync", 0)
        writes = sum(c.get(k, 0) for k in ("write", "writev", "sendto", "sendmsg"))
        reads = sum(c.get(k, 0) for k in ("read", "recvfrom"))
        print(f"| {role} | {100 * cpu:.0f} | {100 * (w1 - w0) / 1e9 / args.window:.0f} | "
              f"{1e6 * cpu / ops:.1f} | {syncs:.0f} | {ops / syncs if syncs else 0:.0f} | "
              f"{c.get('sys_enter', 0) / ops:.2f} | {writes / ops:.3f} | {reads / ops:.3f} |")
    print("\nbusiest threads (sleeping: blocked in epoll, a lock such as the GIL, or I/O):")
    print("\n".join(busy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
