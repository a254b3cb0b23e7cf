"""A small pipelining asyncio ZooKeeper client for the durability tests, on pyzk.protocol.

Requests are sent at once and answered in order (ZooKeeper's per-session FIFO), so each call's
future is resolved by popping the oldest in-flight xid. When the server dies, every pending
future fails with ConnectionError: only replies actually read count as acknowledged.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.codes import NOTIFICATION_XID, PING_XID
from pyzk.protocol.multi import decode_multi_response, encode_multi_request
from pyzk.protocol.opcodes import Op

OPEN_ACL = [r.ACL(31, r.Id("world", "anyone"))]
_LEN = struct.Struct(">i")
_RESPONSES: dict[int, Any] = {
    Op.CREATE2: r.Create2Response,
    Op.SET_DATA: r.SetDataResponse,
    Op.GET_DATA: r.GetDataResponse,
    Op.GET_CHILDREN: r.GetChildrenResponse,
    Op.EXISTS: r.ExistsResponse,
}


class Reply:
    __slots__ = ("xid", "zxid", "err", "body")

    def __init__(self, xid: int, zxid: int, err: int, body: Any) -> None:
        self.xid, self.zxid, self.err, self.body = xid, zxid, err, body


class AsyncZk:
    """One session. `await zk.call(op, rec)` -> Reply; many calls may be in flight at once."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.xid = 0
        self.inflight: deque[tuple[int, int, asyncio.Future[Reply]]] = deque()
        self.session_id = 0
        self.passwd = b""
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    @classmethod
    async def connect(cls, host: str, port: int, timeout_ms: int = 30000,
                      session_id: int = 0, passwd: bytes = b"\0" * 16) -> AsyncZk:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        zk = cls(reader, writer)
        req = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, timeout_ms, session_id, passwd))
        req += b"\0"
        writer.write(_LEN.pack(len(req)) + req)
        data = await asyncio.wait_for(zk._frame(), 10)
        resp, _ = r.ConnectResponse.decode(data, 0)
        if resp.sessionId == 0:
            writer.close()
            raise ConnectionError("session refused")
        zk.session_id, zk.passwd = resp.sessionId, resp.passwd
        zk._task = asyncio.create_task(zk._read_loop())
        return zk

    async def _frame(self) -> bytes:
        head = await self.reader.readexactly(4)
        (n,) = _LEN.unpack(head)
        return await self.reader.readexactly(n)

    async def _read_loop(self) -> None:
        exc: BaseException = ConnectionError("connection closed")
        try:
            while True:
                data = await self._frame()
                hdr, off = r.ReplyHeader.decode(data, 0)
                if hdr.xid in (NOTIFICATION_XID, PING_XID):
                    continue
                xid, op, fut = self.inflight.popleft()
                if xid != hdr.xid:
                    raise RuntimeError(f"reply xid {hdr.xid} out of order, expected {xid}")
                body: Any = None
                if op == Op.MULTI:
                    body, _ = decode_multi_response(data, off)
                elif hdr.err == 0 and op in _RESPONSES and off < len(data):
                    body, _ = _RESPONSES[op].decode(data, off)
                if not fut.done():
                    fut.set_result(Reply(hdr.xid, hdr.zxid, hdr.err, body))
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            exc = ConnectionError(f"connection lost: {e!r}")
        except RuntimeError as e:
            exc = e
        finally:
            self.closed = True
            while self.inflight:
                _, _, fut = self.inflight.popleft()
                if not fut.done():
                    fut.set_exception(exc)
            self.writer.close()

    def send(self, op: int, rec: Any = None) -> asyncio.Future[Reply]:
        """Queue one request; the future resolves with its reply (in send order)."""
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        if self.closed:
            fut.set_exception(ConnectionError("connection closed"))
            return fut
        self.xid += 1
        out = bytearray(b"\0\0\0\0")
        r.RequestHeader.encode(r.RequestHeader(self.xid, int(op)), out)
        if isinstance(rec, (bytes, bytearray)):
            out += rec
        elif rec is not None:
            type(rec).encode(rec, out)
        out[0:4] = _LEN.pack(len(out) - 4)
        self.inflight.append((self.xid, int(op), fut))
        self.writer.write(bytes(out))
        return fut

    async def call(self, op: int, rec: Any = None) -> Reply:
        return await self.send(op, rec)

    # -- request builders ----------------------------------------------------------------------
    def create(self, path: str, data: bytes, flags: int = 0) -> asyncio.Future[Reply]:
        return self.send(Op.CREATE2, r.CreateRequest(path, data, OPEN_ACL, flags))

    def set(self, path: str, data: bytes, version: int = -1) -> asyncio.Future[Reply]:
        return self.send(Op.SET_DATA, r.SetDataRequest(path, data, version))

    def get(self, path: str) -> asyncio.Future[Reply]:
        return self.send(Op.GET_DATA, r.GetDataRequest(path, False))

    def children(self, path: str) -> asyncio.Future[Reply]:
        return self.send(Op.GET_CHILDREN, r.GetChildrenRequest(path, False))

    def multi(self, ops: list[tuple[int, Any]]) -> asyncio.Future[Reply]:
        out = bytearray()
        encode_multi_request(ops, out)
        return self.send(Op.MULTI, bytes(out))

    async def close(self) -> None:
        """closeSession when the connection is still up, then drop the socket."""
        if not self.closed:
            try:
                await asyncio.wait_for(self.send(Op.CLOSE_SESSION), 5)
            except (ConnectionError, TimeoutError, RuntimeError):
                pass
        self.writer.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
