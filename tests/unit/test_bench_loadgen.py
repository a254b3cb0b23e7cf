"""The benchmark load generator speaks the client protocol correctly (no timing asserts).

Its frames decode with pyzk.protocol, and a session against a scripted fake server completes
exactly its op budget in xid order while ignoring interleaved watch notifications (xid -1).
"""

from __future__ import annotations

import asyncio
import struct

from bench.loadgen import LoadResult, LoadSpec, RequestSource, prepare_paths
from bench.wire import (
    connect_request_bytes,
    open_session,
    request_frame,
)
from pyzk.protocol import records as r
from pyzk.protocol.framing import FrameBuffer, frame
from pyzk.protocol.opcodes import Op

HOST = "127.0.0.71"


def test_connect_request_carries_trailing_readonly_byte() -> None:
    fb = FrameBuffer(1 << 20)
    fb.feed(connect_request_bytes(30000))
    (payload,) = fb.frames()
    req, off = r.ConnectRequest.decode(payload, 0)
    assert (req.protocolVersion, req.timeOut, req.sessionId) == (0, 30000, 0)
    assert len(payload) == 45 and payload[off:] == b"\0"


def test_request_frames_decode_as_header_and_body() -> None:
    spec = LoadSpec(HOST, 1, "mix90", keys=4, payload=16)
    src = RequestSource(spec, 0, budget=3)
    fb = FrameBuffer(1 << 20)
    for xid in (1, 2, 3):
        got = src.take()
        assert got is not None
        fb.feed(request_frame(xid, got[0], got[1]))
    assert src.take() is None  # the budget bounds the run
    for xid, payload in enumerate(fb.frames(), start=1):
        hdr, off = r.RequestHeader.decode(payload, 0)
        assert hdr.xid == xid and hdr.type in (Op.GET_DATA, Op.SET_DATA)
        body_cls = r.GetDataRequest if hdr.type == Op.GET_DATA else r.SetDataRequest
        body, end = body_cls.decode(payload, off)
        assert body.path.startswith("/bench/k/") and end == len(payload)


def test_create_paths_are_unique_per_session_and_run() -> None:
    spec = LoadSpec(HOST, 1, "create", tag="x")
    paths = set()
    for idx in (0, 1):
        src = RequestSource(spec, idx, budget=50)
        while (got := src.take()) is not None:
            paths.add(r.CreateRequest.from_bytes(got[1], exact=True).path)
    assert len(paths) == 100


def test_percentile_is_nearest_rank() -> None:
    res = LoadResult("getData")
    res.lat_ns.extend(range(1_000_000, 101_000_000, 1_000_000))  # 1..100 ms
    assert res.percentile_ms(50) == 50.0 and res.percentile_ms(99) == 99.0


async def _fake_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers the handshake, then every request in order, each reply preceded by a watch event
    and written in two pieces so the client must reassemble partial frames."""
    (n,) = struct.unpack(">i", await reader.readexactly(4))
    await reader.readexactly(n)
    resp = r.ConnectResponse.to_bytes(r.ConnectResponse(0, 30000, 0x1234, b"\1" * 16)) + b"\0"
    writer.write(frame(resp))
    zxid = 0
    while True:
        (n,) = struct.unpack(">i", await reader.readexactly(4))
        payload = await reader.readexactly(n)
        hdr, _ = r.RequestHeader.decode(payload, 0)
        zxid += 1
        event = r.ReplyHeader.to_bytes(r.ReplyHeader(-1, -1, 0)) + r.WatcherEvent.to_bytes(
            r.WatcherEvent(3, 3, "/w"))
        reply = frame(r.ReplyHeader.to_bytes(r.ReplyHeader(hdr.xid, zxid, 0)))
        writer.write(frame(event) + reply[:7])
        await writer.drain()
        writer.write(reply[7:])
        await writer.drain()
        if hdr.type == Op.CLOSE_SESSION:
            writer.close()
            return


async def test_session_completes_budget_ignoring_notifications() -> None:
    server = await asyncio.start_server(_fake_server, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        spec = LoadSpec(HOST, port, "getData", keys=10)
        s = await open_session(HOST, port, RequestSource(spec, 0, budget=40), outstanding=4)
        assert s.session_id == 0x1234
        s.start(0, 2**62)
        await asyncio.wait_for(s.done, 30)
        assert (s.ops, s.errors, len(s.lat)) == (40, 0, 40)
        assert all(x >= 0 for x in s.lat)
        await s.close()
        assert s.closed.done() and s.closed.exception() is None
    finally:
        server.close()
        await server.wait_closed()


def test_get_children_goes_round_the_prepared_parents() -> None:
    spec = LoadSpec(HOST, 1, "getChildren", parents=3, children=2)
    src = RequestSource(spec, 0, budget=6)
    seen = []
    while (got := src.take()) is not None:
        assert got[0] == Op.GET_CHILDREN2
        req = r.GetChildren2Request.from_bytes(got[1], exact=True)
        assert req.watch is False
        seen.append(req.path)
    assert sorted(set(seen)) == ["/bench/p/0", "/bench/p/1", "/bench/p/2"]
    assert len(seen) == 6
    made = [p for p, _ in prepare_paths(spec)]
    assert len(made) == len(set(made))
    for p in seen:  # every parent is prepared, with its children after it
        assert p in made and {f"{p}/0", f"{p}/1"} <= set(made[made.index(p):])
    assert not [p for p, _ in prepare_paths(LoadSpec(HOST, 1, "create", keys=0, parents=0))
                if "/p" in p]
