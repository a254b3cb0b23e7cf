"""Wire half of the load generator: handshake and request frames, and one pipelined session.

A Session is an asyncio.Protocol that keeps K requests in flight, matches replies by xid order,
skips watch notifications (xid -1) and ping replies, and records per-request latency.
"""

from __future__ import annotations

import asyncio
import struct
import time
from array import array
from collections import deque
from typing import Any, Protocol

from pyzk.protocol import records as r
from pyzk.protocol.framing import frame
from pyzk.protocol.opcodes import Op

# Frame length + ReplyHeader{int xid, long zxid, int err}: the same layout as r.ReplyHeader,
# Frame length + ReplyHeader{int xid, long zxid, int err}: the same layout as r.ReplyHeader,
# unpacked with one precompiled struct because the reply path is the generator's own hot loop.
_REPLY = struct.Struct(">iiqi")
# Frame length + RequestHeader{int xid, int type}.
_REQ = struct.Struct(">iii")
_NOTIFICATION_XID = -1  # WatcherEvent (ClientCnxn.NOTIFICATION_XID)
_PING_XID = -2
OPEN_ACL_UNSAFE = [r.ACL(31, r.Id("world", "anyone"))]  # ZooDefs.Ids.OPEN_ACL_UNSAFE


class Source(Protocol):
    """Hands a session its next (opcode, body); None when its budget is spent."""

    def take(self) -> tuple[int, bytes] | None: ...


def connect_request_bytes(timeout_ms: int) -> bytes:
    """A fresh-session ConnectRequest frame with the trailing readOnly=false byte."""
    body = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, timeout_ms, 0, b"\0" * 16)) + b"\0"
    return frame(body)


def request_frame(xid: int, op: int, body: bytes) -> bytes:
    return _REQ.pack(8 + len(body), xid, op) + body


def key_path(root: str, i: int) -> str:
    return f"{root}/k/{i}"


# -- one session -----------------------------------------------------------------------------

class Session(asyncio.Protocol):
    """A pipelined client session. Replies come back in xid order (ZooKeeper's FIFO guarantee)."""

    def __init__(self, source: Source | None, outstanding: int, timeout_ms: int) -> None:
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

    def _fail(self, why: str) -> None:
        for fut in (self.connected, self.done, self.closed):
            if not fut.done():
                fut.set_exception(RuntimeError(why))
        if self.transport is not None:
            self.transport.close()

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
            if not inflight:
                self._fail(f"unsolicited reply xid {xid}")
                return
            sent_xid, t0 = inflight.popleft()
            if sent_xid != xid:
                # Replies must arrive in request order (ZooKeeper's per-session FIFO).
                self._fail(f"reply xid {xid} != expected {sent_xid}")
                return
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


async def open_session(host: str, port: int, source: Source | None, outstanding: int,
                       timeout_ms: int = 30000, connect_timeout: float = 10.0) -> Session:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: Session(source, outstanding, timeout_ms), host, port)
    await asyncio.wait_for(proto.connected, connect_timeout)
    return proto
