"""zoo.cfg semantics follow QuorumPeerConfig: defaults, server.N forms, myid, the whitelist, and
every problem is a ConfigError naming the file, line and key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pyzk.config import (
    ALL_FOUR_LETTER_WORDS,
    Config,
    ConfigError,
    LearnerType,
    QuorumServer,
    build_config,
    load_config,
    lookup,
    parse_server,
)
from pyzk.config.keys import KEYS, Status

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zoo.cfg"
    path.write_text(text)
    return path


def cfg(tmp_path: Path, text: str, **kw: object) -> Config:
    return load_config(write(tmp_path, text), **kw)  # type: ignore[arg-type]


def error(tmp_path: Path, text: str, **kw: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        cfg(tmp_path, text, **kw)
    return info.value


BASE = "dataDir={d}\nclientPort=2181\n"
QUORUM = ("dataDir={d}\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n"
          "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\n"
          "server.3=127.0.0.3:2888:3888\nclientPort=2181\n")


# --- defaults ---------------------------------------------------------------------------

def test_minimal_config_gets_java_defaults(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path))
    assert c.tick_time_ms == 3000  # ZooKeeperServer.DEFAULT_TICK_TIME
    assert (c.min_session_timeout_ms, c.max_session_timeout_ms) == (6000, 60000)
    assert c.data_log_dir == c.data_dir == tmp_path
    assert c.max_client_cnxns == 60 and c.max_cnxns == 0
    assert c.jute_max_buffer == 0xFFFFF
    assert c.four_letter_whitelist == frozenset({"srvr"})
    assert c.client_port_address is None
    assert c.servers == {} and c.my_id is None and not c.is_distributed
    assert c.force_sync and not c.skip_acl and c.digest_enabled and c.leader_serves
    assert (c.admin_enable_server, c.admin_server_port, c.admin_command_url) == (
        True, 8080, "/commands")
    assert c.snap_count == 100000 and c.pre_alloc_size_kb == 65536
    assert c.source == tmp_path / "zoo.cfg"
    assert c.raw == {"dataDir": str(tmp_path), "clientPort": "2181"}


def test_session_timeouts_derive_from_tick_time(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "tickTime=2000\n")
    assert (c.min_session_timeout_ms, c.max_session_timeout_ms) == (4000, 40000)


def test_commit_log_count_below_500_uses_500_as_zk_database_does(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "commitLogCount=100\n")
    assert c.commit_log_count == 500
    assert any("commitLogCount 100 is less than the recommended 500" in w for w in c.warnings)
    assert cfg(tmp_path, BASE.format(d=tmp_path) + "commitLogCount=800\n").commit_log_count == 800


def test_values_are_trimmed_like_quorum_peer_config(tmp_path: Path) -> None:
    c = cfg(tmp_path, f"dataDir = {tmp_path}   \nclientPort :  2182 \t\n")
    assert c.client_port == 2182 and c.data_dir == tmp_path


def test_last_duplicate_wins_like_java_properties(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "tickTime=1000\ntickTime=1500\n")
    assert c.tick_time_ms == 1500


def test_embedded_default_is_standalone_on_2181_with_operator_4lw(tmp_path: Path) -> None:
    c = Config.default(tmp_path)
    assert (c.client_port, c.tick_time_ms, c.max_client_cnxns) == (2181, 2000, 60)
    assert c.data_dir == tmp_path / "data"
    assert {"ruok", "stat", "srvr", "conf", "cons", "mntr", "isro"} == c.four_letter_whitelist
    assert load_config(None, workdir=tmp_path).client_port == 2181


@pytest.mark.parametrize("spec, expected", [
    ("", {"srvr"}),
    ("ruok", {"ruok", "srvr"}),
    ("stat, ruok , conf,isro", {"stat", "ruok", "conf", "isro", "srvr"}),
    ("*", ALL_FOUR_LETTER_WORDS),
    ("ruok,*", ALL_FOUR_LETTER_WORDS),
])
def test_four_letter_whitelist_follows_java_rules(tmp_path: Path, spec: str,
                                                  expected: set[str]) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + f"4lw.commands.whitelist={spec}\n")
    assert c.four_letter_whitelist == frozenset(expected)


def test_read_only_mode_adds_isro(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "readonlymode.enabled=true\n")
    assert c.read_only_mode and c.four_letter_whitelist == {"srvr", "isro"}


@pytest.mark.parametrize("line, field, value", [
    ("jute.maxbuffer=0x400000", "jute_max_buffer", 0x400000),
    ("jute.maxbuffer=4194304", "jute_max_buffer", 4194304),
    ("skipACL=yes", "skip_acl", True),
    ("forceSync=no", "force_sync", False),
    ("leaderServes=no", "leader_serves", False),
    ("extendedTypesEnabled=TRUE", "extended_types", True),
    ("digest.enabled=false", "digest_enabled", False),
    ("admin.enableServer=false", "admin_enable_server", False),
    ("admin.serverPort=9090", "admin_server_port", 9090),
    ("maxClientCnxns=0", "max_client_cnxns", 0),
    ("snapCount=5000", "snap_count", 5000),
    ("DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
     "super_digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
    ("znode.container.checkIntervalMs=1000", "container_check_interval_ms", 1000),
    ("pyzk.log.format=json", "log_format", "json"),
    ("pyzk.log.level=warn", "log_level", "WARNING"),
    ("metricsProvider.className="
     "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider", "metrics_enabled", True),
    ("metricsProvider.httpPort=7001", "metrics_http_port", 7001),
    ("clientPortAddress=127.0.0.5", "client_port_address", "127.0.0.5"),
    ("localSessionsEnabled=false", "local_sessions_enabled", False),
    ("snapshot.compression.method=SNAPPY", "snapshot_compression", "snappy"),
    ("snapshot.compression.method=gz", "snapshot_compression", "gz"),
    ("snapshot.trust.empty=true", "snapshot_trust_empty", True),
    ("txnLogSizeLimitInKb=0x100", "txn_log_size_limit_kb", 256),
    ("largeRequestThreshold=1024", "large_request_threshold", 1024),
    ("largeRequestMaxBytes=4096", "large_request_max_bytes", 4096),
    ("enableEagerACLCheck=true", "enable_eager_acl_check", True),
])
def test_honoured_keys_reach_config_fields(tmp_path: Path, line: str, field: str,
                                           value: object) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + line + "\n")
    assert getattr(c, field) == value


def test_auth_providers_are_collected(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path)
            + "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n")
    assert c.auth_providers == {"1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"}


def test_snap_retain_count_below_three_is_raised_with_a_warning(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "autopurge.snapRetainCount=1\n")
    assert c.autopurge_snap_retain_count == 3
    assert any("snapRetainCount" in w for w in c.warnings)


def test_inert_key_is_accepted_with_a_warning(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "maxResponseCacheSize=1000\n")
    assert any(w.startswith("maxResponseCacheSize has no effect") for w in c.warnings)


# --- server.N -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("zk1:2888:3888", QuorumServer(1, "zk1", 2888, 3888)),
    ("zk1:2888:3888:participant", QuorumServer(1, "zk1", 2888, 3888)),
    ("zk1:2888:3888:OBSERVER", QuorumServer(1, "zk1", 2888, 3888, LearnerType.OBSERVER)),
    ("zk1:2888:3888;2181", QuorumServer(1, "zk1", 2888, 3888, client_host="0.0.0.0",
                                        client_port=2181)),
    ("zk1:2888:3888:observer;10.0.0.1:2181",
     QuorumServer(1, "zk1", 2888, 3888, LearnerType.OBSERVER, "10.0.0.1", 2181)),
    ("[::1]:2888:3888;[::1]:2181", QuorumServer(1, "::1", 2888, 3888, client_host="::1",
                                               client_port=2181)),
])
def test_server_line_forms(value: str, expected: QuorumServer) -> None:
    assert parse_server(1, value) == expected


def test_server_config_string_matches_java_to_string() -> None:
    assert parse_server(1, "zk1:2888:3888").config_string() == "zk1:2888:3888:participant"
    assert parse_server(2, "zk2:2888:3888:observer;2181").config_string() == \
        "zk2:2888:3888:observer;0.0.0.0:2181"
    assert parse_server(3, "[::1]:2888:3888;[::1]:2181").config_string() == \
        "[::1]:2888:3888:participant;[::1]:2181"


@pytest.mark.parametrize("value, message", [
    ("zk1:2888", "does not have the form server_config"),
    ("zk1:2888:3888:observer:x", "does not have the form server_config"),
    ("zk1:2888:3888;a:b:c", "does not have the form server_config"),
    ("zk1:2888:3888;1;2", "does not have the form server_config"),
    ("zk1:x:3888", "Address unresolved: zk1:x"),
    ("zk1:2888:2888", "Client and election port must be different!"),
    ("zk1:2888:3888:voter", "Unrecognised peertype: voter"),
    ("a:1:2|b:1:2", "Multiple address feature is disabled"),
    ("[::1:2888:3888", "starts with '[' but has no matching ']:'"),
])
def test_bad_server_lines_fail_with_java_messages(tmp_path: Path, value: str,
                                                  message: str) -> None:
    err = error(tmp_path, BASE.format(d=tmp_path) + f"server.1={value}\n")
    assert message in err.message
    assert err.line == 3 and err.key == "server.1"


def test_non_numeric_server_id_is_rejected(tmp_path: Path) -> None:
    err = error(tmp_path, BASE.format(d=tmp_path) + "server.a=zk:1:2\n")
    assert str(err) == f"{tmp_path / 'zoo.cfg'}:3: invalid server id 'a' in 'server.a'"


def test_quorum_reads_myid_file_and_takes_client_port_from_static_config(tmp_path: Path) -> None:
    (tmp_path / "myid").write_text("2\n")
    c = cfg(tmp_path, QUORUM.format(d=tmp_path))
    assert c.is_distributed and c.my_id == 2 and c.me is not None
    assert c.me.client_port == 2181 and c.me.client_from_static
    assert c.me.config_string() == "127.0.0.2:2888:3888:participant"
    assert c.connect_to_learner_master_limit == 10  # defaults to initLimit
    assert sorted(c.servers) == [1, 2, 3]


def test_myid_argument_beats_the_file(tmp_path: Path) -> None:
    (tmp_path / "myid").write_text("2\n")
    assert cfg(tmp_path, QUORUM.format(d=tmp_path), myid=3).my_id == 3


def test_client_address_from_server_line_is_used(tmp_path: Path) -> None:
    text = QUORUM.format(d=tmp_path).replace("clientPort=2181\n", "").replace(
        "127.0.0.2:2888:3888", "127.0.0.2:2888:3888;127.0.0.2:2190")
    c = cfg(tmp_path, text, myid=2)
    assert (c.client_port, c.client_port_address) == (2190, "127.0.0.2")


def test_conflicting_static_and_server_line_client_ports_fail(tmp_path: Path) -> None:
    text = QUORUM.format(d=tmp_path).replace("127.0.0.2:2888:3888", "127.0.0.2:2888:3888;2190")
    err = error(tmp_path, text, myid=2)
    assert "is different from client address found in dynamic file" in err.message


def test_observer_membership_and_peer_type_warning(tmp_path: Path) -> None:
    text = QUORUM.format(d=tmp_path) + "server.4=127.0.0.4:2888:3888:observer\n"
    c = cfg(tmp_path, text, myid=4)
    assert c.peer_type is LearnerType.OBSERVER
    assert list(c.observers) == [4] and sorted(c.voting_members) == [1, 2, 3]
    assert any("Peer type from servers list" in w for w in c.warnings)


def test_single_server_line_runs_standalone_like_java(tmp_path: Path) -> None:
    c = cfg(tmp_path, BASE.format(d=tmp_path) + "server.1=127.0.0.1:2888:3888\n")
    assert not c.is_distributed
    assert "Invalid configuration, only one server specified (ignoring)" in c.warnings


def test_standalone_disabled_makes_one_server_a_quorum(tmp_path: Path) -> None:
    text = BASE.format(d=tmp_path) + ("standaloneEnabled=false\ninitLimit=5\nsyncLimit=2\n"
                                      "server.1=127.0.0.1:2888:3888\n")
    assert cfg(tmp_path, text, myid=1).is_distributed


# --- errors, each located -----------------------------------------------------------------

@pytest.mark.parametrize("extra, line, message", [
    ("tickTme=2000", 3, "unknown key 'tickTme' (did you mean 'tickTime'?)"),
    ("frobnicate=1", 3, "unknown key 'frobnicate'"),
    ("tickTime=2s", 3, "invalid value '2s' for tickTime: expected an integer"),
    ("tickTime=0", 3, "tickTime is not set"),
    ("maxClientCnxns=-1", 3, "maxClientCnxns must be at least 0 (got '-1')"),
    ("clientPort=70000", 2, None),
    ("syncEnabled=yes", 3, "Invalid option yes for syncEnabled. Choose 'true' or 'false.'"),
    ("skipACL=true", 3, "Invalid option true for skipACL. Choose 'yes' or 'no'."),
    ("admin.enableServer=False", 3, "Invalid option False for admin.enableServer."),
    ("electionAlg=1", 3, "Invalid electionAlg value. Only 3 is supported."),
    ("peerType=voter", 3, "Unrecognised peertype: voter"),
    ("secureClientPort=2281", 3, "secureClientPort is set but ssl.keyStore.location is not"),
    ("multiAddress.enabled=yes", 3, "Invalid option yes for multiAddress.enabled."),
    ("multiAddress.reachabilityCheckTimeoutMs=1s", 3,
     "invalid value '1s' for multiAddress.reachabilityCheckTimeoutMs"),
    ("sslQuorum=true", 3, "sslQuorum is set but ssl.quorum.keyStore.location is not"),
    ("group.1=1:2:3", 3, "Server 1 is in group 1 but not a participant"),
    ("metricsProvider.className=com.example.Nope", 3, "metrics provider class was not found"),
    ("pyzk.log.format=xml", 3, "pyzk.log.format must be one of console, json, auto"),
    ("jute.maxbuffer=big", 3, "invalid value 'big' for jute.maxbuffer"),
    ("snapshot.compression.method=lz4", 3,
     "snapshot.compression.method must be gz, snappy or empty (got 'lz4')"),
    ("snapshot.trust.empty=yes", 3, "Invalid option yes for snapshot.trust.empty"),
    ("txnLogSizeLimitInKb=1M", 3, "invalid value '1M' for txnLogSizeLimitInKb"),
    ("largeRequestThreshold=0", 3, "largeRequestThreshold must be -1 or positive (got '0')"),
    ("largeRequestMaxBytes=0", 3, "largeRequestMaxBytes must be at least 1 (got '0')"),
    ("observerMasterPort=2890x", 3, "invalid value '2890x' for observerMasterPort"),
    ("observerMasterPort=65536", 3, "must be a port number up to 65535"),
])
def test_bad_keys_and_values_name_file_line_and_key(tmp_path: Path, extra: str, line: int,
                                                    message: str | None) -> None:
    text = BASE.format(d=tmp_path)
    text = text.replace("clientPort=2181\n", extra + "\n") if extra.startswith("clientPort") \
        else text + extra + "\n"
    err = error(tmp_path, text)
    assert err.source == str(tmp_path / "zoo.cfg")
    assert err.line == line
    assert str(err).startswith(f"{tmp_path / 'zoo.cfg'}:{line}: ")
    assert err.key == extra.split("=")[0]
    if message:
        assert message in err.message


def test_message_format_matches_the_brief(tmp_path: Path) -> None:
    path = write(tmp_path, "# c\n" * 6 + "tickTme=1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:7: unknown key 'tickTme' (did you mean 'tickTime'?)"


@pytest.mark.parametrize("text, message", [
    ("clientPort=2181\n", "dataDir is not set"),
    ("dataDir=/x\nclientPortAddress=127.0.0.1\n", "clientPortAddress is set but clientPort is not set"),
    ("dataDir=/x\nclientPort=1\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n",
     "minSessionTimeout must not be larger than maxSessionTimeout"),
    ("dataDir=/x\n", "clientPort is not set"),
])
def test_java_validation_messages(tmp_path: Path, text: str, message: str) -> None:
    assert message in error(tmp_path, text).message


@pytest.mark.parametrize("drop, message", [
    ("initLimit=10\n", "initLimit is not set"),
    ("syncLimit=5\n", "syncLimit is not set"),
])
def test_quorum_requires_init_and_sync_limits(tmp_path: Path, drop: str, message: str) -> None:
    err = error(tmp_path, QUORUM.format(d=tmp_path).replace(drop, ""), myid=1)
    assert err.message == message


def test_quorum_without_myid_fails(tmp_path: Path) -> None:
    assert "myid file is missing" in error(tmp_path, QUORUM.format(d=tmp_path)).message


def test_myid_not_in_server_list_fails(tmp_path: Path) -> None:
    assert error(tmp_path, QUORUM.format(d=tmp_path), myid=9).message == \
        "My id 9 not in the peer list"


def test_garbage_myid_file_fails_like_java(tmp_path: Path) -> None:
    (tmp_path / "myid").write_text("one\n")
    assert "serverid one is not a number" in error(tmp_path, QUORUM.format(d=tmp_path)).message


def test_observers_without_quorum_fail(tmp_path: Path) -> None:
    text = BASE.format(d=tmp_path) + "server.1=a:1:2\nserver.2=b:1:2:observer\n"
    assert error(tmp_path, text).message == "Observers w/o quorum is an invalid configuration"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file is missing"):
        load_config(tmp_path / "nope.cfg")


def test_malformed_escape_is_located(tmp_path: Path) -> None:
    err = error(tmp_path, BASE.format(d=tmp_path) + "admin.commandURL=\\uZZZZ\n")
    assert err.line == 3 and "Malformed" in err.message


# --- the key table ------------------------------------------------------------------------

# Every key the 3.8.4 admin guide documents under "Configuration Parameters".
ADMIN_GUIDE_KEYS = """
clientPort secureClientPort observerMasterPort dataDir tickTime dataLogDir globalOutstandingLimit
preAllocSize snapCount commitLogCount snapSizeLimitInKb txnLogSizeLimitInKb maxCnxns
maxClientCnxns clientPortAddress minSessionTimeout maxSessionTimeout fsync.warningthresholdms
maxResponseCacheSize maxGetChildrenResponseCacheSize autopurge.snapRetainCount
autopurge.purgeInterval syncEnabled extendedTypesEnabled emulate353TTLNodes watchManagerName
watcherCleanThreadsNum watcherCleanThreshold watcherCleanIntervalInSeconds
maxInProcessingDeadWatchers bitHashCacheSize fastleader.minNotificationInterval
fastleader.maxNotificationInterval connectionMaxTokens connectionTokenFillTime
connectionTokenFillCount connectionFreezeTime connectionDropIncrease connectionDropDecrease
connectionDecreaseRatio zookeeper.connection_throttle_weight_enabled
zookeeper.connection_throttle_global_session_weight
zookeeper.connection_throttle_local_session_weight
zookeeper.connection_throttle_renew_session_weight clientPortListenBacklog serverCnxnFactory
flushDelay maxWriteQueuePollTime maxBatchSize enforceQuota requestThrottleLimit
requestThrottleStallTime requestThrottleDropStale requestStaleLatencyCheck
requestStaleConnectionCheck zookeeper.request_throttler.shutdownTimeout
advancedFlowControlEnabled enableEagerACLCheck maxConcurrentSnapSyncs maxConcurrentDiffSyncs
digest.enabled snapshot.compression.method snapshot.trust.empty audit.enable audit.impl.class
largeRequestMaxBytes largeRequestThreshold outstandingHandshake.limit
netty.server.earlyDropSecureConnectionHandshakes throttledOpWaitTime learner.closeSocketAsync
leader.closeSocketAsync learner.asyncSending forward_learner_requests_to_commit_processor_disabled
electionAlg maxTimeToWaitForEpoch initLimit connectToLearnerMasterLimit leaderServes server.1
syncLimit group.1 weight.1 cnxTimeout quorumCnxnTimeoutMs standaloneEnabled reconfigEnabled
4lw.commands.whitelist tcpKeepAlive clientTcpKeepAlive electionPortBindRetry
observer.reconnectDelayMs observer.election.DelayMs localSessionsEnabled
localSessionsUpgradingEnabled DigestAuthenticationProvider.enabled
DigestAuthenticationProvider.superDigest DigestAuthenticationProvider.digestAlg
X509AuthenticationProvider.superUser zookeeper.superUser ssl.authProvider
zookeeper.ensembleAuthName sessionRequireClientSASLAuth enforce.auth.enabled enforce.auth.schemes
sslQuorum ssl.keyStore.location ssl.quorum.keyStore.password ssl.trustStore.type ssl.clientAuth
client.portUnification authProvider.1 kerberos.removeHostFromPrincipal
kerberos.removeRealmFromPrincipal kerberos.canonicalizeHostNames multiAddress.enabled
multiAddress.reachabilityCheckTimeoutMs fips-mode readonlymode.enabled
zookeeper.follower.skipLearnerRequestToNextProcessor forceSync jute.maxbuffer
jute.maxbuffer.extrasize skipACL quorumListenOnAllIPs multiAddress.reachabilityCheckEnabled
zookeeper.nio.numSelectorThreads zookeeper.nio.numWorkerThreads
zookeeper.commitProcessor.numWorkerThreads zookeeper.commitProcessor.maxReadBatchSize
zookeeper.commitProcessor.maxCommitBatchSize znode.container.checkIntervalMs
znode.container.maxPerMinute znode.container.maxNeverUsedIntervalMs
zookeeper.messageTracker.BufferSize zookeeper.messageTracker.Enabled admin.forceHttps
admin.portUnification admin.enableServer admin.serverAddress admin.serverPort admin.idleTimeout
admin.commandURL metricsProvider.className metricsProvider.httpHost metricsProvider.httpPort
metricsProvider.exportJvmInfo metricsProvider.numWorkerThreads metricsProvider.maxQueueSize
metricsProvider.workerShutdownTimeoutMs
""".split()


def test_key_table_covers_every_documented_key() -> None:
    missing = [k for k in ADMIN_GUIDE_KEYS if lookup(k) is None]
    assert missing == []


def test_key_table_has_one_row_per_name_and_a_doc_for_each() -> None:
    names = [k.name for k in KEYS]
    assert len(names) == len(set(names))
    assert all(k.doc for k in KEYS)


HONOURED = """tickTime initLimit syncLimit connectToLearnerMasterLimit dataDir dataLogDir clientPort
clientPortAddress maxClientCnxns maxCnxns minSessionTimeout maxSessionTimeout jute.maxbuffer
server.1 peerType standaloneEnabled reconfigEnabled 4lw.commands.whitelist admin.enableServer
admin.serverAddress admin.serverPort admin.commandURL admin.idleTimeout metricsProvider.className
metricsProvider.httpHost metricsProvider.httpPort metricsProvider.exportJvmInfo
autopurge.snapRetainCount autopurge.purgeInterval snapCount snapSizeLimitInKb preAllocSize
forceSync fsync.warningthresholdms globalOutstandingLimit maxBatchSize flushDelay maxWriteQueuePollTime skipACL
extendedTypesEnabled digest.enabled electionAlg electionPortBindRetry quorumListenOnAllIPs
cnxTimeout syncEnabled leaderServes readonlymode.enabled DigestAuthenticationProvider.superDigest
quorumCnxnTimeoutMs observer.reconnectDelayMs observer.election.DelayMs observerMasterPort
audit.enable authProvider.1 znode.container.checkIntervalMs znode.container.maxPerMinute
znode.container.maxNeverUsedIntervalMs commitLogCount multiAddress.enabled
multiAddress.reachabilityCheckEnabled multiAddress.reachabilityCheckTimeoutMs
tcpKeepAlive clientTcpKeepAlive pyzk.log.format pyzk.log.level dynamicConfigFile
sessionRequireClientSASLAuth enforce.auth.enabled enforce.auth.schemes superUser superUser.1
allowSaslFailedClients sasl.serverconfig pyzk.jaas.loginConfig letAnySaslUserDoX
DigestAuthenticationProvider.enabled DigestAuthenticationProvider.digestAlg
SASLAuthenticationProvider.superPassword kerberos.removeHostFromPrincipal
kerberos.removeRealmFromPrincipal sslQuorumReloadCertFiles client.portUnification admin.forceHttps
admin.portUnification""".split()


def test_honoured_set_is_as_documented() -> None:
    assert [k for k in HONOURED if lookup(k).status is not Status.HONOURED] == []  # type: ignore[union-attr]
    for refused in ("ssl.crl", "ssl.ocsp", "ssl.quorum.crl",
                    "ssl.quorum.ocsp"):
        assert lookup(refused).status is Status.REFUSED  # type: ignore[union-attr]


def test_observer_master_port_is_off_unless_positive(tmp_path: Path) -> None:
    # QuorumPeerConfig: any int; <= 0 is "observerMasterPort is not set".
    q = QUORUM.format(d=tmp_path)
    assert cfg(tmp_path, q, myid=1).observer_master_port == 0
    assert cfg(tmp_path, q + "observerMasterPort=-5\n", myid=1).observer_master_port == 0
    assert cfg(tmp_path, q + "observerMasterPort=2890\n", myid=1).observer_master_port == 2890


# --- sample configs -----------------------------------------------------------------------

@pytest.mark.parametrize("name, myid, servers", [
    ("zoo.cfg", None, 0), ("zoo-ensemble.cfg", 1, 3), ("zoo-observer.cfg", 4, 4)])
def test_sample_configs_parse(name: str, myid: int | None, servers: int) -> None:
    c = load_config(REPO / "conf" / name, myid=myid)
    assert len(c.servers) == servers
    assert c.is_distributed == bool(servers)
    if myid is not None:
        assert c.client_port == 2181 and c.client_port_address == f"127.0.0.{myid}"


def test_build_config_accepts_plain_mappings(tmp_path: Path) -> None:
    c = build_config({"dataDir": "data", "clientPort": "2181"}, workdir=tmp_path)
    assert c.data_dir == tmp_path / "data"


def test_fastleader_notification_intervals_reach_the_config(tmp_path: Path) -> None:
    c = cfg(tmp_path, QUORUM.format(d=tmp_path) + "fastleader.minNotificationInterval=50\n"
            "fastleader.maxNotificationInterval=0x190\n", myid=1)
    assert (c.fle_min_notification_interval_ms, c.fle_max_notification_interval_ms) == (50, 400)
    d = cfg(tmp_path, QUORUM.format(d=tmp_path), myid=1)
    assert (d.fle_min_notification_interval_ms, d.fle_max_notification_interval_ms) == (200, 60000)
    err = error(tmp_path, QUORUM.format(d=tmp_path) + "fastleader.minNotificationInterval=0\n", myid=1)
    assert err.key == "fastleader.minNotificationInterval" and "at least 1" in err.message


# Honoured keys that pyzk/metrics.py reads from the raw properties (Config.raw), as Java's
# metrics provider gets them, rather than through their Config fields.
READ_FROM_RAW_PROPERTIES = {
    "metricsProvider.className": "pyzk/metrics.py",
    "metricsProvider.httpHost": "pyzk/metrics.py",
    "metricsProvider.httpPort": "pyzk/metrics.py",
    "metricsProvider.exportJvmInfo": "pyzk/metrics.py",
}


def test_every_honoured_key_with_a_config_field_is_read_outside_the_config_package() -> None:
    """A key listed honoured whose Config field nothing reads is a feature only in the docs
    (issue 16: maxCnxns, leaderServes, syncEnabled, tcpKeepAlive, clientTcpKeepAlive and
    electionPortBindRetry were). Fields are found as load.py sets them: `field=...b.get("key")`."""
    repo = REPO
    load = (repo / "pyzk/config/load.py").read_text()
    field_of = {key: field for field, key in
                re.findall(r'(\w+)=[^\n=]*?b\.get\("([^"]+)"\)', load)}
    code = "\n".join(p.read_text() for p in (repo / "pyzk").rglob("*.py")
                     if "config" not in p.relative_to(repo / "pyzk").parts)
    unread = []
    for key in KEYS:
        if key.status is not Status.HONOURED or key.name not in field_of:
            continue
        if key.name in READ_FROM_RAW_PROPERTIES:
            assert f'"{key.name}"' in (repo / READ_FROM_RAW_PROPERTIES[key.name]).read_text()
        elif not re.search(rf"\.{field_of[key.name]}\b", code):
            unread.append(f"{key.name} (Config.{field_of[key.name]})")
    assert len(field_of) > 50  # the pattern still finds load.py's fields
    assert not unread, f"honoured keys that no code reads: {unread}"


def test_workers_key_takes_a_count_or_auto(tmp_path: Path) -> None:
    base = f"dataDir={tmp_path}/d\nclientPort=2181\n"
    assert cfg(tmp_path, base).workers == 1
    assert cfg(tmp_path, base + "pyzk.workers=3\n").workers == 3
    assert cfg(tmp_path, base + "pyzk.workers=auto\n").workers == len(os.sched_getaffinity(0))
    for bad in ("0", "-1", "two", "65"):
        e = error(tmp_path, base + f"pyzk.workers={bad}\n")
        assert "pyzk.workers" in str(e) and ":3" in str(e), str(e)
