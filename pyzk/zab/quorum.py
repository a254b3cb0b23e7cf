"""Majority quorum verifier (flexible/QuorumMaj.java, release-3.8.4): who votes, what is a
quorum, and the config text carried in election notifications and /zookeeper/config.

Pure: no I/O. Members are pyzk.config.model.QuorumServer records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from pyzk.config.model import QuorumServer


def has_quorum(ids: Set[int], voters: Set[int]) -> bool:
    """The one quorum rule every decision uses (election tallies, epoch and NEWLEADER acks,
    proposal commits, the leader's synced-followers check, reconfig's synced quorum): more than
    half of `voters` are in `ids`; ids outside `voters` do not count (QuorumMaj.containsQuorum
    over SyncedLearnerTracker's voter-filtered ack set). Each caller passes the voter set of
    the config it checks, so QuorumHierarchical's group/weight rule can replace this one
    behind the same signature (a verifier object in place of the set) without touching them."""
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
