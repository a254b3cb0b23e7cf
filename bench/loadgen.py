"""Raw-protocol asyncio load generator for ZooKeeper-compatible servers (not bound to kazoo).

Opens N sessions (ConnectRequest + trailing readOnly byte, built with pyzk.protocol records), keeps
K pipelined requests outstanding on each, and measures completed ops/s and per-request latency.
The same code drives pyzk and Apache ZooKeeper; several processes can share the load.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import queue
import random
import struct
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.framing import frame
from pyzk.protocol.opcodes import Op

WORKLOADS = ("create", "setData", "getData", "exists", "mix90")

# Frame length + ReplyHeader{int xid, long zxid, int err}: the same layout as r.ReplyHeader,
# unpacked with one precompiled struct because the reply path is the generator's own hot loop.
_REPLY = struct.Struct(">iiqi")
# Frame length + RequestHeader{int xid, int type}.
_REQ = struct.Struct(">iii")
_NOTIFICATION_XID = -1  # WatcherEvent (ClientCnxn.NOTIFICATION_XID)
_PING_XID = -2
_OPEN_ACL_UNSAFE = [r.ACL(31, r.Id("world", "anyone"))]  # ZooDefs.Ids.OPEN_ACL_UNSAFE
_NODEEXISTS = -110


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
    root: str = "/bench"
    tag: str = "t"  # makes create paths unique across runs against the same server
    procs: int = 1  # generator processes; sessions are split between them
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

def connect_request_bytes(timeout_ms: int) -> bytes:
    """A fresh-session ConnectRequest frame with the trailing readOnly=false byte."""
    body = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, timeout_ms, 0, b"\0" * 16)) + b"\0"
    return frame(body)


def request_frame(xid: int, op: int, body: bytes) -> bytes:
    return _REQ.pack(8 + len(body), xid, op) + body


def key_path(root: str, i: int) -> str:
    return f"{root}/k/{i}"


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
        self.nkeys = len(paths)
        self.pos = (session_index * 7919) % max(1, self.nkeys)
        self.create_prefix = f"{spec.root}/c/{spec.tag}-{session_index}-"
        self.data = data
        self.next: Callable[[], tuple[int, bytes]] = {
            "create": self._create, "setData": self._set, "getData": self._get,
            "exists": self._exists, "mix90": self._mix90,
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
        req = r.CreateRequest(f"{self.create_prefix}{self.issued}", self.data, _OPEN_ACL_UNSAFE, 0)
        return Op.CREATE, r.CreateRequest.to_bytes(req)

    def _set(self) -> tuple[int, bytes]:
        return Op.SET_DATA, self.set[self._key()]

    def _get(self) -> tuple[int, bytes]:
        return Op.GET_DATA, self.get[self._key()]

    def _exists(self) -> tuple[int, bytes]:
        return Op.EXISTS, self.ex[self._key()]

    def _mix90(self) -> tuple[int, bytes]:
        if self.rng.random() < 0.1:
            return self._set()
        return self._get()


# -- one session -----------------------------------------------------------------------------

class Session(asyncio.Protocol):
    """A pipelined client session. Replies come back in xid order (ZooKeeper's FIFO guarantee)."""

    def __init__(self, source: RequestSource | None, outstanding: int, timeout_ms: int) -> None:
        self.source = source
        self.outstanding = outstanding
        self.timeout_ms = timeout_ms
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.handshaken = False
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[int] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.session_id = 0
        self.xid = 0
        self.inflight: deque[tuple[int, int]] = deque()  # (xid, send time ns)
        self.stopping = False
        self.started = False
        self.win_start = 0
        self.win_end = 0
        self.ops = 0
        self.errors = 0
        self.last_done = 0
        self.lat = array("q")
        self.errs: list[int] = []  # per-reply err codes, kept only for scripted (setup) calls
        self.keep_errs = False

    # asyncio callbacks
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(connect_request_bytes(self.timeout_ms))

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.connected, self.done, self.closed):
            if not fut.done():
                fut.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        now = time.perf_counter_ns()
        pos = 0
        end = len(buf)
        if not self.handshaken:
            if end < 4:
                return
            (n,) = struct.unpack_from(">i", buf, 0)
            if end < 4 + n:
                return
            resp, _ = r.ConnectResponse.decode(buf[4:4 + n], 0)
            pos = 4 + n
            self.handshaken = True
            self.session_id = resp.sessionId
            if resp.sessionId == 0:
                self.connected.set_exception(ConnectionError("session refused"))
            else:
                self.connected.set_result(resp.sessionId)
        inflight = self.inflight
        lat = self.lat
        ws, we = self.win_start, self.win_end
        while end - pos >= 16:
            n, xid, _zxid, err = _REPLY.unpack_from(buf, pos)
            if end - pos - 4 < n:
                break
            pos += 4 + n
            if xid == _NOTIFICATION_XID or xid == _PING_XID:
                continue  # watch events and ping replies are not part of the workload
            sent_xid, t0 = inflight.popleft()
            if sent_xid != xid:
                raise RuntimeError(f"reply xid {xid} != expected {sent_xid}")
            if xid == self._close_xid:
                if not self.closed.done():
                    self.closed.set_result(None)
                continue
            if self.keep_errs:
                self.errs.append(err)
            if ws <= now <= we:
                self.ops += 1
                lat.append(now - t0)
                if err:
                    self.errors += 1
            self.last_done = now
        if pos:
            del buf[:pos]
        self.pump(now)

    _close_xid = -99

    def pump(self, now: int) -> None:
        """Top the pipeline back up to K outstanding requests, one write for the batch."""
        if not self.started or self.source is None or self.done.done():
            return
        if now >= self.win_end:
            self.stopping = True
        inflight = self.inflight
        parts = []
        if not self.stopping:
            take = self.source.take
            while len(inflight) < self.outstanding:
                nxt = take()
                if nxt is None:
                    self.stopping = True
                    break
                self.xid += 1
                parts.append(request_frame(self.xid, nxt[0], nxt[1]))
                inflight.append((self.xid, now))
        if parts and self.transport is not None:
            self.transport.write(b"".join(parts))
        if self.stopping and not inflight:
            self.done.set_result(None)

    def start(self, win_start: int, win_end: int) -> None:
        self.win_start, self.win_end = win_start, win_end
        self.started = True
        self.pump(time.perf_counter_ns())

    async def close(self, timeout: float = 10.0) -> None:
        """closeSession (op -11) and wait for its reply, then drop the connection."""
        if self.transport is None or self.transport.is_closing():
            return
        self.xid += 1
        self._close_xid = self.xid
        self.inflight.append((self.xid, time.perf_counter_ns()))
        self.transport.write(request_frame(self.xid, Op.CLOSE_SESSION, b""))
        try:
            await asyncio.wait_for(self.closed, timeout)
        except (ConnectionError, TimeoutError):
            pass
        self.transport.close()


async def open_session(host: str, port: int, source: RequestSource | None, outstanding: int,
                       timeout_ms: int = 30000, connect_timeout: float = 10.0) -> Session:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: Session(source, outstanding, timeout_ms), host, port)
    await asyncio.wait_for(proto.connected, connect_timeout)
    return proto


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


async def prepare(spec: LoadSpec) -> None:
    """Create root, root/k (spec.keys znodes with spec.payload bytes) and root/c; idempotent."""
    acl, data = _OPEN_ACL_UNSAFE, bytes(spec.payload)
    reqs: list[tuple[int, bytes]] = [
        (Op.CREATE, r.CreateRequest.to_bytes(r.CreateRequest(p, b"", acl, 0)))
            for p in (spec.root, f"{spec.root}/k", f"{spec.root}/c")]
    reqs += [(Op.CREATE, r.CreateRequest.to_bytes(r.CreateRequest(key_path(spec.root, i), data,
                                                                  acl, 0)))
             for i in range(spec.keys)]
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
            "window": window_ns / 1e9, "lat": lat.tobytes()}


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
        return _merge(spec, [_run_loop(_drive(spec, 0, spec.sessions, budgets))])
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
