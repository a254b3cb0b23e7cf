"""Parsing of `server.N` values into QuorumServer (QuorumPeer.QuorumServer.initializeWithAddressString
and ConfigUtils.getHostAndPort), with Java's error messages.
"""

from __future__ import annotations

import re

from pyzk.config.model import LearnerType, QuorumServer

_WRONG_FORMAT = (" does not have the form server_config or server_config;client_config"
                 " where server_config is the pipe separated list of host:port:port or"
                 " host:port:port:type and client_config is port or host:port")


class ServerLineError(ValueError):
    """A malformed server.N value; the message is Java's ConfigException text."""


def host_and_port(s: str) -> list[str]:
    """ConfigUtils.getHostAndPort: split on ':' but keep a [bracketed] IPv6 literal whole."""
    if s.startswith("["):
        i = s.find("]")
        if i < 0:
            raise ServerLineError(f"{s} starts with '[' but has no matching ']:'")
        if i + 2 == len(s):
            raise ServerLineError(f"{s} doesn't have a port after colon")
        if i + 2 < len(s):
            return [s[1:i], *s[i + 2:].split(":")]
        return [s[1:i]]
    return s.split(":")


def _port(text: str, host: str) -> int:
    # Integer.parseInt failure is reported by Java as "Address unresolved: host:port".
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()) or not 0 <= int(text) <= 65535:
        raise ServerLineError(f"Address unresolved: {host}:{text}")
    return int(text)


def parse_server_id(key: str) -> int:
    """`server.<sid>`: Java Long.parseLong of the part after the first dot."""
    suffix = key[key.index(".") + 1:]
    if not re.fullmatch(r"[+-]?[0-9]+", suffix) or not -(2**63) <= int(suffix) < 2**63:
        raise ServerLineError(f"invalid server id '{suffix}' in '{key}'")
    return int(suffix)


def _java_long(text: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text) or not -(2**63) <= int(text) < 2**63:
        raise ServerLineError(f"invalid {what} '{text}'")
    return int(text)


def add_group_or_weight(key: str, value: str, groups: dict[int, tuple[int, ...]],
                        weights: dict[int, int]) -> None:
    """A `group.G=1:2:3` or `weight.N=W` line (QuorumHierarchical.parse: the id is what
    follows the first dot, a group lists server ids split on ':')."""
    suffix = key[key.index(".") + 1:] if "." in key else key
    if key.startswith("group"):
        gid = _java_long(suffix, f"group id in '{key}'")
        groups[gid] = tuple(_java_long(s, f"server id in '{key}'") for s in value.split(":"))
    else:
        weights[_java_long(suffix, f"server id in '{key}'")] = _java_long(value, f"weight in '{key}'")


# zookeeper.multiAddress.enabled as QuorumServer reads it: a JVM-wide system property, never the
# zoo.cfg key, consulted whenever a server line is parsed (zoo.cfg, dynamic files, reconfig
# requests, configs sent by other members). The server sets it once at start from its -D flags.
_multi_address_lines = False


def allow_multi_address_lines(enabled: bool) -> None:
    """Set what `-Dzookeeper.multiAddress.enabled` is for this process."""
    global _multi_address_lines
    _multi_address_lines = enabled


def multi_address_lines() -> bool:
    return _multi_address_lines


def parse_server(sid: int, value: str, multi_address_enabled: bool | None = None) -> QuorumServer:
    """One server line value (initializeWithAddressString). Several `|`-joined addresses need
    the zookeeper.multiAddress.enabled system property (`multi_address_enabled`, or this
    process's setting when None); each must be host:port:port[:type], all of the same type."""
    enabled = _multi_address_lines if multi_address_enabled is None else multi_address_enabled
    parts = value.split(";")
    client_host: str | None = None
    client_port: int | None = None
    if len(parts) == 2:
        cparts = host_and_port(parts[1].strip())
        if len(cparts) > 2:
            raise ServerLineError(value + _WRONG_FORMAT)
        client_host = cparts[0].strip() if len(cparts) == 2 else "0.0.0.0"
        client_port = _port(cparts[-1], client_host)
    addresses = parts[0].split("|")
    if len(addresses) > 1 and not enabled:
        raise ServerLineError("Multiple address feature is disabled, but multiple addresses"
                              f" were specified for sid {sid}")
    parsed: list[tuple[str, int, int]] = []
    learner_type: LearnerType | None = None
    for address in addresses:
        sparts = host_and_port(address.strip())
        if len(parts) > 2 or len(sparts) < 3 or len(sparts) > 4:
            raise ServerLineError(value + _WRONG_FORMAT)
        host = sparts[0]
        quorum_port = _port(sparts[1], host)
        election_port = _port(sparts[2], host)
        if quorum_port == election_port:
            raise ServerLineError("Client and election port must be different! Please update"
                                  f" the configuration file on server.{sid}")
        if len(sparts) == 4:
            kind = sparts[3].strip().lower()
            if kind not in ("participant", "observer"):
                raise ServerLineError(f"Unrecognised peertype: {sparts[3]}")
            if learner_type is None:
                learner_type = LearnerType(kind)
            elif learner_type is not LearnerType(kind):
                # Java prints its type field, still the default PARTICIPANT at this point.
                raise ServerLineError("Multiple addresses should have similar roles:"
                                      f" PARTICIPANT vs {kind.upper()}")
        parsed.append((host.strip(), quorum_port, election_port))
    (host, quorum_port, election_port), *more = parsed
    return QuorumServer(sid=sid, host=host, quorum_port=quorum_port, election_port=election_port,
                        learner_type=learner_type or LearnerType.PARTICIPANT,
                        client_host=client_host, client_port=client_port,
                        more_addresses=tuple(more))
