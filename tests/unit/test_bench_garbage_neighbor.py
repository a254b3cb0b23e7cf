"""The garbage-neighbour benchmark's pure parts (no real servers, no timing asserts): every
garbage kind yields bytes, the ones meant to be well-framed are, percentiles are nearest-rank,
a garbage connection counts what a scripted server does, and the report flags a dead server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import struct

from bench.garbage_neighbor import (
    GARBAGE,
    GStats,
    garbage_conn,
    garbage_frames,
    parse_pin,
    percentiles,
    report,
)

HOST = "127.0.0.71"


def test_garbage_frames_cycle_through_every_kind_with_bytes() -> None:
    kinds = list(GARBAGE)
    got = list(itertools.islice(garbage_frames(kinds, seed=3), 2 * len(kinds)))
    assert [k for k, _, _ in got] == kinds * 2
    assert all(isinstance(b, bytes) and b for _, _, b in got)
    assert got == list(itertools.islice(garbage_frames(kinds, seed=3), 2 * len(kinds)))
    for kind, hs, data in got:
        assert hs == GARBAGE[kind].handshake
        if kind.startswith(("multi_", "neg_string", "null_path", "unknown_op", "truncated_create",
                            "bad_auth", "set_watches")):
            # Well framed: the malformation is inside the record, not in the frame length.
            (n,) = struct.unpack_from(">i", data)
            assert n == len(data) - 4 and n >= 8


def test_percentiles_are_nearest_rank() -> None:
    p = percentiles(range(1_000_000, 1_001_000_000, 1_000_000))  # 1..1000 ms
    assert (p["n"], p["p50_ms"], p["p99_ms"], p["p999_ms"], p["max_ms"]) == (
        1000, 500.0, 990.0, 999.0, 1000.0)
    empty = percentiles([])
    assert empty["n"] == 0 and empty["p99_ms"] != empty["p99_ms"]  # NaN


def test_parse_pin() -> None:
    assert parse_pin("") == (set(), ())
    assert parse_pin("0") == ({0}, ())
    assert parse_pin("0:1") == ({0}, (1,))


async def _answering_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Grants the handshake, then answers every frame with err -5 (marshalling error)."""
    try:
        (n,) = struct.unpack(">i", await reader.readexactly(4))
        await reader.readexactly(n)
        writer.write(struct.pack(">iiiq", 36, 0, 4000, 0x55) + struct.pack(">i", 16) + b"\0" * 16)
        while True:
            (n,) = struct.unpack(">i", await reader.readexactly(4))
            await reader.readexactly(n)
            writer.write(struct.pack(">iiqi", 16, 1, 0, -5))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _closing_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)
    writer.close()


async def test_garbage_conn_counts_replies_and_closes() -> None:
    srv = await asyncio.start_server(_answering_server, HOST, 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        st = GStats()
        await garbage_conn(HOST, port, "null_path", random.Random(0), st, 5.0, 3, 1e18)
        assert (st.conns, st.frames, st.closed_by_server) == (1, 3, 0)
        assert st.outcomes["null_path"] == {"err -5": 3}
    finally:
        srv.close()
        await srv.wait_closed()
    srv = await asyncio.start_server(_closing_server, HOST, 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        st = GStats()
        await garbage_conn(HOST, port, "pre_http", random.Random(0), st, 5.0, 3, 1e18)
        assert (st.conns, st.frames, st.closed_by_server) == (1, 1, 1)
        assert st.outcomes["pre_http"] == {"closed": 1}
    finally:
        srv.close()
        await srv.wait_closed()


def _run(rep: int, p99_alone: float, p99_with: float, died: bool = False) -> dict:
    ph = {"p50_ms": 1.0, "p999_ms": p99_with, "max_ms": p99_with, "ops": 100,
          "ops_per_s": 10.0, "server_cpu_pct": 5.0, "failures": 0}
    row = {"repeat": rep, "alone": {**ph, "p99_ms": p99_alone, "p999_ms": p99_alone,
                                    "max_ms": p99_alone},
           "with": {**ph, "p99_ms": p99_with}, "survived": not died,
           "garbage": {"frames": 50, "seconds": 1.0, "connections": 10, "closed_by_server": 5,
                       "connect_errors": 0}}
    for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
        row[f"ratio_{k}"] = row["with"][k] / row["alone"][k]
    if died:
        row["death"] = {"exit_code": 1, "died_after_s": 0.2,
                        "kinds_sent_last_second": {"null_path": 3}}
    return row


def test_report_shows_ratios_and_deaths() -> None:
    args = argparse.Namespace(repeats=3, duration=1.0, warmup=0.0, rate=10.0, garbage_clients=1,
                              garbage_nice=0, pin="")
    runs = {"pyzk": [_run(0, 2.0, 4.0), _run(1, 2.0, 4.0, died=True), _run(2, 2.0, 4.0)],
            "java": [_run(i, 2.0, 2.0) for i in range(3)]}
    probes = {k: {"null_path": {"answer": "err -5", "alive": k == "java"}} for k in runs}
    table, med = report(["pyzk", "java"], runs, probes, args)
    assert med["pyzk"]["ratio_p99_ms"] == 2.0 and med["java"]["ratio_p99_ms"] == 1.0
    assert med["pyzk"]["survived"] == 2 and med["pyzk"]["deaths"] == 1
    assert "server died 1x" in table and "SERVER DIED" in table and "unpinned" in table
    assert "| with/alone ratio | 1.00 | 2.00 |" in table
