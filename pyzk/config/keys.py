"""The one table of zoo.cfg keys: name, type, default, validator, short doc, and pyzk's stance.

Covers every key the Apache ZooKeeper 3.8 admin guide documents (zookeeperAdmin.md
"Configuration Parameters") plus the ones QuorumPeerConfig.parseProperties parses itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


class Status(Enum):
    HONOURED = "honoured"  # pyzk implements it
    REFUSED = "refused"  # pyzk does not implement it: any non-default value is a ConfigError
    INERT = "inert"  # tunes Java internals (or has no effect from zoo.cfg in Java either):
    # accepted with a warning


Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # int | long | decode | long_decode | bool | bool_exact | yesno | str | path | float
    default: Any
    status: Status
    doc: str
    check: Check | None = None


def _java_int(value: str, lo: int, hi: int) -> int:
    # Integer.parseInt / Long.parseLong: optional sign then decimal digits, nothing else.
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise ValueError("expected an integer")
    n = int(value)
    if not lo <= n <= hi:
        raise ValueError("integer out of range")
    return n


def _java_decode(value: str, lo: int, hi: int) -> int:
    # Integer.getInteger / Long.getLong use Integer.decode: 0x/0X/# hex, leading 0 octal.
    m = re.fullmatch(r"([+-]?)(0[xX]|#|0(?=[0-7]))?([0-9a-fA-F]+)", value)
    if not m:
        raise ValueError("expected an integer")
    sign, prefix, digits = m.groups()
    base = 16 if prefix in ("0x", "0X", "#") else 8 if prefix == "0" else 10
    try:
        n = int(digits, base)
    except ValueError:
        raise ValueError("expected an integer") from None
    n = -n if sign == "-" else n
    if not lo <= n <= hi:
        raise ValueError("integer out of range")
    return n


def parse_value(key: Key, name: str, value: str) -> Any:
    """Convert one trimmed value; ValueError carries a Java-style message."""
    kind = key.kind
    if kind == "int":
        return _java_int(value, INT_MIN, INT_MAX)
    if kind == "long":
        return _java_int(value, LONG_MIN, LONG_MAX)
    if kind == "decode":
        return _java_decode(value, INT_MIN, INT_MAX)
    if kind == "long_decode":  # Long.getLong
        return _java_decode(value, LONG_MIN, LONG_MAX)
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise ValueError("expected a number") from None
    if kind in ("bool", "bool_exact"):
        # QuorumPeerConfig.parseBoolean is case-insensitive; keys Java compares with
        # .equals("true"/"false") (admin.enableServer, readonlymode.enabled) must be lower case.
        v = value.lower() if kind == "bool" else value
        if v in ("true", "false"):
            return v == "true"
        raise ValueError(f"Invalid option {value} for {name}. Choose 'true' or 'false.'")
    if kind == "yesno":
        # Java compares these with .equals("yes"/"no"): "true" would silently mean the default.
        if value in ("yes", "no"):
            return value == "yes"
        raise ValueError(f"Invalid option {value} for {name}. Choose 'yes' or 'no'.")
    return value  # str, path


def _min(lo: int) -> Check:
    return lambda v: None if v >= lo else f"must be at least {lo}"


def _port(v: int) -> str | None:
    return None if 0 <= v <= 65535 else "must be a port number between 0 and 65535"


def _port1(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a port number between 1 and 65535"


def _om_port(v: int) -> str | None:
    # QuorumPeerConfig takes any int and treats <= 0 as unset; above 65535 Java fails only when
    # a follower binds it, here at start.
    return None if v <= 65535 else "must be a port number up to 65535 (<= 0 turns it off)"


def _nonempty(v: str) -> str | None:
    return None if v else "must not be empty"


# X509Util.createTrustManager: either switch turns on PKIX revocation checking with
# com.sun.security.enableCRLDP, so the JDK downloads the CRL named in each certificate's CRL
# distribution points (and with ocsp asks the responder named in its AIA extension) during the
# handshake, failing it when no status can be had. Python's ssl module (OpenSSL) only checks
# CRL files loaded beforehand and has no OCSP client: pyzk cannot do either check as Java does.
_NO_CRL = ("Java fetches each certificate's CRL distribution points over the network during"
           " the handshake; Python's ssl module only checks CRL files loaded in advance")
_NO_OCSP = ("Java asks each certificate's OCSP responder during the handshake; Python's ssl"
            " module has no OCSP client")


def _choice(*allowed: str) -> Check:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def _store_type(v: str) -> str | None:
    # KeyStoreFileType.fromPropertyValue: empty = infer from the extension; BCFKS needs
    # BouncyCastle, which pyzk has no equivalent of.
    return None if v.upper() in ("", "JKS", "PEM", "PKCS12") else "must be JKS, PKCS12 or PEM"


TLS_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "TLS")


def _tls_protocols(v: str) -> str | None:
    bad = [p for p in v.split(",") if p not in TLS_PROTOCOLS]
    return f"has unknown TLS protocol(s) {', '.join(bad)}" if bad else None


def _client_auth(v: str) -> str | None:
    # X509Util.ClientAuth.fromPropertyValue: valueOf(upper case); empty means NEED.
    return None if v.upper() in ("", "NEED", "WANT", "NONE") else "must be need, want or none"


def _super_digest(v: str) -> str | None:
    return None if ":" in v else "must look like super:<base64 sha1 digest>"


# Java MessageDigest algorithm names (case-insensitive) -> hashlib names.
DIGEST_ALGORITHMS = {
    "MD5": "md5", "SHA": "sha1", "SHA1": "sha1", "SHA-1": "sha1", "SHA-224": "sha224",
    "SHA224": "sha224", "SHA-256": "sha256", "SHA256": "sha256", "SHA-384": "sha384",
    "SHA384": "sha384", "SHA-512": "sha512", "SHA512": "sha512", "SHA-512/224": "sha512_224",
    "SHA512/224": "sha512_224", "SHA-512/256": "sha512_256", "SHA512/256": "sha512_256",
    "SHA3-224": "sha3_224", "SHA3-256": "sha3_256", "SHA3-384": "sha3_384",
    "SHA3-512": "sha3_512",
}


def _digest_alg(v: str) -> str | None:
    if v.upper() in DIGEST_ALGORITHMS:
        return None
    return "is not a supported digest algorithm (don't support this ACL digest algorithm)"


def _snap_compression(v: str) -> str | None:
    # SnapStream.StreamMode.fromString, minus its silent fallback to uncompressed.
    return None if v.lower() in ("", "gz", "snappy") else "must be gz, snappy or empty"


def _large_threshold(v: int) -> str | None:
    return None if v == -1 or v > 0 else "must be -1 or positive"


def _workers(v: str) -> str | None:
    if v == "auto" or (v.isdigit() and 1 <= int(v) <= 64):
        return None
    return "expected a number of processes from 1 to 64, or auto"


def _log_level(v: str) -> str | None:
    ok = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")
    return None if v.upper() in ok else f"must be one of {', '.join(ok)}"


H, R, IN = Status.HONOURED, Status.REFUSED, Status.INERT
_SYS_ONLY = "Java reads this only as a JVM system property, so from zoo.cfg it has no effect"

KEYS: tuple[Key, ...] = (
    # --- minimum configuration ---
    Key("clientPort", "int", 0, H, "plaintext client port; absent = none unless server.N has ;port", _port),
    Key("secureClientPort", "int", 0, H, "TLS client port (ssl.* keys; x509 auth)", _port),
    Key("secureClientPortAddress", "str", None, H, "bind address for secureClientPort", _nonempty),
    Key("observerMasterPort", "int", 0, H, "port followers open for observers once synced; observers with it attach to a voter there, not the leader; <=0 off", _om_port),
    Key("dataDir", "path", None, H, "snapshots, myid and epoch files (required)", _nonempty),
    Key("tickTime", "int", 3000, H, "basic time unit in ms (Java's code default 3000)"),
    # --- advanced configuration ---
    Key("dataLogDir", "path", None, H, "transaction log directory (default dataDir)", _nonempty),
    Key("globalOutstandingLimit", "decode", 1000, H, "queued request limit before throttling", _min(1)),
    Key("preAllocSize", "long", 65536, H, "txn log preallocation block in KB", _min(1)),
    Key("snapCount", "decode", 100000, H, "txns between snapshots (randomised in [n/2+1, n])"),
    Key("commitLogCount", "decode", 500, H, "committed proposals kept in memory for DIFF sync (at least 500, as Java)", _min(0)),
    Key("snapSizeLimitInKb", "decode", 4194304, H, "txn log bytes (KB) before snapshot; <=0 off"),
    Key("txnLogSizeLimitInKb", "long_decode", -1, H,
        "start a new txn log file after a commit leaves the current one longer than this (KB,"
        " its preallocated length counted, so it needs preAllocSize below it); <= 0 off"),
    Key("maxCnxns", "decode", 0, H, "connections per client port (each its own count); more are closed; 0 = unlimited", _min(0)),
    Key("maxClientCnxns", "int", 60, H, "connections per client IP; 0 = unlimited", _min(0)),
    Key("clientPortAddress", "str", None, H, "bind address for clientPort (default all)", _nonempty),
    Key("minSessionTimeout", "int", -1, H, "lowest negotiable session timeout ms (2*tickTime)", _min(-1)),
    Key("maxSessionTimeout", "int", -1, H, "highest negotiable session timeout ms (20*tickTime)", _min(-1)),
    Key("fsync.warningthresholdms", "decode", 1000, H, "warn when a txn log fsync is slower (ms)", _min(0)),
    Key("maxResponseCacheSize", "decode", 400, IN, "Java serialized-response cache size"),
    Key("maxGetChildrenResponseCacheSize", "decode", 400, IN, "Java getChildren response cache size"),
    Key("autopurge.snapRetainCount", "int", 3, H, "snapshots (and logs) kept by autopurge; min 3"),
    Key("autopurge.purgeInterval", "int", 0, H, "autopurge period in hours; 0 = off", _min(0)),
    Key("syncEnabled", "bool", True, H, "observers log txns and snapshot; false: only the sync with the leader is saved"),
    Key("extendedTypesEnabled", "bool", False, H, "enable TTL nodes (server ids must be < 255)"),
    Key("emulate353TTLNodes", "bool", False, H, "with extendedTypesEnabled, also read TTL nodes"
        " written by 3.5.3 (its ephemeralOwner encoding)"),
    Key("watchManagerName", "str", "", IN, "Java watch manager implementation"),
    Key("watcherCleanThreadsNum", "decode", 2, IN, "WatchManagerOptimized cleaner threads"),
    Key("watcherCleanThreshold", "decode", 1000, IN, "WatchManagerOptimized cleaner batch"),
    Key("watcherCleanIntervalInSeconds", "decode", 600, IN, "WatchManagerOptimized cleaner period"),
    Key("maxInProcessingDeadWatchers", "decode", -1, IN, "WatchManagerOptimized backlog"),
    Key("bitHashCacheSize", "decode", 10, IN, "WatchManagerOptimized cache"),
    Key("fastleader.minNotificationInterval", "decode", 200, H, "FLE: first wait before resending the vote, ms", _min(1)),
    Key("fastleader.maxNotificationInterval", "decode", 60000, H, "FLE: the doubling wait's cap, ms", _min(1)),
    Key("connectionMaxTokens", "decode", 0, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("connectionTokenFillTime", "decode", 1, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("connectionTokenFillCount", "decode", 1, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("connectionFreezeTime", "decode", -1, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("connectionDropIncrease", "float", 0.02, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("connectionDropDecrease", "float", 0.002, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("connectionDecreaseRatio", "float", 0.0, IN, "connection throttler (" + _SYS_ONLY + ")"),
    Key("zookeeper.connection_throttle_weight_enabled", "str", "false", IN, _SYS_ONLY),
    Key("zookeeper.connection_throttle_global_session_weight", "str", "3", IN, _SYS_ONLY),
    Key("zookeeper.connection_throttle_local_session_weight", "str", "1", IN, _SYS_ONLY),
    Key("zookeeper.connection_throttle_renew_session_weight", "str", "2", IN, _SYS_ONLY),
    Key("clientPortListenBacklog", "int", -1, H, "listen backlog of the client socket; -1 = OS default", _min(-1)),
    Key("serverCnxnFactory", "str", "", IN,
        "Java NIO/Netty connection factory class; pyzk's one asyncio factory serves both ports"
        " (Netty's: client.portUnification; no clientTcpKeepAlive)"),
    Key("flushDelay", "long_decode", 0, H,
        "under load, gather writes for up to this long (ms) after a txn log flush before the"
        " next one (the first write after a quiet spell is flushed at once); 0 = flush as soon"
        " as no write is waiting", _min(0)),
    Key("maxWriteQueuePollTime", "long_decode", None, H,
        "with flushDelay: flush early once no write has come for this long (ms); default"
        " flushDelay / 3", _min(0)),
    Key("maxBatchSize", "decode", 1000, H, "txns per group commit before a forced flush", _min(1)),
    Key("enforceQuota", "bool", False, H,
        "check creates and setData against the quotas under /zookeeper/quota: over a hard"
        " limit QUOTAEXCEEDED, over a soft one a WARN line (off: no check, stats still kept)"),
    Key("requestThrottleLimit", "decode", 0, IN, "request throttler (" + _SYS_ONLY + ")"),
    Key("requestThrottleStallTime", "decode", 100, IN, "request throttler (" + _SYS_ONLY + ")"),
    Key("requestThrottleDropStale", "str", "true", IN, "request throttler (" + _SYS_ONLY + ")"),
    Key("requestStaleLatencyCheck", "str", "false", IN, "request throttler (" + _SYS_ONLY + ")"),
    Key("requestStaleConnectionCheck", "str", "true", IN, "request throttler (" + _SYS_ONLY + ")"),
    Key("zookeeper.request_throttler.shutdownTimeout", "str", "10000", IN, _SYS_ONLY),
    Key("advancedFlowControlEnabled", "str", "false", IN, "Netty flow control (" + _SYS_ONLY + ")"),
    Key("enableEagerACLCheck", "bool", False, H,
        "quorum members check a write's ACL against their committed tree before it is proposed"
        " (NOAUTH/INVALIDACL at zxid 0, no txn); standalone servers never do, as in Java"),
    Key("maxConcurrentSnapSyncs", "decode", 10, IN, "learner snap syncs (" + _SYS_ONLY + ")"),
    Key("maxConcurrentDiffSyncs", "decode", 100, IN, "learner diff syncs (" + _SYS_ONLY + ")"),
    Key("digest.enabled", "bool", True, H, "per-txn data tree digest (3.6.0)"),
    Key("snapshot.compression.method", "str", "", H,
        "new snapshots written gzip (gz, snapshot.<zxid>.gz) or snappy-java framed (snappy,"
        " snapshot.<zxid>.snappy), or uncompressed (empty); every kind is read whatever it is"
        " (case-insensitive; Java silently treats an unknown name as empty, pyzk refuses it)",
        _snap_compression),
    Key("snapshot.trust.empty", "bool", False, H,
        "start from txn logs with no snapshot (upgrades from 3.4) instead of refusing to"),
    Key("audit.enable", "bool", False, H,
        "audit log: one line per create/delete/setData/setAcl/multi/reconfig, session-end"
        " ephemeral deletion and server start/stop, in Java's format, to zookeeper_audit.log in"
        " $ZOO_LOG_DIR (else the working directory); also -Dzookeeper.audit.enable"),
    Key("audit.impl.class", "str", "", IN, "audit logger class"),
    Key("largeRequestMaxBytes", "decode", 100 * 1024 * 1024, H,
        "most bytes of large requests in flight; a request that would pass it closes its"
        " connection without a reply (Java only warns about a value <= 0 and keeps 100 MB)",
        _min(1)),
    Key("largeRequestThreshold", "decode", -1, H,
        "requests longer than this (bytes) count against largeRequestMaxBytes; -1 = off (Java"
        " turns 0 or < -1 into -1 with a warning)", _large_threshold),
    Key("outstandingHandshake.limit", "str", "", IN, "Netty TLS handshakes (" + _SYS_ONLY + ")"),
    Key("netty.server.earlyDropSecureConnectionHandshakes", "str", "false", IN, "Netty TLS option"),
    Key("throttledOpWaitTime", "decode", 0, IN, "request throttler (" + _SYS_ONLY + ")"),
    Key("learner.closeSocketAsync", "str", "false", IN, "Java socket closing thread"),
    Key("leader.closeSocketAsync", "str", "false", IN, "Java socket closing thread"),
    Key("learner.asyncSending", "str", "false", IN, "Java learner sender thread"),
    Key("forward_learner_requests_to_commit_processor_disabled", "str", "false", IN, "Java pipeline option"),
    # --- cluster options ---
    Key("electionAlg", "int", 3, H, "leader election algorithm; only 3 exists"),
    Key("maxTimeToWaitForEpoch", "decode", -1, IN, "epoch wait (" + _SYS_ONLY + ")"),
    Key("initLimit", "int", 0, H, "ticks for a learner to connect and sync (required in a quorum)", _min(0)),
    Key("connectToLearnerMasterLimit", "int", 0, H, "ticks to reach the leader after election (initLimit)", _min(0)),
    Key("leaderServes", "yesno", True, H, "no: the leader's client port has no server (sessions closed, 4lw not serving)"),
    Key("syncLimit", "int", 0, H, "ticks a follower may lag (required in a quorum)", _min(0)),
    Key("cnxTimeout", "decode", 5000, H, "election connect timeout ms", _min(1)),
    Key("quorumCnxnTimeoutMs", "decode", -1, H,
        "election sockets: how long a peer may take to send each part of its initial message"
        " (ms); -1 or 0 = tickTime * syncLimit", _min(-1)),
    Key("standaloneEnabled", "bool", True, H, "false = replicated mode even with one server"),
    Key("reconfigEnabled", "bool", False, H, "allow the reconfig operation"),
    Key("4lw.commands.whitelist", "str", "srvr", H, "comma list of four letter words or *"),
    Key("tcpKeepAlive", "bool", False, H, "SO_KEEPALIVE on election-port connections (not learner ones)"),
    Key("clientTcpKeepAlive", "bool", False, H, "SO_KEEPALIVE on clientPort connections (not TLS/unified)"),
    Key("electionPortBindRetry", "decode", 3, H, "election port binds, 1 s apart, then exit 14; 0 = forever", _min(0)),
    Key("observer.reconnectDelayMs", "long_decode", 0, H,
        "an observer waits a random time below this (ms) before connecting to the leader;"
        " 0 = at once", _min(0)),
    Key("observer.election.DelayMs", "long_decode", 200, H,
        "an observer that lost its leader waits a random time below this (ms) before looking"
        " for one again; 0 = at once", _min(0)),
    Key("localSessionsEnabled", "bool", False, H,
        "quorum members make sessions local (tracked by that server alone, no txn); standalone"
        " ignores it"),
    Key("localSessionsUpgradingEnabled", "bool", False, H,
        "an ephemeral create upgrades a local session to a global one (else it fails)"),
    Key("peerType", "str", "participant", H, "participant or observer (server.N list wins)"),
    Key("dynamicConfigFile", "path", None, H,
        "file of server.N lines (version = hex suffix of its name); pyzk rewrites zoo.cfg to"
        " point at a new one after each reconfig, as Java does", _nonempty),
    Key("quorum.cnxn.threads.size", "int", 20, IN, "Java quorum SASL thread pool"),
    Key("oraclePath", "path", None, H, "QuorumOracleMaj: in a two-voter ensemble, the member"
        " left alone keeps (or takes) the lead while this file starts with '1'", _nonempty),
    Key("version", "str", None, H, "hex version of the server list written in zoo.cfg itself"
        " (QuorumMaj(Properties)); with dynamicConfigFile the file name's version counts"),
    Key("multiAddress.enabled", "bool", False, H, "several addresses per server: the V2"
        " election handshake sending every election address, and the reachability checks."
        " `|`-joined server lines parse only with the system property"
        " -Dzookeeper.multiAddress.enabled=true (SERVER_JVMFLAGS), as in Java, whose"
        " QuorumServer reads the property and never this key; the property also sets this"
        " key's default"),
    Key("multiAddress.reachabilityCheckTimeoutMs", "int", 1000, H, "ms a reachability probe"
        " of one address may take. Java applies it only to the addresses a peer announces in"
        " its V2 handshake and probes configured addresses for 1000 ms; pyzk uses it for every"
        " probe but the 500 ms check of an open election connection"),
    Key("multiAddress.reachabilityCheckEnabled", "bool", True, H, "learners dial only the"
        " leader's reachable quorum addresses (all when none is), and an election connection"
        " whose peer stops answering probes is dropped so the next dial picks a reachable"
        " address. A probe, as Java's InetAddress.isReachable without ICMP rights, is a TCP"
        " connection to port 7: answered or refused = reachable"),
    # --- authentication / TLS ---
    Key("DigestAuthenticationProvider.enabled", "bool", True, H,
        "false: no digest provider (addauth digest and digest ACLs fail) unless an authProvider.N"
        " names DigestAuthenticationProvider; -Dzookeeper.DigestAuthenticationProvider.enabled"),
    Key("DigestAuthenticationProvider.superDigest", "str", None, H, "super:<digest> super user", _super_digest),
    Key("DigestAuthenticationProvider.digestAlg", "str", "SHA1", H,
        "hash of addauth digest ids (Java MessageDigest names: SHA1, SHA-256, SHA3-256, MD5...)",
        _digest_alg),
    Key("X509AuthenticationProvider.superUser", "str", None, H,
        "client certificate subject DN (RFC 2253) that is also super"),
    Key("zookeeper.superUser", "str", None, IN, _SYS_ONLY + " (write superUser, or -Dzookeeper.superUser)"),
    # Client SASL (ZooKeeperSaslServer, SaslServerCallbackHandler). Java reads these as
    # zookeeper.<key> system properties, which a zoo.cfg line <key>=... also sets; pyzk takes
    # them from zoo.cfg and from -D options in SERVER_JVMFLAGS / JVMFLAGS (pyzk/config/jvmflags.py).
    Key("pyzk.jaas.loginConfig", "path", None, H,
        "JAAS file whose Server section enables client SASL (DIGEST-MD5 user_<name>=\"<password>\","
        " or Kerberos with Krb5LoginModule keyTab/principal);"
        " the zoo.cfg side of -Djava.security.auth.login.config", _nonempty),
    Key("sasl.serverconfig", "str", "Server", H, "JAAS section the server logs in with"
        " (-Dzookeeper.sasl.serverconfig)", _nonempty),
    Key("superUser", "str", None, H, "SASL id that is also super (-Dzookeeper.superUser;"
        " superUser.N for more)"),
    Key("allowSaslFailedClients", "bool", False, H, "keep a connection whose SASL exchange failed"
        " (-Dzookeeper.allowSaslFailedClients)"),
    Key("SASLAuthenticationProvider.superPassword", "str", None, H,
        "DIGEST-MD5 password of JAAS user_super instead of the JAAS one"),
    Key("kerberos.removeHostFromPrincipal", "bool_exact", False, H,
        "sasl ids drop /host (-Dzookeeper.kerberos.removeHostFromPrincipal)"),
    Key("kerberos.removeRealmFromPrincipal", "bool_exact", False, H,
        "sasl ids drop @REALM (-Dzookeeper.kerberos.removeRealmFromPrincipal)"),
    Key("security.auth_to_local", "str", "DEFAULT", H, "Kerberos principal -> short name rules"
        " for sasl ids (RULE:[n:fmt](re)s/re/to/g ... DEFAULT; -Dzookeeper.security.auth_to_local)"),
    Key("letAnySaslUserDoX", "str", None, H, "sasl ACL id every SASL-authenticated client matches"),
    Key("ssl.authProvider", "str", "x509", H, "auth scheme for client certificates (x509 only)",
        _choice("x509")),
    # Client-port TLS (ClientX509Util, prefix zookeeper.ssl.; zoo.cfg keys reach it because
    # QuorumPeerConfig turns unknown keys into zookeeper.<key> system properties).
    Key("ssl.keyStore.location", "path", "", H, "server key and certificate chain (JKS/PKCS12/PEM)"),
    Key("ssl.keyStore.password", "str", "", H, "keystore (and key) password"),
    Key("ssl.keyStore.passwordPath", "path", "", H, "file holding the keystore password"),
    Key("ssl.keyStore.type", "str", "", H, "JKS, PKCS12 or PEM; default from the file extension",
        _store_type),
    Key("ssl.trustStore.location", "path", "", H, "CA certificates that client certs must chain to"),
    Key("ssl.trustStore.password", "str", "", H, "truststore password"),
    Key("ssl.trustStore.passwordPath", "path", "", H, "file holding the truststore password"),
    Key("ssl.trustStore.type", "str", "", H, "JKS, PKCS12 or PEM; default from the file extension",
        _store_type),
    Key("ssl.protocol", "str", "TLSv1.2", H, "TLS protocol (also the only enabled one by default)",
        _tls_protocols),
    Key("ssl.enabledProtocols", "str", None, H, "comma list of TLS versions (default ssl.protocol)",
        _tls_protocols),
    Key("ssl.ciphersuites", "str", None, H, "comma list of Java/IANA cipher suite names (TLS <= 1.2)",
        _nonempty),
    Key("ssl.clientAuth", "str", "need", H, "need, want or none (case-insensitive)", _client_auth),
    Key("ssl.hostnameVerification", "bool", True, IN,
        "the server never checks client host names (ClientX509Util.shouldVerifyClientHostname)"),
    Key("ssl.crl", "bool", False, R, _NO_CRL),
    Key("ssl.ocsp", "bool", False, R, _NO_OCSP),
    Key("ssl.context.supplier.class", "str", None, R, "Java SSLContext supplier class"),
    Key("ssl.handshakeDetectionTimeoutMillis", "decode", 5000, IN,
        "port unification detection (quorum only)"),
    Key("client.secure", "str", "false", IN, "client-side switch (zookeeper.client.secure)"),
    Key("zookeeper.ensembleAuthName", "str", None, IN, _SYS_ONLY),
    Key("sessionRequireClientSASLAuth", "bool", False, H,
        "every request but auth/sasl needs a SASL login first (= enforce.auth with sasl)"),
    Key("enforce.auth.enabled", "bool", False, H, "every request but auth/sasl needs an id of"
        " enforce.auth.schemes first (else -124 and the connection closes)"),
    Key("enforce.auth.schemes", "str", None, H, "comma list of schemes for enforce.auth.enabled"),
    Key("sslQuorum", "bool", False, H, "TLS between servers (quorum and election ports) with"
        " the ssl.quorum.* stores"),
    Key("sslQuorumReloadCertFiles", "bool", False, H, "rebuild the quorum TLS contexts when"
        " the ssl.quorum key or trust store file changes (new connections use them)"),
    Key("portUnification", "bool", False, H, "quorum and election ports accept TLS and"
        " plaintext (the rolling switch to sslQuorum)"),
    # Quorum TLS (QuorumX509Util, prefix zookeeper.ssl.quorum.).
    Key("ssl.quorum.keyStore.location", "path", "", H, "member key and certificate chain"
        " (JKS/PKCS12/PEM)"),
    Key("ssl.quorum.keyStore.password", "str", "", H, "quorum keystore (and key) password"),
    Key("ssl.quorum.keyStore.passwordPath", "path", "", H, "file holding that password"),
    Key("ssl.quorum.keyStore.type", "str", "", H, "JKS, PKCS12 or PEM; default from the file"
        " extension", _store_type),
    Key("ssl.quorum.trustStore.location", "path", "", H, "CA certificates members' certificates"
        " must chain to"),
    Key("ssl.quorum.trustStore.password", "str", "", H, "quorum truststore password"),
    Key("ssl.quorum.trustStore.passwordPath", "path", "", H, "file holding that password"),
    Key("ssl.quorum.trustStore.type", "str", "", H, "JKS, PKCS12 or PEM; default from the file"
        " extension", _store_type),
    Key("ssl.quorum.protocol", "str", "TLSv1.2", H, "quorum TLS protocol", _tls_protocols),
    Key("ssl.quorum.enabledProtocols", "str", None, H, "comma list of TLS versions (default"
        " ssl.quorum.protocol)", _tls_protocols),
    Key("ssl.quorum.ciphersuites", "str", None, H, "comma list of cipher suite names",
        _nonempty),
    Key("ssl.quorum.clientAuth", "str", "need", H, "need, want or none: certificates the"
        " listening member asks of the dialling one", _client_auth),
    Key("ssl.quorum.hostnameVerification", "bool", True, H, "both ends check the peer's"
        " certificate against its IP address, then its reverse-lookup name"),
    Key("ssl.quorum.crl", "bool", False, R, _NO_CRL),
    Key("ssl.quorum.ocsp", "bool", False, R, _NO_OCSP),
    Key("ssl.quorum.handshakeDetectionTimeoutMillis", "decode", 5000, H, "how long a listener"
        " waits for the first 5 bytes to tell TLS from plaintext", _min(1)),
    Key("client.portUnification", "bool", False, H, "clientPort also accepts TLS clients"
        " (ssl.* stores, x509 ids); needs serverCnxnFactory=...NettyServerCnxnFactory"),
    Key("quorum.auth.enableSasl", "bool", False, H, "quorum SASL (DIGEST-MD5 or Kerberos): members"
        " authenticate each other on the quorum and election ports"),
    Key("quorum.auth.serverRequireSasl", "bool", False, H, "refuse members that do not"
        " authenticate (needs learnerRequireSasl)"),
    Key("quorum.auth.learnerRequireSasl", "bool", False, H, "authenticate when dialling members"),
    Key("quorum.auth.learner.saslLoginContext", "str", "QuorumLearner", H,
        "JAAS section with this member's username and password (or Kerberos keytab and principal)"),
    Key("quorum.auth.server.saslLoginContext", "str", "QuorumServer", H,
        "JAAS section with the user_<name>=\"<password>\" members may log in as (or this"
        " member's Kerberos keytab and principal)"),
    Key("quorum.auth.kerberos.servicePrincipal", "str", "zkquorum/localhost", H,
        "the principal a Kerberos learner asks a ticket for; <service>/_HOST takes the"
        " dialled member's host"),
    Key("kerberos.canonicalizeHostNames", "str", "false", IN, "Kerberos host names"),
    Key("fips-mode", "str", "false", IN, "Java FIPS mode"),
    # --- experimental / unsafe ---
    Key("readonlymode.enabled", "bool_exact", False, H,
        "read-only mode; pyzk honours it from zoo.cfg (Java only as -Dreadonlymode.enabled)"),
    Key("zookeeper.follower.skipLearnerRequestToNextProcessor", "str", "false", IN, _SYS_ONLY),
    Key("forceSync", "yesno", True, H, "fsync the txn log before acking (yes/no)"),
    Key("jute.maxbuffer", "decode", 0xFFFFF, H,
        "largest packet/znode in bytes; pyzk honours it from zoo.cfg (Java only as -Djute.maxbuffer)", _min(1)),
    Key("jute.maxbuffer.extrasize", "decode", 1024, IN, "Java request overhead allowance"),
    Key("skipACL", "yesno", False, H, "skip all ACL checks (yes/no)"),
    Key("quorumListenOnAllIPs", "bool", False, H, "bind quorum/election ports on all interfaces"),
    Key("zookeeper.nio.numSelectorThreads", "str", "", IN, _SYS_ONLY),
    Key("zookeeper.nio.numWorkerThreads", "str", "", IN, _SYS_ONLY),
    Key("zookeeper.commitProcessor.numWorkerThreads", "str", "", IN, _SYS_ONLY),
    Key("zookeeper.commitProcessor.maxReadBatchSize", "str", "", IN, _SYS_ONLY),
    Key("zookeeper.commitProcessor.maxCommitBatchSize", "str", "", IN, _SYS_ONLY),
    Key("znode.container.checkIntervalMs", "decode", 60000, H,
        "container/TTL sweep period ms; pyzk honours it from zoo.cfg (Java: system property only)", _min(1)),
    Key("znode.container.maxPerMinute", "decode", 10000, H,
        "container/TTL deletions per minute; pyzk honours it from zoo.cfg", _min(1)),
    Key("znode.container.maxNeverUsedIntervalMs", "long_decode", 0, H,
        "a container that never had a child is deleted once its mtime is older than this (ms);"
        " 0 = never; pyzk honours it from zoo.cfg (Java: system property only)", _min(0)),
    Key("zookeeper.messageTracker.BufferSize", "str", "10", IN, _SYS_ONLY),
    Key("zookeeper.messageTracker.Enabled", "str", "false", IN, _SYS_ONLY),
    Key("jvm.pause.monitor", "bool", False, IN, "Java GC pause monitor"),
    Key("jvm.pause.info-threshold.ms", "long", 1000, IN, "Java GC pause monitor"),
    Key("jvm.pause.warn-threshold.ms", "long", 10000, IN, "Java GC pause monitor"),
    Key("jvm.pause.sleep.time.ms", "long", 500, IN, "Java GC pause monitor"),
    # --- AdminServer ---
    Key("admin.forceHttps", "bool", False, H, "HTTPS-only AdminServer (certificate from the"
        " ssl.quorum.* stores, as JettyAdminServer)"),
    Key("admin.portUnification", "bool", False, H, "HTTP and HTTPS on the admin port (a first"
        " byte 0x16 is TLS)"),
    Key("admin.enableServer", "bool_exact", True, H, "run the HTTP AdminServer"),
    Key("admin.serverAddress", "str", "0.0.0.0", H, "AdminServer bind address", _nonempty),
    Key("admin.serverPort", "decode", 8080, H, "AdminServer port", _port1),
    Key("admin.idleTimeout", "decode", 30000, H, "AdminServer idle connection timeout ms", _min(1)),
    Key("admin.commandURL", "str", "/commands", H, "AdminServer command URL prefix", _nonempty),
    # --- metrics ---
    Key("metricsProvider.className", "str", "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
        H, "metrics provider; the Prometheus class enables pyzk's /metrics endpoint"),
    Key("metricsProvider.httpHost", "str", "0.0.0.0", H, "Prometheus bind address", _nonempty),
    Key("metricsProvider.httpPort", "int", 7000, H, "Prometheus port", _port1),
    Key("metricsProvider.exportJvmInfo", "bool", True, H, "export process info (no JVM in pyzk)"),
    Key("metricsProvider.numWorkerThreads", "int", 1, IN, "Prometheus provider threads"),
    Key("metricsProvider.maxQueueSize", "int", 1000000, IN, "Prometheus provider queue"),
    Key("metricsProvider.workerShutdownTimeoutMs", "long", 1000, IN, "Prometheus provider shutdown"),
    # --- pyzk's own ---
    Key("pyzk.linearizableSync", "bool", True, H,
        "a leader answers sync (its clients' and learners' forwarded ones) only after a quorum"
        " answers a PING sent after the sync arrived, so sync + read is linearizable; false"
        " answers at once, as Java (cheaper, may read stale data from a cut-off leader)"),
    Key("pyzk.workers", "str", "1", H, "processes serving clients: this one plus N-1 worker processes"
        " holding a replica of the tree (reads local, writes forwarded); auto = CPU cores",
        _workers),
    Key("pyzk.log.format", "str", "auto", H, "console, json or auto (console on a TTY)",
        _choice("console", "json", "auto")),
    Key("pyzk.log.level", "str", "INFO", H, "DEBUG, INFO, WARNING or ERROR", _log_level),
)

# Families of keys with a variable part: (regex, entry used for every match).
PATTERNS: tuple[tuple[re.Pattern[str], Key], ...] = (
    (re.compile(r"server\..*"), Key("server.N", "str", None, H,
                                    "host:quorumPort:electionPort[:participant|:observer][;[host:]clientPort]")),
    (re.compile(r"group.*"), Key("group.N", "str", None, H,
                                 "hierarchical quorum: group.G=sid:sid:... (each participant in one)")),
    (re.compile(r"weight.*"), Key("weight.N", "str", None, H,
                                  "hierarchical quorum: weight.N=W of server N (default 1; 0 never"
                                  " counts or leads)")),
    (re.compile(r"authProvider\..+"), Key("authProvider.N", "str", None, H,
                                          "authentication provider class", _nonempty)),
    (re.compile(r"ssl\..+"), Key("ssl.*", "str", None, IN, "TLS setting pyzk does not use")),
    (re.compile(r"zookeeper\.superUser\..+"), Key("zookeeper.superUser.N", "str", None, IN, _SYS_ONLY)),
    (re.compile(r"superUser\..+"), Key("superUser.N", "str", None, H, "more SASL super user ids")),
    (re.compile(r"metricsProvider\..+"), Key("metricsProvider.*", "str", None, IN,
                                             "option handed to the metrics provider")),
)

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def lookup(name: str) -> Key | None:
    """The table entry for a key as written in zoo.cfg, or None when Java documents no such key."""
    key = BY_NAME.get(name)
    if key is not None:
        return key
    for pattern, family in PATTERNS:
        if pattern.fullmatch(name):
            return family
    return None


def normalised(name: str) -> str:
    """Case and punctuation-free spelling used to match environment variable names."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


ENV_INDEX: dict[str, str] = {normalised(k.name): k.name for k in KEYS}
