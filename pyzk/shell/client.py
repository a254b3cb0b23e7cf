"""A small blocking ZooKeeper client for `pyzk shell`: one socket, a reader thread, pings,
session re-attach across the connect string, watch bookkeeping, and every opcode zkCli uses.

Built on pyzk's own jute records (not kazoo) because zkCli needs opcodes kazoo 2.11 lacks:
createTTL, addWatch, removeWatches, whoAmI, getEphemerals, getAllChildrenNumber.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err, EventType, KeeperState
from pyzk.protocol.framing import FrameBuffer, frame
from pyzk.protocol.opcodes import Op
from pyzk.shell.watches import Watches

# Special xids (ClientCnxn): notifications, pings, auth and setWatches replies.
XID_NOTIFICATION, XID_PING, XID_AUTH, XID_SET_WATCHES = -1, -2, -4, -8
OPEN_ACL_UNSAFE = [r.ACL(31, r.Id("world", "anyone"))]
_INT = struct.Struct(">i")


class ZkError(Exception):
    """A request failed with a KeeperException code (Java's message in str())."""

    def __init__(self, code: int, path: str | None = None) -> None:
        super().__init__(code, path)
        self.code = code
        self.path = path

    def __str__(self) -> str:
        """KeeperException.getMessage: "KeeperErrorCode = <getCodeMessage> for <path>"."""
        name = CODE_MESSAGES.get(self.code, f"Unknown error {self.code}")
        return f"KeeperErrorCode = {name}" + (f" for {self.path}" if self.path else "")


# KeeperException.getCodeMessage
CODE_MESSAGES: dict[int, str] = {
    0: "ok", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
    -4: "ConnectionLoss", -5: "MarshallingError", -13: "NewConfigNoQuorum",
    -14: "ReconfigInProgress", -6: "Unimplemented", -7: "OperationTimeout", -8: "BadArguments",
    -100: "APIError", -101: "NoNode", -102: "NoAuth", -103: "BadVersion",
    -108: "NoChildrenForEphemerals", -110: "NodeExists", -114: "InvalidACL", -115: "AuthFailed",
    -111: "Directory not empty", -112: "Session expired", -113: "Invalid callback",
    -118: "Session moved", -119: "Not a read-only call", -120: "Ephemeral node on local session",
    -121: "No such watcher", -123: "Reconfig is disabled",
    -124: "Session closed because client failed to authenticate", -125: "Quota has exceeded",
    -127: "Op throttled due to high load", -122: "Request timeout",
}


EventCallback = Callable[[int, int, "str | None"], None]  # (state, type, path)


class Client:
    """Blocking client. `state` is Java's ZooKeeper.States name (CONNECTING, CONNECTED, ...)."""

    def __init__(self, connect_string: str, timeout_ms: int = 30000,
                 on_event: EventCallback | None = None) -> None:
        self.hosts = parse_connect_string(connect_string)
        self.timeout_ms = timeout_ms
        self.on_event = on_event or (lambda s, t, p: None)
        self.session_id = 0
        self.passwd = b"\0" * 16
        self.last_zxid = 0
        self.negotiated_ms = timeout_ms
        self.state = "CONNECTING"
        self.watches = Watches()
        self.auth: list[tuple[str, bytes]] = []
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._xid = 0
        self._pending: dict[int, list[Any]] = {}
        self._connected = threading.Event()
        # Failed connection attempts so far, under _attempts: a request made while not
        # connected fails with ConnectionLoss at the next failed attempt (ClientCnxn cleans
        # its queue each time a connection fails), not after the whole session timeout.
        self._attempts = threading.Condition()
        self._failed_attempts = 0
        self._wake = threading.Event()  # ends the pause between attempts (close)
        self._closing = False
        self._closing_session = False
        self._thread: threading.Thread | None = None

    # --- connection --------------------------------------------------------------------------
    def start(self, wait_s: float | None = None) -> bool:
        """Start connecting in the background; with wait_s, wait that long for CONNECTED."""
        seen = self._failed_attempts
        self._thread = threading.Thread(target=self._run, name="pyzk-shell-io", daemon=True)
        self._thread.start()
        if wait_s is not None:
            return self.wait_connected(wait_s, seen)
        return True

    def wait_connected(self, timeout_s: float, seen: int | None = None) -> bool:
        """Wait until connected (True), or until a connection attempt fails (one after the
        first `seen` failures; default: the next one) or timeout_s passes (False)."""
        if self._connected.is_set():
            return True
        deadline = time.monotonic() + timeout_s
        with self._attempts:
            if seen is None:
                seen = self._failed_attempts
            while not self._connected.is_set() and self._failed_attempts == seen:
                left = deadline - time.monotonic()
                if left <= 0 or self.state == "CLOSED":
                    break
                self._attempts.wait(min(left, 0.5))
        return self._connected.is_set()

    def _attempt_done(self, failed: bool) -> None:
        with self._attempts:
            if failed:
                self._failed_attempts += 1
            self._attempts.notify_all()

    def _handshake(self, host: str, port: int) -> socket.socket:
        sock = socket.create_connection((host, port), timeout=max(self.timeout_ms / 3000, 1.0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = r.ConnectRequest.to_bytes(r.ConnectRequest(
            0, self.last_zxid, self.timeout_ms, self.session_id, self.passwd)) + b"\0"
        sock.sendall(frame(req))
        buf = FrameBuffer(1 << 20)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection during the handshake")
            buf.feed(chunk)
            frames = buf.frames()
            if frames:
                break
        resp, _ = r.ConnectResponse.decode(frames[0], 0)
        if resp.timeOut <= 0:
            sock.close()
            raise SessionExpired()
        self.session_id, self.passwd, self.negotiated_ms = resp.sessionId, resp.passwd, \
            resp.timeOut
        self._leftover = frames[1:], buf
        return sock

    def _run(self) -> None:
        hosts = list(self.hosts)
        random.shuffle(hosts)
        i = 0
        while not self._closing:
            host, port = hosts[i % len(hosts)]
            i += 1
            try:
                sock = self._handshake(host, port)
            except SessionExpired:
                self.state = "CLOSED"
                self.on_event(KeeperState.EXPIRED, EventType.NONE, None)
                self._fail_all(Err.SESSIONEXPIRED)
                return
            except OSError:
                self._attempt_done(failed=True)
                if i % len(hosts) == 0:
                    self._wake.wait(min(1.0, self.timeout_ms / 3000))
                continue
            self._sock = sock
            self.state = "CONNECTED"
            self._reattach()
            # The event first, so a command waiting on the connection prints after it.
            self.on_event(KeeperState.SYNC_CONNECTED, EventType.NONE, None)
            self._connected.set()
            self._attempt_done(failed=False)
            self._read_loop(sock)
            self._connected.clear()
            self._sock = None
            if self._closing or self._closing_session:
                # The server ends the connection after answering closeSession: that is the
                # close, not a disconnect to recover from (ClientCnxn's `closing`).
                self._fail_all(Err.CONNECTIONLOSS)
                break
            self.state = "CONNECTING"
            self.on_event(KeeperState.DISCONNECTED, EventType.NONE, None)
            self._fail_all(Err.CONNECTIONLOSS)
        self.state = "CLOSED"

    def _reattach(self) -> None:
        """Re-send auth and watches after (re)connecting, as ClientCnxn.primeConnection."""
        for scheme, auth in self.auth:
            self._send(XID_AUTH, Op.AUTH, r.AuthPacket.to_bytes(r.AuthPacket(0, scheme, auth)))
        w = self.watches
        if w.any():
            body = r.SetWatches2.to_bytes(r.SetWatches2(
                self.last_zxid, sorted(w.data), sorted(w.exist), sorted(w.child),
                sorted(w.persistent), sorted(w.recursive)))
            self._send(XID_SET_WATCHES, Op.SET_WATCHES2, body)

    def _read_loop(self, sock: socket.socket) -> None:
        frames, buf = self._leftover
        ping_every = max(self.negotiated_ms / 3000, 0.1)
        sock.settimeout(ping_every)
        last_recv = time.monotonic()
        try:
            while not self._closing:
                for payload in frames:
                    self._dispatch(payload)
                frames = []
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if time.monotonic() - last_recv > self.negotiated_ms * 2 / 3000:
                        return  # no reply to our pings: the server is gone
                    self._send(XID_PING, Op.PING, b"")
                    continue
                if not chunk:
                    return
                last_recv = time.monotonic()
                buf.feed(chunk)
                frames = buf.frames()
        except OSError:
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _dispatch(self, payload: bytes) -> None:
        hdr, off = r.ReplyHeader.decode(payload, 0)
        if hdr.zxid > 0:
            self.last_zxid = hdr.zxid
        if hdr.xid == XID_NOTIFICATION:
            ev, _ = r.WatcherEvent.decode(payload, off)
            self.watches.on_event(ev.type, ev.path)
            self.on_event(ev.state, ev.type, ev.path)
            return
        if hdr.xid == XID_AUTH:
            if hdr.err == Err.AUTHFAILED:
                self.state = "AUTH_FAILED"
                self.on_event(KeeperState.AUTH_FAILED, EventType.NONE, None)
            return
        if hdr.xid in (XID_PING, XID_SET_WATCHES):
            return
        with self._lock:
            slot = self._pending.pop(hdr.xid, None)
        if slot is not None:
            slot[1], slot[2] = hdr.err, (payload, off)
            slot[0].set()

    def _fail_all(self, err: int) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot[1] = err
            slot[0].set()

    def _send(self, xid: int, op: int, body: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ZkError(Err.CONNECTIONLOSS)
        try:
            sock.sendall(frame(r.RequestHeader.to_bytes(r.RequestHeader(xid, op)) + body))
        except OSError:
            raise ZkError(Err.CONNECTIONLOSS) from None

    def call(self, op: int, body: bytes, path: str | None = None) -> tuple[bytes, int]:
        """Send one request and wait for its reply; (payload, body offset) or ZkError."""
        if not self.wait_connected(self.timeout_ms / 1000):
            raise ZkError(Err.CONNECTIONLOSS, path)
        slot: list[Any] = [threading.Event(), 0, None]
        with self._lock:
            self._xid += 1
            xid = self._xid
            self._pending[xid] = slot
        self._send(xid, op, body)
        if not slot[0].wait(self.timeout_ms / 1000):
            with self._lock:
                self._pending.pop(xid, None)
            raise ZkError(Err.OPERATIONTIMEOUT, path)
        if slot[1] != 0:
            raise ZkError(slot[1], path)
        payload, off = slot[2]
        return payload, off

    def close(self) -> None:
        if self._sock is not None and self.state == "CONNECTED":
            self._closing_session = True  # before sending: the reply may race the EOF
            try:
                self.call(Op.CLOSE_SESSION, b"")
            except ZkError:
                pass
        self._closing = True
        self._wake.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
        self.state = "CLOSED"
        self.on_event(KeeperState.CLOSED, EventType.NONE, None)

    # --- operations ----------------------------------------------------------------------------
    def _rec(self, op: int, req: Any, resp: Any, path: str | None) -> Any:
        payload, off = self.call(op, type(req).to_bytes(req), path)
        return resp.decode(payload, off)[0] if resp is not None else None

    def create(self, path: str, data: bytes | None, acl: list[Any], flags: int,
               ttl: int = 0) -> str:
        if flags in (5, 6):
            res = self._rec(Op.CREATE_TTL, r.CreateTTLRequest(path, data, acl, flags, ttl),
                            r.Create2Response, path)
        else:
            op = Op.CREATE_CONTAINER if flags == 4 else Op.CREATE2
            res = self._rec(op, r.CreateRequest(path, data, acl, flags), r.Create2Response, path)
        return str(res.path)

    def delete(self, path: str, version: int = -1) -> None:
        self._rec(Op.DELETE, r.DeleteRequest(path, version), None, path)

    def exists(self, path: str, watch: bool = False) -> Any:
        try:
            stat = self._rec(Op.EXISTS, r.ExistsRequest(path, watch), r.ExistsResponse, path).stat
        except ZkError as e:
            if e.code != Err.NONODE:
                raise
            if watch:
                self.watches.exist.add(path)
            return None
        if watch:
            self.watches.data.add(path)
        return stat

    def get_data(self, path: str, watch: bool = False) -> tuple[bytes | None, Any]:
        res = self._rec(Op.GET_DATA, r.GetDataRequest(path, watch), r.GetDataResponse, path)
        if watch:
            self.watches.data.add(path)
        return res.data, res.stat

    def set_data(self, path: str, data: bytes, version: int = -1) -> Any:
        return self._rec(Op.SET_DATA, r.SetDataRequest(path, data, version),
                         r.SetDataResponse, path).stat

    def get_children(self, path: str, watch: bool = False) -> tuple[list[str], Any]:
        res = self._rec(Op.GET_CHILDREN2, r.GetChildren2Request(path, watch),
                        r.GetChildren2Response, path)
        if watch:
            self.watches.child.add(path)
        return list(res.children), res.stat

    def multi_delete(self, paths: list[str]) -> None:
        """One multi of deletes (ZKUtil.deleteInBatch); ZkError on the first failed op."""
        body = bytearray()
        for p in paths:
            r.MultiHeader.encode(r.MultiHeader(Op.DELETE, False, -1), body)
            r.DeleteRequest.encode(r.DeleteRequest(p, -1), body)
        r.MultiHeader.encode(r.MultiHeader(-1, True, -1), body)
        payload, off = self.call(Op.MULTI, bytes(body), paths[0] if paths else None)
        i = 0
        while off < len(payload):
            h, off = r.MultiHeader.decode(payload, off)
            if h.done:
                break
            if h.type == -1:
                e, off = r.ErrorResponse.decode(payload, off)
                if e.err != 0:
                    raise ZkError(e.err, paths[i])
            i += 1

    def get_acl(self, path: str) -> tuple[list[Any], Any]:
        res = self._rec(Op.GET_ACL, r.GetACLRequest(path), r.GetACLResponse, path)
        return list(res.acl), res.stat

    def set_acl(self, path: str, acl: list[Any], version: int = -1) -> Any:
        return self._rec(Op.SET_ACL, r.SetACLRequest(path, acl, version),
                         r.SetACLResponse, path).stat

    def sync(self, path: str) -> None:
        self._rec(Op.SYNC, r.SyncRequest(path), r.SyncResponse, path)

    def add_auth(self, scheme: str, auth: bytes) -> None:
        self.auth.append((scheme, auth))
        if self._sock is not None:
            self._send(XID_AUTH, Op.AUTH, r.AuthPacket.to_bytes(r.AuthPacket(0, scheme, auth)))

    def add_watch(self, path: str, mode: int) -> None:
        self._rec(Op.ADD_WATCH, r.AddWatchRequest(path, mode), None, path)
        (self.watches.recursive if mode == 1 else self.watches.persistent).add(path)

    def remove_watches(self, path: str, wtype: int, local: bool = False) -> list[int]:
        """removeAllWatches: NoWatcher when nothing local matches (ZKWatchManager)."""
        probe = Watches()
        for name in ("data", "exist", "child", "persistent", "recursive"):
            getattr(probe, name).update(getattr(self.watches, name))
        if not probe.remove(path, wtype):
            raise ZkError(Err.NOWATCHER, path)
        if not local:
            self._rec(Op.REMOVE_WATCHES, r.RemoveWatchesRequest(path, wtype), None, path)
        return self.watches.remove(path, wtype)

    def who_am_i(self) -> list[Any]:
        payload, off = self.call(Op.WHO_AM_I, b"")
        return list(r.WhoAmIResponse.decode(payload, off)[0].clientInfo)

    def get_ephemerals(self, prefix: str = "/") -> list[str]:
        return list(self._rec(Op.GET_EPHEMERALS, r.GetEphemeralsRequest(prefix),
                              r.GetEphemeralsResponse, prefix).ephemerals)

    def get_all_children_number(self, path: str) -> int:
        return int(self._rec(Op.GET_ALL_CHILDREN_NUMBER, r.GetAllChildrenNumberRequest(path),
                             r.GetAllChildrenNumberResponse, path).totalNumber)


class SessionExpired(Exception):
    """The server refused to re-attach our session (timeOut <= 0 in the ConnectResponse)."""


def parse_connect_string(s: str) -> list[tuple[str, int]]:
    """"h1:p1,h2[:2181]/chroot" -> [(h1, p1), (h2, 2181)] (a chroot suffix is not supported)."""
    hosts: list[tuple[str, int]] = []
    for part in s.split("/", 1)[0].split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("["):  # [v6]:port
            host, _, rest = part[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 2181
        elif part.count(":") == 1:
            host, p = part.split(":")
            port = int(p)
        else:
            host, port = part, 2181
        hosts.append((host, port))
    if not hosts:
        raise ValueError(f"no server in connect string {s!r}")
    return hosts
