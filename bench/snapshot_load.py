"""What a snapshot costs clients: p50/p99 latency of a steady getData+setData load on a pyzk
holding 100k znodes, in time windows with and without a snapshot being written.

A small snapCount makes the server snapshot the whole tree mid-measurement; each snapshot's
interval is read from the server log ("snapshot written" lines: end timestamp and seconds).
Prints a per-window table, baseline vs during-snapshot percentiles and the p99 ratio.
Usage: python -m bench.snapshot_load [--nodes 100000 --snap-count 40000 --duration 30 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import random
import struct
import sys
import tempfile
import time
from array import array
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.loadgen import LoadSpec, prepare
from bench.wire import connect_request_bytes, key_path, request_frame
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from tests.servers import ServerProc

_REPLY = struct.Struct(">iiqi")  # frame length + ReplyHeader{xid, zxid, err}


class LoadSession(asyncio.Protocol):
    """Keeps `outstanding` get/set requests in flight on one session until `stop_at` (perf ns);
    records each reply's completion time and latency (ns)."""

    def __init__(self, keys: int, root: str, payload: int, read_ratio: float,
                 outstanding: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.keys, self.root, self.read_ratio = keys, root, read_ratio
        self.data = bytes(payload)
        self.outstanding = outstanding
        self.transport: Any = None
        self.buf = bytearray()
        self.handshaken = False
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.xid = 0
        self.sent: dict[int, int] = {}
        self.stop_at = 0
        self.running = False
        self.t_done = array("q")
        self.lat = array("q")
        self.errors = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(connect_request_bytes(30000))

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.connected, self.done):
            if not fut.done():
                fut.set_exception(ConnectionError(f"connection lost: {exc}"))

    def _request(self) -> bytes:
        path = key_path(self.root, self.rng.randrange(self.keys))
        self.xid += 1
        if self.rng.random() < self.read_ratio:
            body = r.GetDataRequest.to_bytes(r.GetDataRequest(path, False))
            return request_frame(self.xid, Op.GET_DATA, body)
        body = r.SetDataRequest.to_bytes(r.SetDataRequest(path, self.data, -1))
        return request_frame(self.xid, Op.SET_DATA, body)

    def pump(self) -> None:
        now = time.perf_counter_ns()
        if now >= self.stop_at:
            self.running = False
        parts = []
        while self.running and len(self.sent) < self.outstanding:
            parts.append(self._request())
            self.sent[self.xid] = now
        if parts:
            self.transport.write(b"".join(parts))
        if not self.running and not self.sent and not self.done.done():
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        if not self.handshaken:
            if len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
                return
            pos = 4 + struct.unpack_from(">i", buf)[0]
            self.handshaken = True
            self.connected.set_result(None)
        now = time.perf_counter_ns()
        while len(buf) - pos >= 16:
            n, xid, _zxid, err = _REPLY.unpack_from(buf, pos)
            if len(buf) - pos - 4 < n:
                break
            pos += 4 + n
            t0 = self.sent.pop(xid, None)
            if t0 is None:
                continue  # ping or notification
            self.t_done.append(now)
            self.lat.append(now - t0)
            self.errors += err != 0
        del buf[:pos]
        if self.handshaken and self.stop_at:
            self.pump()


def pct(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))] / 1e6


async def measure(host: str, port: int, args: argparse.Namespace) -> tuple[float, float, list[
        tuple[int, int]]]:
    """Run the load; returns (wall start, wall end, [(completion wall ns, latency ns)])."""
    loop = asyncio.get_running_loop()
    sessions: list[LoadSession] = []
    for i in range(args.sessions):
        factory = functools.partial(LoadSession, args.nodes, args.root, args.payload,
                                    args.read_ratio, args.outstanding, args.seed * 1000 + i)
        _, s = await loop.create_connection(factory, host, port)
        await asyncio.wait_for(s.connected, 10)
        sessions.append(s)
    wall0, perf0 = time.time(), time.perf_counter_ns()
    stop_at = perf0 + int(args.duration * 1e9)
    for s in sessions:
        s.stop_at, s.running = stop_at, True
        s.pump()
    await asyncio.wait_for(asyncio.gather(*(s.done for s in sessions)), args.duration + 60)
    out: list[tuple[int, int]] = []
    for s in sessions:
        if s.errors:
            raise RuntimeError(f"{s.errors} requests failed")
        base = int(wall0 * 1e9) - perf0
        out += [(t + base, lat) for t, lat in zip(s.t_done, s.lat, strict=True)]
        s.transport.close()
    return wall0, wall0 + args.duration, out


def snapshot_intervals(log_path: Path, since: float) -> list[tuple[float, float, str]]:
    """(start, end, zxid) wall-clock seconds of every "snapshot written" after `since`."""
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        if "snapshot written" not in line:
            continue
        rec = json.loads(line)
        end = datetime.fromisoformat(rec["timestamp"]).timestamp()
        if end >= since:
            found.append((end - float(rec["seconds"]), end, rec.get("zxid", "?")))
    return found


def report(wall0: float, wall1: float, samples: list[tuple[int, int]],
           snaps: list[tuple[float, float, str]], window: float) -> dict[str, Any]:
    nwin = int(math.ceil((wall1 - wall0) / window))
    wins: list[list[int]] = [[] for _ in range(nwin)]
    for t, lat in samples:
        k = int((t / 1e9 - wall0) / window)
        if 0 <= k < nwin:
            wins[k].append(lat)
    kinds = []
    for k in range(nwin):
        a, b = wall0 + k * window, wall0 + (k + 1) * window
        if any(s < b and e > a for s, e, _ in snaps):
            kinds.append("during")
        elif any(e <= a < e + window for _, e, _ in snaps):
            kinds.append("after")  # draining the backlog a snapshot left: neither kind
        else:
            kinds.append("base")
    print(f"{'window':>8} {'kind':>7} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for k, (lats, kind) in enumerate(zip(wins, kinds, strict=True)):
        print(f"{k * window:8.1f} {kind:>7} {len(lats) / window:8.0f} {pct(lats, 50):8.2f} "
              f"{pct(lats, 99):8.2f}")
    res: dict[str, Any] = {"snapshots": [{"zxid": z, "seconds": round(e - s, 3)}
                                         for s, e, z in snaps]}
    for kind in ("base", "during"):
        lats = [x for lats, kd in zip(wins, kinds, strict=True) if kd == kind for x in lats]
        nw = kinds.count(kind)
        res[kind] = {"windows": nw, "ops": len(lats),
                     "ops_per_s": round(len(lats) / (nw * window), 1) if nw else None,
                     "p50_ms": round(pct(lats, 50), 3), "p99_ms": round(pct(lats, 99), 3)}
    res["p99_ratio_during_over_base"] = round(res["during"]["p99_ms"] / res["base"]["p99_ms"], 2)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.83")
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--payload", type=int, default=16)
    p.add_argument("--root", default="/bench")
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--outstanding", type=int, default=8)
    p.add_argument("--read-ratio", type=float, default=0.5)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--window", type=float, default=0.5)
    p.add_argument("--snap-count", type=int, default=40_000,
                   help="zoo.cfg snapCount: a snapshot every snapCount/2..snapCount txns")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", type=Path, help="server directory (default: a temp dir)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pyzk-snapload-") as tmp:
        work = args.workdir or Path(tmp)
        srv = ServerProc("pyzk", work, host=args.host, cfg={"snapCount": str(args.snap_count)})
        srv.start(timeout=60)
        try:
            t0 = time.monotonic()
            asyncio.run(prepare(LoadSpec(srv.host, srv.port, "getData", keys=args.nodes,
                                         payload=args.payload, root=args.root)))
            print(f"populated {args.nodes} znodes in {time.monotonic() - t0:.1f}s")
            wall0, wall1, samples = asyncio.run(measure(srv.host, srv.port, args))
            snaps = snapshot_intervals(srv.log_path, wall0)
            print(f"{len(samples)} requests in {args.duration:.0f}s; snapshots during the run: "
                  + ", ".join(f"{z} ({e - s:.2f}s)" for s, e, z in snaps))
            res = report(wall0, wall1, samples, snaps, args.window)
        finally:
            srv.stop()
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
