"""A minimal blocking ZooKeeper client over a plain socket, built on pyzk.protocol.

For what kazoo cannot send (null data in multi, containers, TTL, addWatch, removeWatches,
getEphemerals, malformed frames) and for exact frame ordering: every notification (xid -1) read
before a reply is kept in `events`, in arrival order, together with the reply it preceded.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.codes import NOTIFICATION_XID, PING_XID
from pyzk.protocol.multi import decode_multi_response, encode_multi_request
from pyzk.protocol.opcodes import Op

# Which record a successful reply carries (FinalRequestProcessor.processRequest).
RESPONSES: dict[int, Any] = {
    Op.CREATE: r.CreateResponse,
    Op.CREATE2: r.Create2Response,
    Op.CREATE_CONTAINER: r.Create2Response,
    Op.CREATE_TTL: r.Create2Response,
    Op.EXISTS: r.ExistsResponse,
    Op.GET_DATA: r.GetDataResponse,
    Op.SET_DATA: r.SetDataResponse,
    Op.CHECK: r.SetDataResponse,
    Op.GET_ACL: r.GetACLResponse,
    Op.SET_ACL: r.SetACLResponse,
    Op.GET_CHILDREN: r.GetChildrenResponse,
    Op.GET_CHILDREN2: r.GetChildren2Response,
    Op.SYNC: r.SyncResponse,
    Op.GET_EPHEMERALS: r.GetEphemeralsResponse,
    Op.GET_ALL_CHILDREN_NUMBER: r.GetAllChildrenNumberResponse,
    Op.ADD_WATCH: r.ErrorResponse,
    Op.WHO_AM_I: r.WhoAmIResponse,
}
OPEN_ACL = [r.ACL(31, r.Id("world", "anyone"))]
_LEN = struct.Struct(">i")


class ConnectionClosed(Exception):
    """The server closed the socket (EOF or reset)."""


@dataclass
class Reply:
    xid: int
    zxid: int
    err: int
    body: Any
    raw: bytes
    events: list[Any] = field(default_factory=list)  # notifications read just before this reply


@dataclass
class Connected:
    protocolVersion: int
    timeOut: int
    sessionId: int
    passwd: bytes
    readOnly: bool | None


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 10.0,
                 source: str | None = None) -> None:
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.timeout = timeout
        self.xid = 0
        self.events: list[Any] = []
        self._buf = bytearray()
        self._session: Connected | None = None

    @property
    def session(self) -> Connected:
        if self._session is None:
            raise RuntimeError("not connected")
        return self._session

    # -- framing ---------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, payload: bytes | bytearray) -> None:
        self.sock.sendall(_LEN.pack(len(payload)) + bytes(payload))

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame from server")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise ConnectionClosed(str(e)) from e
            if not chunk:
                raise ConnectionClosed("EOF")
            self._buf += chunk

    def read_frame(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._fill(4, deadline)
        (n,) = _LEN.unpack_from(self._buf, 0)
        self._fill(4 + n, deadline)
        data = bytes(self._buf[4:4 + n])
        del self._buf[:4 + n]
        return data

    def is_closed_by_server(self, timeout: float = 5.0) -> bool:
        """True once the server closes the socket; frames still in flight are skipped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.read_frame(deadline - time.monotonic())
            except ConnectionClosed:
                return True
            except TimeoutError:
                return False
        return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- handshake -------------------------------------------------------------------------
    def connect(self, timeout_ms: int = 30000, session_id: int = 0,
                passwd: bytes = b"\0" * 16, last_zxid: int = 0,
                read_only: bool | None = False) -> Connected:
        req = r.ConnectRequest.to_bytes(r.ConnectRequest(0, last_zxid, timeout_ms, session_id,
                                                         passwd))
        if read_only is not None:
            req += b"\x01" if read_only else b"\x00"
        self.send_frame(req)
        data = self.read_frame()
        resp, off = r.ConnectResponse.decode(data, 0)
        ro = bool(data[off]) if off < len(data) else None
        self._session = Connected(resp.protocolVersion, resp.timeOut, resp.sessionId,
                                  resp.passwd or b"", ro)
        return self._session

    # -- requests --------------------------------------------------------------------------
    def send_request(self, op: int, rec: Any = None, xid: int | None = None) -> int:
        if xid is None:
            self.xid += 1
            xid = self.xid
        out = bytearray()
        r.RequestHeader.encode(r.RequestHeader(xid, int(op)), out)
        if isinstance(rec, (bytes, bytearray)):
            out += rec
        elif rec is not None:
            type(rec).encode(rec, out)
        self.send_frame(out)
        return xid

    def read_reply(self, op: int, xid: int, timeout: float | None = None) -> Reply:
        """Read frames until the reply to `xid`; notifications on the way are collected."""
        before: list[Any] = []
        while True:
            data = self.read_frame(timeout)
            hdr, off = r.ReplyHeader.decode(data, 0)
            if hdr.xid == NOTIFICATION_XID:
                ev, _ = r.WatcherEvent.decode(data, off)
                self.events.append(ev)
                before.append(ev)
                continue
            if hdr.xid != xid and hdr.xid == PING_XID:
                continue
            body: Any = None
            if hdr.err == 0 or op in (Op.MULTI, Op.MULTI_READ):
                if op in (Op.MULTI, Op.MULTI_READ) and off < len(data):
                    body, _ = decode_multi_response(data, off)
                elif op in RESPONSES and off < len(data):
                    body, _ = RESPONSES[op].decode(data, off)
            return Reply(hdr.xid, hdr.zxid, hdr.err, body, data[off:], before)

    def call(self, op: int, rec: Any = None, xid: int | None = None,
             timeout: float | None = None) -> Reply:
        xid = self.send_request(op, rec, xid)
        return self.read_reply(op, xid, timeout)

    def wait_events(self, n: int, timeout: float = 10.0) -> list[Any]:
        """Block until at least n notifications have arrived in total (pings keep us alive)."""
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.events)} events, wanted {n}: {self.events}")
            self.call(Op.PING, xid=PING_XID, timeout=max(0.1, deadline - time.monotonic()))
        return self.events

    # -- conveniences ----------------------------------------------------------------------
    def create(self, path: str, data: bytes | None = b"", flags: int = 0,
               acl: list[Any] | None = None, op: int = Op.CREATE2, ttl: int = 0) -> Reply:
        acl = OPEN_ACL if acl is None else acl
        if op == Op.CREATE_TTL:
            return self.call(op, r.CreateTTLRequest(path, data, acl, flags, ttl))
        return self.call(op, r.CreateRequest(path, data, acl, flags))

    def get(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.GET_DATA, r.GetDataRequest(path, watch))

    def set(self, path: str, data: bytes | None, version: int = -1) -> Reply:
        return self.call(Op.SET_DATA, r.SetDataRequest(path, data, version))

    def delete(self, path: str, version: int = -1) -> Reply:
        return self.call(Op.DELETE, r.DeleteRequest(path, version))

    def exists(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.EXISTS, r.ExistsRequest(path, watch))

    def children(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.GET_CHILDREN2, r.GetChildren2Request(path, watch))

    def auth(self, scheme: str, cred: bytes) -> Reply:
        return self.call(Op.AUTH, r.AuthPacket(0, scheme, cred), xid=-4)

    def multi(self, ops: list[tuple[int, Any]], read: bool = False) -> Reply:
        out = bytearray()
        encode_multi_request(ops, out)
        return self.call(Op.MULTI_READ if read else Op.MULTI, bytes(out))

    def close_session(self) -> Reply:
        rep = self.call(Op.CLOSE_SESSION)
        self.close()
        return rep


def connected(host: str, port: int, timeout_ms: int = 30000, **kw: Any) -> RawClient:
    c = RawClient(host, port, **kw)
    c.connect(timeout_ms)
    return c
