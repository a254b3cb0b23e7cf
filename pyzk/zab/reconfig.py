"""Dynamic reconfiguration, pure parts: the leader's validation of a ReconfigRequest into the
next QuorumMaj (PrepRequestProcessor's reconfig branch, release-3.8.4), configFromString, and the
text of the dynamic config files QuorumPeerConfig.writeDynamicConfig / editStaticConfig write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pyzk.config.model import QuorumServer
from pyzk.config.properties import (
    PropertiesSyntaxError,
    java_properties_order,
    java_trim,
    parse_properties,
)
from pyzk.config.servers import ServerLineError, add_group_or_weight, parse_server
from pyzk.protocol.codes import Err, KeeperError

from .quorum import QuorumConfigError, QuorumMaj, make_quorum

_LONG = re.compile(r"[+-]?[0-9]+")
_HEX_LONG = re.compile(r"[+-]?[0-9a-fA-F]+")
_LOCAL_HOSTS = ("0.0.0.0", "::", "localhost", "::1", "0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:0")


class ReconfigMarshalling(Exception):
    """A RuntimeException in Java's reconfig branch (NumberFormatException,
    IllegalArgumentException): PrepRequestProcessor's catch-all answers MARSHALLINGERROR."""


def _parse_long(text: str, radix: int = 10) -> int:
    """Long.parseLong: no surrounding whitespace, optional sign, 64-bit range."""
    if not (_LONG if radix == 10 else _HEX_LONG).fullmatch(text):
        raise ReconfigMarshalling(f'For input string: "{text}"')
    v = int(text, radix)
    if not -(2**63) <= v < 2**63:
        raise ReconfigMarshalling(f'For input string: "{text}"')
    return v


def split_trimmed(value: str, sep: str) -> list[str]:
    """org.apache.zookeeper.common.StringUtils.split: trimmed pieces, empty ones dropped."""
    return [p for p in (java_trim(s) for s in value.split(sep)) if p]


class ReconfigError(KeeperError):
    """A KeeperException of the reconfig branch, with Java's message for the log."""

    def __init__(self, code: Err, detail: str) -> None:
        super().__init__(code)
        self.detail = detail


def _bad(msg: str = "Reconfiguration failed") -> KeeperError:
    return ReconfigError(Err.BADARGUMENTS, msg)


# -- QuorumServer.checkAddressDuplicate ---------------------------------------------------------

def _addresses(s: QuorumServer) -> list[tuple[str, int]]:
    out = [*s.quorum_addrs, *s.election_addrs]
    if s.client_port is not None:
        out.append((s.client_host or "0.0.0.0", s.client_port))
    return out


def _special(host: str) -> bool:
    """excludedSpecialAddresses: wildcard and loopback addresses never conflict."""
    return host in _LOCAL_HOSTS or host.startswith("127.")


def check_address_duplicate(new: QuorumServer, other: QuorumServer) -> None:
    """QuorumServer.checkAddressDuplicate: BadArgumentsException naming both servers."""
    mine = [*new.quorum_addrs, *new.election_addrs]
    theirs = [a for a in _addresses(other) if not _special(a[0])]
    for my in mine:
        if my in theirs:
            addr = f"{my[0]}:{my[1]}"
            raise _bad(f"{addr} of server.{new.sid} conflicts {addr} of server.{other.sid}")


# -- the next configuration ---------------------------------------------------------------------

def incremental(last_seen: Mapping[int, QuorumServer], joining: str | None,
                leaving: str | None) -> dict[int, QuorumServer]:
    """The incremental branch: remove `leaving` sids, then add/replace each `server.N=spec`."""
    joiners = split_trimmed(joining, ",") if joining is not None else None
    leavers = split_trimmed(leaving, ",") if leaving is not None else None
    servers = dict(last_seen)
    for sid_text in leavers or ():
        servers.pop(_parse_long(sid_text), None)
    for joiner in joiners or ():
        parts = split_trimmed(joiner, "=")
        if len(parts) != 2:
            raise _bad("Wrong format of server string")
        sid = _parse_long(parts[0][parts[0].rfind(".") + 1:])
        try:
            qs = parse_server(sid, parts[1])
        except ServerLineError:
            raise _bad() from None
        if qs.client_port is None:
            raise _bad("Wrong format of server string - each server should have 3 ports"
                       " specified")
        for other in servers.values():
            if other.sid != sid:
                check_address_duplicate(qs, other)
        servers.pop(sid, None)
        servers[sid] = qs
    return servers


def non_incremental(new_members: str, standalone_enabled: bool
                    ) -> tuple[dict[int, QuorumServer], dict[int, tuple[int, ...]],
                               dict[int, int]]:
    """The non-incremental branch: QuorumPeerConfig.parseDynamicConfig(props, .., warnings=true,
    configBackwardCompatibilityMode=false) over `newMembers` with commas read as newlines."""
    try:
        props = parse_properties(new_members.replace(",", "\n"))
    except PropertiesSyntaxError as e:
        raise _bad(str(e)) from None
    entries: dict[str, str] = {}
    for p in props:
        entries[p.key] = p.value  # Properties: the last one wins
    for key in entries:
        k = java_trim(key)
        if not k.startswith(("server.", "group", "weight")) and k != "version":
            raise _bad(f"Unrecognised parameter: {k}")
    servers: dict[int, QuorumServer] = {}
    groups: dict[int, tuple[int, ...]] = {}
    weights: dict[int, int] = {}
    for key, value in entries.items():  # QuorumMaj(Properties) / QuorumHierarchical(..)
        if key.startswith(("group", "weight")):
            try:
                add_group_or_weight(java_trim(key), java_trim(value), groups, weights)
            except ServerLineError as e:
                raise _bad(str(e)) from None
        elif key.startswith("server."):
            sid = _parse_long(key[key.index(".") + 1:])
            try:
                servers[sid] = parse_server(sid, value)
            except ServerLineError as e:
                raise _bad(str(e)) from None
        elif key == "version":
            _parse_long(value, 16)
    voters = sum(1 for s in servers.values() if not s.is_observer)
    observers = len(servers) - voters
    if voters == 0:
        if not standalone_enabled:
            raise ReconfigMarshalling("standaloneEnabled = false then number of participants"
                                      " should be >0")
        if observers:
            raise ReconfigMarshalling("Observers w/o participants is an invalid configuration")
    elif voters == 1 and standalone_enabled and observers:
        raise ReconfigMarshalling("Observers w/o quorum is an invalid configuration")
    return servers, groups, weights


def prepare(rec: Any, zxid: int, current_version: int, last_seen: QuorumMaj,
            standalone_enabled: bool,
            quorum_synced: Callable[[QuorumMaj], bool]) -> QuorumMaj:
    """PrepRequestProcessor's reconfig checks after isReconfigEnabled/checkSession, in Java's
    order: in progress, curConfigId, the next membership, its size, a synced quorum in it. The
    ACL check on /zookeeper/config comes after this (the caller's). Raises KeeperError or
    ReconfigMarshalling."""
    if last_seen.version != current_version:
        raise KeeperError(Err.RECONFIGINPROGRESS)
    cfg_id = rec.curConfigId
    if cfg_id != -1 and cfg_id != last_seen.version:
        raise ReconfigError(Err.BADVERSION, f"Reconfiguration from version {cfg_id} failed"
                            f" -- last seen version is {last_seen.version}")
    groups: dict[int, tuple[int, ...]] = {}
    weights: dict[int, int] = {}
    if rec.newMembers is not None:
        servers, groups, weights = non_incremental(rec.newMembers, standalone_enabled)
    else:
        if not last_seen.is_majority:
            raise _bad("Incremental reconfiguration requested but last configuration seen has"
                       " a non-majority quorum system")
        servers = incremental(last_seen.all_members, rec.joiningServers, rec.leavingServers)
    try:
        qv = make_quorum(servers, zxid, groups, weights)
    except QuorumConfigError as e:
        raise _bad(str(e)) from None
    if standalone_enabled and len(qv.voting_members) < 2:
        raise _bad("Reconfig failed - new configuration must include at least 2 followers")
    if len(qv.voting_members) < 1:
        raise _bad("Reconfig failed - new configuration must include at least 1 follower")
    if not quorum_synced(qv):
        raise KeeperError(Err.NEWCONFIGNOQUORUM)
    return qv


# -- QuorumPeer.configFromString and the dynamic files ------------------------------------------

def config_from_string(text: str,
                       oracle: tuple[str, Callable[[], bool]] | None = None) -> QuorumMaj:
    """QuorumPeer.configFromString: server.N lines and a hex version (QuorumMaj(Properties))."""
    servers: dict[int, QuorumServer] = {}
    groups: dict[int, tuple[int, ...]] = {}
    weights: dict[int, int] = {}
    version = 0
    for p in parse_properties(text):
        key = java_trim(p.key)
        value = java_trim(p.value)
        if key.startswith("server."):
            sid = int(key[key.index(".") + 1:])
            servers[sid] = parse_server(sid, value)
        elif key.startswith(("group", "weight")):
            add_group_or_weight(key, value, groups, weights)
        elif key == "version":
            version = int(value, 16)
    return make_quorum(servers, version, groups, weights, oracle)


def dynamic_file_text(qv: QuorumMaj, keep_version: bool) -> str:
    """QuorumPeerConfig.writeDynamicConfig: `key=value` lines of qv.toString, sorted as strings,
    joined by newlines (no trailing one); version only in the `.dynamic.next` file."""
    lines = []
    for p in parse_properties(qv.to_string()):
        key = java_trim(p.key)
        if not keep_version and key.startswith("version"):
            continue
        lines.append(f"{key}={java_trim(p.value)}")
    return "\n".join(sorted(lines))


def edited_static_config(text: str, dynamic_path: str, erase_client: bool) -> str:
    """QuorumPeerConfig.editStaticConfig: drop membership keys (and the client address when it
    moved into the dynamic file), then point dynamicConfigFile at the new file. Keys come out
    in the order Java's Properties iterates them (java_properties_order), values trimmed."""
    out = []
    values: dict[str, str] = {}
    for p in parse_properties(text):
        values[p.key] = p.value  # Properties.load: the last value wins, the key keeps its place
    for raw in java_properties_order([p.key for p in parse_properties(text)]):
        key = java_trim(raw)
        if key.startswith(("server.", "group", "weight", "dynamicConfigFile", "peerType")):
            continue
        if erase_client and key.startswith("clientPort"):
            continue
        out.append(f"{key}={java_trim(values[raw])}\n")
    out.append(f"dynamicConfigFile={dynamic_path}\n")
    return "".join(out)


def stays_leader(qv: QuorumMaj, my_id: int,
                 quorum_addr: tuple[str, int] | list[tuple[str, int]]) -> bool:
    """getDesignatedLeader's first test: a voter of the next config at the same quorum
    address (MultipleAddresses.equals: the same set of addresses)."""
    s = qv.voting_members.get(my_id)
    mine = [quorum_addr] if isinstance(quorum_addr, tuple) else quorum_addr
    return s is not None and set(s.quorum_addrs) == set(mine)
