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


def parse_server(sid: int, value: str, multi_address_enabled: bool = False) -> QuorumServer:
    """One server line value. Several `|`-joined addresses need multiAddress.enabled (refused
    by pyzk, so they are always an error here, with Java's message)."""
    parts = value.split(";")
    if len(parts) > 2:
        raise ServerLineError(value + _WRONG_FORMAT)
    client_host: str | None = None
    client_port: int | None = None
    if len(parts) == 2:
        cparts = host_and_port(parts[1].strip())
        if len(cparts) > 2:
            raise ServerLineError(value + _WRONG_FORMAT)
        client_host = cparts[0].strip() if len(cparts) == 2 else "0.0.0.0"
        client_port = _port(cparts[-1], client_host)
    addresses = parts[0].split("|")
    if len(addresses) > 1 and not multi_address_enabled:
        raise ServerLineError("Multiple address feature is disabled, but multiple addresses"
                              f" were specified for sid {sid}")
    sparts = host_and_port(addresses[0].strip())
    if len(sparts) < 3 or len(sparts) > 4:
        raise ServerLineError(value + _WRONG_FORMAT)
    host = sparts[0].strip()
    quorum_port = _port(sparts[1], host)
    election_port = _port(sparts[2], host)
    if quorum_port == election_port:
        raise ServerLineError("Client and election port must be different! Please update the"
                              f" configuration file on server.{sid}")
    learner_type = LearnerType.PARTICIPANT
    if len(sparts) == 4:
        kind = sparts[3].strip().lower()
        if kind not in ("participant", "observer"):
            raise ServerLineError(f"Unrecognised peertype: {sparts[3]}")
        learner_type = LearnerType(kind)
    return QuorumServer(sid=sid, host=host, quorum_port=quorum_port, election_port=election_port,
                        learner_type=learner_type, client_host=client_host,
                        client_port=client_port)
