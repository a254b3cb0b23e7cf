"""Server-wide statistics read by the four-letter words, AdminServer and metrics.

ServerStats.java's counters plus the hooks that feed ServerMetrics (pyzk.metrics) from the
server's real events. Hot-path hooks only touch plain ints and pre-fetched metric objects; the
exporters read them at scrape time. mntr, the AdminServer `monitor` and /metrics all read the one
ServerMetrics held here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..metric_values import Summary
from ..metrics import ServerMetrics
from ..protocol import records as r
from ..protocol.codes import EventType
from ..protocol.opcodes import OP_EXISTS, OP_GET_CHILDREN, OP_GET_CHILDREN2, OP_GET_DATA, Op

if TYPE_CHECKING:
    from ..pipeline.request import Request
    from ..tree.datatree import DataTree, TxnResult

# FinalRequestProcessor's `lastOp` names (shown as lop= in cons). A failed write (error txn)
# leaves "NA", as Java throws before its switch sets the name.
LAST_OP: dict[int, str] = {
    Op.PING: "PING", Op.CREATE_SESSION: "SESS", Op.MULTI: "MULT", Op.MULTI_READ: "MLTR",
    Op.CREATE: "CREA", Op.CREATE2: "CREA", Op.CREATE_TTL: "CREA", Op.CREATE_CONTAINER: "CREA",
    Op.DELETE: "DELE", Op.DELETE_CONTAINER: "DELE", Op.SET_DATA: "SETD", Op.RECONFIG: "RECO",
    Op.SET_ACL: "SETA", Op.CLOSE_SESSION: "CLOS", Op.SYNC: "SYNC", Op.CHECK: "CHEC",
    Op.EXISTS: "EXIS", Op.GET_DATA: "GETD", Op.SET_WATCHES: "SETW", Op.SET_WATCHES2: "STW2",
    Op.ADD_WATCH: "ADDW", Op.GET_ACL: "GETA", Op.GET_CHILDREN: "GETC",
    Op.GET_ALL_CHILDREN_NUMBER: "GETACN", Op.GET_CHILDREN2: "GETC", Op.CHECK_WATCHES: "CHKW",
    Op.REMOVE_WATCHES: "REMW", Op.WHO_AM_I: "HOMI", Op.GET_EPHEMERALS: "GETE",
}

# DataTree.STAT_OVERHEAD_BYTES: added to every read in read_per_namespace.
STAT_OVERHEAD_BYTES = 6 * 8 + 5 * 4
_STAT_WIRE = 68  # a serialized Stat
_WRITE_OPS = frozenset({Op.CREATE, Op.CREATE2, Op.CREATE_TTL, Op.CREATE_CONTAINER, Op.DELETE,
                        Op.DELETE_CONTAINER, Op.SET_DATA, Op.RECONFIG})
_DELETES = frozenset({Op.DELETE, Op.DELETE_CONTAINER})


class ServerStats:
    def __init__(self, metrics: ServerMetrics | None = None) -> None:
        self.started = time.monotonic()
        self.metrics = m = metrics if metrics is not None else ServerMetrics()
        self.auth_failed = 0
        self.fsync_count = 0
        self.fsync_total_s = 0.0
        self.fsync_max_s = 0.0
        self.txn_count = 0
        self.batch_max = 0
        self.fsync_slow = 0
        self.fsync_warn_s = 1.0
        # Pre-fetched metric objects: a hook is one attribute load plus an int add.
        self._read_latency = m.summary("readlatency")
        self._update_latency = m.summary("updatelatency")
        self._fsync_time = m.summary("fsynctime")
        self._batch_size = m.summary("sync_processor_batch_size")
        self._sync_time = m.summary("sync_process_time")
        self._flush_time = m.summary("sync_processor_queue_flush_time_ms")
        self._propagation = m.summary("propagation_latency")
        self._sync_queued = m.counter("sync_processor_request_queued")
        self._response_bytes = m.counter("response_bytes")
        self._stale_expired = m.counter("stale_sessions_expired")
        self._read_ns = m.summary_set("read_per_namespace")
        self._write_ns = m.summary_set("write_per_namespace")
        self._watch_summaries: dict[int, Summary] = {
            EventType.NODE_CREATED: m.summary("node_created_watch_count"),
            EventType.NODE_DELETED: m.summary("node_deleted_watch_count"),
            EventType.NODE_DATA_CHANGED: m.summary("node_changed_watch_count"),
            EventType.NODE_CHILDREN_CHANGED: m.summary("node_children_watch_count"),
        }
        self.bytes_received = m.counter("bytes_received_count")
        self.connection_requests = m.counter("connection_request_count")
        self.connection_rejected = m.counter("connection_rejected")
        self.connection_drops = m.counter("connection_drop_count")
        self.snapshot_time = m.summary("snapshottime")
        self.reset()

    def reset(self) -> None:
        """ServerStats.reset (srst): latency, packet counters, client response sizes."""
        self.packets_received = 0
        self.packets_sent = 0
        self.min_latency_ms = 0.0
        self.max_latency_ms = 0.0
        self.total_latency_ms = 0.0
        self.latency_count = 0
        # BufferStats: -1 until the first response
        self.response_last = self.response_min = self.response_max = -1

    # -- session expiry: one source for the old int field and the Java counter ---------------
    @property
    def sessions_expired(self) -> int:
        return self._stale_expired.value

    @sessions_expired.setter
    def sessions_expired(self, value: int) -> None:
        self._stale_expired.value = value

    # -- request completion (ServerStats.updateLatency + updateClientResponseSize) ------------
    def record_latency(self, ms: float, write: bool = False) -> None:
        if self.latency_count == 0 or ms < self.min_latency_ms:
            self.min_latency_ms = ms
        if ms > self.max_latency_ms:
            self.max_latency_ms = ms
        self.total_latency_ms += ms
        self.latency_count += 1
        # Java's latencies are whole elapsed milliseconds.
        (self._update_latency if write else self._read_latency).add(int(ms))

    def record_response(self, size: int) -> None:
        """A reply of `size` bytes (header + body, no length prefix) was sent."""
        self.response_last = size
        if self.response_min < 0 or size < self.response_min:
            self.response_min = size
        if size > self.response_max:
            self.response_max = size
        self._response_bytes.value += size

    @property
    def avg_latency_ms(self) -> float:
        return self.total_latency_ms / self.latency_count if self.latency_count else 0.0

    # -- the commit loop (SyncRequestProcessor / FileTxnLog.commit) -------------------------
    def record_fsync(self, seconds: float, batch: int) -> None:
        self.fsync_count += 1
        self.fsync_total_s += seconds
        self.fsync_max_s = max(self.fsync_max_s, seconds)
        if seconds > self.fsync_warn_s:
            self.fsync_slow += 1
        self.txn_count += batch
        self.batch_max = max(self.batch_max, batch)
        ms = int(seconds * 1000)
        self._fsync_time.add(ms)
        self._flush_time.add(ms)
        self._sync_time.add(ms)
        self._batch_size.add(batch)
        self._sync_queued.value += batch

    # -- per-namespace traffic and watch fan-out (DataTree.updateReadStat/updateWriteStat,
    #    WatchManager.triggerWatch) ---------------------------------------------------------
    def record_read(self, req: Request, err: int, body: bytes) -> None:
        """A read answered from the tree. Sizes are derived from the encoded reply body."""
        if err != 0:
            return
        op = req.op
        if op == OP_GET_DATA:
            extra = len(body) - 4 - _STAT_WIRE  # buffer length prefix + data + Stat
        elif op == OP_EXISTS:
            extra = 0
        elif op == OP_GET_CHILDREN or op == OP_GET_CHILDREN2:
            count = int.from_bytes(body[:4], "big", signed=True)
            tail = _STAT_WIRE if op == OP_GET_CHILDREN2 else 0
            extra = len(body) - 4 - 4 * max(count, 0) - tail  # sum of child name lengths
        else:
            return
        path = req.record.path
        if len(path) < 2:
            return
        end = path.find("/", 1)  # PathUtils.getTopNamespace (valid paths), inline
        self._read_ns.add(path[1:] if end < 0 else path[1:end],
                          len(path) + max(extra, 0) + STAT_OVERHEAD_BYTES)

    def record_write(self, hdr: r.TxnHeaderRecord, result: TxnResult, tree: DataTree) -> None:
        """A txn was applied: per-namespace write sizes, watch fan-out, propagation latency."""
        for rc in (result,) if result.multi is None else result.multi:
            path = rc.path
            if rc.err or path is None or rc.op not in _WRITE_OPS or len(path) < 2:
                continue
            end = path.find("/", 1)  # PathUtils.getTopNamespace (valid paths), inline
            ns = path[1:] if end < 0 else path[1:end]
            size = 0
            if rc.stat is not None:
                size = rc.stat[8]  # dataLength of the node the txn wrote
            elif rc.op not in _DELETES:
                n = tree.nodes.get(path)
                data = n.data if n is not None else None
                size = len(data) if data else 0
            self._write_ns.add(ns, len(path) + size)
        events = result.events
        if events:
            fanout: dict[tuple[int, str], int] = {}
            for _, ev in events:
                key = (ev.type, ev.path)
                fanout[key] = fanout.get(key, 0) + 1
            summaries = self._watch_summaries
            for (etype, _), count in fanout.items():
                s = summaries.get(etype)
                if s is not None:
                    s.add(count)
        latency = int(time.time() * 1000) - hdr.time
        if latency >= 0:
            self._propagation.add(latency)
