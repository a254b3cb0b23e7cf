"""`pyzk backup`: a consistent online copy of a server's data directory.

The copy is the newest sealed snapshot plus every txn log from the one that covers the snapshot's
zxid onwards, each log cut after its last whole entry (the preallocated zeros are not copied). Logs may be copied while the server appends to them: recovery replays whole entries
only and drops a torn tail (FileTxnLog's checksum + EOR check), so a server started on the copy
recovers a tree at least as new as the snapshot. Snapshots are renamed into place when complete
(pyzk and Java both), so a listed snapshot is never half written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyzk.storage import txnlog
from pyzk.storage.datadir import VERSION_DIR, DataDir
from pyzk.storage.logfile import logs_from

MANIFEST = "pyzk-backup.json"
ATTEMPTS = 5  # autopurge may delete a file between listing and copying: start over


class BackupError(Exception):
    """The backup cannot be made; the message says why."""


def locate_data_dirs(host: str, port: int, timeout: float = 10.0) -> tuple[Path, Path]:
    """dataDir and dataLogDir of a running server, from its `conf` four-letter word (the server
    must be on this machine, or its volumes mounted at the same paths)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"conf")
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
    except OSError as e:
        raise BackupError(f"cannot reach {host}:{port}: {e}") from None
    text = b"".join(chunks).decode("utf-8", "replace")
    if "not in the whitelist" in text:
        raise BackupError(f"{host}:{port} refuses the `conf` command: add conf to "
                          "4lw.commands.whitelist, or give --data-dir (and --data-log-dir)")
    conf = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if "dataDir" not in conf:
        raise BackupError(f"{host}:{port} did not answer `conf` with a dataDir: {text[:200]!r}")

    def root(v: str) -> Path:  # conf shows .../version-2
        p = Path(v.strip())
        return p.parent if p.name == VERSION_DIR else p

    data = root(conf["dataDir"])
    return data, root(conf.get("dataLogDir", conf["dataDir"]))


def _copy(src: Path, dst: Path) -> int:
    """Copy what src holds now (a log may still grow) and fsync the copy."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
        return fout.tell()


TORN_READ_ATTEMPTS = 5


def _copy_log(src: Path, dst: Path) -> int:
    """Copy the written part of a txn log: its header and whole entries, not the preallocated
    zeros after them (64 MB per file by default). A log that ends after its last entry is
    what Java and pyzk read anyway (the zeros only mark the end). A log that does not scan
    cleanly is copied whole, for recovery (and the verify step) to judge."""
    # A read that races the server's append can see a later page written and an earlier one
    # not yet ("zero-length entry followed by data"): such a torn read is read again.
    for _ in range(TORN_READ_ATTEMPTS):
        data = src.read_bytes()
        try:
            end = txnlog.scan_log(data, str(src)).end
            break
        except txnlog.LogFormatError:
            end = len(data)
    with open(dst, "wb") as fout:
        fout.write(memoryview(data)[:end])
        fout.flush()
        os.fsync(fout.fileno())
        return end


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_once(src: DataDir, staging: Path) -> dict[str, Any]:
    snaps = src.valid_snapshots(1)
    if not snaps:
        raise BackupError(f"no complete snapshot in {src.snap_dir} (has the server started?)")
    zxid, snap = snaps[0]
    logs = logs_from(src.log_dir, zxid)
    staging.mkdir(parents=True)
    files: list[dict[str, Any]] = []
    # Snapshot first, then the logs: every txn after the snapshot is in a log copied later.
    for path in [snap, *logs]:
        size = (_copy if path == snap else _copy_log)(path, staging / path.name)
        files.append({"name": path.name, "bytes": size})
    _fsync_dir(staging)
    return {"snapshot": snap.name, "snapshot_zxid": f"0x{zxid:x}", "files": files}


def backup(data_dir: Path, dest: Path, data_log_dir: Path | None = None,
           verify: bool = True, source: str | None = None) -> dict[str, Any]:
    """Copy into dest/version-2 and write dest/pyzk-backup.json; returns the manifest.
    dest must not exist or be empty. A server restored from it uses dataDir=dest."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty")
    if not (data_dir / VERSION_DIR).is_dir():
        raise BackupError(f"{data_dir} has no {VERSION_DIR} directory")
    src = DataDir(data_dir, data_log_dir, autocreate=False)
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".{VERSION_DIR}.partial"
    started = time.time()
    for attempt in range(ATTEMPTS):
        shutil.rmtree(staging, ignore_errors=True)
        try:
            manifest = _copy_once(src, staging)
            break
        except FileNotFoundError:  # purged while copying: list again
            if attempt == ATTEMPTS - 1:
                raise BackupError("files kept disappearing while copying (autopurge?); "
                                  "try again") from None
    staging.rename(dest / VERSION_DIR)
    _fsync_dir(dest)
    manifest.update(source=source or str(data_dir), created=int(started),
                    seconds=round(time.time() - started, 3))
    if verify:
        manifest.update(verify_restore(dest))
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify_restore(dest: Path) -> dict[str, Any]:
    """Recover the copy as a server would (in memory; files are not changed)."""
    from pyzk.storage.errors import LogFormatError
    from pyzk.storage.recovery import RecoveryError, recover
    from pyzk.tree.datatree import DataTree

    try:
        rec = recover(DataDir(dest, autocreate=False), DataTree)
    except (RecoveryError, LogFormatError, OSError) as e:
        raise BackupError(f"the copy does not recover: {e}") from None
    return {"last_zxid": f"0x{rec.last_zxid:x}", "nodes": rec.tree.node_count(),
            "sessions": len(rec.sessions), "txns_after_snapshot": rec.txns_replayed,
            "torn_tail": bool(rec.torn)}


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: Sequence[str], prog: str = "pyzk backup") -> int:
    p = argparse.ArgumentParser(prog=prog, description=(
        "Copy a server's newest snapshot and the txn logs after it into DEST (a new dataDir). "
        "Safe while the server runs. Restore: start a server with dataDir=DEST."))
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", type=_host_port, metavar="HOST:PORT",
                       help="a running server on this machine; its dirs come from `conf`")
    where.add_argument("--data-dir", type=Path, metavar="DIR", help="the server's dataDir")
    p.add_argument("--data-log-dir", type=Path, metavar="DIR",
                   help="the server's dataLogDir when it differs from dataDir")
    p.add_argument("--to", type=Path, required=True, metavar="DEST",
                   help="destination directory (must be missing or empty)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip recovering the copy in memory after copying")
    args = p.parse_args(list(argv))
    try:
        if args.server is not None:
            host, port = args.server
            data, logs = locate_data_dirs(host, port)
            source = f"{host}:{port} ({data})"
        else:
            data, logs, source = args.data_dir, args.data_log_dir, str(args.data_dir)
        manifest = backup(data, args.to, logs, verify=not args.no_verify, source=source)
    except BackupError as e:
        print(f"pyzk backup: error: {e}", file=sys.stderr)
        return 1
    summary = (f"backed up {source} to {args.to}: {manifest['snapshot']} + "
               f"{len(manifest['files']) - 1} log file(s)")
    if "last_zxid" in manifest:
        summary += f"; recovers to zxid {manifest['last_zxid']} ({manifest['nodes']} nodes)"
    print(summary)
    return 0
