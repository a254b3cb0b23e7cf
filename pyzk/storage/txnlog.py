"""Transaction log codec: Java's exact bytes for log.<zxid> files, with no I/O.

Owns the FileHeader, the txn record for each txn type (SerializeUtils.deserializeTxn), the entry
frame (Adler32 long, buffer, 0x42 EOR; FileTxnLog.append + Util.writeTxnBytes), the scan of one
file's bytes that tells padding, a torn tail and corruption apart, and the snapshot trigger rule.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import construct as cs

from pyzk.protocol import records as r
from pyzk.protocol.jute import JuteError
from pyzk.protocol.opcodes import Op
from pyzk.storage.errors import LogFormatError

TXNLOG_MAGIC = 0x5A4B4C47  # "ZKLG" (FileTxnLog.TXNLOG_MAGIC)
VERSION = 2
EOR = 0x42  # 'B' (Util.writeTxnBytes)
LOG_PREFIX = "log"

# FileHeader as a construct declaration: read once per file, so the convenience costs nothing.
LOG_FILE_HEADER = cs.Struct("magic" / cs.Const(b"ZKLG"), "version" / cs.Int32sb,
                            "dbid" / cs.Int64sb)
LOG_HEADER_SIZE = 16

# BinaryInputArchive refuses a buffer longer than jute.maxbuffer + extra; a sane txn never is,
# and a larger length can only be a corrupted length field (FileTxnIterator.next -> IOException).
MAX_ENTRY = 0xFFFFF + 1024 + (1 << 20)

_ENTRY_HEAD = struct.Struct(">qi")
_ENTRY_PLACEHOLDER = bytes(_ENTRY_HEAD.size)
_DIGEST_SIZE = 12
_DIGEST = struct.Struct(">iq")  # TxnDigest{int version, long treeDigest}

# The record each logged txn type carries (SerializeUtils.deserializeTxn); `check` appears only
# inside a multi, but is decodable at top level too rather than aborting a whole replay.
TXN_RECORDS: dict[int, Any] = {
    Op.CREATE_SESSION: r.CreateSessionTxn,
    Op.CLOSE_SESSION: r.CloseSessionTxn,
    Op.CREATE: r.CreateTxn,
    Op.CREATE2: r.CreateTxn,
    Op.CREATE_TTL: r.CreateTTLTxn,
    Op.CREATE_CONTAINER: r.CreateContainerTxn,
    Op.DELETE: r.DeleteTxn,
    Op.DELETE_CONTAINER: r.DeleteTxn,
    Op.RECONFIG: r.SetDataTxn,
    Op.SET_DATA: r.SetDataTxn,
    Op.SET_ACL: r.SetACLTxn,
    Op.CHECK: r.CheckVersionTxn,
    Op.ERROR: r.ErrorTxn,
    Op.MULTI: r.MultiTxn,
}


class TxnEntry(NamedTuple):
    """One logged transaction: header, its record (None for a bodiless closeSession), digest."""

    hdr: Any
    txn: Any
    digest: Any = None


# -- records ----------------------------------------------------------------------------------

def serialize_txn(hdr: Any, txn: Any, digest: Any = None) -> bytes:
    """TxnHeader + txn record [+ TxnDigest] (Util.marshallTxnEntry)."""
    out = bytearray()
    r.TxnHeader.encode(hdr, out)
    if txn is not None:
        type(txn).encode(txn, out)
    if digest is not None:
        r.TxnDigest.encode(digest, out)
    return bytes(out)


def deserialize_txn(buf: Any) -> TxnEntry:
    """Inverse of serialize_txn, with Java's fallbacks for older entries.

    A `create` too short for CreateTxn is a CreateTxnV0 and becomes a CreateTxn with
    parentCVersion -1 (which asks DataTree to fix the parent up); a closeSession with no body
    predates CloseSessionTxn. A TxnDigest follows when bytes remain.
    """
    try:
        hdr, off = r.TxnHeader.decode(buf, 0)
    except JuteError as e:
        raise JuteError(f"txn header: {e}") from None
    cls = TXN_RECORDS.get(hdr.type)
    if cls is None:
        raise JuteError(f"Unsupported Txn with type={hdr.type}")
    txn: Any
    body = off
    try:
        txn, off = cls.decode(buf, body)
    except JuteError:
        if hdr.type == Op.CREATE:
            v0, off = r.CreateTxnV0.decode(buf, body)
            txn = r.CreateTxn(v0.path, v0.data, v0.acl, v0.ephemeral, -1)
        elif hdr.type == Op.CLOSE_SESSION:
            txn = None
        else:
            raise
    digest = None
    if len(buf) - off >= _DIGEST_SIZE:
        digest, off = r.TxnDigest.decode(buf, off)
    return TxnEntry(hdr, txn, digest)


def multi_subtxns(txn: Any) -> list[tuple[int, Any]]:
    """Decode the Txn{type, data} parts of a MultiTxn into (type, record) pairs."""
    out = []
    for part in txn.txns:
        cls = TXN_RECORDS.get(part.type)
        if cls is None:
            raise JuteError(f"Unsupported sub-txn type={part.type}")
        out.append((part.type, cls.from_bytes(part.data or b"")))
    return out


def make_multi_txn(parts: Sequence[tuple[int, Any]]) -> Any:
    """Build a MultiTxn from (type, record) pairs (PrepRequestProcessor's multi case)."""
    return r.MultiTxn([r.Txn(t, type(rec).to_bytes(rec)) for t, rec in parts])


# -- entry frame and file header --------------------------------------------------------------

def encode_entry(payload: bytes) -> bytes:
    """long Adler32 + buffer + EOR: exactly what FileTxnLog.append writes per txn."""
    return _ENTRY_HEAD.pack(zlib.adler32(payload), len(payload)) + payload + b"B"


def append_entry(out: bytearray, hdr: Any, txn: Any, digest: Any = None) -> int:
    """encode_txn_entry(hdr, txn, digest) appended to `out` in place (no intermediate
    copies); returns the entry's length."""
    start = len(out)
    out += _ENTRY_PLACEHOLDER
    r.TxnHeader.encode(hdr, out)
    if txn is not None:
        type(txn).encode(txn, out)
    if digest is not None:
        out += _DIGEST.pack(digest[0], digest[1])  # r.TxnDigest.encode, without the dispatch
    end = len(out)
    with memoryview(out) as view:  # released before `out` grows again
        crc = zlib.adler32(view[start + 12:end])
    _ENTRY_HEAD.pack_into(out, start, crc, end - start - 12)
    out += b"B"
    return end + 1 - start


def encode_txn_entry(hdr: Any, txn: Any, digest: Any = None) -> bytes:
    return encode_entry(serialize_txn(hdr, txn, digest))


def encode_log_header(dbid: int = 0) -> bytes:
    return bytes(LOG_FILE_HEADER.build({"version": VERSION, "dbid": dbid}))


def decode_log_header(buf: Any, name: str = "log") -> Any:
    if len(buf) < LOG_HEADER_SIZE:
        raise LogFormatError(name, 0, "file too short for a FileHeader")
    try:
        return LOG_FILE_HEADER.parse(bytes(buf[:LOG_HEADER_SIZE]))
    except cs.ConstructError:
        (magic,) = struct.unpack_from(">i", buf, 0)
        raise LogFormatError(name, 0, f"invalid magic number {magic} != {TXNLOG_MAGIC}") from None


class LogScan(NamedTuple):
    """What one log file holds: entries as (offset, payload bytes), where reading stopped, and
    why it stopped if not cleanly (a torn tail, which Java also drops: Util.readTxnBytes)."""

    dbid: int
    entries: list[tuple[int, bytes]]
    end: int
    torn: str | None


def scan_log(buf: Any, name: str = "log") -> LogScan:
    """Split a whole log file into entry payloads, verifying each checksum.

    Stops at a zero length (preallocated padding) or the end of the bytes. An entry cut short or
    lacking its EOR is a torn write: reading stops there, as Java's iterator does, but only if
    nothing but zeros follows it; otherwise acknowledged txns would silently vanish, so this
    raises LogFormatError, as it does for a bad checksum or an impossible length.
    """
    if not isinstance(buf, bytes):
        buf = bytes(buf)
    if len(buf) < LOG_HEADER_SIZE and encode_log_header()[:len(buf)] == buf:
        # A crash between creating the file and writing its header: the header goes first, so
        # the file never held a txn (and no reply depended on it).
        return LogScan(0, [], len(buf), f"no complete file header ({len(buf)} bytes)")
    hdr = decode_log_header(buf, name)
    entries: list[tuple[int, bytes]] = []
    off = LOG_HEADER_SIZE
    size = len(buf)
    while True:
        if size - off < 12:
            torn = None if _zeros(buf, off) else f"partial entry header at offset {off}"
            return LogScan(hdr.dbid, entries, off, torn)
        crc, n = _ENTRY_HEAD.unpack_from(buf, off)
        if n == 0:
            # Preallocated zeros: the end of the log (FileTxnIterator.next treats it as EOF).
            # A checksum without its length is a torn header; anything after it is not.
            if not _zeros(buf, off + 12):
                raise LogFormatError(name, off, "zero-length entry followed by data")
            torn = f"partial entry header at offset {off}" if crc else None
            return LogScan(hdr.dbid, entries, off, torn)
        if n < 0 or n > MAX_ENTRY:
            raise LogFormatError(name, off, f"unreasonable entry length {n}")
        end = off + 12 + n
        if end >= size or buf[end] != EOR:
            # Torn write: the last entry did not fully reach the disk.
            if end + 1 < size and not _zeros(buf, end + 1):
                raise LogFormatError(
                    name, off, "entry is partial (no EOR byte) but data follows it")
            return LogScan(hdr.dbid, entries, off, f"last transaction was partial at offset {off}")
        payload = bytes(buf[off + 12:end])
        if zlib.adler32(payload) != crc:
            raise LogFormatError(name, off, "CRC check failed")
        entries.append((off, payload))
        off = end + 1


def split_entries(buf: bytes, base: int, name: str = "log") -> list[tuple[int, bytes]]:
    """The entries of a byte range holding only whole entries (what a writer just flushed),
    as (file offset, payload), checksums verified; anything else raises LogFormatError."""
    out: list[tuple[int, bytes]] = []
    off, size = 0, len(buf)
    while off < size:
        if size - off < 12:
            raise LogFormatError(name, base + off, "partial entry header")
        crc, n = _ENTRY_HEAD.unpack_from(buf, off)
        end = off + 12 + n
        if n <= 0 or n > MAX_ENTRY or end >= size or buf[end] != EOR:
            raise LogFormatError(name, base + off, "not a whole entry")
        payload = bytes(buf[off + 12:end])
        if zlib.adler32(payload) != crc:
            raise LogFormatError(name, base + off, "CRC check failed")
        out.append((base + off, payload))
        off = end + 1
    return out


def _zeros(buf: bytes, off: int) -> bool:
    """Only zero bytes from off on (bytes.count runs in C and copies nothing)."""
    return off >= len(buf) or buf.count(b"\0", off) == len(buf) - off


def iter_entries(scan: LogScan, name: str = "log") -> Iterator[tuple[int, TxnEntry]]:
    """Decode a scan's payloads; a payload that passed its CRC but does not parse is corrupt."""
    for off, payload in scan.entries:
        try:
            yield off, deserialize_txn(payload)
        except JuteError as e:
            raise LogFormatError(name, off, f"undecodable txn: {e}") from None


# -- Java's padding and snapshot-trigger arithmetic --------------------------------------------

def padded_size(position: int, file_size: int, prealloc: int) -> int:
    """FilePadding.calculateFileSizeWithPadding: grow by a block when within 4 KiB of the end."""
    if prealloc > 0 and position + 4096 >= file_size:
        if position > file_size:
            file_size = position + prealloc
            file_size -= file_size % prealloc
        else:
            file_size += prealloc
    return file_size


class SnapshotTrigger:
    """SyncRequestProcessor.shouldSnapshot/resetSnapshotStats: snapshot after snapCount/2 plus a
    random roll of txns (or half the size limit plus a random amount of bytes), so the servers of
    an ensemble do not all snapshot at once. `rng` is any object with randrange (no global)."""

    def __init__(self, snap_count: int, snap_size_bytes: int, rng: Any) -> None:
        self.snap_count = max(2, snap_count)  # ZooKeeperServer.getSnapCount floors it at 2
        self.snap_size = snap_size_bytes
        self.rng = rng
        self.rand_roll = 0
        self.rand_size = 0
        self.reset()

    def reset(self) -> None:
        self.rand_roll = self.rng.randrange(self.snap_count // 2)
        half = self.snap_size // 2
        self.rand_size = self.rng.randrange(half) if half > 0 else 0

    def should_snapshot(self, txn_count: int, log_bytes: int) -> bool:
        return (txn_count > self.snap_count // 2 + self.rand_roll
                or (self.snap_size > 0 and log_bytes > self.snap_size // 2 + self.rand_size))
