"""Run Jepsen-style schedules by hand (root: network namespaces):

    .venv/bin/python -m tests.jepsen --kind pyzk --n 3 --seeds 0-99
    .venv/bin/python -m tests.jepsen --kind java --n 3 --seeds 0-99
    .venv/bin/python -m tests.jepsen --kind pyzk --n 5 --seeds 0-49 --only bridge,ring
    .venv/bin/python -m tests.jepsen --kind java --n 3 --seeds 0-9 --only clock,kill

The `clock` fault (in the 5-member set; name it with --only for 3) steps one member's wall
clock under libfaketime (Debian package libfaketime; see tests/jepsen/clockstep.py).

One line per schedule (ops, outcomes, per-key linearizability, read vs write failures, lost
writes, set losses, divergence), the details of every invalid one, and totals at the end.
`--seeds 17` replays schedule 17.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from .clockstep import unavailable_reason as faketime_unavailable
from .cluster import unavailable_reason
from .runner import FAULTS_5, recheck, run_schedule


def seeds(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.jepsen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=["pyzk", "java", "mixed"], default="pyzk")
    ap.add_argument("--n", type=int, default=3, choices=[3, 5])
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--faults", type=int, default=3, help="faults per schedule")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--keys", type=int, default=3)
    ap.add_argument("--only", default="", help=f"comma-separated subset of {FAULTS_5}")
    ap.add_argument("--tick", type=int, default=200, help="tickTime in ms (syncLimit 5)")
    ap.add_argument("--hold", default="2,4", help="fault duration range in seconds: MIN,MAX")
    ap.add_argument("--cfg", action="append", default=[], metavar="KEY=VALUE",
                    help="extra zoo.cfg line for every member (Java ignores pyzk.* keys), "
                         "e.g. pyzk.linearizableSync=false; repeatable")
    ap.add_argument("--workdir", default="", help="keep member data and logs here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print nemesis events live")
    ap.add_argument("--recheck", default="", help="check a saved history.jsonl and exit")
    args = ap.parse_args(argv)
    if args.recheck:
        for k in recheck(Path(args.recheck), args.keys):
            print(f"{k.key}: ops={k.ops} linearizable={k.linearizable} {k.failed_kind} "
                  f"{k.detail}")
            for x in k.stale[1:6]:
                print(f"    stale: {x}")
        return 0
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    reason = unavailable_reason()
    if reason:
        print(f"network namespaces unavailable: {reason}", file=sys.stderr)
        return 2
    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pyzk-jepsen-"))
    lo, hi = (float(x) for x in args.hold.split(","))
    hold = (lo, hi)
    only = [f for f in args.only.split(",") if f] or None
    menu = only or (FAULTS_5 if args.n >= 5 else [])
    if "clock" in menu and faketime_unavailable():
        print(f"the clock fault needs libfaketime: {faketime_unavailable()}", file=sys.stderr)
        return 2
    totals = {"schedules": 0, "ops": 0, "invalid": 0, "read": 0, "write": 0, "unknown": 0,
              "lost": 0,
              "set_lost": 0, "divergent": 0, "errors": 0}
    for seed in seeds(args.seeds):
        wd = base / f"{args.kind}-n{args.n}-seed{seed}"
        shutil.rmtree(wd, ignore_errors=True)
        res = run_schedule(seed, wd, n=args.n, kind=args.kind, faults=args.faults,
                           clients=args.clients, keys=args.keys, only=only, tick_ms=args.tick,
                           cfg=dict(kv.split("=", 1) for kv in args.cfg),
                           hold=hold,
                           log=(lambda s: print("   ", s, flush=True)) if args.verbose else None)
        print(res.line(), flush=True)
        if not res.valid:
            print(res.details(), flush=True)
            if res.history:
                res.save_history(wd / "history.jsonl")
        totals["schedules"] += 1
        totals["ops"] += res.ops
        totals["invalid"] += not res.valid
        totals["read"] += res.read_failures > 0
        totals["write"] += res.write_failures > 0
        totals["unknown"] += res.unknown > 0
        totals["lost"] += res.lost_writes
        totals["set_lost"] += res.set_lost
        totals["divergent"] += bool(res.divergence)
        totals["errors"] += bool(res.errors)
        if res.valid and not args.workdir:
            shutil.rmtree(wd, ignore_errors=True)
    print("TOTAL " + " ".join(f"{k}={v}" for k, v in totals.items())
          + " (read/write: schedules with a non-linearizable key of that kind;"
          " lost: acknowledged register writes missing)", flush=True)
    if not args.workdir and totals["invalid"] == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"data and logs kept in {base}")
    return 0 if totals["invalid"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
