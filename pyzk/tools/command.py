"""`pyzk tools dump-log FILE | dump-snapshot [-d] FILE | check DATADIR [DATALOGDIR]
| purge DATALOGDIR [SNAPDIR] -n COUNT` (the last as zkCleanup.sh / PurgeTxnLog); also
`python -m pyzk.tools ...`.

A file or directory that cannot be read is one line on stderr (`pyzk tools dump-log: error: ...`)
and exit status 1, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .dump import check_datadir, dump_log, dump_snapshot


def main(argv: list[str] | None = None, prog: str = "pyzk tools") -> int:
    ap = argparse.ArgumentParser(prog=prog,
                                 description="Inspect ZooKeeper/pyzk data directories.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dump-log", help="print every txn of a log.<zxid> file")
    p.add_argument("file", type=Path)
    p = sub.add_parser("dump-snapshot", help="print the znodes and sessions of a snapshot")
    p.add_argument("-d", "--data", action="store_true", help="dump znode data (base64)")
    p.add_argument("file", type=Path)
    p = sub.add_parser("check", help="verify a data dir and dry-run its recovery")
    p.add_argument("datadir", type=Path, help="dataDir (the directory holding version-2)")
    p.add_argument("datalogdir", type=Path, nargs="?", help="dataLogDir, if different")
    p = sub.add_parser("purge", help="delete old snapshots and the logs recovery no longer "
                       "needs, keeping the newest COUNT snapshots (PurgeTxnLog)")
    p.add_argument("datalogdir", type=Path, help="dataLogDir (the directory holding version-2)")
    p.add_argument("snapdir", type=Path, nargs="?", help="dataDir, if different")
    p.add_argument("-n", "--count", type=int, default=3, help="snapshots to keep (>= 3)")
    args = ap.parse_args(argv)
    name = f"{prog} {args.cmd}"
    try:
        if args.cmd == "purge":
            return _purge(name, args.snapdir or args.datalogdir, args.datalogdir, args.count)
        if args.cmd == "dump-log":
            _need_file(args.file, "log")
            return dump_log(args.file)
        if args.cmd == "dump-snapshot":
            _need_file(args.file, "snapshot")
            return dump_snapshot(args.file, dump_data=args.data)
        for d in (args.datadir, args.datalogdir):
            if d is not None:
                _need_data_dir(d)
        return check_datadir(args.datadir, log_root=args.datalogdir)
    except OSError as e:  # also DataDirError; BrokenPipeError is handled by pyzk.cli
        if isinstance(e, BrokenPipeError):
            raise
        print(f"{name}: error: {_os_error(e)}", file=sys.stderr)
        return 1


def _os_error(e: OSError) -> str:
    if e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    return str(e)


def _need_file(path: Path, kind: str) -> None:
    if path.is_dir():
        raise OSError(f"{path} is a directory: give one {kind}.<zxid> file (data directories "
                      "keep them in version-2/)")
    if not path.exists():
        raise FileNotFoundError(2, "No such file", str(path))


def _need_data_dir(d: Path) -> None:
    if not d.is_dir():
        raise FileNotFoundError(2, "No such directory", str(d))
    if not (d / "version-2").is_dir():
        hint = " (give its parent)" if d.name == "version-2" else ""
        raise OSError(f"{d} is not a ZooKeeper data directory: it has no version-2 "
                      f"directory{hint}")


def _purge(name: str, data_dir: Path, log_dir: Path, count: int) -> int:
    from ..storage.datadir import DataDir

    if count < 3:
        print(f"{name}: count should be greater than or equal to 3", file=sys.stderr)
        return 2
    for d in (data_dir, log_dir):
        if not (d / "version-2").is_dir():
            print(f"{name}: {d} has no version-2 directory", file=sys.stderr)
            return 2
    removed = DataDir(data_dir, log_dir, autocreate=False).purge(count)
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} files removed")
    return 0
