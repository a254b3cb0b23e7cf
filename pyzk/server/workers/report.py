"""What a worker process reports so that its member's four-letter words, AdminServer and
mntr describe the whole server: its client connections, request counters and latencies,
watches and client-side metrics, as plain msgpack-able data (`report`), and the sums the
member's view builds from them (`merge_*`).

A worker applies every txn too, but the txn-side metrics (per-namespace write sizes,
propagation latency) are the member's alone (WorkerStats records only watch fan-out), so
that summing counts each txn once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple
from typing import TYPE_CHECKING, Any

from ...fourlw.info import ConnectionInfo
from ...metric_values import Summary
from ...metrics import ServerMetrics
from ..stats import ServerStats

if TYPE_CHECKING:
    from ...protocol import records as r
    from ...tree.datatree import DataTree, TxnResult
    from ..view import LiveView

Report = dict[str, Any]  # msgpack-decoded: its values are whatever report() put there
SAMPLE = 512  # reservoir values a worker sends per summary (percentiles are approximate)


class WorkerStats(ServerStats):
    """A worker's ServerStats: applying a txn counts only its watch fan-out here."""

    def record_write(self, hdr: r.TxnHeaderRecord, result: TxnResult, tree: DataTree) -> None:
        events = result.events
        if events:
            fanout: dict[tuple[int, str], int] = {}
            for _, ev in events:
                fanout[(ev.type, ev.path)] = fanout.get((ev.type, ev.path), 0) + 1
            for (etype, _), count in fanout.items():
                s = self._watch_summaries.get(etype)
                if s is not None:
                    s.add(count)


def _summary(s: Summary) -> list[Any]:  # [count, total, min, max, [sampled values]]
    return [s.count, s.total, s.min, s.max, s._res[:SAMPLE]]


def report(view: LiveView) -> Report:
    """This worker's part of the server, as the member asks for it."""
    srv = view.server
    s = srv.stats
    m = s.metrics
    return {
        "plain": [list(astuple(c)) for c in view.connections],
        "secure": [list(astuple(c)) for c in view.secure_connections],
        "expiry": [[at, [list(astuple(c)) for c in conns]]
                   for at, conns in view.connection_expiry],
        "packets": [s.packets_sent, s.packets_received],
        "auth_failed": s.auth_failed,
        "latency": [s.latency_count, s.total_latency_ms, s.min_latency_ms, s.max_latency_ms],
        "response": [s.response_last, s.response_min, s.response_max],
        "outstanding": sum(len(c.queue) for c in srv.conns),
        "watches": {sid: list(paths) for sid, paths in view.data_watches.items()},
        "watch_count": srv.tree.watches.watch_count(),
        "counters": {n: c.value for n, c in m.counters.items() if c.value},
        "counter_sets": {n: dict(cs.by_key) for n, cs in m.counter_sets.items() if cs.by_key},
        "summaries": {n: _summary(x) for n, x in m.summaries.items() if x.count},
        "summary_sets": {n: {k: _summary(x) for k, x in ss.by_key.items() if x.count}
                         for n, ss in m.summary_sets.items() if ss.by_key},
    }


def connections(reports: Iterable[Report], key: str) -> list[ConnectionInfo]:
    return [ConnectionInfo(*c) for rep in reports for c in rep[key]]


def expiry(own: Sequence[tuple[int, Sequence[ConnectionInfo]]], reports: Iterable[Report]
           ) -> list[tuple[int, Sequence[ConnectionInfo]]]:
    """Buckets by time (every process's monotonic clock is the machine's)."""
    out: dict[int, list[ConnectionInfo]] = {at: list(conns) for at, conns in own}
    for rep in reports:
        for at, conns in rep["expiry"]:
            out.setdefault(int(at), []).extend(ConnectionInfo(*c) for c in conns)
    return sorted(out.items())


def watches(own: Mapping[int, Sequence[str]], reports: Iterable[Report]
            ) -> dict[int, list[str]]:
    out = {sid: list(paths) for sid, paths in own.items()}
    for rep in reports:
        for sid, paths in rep["watches"].items():
            out.setdefault(int(sid), []).extend(paths)
    return out


def latency(s: ServerStats, reports: Iterable[Report]) -> tuple[float, float, float]:
    """(avg, min, max) ms over this process's and the workers' answered requests."""
    count, total = s.latency_count, s.total_latency_ms
    lo = s.min_latency_ms if count else None
    hi = s.max_latency_ms
    for rep in reports:
        n, t, mn, mx = rep["latency"]
        if n:
            count += n
            total += t
            lo = mn if lo is None else min(lo, mn)
            hi = max(hi, mx)
    return (total / count if count else 0.0), (lo or 0.0), hi


def responses(s: ServerStats, reports: Iterable[Report]) -> tuple[int, int, int]:
    """(last, min, max) response sizes; -1 until any."""
    last, lo, hi = s.response_last, s.response_min, s.response_max
    for rep in reports:
        rl, rmin, rmax = rep["response"]
        if rmin >= 0:
            lo = rmin if lo < 0 else min(lo, rmin)
            hi = max(hi, rmax)
            last = rl if last < 0 else last
    return last, lo, hi


def total(reports: Iterable[Report], key: str, index: int | None = None) -> int:
    return sum(int(rep[key] if index is None else rep[key][index]) for rep in reports)


def _merge_summary(into: Summary, data: list[Any]) -> None:
    count, tot, lo, hi, sample = data
    into.count += count
    into.total += tot
    into.min = min(into.min, lo)
    into.max = max(into.max, hi)
    into._res.extend(sample)


def metrics(own: ServerMetrics, reports: Sequence[Report]) -> ServerMetrics:
    """A copy of `own` with every worker's client-side metrics added."""
    out = ServerMetrics()
    for name, c in own.counters.items():
        out.counters[name].value = c.value
    for name, cs in own.counter_sets.items():
        out.counter_sets[name].by_key = dict(cs.by_key)
    for name, x in own.summaries.items():
        _merge_summary(out.summaries[name], [x.count, x.total, x.min, x.max, x._res])
    for name, ss in own.summary_sets.items():
        for key, x in ss.by_key.items():
            out.summary_sets[name].add(key, 0)
            target = out.summary_sets[name].by_key[key]
            target.reset()
            _merge_summary(target, [x.count, x.total, x.min, x.max, x._res])
    for rep in reports:
        for name, v in rep["counters"].items():
            if name in out.counters:
                out.counters[name].value += v
        for name, by_key in rep["counter_sets"].items():
            if name in out.counter_sets:
                for key, v in by_key.items():
                    out.counter_sets[name].add(key, v)
        for name, data in rep["summaries"].items():
            if name in out.summaries:
                _merge_summary(out.summaries[name], data)
        for name, by_key in rep["summary_sets"].items():
            if name in out.summary_sets:
                for key, data in by_key.items():
                    ss = out.summary_sets[name]
                    if key not in ss.by_key:
                        ss.add(key, 0)
                        ss.by_key[key].reset()
                    _merge_summary(ss.by_key[key], data)
    return out
