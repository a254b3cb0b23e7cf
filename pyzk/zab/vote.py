"""Election votes and their total order (QuorumPeer.ServerState, Vote.java and
FastLeaderElection.totalOrderPredicate, release-3.8.4).

Pure: no I/O. A Vote is immutable; equality follows Vote.equals, not dataclass equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# Java Long.MIN_VALUE: the proposal of a server that may not be elected (observers, non-voters),
# FastLeaderElection.getInitId / getInitLastLoggedZxid / getPeerEpoch.
LONG_MIN = -(2**63)
# QuorumPeer.OBSERVER_ID: the sid an anonymous observer announces on the election port.
OBSERVER_ID = 2**63 - 1


class ServerState(IntEnum):
    """QuorumPeer.ServerState; the wire carries the ordinal."""

    LOOKING = 0
    FOLLOWING = 1
    LEADING = 2
    OBSERVING = 3


@dataclass(frozen=True, eq=False)
class Vote:
    """Vote.java: the proposed leader `id`, its last zxid, the election round (`election_epoch`,
    the sender's logical clock), the leader's accepted epoch and the voter's state. `version` is
    the notification format version (0 for votes built locally, as Java's 4/5-argument
    constructors do); it only matters to `same_as`."""

    id: int
    zxid: int
    election_epoch: int = -1
    peer_epoch: int = -1
    state: ServerState = ServerState.LOOKING
    version: int = 0

    def same_as(self, other: Vote) -> bool:
        """Vote.equals. LOOKING votes compare all four numbers; votes of servers out of election
        compare only id and peerEpoch (ZOOKEEPER-1805: their zxid/round may be stale), and only
        id when exactly one side predates ZOOKEEPER-1732 (version 0)."""
        if self.state == ServerState.LOOKING or other.state == ServerState.LOOKING:
            return (self.id == other.id and self.zxid == other.zxid
                    and self.election_epoch == other.election_epoch
                    and self.peer_epoch == other.peer_epoch)
        if (self.version > 0) != (other.version > 0):
            return self.id == other.id
        return self.id == other.id and self.peer_epoch == other.peer_epoch

    def __str__(self) -> str:
        # Vote.toString: "(id, hex zxid, hex peerEpoch)"; Java hex of negatives is two's complement.
        return f"({self.id}, {_hex(self.zxid)}, {_hex(self.peer_epoch)})"


def _hex(v: int) -> str:
    return format(v & 0xFFFFFFFFFFFFFFFF, "x")


def total_order(new_id: int, new_zxid: int, new_epoch: int, cur_id: int, cur_zxid: int,
                cur_epoch: int, new_weight: int = 1) -> bool:
    """FastLeaderElection.totalOrderPredicate: does (new_id, new_zxid, new_epoch) beat the current
    proposal? Higher peerEpoch, then higher zxid, then higher sid; a zero-weight server never wins."""
    if new_weight == 0:
        return False
    return (new_epoch > cur_epoch
            or (new_epoch == cur_epoch
                and (new_zxid > cur_zxid or (new_zxid == cur_zxid and new_id > cur_id))))


def vote_beats(new: Vote, cur: Vote, new_weight: int = 1) -> bool:
    """total_order on two Vote objects."""
    return total_order(new.id, new.zxid, new.peer_epoch, cur.id, cur.zxid, cur.peer_epoch,
                       new_weight)
