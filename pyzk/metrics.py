"""ZooKeeper's server metrics (ServerMetrics.java names, DefaultMetricsProvider semantics) kept in
plain Python ints on the hot path, dumped in Java's mntr order, and exported to Prometheus at scrape
time through a prometheus-client collector (PrometheusMetricsProvider.java, simpleclient 0.9).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pyzk.metric_values import Counter, CounterSet, Summary, SummarySet
from pyzk.metrics_http import MetricsHttpServer

PROMETHEUS_CLASS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

# Orders below are Java's mntr order (ConcurrentHashMap iteration in DefaultMetricsProvider,
# captured from Java 3.8 in tests/golden/fourlw/serving/4lw/mntr.txt); the sets are
# ServerMetrics.java's registrations.
GAUGE_ORDER = (
    "ephemerals_count", "num_alive_connections", "avg_latency", "outstanding_requests",
    "znode_count", "global_sessions", "non_mtls_remote_conn_count", "last_client_response_size",
    "packets_sent", "packets_received", "max_client_response_size", "connection_drop_probability",
    "watch_count", "auth_failed_count", "min_latency", "max_file_descriptor_count",
    "approximate_data_size", "open_file_descriptor_count", "local_sessions", "uptime",
    "max_latency", "outstanding_tls_handshake", "min_client_response_size",
    "non_mtls_local_conn_count",
    # LeaderZooKeeperServer.registerMetrics (not captured from Java: appended in source order)
    "learners", "synced_followers", "synced_non_voting_followers", "synced_observers",
    "pending_syncs", "leader_uptime", "last_proposal_size", "max_proposal_size",
    "min_proposal_size",
)
COUNTERS = (
    "proposal_count", "watch_bytes", "outstanding_changes_removed", "throttled_ops",
    "stale_requests_dropped", "large_requests_rejected", "insecure_admin_count",
    "connection_rejected", "cnxn_closed_without_zk_server_running",
    "sessionless_connections_expired", "looking_count", "dead_watchers_queued", "stale_requests",
    "connection_drop_count", "learner_proposal_received_count", "digest_mismatches_count",
    "dead_watchers_cleared", "response_packet_cache_hits", "bytes_received_count",
    "add_dead_watcher_stall_time", "request_throttle_wait_count",
    "requests_not_forwarded_to_commit_processor", "response_packet_cache_misses",
    "ensemble_auth_success", "prep_processor_request_queued", "learner_commit_received_count",
    "stale_replies", "connection_request_count", "response_bytes", "ensemble_auth_fail",
    "diff_count", "response_packet_get_children_cache_misses", "connection_revalidate_count",
    "quit_leading_due_to_disloyal_voter", "snap_count", "unrecoverable_error_count",
    "unsuccessful_handshake", "commit_count", "stale_sessions_expired",
    "response_packet_get_children_cache_hits", "sync_processor_request_queued",
    "outstanding_changes_queued", "request_commit_queued", "ensemble_auth_skip",
    "skip_learner_request_to_next_processor_count", "tls_handshake_exceeded", "revalidate_count",
)
BASIC_SUMMARIES = (
    "socket_closing_time", "proposal_process_time", "leader_unavailable_time",
    "node_created_watch_count", "session_queues_drained", "write_commit_proc_req_queued",
    "connection_token_deficit", "read_commit_proc_req_queued", "node_deleted_watch_count",
    "startup_txns_load_time", "sync_processor_queue_size", "follower_sync_time",
    "prep_processor_queue_size", "fsynctime", "inflight_snap_count",
    "reads_issued_from_session_queue", "learner_request_processor_queue_size", "snapshottime",
    "unavailable_time", "startup_txns_loaded", "reads_after_write_in_session_queue",
    "requests_in_session_queue", "write_commit_proc_issued", "prep_process_time",
    "pending_session_queue_size", "time_waiting_empty_pool_in_commit_processor_read_ms",
    "commit_process_time", "dbinittime", "inflight_diff_count", "netty_queued_buffer_capacity",
    "election_time", "commit_commit_proc_req_queued", "sync_processor_batch_size",
    "node_children_watch_count", "write_batch_time_in_commit_processor",
    "read_commit_proc_issued", "concurrent_request_processing_in_commit_processor",
    "observer_sync_time", "node_changed_watch_count", "sync_process_time",
    "startup_snap_load_time",
)
ADVANCED_SUMMARIES = (
    "prep_processor_queue_time_ms", "jvm_pause_time_ms", "close_session_prep_time",
    "read_commitproc_time_ms", "updatelatency", "local_write_committed_time_ms",
    "request_throttle_queue_time_ms", "readlatency", "quorum_ack_latency",
    "om_commit_process_time_ms", "read_final_proc_time_ms", "commit_propagation_latency",
    "dead_watchers_cleaner_latency", "write_final_proc_time_ms", "proposal_ack_creation_latency",
    "proposal_latency", "om_proposal_process_time_ms", "sync_processor_queue_and_flush_time_ms",
    "propagation_latency", "server_write_committed_time_ms", "sync_processor_queue_time_ms",
    "sync_processor_queue_flush_time_ms", "write_commitproc_time_ms",
)
BASIC_SUMMARY_SETS = ("read_per_namespace", "write_per_namespace", "learner_handler_qp_size")
ADVANCED_SUMMARY_SETS = ("learner_handler_qp_time_ms", "ack_latency")
COUNTER_SETS = ("quota_exceeded_error_per_namespace",)
class ServerMetrics:
    """Every ServerMetrics.java metric. Look a metric up once (`counter`, `summary`) and keep the
    object: its `add` is a couple of int operations, nothing touches prometheus-client."""

    def __init__(self) -> None:
        self.counters = {n: Counter(n) for n in COUNTERS}
        self.counter_sets = {n: CounterSet(n) for n in COUNTER_SETS}
        self.summaries = {n: Summary(n) for n in BASIC_SUMMARIES}
        self.summaries.update({n: Summary(n, True) for n in ADVANCED_SUMMARIES})
        self.summary_sets = {n: SummarySet(n) for n in BASIC_SUMMARY_SETS}
        self.summary_sets.update({n: SummarySet(n, True) for n in ADVANCED_SUMMARY_SETS})

    def counter(self, name: str) -> Counter:
        return self.counters[name]

    def summary(self, name: str) -> Summary:
        return self.summaries[name]

    def summary_set(self, name: str) -> SummarySet:
        return self.summary_sets[name]

    def reset_all(self) -> None:
        """DefaultMetricsProvider.resetAllValues (srst): counters to 0, summaries emptied."""
        for c in self.counters.values():
            c.value = 0
        # Sets keep their keys and zero each member (AvgMinMaxCounterSet/SimpleCounterSet.reset).
        for cs in self.counter_sets.values():
            for key in cs.by_key:
                cs.by_key[key] = 0
        for s in self.summaries.values():
            s.reset()
        for ss in self.summary_sets.values():
            for member in ss.by_key.values():
                member.reset()

    def dump(self) -> Iterator[tuple[str, Any]]:
        """DefaultMetricsContext.dump after the gauges: counters, counter sets, basic then
        advanced summaries, basic then advanced summary sets."""
        for c in self.counters.values():
            yield from c.values()
        for cs in self.counter_sets.values():
            yield from cs.values()
        for name in BASIC_SUMMARIES + ADVANCED_SUMMARIES:
            yield from self.summaries[name].values()
        for ss in self.summary_sets.values():
            yield from ss.values()


def ordered_gauges(gauges: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Gauges in Java's mntr order; unknown names keep their own order at the end."""
    known = [(k, gauges[k]) for k in GAUGE_ORDER if k in gauges]
    extra = [(k, v) for k, v in gauges.items() if k not in GAUGE_ORDER]
    return known + extra


# ---------------------------------------------------------------------------------------------
# Prometheus export


# (gather the worker processes' reports, the metrics over every process, forget the reports)
WholeServer = tuple[Callable[[], Awaitable[None]], Callable[[], "ServerMetrics"],
                    Callable[[], None]]


class ZooKeeperCollector(Collector):
    """Builds Java-named families at scrape time. Gauges come from `sample_gauges` (run on the
    server's event loop when `loop` is given, since scrapes arrive on the HTTP thread).

    Counters are exported as untyped: prometheus-client renames counter families to *_total,
    while Java's simpleclient 0.9 exports e.g. `commit_count` unsuffixed; the names matter more
    to dashboards than the TYPE line."""

    def __init__(self, metrics: ServerMetrics,
                 sample_gauges: Callable[[], Mapping[str, Any]],
                 loop: asyncio.AbstractEventLoop | None = None,
                 sample_gauge_sets: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
                 whole: WholeServer | None = None) -> None:
        self.metrics, self.sample_gauges, self.loop = metrics, sample_gauges, loop
        self.sample_gauge_sets = sample_gauge_sets
        # pyzk.workers: (gather every worker's report, then the metrics summed over all
        # processes, then forget the reports); sampled on the loop in one step.
        self.whole = whole

    def _sample(self) -> tuple[Mapping[str, Any], Mapping[str, Mapping[str, Any]], ServerMetrics]:
        def now() -> tuple[Mapping[str, Any], Mapping[str, Mapping[str, Any]], ServerMetrics]:
            sets = self.sample_gauge_sets() if self.sample_gauge_sets is not None else {}
            metrics = self.whole[1]() if self.whole is not None else self.metrics
            return self.sample_gauges(), sets, metrics

        loop = self.loop
        if loop is None or not loop.is_running() or _on_loop(loop):
            return now()

        async def hop() -> tuple[Mapping[str, Any], Mapping[str, Mapping[str, Any]],
                                 ServerMetrics]:
            if self.whole is None:
                return now()
            await self.whole[0]()
            try:
                return now()
            finally:
                self.whole[2]()
        return asyncio.run_coroutine_threadsafe(hop(), loop).result(timeout=10)

    def collect(self) -> Iterable[Metric]:
        gauges, gauge_sets, metrics = self._sample()
        for name, value in ordered_gauges(gauges):
            if isinstance(value, bool | int | float):
                yield GaugeMetricFamily(name, name, value=float(value))
        # PrometheusLabelledGaugeWrapper: one family per gauge set, labelled by "key".
        for name, values in gauge_sets.items():
            g = GaugeMetricFamily(name, name, labels=["key"])
            for key, value in values.items():
                g.add_metric([key], float(value))
            yield g
        for c in metrics.counters.values():
            m = Metric(c.name, c.name, "unknown")
            m.add_sample(c.name, {}, float(c.value))
            yield m
        for cs in metrics.counter_sets.values():
            m = Metric(cs.name, cs.name, "unknown")
            for key, v in cs.by_key.items():
                m.add_sample(cs.name, {"key": key}, float(v))
            yield m
        for s in metrics.summaries.values():
            yield _summary_family(s.name, [({}, s)])
        for ss in metrics.summary_sets.values():
            yield _summary_family(ss.name, [({"key": k}, s) for k, s in ss.by_key.items()],
                                  ss.advanced)


def _summary_family(name: str, parts: list[tuple[dict[str, str], Summary]],
                    advanced: bool | None = None) -> Metric:
    m = Metric(name, name, "summary")
    for labels, s in parts:
        adv = s.advanced if advanced is None else advanced
        # PrometheusSummary: 0.5 only for BASIC, 0.5/0.9/0.99 for ADVANCED; NaN with no samples
        # as Java's CKMS quantiles. Ours come from the uniform reservoir, not a 10-minute window.
        for q in ((0.5, 0.9, 0.99) if adv else (0.5,)):
            v = s.quantile(q) if s._res else float("nan")
            m.add_sample(name, {**labels, "quantile": str(q)}, v)
        m.add_sample(name + "_count", labels, float(s.count))
        m.add_sample(name + "_sum", labels, float(s.total))
    return m


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


# PrometheusMetricsProvider serves /metrics from a Jetty Server(InetSocketAddress): its
# ServerConnector drops a connection idle for 30 s (AbstractConnector's default idleTimeout).
METRICS_IDLE_TIMEOUT_S = 30.0


class PrometheusExporter:
    """The /metrics endpoint on httpHost:httpPort: Java's MetricsServlet mapping (at /metrics
    only) in pyzk.metrics_http's server, which holds every connection on one thread's event loop (as
    Jetty's selector) and renders on one more thread, so clients cannot add threads. A
    connection that sends nothing (or half a request) for idle_timeout_s is dropped, and a
    connection's errors are not printed as tracebacks."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int,
                 idle_timeout_s: float = METRICS_IDLE_TIMEOUT_S) -> None:
        self.registry, self.host, self.port = registry, host, port
        self.idle_timeout_s = idle_timeout_s
        self._server: MetricsHttpServer | None = None

    def start(self) -> None:
        server = MetricsHttpServer(self.registry, self.host, self.port, self.idle_timeout_s)
        server.start()
        self._server = server
        self.port = server.port  # resolves port 0 in tests

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def exporter_from_config(cfg: Mapping[str, str], metrics: ServerMetrics,
                         sample_gauges: Callable[[], Mapping[str, Any]],
                         loop: asyncio.AbstractEventLoop | None = None,
                         sample_gauge_sets: Callable[[], Mapping[str, Mapping[str, Any]]]
                         | None = None, whole: WholeServer | None = None
                         ) -> PrometheusExporter | None:
    """A (not yet started) exporter when zoo.cfg selects PrometheusMetricsProvider, else None.
    Keys: metricsProvider.className/.httpHost (0.0.0.0)/.httpPort (7000)/.exportJvmInfo (true)."""
    if cfg.get("metricsProvider.className", "").strip() != PROMETHEUS_CLASS:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ZooKeeperCollector(metrics, sample_gauges, loop, sample_gauge_sets,
                                         whole))
    if cfg.get("metricsProvider.exportJvmInfo", "true").strip().lower() == "true":
        # Java exports JVM/process families (DefaultExports); the process_* ones have Python twins.
        from prometheus_client import PlatformCollector, ProcessCollector
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    host = cfg.get("metricsProvider.httpHost", "0.0.0.0").strip()
    port = int(cfg.get("metricsProvider.httpPort", "7000").strip())
    return PrometheusExporter(registry, host, port)
