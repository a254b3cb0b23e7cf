"""Transaction log files on disk: the group-commit writer and the reader across files.

TxnLogWriter.append runs on the event loop (serialize into a pending buffer, no I/O); flush runs
in an executor thread and does the I/O of FileTxnLog.append/commit: open log.<hex zxid>, header,
FilePadding preallocation, write, fdatasync. Many appends, one fsync. Reading mirrors
FileTxnLog.getLogFiles + FileTxnIterator, with the checks of txnlog.scan_log.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..protocol.jute import JuteError
from . import txnlog
from .errors import LogFormatError
from .txnlog import TxnEntry

log = logging.getLogger("pyzk.storage")

DEFAULT_PREALLOC = 64 * 1024 * 1024  # FilePadding.preAllocSize: 65536 KB


def log_name(zxid: int) -> str:
    """Util.makeLogName: lower-case hex, no padding."""
    return f"log.{zxid:x}"


def zxid_from_name(name: str, prefix: str) -> int:
    """Util.getZxidFromName: -1 unless `prefix.<hex>[.<anything>]`."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == prefix:
        try:
            return int(parts[1], 16)
        except ValueError:
            return -1
    return -1


def sorted_logs(log_dir: Path) -> list[Path]:
    """All log.<zxid> files of a version-2 directory, ascending by zxid."""
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    found = [(zxid_from_name(n, "log"), n) for n in names if n.startswith("log.")]
    return [log_dir / n for z, n in sorted(found) if z >= 0]


def logs_from(log_dir: Path, zxid: int) -> list[Path]:
    """FileTxnLog.getLogFiles: the newest log starting at or before zxid, and all later ones."""
    files = sorted_logs(log_dir)
    start = 0
    for f in files:
        fz = zxid_from_name(f.name, "log")
        if fz > zxid:
            break
        start = max(start, fz)
    return [f for f in files if zxid_from_name(f.name, "log") >= start]


def read_log_file(path: Path) -> txnlog.LogScan:
    return txnlog.scan_log(path.read_bytes(), str(path))


def iter_log(log_dir: Path, from_zxid: int = 0) -> Iterator[tuple[Path, int, TxnEntry]]:
    """Every logged txn with zxid >= from_zxid, in file order, as (file, offset, entry).

    A torn tail is logged and skipped (Java moves on to the next file too); whether that left
    a hole is for the caller to judge from the zxids (recovery.replay does).
    """
    for path in logs_from(log_dir, from_zxid):
        scan = read_log_file(path)
        for off, entry in txnlog.iter_entries(scan, str(path)):
            if entry.hdr.zxid >= from_zxid:
                yield path, off, entry
        if scan.torn:
            log.warning("%s: %s; ignoring the rest of this file", path, scan.torn)


def last_logged_zxid(log_dir: Path) -> int:
    """FileTxnLog.getLastLoggedZxid: scan the newest log for its last txn, -1 if no logs."""
    files = sorted_logs(log_dir)
    if not files:
        return -1
    zxid = zxid_from_name(files[-1].name, "log")
    for _, _, entry in iter_log(log_dir, zxid):
        zxid = entry.hdr.zxid
    return zxid


def truncate_log(log_dir: Path, zxid: int) -> None:
    """FileTxnLog.truncate: keep txns <= zxid; cut the file holding the next one, delete later
    files (a follower's TRUNC). The file then simply ends there, as Java leaves it."""
    files = logs_from(log_dir, zxid)
    if not files:
        raise FileNotFoundError(f"No log files found to truncate in {log_dir}")
    for i, path in enumerate(files):
        scan = read_log_file(path)
        cut = None
        for off, entry in txnlog.iter_entries(scan, str(path)):
            if entry.hdr.zxid > zxid:
                cut = off
                break
        if cut is not None:
            with open(path, "r+b") as f:
                f.truncate(cut)
            for later in files[i + 1:]:
                later.unlink()
            return


class _Chunk:
    __slots__ = ("new_file", "first_zxid", "data")

    def __init__(self, new_file: int | None, first_zxid: int) -> None:
        self.new_file = new_file  # zxid naming a new file to open before writing data
        self.first_zxid = first_zxid
        self.data = bytearray()


class _Written:
    """Where one run of flushed txns sits: the zxid of its first txn, its file and byte range."""

    __slots__ = ("first_zxid", "path", "start", "end")

    def __init__(self, first_zxid: int, path: Path, start: int, end: int) -> None:
        self.first_zxid, self.path, self.start, self.end = first_zxid, path, start, end


# How many runs of flushed txns the writer remembers (contiguous flushes to one file merge
# into one run, so this is mostly files, not flushes).
_WRITTEN_RUNS = 64


class TxnLogWriter:
    """Append-only writer of a version-2 log directory with group commit.

    append/roll are called from one thread (the event loop); flush/close from one other
    (an executor). A lock only guards the hand-over of the pending buffers.
    """

    def __init__(self, log_dir: Path, prealloc: int = DEFAULT_PREALLOC, dbid: int = 0,
                 size_limit: int = -1) -> None:
        self.log_dir = Path(log_dir)
        self.prealloc = prealloc
        # txnLogSizeLimitInKb in bytes (<= 0: off). FileTxnLog.commit rolls the log once the
        # file's length on disk, preallocation included, is over it.
        self.size_limit = size_limit
        self.dbid = dbid
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._pending: list[_Chunk] = []
        self._need_file = True  # Java opens a fresh file on the first append after start
        self.last_zxid_seen = 0
        # Counters for the snapshot trigger (ZKDatabase.txnCount / getTxnSize), reset by roll().
        self.txn_count = 0
        self.bytes_since_roll = 0
        # I/O state, touched only under _io_lock.
        self._fd: int | None = None
        self._pos = 0
        self._size = 0
        self.current_file: Path | None = None
        # What this writer flushed, so that a learner's fast-forward before an election reads
        # only its last few txns instead of the whole preallocated file (logged_after).
        self._written: deque[_Written] = deque(maxlen=_WRITTEN_RUNS)

    # -- event-loop side -----------------------------------------------------------------------
    def append(self, hdr: Any, txn: Any, digest: Any = None) -> None:
        self.append_serialized(hdr, txnlog.serialize_txn(hdr, txn, digest))

    def append_serialized(self, hdr: Any, body: bytes) -> None:
        """append() of an already serialized txn (a quorum PROPOSAL's data is exactly the
        entry body, SerializeUtils.serializeRequest): the txn is encoded once."""
        entry = txnlog.encode_entry(body)
        if hdr.zxid <= self.last_zxid_seen:
            log.warning("Current zxid %d is <= %d for type %d", hdr.zxid, self.last_zxid_seen,
                        hdr.type)
        else:
            self.last_zxid_seen = hdr.zxid
        with self._lock:
            if self._need_file or not self._pending:
                self._pending.append(_Chunk(hdr.zxid if self._need_file else None, hdr.zxid))
                self._need_file = False
            self._pending[-1].data += entry
        self.txn_count += 1
        self.bytes_since_roll += len(entry)

    def append_batch(self, txns: list[tuple[Any, Any, Any, Any]]) -> None:
        """append(hdr, txn, digest) of each (hdr, txn, digest, _) in order, serialized
        straight into the pending buffer under one lock hold."""
        count = size = 0
        last = self.last_zxid_seen
        add = txnlog.append_entry
        with self._lock:
            if self._need_file or not self._pending:
                self._pending.append(_Chunk(self._next_file_zxid(txns[0][0]), txns[0][0].zxid))
            data = self._pending[-1].data
            for hdr, txn, digest, _ in txns:
                if hdr.zxid <= last:
                    log.warning("Current zxid %d is <= %d for type %d", hdr.zxid, last,
                                hdr.type)
                else:
                    last = hdr.zxid
                size += add(data, hdr, txn, digest)
                count += 1
        self.last_zxid_seen = last
        self.txn_count += count
        self.bytes_since_roll += size

    def _next_file_zxid(self, hdr: Any) -> int | None:
        """The zxid naming the file a new chunk opens (None: keep writing the open file)."""
        if self._need_file:
            self._need_file = False
            return int(hdr.zxid)
        return None

    def roll(self) -> None:
        """FileTxnLog.rollLog: the next append starts a new file."""
        with self._lock:
            self._need_file = True
        self.txn_count = 0
        self.bytes_since_roll = 0

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    # -- executor side -------------------------------------------------------------------------
    def flush(self, fsync: bool = True) -> int:
        """Write everything appended so far, then fdatasync (FileTxnLog.commit). Blocking.

        Returns the number of bytes written. Files left behind by a roll are synced before
        being closed, so a completed flush means every appended txn is durable.
        """
        with self._io_lock:
            with self._lock:
                chunks, self._pending = self._pending, []
            written = 0
            for chunk in chunks:
                if chunk.new_file is not None:
                    self._open(chunk.new_file, fsync)
                if self._fd is None:
                    raise RuntimeError("txn log chunk without an open file")
                self._pad()
                _pwrite_all(self._fd, chunk.data, self._pos)
                self._remember(chunk.first_zxid, self._pos, self._pos + len(chunk.data))
                self._pos += len(chunk.data)
                written += len(chunk.data)
            if fsync and self._fd is not None and written:
                os.fdatasync(self._fd)
            if 0 < self.size_limit < max(self._size, self._pos) and written:
                log.debug("Log size limit reached: %d", max(self._size, self._pos))
                with self._lock:  # the next append opens a new file; counters stay
                    self._need_file = True
            return written

    def _remember(self, first_zxid: int, start: int, end: int) -> None:
        if not end > start or self.current_file is None:
            return
        last = self._written[-1] if self._written else None
        if last is not None and last.path == self.current_file and last.end == start:
            last.end = end
        else:
            self._written.append(_Written(first_zxid, self.current_file, start, end))

    def logged_after(self, zxid: int) -> list[TxnEntry] | None:
        """The txns this writer flushed with a zxid above `zxid`, read back from the disk
        (from their byte ranges only), or None when it cannot tell: the txn after `zxid` may
        have been logged before this writer's memory begins, so the caller reads the files."""
        with self._io_lock:
            runs = list(self._written)
        start = None
        for i, run in enumerate(runs):
            if run.first_zxid <= zxid + 1:
                start = i
        if start is None:
            return None
        out: list[TxnEntry] = []
        prev = zxid
        try:
            for run in runs[start:]:
                with open(run.path, "rb") as f:
                    f.seek(run.start)
                    buf = f.read(run.end - run.start)
                for _, payload in txnlog.split_entries(buf, run.start, str(run.path)):
                    entry = txnlog.deserialize_txn(payload)
                    z = entry.hdr.zxid
                    if z <= zxid:
                        continue
                    if z <= prev:
                        return None  # not one ascending history: let the full reader judge
                    out.append(entry)
                    prev = z
        except (OSError, LogFormatError, JuteError):
            return None
        return out

    def _open(self, zxid: int, fsync: bool) -> None:
        self._close_fd(fsync)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / log_name(zxid)
        log.info("Creating new log file: %s", path.name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        header = txnlog.encode_log_header(self.dbid)
        _pwrite_all(fd, header, 0)
        self._fd, self._pos, self._size = fd, len(header), len(header)
        self.current_file = path
        if fsync:
            # The new name must survive a crash along with the data written into it.
            _fsync_dir(self.log_dir)

    def _pad(self) -> None:
        assert self._fd is not None
        new_size = txnlog.padded_size(self._pos, self._size, self.prealloc)
        if new_size != self._size:
            # Like FilePadding.padFile: one zero byte at the new end extends the file.
            os.pwrite(self._fd, b"\0", new_size - 1)
            self._size = new_size

    def _close_fd(self, fsync: bool) -> None:
        if self._fd is not None:
            if fsync:
                os.fdatasync(self._fd)
            os.close(self._fd)
            self._fd = None

    def close(self, fsync: bool = True) -> None:
        self.flush(fsync)
        with self._io_lock:
            self._close_fd(False)


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, pos: int) -> None:
    """pwrite every byte or raise: a nearly full file system (tmpfs, for one) answers with a
    short count instead of ENOSPC, and a txn acknowledged after a short write would be torn on
    disk. Java's FileChannel writes loop the same way until done or an IOException."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, pos)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]
        pos += n


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["TxnLogWriter", "LogFormatError", "iter_log", "logs_from", "sorted_logs",
           "read_log_file", "last_logged_zxid", "truncate_log", "log_name", "zxid_from_name"]
