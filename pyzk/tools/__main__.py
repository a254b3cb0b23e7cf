"""`python -m pyzk.tools dump-log FILE | dump-snapshot [-d] FILE | check DATADIR [DATALOGDIR]`."""

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
    args = ap.parse_args(argv)
    if args.cmd == "dump-log":
        return dump_log(args.file)
    if args.cmd == "dump-snapshot":
        return dump_snapshot(args.file, dump_data=args.data)
    return check_datadir(args.datadir, log_root=args.datalogdir)


if __name__ == "__main__":
    sys.exit(main())
