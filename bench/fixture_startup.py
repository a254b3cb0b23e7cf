"""Start-up time of pyzk.testing's 3-member ensemble fixture: from start() until one leader and
two followers serve, with members forked from the helper (the default) and with a fresh
interpreter per member (fork=False). Medians of N starts, one run.

    .venv/bin/python -m bench.fixture_startup --starts 7
"""

from __future__ import annotations

import argparse
import json
import statistics

from pyzk.testing.ensemble import ZkTestEnsemble, prewarm


def measure(fork: bool, starts: int) -> list[float]:
    times = []
    for _ in range(starts):
        with ZkTestEnsemble(3, fork=fork) as ens:
            assert ens.startup_seconds is not None
            times.append(ens.startup_seconds)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--starts", type=int, default=7)
    args = ap.parse_args()
    prewarm()  # as the pytest plugin does while collecting
    out = {}
    for fork in (True, False):
        t = measure(fork, args.starts)
        out["fork" if fork else "exec"] = {"median_s": round(statistics.median(t), 3),
                                           "min_s": round(min(t), 3), "max_s": round(max(t), 3),
                                           "starts": [round(x, 3) for x in t]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
