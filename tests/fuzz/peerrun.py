"""Runs the hostile peer-port cases of tests/fuzz/peergen.py against a live member and says how
the member ended each connection.

Outcome of one case (a string):
  "refused"   nothing listens on that port (a follower's 2888)
  "closed"    the member closed (EOF or reset) before the hold window ran out
  "open"      the connection was still open when the window ran out (we then close it)
Every case is bounded: connect within CONNECT_S, each step within its own bound, the hold within
`hold_s`; at most `parallel` connections are open at once.

Usage (replay against a running member, one JSON line per case):
    .venv/bin/python -m tests.fuzz.peerrun --host 127.0.62.1 --port 3888 --kind election \\
        --sid 1 --members 1,2,3 --subnet 127.0.62 --seed 7 --n 40 [--index K]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import struct
import time
from dataclasses import dataclass

from tests.fuzz.peergen import Case, Target, cases, qp

CONNECT_S = 2.0
STEP_READ_S = 1.5
RECV_LIMIT = 1 << 20  # bytes kept per case (the rest is read and dropped)
ACK = 3
ACKEPOCH = 18


@dataclass
class Result:
    index: int
    name: str
    outcome: str
    seconds: float
    received: int

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "name": self.name, "outcome": self.outcome,
                "seconds": round(self.seconds, 3), "received": self.received}


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = 0
        self.closed = False
        self.leaderinfo_zxid: int | None = None

    async def read_some(self, timeout: float) -> None:
        """Read what arrives within `timeout`; notes EOF/reset as closed."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            return
        except (ConnectionError, OSError):
            self.closed = True
            return
        if not data:
            self.closed = True
        self.received += len(data)

    async def read_packet(self) -> None:
        """One QuorumPacket: int type, long zxid, buffer data, vector authinfo (null or empty
        expected from a server)."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(16), STEP_READ_S)
            _, zxid, n = struct.unpack(">iqi", head)
            if 0 < n <= RECV_LIMIT:
                await asyncio.wait_for(self.reader.readexactly(n), STEP_READ_S)
            await asyncio.wait_for(self.reader.readexactly(4), STEP_READ_S)
        except TimeoutError:
            return
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.closed = True
            return
        self.received += 20 + max(n, 0)
        if self.leaderinfo_zxid is None:
            self.leaderinfo_zxid = zxid

    async def send(self, b: bytes) -> None:
        try:
            self.writer.write(b)
            await asyncio.wait_for(self.writer.drain(), STEP_READ_S)
        except TimeoutError:
            return
        except (ConnectionError, OSError):
            self.closed = True

    async def drain_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.closed and time.monotonic() < end:
            await self.read_some(max(0.01, end - time.monotonic()))


async def _step(conn: _Conn, op: str, arg: object) -> None:
    if op == "send":
        assert isinstance(arg, bytes)
        await conn.send(arg)
    elif op == "pause":
        assert isinstance(arg, float)
        await asyncio.sleep(arg)
    elif op == "recv_packet":
        await conn.read_packet()
    elif op == "drain":
        assert isinstance(arg, float)
        await conn.drain_for(arg)
    elif op == "ackepoch":
        epoch = (conn.leaderinfo_zxid or 0) >> 32
        last = 0 if arg == "zero" else (epoch << 32) | 1
        await conn.send(qp(ACKEPOCH, last, struct.pack(">i", epoch if last else 0)))
    elif op == "ack_newleader":
        await conn.send(qp(ACK, conn.leaderinfo_zxid or 0))
    else:
        raise ValueError(f"unknown step {op}")


async def run_case(host: str, port: int, c: Case, hold_s: float) -> Result:
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_S)
    except (ConnectionRefusedError, TimeoutError, OSError):
        return Result(c.index, c.name, "refused", time.monotonic() - start, 0)
    conn = _Conn(reader, writer)
    try:
        for op, arg in c.steps:
            if op == "hold":
                await conn.drain_for(hold_s)
            elif not conn.closed:
                await _step(conn, op, arg)
            if conn.closed:
                break
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return Result(c.index, c.name, "closed" if conn.closed else "open",
                  time.monotonic() - start, conn.received)


async def run_cases(host: str, port: int, batch: list[Case], hold_s: float,
                    parallel: int = 8) -> list[Result]:
    sem = asyncio.Semaphore(parallel)

    async def one(c: Case) -> Result:
        async with sem:
            return await run_case(host, port, c, hold_s)

    return list(await asyncio.gather(*(one(c) for c in batch)))


async def flood(host: str, port: int, n: int, hold_s: float) -> int:
    """`n` connections opened at once that send nothing, held for `hold_s`; returns how many
    the member closed within that time."""
    async def one() -> bool:
        r = await run_case(host, port, Case("flood", 0, "flood", [("hold", None)]), hold_s)
        return r.outcome == "closed"

    return sum(await asyncio.gather(*(one() for _ in range(n))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--kind", choices=["election", "quorum", "quorum-impostor"], required=True)
    ap.add_argument("--sid", type=int, required=True)
    ap.add_argument("--members", default="1,2,3")
    ap.add_argument("--subnet", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--index", type=int, default=None)
    ap.add_argument("--hold", type=float, default=2.0)
    ap.add_argument("--parallel", type=int, default=4)
    a = ap.parse_args()
    target = Target(a.sid, tuple(int(s) for s in a.members.split(",")), a.subnet)
    batch = cases(a.seed, a.kind, a.n, target)
    if a.index is not None:
        batch = [batch[a.index]]
    for r in asyncio.run(run_cases(a.host, a.port, batch, a.hold, a.parallel)):
        print(json.dumps(r.as_dict()))


if __name__ == "__main__":
    main()
