"""`python -m pyzk.tools dump-log FILE | dump-snapshot [-d] FILE | check DATADIR [DATALOGDIR]
| purge DATALOGDIR [SNAPDIR] -n COUNT` (the last as zkCleanup.sh / PurgeTxnLog)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .dump import check_datadir, dump_log, dump_snapshot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pyzk.tools",
                                 description="Inspect ZooKeeper/pyzk data directories.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dump-log", help="print every txn of a log.<zxid> file")
    p.add_argument("file", type=Path)
    p = sub.add_parser("dump-snapshot", help="print the znodes and sessions of a snapshot")
    p.add_argument("-d", "--data", action="store_true", help="dump znode data (base64)")
    p.add_argument("file", type=Path)
    p = sub.add_parser("check", help="verify a data dir and dry-run its recovery")
    p.add_argument("datadir", type=Path)
    p.add_argument("datalogdir", type=Path, nargs="?")
    p = sub.add_parser("purge", help="delete old snapshots and the logs recovery no longer "
                       "needs, keeping the newest COUNT snapshots (PurgeTxnLog)")
    p.add_argument("datalogdir", type=Path, help="dataLogDir (the directory holding version-2)")
    p.add_argument("snapdir", type=Path, nargs="?", help="dataDir, if different")
    p.add_argument("-n", "--count", type=int, default=3, help="snapshots to keep (>= 3)")
    args = ap.parse_args(argv)
    if args.cmd == "purge":
        return _purge(args.snapdir or args.datalogdir, args.datalogdir, args.count)
    if args.cmd == "dump-log":
        return dump_log(args.file)
    if args.cmd == "dump-snapshot":
        return dump_snapshot(args.file, dump_data=args.data)
    return check_datadir(args.datadir, log_root=args.datalogdir)


def _purge(data_dir: Path, log_dir: Path, count: int) -> int:
    from ..storage.datadir import DataDir

    if count < 3:
        print("pyzk tools purge: count should be greater than or equal to 3", file=sys.stderr)
        return 2
    for d in (data_dir, log_dir):
        if not (d / "version-2").is_dir():
            print(f"pyzk tools purge: {d} has no version-2 directory", file=sys.stderr)
            return 2
    removed = DataDir(data_dir, log_dir, autocreate=False).purge(count)
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} files removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
