"""Power-cut test mode: record what reached stable storage, and cut every file back to it.

kill -9 keeps the page cache, so it cannot show a missing fsync. In this mode a server records,
at every fsync/fdatasync it makes, what that call made durable, in a journal directory named by
the environment variable PYZK_TEST_POWERCUT_DIR:

- fsync/fdatasync of a regular file: its whole content (data extents, sparse) at that moment,
  keyed by inode (a file renamed later keeps its durable content);
- fsync of a directory: its entries (name -> inode, file or directory) at that moment.

`cut(journal, roots)`, run by a test after SIGKILLing every server using `roots`, then rewinds
each root to its last durable state, as a power loss on a strict POSIX file system could leave
it: an entry whose creation or rename was never made durable by an fsync of its directory
disappears (a directory never fsynced keeps only what `baseline` saw), an entry removed or
renamed over since its directory's last fsync comes back, and every file has exactly the
content of its last fsync (empty if it never had one). `baseline(journal, roots)` records the
starting state (what the test set up before "power on"), and `cut` re-records the rewound state
as the new baseline, so a server can run and lose power again.

Off unless PYZK_TEST_POWERCUT_DIR is set when pyzk.storage is first imported (one environment
lookup); when set, os.fsync and os.fdatasync are wrapped in that process. Model limits: no torn
writes (a file's unsynced writes are lost whole), and an inode number reused by a new file within
one run could lend it the old file's durable content if the new file is never fsynced itself.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ENV = "PYZK_TEST_POWERCUT_DIR"
_lock = threading.Lock()
_journal: Path | None = None
_real_fsync = os.fsync
_real_fdatasync = os.fdatasync
_seq = 0
_committed: dict[str, int] = {}


def install(journal: str | os.PathLike[str]) -> None:
    """Wrap os.fsync/os.fdatasync in this process so that each records what it made durable."""
    global _journal
    _journal = Path(journal)
    (_journal / "files").mkdir(parents=True, exist_ok=True)
    (_journal / "dirs").mkdir(parents=True, exist_ok=True)
    os.fsync = _wrap(_real_fsync)  # type: ignore[assignment]
    os.fdatasync = _wrap(_real_fdatasync)  # type: ignore[assignment]


def _wrap(real: Callable[[int], None]) -> Callable[[Any], None]:
    def recording(fd: Any) -> None:
        global _seq
        fd = fd if isinstance(fd, int) else fd.fileno()
        # Captured before the real call: everything read now is made durable by it.
        with _lock:
            _seq += 1
            seq = _seq
        try:
            captured = _capture_fd(fd)
        except OSError:
            captured = None
        real(fd)
        if captured is not None and _journal is not None:
            key = str(captured[1]) if captured[0] == "dir" else _file_key(captured[1])
            with _lock:
                # Two threads syncing one file: the later capture wins whatever the order
                # the calls return in.
                if _committed.get(key, 0) < seq:
                    _committed[key] = seq
                    _commit(_journal, captured)
    return recording


# -- capture and store -------------------------------------------------------------------------
def _file_key(st: os.stat_result) -> str:
    return f"{st.st_dev}-{st.st_ino}"


def _dir_key(path: Path) -> str:
    return str(path.resolve()).replace("%", "%25").replace("/", "%2F")


def _extents(fd: int, size: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    off = 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError:  # ENXIO: no data past off
            break
        end = min(end, size)
        pos = start
        while pos < end:
            chunk = os.pread(fd, min(end - pos, 1 << 20), pos)
            if not chunk:
                break
            out.append((pos, chunk))
            pos += len(chunk)
        off = end
    return out


def _capture_fd(fd: int) -> tuple[str, Any, Any] | None:
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        return ("dir", path, _listing(path))
    if stat.S_ISREG(st.st_mode):
        # A private descriptor: lseek(SEEK_DATA) must not move the caller's file offset.
        dup = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
        try:
            return ("file", st, (st.st_size, _extents(dup, st.st_size)))
        finally:
            os.close(dup)
    return None


def _listing(path: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    with os.scandir(path) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                out[e.name] = [e.inode(), "d"]
            elif e.is_file(follow_symlinks=False):
                out[e.name] = [e.inode(), "f"]
    return out


def _replace(path: Path, write: Callable[[int], None]) -> None:
    tmp = path.with_name(path.name + f".tmp{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_content(fd: int, size: int, extents: list[tuple[int, bytes]]) -> None:
    os.ftruncate(fd, size)
    for off, data in extents:
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, off)
            view, off = view[n:], off + n


def _commit(journal: Path, captured: tuple[str, Any, Any]) -> None:
    kind, a, b = captured
    if kind == "dir":
        data = json.dumps({"path": str(a), "entries": b}).encode()
        _replace(journal / "dirs" / _dir_key(a), lambda fd: _write_all(fd, data))
    else:
        size, extents = b
        _replace(journal / "files" / _file_key(a),
                 lambda fd: _write_content(fd, size, extents))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# -- the harness side --------------------------------------------------------------------------
def baseline(journal: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> None:
    """Record every directory and file under `roots` as durable (the state before power-on)."""
    j = Path(journal)
    (j / "files").mkdir(parents=True, exist_ok=True)
    (j / "dirs").mkdir(parents=True, exist_ok=True)
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            d = Path(dirpath)
            _commit(j, ("dir", d, _listing(d)))
            for name in files:
                p = d / name
                fd = os.open(p, os.O_RDONLY)
                try:
                    st = os.fstat(fd)
                    _commit(j, ("file", st, (st.st_size, _extents(fd, st.st_size))))
                finally:
                    os.close(fd)


def _load_dir(journal: Path, path: Path) -> dict[str, list[Any]] | None:
    try:
        return dict(json.loads((journal / "dirs" / _dir_key(path)).read_bytes())["entries"])
    except FileNotFoundError:
        return None


def _restore_file(journal: Path, path: Path, key: str, report: dict[str, list[str]]) -> None:
    shadow = journal / "files" / key
    if shadow.exists():
        fd = os.open(shadow, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            extents = _extents(fd, size)
        finally:
            os.close(fd)
    else:
        size, extents = 0, []
        report["emptied"].append(str(path))
    before = path.stat().st_size if path.exists() else None
    if before is None:
        report["restored"].append(str(path))
    elif before != size:
        report["rewound"].append(f"{path} {before}->{size}")
    tmp = path.with_name(path.name + ".powercut")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_content(fd, size, extents)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _rewind_dir(journal: Path, path: Path, durable: dict[str, list[Any]],
                report: dict[str, list[str]]) -> None:
    with os.scandir(path) as it:
        current = {e.name: (e.inode(), "d" if e.is_dir(follow_symlinks=False) else "f")
                   for e in it}
    dev = path.stat().st_dev
    for name, (ino, kind) in current.items():
        want = durable.get(name)
        # A directory survives by name (its own entries are rewound below); a file's entry
        # must still point at the inode that was durable under that name.
        keep = want is not None and want[1] == kind and (kind == "d" or want[0] == ino)
        if not keep:
            p = path / name
            if kind == "d":
                shutil.rmtree(p)
            else:
                p.unlink()
            if want is None:
                report["removed"].append(str(p))
    for name, (ino, kind) in durable.items():
        p = path / name
        if kind == "d":
            p.mkdir(exist_ok=True)
            _rewind_dir(journal, p, _load_dir(journal, p) or {}, report)
        else:
            _restore_file(journal, p, f"{dev}-{ino}", report)


def cut(journal: str | os.PathLike[str],
        roots: Iterable[str | os.PathLike[str]]) -> dict[str, list[str]]:
    """Rewind `roots` to their last durable state (every process writing them must be dead),
    then make that state the new baseline. Returns what changed, for test messages."""
    j = Path(journal)
    paths = [Path(r) for r in roots]
    report: dict[str, list[str]] = {"removed": [], "restored": [], "rewound": [],
                                    "emptied": []}
    for root in paths:
        durable = _load_dir(j, root)
        if durable is None:
            raise RuntimeError(f"no baseline for {root}: call baseline() before starting")
        _rewind_dir(j, root, durable, report)
    shutil.rmtree(j / "files")
    shutil.rmtree(j / "dirs")
    baseline(j, paths)
    return report


__all__ = ["ENV", "install", "baseline", "cut"]
