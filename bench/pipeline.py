"""In-process cost of the standalone request pipeline, per request, without sockets.

Drives a real ZkServer (real TxnSnapLog on a temporary dataDir, real ClientConn objects) through
an in-memory transport: request frames in, reply frames out, group commit on the event loop
(the fsync itself is left out: forceSync=no, so the figure is the interpreter's share of a
write). Reports microseconds of wall time per request, the minimum of several rounds, which is
steadier on a shared machine than client-server throughput. A tool for comparing changes to
the hot path, not a comparison with Java (that is bench.run).

    python -m bench.pipeline [--workload setData|create|getData|exists|getChildren|mix90] [--ops 100000] [--rounds 7]
                             [--no-digest] [--cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import structlog

from bench.wire import OPEN_ACL_UNSAFE, connect_request_bytes, key_path, request_frame
from pyzk.config.load import build_config
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.server.connection import ClientConn
from pyzk.server.malloc_tuning import tune_malloc
from pyzk.server.persistence import open_storage, tune_gc
from pyzk.server.zkserver import ZkServer


class _NoWords:
    @staticmethod
    def is_command(word: bytes) -> bool:
        return False


class MemoryTransport:
    """Counts reply frames written to it; enough of asyncio.Transport for ClientConn."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frames = 0
        self.done: asyncio.Event | None = None
        self.want = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", self.port) if name == "peername" else default

    def write(self, data: bytes) -> None:
        mv = memoryview(data)
        off = 0
        while off < len(mv):  # count the frames in this write
            off += 4 + int.from_bytes(mv[off:off + 4], "big")
            self.frames += 1
        if self.done is not None and self.frames >= self.want:
            self.done.set()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


PARENTS, CHILDREN = 100, 10  # getChildren's parents, as bench.loadgen's LoadSpec


def _bodies(workload: str, keys: int, n: int, session: int) -> list[bytes]:
    data = bytes(16)
    out = []
    for i in range(n):
        k = key_path("/bench", (session * 7919 + i) % keys)
        if workload == "mix90":  # bench.loadgen's mix: every tenth request a setData
            workload_i = "setData" if i % 10 == 9 else "getData"
        else:
            workload_i = workload
        if workload_i == "setData":
            out.append(request_frame(i + 1, Op.SET_DATA,
                                     r.SetDataRequest.to_bytes(r.SetDataRequest(k, data, -1))))
        elif workload_i == "getData":
            out.append(request_frame(i + 1, Op.GET_DATA,
                                     r.GetDataRequest.to_bytes(r.GetDataRequest(k, False))))
        elif workload == "exists":
            out.append(request_frame(i + 1, Op.EXISTS,
                                     r.ExistsRequest.to_bytes(r.ExistsRequest(k, False))))
        elif workload == "getChildren":
            p = f"/bench/p/{(session * 7919 + i) % PARENTS}"
            out.append(request_frame(i + 1, Op.GET_CHILDREN,
                                     r.GetChildrenRequest.to_bytes(r.GetChildrenRequest(p, False))))
        else:
            p = f"/bench/c/{session}-{i}"
            out.append(request_frame(i + 1, Op.CREATE, r.CreateRequest.to_bytes(
                r.CreateRequest(p, data, OPEN_ACL_UNSAFE, 0))))
    return out


async def _round(srv: ZkServer, conns: list[tuple[ClientConn, MemoryTransport]],
                 frames: list[list[bytes]], depth: int,
                 clock: Callable[[], float] = time.perf_counter) -> float:
    """Each connection keeps `depth` requests in flight; returns seconds for all of them."""
    loop = asyncio.get_running_loop()
    total = sum(len(f) for f in frames)
    finished = asyncio.Event()
    left = [total]

    def pump(i: int) -> None:
        conn, tr = conns[i]
        sent = sent_by[i]
        if sent < len(frames[i]) and sent - (tr.frames - base[i]) < depth:
            upto = min(len(frames[i]), tr.frames - base[i] + depth)
            conn.data_received(b"".join(frames[i][sent:upto]))
            sent_by[i] = upto

    sent_by = [0] * len(conns)
    base = [tr.frames for _, tr in conns]
    for _, tr in conns:
        tr.done = None
    orig_writes = []
    for i, (_, tr) in enumerate(conns):
        orig = tr.write

        def write(data: bytes, i: int = i, orig: Any = orig, tr: MemoryTransport = tr) -> None:
            before = tr.frames
            orig(data)
            left[0] -= tr.frames - before
            if left[0] <= 0:
                finished.set()
            else:
                loop.call_soon(pump, i)
        orig_writes.append(orig)
        tr.write = write  # type: ignore[method-assign]
    t0 = clock()
    for i in range(len(conns)):
        pump(i)
    await asyncio.wait_for(finished.wait(), 600)
    elapsed = clock() - t0
    for (_, tr), orig in zip(conns, orig_writes, strict=True):
        tr.write = orig  # type: ignore[method-assign]
    return elapsed


async def main_async(args: argparse.Namespace) -> list[float]:
    tmp = tempfile.mkdtemp(prefix="pyzk-pipeline-")
    cfg = build_config({"dataDir": tmp, "clientPort": "2181", "forceSync": "no",
                        "snapCount": str(args.snap_count),
                        "digest.enabled": "true" if args.digest else "false",
                        "admin.enableServer": "false"})
    storage = open_storage(cfg)
    tree, sessions = storage.recover()
    srv = ZkServer(cfg, tree, storage, sessions=sessions, server_id=1)
    srv.start()
    conns = []
    for s in range(args.sessions):
        tr = MemoryTransport(40000 + s)
        conn = ClientConn(srv, _NoWords(), 0, {})
        conn.connection_made(tr)  # type: ignore[arg-type]
        tr.want, tr.done = 1, asyncio.Event()
        conn.data_received(connect_request_bytes(30000))
        await asyncio.wait_for(tr.done.wait(), 10)
        conns.append((conn, tr))
    # the keys read and written, created through the pipeline itself
    setup = [request_frame(1, Op.CREATE, r.CreateRequest.to_bytes(
        r.CreateRequest(p, b"", OPEN_ACL_UNSAFE, 0))) for p in ("/bench", "/bench/k", "/bench/c")]
    setup += [request_frame(i + 2, Op.CREATE, r.CreateRequest.to_bytes(
        r.CreateRequest(key_path("/bench", i), bytes(16), OPEN_ACL_UNSAFE, 0)))
        for i in range(args.keys)]
    if args.workload == "getChildren":  # bench.loadgen's parents: 10 empty children each
        parents = ["/bench/p"] + [f"/bench/p/{i}" for i in range(PARENTS)]
        parents += [f"/bench/p/{i}/{j}" for i in range(PARENTS) for j in range(CHILDREN)]
        setup += [request_frame(len(setup) + 2 + i, Op.CREATE, r.CreateRequest.to_bytes(
            r.CreateRequest(p, b"", OPEN_ACL_UNSAFE, 0))) for i, p in enumerate(parents)]
    await _round(srv, conns[:1], [setup], args.outstanding)
    per = args.ops // args.sessions
    out = []
    for rnd in range(args.rounds + 1):
        frames = [_bodies(args.workload, args.keys, per, s + rnd * args.sessions)
                  for s in range(args.sessions)]
        secs = await _round(srv, conns, frames, args.outstanding,
                            time.process_time if args.cpu else time.perf_counter)
        if rnd:  # the first round warms up
            out.append(1e6 * secs / (per * args.sessions))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="setData", choices=("setData", "create", "getData", "exists", "getChildren", "mix90"))
    ap.add_argument("--ops", type=int, default=64000, help="requests per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--outstanding", type=int, default=16)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--snap-count", type=int, default=100000000,
                    help="zoo.cfg snapCount (default: no snapshots during the run)")
    ap.add_argument("--no-digest", dest="digest", action="store_false",
                    help="digest.enabled=false (the tree digests' share of the cost)")
    ap.add_argument("--cpu", action="store_true",
                    help="process CPU time instead of wall time (steadier on a busy machine)")
    args = ap.parse_args(argv)
    tune_gc()  # as the server's runtime does
    tune_malloc()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    us = runner(main_async(args))
    what = "CPU us/request" if args.cpu else "us/request"
    print(f"{args.workload}: {what} min {min(us):.2f}  median {statistics.median(us):.2f}"
          f"  (rounds: {' '.join(f'{x:.2f}' for x in us)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
