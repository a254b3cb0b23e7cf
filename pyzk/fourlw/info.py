"""What the four-letter words and AdminServer commands read from a server: the `ServerView`
protocol (read-only attributes plus three actions) and `ServerSnapshot`, a plain dataclass form
of it used by tests and by callers that prefer to hand over a frozen copy.

Field meanings follow Java: ServerStats.java, ServerCnxn.getConnectionInfo, ZooKeeperServer
dumpConf/getConf, DataTree watches/ephemerals, SessionTrackerImpl/ExpiryQueue dumps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pyzk.metrics import ServerMetrics

DEFAULT_TRACE_MASK = 306  # ZooTrace: CLIENT_REQUEST | SESSION | CLIENT_PING... default text mask


@dataclass
class ConnectionInfo:
    """One client connection, as ServerCnxn.dumpConnectionInfo / getConnectionInfo show it."""
    host: str
    port: int
    interest_ops: int = 1            # NIO interest set: 1 = OP_READ, 5 = read|write, 0 = none
    outstanding_requests: int = 0
    packets_received: int = 0
    packets_sent: int = 0
    session_id: int = 0              # 0 until the session is established
    last_operation: str = "NA"       # Request.op2String short name, e.g. "GETD", "PING"
    established: int = 0             # wall-clock epoch ms when the connection was made
    session_timeout: int = 0
    last_cxid: int = -1
    last_zxid: int = -1
    last_response_time: int = 0      # Java uses elapsed (monotonic) ms here
    last_latency: int = 0
    min_latency: int = 0             # 0 when no responses yet (Java shows Long.MAX_VALUE as 0)
    avg_latency: int = 0             # integer division in Java
    max_latency: int = 0


@dataclass
class ServerStatsInfo:
    """ServerStats plus its Provider; the JSON field order is Jackson's for ServerStats."""
    packets_sent: int = 0
    packets_received: int = 0
    fsync_threshold_exceed_count: int = 0
    client_response_last: int = -1   # BufferStats: -1 until the first response
    client_response_min: int = -1
    client_response_max: int = -1
    data_dir_size: int = 0
    log_dir_size: int = 0
    server_state: str = "standalone"  # standalone|leader|follower|observer|read-only
    last_processed_zxid: int = 0
    outstanding_requests: int = 0
    avg_latency: float = 0.0         # AvgMinMaxCounter.getAvg: rounded to 4 decimals
    max_latency: int = 0
    min_latency: int = 0
    num_alive_client_connections: int = 0
    uptime: int = 0                  # ms since the server stats were created
    auth_failed_count: int = 0
    non_mtls_remote_conn_count: int = 0
    non_mtls_local_conn_count: int = 0


@dataclass
class QuorumConf:
    """Extra `conf` lines of QuorumZooKeeperServer.dumpConf."""
    init_limit: int = 10
    sync_limit: int = 5
    election_alg: int = 3
    election_ports: Sequence[int] = ()
    quorum_ports: Sequence[int] = ()
    peer_type: int = 0               # LearnerType ordinal: 0 participant, 1 observer
    membership: str = ""             # QuorumVerifier.toString(): "server.1=...\nversion=0"


@dataclass
class ConfInfo:
    client_port: int = 2181
    secure_client_port: int = -1
    data_dir: str = ""               # absolute snapshot dir (Java: .../version-2)
    data_log_dir: str = ""
    tick_time: int = 2000
    max_client_cnxns: int = 60
    min_session_timeout: int = 4000
    max_session_timeout: int = 40000
    client_port_listen_backlog: int = -1
    server_id: int = 0
    quorum: QuorumConf | None = None


@dataclass
class QuorumInfo:
    """What leader/zabstate/voting_view/observers show on a quorum member."""
    is_leader: bool = False
    leader_id: int = -1
    leader_ip: str = ""
    myid: int = 0
    quorum_address: str = ""
    election_address: str = ""
    client_address: str = ""
    voting: bool = True
    zabstate: str = "broadcast"
    voting_view: Mapping[int, Mapping[str, object]] = field(default_factory=dict)
    synced_observers: int = 0
    observers: Sequence[Mapping[str, object]] = ()


class ServerView(Protocol):
    """Everything the commands read. Attributes may be computed on access (properties)."""

    @property
    def is_serving(self) -> bool: ...
    @property
    def version(self) -> str: ...
    @property
    def is_read_only(self) -> bool: ...
    @property
    def stats(self) -> ServerStatsInfo: ...
    @property
    def node_count(self) -> int: ...
    @property
    def proposal_sizes(self) -> tuple[int, int, int] | None: ...   # leader: last/min/max
    @property
    def peer_state(self) -> str | None: ...   # quorum: QuorumPeer.getDetailedPeerState
    @property
    def connections(self) -> Sequence[ConnectionInfo]: ...
    @property
    def secure_connections(self) -> Sequence[ConnectionInfo]: ...
    @property
    def conf(self) -> ConfInfo: ...
    @property
    def session_expiry(self) -> Sequence[tuple[int, Sequence[int]]]: ...
    """(expiry time in elapsed ms, session ids) buckets, as SessionTrackerImpl's ExpiryQueue."""
    @property
    def local_session_expiry(self) -> Sequence[tuple[int, Sequence[int]]] | None: ...
    """The local sessions' buckets (localSessionsEnabled), else None."""
    @property
    def learner_sessions(self) -> Sequence[tuple[int, int]] | None: ...
    """A learner's global sessions as (id, timeout ms) (LearnerSessionTracker's
    globalSessionsWithTimeouts, which it dumps instead of expiry buckets); None elsewhere."""
    @property
    def connection_expiry(self) -> Sequence[tuple[int, Sequence[ConnectionInfo]]]: ...
    @property
    def wall_minus_elapsed_ms(self) -> int: ...   # converts elapsed-ms times to wall clock
    @property
    def ephemerals(self) -> Mapping[int, Sequence[str]]: ...
    @property
    def data_watches(self) -> Mapping[int, Sequence[str]]: ...
    """session id -> watched paths: DataTree.dataWatches only (wchc/wchp/wchs show no child
    watches), while `monitor_gauges['watch_count']` counts both kinds."""
    @property
    def monitor_gauges(self) -> Mapping[str, int | float | str | None]: ...
    @property
    def gauge_sets(self) -> Mapping[str, Mapping[str, int | float]]: ...
    """registerGaugeSet values (quota limits/usage per top namespace): set name -> key -> value."""
    @property
    def metrics(self) -> ServerMetrics | None: ...
    @property
    def env(self) -> Sequence[tuple[str, str]]: ...
    @property
    def digests(self) -> Sequence[tuple[int, int]]: ...   # (zxid, digest), oldest first
    @property
    def trace_mask(self) -> int: ...
    @property
    def initial_config(self) -> str: ...
    @property
    def last_snapshot(self) -> tuple[int, int] | None: ...   # (zxid, timestamp in seconds)
    @property
    def system_properties(self) -> Mapping[str, str]: ...
    @property
    def quorum(self) -> QuorumInfo | None: ...

    def reset_stats(self) -> None: ...
    def reset_connection_stats(self) -> None: ...
    def set_trace_mask(self, mask: int) -> None: ...


@dataclass
class ServerSnapshot:
    """A plain ServerView: every attribute a field, the actions mutate the fields."""
    is_serving: bool = True
    version: str = "3.8.0-pyzk, built on 1970-01-01 00:00 UTC"
    is_read_only: bool = False
    stats: ServerStatsInfo = field(default_factory=ServerStatsInfo)
    node_count: int = 5
    proposal_sizes: tuple[int, int, int] | None = None
    peer_state: str | None = None
    connections: Sequence[ConnectionInfo] = ()
    secure_connections: Sequence[ConnectionInfo] = ()
    conf: ConfInfo = field(default_factory=ConfInfo)
    session_expiry: Sequence[tuple[int, Sequence[int]]] = ()
    local_session_expiry: Sequence[tuple[int, Sequence[int]]] | None = None
    learner_sessions: Sequence[tuple[int, int]] | None = None
    connection_expiry: Sequence[tuple[int, Sequence[ConnectionInfo]]] = ()
    wall_minus_elapsed_ms: int = 0
    ephemerals: Mapping[int, Sequence[str]] = field(default_factory=dict)
    data_watches: Mapping[int, Sequence[str]] = field(default_factory=dict)
    monitor_gauges: Mapping[str, int | float | str | None] = field(default_factory=dict)
    gauge_sets: Mapping[str, Mapping[str, int | float]] = field(default_factory=dict)
    metrics: ServerMetrics | None = None
    env: Sequence[tuple[str, str]] = ()
    digests: Sequence[tuple[int, int]] = ()
    trace_mask: int = DEFAULT_TRACE_MASK
    initial_config: str = ""
    last_snapshot: tuple[int, int] | None = None
    system_properties: Mapping[str, str] = field(default_factory=dict)
    quorum: QuorumInfo | None = None

    def reset_stats(self) -> None:
        """ServerStats.reset: latency, packet counters, client response sizes, all metrics."""
        s = self.stats
        s.avg_latency, s.min_latency, s.max_latency = 0.0, 0, 0
        s.packets_received = s.packets_sent = 0
        s.client_response_last = s.client_response_min = s.client_response_max = -1
        if self.metrics is not None:
            self.metrics.reset_all()

    def reset_connection_stats(self) -> None:
        """ServerCnxn.resetStats on every connection."""
        for c in list(self.connections) + list(self.secure_connections):
            c.packets_received = c.packets_sent = 0
            c.min_latency = c.max_latency = c.avg_latency = c.last_latency = 0
            c.last_operation, c.last_cxid, c.last_zxid, c.last_response_time = "NA", -1, -1, 0

    def set_trace_mask(self, mask: int) -> None:
        self.trace_mask = mask


def default_env(version: str) -> list[tuple[str, str]]:
    """Environment.list's keys (envi / environment) filled from this Python process: the
    java.* keys describe the Python runtime, since tools only parse the key=value layout."""
    import getpass
    import os
    import platform
    import socket
    import sys
    import tempfile

    arch = {"x86_64": "amd64"}.get(platform.machine(), platform.machine())
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "<NA>"
    try:
        import resource
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    except ImportError:
        rss_mb = 0
    return [
        ("zookeeper.version", version), ("host.name", socket.getfqdn()),
        ("java.version", platform.python_version()),
        ("java.vendor", platform.python_implementation()), ("java.home", sys.prefix),
        ("java.class.path", os.pathsep.join(p for p in sys.path if p)),
        ("java.library.path", "<NA>"), ("java.io.tmpdir", tempfile.gettempdir()),
        ("java.compiler", "<NA>"), ("os.name", platform.system()), ("os.arch", arch),
        ("os.version", platform.release()), ("user.name", user),
        ("user.home", os.path.expanduser("~")), ("user.dir", os.getcwd()),
        ("os.memory.free", "0MB"), ("os.memory.max", f"{rss_mb}MB"),
        ("os.memory.total", f"{rss_mb}MB"),
    ]
