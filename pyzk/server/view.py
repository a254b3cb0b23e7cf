"""The live ServerView: what the four-letter words, AdminServer and metrics read from a server.

Computed on access from the running ZkServer, so commands always see current values.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..fourlw.info import (
    DEFAULT_TRACE_MASK,
    ConfInfo,
    ConnectionInfo,
    QuorumInfo,
    ServerStatsInfo,
)
from ..tree.quota import gauge_sets as quota_gauge_sets
from .tls import TlsClientConn
from .workers import report

if TYPE_CHECKING:
    from ..metrics import ServerMetrics
    from .connection import ClientConn
    from .zkserver import ZkServer

# zookeeper.nio.sessionlessCnxnTimeout default: the connection expiry queue's interval.
SESSIONLESS_CNXN_TIMEOUT = 10000
# srvr/stat "Zookeeper version", mntr zk_version, envi/AdminServer zookeeper.version. Java's
# format is "3.8.0-<git commit>, built on <date>"; tools (kazoo's server_version, Curator,
# zkServer.sh, Kafka's logs) parse the leading x.y.z, so it names the Apache ZooKeeper release
# whose behaviour pyzk follows (3.8.0, README "Compatibility notes"), and pyzk's own version
# stands where Java's commit id does.
ZK_COMPAT_VERSION = "3.8.0"
VERSION = f"{ZK_COMPAT_VERSION}-pyzk-{__version__}, built on 2026-11-24 00:00 UTC"


def _dir_size(path: Path) -> int:
    total = 0
    try:
        for entry in os.scandir(path):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat().st_size
    except OSError:
        return 0
    return total


def _fd_counts() -> tuple[int, int]:
    try:
        open_fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_fds = 0
    try:
        import resource

        max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError):
        max_fds = 0
    return open_fds, max_fds


def _is_tls(conn: ClientConn) -> bool:
    return isinstance(conn, TlsClientConn)


class LiveView:
    # pyzk.workers: the worker processes' reports (pyzk/server/workers/report.py), fetched by
    # gather() before each command so that it describes the whole server; and the words a
    # reset command sends on to them.
    remote: Sequence[report.Report] = ()
    gatherer: Callable[[], Awaitable[list[report.Report]]] | None = None
    on_reset: Callable[[str], None] | None = None

    def __init__(self, server: ZkServer, metrics: ServerMetrics | None = None) -> None:
        self.server = server
        # One ServerMetrics per server (held by its ServerStats): mntr, the AdminServer
        # `monitor` and /metrics all read it.
        self._metrics: ServerMetrics | None = (metrics if metrics is not None
                                               else server.stats.metrics)
        self.trace_mask = DEFAULT_TRACE_MASK
        self.started_wall_ms = int(time.time() * 1000)

    async def gather(self) -> None:
        self.remote = await self.gatherer() if self.gatherer is not None else ()

    def _own_metrics(self) -> ServerMetrics | None:
        return self._metrics

    @property
    def metrics(self) -> ServerMetrics | None:
        own = self._own_metrics()
        if own is None or not self.remote:
            return own
        return report.metrics(own, self.remote)

    @metrics.setter
    def metrics(self, value: ServerMetrics | None) -> None:
        self._metrics = value

    # -- identity and state ---------------------------------------------------------------
    @property
    def is_serving(self) -> bool:
        return self.server.serving

    @property
    def version(self) -> str:
        return VERSION

    @property
    def is_read_only(self) -> bool:
        return False

    @property
    def peer_state(self) -> str | None:
        return None

    @property
    def quorum(self) -> QuorumInfo | None:
        return None

    @property
    def proposal_sizes(self) -> tuple[int, int, int] | None:
        return None

    @property
    def node_count(self) -> int:
        return self.server.tree.node_count()

    # -- statistics -----------------------------------------------------------------------
    def _outstanding(self) -> int:
        return sum(len(c.queue) for c in self.server.conns) + report.total(self.remote,
                                                                            "outstanding")

    def _connection_count(self) -> int:
        return len(self.server.conns) + sum(len(r["plain"]) + len(r["secure"])
                                            for r in self.remote)

    @property
    def stats(self) -> ServerStatsInfo:
        s = self.server.stats
        cfg = self.server.config
        avg, lo, hi = report.latency(s, self.remote)
        last, rmin, rmax = report.responses(s, self.remote)
        return ServerStatsInfo(
            packets_sent=s.packets_sent + report.total(self.remote, "packets", 0),
            packets_received=s.packets_received + report.total(self.remote, "packets", 1),
            fsync_threshold_exceed_count=s.fsync_slow,
            client_response_last=last,
            client_response_min=rmin,
            client_response_max=rmax,
            data_dir_size=_dir_size(cfg.data_dir / "version-2"),
            log_dir_size=_dir_size(cfg.data_log_dir / "version-2"),
            server_state="standalone",
            last_processed_zxid=self.server.tree.last_processed_zxid,
            outstanding_requests=self._outstanding(),
            avg_latency=round(avg, 4),
            max_latency=int(hi),
            min_latency=int(lo),
            num_alive_client_connections=self._connection_count(),
            uptime=int((time.monotonic() - s.started) * 1000),
            auth_failed_count=s.auth_failed + report.total(self.remote, "auth_failed"),
        )

    def reset_stats(self) -> None:
        self.server.stats.reset()
        own = self._own_metrics()
        if own is not None:
            own.reset_all()
        if self.on_reset is not None:
            self.on_reset("srst")

    def reset_connection_stats(self) -> None:
        for c in self.server.conns:
            c.reset_stats()
        if self.on_reset is not None:
            self.on_reset("crst")

    def set_trace_mask(self, mask: int) -> None:
        self.trace_mask = mask

    # -- connections and sessions ---------------------------------------------------------
    def _conn_info(self, c: ClientConn) -> ConnectionInfo:
        host, _, port = c.peer.rpartition(":")
        n = max(c.reply_count, 1)
        return ConnectionInfo(
            host=host, port=int(port or 0), interest_ops=0 if c.transport is None else 1,
            outstanding_requests=len(c.queue), packets_received=c.packets_received,
            packets_sent=c.packets_sent, session_id=c.session_id if c.established else 0,
            last_operation=c.last_op, established=int(c.established_at * 1000),
            session_timeout=c.timeout_ms, last_cxid=c.last_cxid, last_zxid=c.last_zxid,
            last_response_time=int(c.last_response * 1000),
            last_latency=int(c.last_latency_ms), min_latency=int(c.min_latency_ms),
            avg_latency=int(c.total_latency_ms / n), max_latency=int(c.max_latency_ms))

    @property
    def connections(self) -> Sequence[ConnectionInfo]:
        """The plain client port's connections (the 4LW factory); TLS ones are listed apart."""
        return ([self._conn_info(c) for c in list(self.server.conns) if not _is_tls(c)]
                + report.connections(self.remote, "plain"))

    @property
    def secure_connections(self) -> Sequence[ConnectionInfo]:
        return ([self._conn_info(c) for c in list(self.server.conns) if _is_tls(c)]
                + report.connections(self.remote, "secure"))

    @property
    def session_expiry(self) -> Sequence[tuple[int, Sequence[int]]]:
        return self.server.sessions.buckets()

    @property
    def local_session_expiry(self) -> Sequence[tuple[int, Sequence[int]]] | None:
        local = self.server.local
        return local.buckets() if local is not None else None

    @property
    def learner_sessions(self) -> Sequence[tuple[int, int]] | None:
        writes = self.server.writes
        if writes is None or not writes.forwards:
            return None  # standalone or leader: the expiry buckets
        return list(self.server.sessions.timeouts().items())

    @property
    def connection_expiry(self) -> Sequence[tuple[int, Sequence[ConnectionInfo]]]:
        """NIOServerCnxnFactory's cnxnExpiryQueue: each connection expires its session timeout
        (sessionlessCnxnTimeout before a session exists) after its last activity, rounded up to
        the next sessionlessCnxnTimeout interval (ExpiryQueue.roundToNextInterval)."""
        buckets: dict[int, list[ConnectionInfo]] = {}
        off = self.wall_minus_elapsed_ms  # the dump adds it back to every bucket time
        for c in list(self.server.conns):
            last = int(max(c.established_at, c.last_response) * 1000) - off
            timeout = c.timeout_ms if c.established and c.timeout_ms else SESSIONLESS_CNXN_TIMEOUT
            at = ((last + timeout) // SESSIONLESS_CNXN_TIMEOUT + 1) * SESSIONLESS_CNXN_TIMEOUT
            buckets.setdefault(at, []).append(self._conn_info(c))
        return report.expiry(sorted(buckets.items()), self.remote)

    @property
    def wall_minus_elapsed_ms(self) -> int:
        # Session buckets are kept in elapsed ms (the server's monotonic clock).
        return self.server.clock.wall_ms() - self.server.clock.mono_ms()

    @property
    def ephemerals(self) -> Mapping[int, Sequence[str]]:
        return {sid: sorted(p) for sid, p in self.server.tree.ephemerals.items()}

    @property
    def data_watches(self) -> Mapping[int, Sequence[str]]:
        out: dict[int, list[str]] = {}
        for watcher, paths in self.server.tree.watches.by_watcher().items():
            # a null path (addWatch takes one) prints as Java's PrintWriter prints it
            out.setdefault(getattr(watcher, "session_id", 0), []).extend(
                "null" if p is None else p for p in paths)
        return report.watches(out, self.remote) if self.remote else out

    # -- configuration --------------------------------------------------------------------
    @property
    def conf(self) -> ConfInfo:
        cfg = self.server.config
        return ConfInfo(
            client_port=cfg.client_port, secure_client_port=cfg.secure_client_port or -1,
            data_dir=str(cfg.data_dir / "version-2"),
            data_log_dir=str(cfg.data_log_dir / "version-2"),
            tick_time=cfg.tick_time_ms, max_client_cnxns=cfg.max_client_cnxns,
            min_session_timeout=cfg.min_session_timeout_ms,
            max_session_timeout=cfg.max_session_timeout_ms,
            client_port_listen_backlog=cfg.client_port_listen_backlog,
            server_id=cfg.my_id or 0)

    @property
    def initial_config(self) -> str:
        return "".join(f"{k}={v}\n" for k, v in self.server.config.raw.items())

    @property
    def env(self) -> Sequence[tuple[str, str]]:
        cwd = os.getcwd()
        return [
            ("zookeeper.version", VERSION),
            ("host.name", socket.gethostname()),
            ("java.version", f"python-{platform.python_version()}"),
            ("java.vendor", platform.python_implementation()),
            ("java.home", sys.prefix),
            ("java.class.path", os.pathsep.join(sys.path)),
            ("java.library.path", ""),
            ("java.io.tmpdir", os.environ.get("TMPDIR", "/tmp")),
            ("java.compiler", "<NA>"),
            ("os.name", platform.system()),
            ("os.arch", platform.machine()),
            ("os.version", platform.release()),
            ("user.name", os.environ.get("USER", "")),
            ("user.home", os.path.expanduser("~")),
            ("user.dir", cwd),
            ("os.memory.free", "0MB"),
            ("os.memory.max", "0MB"),
            ("os.memory.total", "0MB"),
        ]

    @property
    def system_properties(self) -> Mapping[str, str]:
        return dict(self.env)

    @property
    def digests(self) -> Sequence[tuple[int, int]]:
        """DataTree.getDigestLog: (zxid, digest) every 128 zxids, oldest first."""
        return [(zd.zxid, zd.digest) for zd in self.server.tree.digests.log]

    @property
    def last_snapshot(self) -> tuple[int, int] | None:
        return self.server.storage.last_snapshot

    # -- quota gauge sets (QuotaMetricsUtils) ----------------------------------------------
    @property
    def gauge_sets(self) -> Mapping[str, Mapping[str, int | float]]:
        return quota_gauge_sets(self.server.tree.nodes)

    # -- mntr gauges ----------------------------------------------------------------------
    @property
    def monitor_gauges(self) -> Mapping[str, int | float | str | None]:
        srv = self.server
        s = srv.stats
        tree = srv.tree
        open_fds, max_fds = _fd_counts()
        remote = self.remote
        avg, lo, hi = report.latency(s, remote)
        last, rmin, rmax = report.responses(s, remote)
        return {
            "ephemerals_count": tree.ephemeral_count(),
            "num_alive_connections": self._connection_count(),
            "avg_latency": round(avg, 4),
            "outstanding_requests": self._outstanding(),
            "znode_count": tree.node_count(),
            "global_sessions": len(srv.sessions.sessions),
            "non_mtls_remote_conn_count": 0,
            "last_client_response_size": last,
            "packets_sent": s.packets_sent + report.total(remote, "packets", 0),
            "packets_received": s.packets_received + report.total(remote, "packets", 1),
            "max_client_response_size": rmax,
            "connection_drop_probability": 0.0,
            "watch_count": tree.watches.watch_count() + report.total(remote, "watch_count"),
            "auth_failed_count": s.auth_failed + report.total(remote, "auth_failed"),
            "min_latency": int(lo),
            "max_file_descriptor_count": max_fds,
            "approximate_data_size": tree.approximate_data_size(),
            "open_file_descriptor_count": open_fds,
            "local_sessions": len(srv.local.sessions) if srv.local is not None else 0,
            "uptime": int((time.monotonic() - s.started) * 1000),
            "max_latency": int(hi),
            "outstanding_tls_handshake": 0,
            "min_client_response_size": rmin,
            "non_mtls_local_conn_count": 0,
        }

