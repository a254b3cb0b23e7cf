"""The dynamic configuration files of a reconfigurable ensemble: `dynamicConfigFile=` (server.N
lines, the version taken from the file name) and `<zoo.cfg>.dynamic.next` (a proposed config not
yet committed), read as QuorumPeerConfig.parse does at boot (release-3.8.4).
"""

from __future__ import annotations

import re
from pathlib import Path

from pyzk.config.model import ConfigError, Membership, QuorumServer
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

NEXT_SUFFIX = ".dynamic.next"  # QuorumPeerConfig.nextDynamicConfigFileSuffix
_HEX_LONG = re.compile(r"[+-]?[0-9a-fA-F]+")


def version_from_filename(name: str) -> int | None:
    """QuorumPeerConfig.getVersionFromFilename: the hex long after the last '.', or None
    ("zoo.cfg.dynamic.100000000" -> 0x100000000; "zoo.cfg.dynamic" -> None, i.e. version 0)."""
    text = name[name.rfind(".") + 1:] if "." in name else ""
    if not _HEX_LONG.fullmatch(text):
        return None
    v = int(text, 16)
    return v if -(2**63) <= v < 2**63 else None


def _read(path: Path) -> list[tuple[str, str, int]]:
    """(key, value, line) of a properties file; the last of duplicate keys wins."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Error processing {path}: file is missing", str(path)) from None
    except OSError as e:
        raise ConfigError(f"Error processing {path}: {e.strerror}", str(path)) from None
    try:
        props = parse_properties(decode_config_bytes(data))
    except PropertiesSyntaxError as e:
        raise ConfigError(e.message, str(path), e.line) from None
    last: dict[str, tuple[str, str, int]] = {}
    for p in props:
        key = java_trim(p.key)
        last.pop(key, None)
        last[key] = (key, java_trim(p.value), p.line)
    return list(last.values())


def _groups_weights(path: Path, items: list[tuple[str, str, int]]
                    ) -> tuple[dict[int, tuple[int, ...]], dict[int, int]]:
    """group.G / weight.N lines of a hierarchical quorum's dynamic file."""
    groups: dict[int, tuple[int, ...]] = {}
    weights: dict[int, int] = {}
    for key, value, line in items:
        if key.startswith(("group", "weight")):
            try:
                add_group_or_weight(key, value, groups, weights)
            except ServerLineError as e:
                raise ConfigError(str(e), str(path), line, key) from None
    return groups, weights


def _servers(path: Path, items: list[tuple[str, str, int]],
             multi_lines: bool) -> dict[int, QuorumServer]:
    servers: dict[int, QuorumServer] = {}
    for key, value, line in items:
        if not key.startswith("server."):
            continue
        try:
            sid = parse_server_id(key)
            servers[sid] = parse_server(sid, value, multi_lines)
        except ServerLineError as e:
            raise ConfigError(str(e), str(path), line, key) from None
    return servers


def read_dynamic_file(path: Path, multi_lines: bool = False) -> Membership:
    """QuorumPeerConfig.parse's dynamicConfigFile branch + parseDynamicConfig with
    configBackwardCompatibilityMode=false: only server.N keys; no version inside (it comes from
    the file name, 0 when the name has none)."""
    items = _read(path)
    for key, _value, line in items:
        if key == "version":
            raise ConfigError("dynamic file shouldn't have version inside", str(path), line, key)
        if not key.startswith(("server.", "group", "weight")):
            raise ConfigError(f"Unrecognised parameter: {key}", str(path), line, key)
    groups, weights = _groups_weights(path, items)
    return Membership(_servers(path, items, multi_lines),
                      version_from_filename(str(path)) or 0, groups,
                      weights)


def read_next_file(static_path: Path, multi_lines: bool = False) -> Membership | None:
    """`<zoo.cfg>.dynamic.next`, the last seen (proposed, uncommitted) config written by
    QuorumPeer.setLastSeenQuorumVerifier; None when absent (Java: lastSeenQuorumVerifier stays
    null and QuorumPeerMain keeps the committed one)."""
    path = Path(f"{static_path}{NEXT_SUFFIX}")
    if not path.is_file():
        return None
    try:
        items = _read(path)
    except ConfigError:
        return None  # Java: IOException -> "NextQuorumVerifier is initiated to null"
    version = 0
    for key, value, line in items:
        if key == "version":
            if not _HEX_LONG.fullmatch(value):
                raise ConfigError(f"invalid version '{value}'", str(path), line, key)
            version = int(value, 16)
    try:
        groups, weights = _groups_weights(path, items)
    except ConfigError:
        return None
    return Membership(_servers(path, items, multi_lines), version, groups, weights)
