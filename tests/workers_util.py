"""Helpers for tests of pyzk.workers: a server's worker processes and their state."""

from __future__ import annotations

import json
from pathlib import Path


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def workers_serving(log_text: str) -> int:
    """Worker processes whose latest link is serving (their "serving" lines since the last
    start or link loss)."""
    state: dict[int, bool] = {}
    for line in log_text.splitlines():
        if not line.startswith("{") or '"worker"' not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        w = rec.get("worker")
        if rec.get("logger") == "pyzk.worker" and isinstance(w, int):
            if rec.get("event") == "serving":
                state[w] = True
            elif rec.get("event") in ("member link ended", "lost the member"):
                state[w] = False
    return sum(state.values())
