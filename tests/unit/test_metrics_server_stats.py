"""pyzk.server.stats: the hooks feeding ServerMetrics from server events use Java's formulas
(DataTree.updateReadStat/updateWriteStat, WatchManager.triggerWatch, ServerStats.updateLatency,
FinalRequestProcessor's lastOp names)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import EventType
from pyzk.protocol.opcodes import Op
from pyzk.server.stats import LAST_OP, STAT_OVERHEAD_BYTES, ServerStats
from pyzk.tree.datatree import DataTree
from pyzk.tree.txnapply import TxnResult

STAT = b"\0" * 68


def req(op: int, path: str) -> Request:
    # Real objects, not stand-ins: compiled (pyzk.tools.compiled), record_read takes a Request
    # and record_write a TxnResult and a DataTree, and refuses anything else.
    return Request(1, 1, op, r.ExistsRequest(path, False), [])


def ns_values(stats: ServerStats, name: str, key: str) -> dict[str, Any]:
    return dict(stats.metrics.summary_set(name).by_key[key].values())


def test_read_sizes_follow_datatree_update_read_stat() -> None:
    s = ServerStats()
    data = b"hello"
    s.record_read(req(Op.GET_DATA, "/app/x"), 0, len(data).to_bytes(4, "big") + data + STAT)
    s.record_read(req(Op.EXISTS, "/app/x"), 0, STAT)
    kids = b"".join(len(c).to_bytes(4, "big") + c for c in (b"ab", b"cde"))
    s.record_read(req(Op.GET_CHILDREN2, "/app"), 0, (2).to_bytes(4, "big") + kids + STAT)
    s.record_read(req(Op.GET_DATA, "/app/missing"), 101, b"")  # NONODE: not recorded
    v = ns_values(s, "read_per_namespace", "app")
    assert v["cnt_app_read_per_namespace"] == 3
    assert v["sum_app_read_per_namespace"] == (
        (6 + 5 + STAT_OVERHEAD_BYTES) + (6 + STAT_OVERHEAD_BYTES) + (4 + 5 + STAT_OVERHEAD_BYTES))


def test_write_sizes_are_path_plus_data_and_deletes_path_only() -> None:
    from pyzk.tree.datatree import DataTree

    tree = DataTree()
    s = ServerStats()
    hdr = r.TxnHeader(1, 1, 1, 0, Op.CREATE)
    res = tree.process_txn(hdr, r.CreateTxn("/w", b"1234", [r.ACL(31, r.Id("world", "anyone"))],
                                            False, 0))
    s.record_write(hdr, res, tree)
    hdr2 = r.TxnHeader(1, 2, 2, 0, Op.DELETE)
    s.record_write(hdr2, tree.process_txn(hdr2, r.DeleteTxn("/w")), tree)
    v = ns_values(s, "write_per_namespace", "w")
    assert (v["cnt_w_write_per_namespace"], v["sum_w_write_per_namespace"]) == (2, 2 + 4 + 2)


def test_watch_fanout_adds_the_watcher_count_per_triggered_event() -> None:
    s = ServerStats()
    ev = SimpleNamespace(type=EventType.NODE_DATA_CHANGED, path="/a")
    child = SimpleNamespace(type=EventType.NODE_CHILDREN_CHANGED, path="/")
    result = TxnResult(Op.SET_DATA, 1, [(1, ev), (2, ev), (3, child)])
    s.record_write(SimpleNamespace(time=0), result, DataTree())
    changed = s.metrics.summary("node_changed_watch_count")
    children = s.metrics.summary("node_children_watch_count")
    assert (changed.count, changed.total, children.count, children.total) == (1, 2, 1, 1)


def test_latency_goes_to_read_or_update_summary_in_whole_ms() -> None:
    s = ServerStats()
    s.record_latency(2.7, write=True)
    s.record_latency(0.4)
    assert s.metrics.summary("updatelatency").total == 2
    assert s.metrics.summary("readlatency").count == 1
    assert s.latency_count == 2


def test_response_sizes_track_last_min_max_and_total_bytes() -> None:
    s = ServerStats()
    for n in (16, 90, 40):
        s.record_response(n)
    assert (s.response_last, s.response_min, s.response_max) == (40, 16, 90)
    assert s.metrics.counter("response_bytes").value == 146
    s.reset()
    assert (s.response_last, s.response_min, s.response_max) == (-1, -1, -1)


def test_expired_sessions_count_is_the_java_counter() -> None:
    s = ServerStats()
    s.sessions_expired += 2
    assert s.metrics.counter("stale_sessions_expired").value == 2


def test_fsync_feeds_fsynctime_and_batch_size() -> None:
    s = ServerStats()
    s.record_fsync(0.0123, 7)
    assert s.metrics.summary("fsynctime").total == 12
    assert s.metrics.summary("sync_processor_batch_size").total == 7
    assert s.metrics.counter("sync_processor_request_queued").value == 7


def test_last_op_names_are_final_request_processors() -> None:
    assert (LAST_OP[Op.GET_DATA], LAST_OP[Op.SET_DATA], LAST_OP[Op.CREATE2],
            LAST_OP[Op.GET_CHILDREN2], LAST_OP[Op.PING], LAST_OP[Op.MULTI]) == \
        ("GETD", "SETD", "CREA", "GETC", "PING", "MULT")
