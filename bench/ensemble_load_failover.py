"""Ensemble benchmark: a 3-member pyzk ensemble vs a 3-member Apache ZooKeeper 3.8 ensemble, the
same zoo.cfg, bench.loadgen spread over the members' client ports, and leader-failover time (kill
-9 the leader under a writer). One ensemble runs at a time. Usage: python -m bench.ensemble_load_failover --help
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import platform
import queue
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.loadgen import LoadResult, LoadSpec
from bench.run import (
    _med,
    _ratio,
    cpu_seconds,
    java_version,
    pids_cpu_seconds,
    process_tree,
    wait_workers,
    workers_list,
)
from bench.wire import OPEN_ACL_UNSAFE, request_frame
from pyzk.protocol import records as r
from pyzk.protocol.framing import frame
from pyzk.protocol.opcodes import Op
from tests.ensemble.launcher import four_letter, mode_of, wait_for
from tests.servers import ServerProc

REPO = Path(__file__).resolve().parent.parent

HOSTS = {"pyzk": ["127.0.0.191", "127.0.0.192", "127.0.0.193"],
         "java": ["127.0.0.194", "127.0.0.195", "127.0.0.196"],
         # another checkout of pyzk (--base-tree), for before/after figures from one run
         "base": ["127.0.0.197", "127.0.0.198", "127.0.0.199"]}
CLIENT_PORT = 2181
WORKLOADS = ("create", "setData", "getData", "mix90")
FAILOVER_PATH = "/bench/failover"
CPU_KEYS = ("server_cpu_pct", "workers_cpu_pct", "gen_cpu_pct", "machine_busy_pct")
NAN = float("nan")


# -- configuration and members ----------------------------------------------------------------

def kind_workers(kind: str) -> tuple[str, int]:
    """'pyzk-w2' -> ('pyzk', 2): the kind's base and its pyzk.workers; others (pyzk, java,
    base) -> (kind, 1)."""
    if kind.startswith("pyzk-w") and kind[6:].isdigit() and int(kind[6:]) >= 1:
        return "pyzk", int(kind[6:])
    return kind, 1


def zoo_cfg(hosts: list[str], sid: int, datadir: Path, tick_ms: int = 2000,
            force_sync: str = "yes") -> dict[str, str]:
    """Member sid's zoo.cfg; identical for both kinds apart from addresses and dataDir."""
    cfg = {"tickTime": str(tick_ms), "initLimit": "5", "syncLimit": "2", "forceSync": force_sync,
           "dataDir": str(datadir), "clientPort": str(CLIENT_PORT),
           "clientPortAddress": hosts[sid - 1], "maxClientCnxns": "0",
           "4lw.commands.whitelist": "*", "admin.enableServer": "false"}
    cfg.update({f"server.{i}": f"{h}:2888:3888" for i, h in enumerate(hosts, 1)})
    return cfg


class Node:
    """One member process, started with the same command line as bench.run's servers."""

    def __init__(self, kind: str, sid: int, host: str, workdir: Path, cfg: dict[str, str],
                 tree: Path = REPO) -> None:
        # ServerProc only builds the command line and holds the process: the readiness probe is
        # not used, a member serves only once the ensemble has a leader.
        self.sid, self.host, self.tree = sid, host, tree
        self.srv = ServerProc("java" if kind == "java" else "pyzk", workdir, host=host,
                              port=CLIENT_PORT, cfg=cfg)
        self.srv.cfg = cfg  # drop ServerProc's standalone defaults; cfg has every key
        self.srv.datadir = Path(cfg["dataDir"])

    def start(self) -> None:
        cfg_path = self.srv.write_cfg()
        (self.srv.datadir / "myid").write_text(f"{self.sid}\n")
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.tree) + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.srv.log_path, "ab") as log:
            self.srv.proc = subprocess.Popen(self.srv.command(cfg_path), stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.srv.workdir,
                                             env=env, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.srv.proc is not None
        return self.srv.proc.pid

    @property
    def running(self) -> bool:
        return self.srv.proc is not None and self.srv.proc.poll() is None

    def mode(self) -> str | None:
        return mode_of(self.host) if self.running else None


class Cluster:
    def __init__(self, kind: str, base: Path, args: argparse.Namespace) -> None:
        self.kind = kind
        self.workers = kind_workers(kind)[1]
        self.hosts = args.hosts[kind]
        work = Path(tempfile.mkdtemp(prefix=f"ens-{kind}-", dir=base))
        # resolved: the member runs in its own work directory, where a relative tree is not
        tree = Path(args.base_tree).resolve() if kind == "base" else REPO
        self.nodes = {i: Node(kind, i, h, work / f"s{i}",
                              self.member_cfg(i, work / f"s{i}" / "data", args), tree)
                      for i, h in enumerate(self.hosts, 1)}

    def member_cfg(self, sid: int, datadir: Path, args: argparse.Namespace) -> dict[str, str]:
        cfg = zoo_cfg(self.hosts, sid, datadir, args.tick_time, args.force_sync)
        if self.workers > 1:
            cfg["pyzk.workers"] = str(self.workers)
        return cfg

    def start(self, timeout: float = 90.0) -> dict[int, str | None]:
        for n in self.nodes.values():
            n.start()
        modes = self.wait_stable(timeout)
        for n in self.nodes.values():  # before that a member serves every client itself
            wait_workers(n.srv, self.workers, timeout)
        return modes

    def process_trees(self) -> list[list[int]]:
        """Each member's processes: the member first, then its workers."""
        return [process_tree(n.pid) for n in self.nodes.values()]

    def wait_stable(self, timeout: float,
                    members: list[int] | None = None) -> dict[int, str | None]:
        """Until exactly one leader and every other (running) member follows."""
        ids = members or [s for s, n in self.nodes.items() if n.running]

        def ready() -> dict[int, str | None] | None:
            modes = {s: self.nodes[s].mode() for s in ids}
            vals = list(modes.values())
            ok = vals.count("leader") == 1 and all(v in ("leader", "follower") for v in vals)
            return modes if ok else None

        try:
            return wait_for(ready, timeout, f"a stable {self.kind} ensemble")  # type: ignore
        except TimeoutError as e:
            tails = "\n".join(f"--- {s}: {n.srv.tail_log(15)}" for s, n in self.nodes.items())
            raise TimeoutError(f"{e}\n{tails}") from None

    def role(self, want: str) -> list[int]:
        return [s for s, n in self.nodes.items() if n.mode() == want]

    def stop(self) -> None:
        for n in self.nodes.values():
            n.srv.stop()


# -- throughput -------------------------------------------------------------------------------

def session_split(sessions: int, members: int) -> list[int]:
    """Sessions per member (round-robin remainder first): 32 over 3 -> [11, 11, 10]."""
    return loadgen._budgets(sessions, members)


def _mark_release(path: str) -> None:
    """Barrier action (runs in one generator process): when the sessions are released."""
    Path(path).write_text(str(time.perf_counter_ns()))  # CLOCK_MONOTONIC: same in every process


def machine_busy(stat_text: str) -> tuple[int, int]:
    """(busy, total) jiffies from the 'cpu' line of /proc/stat (idle and iowait are not busy)."""
    f = [int(x) for x in stat_text.splitlines()[0].split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


class Sampler(threading.Thread):
    """Every 0.1 s: server CPU seconds per member (over its process tree: a member pid, or
    the pids of the member and its workers, taken once), generator CPU seconds, machine
    jiffies, and the CPU seconds of every member's workers together."""

    def __init__(self, servers: list[int] | list[list[int]]) -> None:
        super().__init__(daemon=True)
        self.servers, self.gens = servers, list[int]()
        self.samples: list[tuple[int, list[float], float, tuple[int, int]]] = []
        self.workers = [p for t in servers if isinstance(t, list) for p in t[1:]]
        self.wsamples: list[tuple[int, float]] = []
        self.halt = threading.Event()

    def _server_cpu(self, s: int | list[int]) -> float:
        return pids_cpu_seconds(s) if isinstance(s, list) else cpu_seconds(s)

    def _gen_cpu(self) -> float:
        total = 0.0
        for p in self.gens:
            try:
                total += cpu_seconds(p)
            except (OSError, ValueError):
                pass  # not yet started / already gone
        return total

    def run(self) -> None:
        while not self.halt.is_set():
            now = time.perf_counter_ns()
            self.samples.append((now, [self._server_cpu(p) for p in self.servers],
                                 self._gen_cpu(), machine_busy(Path("/proc/stat").read_text())))
            self.wsamples.append((now, pids_cpu_seconds(self.workers)))
            self.halt.wait(0.1)

    def window(self, start_ns: int, end_ns: int) -> dict[str, Any]:
        """CPU rates between the first sample in the window and the last one in it."""
        inside = [x for x in self.samples if start_ns <= x[0] <= end_ns]
        if len(inside) < 2:
            return {}
        (t0, s0, g0, m0), (t1, s1, g1, m1) = inside[0], inside[-1]
        dt = (t1 - t0) / 1e9
        per = [round(100 * (b - a) / dt, 1) for a, b in zip(s0, s1, strict=True)]
        w = [c for t, c in self.wsamples if start_ns <= t <= end_ns]
        workers = round(100 * (w[-1] - w[0]) / dt, 1) if len(w) >= 2 else 0.0
        return {"server_cpu_pct": round(sum(per), 1), "member_cpu_pct": per,
                "workers_cpu_pct": workers,
                "gen_cpu_pct": round(100 * (g1 - g0) / dt, 1),
                "machine_busy_pct": round(100 * (os.cpu_count() or 1) * (m1[0] - m0[0])
                                          / max(1, m1[1] - m0[1]), 1)}


def run_spread(hosts: list[str], spec: LoadSpec, sampler: Sampler,
               mark: Path) -> tuple[LoadResult, dict[str, Any]]:
    """loadgen's worker once per member, its share of the sessions on that member's client port,
    released together by one barrier; merged as loadgen.run_load merges its processes. Also
    returns the CPU rates over the measured window (barrier release + warm-up)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(hosts), action=functools.partial(_mark_release, str(mark)))
    q = ctx.Queue()
    budgets = loadgen._budgets(spec.max_ops, spec.sessions)
    workers, first = [], 0
    for host, n in zip(hosts, session_split(spec.sessions, len(hosts)), strict=True):
        p = ctx.Process(target=loadgen._worker, daemon=True,
                        args=(replace(spec, host=host), first, n, budgets[first:first + n],
                              barrier, q))
        p.start()
        workers.append(p)
        sampler.gens.append(p.pid or 0)
        first += n
    deadline = time.monotonic() + spec.warmup + spec.duration + 120
    parts: list[dict[str, Any]] = []
    while len(parts) < len(workers):
        try:
            parts.append(q.get(timeout=0.5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in workers) or time.monotonic() > deadline:
                for p in workers:
                    if p.is_alive():
                        p.terminate()
                raise RuntimeError("load generator processes failed") from None
    for p in workers:
        p.join(10)
    sampler.gens.clear()
    res = loadgen._merge(spec, parts)
    win_start = int(mark.read_text()) + int(spec.warmup * 1e9)
    return res, sampler.window(win_start, win_start + int(res.window * 1e9))


def row_label(workload: str, placement: str) -> str:
    """Table row: the workload, suffixed with the placement unless sessions are spread."""
    return workload if placement == "spread" else f"{workload} @{placement}"


def node_counts(hosts: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for h in hosts:
        line = [x for x in four_letter(h, "srvr").splitlines() if x.startswith("Node count")]
        out.append(line[0] if line else None)
    return out


def leader_epoch(hosts: list[str]) -> int | None:
    """The highest epoch any member's srvr Zxid shows: it moves on with every election, so a
    run whose epoch did not change had no (false) election."""
    epochs = []
    for h in hosts:
        for x in four_letter(h, "srvr").splitlines():
            if x.startswith("Zxid:"):
                epochs.append(int(x.split(":", 1)[1].strip(), 16) >> 32)
    return max(epochs) if epochs else None


def members_agree(hosts: list[str]) -> bool:
    counts = node_counts(hosts)
    return None not in counts and len(set(counts)) == 1


def throughput_block(kind: str, rep: int, args: argparse.Namespace, base: Path,
                     log: Any) -> dict[str, dict[str, Any]]:
    """A fresh ensemble of one kind, every workload once, then stop it."""
    cl = Cluster(kind, base, args)
    rows: dict[str, dict[str, Any]] = {}
    sampler: Sampler | None = None
    try:
        modes = cl.start()
        log(f"  {kind} rep {rep}: ensemble up {modes}")
        spec = LoadSpec(cl.hosts[0], CLIENT_PORT, "getData", sessions=args.sessions,
                        outstanding=args.outstanding, duration=args.duration, warmup=args.warmup,
                        keys=args.keys, tag=f"r{rep}")
        loadgen.prepare_sync(spec)
        # The keys are acked by a quorum; wait until the third member has applied them too.
        wait_for(lambda: members_agree(cl.hosts), 30, "members to agree")
        sampler = Sampler(cl.process_trees())
        sampler.start()
        leader = [s for s, v in modes.items() if v == "leader"][0]
        for wl, place in [(w, p) for p in args.placement for w in args.workloads]:
            mark = base / "release"
            mark.unlink(missing_ok=True)
            # Three generator processes either way: one per member, or all on the leader.
            hosts = cl.hosts if place == "spread" else [cl.hosts[leader - 1]] * len(cl.hosts)
            epoch0 = leader_epoch(cl.hosts)
            # create's paths carry the tag: unique per placement, or the second run's collide
            res, cpu = run_spread(hosts, replace(spec, workload=wl, tag=f"r{rep}{place[0]}"),
                                  sampler, mark)
            epoch1 = leader_epoch(cl.hosts)
            row = res.summary()
            # Elections during the run (a follower that timed out under load, a leader that
            # lost its quorum): the epoch moves on with each one.
            row["elections"] = (None if epoch0 is None or epoch1 is None
                                else epoch1 - epoch0)
            row.update({k: NAN for k in CPU_KEYS}, repeat=rep, leader=leader, placement=place,
                       loadavg=os.getloadavg()[0])
            row.update(cpu)
            # Server CPU time per completed request (all three members): the fair comparison
            # when both kinds are CPU-bound on a shared box.
            # (µs per request = ms per 1000 requests)
            row["server_cpu_us_per_op"] = round(
                row["server_cpu_pct"] * 1e4 / row["ops_per_s"], 1) if row["ops_per_s"] else NAN
            row["workers_cpu_us_per_op"] = round(
                row["workers_cpu_pct"] * 1e4 / row["ops_per_s"], 1) if row["ops_per_s"] else NAN
            label = row_label(wl, place)
            rows[label] = row
            log(f"  {kind:4} {label:15} rep {rep}: {row['ops_per_s']:>8.0f} ops/s  p50 "
                f"{row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} ms  err {row['errors']}  server "
                f"CPU {row['server_cpu_pct']}% {row.get('member_cpu_pct')} (workers "
                f"{row['workers_cpu_pct']}%) {row['server_cpu_us_per_op']} ms/1k req  "
                f"gen {row['gen_cpu_pct']}%  "
                f"machine {row['machine_busy_pct']}%  load {row['loadavg']:.1f}  "
                f"elections {row['elections']}")
    finally:
        if sampler is not None:
            sampler.halt.set()
        cl.stop()
    return rows


# -- failover ---------------------------------------------------------------------------------

def recovery_time(t_kill: float, oks: list[tuple[float, float]]) -> float | None:
    """Seconds from the kill to the first successful reply to a write *sent* after it (a write
    sent before could have been committed by the dead leader already)."""
    after = [done for sent, done in oks if sent >= t_kill]
    return min(after) - t_kill if after else None


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def _recv_frame(s: socket.socket) -> bytes:
    (n,) = struct.unpack(">i", _recv_exact(s, 4))
    return _recv_exact(s, n)


class Writer(threading.Thread):
    """One session writing setData back to back (one outstanding), starting on `hosts[0]` and
    moving through the list after a failure like a client's connect string; re-attaches its
    session (id, password, last zxid seen) and retries every 10 ms without backoff, so the
    figure is the servers' recovery time, not a client's reconnect policy."""

    def __init__(self, hosts: list[str], timeout_ms: int = 30000) -> None:
        super().__init__(daemon=True)
        self.hosts, self.timeout_ms = hosts, timeout_ms
        self.sid, self.passwd, self.zxid = 0, b"\0" * 16, 0
        self.oks: list[tuple[float, float]] = []
        self.failures = 0
        self.halt = threading.Event()
        self.body = r.SetDataRequest.to_bytes(r.SetDataRequest(FAILOVER_PATH, b"x" * 16, -1))

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            try:
                with socket.create_connection((self.hosts[i % len(self.hosts)], CLIENT_PORT),
                                              timeout=1.0) as s:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._session(s)
            except (OSError, ConnectionError, ValueError):
                self.failures += 1
            i += 1
            self.halt.wait(0.01)

    def _session(self, s: socket.socket) -> None:
        req = r.ConnectRequest(0, self.zxid, self.timeout_ms, self.sid, self.passwd)
        s.sendall(frame(r.ConnectRequest.to_bytes(req) + b"\0"))
        resp, _ = r.ConnectResponse.decode(_recv_frame(s), 0)
        if resp.timeOut <= 0 or resp.sessionId == 0:
            self.sid, self.passwd = 0, b"\0" * 16  # expired: the next try opens a new session
            raise ConnectionError("session expired")
        self.sid, self.passwd = resp.sessionId, resp.passwd
        xid = 0
        while not self.halt.is_set():
            xid += 1
            sent = time.perf_counter()
            s.sendall(request_frame(xid, Op.SET_DATA, self.body))
            while True:
                hdr, _ = r.ReplyHeader.decode(_recv_frame(s), 0)
                if hdr.xid == xid:
                    break
                if hdr.xid not in (-1, -2):
                    raise ConnectionError(f"reply xid {hdr.xid} != {xid}")
            if hdr.err != 0:
                raise ConnectionError(f"err {hdr.err}")
            self.oks.append((sent, time.perf_counter()))
            self.zxid = max(self.zxid, hdr.zxid)
        with_close = request_frame(xid + 1, Op.CLOSE_SESSION, b"")
        s.sendall(with_close)
        _recv_frame(s)


def one_kill(cl: Cluster, log: Any) -> dict[str, Any]:
    modes = cl.wait_stable(60)
    leader = [s for s, v in modes.items() if v == "leader"][0]
    followers = [s for s in modes if s != leader]
    writers = []
    for f in followers:  # each writer starts on a follower, then the rest of the connect string
        order = [f] + [s for s in cl.nodes if s != f]
        writers.append(Writer([cl.nodes[s].host for s in order]))
    for w in writers:
        w.start()
    wait_for(lambda: all(len(w.oks) >= 50 for w in writers), 30, "writes before the kill")
    t_kill = time.perf_counter()
    cl.nodes[leader].srv.kill9()
    t_elected = None
    rec = None
    deadline = time.monotonic() + 90
    while (rec is None or t_elected is None) and time.monotonic() < deadline:
        rec_all = [recovery_time(t_kill, list(w.oks)) for w in writers]
        got = [x for x in rec_all if x is not None]
        rec = min(got) if got else None
        if t_elected is None:
            ms = [cl.nodes[s].mode() for s in followers]
            if ms.count("leader") == 1 and all(m in ("leader", "follower") for m in ms):
                t_elected = time.perf_counter() - t_kill
        time.sleep(0.01)
    for w in writers:
        w.halt.set()
    for w in writers:
        w.join(15)
    new_modes = {s: cl.nodes[s].mode() for s in followers}
    out = {"old_leader": leader, "new_modes": new_modes,
           "write_recovery_s": None if rec is None else round(rec, 4),
           "srvr_elected_s": None if t_elected is None else round(t_elected, 3),
           "writer_failures": [w.failures for w in writers]}
    cl.nodes[leader].start()  # restart the killed member on its data dir
    out["restabilized"] = cl.wait_stable(120, members=list(cl.nodes))
    log(f"    killed {leader}: write recovery {out['write_recovery_s']} s, srvr shows a leader "
        f"after {out['srvr_elected_s']} s, {new_modes}")
    return out


def failover_phase(kind: str, args: argparse.Namespace, base: Path,
                   log: Any) -> list[dict[str, Any]]:
    cl = Cluster(kind, base, args)
    kills: list[dict[str, Any]] = []
    try:
        log(f"  {kind}: ensemble up {cl.start()}")
        script: list[tuple[int, bytes]] = [
            (Op.CREATE, r.CreateRequest.to_bytes(r.CreateRequest(p, b"", OPEN_ACL_UNSAFE, 0)))
            for p in ("/bench", FAILOVER_PATH)]
        loadgen._run_loop(loadgen.run_script(cl.hosts[0], CLIENT_PORT, script))
        for _ in range(args.kills):
            kills.append(one_kill(cl, log))
    finally:
        cl.stop()
    return kills


# -- report -----------------------------------------------------------------------------------

def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None or x != x else format(x, spec)


def labels(args: argparse.Namespace) -> list[str]:
    return [row_label(w, p) for p in args.placement for w in args.workloads]


def table_kinds(tp: dict[str, Any]) -> list[str]:
    """The kinds in table order: pyzk, pyzk-w1, pyzk-w2, ..., java, base."""
    pyzks = sorted((k for k in tp if kind_workers(k)[0] == "pyzk"),
                   key=lambda k: (k != "pyzk", kind_workers(k)[1]))
    return pyzks + [k for k in ("java", "base") if k in tp]


TABLE_KEYS = ("ops_per_s", "p50_ms", "p99_ms", "server_cpu_pct", "workers_cpu_pct",
              "gen_cpu_pct", "machine_busy_pct", "server_cpu_us_per_op")


def throughput_table(tp: dict[str, dict[str, list[dict[str, Any]]]],
                     args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    kinds = table_kinds(tp)
    pyzks = [k for k in kinds if kind_workers(k)[0] == "pyzk"] if "java" in tp else []
    multi = [k for k in kinds if kind_workers(k)[1] > 1]
    lines = [f"### 3-member ensembles: throughput and latency (medians of {args.repeats}; "
             f"{args.sessions} sessions x {args.outstanding} outstanding over the 3 client "
             f"ports, '@leader' rows: all on the leader's; {args.duration:g} s window, "
             f"{args.warmup:g} s warm-up, no pinning)", ""]
    head, sep = "| workload |", "|---|"
    for k in kinds:
        head += (f" {k} ops/s | {k} p50 ms | {k} p99 ms | {k} server CPU% |"
                 f"{f' {k} workers CPU% |' if k in multi else ''} {k} CPU ms/1k req |")
        sep += "---:|---:|---:|---:|---:|" + ("---:|" if k in multi else "")
    who = "/".join(kinds)
    head += f" gen CPU% ({who}) | machine busy% ({who}) |"
    sep += "---:|---:|"
    for k in pyzks:
        head += f" ops/s {k}/java | p50 {k}/java | p99 {k}/java | CPU ms/1k {k}/java |"
        sep += "---:|---:|---:|---:|"
    with_base = "pyzk" in tp and "java" in tp and "base" in kinds
    if with_base:
        head += " ops/s base/java | ops/s pyzk/base | CPU ms/1k pyzk/base |"
        sep += "---:|---:|---:|"
    lines += [head, sep]
    medians: dict[str, Any] = {}
    for wl in labels(args):
        m = {k: {x: _med([r for r in tp[k][wl] if x in r], x) for x in TABLE_KEYS}
             for k in kinds if tp[k].get(wl)}
        if len(m) != len(kinds):
            continue
        row = f"| {wl} |"
        for k in kinds:
            wk = f" {m[k]['workers_cpu_pct']:.0f} |" if k in multi else ""
            row += (f" {m[k]['ops_per_s']:.0f} | {m[k]['p50_ms']:.2f} | {m[k]['p99_ms']:.2f} |"
                    f" {m[k]['server_cpu_pct']:.0f} |{wk} {m[k]['server_cpu_us_per_op']:.1f} |")
        row += (" " + " / ".join(f"{m[k]['gen_cpu_pct']:.0f}" for k in kinds) + " | "
                + " / ".join(f"{m[k]['machine_busy_pct']:.0f}" for k in kinds) + " |")
        j = m.get("java")
        for k in pyzks:
            p = m[k]
            assert j is not None
            row += (f" {_ratio(p['ops_per_s'], j['ops_per_s'])} |"
                    f" {_ratio(p['p50_ms'], j['p50_ms'])} | {_ratio(p['p99_ms'], j['p99_ms'])} |"
                    f" {_ratio(p['server_cpu_us_per_op'], j['server_cpu_us_per_op'])} |")
        if with_base:
            p, j, b = m["pyzk"], m["java"], m["base"]
            row += (f" {_ratio(b['ops_per_s'], j['ops_per_s'])} |"
                    f" {_ratio(p['ops_per_s'], b['ops_per_s'])} |"
                    f" {_ratio(p['server_cpu_us_per_op'], b['server_cpu_us_per_op'])} |")
        medians[wl] = m
        lines.append(row)
    lines += ["", "Server CPU% is the sum over the three members' processes (a pyzk member "
              "with workers: the member and its workers; 100% = one core; the machine has 2); "
              "workers CPU% is the workers' part of it; CPU ms/1k req is server CPU time per "
              "1000 completed requests (= µs per request), all members and their workers. "
              "Three servers plus the generator share 2 cores, so every kind is CPU-bound: "
              "ops/s compares what each got done with the CPU it got on this box, not capacity.",
              ""]
    return lines, medians


def failover_table(fo: dict[str, list[dict[str, Any]]]) -> tuple[list[str], dict[str, Any]]:
    lines = ["### Leader failover (kill -9 the leader under two writers on the followers)", "",
             "| kind | kills | write recovery median s | min | max | each | srvr shows a leader, "
             "median s |", "|---|---:|---:|---:|---:|---|---:|"]
    med: dict[str, Any] = {}
    for k in table_kinds(fo):
        rec = [x["write_recovery_s"] for x in fo[k] if x["write_recovery_s"] is not None]
        ele = [x["srvr_elected_s"] for x in fo[k] if x["srvr_elected_s"] is not None]
        med[k] = {"write_recovery_s": statistics.median(rec) if rec else None,
                  "srvr_elected_s": statistics.median(ele) if ele else None}
        lines.append(f"| {k} | {len(fo[k])} | {_fmt(med[k]['write_recovery_s'], '.3f')} | "
                     f"{_fmt(min(rec) if rec else None, '.3f')} | "
                     f"{_fmt(max(rec) if rec else None, '.3f')} | "
                     f"{', '.join(f'{x:.3f}' for x in rec)} | "
                     f"{_fmt(med[k]['srvr_elected_s'], '.2f')} |")
    pyzks = [k for k in med if kind_workers(k)[0] == "pyzk"] if "java" in med else []
    if pyzks:
        lines.append("")
    for k in pyzks:
        a, b = med[k]["write_recovery_s"], med["java"]["write_recovery_s"]
        lines.append(f"write recovery {k}/java: {_ratio(a, b) if a and b else '-'}")
    lines.append("")
    return lines, med


# -- main -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="pyzk,java",
                    help="comma list of pyzk,java,base (base: the pyzk of --base-tree)")
    ap.add_argument("--base-tree", default="",
                    help="another pyzk checkout (e.g. a git worktree of the commit before a "
                         "change), run as kind 'base' from its own directory")
    ap.add_argument("--base-hosts", default=",".join(HOSTS["base"]),
                    help="the base members' loopback addresses")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--outstanding", type=int, default=16)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kills", type=int, default=5, help="leader kills per kind")
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--tick-time", type=int, default=2000)
    ap.add_argument("--force-sync", default="yes")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument("--placement", default="spread",
                    help="comma list: spread (sessions split over the members), leader (all "
                         "sessions on the leader's client port)")
    ap.add_argument("--pyzk-hosts", default=",".join(HOSTS["pyzk"]),
                    help="the pyzk members' loopback addresses: 3, shared by every pyzk-wN "
                         "kind (one ensemble runs at a time), or 3 per --pyzk-workers value")
    ap.add_argument("--pyzk-workers", default="1", metavar="N[,N...]",
                    help="pyzk.workers of each pyzk member: one pyzk ensemble per value, kinds "
                         "pyzk-wN (e.g. 1,2 -> pyzk-w1, pyzk-w2); the default 1 keeps kind "
                         "'pyzk'")
    ap.add_argument("--java-hosts", default=",".join(HOSTS["java"]),
                    help="the Java members' loopback addresses")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    args.pyzk_workers = workers = workers_list(ap, args.pyzk_workers)
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in HOSTS:
            ap.error(f"unknown kind {k}")
    pyzk_kinds = ["pyzk"] if workers == [1] else [f"pyzk-w{n}" for n in workers]
    args.kinds = [x for k in kinds for x in (pyzk_kinds if k == "pyzk" else [k])]
    args.hosts = {"java": args.java_hosts.split(","), "base": args.base_hosts.split(",")}
    pyzk_hosts = args.pyzk_hosts.split(",")
    if len(pyzk_hosts) not in (3, 3 * len(pyzk_kinds)):
        ap.error(f"--pyzk-hosts: 3 addresses, or 3 per --pyzk-workers value "
                 f"({3 * len(pyzk_kinds)})")
    for i, k in enumerate(pyzk_kinds):
        args.hosts[k] = pyzk_hosts[3 * i:3 * i + 3] if len(pyzk_hosts) > 3 else pyzk_hosts
    if "base" in args.kinds and not args.base_tree:
        ap.error("kind base needs --base-tree")
    args.placement = [p for p in args.placement.split(",") if p]
    for p in args.placement:
        if p not in ("spread", "leader"):
            ap.error(f"unknown placement {p}")
    args.workloads = [w for w in args.workloads.split(",") if w]
    for w in args.workloads:
        if w not in loadgen.WORKLOADS:
            ap.error(f"unknown workload {w}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    tp: dict[str, dict[str, list[dict[str, Any]]]] = {k: {w: [] for w in labels(args)}
                                                      for k in args.kinds}
    fo: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="pyzk-ens-bench-") as tmp:
        base = Path(tmp)
        if not args.no_throughput:
            log("throughput (one ensemble at a time; the first kind rotates per repeat):")
            for rep in range(args.repeats):
                k = rep % len(args.kinds)
                order = args.kinds[k:] + args.kinds[:k]  # each kind goes first in turn
                for kind in order:
                    for wl, row in throughput_block(kind, rep, args, base, log).items():
                        tp[kind][wl].append(row)
        if not args.no_failover:
            log("failover:")
            for kind in args.kinds:
                fo[kind] = failover_phase(kind, args, base, log)
    lines: list[str] = []
    tmed: dict[str, Any] = {}
    fmed: dict[str, Any] = {}
    if not args.no_throughput:
        part, tmed = throughput_table(tp, args)
        lines += part
    if fo:
        part, fmed = failover_table(fo)
        lines += part
    table = "\n".join(lines)
    print(table)
    doc = {"timestamp": stamp, "config": {k: v for k, v in vars(args).items() if k != "out"},
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "python": sys.version.split()[0], "java": java_version(),
                       "loadavg_end": os.getloadavg()},
           "hosts": args.hosts, "throughput_runs": tp, "throughput_medians": tmed,
           "failover_kills": fo, "failover_medians": fmed, "markdown": table}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"ensemble-{stamp}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
