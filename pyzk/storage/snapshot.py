"""Snapshot codec: Java's exact bytes for snapshot.<zxid> files, with no I/O.

Layout (FileSnap.serialize, SerializeUtils.serializeSnapshot, DataTree.serialize, SnapStream):
FileHeader ZKSN/2/-1, sessions (count, then long id + int timeout), the ACL cache (int n, then
long id + vector<ACL>), nodes parent-first as (path, DataNode{buffer, long acl, StatPersisted})
with the root written as "" and "/" ending them, then a seal (long Adler32 of every byte so
far + "/"); 3.6+ append ZxidDigest{long zxid, int version, long digest} and a second seal; 3.9
appends long lastProcessedZxid and a third. Readers accept each optional trailer's absence.
"""

from __future__ import annotations

import gc
import struct
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import construct as cs

from pyzk.protocol import records as r
from pyzk.protocol.jute import (
    EXTRA_MAX_BUFFER,
    MAX_BUFFER,
    JuteError,
    read_buffer,
    read_string,
    write_buffer,
    write_string,
)
from pyzk.storage import snapstream
from pyzk.tree.digest import DIGEST_VERSION, ZxidDigest

SNAP_MAGIC = 0x5A4B534E  # "ZKSN" (FileSnap.SNAP_MAGIC)
VERSION = 2
SNAP_DBID = -1

SNAP_FILE_HEADER = cs.Struct("magic" / cs.Const(b"ZKSN"), "version" / cs.Int32sb,
                             "dbid" / cs.Int64sb)
SEAL_TAIL = b"\x00\x00\x00\x01/"  # the ustring "/" every seal ends with
_LIMIT = MAX_BUFFER + EXTRA_MAX_BUFFER

_I = struct.Struct(">i")
_Q = struct.Struct(">q")
_SESSION = struct.Struct(">qi")
# DataNode after its data buffer: long acl, then StatPersisted (czxid, mzxid, ctime, mtime,
# version, cversion, aversion, ephemeralOwner, pzxid).
_NODE = struct.Struct(">qqqqqiiiqq")
_DIGEST_HEAD = struct.Struct(">qi")
# Whole-record layouts (path, data, DataNode) by (path length, data length): one pack per node.
_RECORD: dict[tuple[int, int], struct.Struct] = {}


class SnapNode(NamedTuple):
    path: str  # as written: "" for the root
    data: bytes | None
    acl: int
    stat: Any  # records.StatPersisted


class Snapshot(NamedTuple):
    sessions: list[tuple[int, int]]
    acls: list[tuple[int, list[Any]]]
    nodes: list[SnapNode]
    digest: ZxidDigest | None = None  # None: no digest trailer (pre-3.6 or digest disabled)
    last_processed_zxid: int | None = None  # 3.9 trailer
    dbid: int = SNAP_DBID


class SnapshotFormatError(ValueError):
    """A snapshot that cannot be trusted, naming the file and byte offset."""

    def __init__(self, name: str, offset: int, reason: str) -> None:
        super().__init__(f"{name}: offset {offset}: {reason}")
        self.name = name
        self.offset = offset
        self.reason = reason


# -- encoding ----------------------------------------------------------------------------------

def _seal(out: bytearray, before: int = 1) -> None:
    """SnapStream.sealStream: the checksum of everything written so far, then "/". `before`
    is the Adler-32 of whatever precedes `out` in the stream (1: nothing)."""
    out += _Q.pack(zlib.adler32(out, before))
    out += SEAL_TAIL


def encode_head(sessions: list[tuple[int, int]], acls: list[tuple[int, list[Any]]],
                dbid: int = SNAP_DBID) -> bytearray:
    out = bytearray(SNAP_FILE_HEADER.build({"version": VERSION, "dbid": dbid}))
    out += _I.pack(len(sessions))
    for sid, timeout in sessions:
        out += _SESSION.pack(sid, timeout)
    out += _I.pack(len(acls))
    acl_enc = r.ACL.encode
    for acl_id, acl_list in acls:
        out += _Q.pack(acl_id)
        out += _I.pack(len(acl_list))
        for a in acl_list:
            acl_enc(a, out)
    return out


def node_record(path: str, node: Any) -> bytes:
    """The snapshot record of the live Znode at `path` (path, then DataNode; the root's path
    is written as ""), packed in one struct call so that each field is read once (the
    snapshot is fuzzy).

    Not cached on the node: a per-znode copy of path + data + stat would cost about 290 bytes
    per znode for as long as the node lives (bench/memory.py), to save ~0.7 us per node per
    snapshot.
    """
    pb = b"" if path == "/" else path.encode("utf-8")  # the root is written as ""
    d = node.data
    lp, ld = len(pb), (-1 if d is None else len(d))
    st = _RECORD.get((lp, ld))
    if st is None:
        st = struct.Struct(f">i{lp}si{max(ld, 0)}sqqqqqiiiqq")
        if len(_RECORD) < 4096:  # one per (path length, data length) seen; bounded
            _RECORD[(lp, ld)] = st
    return st.pack(lp, pb, ld, d or b"", node.acl, node.czxid, node.mzxid, node.ctime,
                   node.mtime, node.version, node.cversion, node.aversion,
                   node.ephemeral_owner, node.pzxid)


def encode_node(out: bytearray, path: str, node: Any) -> None:
    """One (path, DataNode) from a pyzk Znode; reads each field once (the snapshot is fuzzy)."""
    write_string(out, path)
    write_buffer(out, node.data)
    out += _NODE.pack(node.acl, node.czxid, node.mzxid, node.ctime, node.mtime, node.version,
                      node.cversion, node.aversion, node.ephemeral_owner, node.pzxid)


def encode_tail(out: bytearray, digest: ZxidDigest | None,
                last_processed_zxid: int | None = None, before: int = 1) -> None:
    """End-of-nodes marker and the seals (FileSnap.serialize, DataTree.serializeZxidDigest);
    `before` as in _seal."""
    write_string(out, "/")
    _seal(out, before)
    if digest is not None:
        out += _DIGEST_HEAD.pack(digest.zxid, digest.version)
        out += _Q.pack(digest.digest)
        _seal(out, before)
        if last_processed_zxid is not None:
            out += _Q.pack(last_processed_zxid)
            _seal(out, before)


def encode_snapshot(snap: Snapshot) -> bytes:
    out = encode_head(snap.sessions, snap.acls, snap.dbid)
    stat_pack = _NODE.pack
    for n in snap.nodes:
        s = n.stat
        write_string(out, n.path)
        write_buffer(out, n.data)
        out += stat_pack(n.acl, s.czxid, s.mzxid, s.ctime, s.mtime, s.version, s.cversion,
                         s.aversion, s.ephemeralOwner, s.pzxid)
    encode_tail(out, snap.digest, snap.last_processed_zxid)
    return bytes(out)


# -- decoding ----------------------------------------------------------------------------------

def has_valid_tail(buf: Any) -> bool:
    """SnapStream.isValidCheckedStream: at least 10 bytes, ending in the seal's "/"."""
    return len(buf) >= 10 and bytes(buf[-5:]) == SEAL_TAIL


def maybe_decompress(raw: bytes, name: str) -> bytes:
    """The stream under the checksum, by the file name's extension (SnapStream.getStreamMode):
    .gz is gunzipped, .snappy undoes snappy-java's framing, anything else is as it is."""
    try:
        return snapstream.decompress(snapstream.mode_of_file(name), raw)
    except snapstream.StreamError as e:
        raise SnapshotFormatError(name, 0, str(e)) from None


def decode_snapshot(buf: Any, name: str = "snapshot") -> Snapshot:
    """Parse and verify a whole snapshot stream (after decompression)."""
    off = 0
    try:
        dbid, sessions, acls, off = _decode_head(buf, name)
        nodes: list[SnapNode] = []
        stat_cls = r.StatPersisted
        size = _NODE.size
        while True:
            path, off = read_string(buf, off, _LIMIT)
            if path == "/":
                break
            if path is None:
                raise SnapshotFormatError(name, off - 4, "null node path")
            data, off = read_buffer(buf, off, _LIMIT)
            if off + size > len(buf):
                raise SnapshotFormatError(name, off, "truncated DataNode")
            f = _NODE.unpack_from(buf, off)
            off += size
            nodes.append(SnapNode(path, data, f[0], stat_cls(*f[1:])))
        digest, last = _decode_trailer(buf, off, name)
        return Snapshot(sessions, acls, nodes, digest, last, dbid)
    except (JuteError, struct.error) as e:
        raise SnapshotFormatError(name, off, f"truncated or malformed: {e}") from None


def _decode_head(buf: Any, name: str) -> tuple[int, list[tuple[int, int]],
                                               list[tuple[int, list[Any]]], int]:
    """File header, sessions and the ACL map: (dbid, sessions, acls, offset of the nodes)."""
    try:
        hdr = SNAP_FILE_HEADER.parse(bytes(buf[:16]))
    except cs.ConstructError:
        raise SnapshotFormatError(name, 0, "mismatching magic header") from None
    off = 16
    (count,) = _I.unpack_from(buf, off)
    off += 4
    if count < 0 or count * 12 > len(buf) - off:
        raise SnapshotFormatError(name, off - 4, f"bad session count {count}")
    sessions = []
    for _ in range(count):
        sessions.append(_SESSION.unpack_from(buf, off))
        off += 12
    (nacl,) = _I.unpack_from(buf, off)
    off += 4
    if nacl < 0 or nacl > len(buf) - off:
        raise SnapshotFormatError(name, off - 4, f"bad ACL map size {nacl}")
    acls: list[tuple[int, list[Any]]] = []
    acl_dec = r.ACL.decode
    for _ in range(nacl):
        (acl_id,) = _Q.unpack_from(buf, off)
        (nv,) = _I.unpack_from(buf, off + 8)
        off += 12
        if nv < 0 or nv > len(buf) - off:
            # ReferenceCountedACLCache.deserialize: "missing acls"
            raise SnapshotFormatError(name, off - 4, f"bad ACL list length {nv}")
        lst = []
        for _ in range(nv):
            a, off = acl_dec(buf, off)
            lst.append(a)
        acls.append((acl_id, lst))
    return int(hdr.dbid), sessions, acls, off


def _decode_trailer(buf: Any, off: int, name: str) -> tuple[ZxidDigest | None, int | None]:
    """After the end-of-nodes marker: the seals, the digest and lastProcessedZxid if present."""
    off = _check_seal(buf, off, name)
    digest = None
    last = None
    if off < len(buf):
        digest, off = _read_digest(buf, off)
        off = _check_seal(buf, off, name)
        if off < len(buf):
            (last,) = _Q.unpack_from(buf, off)
            off = _check_seal(buf, off + 8, name)
    if off != len(buf):
        raise SnapshotFormatError(name, off, f"{len(buf) - off} unexpected trailing bytes")
    return digest, last


def load_snapshot_into(buf: bytes, tree: Any, zxid: int, name: str = "snapshot"
                       ) -> list[tuple[int, int]]:
    """decode_snapshot + load_tree in one pass, straight into Znodes (restart time: no
    intermediate records); verifies the same things. Returns the sessions."""
    from pyzk.tree.znode import Znode, with_child

    off = 0
    # A million new Znodes would trigger hundreds of collections, each walking the
    # growing heap; nothing created here is cyclic garbage.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        _, sessions, acls, off = _decode_head(buf, name)
        tree.clear_for_load()
        tree.acl_cache.load(acls)
        nodes = tree.nodes
        unpack_len = _I.unpack_from
        unpack_node = _NODE.unpack_from
        size = _NODE.size
        end = len(buf)
        # Parse first, index after: filling the dict in one go (dict.update over zip) costs
        # half of inserting while parsing, and siblings share one parent lookup.
        paths: list[str] = []
        made: list[Any] = []
        add_path, add_node = paths.append, made.append
        data_size = 0
        while True:
            (ln,) = unpack_len(buf, off)
            off += 4
            if ln < 0 or ln > _LIMIT or off + ln > end:
                raise SnapshotFormatError(name, off - 4, "null node path" if ln < 0
                                          else f"bad path length {ln}")
            path = buf[off:off + ln].decode("utf-8")
            off += ln
            if path == "/":
                break
            (dl,) = unpack_len(buf, off)
            off += 4
            if dl < 0:
                data = None
            else:
                if dl > _LIMIT or off + dl > end:
                    raise SnapshotFormatError(name, off - 4, f"bad data length {dl}")
                data = buf[off:off + dl]
                off += dl
                data_size += dl
            if off + size > end:
                raise SnapshotFormatError(name, off, "truncated DataNode")
            add_path(path or "/")
            add_node(Znode(data, *unpack_node(buf, off)))
            off += size
        digest, _ = _decode_trailer(buf, off, name)
        nodes.update(zip(paths, made, strict=True))
        last_parent_path = None
        parent = None
        for path in paths:
            data_size += len(path)
            if path == "/":
                continue
            slash = path.rfind("/")
            pp = path[:slash] or "/"
            if pp != last_parent_path:
                parent = nodes.get(pp)
                if parent is None:
                    raise ValueError(f"Invalid Datatree, unable to find parent {pp} of {path}")
                last_parent_path = pp
            parent.children = with_child(parent.children, path)  # type: ignore[union-attr]
    except (JuteError, struct.error, UnicodeDecodeError) as e:
        raise SnapshotFormatError(name, off, f"truncated or malformed: {e}") from None
    finally:
        if gc_was_on:
            gc.enable()
    if "/" not in nodes:
        raise ValueError("snapshot has no root node")
    tree.data_size += data_size
    tree.acl_cache.add_usages([z.acl for z in made])
    for path, z in zip(paths, made, strict=True):
        if z.ephemeral_owner:
            tree.link_owner(path, z.ephemeral_owner)
    tree.setup_quota()
    tree.acl_cache.purge_unused()
    tree.last_processed_zxid = zxid
    tree.snapshot_loaded(zip(paths, made, strict=True), digest, zxid)
    return sessions


def _check_seal(buf: Any, off: int, name: str) -> int:
    """SnapStream.checkSealIntegrity: long checksum of all bytes before it, then "/"."""
    expect = zlib.adler32(memoryview(buf)[:off])
    (val,) = _Q.unpack_from(buf, off)
    if bytes(buf[off + 8:off + 13]) != SEAL_TAIL:
        raise SnapshotFormatError(name, off + 8, "seal is not followed by '/'")
    if val != expect:
        raise SnapshotFormatError(name, off, "CRC corruption")
    return off + 13


def _read_digest(buf: Any, off: int) -> tuple[ZxidDigest, int]:
    """DataTree.ZxidDigest.deserialize: version < 2 stored the digest as a hex string."""
    zxid, ver = _DIGEST_HEAD.unpack_from(buf, off)
    off += 12
    if ver < 2:
        s, off = read_string(buf, off, _LIMIT)
        return ZxidDigest(zxid, ver, int(s, 16) if s else 0), off
    (d,) = _Q.unpack_from(buf, off)
    return ZxidDigest(zxid, ver, d), off + 8


# -- DataTree <-> snapshot ---------------------------------------------------------------------

class SnapshotView(NamedTuple):
    """What the event loop hands to the snapshot thread (FileTxnSnapLog.save's inputs).

    Taking it costs one dict.copy() of the node table (a C-level copy, atomic under the GIL,
    about 0.2 ms per 100k nodes; insertion order is parent-first because a parent always enters
    the dict before its children). The Znodes themselves stay live: the
    thread reads each node's fields once while the loop may change them, which is Java's fuzzy
    snapshot (DataTree.serializeNode). Replaying the log from `zxid` + 1 repairs any such node,
    because every txn carries its outcome (SetDataTxn.version, parentCVersion, ...).
    """

    zxid: int
    sessions: list[tuple[int, int]]
    nodes: dict[str, Any]
    acl_cache: Any
    # The trailer's ZxidDigest; a callable is asked once every node is written (None: no
    # digest trailer, as with digest.enabled=false).
    digest: ZxidDigest | Callable[[], ZxidDigest] | None


def capture(tree: Any, sessions: dict[int, int], digest: ZxidDigest | None = None) -> SnapshotView:
    """Run on the event loop: O(nodes) pointer copies, no serialization.

    The digest is the tree's last recorded one read after the nodes are written, as
    DataTree.serializeZxidDigest runs after serializeNodes: a fuzzy snapshot's digest is then
    for a zxid at least as new as anything the nodes show, and a restart compares it when
    replay reaches that zxid. Before any txn it is Java's "empty digest" (zxid 0)."""
    zxid = tree.last_processed_zxid
    view_digest: ZxidDigest | Callable[[], ZxidDigest] | None = digest
    if digest is None:
        history = getattr(tree, "digests", None)
        if not getattr(tree, "digest_enabled", True):
            view_digest = None
        elif history is not None:
            view_digest = history.snapshot_digest
        else:
            view_digest = ZxidDigest(0, DIGEST_VERSION, 0)
    return SnapshotView(zxid, list(sessions.items()), tree.nodes.copy(), tree.acl_cache,
                        view_digest)


def encode_view(view: SnapshotView) -> bytes:
    """Run in a worker thread: serialize a captured view to snapshot bytes."""
    return b"".join(encode_view_chunks(view))


def encode_view_chunks(view: SnapshotView, per_chunk: int = 2048,
                       pause: Callable[[], None] | None = None) -> list[bytes]:
    """encode_view as pieces of about `per_chunk` znode records, in file order.

    Joining 100k records at once is one C call holding the GIL for ~15 ms, a latency spike
    every client of the event loop sees; pieces of ~200 KB take a fraction of a millisecond
    each and the loop runs in between. The Adler-32 seal is accumulated piece by piece.
    `pause` runs after each piece (the caller's pacing: a sleep leaves the GIL to the loop).
    Nodes are encoded before the ACL map is copied so that every ACL id a node was seen with
    is (barring a concurrent last-reference drop, which replay repairs) in the map written.
    """
    pieces: list[bytes] = []
    out = bytearray()
    pack_int, pack_node = _I.pack, _NODE.pack
    in_piece = 0
    for path, node in view.nodes.items():
        # node_record's bytes, appended in place (a third less CPU than a bytes object per
        # node joined later). The data and the stat fields are read with no call in between,
        # so the loop thread cannot change the node between the two (the snapshot is fuzzy
        # across nodes, not within one).
        d = node.data
        stat = pack_node(node.acl, node.czxid, node.mzxid, node.ctime, node.mtime, node.version,
                         node.cversion, node.aversion, node.ephemeral_owner, node.pzxid)
        pb = b"" if path == "/" else path.encode("utf-8")  # the root is written as ""
        out += pack_int(len(pb))
        out += pb
        if d is None:
            out += pack_int(-1)
        else:
            out += pack_int(len(d))
            out += d
        out += stat
        in_piece += 1
        if in_piece >= per_chunk:
            pieces.append(bytes(out))
            out.clear()
            in_piece = 0
            if pause is not None:
                pause()
    pieces.append(bytes(out))
    head = bytes(encode_head(view.sessions, view.acl_cache.entries()))
    crc = zlib.adler32(head)
    for piece in pieces:
        crc = zlib.adler32(piece, crc)
    tail = bytearray()
    digest = view.digest() if callable(view.digest) else view.digest
    encode_tail(tail, digest, before=crc)
    return [head, *pieces, bytes(tail)]


def load_tree(snap: Snapshot, tree: Any, zxid: int) -> None:
    """DataTree.deserialize into a pyzk DataTree, then lastProcessedZxid = the file's zxid."""
    from pyzk.tree.znode import Znode

    tree.clear_for_load()
    tree.acl_cache.load(snap.acls)
    for n in snap.nodes:
        s = n.stat
        tree.add_node(n.path or "/", Znode(n.data, n.acl, s.czxid, s.mzxid, s.ctime, s.mtime,
                                           s.version, s.cversion, s.aversion, s.ephemeralOwner,
                                           s.pzxid))
    if "/" not in tree.nodes:
        raise ValueError("snapshot has no root node")
    tree.setup_quota()
    tree.acl_cache.purge_unused()
    tree.last_processed_zxid = zxid
