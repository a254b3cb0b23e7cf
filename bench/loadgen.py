"""Raw-protocol asyncio load generator for ZooKeeper-compatible servers (not bound to kazoo).

Opens N sessions (bench.wire: ConnectRequest + trailing readOnly byte, pyzk.protocol records),
keeps K pipelined requests outstanding on each, and measures completed ops/s and per-request
latency. The same code drives pyzk and Apache ZooKeeper; several processes can share the load.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import queue
import random
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.wire import OPEN_ACL_UNSAFE, key_path, open_session
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op

WORKLOADS = ("create", "setData", "getData", "exists", "getChildren", "mix90")
_NODEEXISTS = -110  # Err.NODEEXISTS: prepare() is idempotent


@dataclass
class LoadSpec:
    host: str
    port: int
    workload: str
    sessions: int = 32
    outstanding: int = 16
    duration: float = 5.0  # measured window, seconds (upper bound)
    max_ops: int = 0  # total requests issued, 0 = unbounded (then duration alone bounds the run)
    warmup: float = 1.0  # seconds of load before the measured window opens
    payload: int = 16  # bytes of znode data for create/setData and for the prepared keys
    keys: int = 1000  # znodes read/written by setData/getData/exists/mix90
    parents: int = 100  # getChildren: parents root/p/<i>, each with `children` empty children
    children: int = 10
    root: str = "/bench"
    tag: str = "t"  # makes create paths unique across runs against the same server
    procs: int = 1  # generator processes; sessions are split between them
    cpus: tuple[int, ...] = ()  # pin generator processes to these CPUs (empty: no pinning)
    timeout_ms: int = 30000
    seed: int = 1


@dataclass
class LoadResult:
    workload: str
    ops: int = 0  # replies completed inside the measured window
    errors: int = 0  # of those, replies with err != 0
    window: float = 0.0  # seconds the window actually lasted (per process, max)
    ops_per_s: float = 0.0
    lat_ns: array = field(default_factory=lambda: array("q"))
    procs: int = 1
    # When the measured window opened (time.perf_counter_ns, CLOCK_MONOTONIC: the same clock in
    # every process), the earliest over the generator processes; 0 if unknown.
    win_start_ns: int = 0

    def percentile_ms(self, q: float) -> float:
        if not self.lat_ns:
            return float("nan")
        s = sorted(self.lat_ns)
        # nearest-rank percentile
        k = max(0, min(len(s) - 1, math.ceil(q / 100.0 * len(s)) - 1))
        return s[k] / 1e6

    def summary(self) -> dict[str, Any]:
        return {"workload": self.workload, "ops": self.ops, "errors": self.errors,
                "window_s": round(self.window, 3), "ops_per_s": round(self.ops_per_s, 1),
                "p50_ms": round(self.percentile_ms(50), 3),
                "p99_ms": round(self.percentile_ms(99), 3), "procs": self.procs}


# -- request bodies --------------------------------------------------------------------------
class RequestSource:
    """Yields (op, body) for one session's workload; None when the op budget is spent."""

    def __init__(self, spec: LoadSpec, session_index: int, budget: int) -> None:
        self.budget = budget  # 0 = unbounded
        self.issued = 0
        self.kind = spec.workload
        self.rng = random.Random(spec.seed * 1_000_003 + session_index)
        data = bytes(spec.payload)
        paths = [key_path(spec.root, i) for i in range(spec.keys)]
        self.get = [r.GetDataRequest.to_bytes(r.GetDataRequest(p, False)) for p in paths]
        self.ex = [r.ExistsRequest.to_bytes(r.ExistsRequest(p, False)) for p in paths]
        self.set = [r.SetDataRequest.to_bytes(r.SetDataRequest(p, data, -1)) for p in paths]
        self.kids = [r.GetChildren2Request.to_bytes(r.GetChildren2Request(p, False))
                     for p in (parent_path(spec.root, i) for i in range(spec.parents))]
        self.nkeys = len(paths)
        self.nkids = len(self.kids)
        self.kpos = (session_index * 7919) % max(1, self.nkids)
        self.pos = (session_index * 7919) % max(1, self.nkeys)
        self.create_prefix = f"{spec.root}/c/{spec.tag}-{session_index}-"
        self.data = data
        self.next: Callable[[], tuple[int, bytes]] = {
            "create": self._create, "setData": self._set, "getData": self._get,
            "exists": self._exists, "getChildren": self._children, "mix90": self._mix90,
        }[spec.workload]

    def take(self) -> tuple[int, bytes] | None:
        if self.budget and self.issued >= self.budget:
            return None
        self.issued += 1
        return self.next()

    def _key(self) -> int:
        self.pos = (self.pos + 1) % self.nkeys
        return self.pos

    def _create(self) -> tuple[int, bytes]:
        req = r.CreateRequest(f"{self.create_prefix}{self.issued}", self.data, OPEN_ACL_UNSAFE, 0)
        return Op.CREATE, r.CreateRequest.to_bytes(req)

    def _set(self) -> tuple[int, bytes]:
        return Op.SET_DATA, self.set[self._key()]

    def _get(self) -> tuple[int, bytes]:
        return Op.GET_DATA, self.get[self._key()]

    def _exists(self) -> tuple[int, bytes]:
        return Op.EXISTS, self.ex[self._key()]

    def _children(self) -> tuple[int, bytes]:
        self.kpos = (self.kpos + 1) % self.nkids
        return Op.GET_CHILDREN2, self.kids[self.kpos]

    def _mix90(self) -> tuple[int, bytes]:
        if self.rng.random() < 0.1:
            return self._set()
        return self._get()


class _ListSource(RequestSource):
    """A fixed script of requests (used for setup)."""

    def __init__(self, reqs: list[tuple[int, bytes]]) -> None:
        self.reqs = deque(reqs)

    def take(self) -> tuple[int, bytes] | None:
        return self.reqs.popleft() if self.reqs else None


async def run_script(host: str, port: int, reqs: list[tuple[int, bytes]],
                     outstanding: int = 64) -> list[int]:
    """Send the requests pipelined on one session; return each reply's err code."""
    s = await open_session(host, port, _ListSource(reqs), outstanding)
    s.keep_errs = True
    s.start(0, 2**62)
    await asyncio.wait_for(s.done, 120)
    await s.close()
    return s.errs


def parent_path(root: str, i: int) -> str:
    return f"{root}/p/{i}"


def prepare_paths(spec: LoadSpec) -> list[tuple[str, bytes]]:
    """(path, data) to create, parents first: root, root/k, root/c, the keys root/k/<i>
    (spec.payload bytes each) and, when spec.parents, root/p with the getChildren parents
    root/p/<i>, each with spec.children empty children root/p/<i>/<j>."""
    data = bytes(spec.payload)
    out = [(p, b"") for p in (spec.root, f"{spec.root}/k", f"{spec.root}/c")]
    out += [(key_path(spec.root, i), data) for i in range(spec.keys)]
    if spec.parents:
        out.append((f"{spec.root}/p", b""))
        for i in range(spec.parents):
            parent = parent_path(spec.root, i)
            out.append((parent, b""))
            out += [(f"{parent}/{j}", b"") for j in range(spec.children)]
    return out


async def prepare(spec: LoadSpec) -> None:
    """Create prepare_paths(spec); idempotent."""
    acl = OPEN_ACL_UNSAFE
    reqs: list[tuple[int, bytes]] = [
        (Op.CREATE, r.CreateRequest.to_bytes(r.CreateRequest(p, d, acl, 0)))
            for p, d in prepare_paths(spec)]
    errs = await run_script(spec.host, spec.port, reqs)
    bad = [e for e in errs if e not in (0, _NODEEXISTS)]
    if bad:
        raise RuntimeError(f"prepare failed: errors {sorted(set(bad))}")


# -- one process worth of sessions -----------------------------------------------------------

def _budgets(total: int, n: int) -> list[int]:
    if total <= 0:
        return [0] * n
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


async def _drive(spec: LoadSpec, first: int, count: int, budgets: list[int],
                 barrier: Any = None) -> dict[str, Any]:
    sessions = [await open_session(spec.host, spec.port,
                                   RequestSource(spec, first + i, budgets[i]), spec.outstanding,
                                   spec.timeout_ms)
                for i in range(count)]
    if barrier is not None:
        barrier.wait(60)  # every process has its sessions up; release together
    go = time.perf_counter_ns()
    win_start = go + int(spec.warmup * 1e9)
    win_end = win_start + int(spec.duration * 1e9)
    for s in sessions:
        s.start(win_start, win_end)
    # Bounded wait: the window, plus time for the last K replies of every session to drain.
    await asyncio.wait_for(asyncio.gather(*(s.done for s in sessions)),
                           spec.warmup + spec.duration + 60)
    last = max(s.last_done for s in sessions)
    window_ns = max(1, min(win_end, last) - win_start)
    for s in sessions:
        await s.close()
    lat = array("q")
    for s in sessions:
        lat.extend(s.lat)
    return {"ops": sum(s.ops for s in sessions), "errors": sum(s.errors for s in sessions),
            "window": window_ns / 1e9, "lat": lat.tobytes(), "win_start": win_start}


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)


def _worker(spec: LoadSpec, first: int, count: int, budgets: list[int], barrier: Any,
            q: Any) -> None:
    try:
        if spec.cpus:
            os.sched_setaffinity(0, set(spec.cpus))
        q.put(_run_loop(_drive(spec, first, count, budgets, barrier)))
    except BaseException as e:  # report, so the parent does not wait forever
        q.put({"error": repr(e)})
        if barrier is not None:
            barrier.abort()


def _merge(spec: LoadSpec, parts: list[dict[str, Any]]) -> LoadResult:
    res = LoadResult(spec.workload, procs=len(parts))
    for p in parts:
        if "error" in p:
            raise RuntimeError(f"load generator process failed: {p['error']}")
        res.ops += p["ops"]
        res.errors += p["errors"]
        res.window = max(res.window, p["window"])
        if p.get("win_start"):
            res.win_start_ns = min(res.win_start_ns or p["win_start"], p["win_start"])
        # Processes share one start barrier; summing per-process rates tolerates small skew.
        res.ops_per_s += p["ops"] / p["window"] if p["window"] > 0 else 0.0
        a = array("q")
        a.frombytes(p["lat"])
        res.lat_ns.extend(a)
    return res


def run_load(spec: LoadSpec) -> LoadResult:
    """Run one workload (blocking). Call prepare() first for the key-based workloads."""
    if spec.workload not in WORKLOADS:
        raise ValueError(f"unknown workload {spec.workload!r}")
    budgets = _budgets(spec.max_ops, spec.sessions)
    procs = max(1, min(spec.procs, spec.sessions))
    if procs == 1:
        saved = os.sched_getaffinity(0)
        if spec.cpus:
            os.sched_setaffinity(0, set(spec.cpus))
        try:
            return _merge(spec, [_run_loop(_drive(spec, 0, spec.sessions, budgets))])
        finally:
            os.sched_setaffinity(0, saved)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    q = ctx.Queue()
    share = _budgets(spec.sessions, procs)
    workers, first = [], 0
    for n in share:
        p = ctx.Process(target=_worker, args=(spec, first, n, budgets[first:first + n],
                                              barrier, q), daemon=True)
        p.start()
        workers.append(p)
        first += n
    deadline = time.monotonic() + spec.warmup + spec.duration + 120
    parts: list[dict[str, Any]] = []
    while len(parts) < len(workers):
        try:
            parts.append(q.get(timeout=0.5))
        except queue.Empty:
            dead = [p for p in workers if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in workers:
                    if p.is_alive():
                        p.terminate()
                raise RuntimeError(f"load generator processes failed: exit codes "
                                   f"{[p.exitcode for p in workers]}") from None
    for p in workers:
        p.join(10)
    return _merge(spec, parts)


def prepare_sync(spec: LoadSpec) -> None:
    _run_loop(prepare(spec))
