"""The parsed configuration: ConfigError, QuorumServer (one server.N line) and the frozen Config.

Field names are snake_case versions of the zoo.cfg keys (QuorumPeerConfig.java, ServerConfig.java);
the key table in keys.py documents each key and whether pyzk honours it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pyzk.sasl.quorum import QuorumSaslSettings
from pyzk.sasl.settings import SecuritySettings

# Java FourLetterCommands.cmd2String (3.8.4); "*" enables all of these.
ALL_FOUR_LETTER_WORDS: frozenset[str] = frozenset({
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr",
    "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
})
# What Config.default() enables so that operators' usual health checks answer out of the box.
EMBEDDED_FOUR_LETTER_WORDS: frozenset[str] = frozenset(
    {"ruok", "stat", "srvr", "conf", "cons", "mntr", "isro"})

PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
DEFAULT_PROVIDER = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
NULL_PROVIDER = "org.apache.zookeeper.metrics.impl.NullMetricsProvider"


class ConfigError(Exception):
    """A configuration problem, located: `zoo.cfg:7: unknown key 'tickTme'`."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.source and self.line:
            return f"{self.source}:{self.line}: {self.message}"
        if self.source:
            return f"{self.source}: {self.message}"
        return self.message


class LearnerType(StrEnum):
    PARTICIPANT = "participant"
    OBSERVER = "observer"


@dataclass(frozen=True)
class Membership:
    """One configuration of the ensemble: server.N entries, group.G / weight.N of a
    hierarchical quorum (empty for a majority one) and the config version."""

    servers: dict[int, QuorumServer]
    version: int
    groups: dict[int, tuple[int, ...]] = field(default_factory=dict)
    weights: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QuorumServer:
    """One `server.N=host:quorumPort:electionPort[:type][;[clientHost:]clientPort]` entry
    (QuorumPeer.QuorumServer). client_host is "0.0.0.0" when only a port is given."""

    sid: int
    host: str
    quorum_port: int
    election_port: int
    learner_type: LearnerType = LearnerType.PARTICIPANT
    client_host: str | None = None
    client_port: int | None = None
    # True when the client address came from clientPort/clientPortAddress, not from the line:
    # then, like Java's toString, it is left out of the dynamic-config text.
    client_from_static: bool = False
    # multiAddress.enabled: the `|`-joined addresses after the first, (host, quorum, election)
    # each. host/quorum_port/election_port stay the first one, so single-address code is as is.
    more_addresses: tuple[tuple[str, int, int], ...] = ()

    @property
    def is_observer(self) -> bool:
        return self.learner_type is LearnerType.OBSERVER

    @property
    def addresses(self) -> tuple[tuple[str, int, int], ...]:
        """Every (host, quorumPort, electionPort) of the line, in the line's order."""
        return ((self.host, self.quorum_port, self.election_port), *self.more_addresses)

    @property
    def quorum_addrs(self) -> list[tuple[str, int]]:
        """MultipleAddresses addr: distinct (host, quorumPort), a set in Java."""
        return list(dict.fromkeys((h, q) for h, q, _ in self.addresses))

    @property
    def election_addrs(self) -> list[tuple[str, int]]:
        return list(dict.fromkeys((h, e) for h, _, e in self.addresses))

    def same_addresses(self, other: QuorumServer) -> bool:
        """MultipleAddresses.equals: the address sets, not their order on the line."""
        return set(self.quorum_addrs) == set(other.quorum_addrs) and \
            set(self.election_addrs) == set(other.election_addrs)

    def config_string(self) -> str:
        """The value Java writes for this server in /zookeeper/config and `conf`
        (QuorumServer.toString): host:q:e[|host:q:e...]:type[;clientHost:clientPort].
        Java sorts the quorum and the election addresses by host, each list on its own
        (a stable sort), and pairs them up again by position."""
        def bracket(h: str) -> str:
            return f"[{h}]" if ":" in h else h
        quorum = sorted(self.quorum_addrs, key=lambda a: a[0])
        election = sorted(self.election_addrs, key=lambda a: a[0])
        addrs = "|".join(f"{bracket(h)}:{q}:{e[1]}" for (h, q), e in zip(quorum, election, strict=True))
        text = f"{addrs}:{self.learner_type.value}"
        if self.client_port is not None and not self.client_from_static:
            chost = self.client_host or "0.0.0.0"
            chost = f"[{chost}]" if ":" in chost else chost
            text += f";{chost}:{self.client_port}"
        return text


@dataclass(frozen=True)
class MultiAddressSettings:
    """multiAddress.* (QuorumPeerConfig, defaults from the zookeeper.multiAddress.* system
    properties). `enabled` chooses the V2 election handshake and the reachability checks;
    whether `|` server lines parse at all is the system property alone (`lines`), as
    QuorumServer reads it and never the zoo.cfg key."""

    enabled: bool = False
    lines: bool = False
    check_enabled: bool = True
    check_timeout_ms: int = 1000


@dataclass(frozen=True)
class TlsSettings:
    """The client port's TLS settings (ClientX509Util's ssl.* keys), validated but not yet
    loaded: pyzk.server.tls reads the stores when a TLS-speaking client port starts."""

    key_store: Path
    key_store_password: str = ""
    key_store_password_path: Path | None = None
    key_store_type: str = ""  # "" = from the file extension (KeyStoreFileType.fromFilename)
    trust_store: Path | None = None
    trust_store_password: str = ""
    trust_store_password_path: Path | None = None
    trust_store_type: str = ""
    protocol: str = "TLSv1.2"  # X509Util.DEFAULT_PROTOCOL
    enabled_protocols: tuple[str, ...] = ("TLSv1.2",)  # default: [protocol]
    cipher_suites: tuple[str, ...] | None = None  # None = X509Util's default list
    client_auth: str = "need"  # need | want | none
    x509_super_user: str | None = None
    # Quorum TLS only (QuorumX509Util): check peers' certificates against their addresses,
    # and how long a unified listener waits for the first 5 bytes.
    hostname_verification: bool = True
    handshake_detection_timeout_ms: int = 5000


@dataclass(frozen=True)
class Config:
    """Everything pyzk reads from zoo.cfg (plus environment overrides), validated."""

    data_dir: Path
    data_log_dir: Path
    tick_time_ms: int = 3000
    init_limit: int = 0
    sync_limit: int = 0
    connect_to_learner_master_limit: int = 0
    client_port: int = 0  # 0 = no plaintext listener
    client_port_address: str | None = None  # None = all interfaces
    client_port_listen_backlog: int = -1
    secure_client_port: int = 0  # 0 = no TLS listener
    secure_client_port_address: str | None = None  # None = all interfaces
    # The ssl.* stores: set exactly when secure_client_port or client_port_unification is.
    tls: TlsSettings | None = None
    # client.portUnification (with the Netty factory): clientPort also accepts TLS clients.
    client_port_unification: bool = False
    # serverCnxnFactory names NettyServerCnxnFactory: clientPort behaves as Java's Netty
    # factory where it differs from NIO (no clientTcpKeepAlive, maxCnxns refusals log less).
    client_port_netty: bool = False
    # Quorum TLS: the ssl.quorum.* stores (set when sslQuorum or portUnification is), TLS
    # dialled between members (sslQuorum) and TLS + plaintext accepted (portUnification).
    quorum_tls: TlsSettings | None = None
    ssl_quorum: bool = False
    port_unification: bool = False
    ssl_quorum_reload_cert_files: bool = False  # rebuild the quorum contexts on store changes
    max_client_cnxns: int = 60
    max_cnxns: int = 0
    min_session_timeout_ms: int = 6000
    max_session_timeout_ms: int = 60000
    jute_max_buffer: int = 0xFFFFF
    servers: dict[int, QuorumServer] = field(default_factory=dict)
    # The membership's version (QuorumVerifier.getVersion): from the dynamic file's name, else 0.
    config_version: int = 0
    dynamic_config_file: Path | None = None
    # `<zoo.cfg>.dynamic.next` at boot: a proposed config not known to be committed
    # (QuorumPeerConfig.lastSeenQuorumVerifier), as (servers, version).
    next_config: Membership | None = None
    # Hierarchical quorums (group.G=1:2:3, weight.N=W): empty for a majority quorum.
    quorum_groups: dict[int, tuple[int, ...]] = field(default_factory=dict)
    quorum_weights: dict[int, int] = field(default_factory=dict)
    oracle_path: str | None = None  # oraclePath (QuorumOracleMaj)
    my_id: int | None = None
    peer_type: LearnerType = LearnerType.PARTICIPANT
    standalone_enabled: bool = True
    reconfig_enabled: bool = False
    four_letter_whitelist: frozenset[str] = frozenset({"srvr"})
    admin_enable_server: bool = True
    admin_server_address: str = "0.0.0.0"
    admin_server_port: int = 8080
    admin_command_url: str = "/commands"
    admin_idle_timeout_ms: int = 30000
    # admin.forceHttps (HTTPS only) / admin.portUnification (HTTP and HTTPS on one port): the
    # AdminServer's certificate comes from the ssl.quorum.* stores, as JettyAdminServer reads
    # them (QuorumX509Util); None when they are not set (the AdminServer then does not start).
    admin_force_https: bool = False
    admin_port_unification: bool = False
    admin_tls: TlsSettings | None = None
    metrics_provider_class_name: str = DEFAULT_PROVIDER
    metrics_http_host: str = "0.0.0.0"
    metrics_http_port: int = 7000
    metrics_export_jvm_info: bool = True
    autopurge_snap_retain_count: int = 3
    autopurge_purge_interval_hours: int = 0
    snap_count: int = 100000
    snap_size_limit_kb: int = 4194304
    pre_alloc_size_kb: int = 65536
    force_sync: bool = True
    snapshot_compression: str = ""  # "", "gz" or "snappy" (snapshot.compression.method)
    snapshot_trust_empty: bool = False
    txn_log_size_limit_kb: int = -1
    large_request_max_bytes: int = 100 * 1024 * 1024
    large_request_threshold: int = -1
    enable_eager_acl_check: bool = False
    enforce_quota: bool = False
    audit_enable: bool = False
    fsync_warning_threshold_ms: int = 1000
    global_outstanding_limit: int = 1000
    max_batch_size: int = 1000
    flush_delay_ms: int = 0
    max_write_queue_poll_ms: int = 0  # default flushDelay / 3
    commit_log_count: int = 500
    skip_acl: bool = False
    extended_types: bool = False
    emulate_353_ttl_nodes: bool = False  # zookeeper.emulate353TTLNodes
    digest_enabled: bool = True
    election_alg: int = 3
    election_port_bind_retry: int = 3
    quorum_listen_on_all_ips: bool = False
    multi_address: MultiAddressSettings = field(default_factory=lambda: MultiAddressSettings())
    cnx_timeout_ms: int = 5000
    fle_min_notification_interval_ms: int = 200    # zookeeper.fastleader.minNotificationInterval
    fle_max_notification_interval_ms: int = 60000  # zookeeper.fastleader.maxNotificationInterval
    quorum_cnxn_timeout_ms: int = -1
    observer_reconnect_delay_ms: int = 0
    observer_master_port: int = 0  # > 0: followers serve observers there (ObserverMaster)
    observer_election_delay_ms: int = 200
    sync_enabled: bool = True
    leader_serves: bool = True
    read_only_mode: bool = False
    local_sessions_enabled: bool = False
    local_sessions_upgrading_enabled: bool = False  # an ephemeral create upgrades a local one
    super_digest: str | None = None
    auth_providers: dict[str, str] = field(default_factory=dict)
    # Client SASL, super users, enforce.auth, digest provider (pyzk.sasl.settings).
    security: SecuritySettings = field(default_factory=SecuritySettings)
    quorum_sasl: QuorumSaslSettings | None = None  # quorum.auth.enableSasl
    container_check_interval_ms: int = 60000
    container_max_per_minute: int = 10000
    container_max_never_used_ms: int = 0
    tcp_keep_alive: bool = False
    client_tcp_keep_alive: bool = False
    log_format: str = "auto"
    linearizable_sync: bool = True
    # pyzk.workers: client-serving processes (1: this process only; pyzk/server/workers)
    workers: int = 1
    log_level: str = "INFO"
    source: Path | None = None
    # Original key -> value (after environment overrides), in file order, for `conf`/icfg.
    raw: dict[str, str] = field(default_factory=dict)
    # Non-fatal findings Java logs as WARN/ERROR while parsing; the CLI logs them.
    warnings: tuple[str, ...] = ()

    @property
    def voting_members(self) -> Mapping[int, QuorumServer]:
        return {sid: s for sid, s in self.servers.items() if not s.is_observer}

    @property
    def observers(self) -> Mapping[int, QuorumServer]:
        return {sid: s for sid, s in self.servers.items() if s.is_observer}

    @property
    def is_distributed(self) -> bool:
        """QuorumPeerConfig.isDistributed: replicated mode when standalone is disabled or there
        is more than one voter; otherwise QuorumPeerMain runs a standalone server."""
        if not self.servers:
            return False
        return (not self.standalone_enabled) or len(self.voting_members) > 1

    @property
    def metrics_enabled(self) -> bool:
        return self.metrics_provider_class_name == PROMETHEUS_PROVIDER

    @property
    def me(self) -> QuorumServer | None:
        return self.servers.get(self.my_id) if self.my_id is not None else None

    @classmethod
    def default(cls, workdir: Path | None = None) -> Config:
        """The embedded standalone default used by `pyzk` with no arguments: clientPort 2181,
        tickTime 2000 (the upstream sample's value), dataDir <workdir>/data, maxClientCnxns 60,
        Java's other defaults (AdminServer on 8080), and 4LW ruok/stat/srvr/conf/cons/mntr/isro
        enabled (upstream's default is srvr only; see EMBEDDED_FOUR_LETTER_WORDS)."""
        from pyzk.config.load import build_config  # local: load imports this module

        base = Path.cwd() if workdir is None else Path(workdir)
        entries = {
            "tickTime": "2000",
            "dataDir": str(base / "data"),
            "clientPort": "2181",
            "maxClientCnxns": "60",
            "4lw.commands.whitelist": ",".join(sorted(EMBEDDED_FOUR_LETTER_WORDS)),
        }
        return build_config(entries, source_name="<embedded default>", workdir=base)
