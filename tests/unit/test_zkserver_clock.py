"""ZkServer without sockets on an injected clock: session expiry follows elapsed time only,
txn and znode times follow wall time (Java's Time.currentElapsedTime / currentWallTime)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest

from pyzk.config.load import build_config
from pyzk.protocol import records as r
from pyzk.protocol.framing import frame
from pyzk.protocol.opcodes import Op
from pyzk.server.clock import ManualClock
from pyzk.server.connection import ClientConn
from pyzk.server.persistence import open_storage
from pyzk.server.zkserver import ZkServer

TICK = 50


class _NoWords:
    @staticmethod
    def is_command(word: bytes) -> bool:
        return False


class RecordingTransport:
    """Keeps every frame the server writes; enough of asyncio.Transport for ClientConn."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed = False
        self.arrived = asyncio.Event()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40001) if name == "peername" else default

    def write(self, data: bytes) -> None:
        off = 0
        while off < len(data):
            n = int.from_bytes(data[off:off + 4], "big")
            self.frames.append(bytes(data[off + 4:off + 4 + n]))
            off += 4 + n
        self.arrived.set()

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True
        self.arrived.set()

    async def wait_frames(self, n: int) -> None:
        for _ in range(200):  # bounded: 200 wake-ups, 5 s
            if len(self.frames) >= n or self.closed:
                return
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)
        raise AssertionError("no reply")


def _request(xid: int, op: int, body: bytes) -> bytes:
    return frame(struct.pack(">ii", xid, op) + body)


async def _server(tmp: Path, clock: ManualClock) -> ZkServer:
    cfg = build_config({"dataDir": str(tmp), "clientPort": "2181", "tickTime": str(TICK),
                        "forceSync": "no", "admin.enableServer": "false"})
    storage = open_storage(cfg)
    tree, sessions = storage.recover()
    srv = ZkServer(cfg, tree, storage, sessions=sessions, server_id=1, clock=clock)
    srv.start()
    return srv


async def _connect(srv: ZkServer, timeout_ms: int) -> tuple[ClientConn, RecordingTransport, int]:
    tr = RecordingTransport()
    conn = ClientConn(srv, _NoWords(), 0, {})  # type: ignore[arg-type]
    conn.connection_made(tr)  # type: ignore[arg-type]
    conn.data_received(frame(r.ConnectRequest.to_bytes(
        r.ConnectRequest(0, 0, timeout_ms, 0, b"\0" * 16)) + b"\0"))
    await tr.wait_frames(1)
    resp, _ = r.ConnectResponse.decode(tr.frames[0], 0)
    assert resp.sessionId != 0
    return conn, tr, resp.sessionId


async def _create(conn: ClientConn, tr: RecordingTransport, xid: int, path: str,
                  flags: int) -> int:
    n = len(tr.frames)
    acl = [r.ACL(31, r.Id("world", "anyone"))]
    conn.data_received(_request(xid, Op.CREATE, r.CreateRequest.to_bytes(
        r.CreateRequest(path, b"x", acl, flags))))
    await tr.wait_frames(n + 1)
    return struct.unpack(">iqi", tr.frames[n][:16])[2]


async def _until(cond: Any, what: str) -> None:
    for _ in range(100):  # bounded: 100 polls of a tick's length
        if cond():
            return
        await asyncio.sleep(TICK / 1000)
    raise AssertionError(what)


@pytest.mark.asyncio
async def test_wall_clock_step_neither_expires_nor_extends_sessions(tmp_path: Path) -> None:
    clock = ManualClock()
    srv = await _server(tmp_path, clock)
    try:
        conn, tr, sid = await _connect(srv, 4 * TICK)
        assert await _create(conn, tr, 1, "/e", 1) == 0  # ephemeral
        # An NTP step of an hour forward, then one back: the session is untouched.
        clock.step_wall(3600_000)
        for _ in range(5):  # several expiry-loop passes
            await asyncio.sleep(TICK / 1000)
        assert sid in srv.sessions.sessions and srv.tree.get_node("/e") is not None
        clock.step_wall(-7200_000)
        for _ in range(5):
            await asyncio.sleep(TICK / 1000)
        assert sid in srv.sessions.sessions
        # znode times are wall time: the new node carries the stepped clock.
        assert await _create(conn, tr, 2, "/p", 0) == 0
        node = srv.tree.get_node("/p")
        assert node is not None and node.ctime == clock.wall_ms()
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_elapsed_time_expires_the_session_and_its_ephemerals(tmp_path: Path) -> None:
    clock = ManualClock()
    srv = await _server(tmp_path, clock)
    try:
        conn, tr, sid = await _connect(srv, 4 * TICK)
        assert await _create(conn, tr, 1, "/e", 1) == 0
        clock.mono += 3 * TICK  # not yet past the timeout's bucket
        for _ in range(5):
            await asyncio.sleep(TICK / 1000)
        assert sid in srv.sessions.sessions
        clock.mono += 4 * TICK
        await _until(lambda: sid not in srv.sessions.sessions, "session not expired")
        await _until(lambda: srv.tree.get_node("/e") is None, "ephemeral not removed")
        await _until(lambda: tr.closed, "connection of the expired session not closed")
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_dump_converts_elapsed_buckets_to_wall_time(tmp_path: Path) -> None:
    clock = ManualClock(wall_ms=1_800_000_000_000, mono_ms=5_000)
    srv = await _server(tmp_path, clock)
    try:
        await _connect(srv, 4 * TICK)
        from pyzk.server.view import LiveView

        view = LiveView(srv)
        (at, _), = view.session_expiry
        assert 5_000 < at <= 5_000 + 5 * TICK  # elapsed ms
        assert view.wall_minus_elapsed_ms == 1_800_000_000_000 - 5_000
    finally:
        await srv.stop()
