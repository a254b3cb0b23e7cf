"""A scripted ZooKeeper client for the real-host simulation: it speaks the client protocol over a
simulated connection to a member's real client port (ClientConn -> ZkServer), so sessions,
pings, forwarding and expiry all go through the server's real request path.

Each session first creates its ephemeral `/e<session id>`, then writes `/w<client>-<n>` one at
a time; a create answered OK is an acknowledged write. A lost connection abandons the session
(the client opens a new one elsewhere), so the old session must expire.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.wire import OPEN_ACL_UNSAFE, connect_request_bytes, request_frame
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op

if TYPE_CHECKING:
    from tests.simulation.hostsim import Sim

_LEN = struct.Struct(">i")
_REPLY = struct.Struct(">iqi")
_PING_XID = -2
_NOTIFICATION_XID = -1
EPHEMERAL = 1


def ephemeral_path(session_id: int) -> str:
    return f"/e{session_id:016x}"


class SimClient(asyncio.Protocol):
    def __init__(self, sim: Sim, cid: int, timeout_ms: int, writes: bool = True) -> None:
        self.sim = sim
        self.cid = cid
        self.timeout_ms = timeout_ms
        self.writes = writes
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.session_id = 0
        self.negotiated_ms = 0
        self.xid = 0
        self.n = 0
        self.inflight: dict[int, tuple[str, bytes]] = {}  # xid -> (path, data)
        self.last_sent = 0.0
        self.ephemeral_done = False
        self.lost = False
        self.on_lost: Callable[[SimClient], None] | None = None
        self._pinger: asyncio.TimerHandle | None = None

    # -- protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send(connect_request_bytes(self.timeout_ms))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 4:
            (n,) = _LEN.unpack_from(self.buf, 0)
            if len(self.buf) < 4 + n:
                return
            body = bytes(self.buf[4:4 + n])
            del self.buf[:4 + n]
            if self.session_id == 0:
                self._connected(body)
            else:
                self._reply(body)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost:
            return
        self.lost = True
        if self._pinger is not None:
            self._pinger.cancel()
        if self.on_lost is not None:
            self.on_lost(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- session ----------------------------------------------------------------------------
    def _connected(self, body: bytes) -> None:
        resp, _ = r.ConnectResponse.decode(memoryview(body), 0)
        if resp.sessionId == 0 or resp.timeOut <= 0:
            self.close()  # no leader yet, or refused: the driver tries again elsewhere
            return
        self.session_id = resp.sessionId
        self.negotiated_ms = resp.timeOut
        self.sim.sessions_opened += 1
        self._request(Op.CREATE, ephemeral_path(self.session_id), b"e", EPHEMERAL)
        self._schedule_ping()

    def _reply(self, body: bytes) -> None:
        xid, zxid, err = _REPLY.unpack_from(body, 0)
        if xid in (_PING_XID, _NOTIFICATION_XID):
            return
        path, data = self.inflight.pop(xid, ("", b""))
        if err == 0 and path:
            if path.startswith("/e"):
                self.ephemeral_done = True
                self.sim.ephemeral_created(self, path)
            else:
                self.sim.acknowledged(path, data, zxid)
        if self.writes and self.ephemeral_done and not self.inflight:
            if self.sim.held_writes is not None:
                self.sim.held_writes.append(self)  # a directed schedule holds writes back
            else:
                self._next_write()

    def _next_write(self) -> None:
        self.n += 1
        path = f"/w{self.cid}-{self.n}"
        self._request(Op.CREATE, path, f"{self.cid}:{self.n}".encode(), 0)

    def _request(self, op: int, path: str, data: bytes, flags: int) -> None:
        self.xid += 1
        self.inflight[self.xid] = (path, data)
        body = r.CreateRequest.to_bytes(r.CreateRequest(path, data, OPEN_ACL_UNSAFE, flags))
        self._send(request_frame(self.xid, op, body))

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.last_sent = asyncio.get_running_loop().time()

    # -- keeping the session alive: a ping when idle for a third of the timeout ------------
    def _schedule_ping(self) -> None:
        loop = asyncio.get_running_loop()
        self._pinger = loop.call_later(self.negotiated_ms / 3000, self._ping)

    def _ping(self) -> None:
        if self.lost:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self.last_sent >= self.negotiated_ms / 3000 - 1e-9:
            self._send(request_frame(_PING_XID, Op.PING, b""))
        self._schedule_ping()
