"""Cost of pyzk.linearizableSync on `sync` latency: two 3-member pyzk ensembles run at once, one
with the key on (default) and one off (Java's answer-at-once sync), same zoo.cfg otherwise.
Blocks of syncs alternate between them so both see the same machine load; each block is a
synchronous sync loop from one raw client attached to the leader and one attached to a follower.
Usage: python -m bench.sync_latency [--syncs 2000] [--block 100] [--tick-time 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from tests.ensemble.launcher import Ensemble
from tests.integration.rawclient import RawClient

HOSTS = {"on": [f"127.0.6.{i}" for i in (1, 2, 3)], "off": [f"127.0.6.{i}" for i in (11, 12, 13)]}


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--syncs", type=int, default=2000, help="syncs per (mode, role)")
    ap.add_argument("--block", type=int, default=100, help="syncs per alternation block")
    ap.add_argument("--tick-time", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pyzk-synclat-") as tmp:
        ens = {mode: Ensemble(Path(tmp) / mode, hosts, tick_ms=args.tick_time,
                              extra={"initLimit": "10", "syncLimit": "5",
                                     "pyzk.linearizableSync": "true" if mode == "on" else "false"})
               for mode, hosts in HOSTS.items()}
        try:
            for e in ens.values():
                e.start(60)
            cl: dict[tuple[str, str], RawClient] = {}
            for mode, e in ens.items():
                leader = e.leader()
                follower = next(s for s in e.members if s != leader)
                for role, sid in (("leader", leader), ("follower", follower)):
                    c = RawClient(e.members[sid].host, 2181)
                    c.connect(timeout_ms=30000)
                    cl[(mode, role)] = c
                cl[(mode, "leader")].create("/bench-sync", b"")
            lat: dict[tuple[str, str], list[float]] = {k: [] for k in cl}
            rec = r.SyncRequest("/bench-sync")
            done = 0
            while done < args.syncs:
                n = min(args.block, args.syncs - done)
                for key, c in cl.items():
                    out = lat[key]
                    for _ in range(n):
                        t = time.perf_counter()
                        rep = c.call(Op.SYNC, rec)
                        out.append((time.perf_counter() - t) * 1000)
                        assert rep.err == 0, rep
                done += n
            for c in cl.values():
                c.close()
        finally:
            for e in ens.values():
                e.stop()
    print(f"sync latency (ms), {args.syncs} syncs per row, blocks of {args.block} alternating, "
          f"tickTime {args.tick_time}")
    print("| client on | linearizableSync | median | p99 |")
    print("|---|---|---|---|")
    for role in ("leader", "follower"):
        for mode in ("on", "off"):
            xs = lat[(mode, role)]
            print(f"| {role} | {mode} | {statistics.median(xs):.3f} | {_pct(xs, 99):.3f} |")


if __name__ == "__main__":
    main()
