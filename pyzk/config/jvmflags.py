"""-D options in SERVER_JVMFLAGS / JVMFLAGS (and Confluent's KAFKA_OPTS), as Java servers get them.

zkServer.sh starts Java with `$JVMFLAGS` unquoted (SERVER_JVMFLAGS is put before JVMFLAGS), so
the words are split on white space with no quote removal, and for the same property the last
-D wins. Java reads some settings only as system properties; for those pyzk supports, a
`-Dzookeeper.<key>=<value>` is the zoo.cfg line `<key>=<value>` (QuorumPeerConfig turns zoo.cfg
keys it does not parse itself into zookeeper.<key> properties, so both reach the same place).
A zoo.cfg line wins over a -D option, as QuorumPeerConfig's System.setProperty overwrites it.
Properties pyzk has no use for (-Xmx, log4j, ...) are ignored, as the JVM ignores unknown ones.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyzk.config.keys import lookup
from pyzk.config.load import Entry

VARIABLES = ("SERVER_JVMFLAGS", "JVMFLAGS", "KAFKA_OPTS")

# System properties read without the "zookeeper." prefix -> zoo.cfg key.
PLAIN_PROPERTIES = {
    "java.security.auth.login.config": "pyzk.jaas.loginConfig",
    "jute.maxbuffer": "jute.maxbuffer",
    "readonlymode.enabled": "readonlymode.enabled",
    "znode.container.checkIntervalMs": "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute": "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs": "znode.container.maxNeverUsedIntervalMs",
}

# zookeeper.<key> properties Java reads from the system properties (and so from zoo.cfg lines
# QuorumPeerConfig does not parse itself), for the keys pyzk honours.
PREFIXED_KEYS = frozenset({
    "sessionRequireClientSASLAuth", "enforce.auth.enabled", "enforce.auth.schemes",
    "allowSaslFailedClients", "superUser", "sasl.serverconfig",
    "SASLAuthenticationProvider.superPassword", "kerberos.removeHostFromPrincipal",
    "kerberos.removeRealmFromPrincipal", "security.auth_to_local", "letAnySaslUserDoX",
    "DigestAuthenticationProvider.superDigest", "DigestAuthenticationProvider.digestAlg",
    "DigestAuthenticationProvider.enabled", "X509AuthenticationProvider.superUser",
    "skipACL", "extendedTypesEnabled", "emulate353TTLNodes", "enforceQuota", "digest.enabled",
    "4lw.commands.whitelist",
    "admin.enableServer", "admin.serverAddress", "admin.serverPort", "admin.commandURL",
    "admin.idleTimeout", "admin.forceHttps", "admin.portUnification", "client.portUnification",
    "serverCnxnFactory",  # client.portUnification and clientTcpKeepAlive look at it
    "audit.enable", "flushDelay", "maxWriteQueuePollTime", "maxBatchSize",
    "quorumCnxnTimeoutMs", "observer.reconnectDelayMs", "observer.election.DelayMs",
    # QuorumPeerConfig's defaults for the zoo.cfg keys (multiAddress.enabled also decides
    # alone whether `|` server lines parse: Config.multi_address_lines).
    "multiAddress.enabled", "multiAddress.reachabilityCheckEnabled",
    "multiAddress.reachabilityCheckTimeoutMs",
})


def system_properties(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Every -Dname=value of the flag variables: {name: (value, variable)}, last one winning."""
    props: dict[str, tuple[str, str]] = {}
    for var in VARIABLES:
        for word in env.get(var, "").split():
            if not word.startswith("-D") or len(word) == 2:
                continue
            name, _, value = word[2:].partition("=")
            props[name] = (value, var)
    return props


def zoo_cfg_key(prop: str) -> str | None:
    """The zoo.cfg key a system property stands for, or None when pyzk does not use it."""
    if prop in PLAIN_PROPERTIES:
        return PLAIN_PROPERTIES[prop]
    if not prop.startswith("zookeeper."):
        return None
    key = prop[len("zookeeper."):]
    if key in PREFIXED_KEYS or key.startswith(("superUser.", "ssl.")):
        return key  # ssl.*: X509Util reads zookeeper.ssl[.quorum].* system properties
    spec = lookup(key)
    if spec is not None and spec.name == "authProvider.N":
        return key
    return None


def jvm_entries(env: Mapping[str, str]) -> dict[str, Entry]:
    """zoo.cfg entries the -D options stand for, each naming its variable and property."""
    out: dict[str, Entry] = {}
    for prop, (value, var) in system_properties(env).items():
        key = zoo_cfg_key(prop)
        if key is not None:
            out[key] = Entry(value, f"env {var} (-D{prop})")
    return out


def jvm_properties(env: Mapping[str, str]) -> dict[str, str]:
    """All -D properties, for ${...} expansion in a JAAS file."""
    return {k: v for k, (v, _) in system_properties(env).items()}
