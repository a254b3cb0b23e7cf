"""ZAB quorum-port (2888) packets in Java's exact bytes: type numbers, every `data` payload,
the back-to-back QuorumPacket stream and the SNAP stream (sessions, ACL cache, nodes,
"BenWasHere") that LearnerHandler writes after a SNAP packet. No I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum
from typing import Any, NamedTuple

from pyzk.protocol import records as r
from pyzk.protocol.jute import MAX_BUFFER, JuteError, write_buffer, write_string
from pyzk.storage import txnlog
from pyzk.storage.snapshot import SnapNode, Snapshot


class PT(IntEnum):
    """Leader.java packet type constants."""

    REQUEST = 1
    PROPOSAL = 2
    ACK = 3
    COMMIT = 4
    PING = 5
    REVALIDATE = 6
    SYNC = 7
    INFORM = 8
    COMMITANDACTIVATE = 9
    NEWLEADER = 10
    FOLLOWERINFO = 11
    UPTODATE = 12
    DIFF = 13
    TRUNC = 14
    SNAP = 15
    OBSERVERINFO = 16
    LEADERINFO = 17
    ACKEPOCH = 18
    INFORMANDACTIVATE = 19


PROTOCOL_VERSION = 0x10000  # LearnerInfo.protocolVersion / LEADERINFO data (ZAB 1.0)
SIGNATURE = "BenWasHere"  # LearnerHandler.run after serializeSnapshot
_LIMIT = MAX_BUFFER + 1024  # BinaryInputArchive maxBuffer + extra
_I = struct.Struct(">i")
_Q = struct.Struct(">q")
_QI = struct.Struct(">qi")
_QII = struct.Struct(">qii")
_QB = struct.Struct(">q?")
_NODE = struct.Struct(">qqqqqiiiqq")  # aclKey + StatPersisted (DataNode.serialize)
_QP_HEAD = struct.Struct(">iqi")  # QuorumPacket type, zxid, data length
_QP_EMPTY = struct.Struct(">iqii")  # ... with a null data buffer and a null authinfo vector
_NULL_VECTOR = b"\xff\xff\xff\xff"
_tnew = tuple.__new__
_QP = r.QuorumPacket

Packet = Any  # an r.QuorumPacket(type, zxid, data, authinfo)


def packet(ptype: int, zxid: int, data: bytes | None = None, authinfo: Any = None) -> Packet:
    return r.QuorumPacket(int(ptype), zxid, data, authinfo)


def encode_packet(qp: Packet) -> bytes:
    """oa.writeRecord(qp, "packet"): no extra framing on the quorum socket."""
    t, zxid, data, auth = qp
    if auth is None:
        # The broadcast hot path (PROPOSAL/ACK/COMMIT carry no authinfo): the same bytes the
        # record codec writes (int type, long zxid, buffer data, vector -1), in one pack.
        if data is None:
            return _QP_EMPTY.pack(t, zxid, -1, -1)
        return b"".join((_QP_HEAD.pack(t, zxid, len(data)), data, _NULL_VECTOR))
    return bytes(r.QuorumPacket.to_bytes(qp))


def type_name(t: int) -> str:
    try:
        return PT(t).name
    except ValueError:
        return f"UNKNOWN{t}"


# -- payloads ---------------------------------------------------------------------------------

def encode_learner_info(sid: int, config_version: int, version: int = PROTOCOL_VERSION) -> bytes:
    return bytes(r.LearnerInfo.to_bytes(r.LearnerInfo(sid, version, config_version)))


class LearnerInfoData(NamedTuple):
    sid: int | None
    protocol_version: int
    config_version: int | None


def decode_learner_info(data: bytes | None) -> LearnerInfoData:
    """LearnerHandler.run reads as much as is there: sid (8), version (12), configVersion (20);
    a non-null payload too short for a sid leaves LearnerHandler.sid at its initial 0."""
    if data is None:
        return LearnerInfoData(None, 0, None)
    sid = _Q.unpack_from(data, 0)[0] if len(data) >= 8 else 0
    ver = _I.unpack_from(data, 8)[0] if len(data) >= 12 else 0
    cfg = _Q.unpack_from(data, 12)[0] if len(data) >= 20 else None
    return LearnerInfoData(sid, ver, cfg)


def encode_int(v: int) -> bytes:
    """LEADERINFO's protocol version and ACKEPOCH's current epoch (cast to int in Learner)."""
    return _I.pack(((v + (1 << 31)) % (1 << 32)) - (1 << 31))


def decode_int(data: bytes | None) -> int:
    if data is None or len(data) < 4:
        raise JuteError("int payload too short")
    return int(_I.unpack_from(data, 0)[0])


def encode_long(v: int) -> bytes:
    return _Q.pack(v)


def decode_long(data: bytes | None) -> int:
    if data is None or len(data) < 8:
        raise JuteError("long payload too short")
    return int(_Q.unpack_from(data, 0)[0])


class ForwardedRequest(NamedTuple):
    session_id: int
    cxid: int
    type: int
    body: bytes


def encode_request(session_id: int, cxid: int, op: int, body: bytes | None) -> bytes:
    """Learner.request: long sessionId, int cxid, int type, then the raw request bytes."""
    return _QII.pack(session_id, cxid, op) + (body or b"")


def decode_request(data: bytes | None) -> ForwardedRequest:
    if data is None or len(data) < 16:
        raise JuteError("REQUEST payload too short")
    sid, cxid, op = _QII.unpack_from(data, 0)
    return ForwardedRequest(sid, cxid, op, bytes(data[16:]))


def encode_touches(touches: Iterable[tuple[int, int]]) -> bytes:
    """Learner.ping: (long sessionId, int timeout) per touched session, nothing else."""
    return b"".join(_QI.pack(s, t) for s, t in touches)


def decode_touches(data: bytes | None) -> list[tuple[int, int]]:
    """LearnerHandler PING case reads pairs while bytes remain (a torn pair is an EOF error)."""
    if not data:
        return []
    if len(data) % 12:
        raise JuteError("PING payload is not whole (long, int) pairs")
    return [(s, t) for s, t in _QI.iter_unpack(data)]


def encode_revalidate(session_id: int, timeout: int) -> bytes:
    return _QI.pack(session_id, timeout)


def decode_revalidate(data: bytes | None) -> tuple[int, int]:
    if data is None or len(data) < 12:
        raise JuteError("REVALIDATE payload too short")
    s, t = _QI.unpack_from(data, 0)
    return int(s), int(t)


def encode_revalidate_reply(session_id: int, valid: bool) -> bytes:
    """Leader.revalidateSession: long id + DataOutputStream.writeBoolean."""
    return _QB.pack(session_id, valid)


def decode_revalidate_reply(data: bytes | None) -> tuple[int, bool]:
    if data is None or len(data) < 9:
        raise JuteError("REVALIDATE reply too short")
    s, v = _QB.unpack_from(data, 0)
    return int(s), bool(v)


def encode_txn(hdr: Any, txn: Any, digest: Any = None) -> bytes:
    """PROPOSAL/INFORM data: SerializeUtils.serializeRequest == a txn log entry body."""
    return txnlog.serialize_txn(hdr, txn, digest)


def decode_txn(data: bytes | None) -> txnlog.TxnEntry:
    if data is None:
        raise JuteError("txn packet without data")
    return txnlog.deserialize_txn(data)


def encode_inform_and_activate(designated_leader: int, proposal_data: bytes) -> bytes:
    """Leader.buildInformAndActivePacket: long designated leader + the proposal bytes."""
    return _Q.pack(designated_leader) + proposal_data


def decode_inform_and_activate(data: bytes | None) -> tuple[int, bytes]:
    if data is None or len(data) < 8:
        raise JuteError("INFORMANDACTIVATE payload too short")
    return int(_Q.unpack_from(data, 0)[0]), bytes(data[8:])


# -- SNAP stream ------------------------------------------------------------------------------

def encode_snap_body(sessions: Iterable[tuple[int, int]], acls: Iterable[tuple[int, list[Any]]],
                     nodes: Iterable[SnapNode]) -> bytes:
    """ZKDatabase.serializeSnapshot + the signature: SerializeUtils.serializeSnapshot (int count,
    (long id, int timeout)*), DataTree.serialize (ACL cache map, pre-order nodes with the root as
    "", end marker "/"), then writeString("BenWasHere"). No file header, seals or digest."""
    out = bytearray()
    sess = list(sessions)
    out += _I.pack(len(sess))
    for s, t in sess:
        out += _QI.pack(s, t)
    acl_list = list(acls)
    out += _I.pack(len(acl_list))
    for key, lst in acl_list:
        out += _Q.pack(key)
        out += _I.pack(len(lst))
        for a in lst:
            r.ACL.encode(a, out)
    for n in nodes:
        st = n.stat
        write_string(out, n.path)
        write_buffer(out, n.data)
        out += _NODE.pack(n.acl, st.czxid, st.mzxid, st.ctime, st.mtime, st.version,
                          st.cversion, st.aversion, st.ephemeralOwner, st.pzxid)
    write_string(out, "/")
    write_string(out, SIGNATURE)
    return bytes(out)


def encode_snap_body_records(sessions: Iterable[tuple[int, int]],
                             acls: Iterable[tuple[int, list[Any]]],
                             records: Iterable[bytes | bytearray]) -> bytes:
    """encode_snap_body with the nodes already encoded (pyzk.storage.snapshot.node_record:
    the same (path, DataNode) layout)."""
    head = encode_snap_body((), acls, ())
    # encode_snap_body((), ...) wrote an empty session list, the ACL map, "/" and the
    # signature: keep the ACL map, put the real sessions in front and the nodes after it.
    sess = list(sessions)
    out = bytearray(_I.pack(len(sess)))
    for s, t in sess:
        out += _QI.pack(s, t)
    tail = bytearray()
    write_string(tail, "/")
    write_string(tail, SIGNATURE)
    return b"".join((out, head[4:len(head) - len(tail)], b"".join(records), tail))


class _More(Exception):
    """Not enough bytes yet (the stream continues)."""


def _need(buf: Any, off: int, n: int) -> None:
    if off + n > len(buf):
        raise _More


def _len_at(buf: Any, off: int) -> int:
    _need(buf, off, 4)
    n = int(_I.unpack_from(buf, off)[0])
    if n < -1 or n > _LIMIT:
        raise JuteError(f"Unreasonable length = {n}")
    return n


def _str_at(buf: Any, off: int) -> tuple[str | None, int]:
    n = _len_at(buf, off)
    if n == -1:
        return None, off + 4
    _need(buf, off + 4, n)
    return bytes(buf[off + 4:off + 4 + n]).decode("utf-8", "replace"), off + 4 + n


def _buf_at(buf: Any, off: int) -> tuple[bytes | None, int]:
    n = _len_at(buf, off)
    if n == -1:
        return None, off + 4
    _need(buf, off + 4, n)
    return bytes(buf[off + 4:off + 4 + n]), off + 4 + n


class SnapStreamParser:
    """Resumable reader of a SNAP body: each call parses as many whole items as the bytes
    allow, so a large snapshot arriving in chunks costs linear time."""

    def __init__(self) -> None:
        self.stage = "count"
        self.left = 0
        self.sessions: list[tuple[int, int]] = []
        self.acls: list[tuple[int, list[Any]]] = []
        self.nodes: list[SnapNode] = []
        self.done = False

    def parse(self, buf: Any, off: int) -> int:
        """Consume from `off`; returns the new offset. `done` turns True after the signature."""
        try:
            while not self.done:
                off = self._step(buf, off)
        except _More:
            pass
        return off

    def _step(self, buf: Any, off: int) -> int:
        st = self.stage
        if st in ("count", "aclcount"):
            _need(buf, off, 4)
            n = int(_I.unpack_from(buf, off)[0])
            if n < 0:
                raise JuteError(f"bad {st} {n}")
            self.left = n
            self.stage = "sessions" if st == "count" else "acls"
            return off + 4
        if st == "sessions":
            if self.left == 0:
                self.stage = "aclcount"
                return off
            _need(buf, off, 12)
            s, t = _QI.unpack_from(buf, off)
            self.sessions.append((s, t))
            self.left -= 1
            return off + 12
        if st == "acls":
            if self.left == 0:
                self.stage = "nodes"
                return off
            _need(buf, off, 12)
            key, nv = _QI.unpack_from(buf, off)
            if nv < 0:
                raise JuteError(f"bad ACL list length {nv}")
            p = off + 12
            lst = []
            for _ in range(nv):
                _need(buf, p, 4)
                perms = int(_I.unpack_from(buf, p)[0])
                scheme, p = _str_at(buf, p + 4)
                ident, p = _str_at(buf, p)
                lst.append(r.ACL(perms, r.Id(scheme, ident)))
            self.acls.append((key, lst))
            self.left -= 1
            return p
        if st == "nodes":
            path, p = _str_at(buf, off)
            if path == "/":
                self.stage = "sig"
                return p
            if path is None:
                raise JuteError("null node path in SNAP stream")
            data, p = _buf_at(buf, p)
            _need(buf, p, _NODE.size)
            f = _NODE.unpack_from(buf, p)
            self.nodes.append(SnapNode(path, data, f[0], r.StatPersisted(*f[1:])))
            return p + _NODE.size
        sig, p = _str_at(buf, off)
        if sig != SIGNATURE:
            raise JuteError(f"Missing signature. Got {sig}")
        self.done = True
        return p

    def snapshot(self) -> Snapshot:
        return Snapshot(self.sessions, self.acls, self.nodes, None, None, -1)


def decode_snap_body(buf: bytes) -> Snapshot:
    p = SnapStreamParser()
    off = p.parse(buf, 0)
    if not p.done:
        raise JuteError("truncated SNAP stream")
    if off != len(buf):
        raise JuteError(f"{len(buf) - off} bytes after the SNAP signature")
    return p.snapshot()


# -- the quorum byte stream -------------------------------------------------------------------

def _packet_end(buf: Any, off: int) -> int:
    """End offset of one whole QuorumPacket at `off`, or _More."""
    _need(buf, off, 16)
    n = _len_at(buf, off + 12)
    p = off + 16 + max(n, 0)
    _need(buf, p, 4)
    nv = int(_I.unpack_from(buf, p)[0])
    p += 4
    for _ in range(max(nv, 0)):
        for _field in range(2):
            n = _len_at(buf, p)
            p += 4 + max(n, 0)
            _need(buf, p, 0)
    return p


def _next_packet(buf: bytearray, off: int) -> tuple[Packet, int]:
    """The QuorumPacket at `off` and the offset after it, or _More. The usual packet (no
    authinfo: every broadcast packet, ACKs and COMMITs) is read with one struct call and
    no generic record decoder; any other shape goes the general way (_packet_end's checks)."""
    blen = len(buf)
    if off + 16 > blen:
        raise _More
    t, zxid, n = _QP_HEAD.unpack_from(buf, off)
    if n < -1 or n > _LIMIT:
        raise JuteError(f"Unreasonable length = {n}")
    p = off + 16 + (n if n > 0 else 0)
    if p + 4 > blen:
        raise _More
    if buf[p:p + 4] == _NULL_VECTOR:
        return _tnew(_QP, (t, zxid, None if n == -1 else bytes(buf[off + 16:p]), None)), p + 4
    end = _packet_end(buf, off)
    return r.QuorumPacket.decode(bytes(buf[off:end]), 0)[0], end


_SNAP = int(PT.SNAP)


class StreamItem(NamedTuple):
    qp: Packet
    snapshot: Snapshot | None  # set for SNAP: the body that followed it on the stream


class QuorumStreamReader:
    """Splits quorum-socket bytes into packets; after a SNAP it reads the snapshot body and
    hands it out with the SNAP packet (Learner.syncWithLeader reads it off the same stream)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.off = 0
        self._snap_qp: Packet | None = None
        self._snap: SnapStreamParser | None = None

    def feed(self, data: bytes) -> list[StreamItem]:
        self.buf += data
        out: list[StreamItem] = []
        while True:
            if self._snap is not None:
                self.off = self._snap.parse(self.buf, self.off)
                if not self._snap.done:
                    break
                out.append(StreamItem(self._snap_qp, self._snap.snapshot()))
                self._snap = None
                self._snap_qp = None
                continue
            try:
                qp, self.off = _next_packet(self.buf, self.off)
            except _More:
                break
            if qp[0] == _SNAP:
                self._snap_qp = qp
                self._snap = SnapStreamParser()
                continue
            out.append(_tnew(StreamItem, (qp, None)))
        if self.off > 65536:
            del self.buf[:self.off]
            self.off = 0
        return out
