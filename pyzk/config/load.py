"""Turn zoo.cfg entries (file, environment, embedded default) into a validated Config.

Mirrors QuorumPeerConfig.parseProperties -> setupQuorumPeerConfig (parseDynamicConfig, setupMyId,
setupClientPort, setupPeerType, checkValidity), reporting each problem with its file and line.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyzk.config.dynamic import read_dynamic_file, read_next_file
from pyzk.config.keys import BY_NAME, Key, Status, lookup, parse_value
from pyzk.config.model import (
    ALL_FOUR_LETTER_WORDS,
    DEFAULT_PROVIDER,
    NULL_PROVIDER,
    PROMETHEUS_PROVIDER,
    Config,
    ConfigError,
    LearnerType,
    Membership,
    MultiAddressSettings,
    QuorumServer,
    TlsSettings,
)
from pyzk.config.properties import (
    PropertiesSyntaxError,
    decode_config_bytes,
    java_trim,
    parse_properties,
)
from pyzk.config.servers import (
    ServerLineError,
    add_group_or_weight,
    parse_server,
    parse_server_id,
)
from pyzk.sasl.quorum import QuorumSaslSettings
from pyzk.sasl.quorum import build as build_quorum_sasl
from pyzk.sasl.settings import SecurityConfigError, SecuritySettings
from pyzk.sasl.settings import build as build_security
from pyzk.zab.quorum import QuorumConfigError, make_quorum


@dataclass(frozen=True)
class Entry:
    """One key's value and where it came from (file + line, or an environment variable)."""

    value: str
    source: str
    line: int | None = None


def read_entries(path: Path) -> dict[str, Entry]:
    """Load a zoo.cfg; later duplicates replace earlier ones, as in java.util.Properties."""
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path} file is missing", name) from None
    except OSError as e:
        raise ConfigError(f"Error processing {path}: {e.strerror}", name) from None
    try:
        props = parse_properties(decode_config_bytes(data))
    except PropertiesSyntaxError as e:
        raise ConfigError(e.message, name, e.line) from None
    entries: dict[str, Entry] = {}
    for p in props:
        key = java_trim(p.key)
        entries.pop(key, None)  # keep file order of the surviving (last) occurrence
        entries[key] = Entry(p.value, name, p.line)
    return entries


class _Builder:
    """Accumulates typed values for one build_config call."""

    def __init__(self, entries: Mapping[str, Entry], source_name: str) -> None:
        self.entries = entries
        self.source_name = source_name
        self.values: dict[str, Any] = {}
        self.lines: dict[str, Entry] = {}
        self.servers: dict[int, QuorumServer] = {}
        self.auth_providers: dict[str, str] = {}
        self.server_keys: list[str] = []
        self.warnings: list[str] = []

    def error(self, message: str, key: str | None = None) -> ConfigError:
        entry = self.entries.get(key) if key else None
        if entry is None:
            return ConfigError(message, self.source_name, None, key)
        return ConfigError(message, entry.source, entry.line, key)

    def get(self, name: str) -> Any:
        return self.values.get(name, BY_NAME[name].default)

    def is_set(self, name: str) -> bool:
        return name in self.values

    def take(self, name: str, entry: Entry) -> None:
        spec = lookup(name)
        if spec is None:
            hint = difflib.get_close_matches(name, list(BY_NAME), n=1, cutoff=0.75)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise self.error(f"unknown key '{name}'{extra}", name)
        value = java_trim(entry.value)
        try:
            typed = parse_value(spec, name, value)
        except ValueError as e:
            msg = str(e)
            if not msg.startswith("Invalid option"):
                msg = f"invalid value '{value}' for {name}: {msg}"
            raise self.error(msg, name) from None
        if spec.check is not None:
            problem = spec.check(typed)
            if problem:
                raise self.error(f"{name} {problem} (got '{value}')", name)
        self._special(name, spec, typed, value)

    def _special(self, name: str, spec: Key, typed: Any, value: str) -> None:
        if spec.name == "server.N":
            self.server_keys.append(name)
            return
        if spec.name == "authProvider.N":
            self.auth_providers[name.split(".", 1)[1]] = typed
            return
        if spec.status is Status.REFUSED and typed != spec.default:
            raise self.error(f"{name}={value} is not supported by pyzk ({spec.doc})", name)
        if spec.status is Status.INERT:
            self.warnings.append(f"{name} has no effect in pyzk ({spec.doc})")
            return
        if name == "electionAlg" and typed != 3:
            raise self.error("Invalid electionAlg value. Only 3 is supported.", name)
        if name == "peerType":
            if typed.lower() not in ("observer", "participant"):
                raise self.error(f"Unrecognised peertype: {typed}", name)
            typed = LearnerType(typed.lower())
        if name == "metricsProvider.className" and typed not in (
                PROMETHEUS_PROVIDER, DEFAULT_PROVIDER, NULL_PROVIDER):
            raise self.error("metrics provider class was not found", name)
        self.values[name] = typed


def _whitelist(spec: str, read_only: bool) -> frozenset[str]:
    """FourLetterCommands.isEnabled: comma list, '*' = all, srvr always, isro with read-only."""
    words: set[str] = set()
    for item in spec.split(","):
        word = item.strip()
        if word == "*":
            words |= ALL_FOUR_LETTER_WORDS
            break
        if word:
            words.add(word)
    if read_only:
        words.add("isro")
    words.add("srvr")
    return frozenset(words)


def _tls_settings(b: _Builder, base: Path, prefix: str = "ssl.",
                  needed_by: str = "secureClientPort") -> TlsSettings:
    """X509Util.createSSLContextAndOptionsFromConfig's inputs: the secure client port's
    (ssl.*) or the quorum's (ssl.quorum.*). Java only warns about a missing keystore and then
    fails every handshake; pyzk refuses to start instead, naming the key."""
    def path(name: str) -> Path | None:
        value = b.values.get(prefix + name, "")
        return base / value if value else None

    key_store = path("keyStore.location")
    if key_store is None:
        raise b.error(f"{needed_by} is set but {prefix}keyStore.location is not", needed_by)
    protocol = b.get(prefix + "protocol")
    enabled = b.values.get(prefix + "enabledProtocols")
    suites = b.values.get(prefix + "ciphersuites")
    quorum = prefix == "ssl.quorum."
    return TlsSettings(
        key_store=key_store,
        key_store_password=b.get(prefix + "keyStore.password"),
        key_store_password_path=path("keyStore.passwordPath"),
        key_store_type=b.get(prefix + "keyStore.type").upper(),
        trust_store=path("trustStore.location"),
        trust_store_password=b.get(prefix + "trustStore.password"),
        trust_store_password_path=path("trustStore.passwordPath"),
        trust_store_type=b.get(prefix + "trustStore.type").upper(),
        protocol=protocol,
        enabled_protocols=tuple(enabled.split(",")) if enabled is not None else (protocol,),
        cipher_suites=tuple(suites.split(",")) if suites is not None else None,
        client_auth=(b.get(prefix + "clientAuth") or "need").lower(),
        x509_super_user=None if quorum else b.values.get("X509AuthenticationProvider.superUser"),
        hostname_verification=bool(b.get("ssl.quorum.hostnameVerification")) if quorum else False,
        handshake_detection_timeout_ms=int(b.get("ssl.quorum.handshakeDetectionTimeoutMillis")),
    )


def _admin_tls(b: _Builder, base: Path, quorum_tls: TlsSettings | None) -> TlsSettings | None:
    """JettyAdminServer's stores when HTTPS is asked for: the ssl.quorum.* ones. Without a
    keystore Java's AdminServer fails to construct and the server runs without it, so this is
    not a configuration error here either."""
    if not (b.get("admin.forceHttps") or b.get("admin.portUnification")):
        return None
    if quorum_tls is not None:
        return quorum_tls
    if not b.values.get("ssl.quorum.keyStore.location"):
        return None
    return _tls_settings(b, base, "ssl.quorum.", "admin.forceHttps")


NETTY_FACTORY = "org.apache.zookeeper.server.NettyServerCnxnFactory"


def _client_port_unification(b: _Builder, client_port: int, factory: str) -> bool:
    """client.portUnification is read by NettyServerCnxnFactory only: with Java's default NIO
    factory (serverCnxnFactory, otherwise inert in pyzk) the key does nothing, and there is
    nothing to unify without a clientPort."""
    if not b.get("client.portUnification") or not client_port:
        return False
    if factory != NETTY_FACTORY:
        b.warnings.append("client.portUnification is ignored: only serverCnxnFactory="
                          "org.apache.zookeeper.server.NettyServerCnxnFactory reads it")
        return False
    return True


def _read_myid(data_dir: Path, b: _Builder) -> int | None:
    """setupMyId: dataDir/myid, first line, a decimal long; absent is fine for standalone."""
    path = data_dir / "myid"
    if not path.is_file():
        return None
    text = path.read_text(errors="replace").splitlines()
    first = text[0].strip() if text else ""
    try:
        return int(first)
    except ValueError:
        raise b.error(f"serverid {first} is not a number (in {path})", "dataDir") from None


def _security(b: _Builder, base: Path, secure_port: int,
              props: Mapping[str, str] | None) -> SecuritySettings:
    """Client SASL, super users, enforce.auth and the digest provider (pyzk.sasl.settings)."""
    values = dict(b.values)
    if "pyzk.jaas.loginConfig" in values:
        jaas = values["pyzk.jaas.loginConfig"]
        values["pyzk.jaas.loginConfig"] = jaas if jaas.startswith(("=", "file:")) else \
            str(base / jaas)
    try:
        return build_security(values, b.auth_providers, secure_port, props)
    except SecurityConfigError as e:
        raise b.error(str(e), e.key) from None


def _quorum_sasl(b: _Builder, base: Path,
                 props: Mapping[str, str] | None) -> QuorumSaslSettings | None:
    """quorum.auth.* (pyzk.sasl.quorum): QuorumPeerConfig's checks and the JAAS sections."""
    values: dict[str, Any] = {k: b.get(k) for k in (
        "quorum.auth.enableSasl", "quorum.auth.serverRequireSasl",
        "quorum.auth.learnerRequireSasl", "quorum.auth.server.saslLoginContext",
        "quorum.auth.learner.saslLoginContext", "quorum.auth.kerberos.servicePrincipal")}
    jaas = b.values.get("pyzk.jaas.loginConfig")
    if jaas is not None:
        values["pyzk.jaas.loginConfig"] = jaas if jaas.startswith(("=", "file:")) else \
            str(base / jaas)
    hosts = frozenset(s.host for s in b.servers.values())
    try:
        return build_quorum_sasl(values, props, hosts)
    except SecurityConfigError as e:
        raise b.error(str(e), e.key) from None


def _multi_address(b: _Builder, jvm_props: Mapping[str, str] | None) -> MultiAddressSettings:
    """QuorumServer parses `|` lines only under the zookeeper.multiAddress.enabled system
    property (Boolean.parseBoolean: "true" in any case), whatever zoo.cfg says."""
    prop = (jvm_props or {}).get("zookeeper.multiAddress.enabled", "")
    return MultiAddressSettings(
        enabled=b.get("multiAddress.enabled"), lines=prop.lower() == "true",
        check_enabled=b.get("multiAddress.reachabilityCheckEnabled"),
        check_timeout_ms=b.get("multiAddress.reachabilityCheckTimeoutMs"))


def _server_lines(b: _Builder, norm: Mapping[str, Entry], multi_lines: bool) -> None:
    """zoo.cfg's own server.N lines (QuorumMaj(Properties) -> new QuorumServer)."""
    for key in b.server_keys:
        try:
            sid = parse_server_id(key)
            b.servers[sid] = parse_server(sid, java_trim(norm[key].value), multi_lines)
        except ServerLineError as e:
            raise b.error(str(e), key) from None


def build_config(entries: Mapping[str, str | Entry], *, source_name: str = "zoo.cfg",
                 workdir: Path | None = None, myid: int | None = None,
                 source: Path | None = None,
                 jvm_props: Mapping[str, str] | None = None) -> Config:
    """Validate entries (key -> value or Entry) into a Config. Raises ConfigError."""
    norm: dict[str, Entry] = {}
    for k, v in entries.items():
        norm[java_trim(k)] = v if isinstance(v, Entry) else Entry(v, source_name)
    b = _Builder(norm, source_name)
    for name, entry in norm.items():
        b.take(name, entry)
    base = Path.cwd() if workdir is None else Path(workdir)

    multi = _multi_address(b, jvm_props)
    # --- parseProperties' checks, in Java's order ---
    if not b.is_set("dataDir"):
        raise b.error("dataDir is not set")
    data_dir = base / b.get("dataDir")
    data_log_dir = base / b.get("dataLogDir") if b.is_set("dataLogDir") else data_dir
    client_port = b.get("clientPort")
    client_address = b.values.get("clientPortAddress")
    if client_port == 0 and client_address is not None:
        raise b.error("clientPortAddress is set but clientPort is not set", "clientPortAddress")
    secure_port = b.get("secureClientPort")
    if secure_port == 0 and b.is_set("secureClientPortAddress"):
        raise b.error("secureClientPortAddress is set but secureClientPort is not set",
                      "secureClientPortAddress")
    factory_name = java_trim(norm["serverCnxnFactory"].value) if "serverCnxnFactory" in norm else ""
    client_unification = _client_port_unification(b, client_port, factory_name)
    tls = _tls_settings(b, base, needed_by="secureClientPort" if secure_port else
                        "client.portUnification") if secure_port or client_unification else None
    ssl_quorum, port_unification = bool(b.get("sslQuorum")), bool(b.get("portUnification"))
    quorum_tls = (_tls_settings(b, base, "ssl.quorum.",
                                "sslQuorum" if ssl_quorum else "portUnification")
                  if ssl_quorum or port_unification else None)
    tick = b.get("tickTime")
    if tick == 0:
        raise b.error("tickTime is not set", "tickTime")
    if tick < 0:
        raise b.error(f"tickTime must be positive (got {tick})", "tickTime")
    min_to = b.get("minSessionTimeout")
    max_to = b.get("maxSessionTimeout")
    min_to = tick * 2 if min_to == -1 else min_to
    max_to = tick * 20 if max_to == -1 else max_to
    if min_to > max_to:
        where = "minSessionTimeout" if b.is_set("minSessionTimeout") else "maxSessionTimeout"
        raise b.error("minSessionTimeout must not be larger than maxSessionTimeout", where)
    retain = b.get("autopurge.snapRetainCount")
    if retain < 3:
        b.warnings.append(f"Invalid autopurge.snapRetainCount: {retain}. Defaulting to 3")
        retain = 3
    snap_count = b.get("snapCount")
    if snap_count < 2:
        b.warnings.append("SnapCount should be 2 or more. Now, snapCount is reset to 2")
        snap_count = 2
    commit_log_count = b.get("commitLogCount")
    if commit_log_count < 500:  # ZKDatabase: DEFAULT_COMMIT_LOG_COUNT is also the minimum
        b.warnings.append(f"The configured commitLogCount {commit_log_count} is less than the "
                          "recommended 500, going to use the recommended one")
        commit_log_count = 500

    # --- parseDynamicConfig: server.N lines, here or in the dynamicConfigFile ---
    standalone_enabled = b.get("standaloneEnabled")
    dynamic_file: Path | None = None
    config_version = 0
    next_config: Membership | None = None
    groups: dict[int, tuple[int, ...]] = {}
    weights: dict[int, int] = {}
    if b.is_set("dynamicConfigFile"):
        if b.server_keys:
            key = b.server_keys[0]
            raise b.error(f"parameter: {key} must be in a separate dynamic config file", key)
        dynamic_file = base / b.get("dynamicConfigFile")
        membership = read_dynamic_file(dynamic_file, multi.lines)
        b.servers.update(membership.servers)
        b.server_keys = [f"server.{sid}" for sid in membership.servers]
        config_version = membership.version
        groups, weights = membership.groups, membership.weights
        if source is not None:
            next_config = read_next_file(source, multi.lines)
    hier_keys = [k for k in b.values if k.startswith(("group", "weight"))]
    if dynamic_file is not None and hier_keys:
        raise b.error(f"parameter: {hier_keys[0]} must be in a separate dynamic config file",
                      hier_keys[0])
    if dynamic_file is None:
        _server_lines(b, norm, multi.lines)
    if dynamic_file is None and b.is_set("version"):
        # Backward-compatibility mode: the verifier built from zoo.cfg's own lines reads
        # `version` as its hex config version (QuorumMaj(Properties): Long.parseLong(v, 16)).
        text = java_trim(str(b.values["version"]))
        try:
            config_version = int(text, 16)
            if not -(2**63) <= config_version < 2**63 or not text.lstrip("+-").isalnum():
                raise ValueError(text)
        except ValueError:
            raise b.error(f"invalid hex version '{text}'", "version") from None
    if dynamic_file is None:
        groups, weights = {}, {}
        for key in hier_keys:
            try:
                add_group_or_weight(key, java_trim(str(b.values[key])), groups, weights)
            except ServerLineError as e:
                raise b.error(str(e), key) from None
    if groups or weights:
        try:  # QuorumHierarchical's own checks: one group each, every participant grouped
            make_quorum(b.servers, config_version, groups, weights)
        except QuorumConfigError as e:
            raise b.error(str(e), hier_keys[0] if hier_keys else None) from None
    voters = [s for s in b.servers.values() if not s.is_observer]
    observers = [s for s in b.servers.values() if s.is_observer]
    first_server = next(iter(b.server_keys), None)
    if not voters:
        if not standalone_enabled:
            raise b.error("standaloneEnabled = false then number of participants should be >0",
                          "standaloneEnabled")
        if observers:
            raise b.error("Observers w/o participants is an invalid configuration", first_server)
    elif len(voters) == 1 and standalone_enabled:
        b.warnings.append("Invalid configuration, only one server specified (ignoring)")
        if observers:
            raise b.error("Observers w/o quorum is an invalid configuration", first_server)
    elif len(voters) <= 2:
        b.warnings.append("No server failure will be tolerated. You need at least 3 servers.")
    elif len(voters) % 2 == 0:
        b.warnings.append("Non-optimal configuration, consider an odd number of servers.")

    # --- setupMyId / setupClientPort / setupPeerType ---
    my_id = myid if myid is not None else _read_myid(data_dir, b)
    me = b.servers.get(my_id) if my_id is not None else None
    if me is not None and me.client_port is not None and client_port:
        static_host = client_address or "0.0.0.0"
        wildcard = static_host in ("0.0.0.0", "::")
        if (not wildcard and (static_host, client_port) != (me.client_host, me.client_port)) or \
                (wildcard and client_port != me.client_port):
            raise b.error(
                f"client address for this server (id = {my_id}) in static config file is"
                f" {static_host}:{client_port} is different from client address found in"
                f" dynamic file: {me.client_host}:{me.client_port}", f"server.{my_id}")
    if me is not None and me.client_port is not None:
        client_port = me.client_port
        client_address = None if me.client_host in ("0.0.0.0", "::") else me.client_host
    elif me is not None and client_port:
        b.servers[my_id] = dataclasses.replace(  # type: ignore[index]
            me, client_host=client_address or "0.0.0.0", client_port=client_port,
            client_from_static=True)
    peer_type = b.get("peerType")
    if isinstance(peer_type, str):
        peer_type = LearnerType(peer_type)
    by_list = LearnerType.OBSERVER if (me is not None and me.is_observer) else \
        LearnerType.PARTICIPANT
    if by_list is not peer_type:
        b.warnings.append(f"Peer type from servers list ({by_list.value}) doesn't match peerType"
                          f" ({peer_type.value}). Defaulting to servers list.")
        peer_type = by_list

    # --- checkValidity ---
    distributed = bool(b.servers) and (not standalone_enabled or len(voters) > 1)
    init_limit = b.get("initLimit")
    if distributed:
        if init_limit == 0:
            raise b.error("initLimit is not set")
        if b.get("syncLimit") == 0:
            raise b.error("syncLimit is not set")
        if my_id is None:
            raise b.error(f"myid file is missing (expected {data_dir / 'myid'} or --myid)")
        if my_id not in b.servers:
            raise b.error(f"My id {my_id} not in the peer list")
    elif client_port == 0 and secure_port == 0:
        # ZooKeeperServerMain.runFromConfig: "Either clientPort or secureClientPort needs to be set"
        raise b.error("clientPort is not set (a standalone server needs clientPort or"
                      " secureClientPort)")

    local_sessions = False
    for name in ("localSessionsEnabled", "localSessionsUpgradingEnabled"):
        if b.get(name):
            # Only the quorum session trackers have local sessions; standalone Java uses
            # SessionTrackerImpl, whose isLocalSessionsEnabled() is false whatever the config.
            if not distributed:
                b.warnings.append(f"{name}=true has no effect on a standalone server (as in Java)")
            elif name == "localSessionsEnabled":
                local_sessions = True
    read_only = b.get("readonlymode.enabled")
    raw = {k: java_trim(e.value) for k, e in norm.items()}
    return Config(
        data_dir=data_dir,
        data_log_dir=data_log_dir,
        tick_time_ms=tick,
        init_limit=init_limit,
        sync_limit=b.get("syncLimit"),
        connect_to_learner_master_limit=b.get("connectToLearnerMasterLimit") or init_limit,
        client_port=client_port,
        client_port_address=client_address,
        client_port_listen_backlog=b.get("clientPortListenBacklog"),
        secure_client_port=secure_port,
        secure_client_port_address=b.values.get("secureClientPortAddress"),
        tls=tls,
        client_port_unification=client_unification,
        client_port_netty=factory_name == NETTY_FACTORY,
        quorum_tls=quorum_tls,
        ssl_quorum=ssl_quorum,
        port_unification=port_unification,
        ssl_quorum_reload_cert_files=bool(b.get("sslQuorumReloadCertFiles")),
        max_client_cnxns=b.get("maxClientCnxns"),
        max_cnxns=b.get("maxCnxns"),
        min_session_timeout_ms=min_to,
        max_session_timeout_ms=max_to,
        jute_max_buffer=b.get("jute.maxbuffer"),
        servers=dict(sorted(b.servers.items())),
        config_version=config_version,
        dynamic_config_file=dynamic_file,
        next_config=next_config,
        quorum_groups=groups,
        oracle_path=str(base / b.values["oraclePath"]) if b.is_set("oraclePath") else None,
        quorum_weights=weights,
        my_id=my_id,
        peer_type=peer_type,
        standalone_enabled=standalone_enabled,
        reconfig_enabled=b.get("reconfigEnabled"),
        four_letter_whitelist=_whitelist(b.values.get("4lw.commands.whitelist", ""), read_only),
        admin_enable_server=b.get("admin.enableServer"),
        admin_server_address=b.get("admin.serverAddress"),
        admin_server_port=b.get("admin.serverPort"),
        admin_command_url=b.get("admin.commandURL"),
        admin_idle_timeout_ms=b.get("admin.idleTimeout"),
        admin_force_https=bool(b.get("admin.forceHttps")),
        admin_port_unification=bool(b.get("admin.portUnification")),
        admin_tls=_admin_tls(b, base, quorum_tls),
        metrics_provider_class_name=b.get("metricsProvider.className"),
        metrics_http_host=b.get("metricsProvider.httpHost"),
        metrics_http_port=b.get("metricsProvider.httpPort"),
        metrics_export_jvm_info=b.get("metricsProvider.exportJvmInfo"),
        autopurge_snap_retain_count=retain,
        autopurge_purge_interval_hours=b.get("autopurge.purgeInterval"),
        snap_count=snap_count,
        snap_size_limit_kb=b.get("snapSizeLimitInKb"),
        pre_alloc_size_kb=b.get("preAllocSize"),
        force_sync=b.get("forceSync"),
        snapshot_compression=b.get("snapshot.compression.method").lower(),
        snapshot_trust_empty=b.get("snapshot.trust.empty"),
        txn_log_size_limit_kb=b.get("txnLogSizeLimitInKb"),
        large_request_max_bytes=b.get("largeRequestMaxBytes"),
        large_request_threshold=b.get("largeRequestThreshold"),
        enable_eager_acl_check=b.get("enableEagerACLCheck"),
        enforce_quota=b.get("enforceQuota"),
        audit_enable=b.get("audit.enable"),
        fsync_warning_threshold_ms=b.get("fsync.warningthresholdms"),
        global_outstanding_limit=b.get("globalOutstandingLimit"),
        max_batch_size=b.get("maxBatchSize"),
        flush_delay_ms=b.get("flushDelay"),
        max_write_queue_poll_ms=(b.get("maxWriteQueuePollTime")
                                 if b.is_set("maxWriteQueuePollTime")
                                 else b.get("flushDelay") // 3),
        commit_log_count=commit_log_count,
        skip_acl=b.get("skipACL"),
        extended_types=b.get("extendedTypesEnabled"),
        emulate_353_ttl_nodes=b.get("emulate353TTLNodes"),
        digest_enabled=b.get("digest.enabled"),
        election_alg=b.get("electionAlg"),
        election_port_bind_retry=b.get("electionPortBindRetry"),
        quorum_listen_on_all_ips=b.get("quorumListenOnAllIPs"),
        multi_address=multi,
        cnx_timeout_ms=b.get("cnxTimeout"),
        fle_min_notification_interval_ms=b.get("fastleader.minNotificationInterval"),
        fle_max_notification_interval_ms=b.get("fastleader.maxNotificationInterval"),
        quorum_cnxn_timeout_ms=b.get("quorumCnxnTimeoutMs"),
        observer_reconnect_delay_ms=b.get("observer.reconnectDelayMs"),
        observer_master_port=max(b.get("observerMasterPort"), 0),
        observer_election_delay_ms=b.get("observer.election.DelayMs"),
        sync_enabled=b.get("syncEnabled"),
        leader_serves=b.get("leaderServes"),
        read_only_mode=read_only,
        local_sessions_enabled=local_sessions,
        local_sessions_upgrading_enabled=bool(b.get("localSessionsUpgradingEnabled")),
        super_digest=b.get("DigestAuthenticationProvider.superDigest"),
        auth_providers=b.auth_providers,
        security=_security(b, base, secure_port, jvm_props),
        quorum_sasl=_quorum_sasl(b, base, jvm_props),
        container_check_interval_ms=b.get("znode.container.checkIntervalMs"),
        container_max_per_minute=b.get("znode.container.maxPerMinute"),
        container_max_never_used_ms=b.get("znode.container.maxNeverUsedIntervalMs"),
        tcp_keep_alive=b.get("tcpKeepAlive"),
        client_tcp_keep_alive=b.get("clientTcpKeepAlive"),
        log_format=b.get("pyzk.log.format"),
        linearizable_sync=b.get("pyzk.linearizableSync"),
        workers=_workers(b.get("pyzk.workers")),
        log_level={"WARN": "WARNING"}.get(b.get("pyzk.log.level").upper(),
                                          b.get("pyzk.log.level").upper()),
        source=source,
        raw=raw,
        warnings=tuple(b.warnings),
    )


def _workers(value: str) -> int:
    """pyzk.workers: a count, or auto = the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if value == "auto" else int(value)


def load_config(path: Path | str | None = None, *, myid: int | None = None,
                env: Mapping[str, str] | None = None, workdir: Path | None = None) -> Config:
    """Read zoo.cfg (or the embedded default when path is None), apply ZOO_*/ZOOKEEPER_*
    overrides from env when given, and validate. Raises ConfigError."""
    from pyzk.config.env import env_entries, env_myid, env_warnings  # local: imports keys only
    from pyzk.config.jvmflags import jvm_entries, jvm_properties

    if path is None:
        default = Config.default(workdir)
        entries: dict[str, Entry] = {k: Entry(v, "<embedded default>")
                                     for k, v in default.raw.items()}
        source_name, source = "<embedded default>", None
    else:
        source = Path(path)
        entries = read_entries(source)
        source_name = str(source)
    jvm_props = None
    if env is not None:
        # -D options first: a zoo.cfg line (or a ZOO_* variable) for the same key wins.
        for key, entry in jvm_entries(env).items():
            entries.setdefault(key, entry)
        jvm_props = jvm_properties(env)
        for key, entry in env_entries(env).items():
            entries.pop(key, None)
            entries[key] = entry
        if myid is None:
            myid = env_myid(env)
    config = build_config(entries, source_name=source_name, workdir=workdir, myid=myid,
                          source=source, jvm_props=jvm_props)
    if env is not None and (extra := env_warnings(env)):
        config = dataclasses.replace(config, warnings=(*config.warnings, *extra))
    return config
