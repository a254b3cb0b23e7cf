"""The data directory: version-2 layout, myid, epoch files, snapshot files, purge.

Mirrors FileTxnSnapLog (dataDir/dataLogDir + "version-2", the checks that the two hold only
their own files), FileSnap (snapshot names, newest-valid search), QuorumPeer's
acceptedEpoch/currentEpoch (decimal text written atomically like AtomicFileOutputStream),
and PurgeTxnLog (keep N snapshots and the logs their recovery needs); DirLock keeps a second
server off a directory in use (pyzk only: Java does not lock).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from . import snapshot as snapcodec
from . import snapstream
from .logfile import logs_from, sorted_logs, zxid_from_name

log = logging.getLogger("pyzk.storage")

VERSION_DIR = "version-2"
ACCEPTED_EPOCH = "acceptedEpoch"
CURRENT_EPOCH = "currentEpoch"
MAX_SNAPSHOTS_TRIED = 100  # FileSnap.deserialize looks at most at 100 snapshots


# Written before a SNAP sync's snapshot, removed once currentEpoch follows it (ZooKeeper 3.4's
# updatingEpoch in the snapshot dir; 3.8 has no such file and ignores it).
UPDATING_EPOCH = "updatingEpoch"


class DataDirError(OSError):
    """A data directory pyzk must not use as it is (Java's DatadirException and friends)."""


def snapshot_name(zxid: int, compression: str = "") -> str:
    """Util.makeSnapshotName: snapshot.<hex zxid> plus the stream mode's extension."""
    return f"snapshot.{zxid:x}{snapstream.extension(compression)}"


def atomic_write(path: Path, data: bytes | Iterable[bytes], fsync: bool = True) -> None:
    """AtomicFileOutputStream: write <name>.tmp, fsync it, rename over <name>. `data` may
    come in pieces (a snapshot's chunks: no one big copy holding the GIL).

    The directory is fsynced too so the rename itself survives a crash.
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for piece in ((data,) if isinstance(data, (bytes, bytearray)) else data):
            view = memoryview(piece)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if fsync:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _mkdir_durable(d: Path) -> None:
    """mkdir -p, then fsync the parent of every directory it created: a new directory's entry
    is durable only once its parent is synced (without it, a power cut can take version-2/
    and every fsynced log in it away; found by tests/durability/test_powercut.py)."""
    first = d
    while not first.parent.exists() and first.parent != first:
        first = first.parent
    d.mkdir(parents=True, exist_ok=True)
    p = d
    while True:
        try:
            fd = os.open(p.parent, os.O_RDONLY)
        except OSError:  # an unreadable parent: the directory exists, as before
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if p == first:
            break
        p = p.parent


class DataDir:
    """dataDir (snapshots, myid, epochs) and dataLogDir (txn logs), each with version-2/."""

    def __init__(self, data_dir: Path | str, data_log_dir: Path | str | None = None,
                 autocreate: bool = True, compression: str = "") -> None:
        # The stream mode new snapshots are written in (snapshot.compression.method): "", "gz"
        # or "snappy". Snapshots of every mode are read whatever it is.
        self.compression = compression
        self.root = Path(data_dir)
        self.log_root = Path(data_log_dir) if data_log_dir else self.root
        self.snap_dir = self.root / VERSION_DIR
        self.log_dir = self.log_root / VERSION_DIR
        for d in (self.log_dir, self.snap_dir):
            if not d.exists():
                if not autocreate:
                    raise DataDirError(f"Missing data directory {d}, automatic data directory "
                                       "creation is disabled")
                try:
                    _mkdir_durable(d)
                except OSError as e:  # read-only, under a file, under /proc, no permission
                    raise DataDirError(f"cannot create {d}: {e.strerror or e}") from None
            if not os.access(d, os.W_OK):
                raise DataDirError(f"Cannot write to data directory {d}")
        if self.snap_dir.resolve() != self.log_dir.resolve():
            # ZOOKEEPER-2967: refuse swapped dataDir/dataLogDir settings.
            if any(n.startswith("snapshot.") for n in os.listdir(self.log_dir)):
                raise DataDirError("Log directory has snapshot files. Check if dataLogDir and "
                                   "dataDir configuration is correct.")
            if any(n.startswith("log.") for n in os.listdir(self.snap_dir)):
                raise DataDirError("Snapshot directory has log files. Check if dataLogDir and "
                                   "dataDir configuration is correct.")

    def lock(self) -> DirLock:
        """Lock dataDir and dataLogDir against a second server (held until release())."""
        return DirLock([self.root, self.log_root])

    # -- myid and epochs --------------------------------------------------------------------
    def read_myid(self) -> int | None:
        """QuorumPeerConfig: the first line of dataDir/myid, as a long."""
        path = self.root / "myid"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        line = text.splitlines()[0].strip() if text else ""
        try:
            return int(line)
        except ValueError:
            raise DataDirError(f"serverid {line} is not a number") from None

    def write_myid(self, sid: int) -> None:
        atomic_write(self.root / "myid", f"{sid}\n".encode())

    def read_epoch(self, name: str) -> int | None:
        """QuorumPeer.readLongFromFile (None when the file does not exist yet)."""
        path = self.snap_dir / name
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        line = text.split("\n", 1)[0].rstrip("\r")
        try:
            return int(line)
        except ValueError:
            raise DataDirError(f"Found {line} in {path}") from None

    def write_epoch(self, name: str, value: int) -> None:
        """QuorumPeer.writeLongToFile: Long.toString, no newline, atomic."""
        atomic_write(self.snap_dir / name, str(value).encode())

    def remove_epoch(self, name: str) -> None:
        """Delete an epoch file if present (the updatingEpoch marker once its work is done)."""
        (self.snap_dir / name).unlink(missing_ok=True)

    # -- snapshots ----------------------------------------------------------------------------
    def snapshots(self) -> list[tuple[int, Path]]:
        """(zxid, path) of snapshot files, ascending; .tmp leftovers are not snapshots."""
        out = []
        for n in os.listdir(self.snap_dir):
            if n.startswith("snapshot.") and not n.endswith(".tmp"):
                z = zxid_from_name(n, "snapshot")
                if z >= 0:
                    out.append((z, self.snap_dir / n))
        out.sort()
        return out

    def valid_snapshots(self, n: int = MAX_SNAPSHOTS_TRIED) -> list[tuple[int, Path]]:
        """FileSnap.findNValidSnapshots: newest first, those whose tail looks sealed."""
        out = []
        for z, p in reversed(self.snapshots()):
            try:
                ok = _tail_ok(p)
            except OSError as e:
                log.warning("invalid snapshot %s: %s", p, e)
                continue
            if ok:
                out.append((z, p))
                if len(out) == n:
                    break
        return out

    def write_snapshot(self, zxid: int, data: bytes, fsync: bool = True) -> Path:
        """Write an encoded (uncompressed) snapshot stream in this directory's stream mode."""
        path = self.snap_dir / snapshot_name(zxid, self.compression)
        atomic_write(path, snapstream.compress(self.compression, data), fsync)
        return path

    def save_snapshot(self, view: snapcodec.SnapshotView, fsync: bool = True,
                      pause: Callable[[], None] | None = None, per_chunk: int = 2048) -> Path:
        """Serialize a view captured on the event loop and write it; run in a worker thread."""
        path = self.snap_dir / snapshot_name(view.zxid, self.compression)
        chunks = snapcodec.encode_view_chunks(view, per_chunk, pause)
        atomic_write(path, snapstream.compress_chunks(self.compression, chunks), fsync)
        return path

    @staticmethod
    def read_snapshot(path: Path) -> snapcodec.Snapshot:
        raw = snapcodec.maybe_decompress(path.read_bytes(), str(path))
        return snapcodec.decode_snapshot(raw, str(path))

    # -- logs ---------------------------------------------------------------------------------
    def logs(self) -> list[tuple[int, Path]]:
        return [(zxid_from_name(p.name, "log"), p) for p in sorted_logs(self.log_dir)]

    # -- purge --------------------------------------------------------------------------------
    def purge(self, retain: int) -> list[Path]:
        """PurgeTxnLog.purge: keep the newest `retain` (>= 3) valid snapshots, the log that
        starts at or before the oldest of them and all later logs; delete older files."""
        if retain < 3:
            raise ValueError("count should be greater than or equal to 3")
        snaps = self.valid_snapshots(retain)
        if not snaps:
            return []
        least = snaps[-1][0]
        keep_logs = set(logs_from(self.log_dir, least))
        doomed = [p for z, p in self.logs() if z < least and p not in keep_logs]
        doomed += [p for z, p in self.snapshots() if z < least]
        for p in doomed:
            log.info("Removing file: %s", p)
            try:
                p.unlink()
            except OSError as e:
                log.warning("Failed to remove %s: %s", p, e)
        return doomed


class DirLock:
    """Advisory locks (flock) that keep a second server off a dataDir/dataLogDir.

    Java ZooKeeper does not lock its directories: two servers started on one dataDir both read
    it and then write interleaved logs. pyzk holds `pyzk.lock` (LOCK_FILE, in the directory's
    root, next to myid and outside version-2, where Java and the tools never look) locked for
    the whole life of the server and writes its PID into it. The kernel drops the lock when the
    process ends, even after kill -9, so a stale file is harmless.
    """

    def __init__(self, roots: Iterable[Path]) -> None:
        self.fds: list[int] = []
        seen: set[Path] = set()
        try:
            for root in roots:
                key = root.resolve()
                if key in seen:
                    continue
                seen.add(key)
                self.fds.append(_lock_dir(root))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)  # closing the descriptor drops the flock
        self.fds = []


LOCK_FILE = "pyzk.lock"


def _lock_dir(root: Path) -> int:
    import fcntl

    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise DataDirError(f"cannot create the lock file {path}: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            holder = ""
        os.close(fd)
        who = f"pid {holder}" if holder.isdigit() else "another process"
        raise DataDirError(f"{root} is in use by another pyzk server ({who} holds {path}); "
                           "stop it or give this server its own dataDir") from None
    except OSError as e:
        os.close(fd)
        raise DataDirError(f"cannot lock {path}: {e.strerror or e}") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the PID is only a courtesy for the next server's message
    return fd


def _tail_ok(path: Path) -> bool:
    """SnapStream.isValidSnapshot: a compressed file by its magic, else by its seal's tail."""
    mode = snapstream.mode_of_file(path.name)
    if mode != snapstream.CHECKED:
        with open(path, "rb") as f:
            return snapstream.has_valid_start(mode, f.read(16))
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size < 10:
            return False
        f.seek(size - 5)
        return f.read(5) == snapcodec.SEAL_TAIL
