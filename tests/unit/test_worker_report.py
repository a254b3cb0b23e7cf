"""pyzk.workers: the sums a member's view makes of its workers' reports (report.py)."""

from __future__ import annotations

from pyzk.fourlw.info import ConnectionInfo
from pyzk.metrics import ServerMetrics
from pyzk.server.stats import ServerStats
from pyzk.server.workers import report


def _report(**over: object) -> report.Report:
    base: report.Report = {
        "plain": [], "secure": [], "expiry": [], "packets": [0, 0], "auth_failed": 0,
        "latency": [0, 0.0, 0.0, 0.0], "response": [-1, -1, -1], "outstanding": 0,
        "watches": {}, "watch_count": 0, "counters": {}, "counter_sets": {}, "summaries": {},
        "summary_sets": {}}
    base.update(over)
    return base


def test_latency_and_response_sizes_combine_over_processes() -> None:
    s = ServerStats()
    s.record_latency(2.0)
    s.record_latency(4.0)
    s.record_response(100)
    worker = _report(latency=[2, 20.0, 1.0, 19.0], response=[50, 40, 300])
    avg, lo, hi = report.latency(s, [worker])
    assert (avg, lo, hi) == (26.0 / 4, 1.0, 19.0)
    assert report.responses(s, [worker]) == (100, 40, 300)
    # A worker that answered nothing changes nothing.
    assert report.latency(s, [_report()]) == (3.0, 2.0, 4.0)
    assert report.responses(ServerStats(), [_report()]) == (-1, -1, -1)


def test_connections_watches_and_expiry_buckets_are_joined() -> None:
    info = ConnectionInfo("127.0.0.9", 4000, session_id=7)
    worker = _report(plain=[list(info.__dict__.values())],
                     watches={7: ["/a"], 8: ["/b"]},
                     expiry=[[20000, [list(info.__dict__.values())]]])
    assert report.connections([worker], "plain") == [info]
    assert report.watches({7: ["/x"]}, [worker]) == {7: ["/x", "/a"], 8: ["/b"]}
    own = [(10000, [ConnectionInfo("127.0.0.1", 1)])]
    assert [at for at, _ in report.expiry(own, [worker])] == [10000, 20000]


def test_metrics_add_counters_and_summaries_without_touching_the_members() -> None:
    own = ServerMetrics()
    own.counter("bytes_received_count").add(10)
    own.summary("readlatency").add(3)
    own.summary_set("read_per_namespace").add("app", 5)
    worker = ServerMetrics()
    worker.counter("bytes_received_count").add(5)
    worker.summary("readlatency").add(9)
    worker.summary_set("read_per_namespace").add("app", 1)
    worker.summary_set("read_per_namespace").add("other", 2)
    rep = _report(
        counters={n: c.value for n, c in worker.counters.items() if c.value},
        summaries={n: [x.count, x.total, x.min, x.max, list(x._res)]
                   for n, x in worker.summaries.items() if x.count},
        summary_sets={n: {k: [x.count, x.total, x.min, x.max, list(x._res)]
                          for k, x in ss.by_key.items()}
                      for n, ss in worker.summary_sets.items() if ss.by_key})
    merged = report.metrics(own, [rep])
    assert merged.counter("bytes_received_count").value == 15
    lat = merged.summary("readlatency")
    assert (lat.count, lat.total, lat.min, lat.max) == (2, 12, 3, 9)
    ns = merged.summary_set("read_per_namespace").by_key
    assert (ns["app"].count, ns["app"].total, ns["other"].count) == (2, 6, 1)
    assert own.counter("bytes_received_count").value == 10  # the member's own are left alone
    assert own.summary("readlatency").count == 1
