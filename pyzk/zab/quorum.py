"""Majority quorum verifier (flexible/QuorumMaj.java, release-3.8.4): who votes, what is a
quorum, and the config text carried in election notifications and /zookeeper/config.

Pure: no I/O. Members are pyzk.config.model.QuorumServer records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: pyzk.config.load imports this module (no cycle at run time)
    from pyzk.config.model import QuorumServer


class VoterSet(frozenset[int]):
    """The voting members of a config whose rule is not the plain majority (hierarchical, or
    a majority with an oracle), carrying it: has_quorum applies its containsQuorum."""

    verifier: QuorumMaj

    def __new__(cls, verifier: QuorumMaj) -> VoterSet:
        self = super().__new__(cls, verifier.voting_members)
        self.verifier = verifier
        return self


def has_quorum(ids: Set[int], voters: Set[int]) -> bool:
    """The one quorum rule every decision uses (election tallies, epoch and NEWLEADER acks,
    proposal commits, the leader's synced-followers check, reconfig's synced quorum): more than
    half of `voters` are in `ids`; ids outside `voters` do not count (QuorumMaj.containsQuorum
    over SyncedLearnerTracker's voter-filtered ack set). Each caller passes the voter set of
    the config it checks, so QuorumHierarchical's group/weight rule can replace this one
    behind the same signature (a verifier object in place of the set) without touching them."""
    if type(voters) is VoterSet:
        return voters.verifier.contains_quorum(ids)
    return 2 * len(voters & ids) > len(voters)


def java_long_hashmap_order(keys: Iterable[int]) -> list[int]:
    """Iteration order of a java.util.HashMap<Long, ?> holding `keys` (QuorumMaj keeps its
    members in one, so toString lists servers in this order). Bucket = spread(Long.hashCode)
    & (capacity-1), capacity 16 doubling past a 0.75 load; buckets in index order. Keys that
    share a bucket are listed ascending (Java lists them in insertion order, which for a
    Properties-built map has no simpler rule)."""
    ks = sorted(set(keys))
    cap = 16
    while len(ks) > cap * 3 // 4:
        cap *= 2

    def bucket(k: int) -> int:
        u = k & 0xFFFFFFFFFFFFFFFF
        h = (u ^ (u >> 32)) & 0xFFFFFFFF          # Long.hashCode
        h ^= h >> 16                              # HashMap.hash spreads the high half
        return h & (cap - 1)

    return sorted(ks, key=lambda k: (bucket(k), k))


class QuorumMaj:
    """QuorumMaj: participants vote, observers are members that do not; a quorum is more than
    half of the voting members. Every server weighs 1 (QuorumMaj.getWeight)."""

    def __init__(self, members: Mapping[int, QuorumServer], version: int = 0) -> None:
        self.all_members: dict[int, QuorumServer] = dict(members)
        self.voting_members: dict[int, QuorumServer] = {
            sid: s for sid, s in self.all_members.items() if not s.is_observer}
        self.observing_members: dict[int, QuorumServer] = {
            sid: s for sid, s in self.all_members.items() if s.is_observer}
        self.version = version
        self.half = len(self.voting_members) // 2

    def weight(self, sid: int) -> int:
        return 1

    def contains_quorum(self, ack_set: Iterable[int]) -> bool:
        """QuorumMaj.containsQuorum counts the set as given (callers pass voters only, as
        SyncedLearnerTracker.addAck does); has_quorum filters to voters to be safe."""
        return has_quorum(set(ack_set), self.voting_members.keys())

    def is_voter(self, sid: int) -> bool:
        return sid in self.voting_members

    def voter_set(self) -> frozenset[int]:
        """What the leader core counts acks against (has_quorum's `voters`)."""
        return frozenset(self.voting_members)

    def with_version(self, version: int) -> QuorumMaj:
        """The same membership and rule under another version (Leader.lead's initial config)."""
        return QuorumMaj(self.all_members, version)

    @property
    def is_majority(self) -> bool:
        return True

    def to_string(self) -> str:
        """QuorumMaj.toString: `server.N=<QuorumServer.toString>` lines in HashMap order, then
        `version=<hex>` with no trailing newline."""
        lines = [f"server.{sid}={self.all_members[sid].config_string()}\n"
                 for sid in java_long_hashmap_order(self.all_members)]
        return "".join(lines) + "version=" + format(self.version & 0xFFFFFFFFFFFFFFFF, "x")

    def config_bytes(self) -> bytes:
        return self.to_string().encode("utf-8")

    def __eq__(self, other: object) -> bool:
        # QuorumMaj.equals: same version, or the same members.
        if not isinstance(other, QuorumMaj):
            return NotImplemented
        return other.version == self.version or other.all_members == self.all_members

    __hash__ = None  # type: ignore[assignment]  # Java: "hashCode not designed"


def parse_config_text(text: str) -> tuple[dict[int, str], int]:
    """The server.N values and the hex version of a QuorumMaj.toString text (the config carried
    by a version-2 notification); values are left unparsed for pyzk.config.servers.parse_server."""
    servers: dict[int, str] = {}
    version = 0
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key = key.strip()
        if key.startswith("server."):
            servers[int(key[len("server."):])] = value.strip()
        elif key == "version":
            version = int(value.strip(), 16)
    return servers, version


class QuorumHierarchical(QuorumMaj):
    """QuorumHierarchical (group.N / weight.N): every participant is in exactly one group and
    weighs weight.N (1 unless set; 0 never counts and never leads); a set is a quorum when, in
    more than half of the groups (groups weighing 0 not counted), its members weigh more than
    half the group's weight (integer halves, as Java's longs)."""

    def __init__(self, members: Mapping[int, QuorumServer], version: int,
                 groups: Mapping[int, Iterable[int]], weights: Mapping[int, int]) -> None:
        super().__init__(members, version)
        self.server_group: dict[int, int] = {}
        self.group_order: list[int] = list(groups)
        for gid, sids in groups.items():
            for sid in sids:
                if sid in self.server_group:
                    raise QuorumConfigError(f"Server {sid}is in multiple groups")
                self.server_group[sid] = gid
        self.server_weight: dict[int, int] = dict(weights)
        for sid in self.voting_members:
            if sid not in self.server_group:
                raise QuorumConfigError(f"Server {sid}is not in a group")
            self.server_weight.setdefault(sid, 1)
        self.group_weight: dict[int, int] = {}
        for sid, gid in self.server_group.items():
            # computeGroupWeight: a grouped id with no weight (not a member) fails in Java
            # (a NullPointerException); pyzk names it.
            if sid not in self.server_weight:
                raise QuorumConfigError(f"Server {sid} is in group {gid} but not a participant")
            self.group_weight[gid] = self.group_weight.get(gid, 0) + self.server_weight[sid]
        self.num_groups = len(groups) - sum(1 for w in self.group_weight.values() if w == 0)

    def weight(self, sid: int) -> int:
        return self.server_weight.get(sid, 0)

    def contains_quorum(self, ack_set: Iterable[int]) -> bool:
        expansion: dict[int, int] = {}
        for sid in set(ack_set):
            gid = self.server_group.get(sid)
            if gid is not None:
                expansion[gid] = expansion.get(gid, 0) + self.server_weight.get(sid, 0)
        if not expansion:
            return False
        won = sum(1 for gid, w in expansion.items() if w > self.group_weight[gid] // 2)
        return won > self.num_groups // 2

    def voter_set(self) -> frozenset[int]:
        return VoterSet(self)

    def with_version(self, version: int) -> QuorumMaj:
        return QuorumHierarchical(self.all_members, version, self.groups(),
                                  self.server_weight)

    @property
    def is_majority(self) -> bool:
        return False

    def groups(self) -> dict[int, list[int]]:
        """gid -> member ids in serverGroup's HashMap order (toString's group values)."""
        out: dict[int, list[int]] = {}
        for sid in java_long_hashmap_order(self.server_group):
            out.setdefault(self.server_group[sid], []).append(sid)
        return out

    def to_string(self) -> str:
        """QuorumHierarchical.toString: server lines, then group.G (members joined with ':'),
        then weight.N, each map in Java HashMap order, then the hex version."""
        lines = [f"server.{sid}={self.all_members[sid].config_string()}\n"
                 for sid in java_long_hashmap_order(self.all_members)]
        groups = self.groups()
        lines += [f"group.{gid}={':'.join(str(s) for s in groups[gid])}\n"
                  for gid in java_long_hashmap_order(groups)]
        lines += [f"weight.{sid}={self.server_weight[sid]}\n"
                  for sid in java_long_hashmap_order(self.server_weight)]
        return "".join(lines) + "version=" + format(self.version & 0xFFFFFFFFFFFFFFFF, "x")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuorumHierarchical):
            return False if isinstance(other, QuorumMaj) else NotImplemented
        return other.version == self.version or (
            other.all_members == self.all_members and other.server_weight == self.server_weight
            and other.server_group == self.server_group and other.group_weight == self.group_weight)

    __hash__ = None


class QuorumConfigError(ValueError):
    """A group/weight configuration Java's QuorumHierarchical refuses."""


class QuorumOracleMaj(QuorumMaj):
    """QuorumOracleMaj (oraclePath, 3.8): a majority, except that in a two-voter ensemble the
    one member left alone counts as a quorum while its oracle says so. `ask` reads the oracle
    (Java reads the file's first character at every question: '1' grants, anything else or a
    missing file refuses). `need_oracle` is the leader's updateNeedOracle: true while no
    follower is forwarding (and, as in Java, from the start)."""

    def __init__(self, members: Mapping[int, QuorumServer], version: int,
                 oracle_path: str, ask: Callable[[], bool]) -> None:
        super().__init__(members, version)
        self.oracle_path = oracle_path
        self.ask = ask
        self.need_oracle = True

    def update_need_oracle(self, forwarding_followers: int) -> bool:
        self.need_oracle = forwarding_followers == 0 and len(self.voting_members) == 2
        return self.need_oracle

    def contains_quorum(self, ack_set: Iterable[int]) -> bool:
        ids = set(ack_set)
        if len(self.voting_members) > 2 or super().contains_quorum(ids):
            return super().contains_quorum(ids)
        return self.need_oracle and self.ask()

    def voter_set(self) -> frozenset[int]:
        return VoterSet(self)

    def with_version(self, version: int) -> QuorumMaj:
        return QuorumOracleMaj(self.all_members, version, self.oracle_path, self.ask)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuorumMaj):
            return NotImplemented
        return type(other) is QuorumOracleMaj and (
            other.version == self.version or other.all_members == self.all_members)

    __hash__ = None


def make_quorum(members: Mapping[int, QuorumServer], version: int,
                groups: Mapping[int, Iterable[int]] | None = None,
                weights: Mapping[int, int] | None = None,
                oracle: tuple[str, Callable[[], bool]] | None = None) -> QuorumMaj:
    """QuorumPeerConfig.createQuorumVerifier: hierarchical when any group or weight is set,
    else a majority, with an oracle (its path, and how the edge reads it) when oraclePath is
    set."""
    if groups or weights:
        return QuorumHierarchical(members, version, groups or {}, weights or {})
    if oracle is not None:
        return QuorumOracleMaj(members, version, oracle[0], oracle[1])
    return QuorumMaj(members, version)
