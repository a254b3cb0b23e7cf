"""What the pure ZAB leader core (pyzk/zab/leader.py) hands its host: its phases and each
learner handler's stage, and the action records LeaderHost.execute carries out in order."""

from __future__ import annotations

from collections.abc import Hashable
from enum import StrEnum
from typing import Any, NamedTuple

from .packets import ForwardedRequest

Conn = Hashable


class LeaderPhase(StrEnum):
    """Leader.lead's progress: NEW until start(), DISCOVERY (collecting epochs from a quorum),
    SYNC (waiting for a quorum's NEWLEADER ACKs), BROADCAST (serving), STOPPED."""
    NEW = "new"
    DISCOVERY = "discovery"
    SYNC = "sync"
    BROADCAST = "broadcast"
    STOPPED = "stopped"


class HandlerStage(StrEnum):
    """Where one LearnerHandler is, in protocol order."""
    INFO = "info"  # waiting for FOLLOWERINFO/OBSERVERINFO
    EPOCH = "epoch"  # waiting for a quorum's epochs (getEpochToPropose) to send LEADERINFO
    ACKEPOCH = "ackepoch"  # LEADERINFO sent; waiting for ACKEPOCH
    EPOCHACK = "epochack"  # ACKEPOCH read; waiting for a quorum of them (waitForEpochAck)
    NEWLEADER = "newleader"  # sync and NEWLEADER sent; waiting for the ACK of NEWLEADER
    UPTODATE = "uptodate"  # NEWLEADER acked; UPTODATE goes once the leader is established
    BROADCAST = "broadcast"  # UPTODATE sent: LearnerHandler.run's broadcast loop
    DEAD = "dead"  # disconnected


# -- actions ----------------------------------------------------------------------------------

class SendTo(NamedTuple):
    conn: Conn
    qp: Any


class SendSnap(NamedTuple):
    """Write QuorumPacket(SNAP, zxid) then encode_snap_body(tree at exactly `zxid`)."""
    conn: Conn
    zxid: int


class Close(NamedTuple):
    conn: Conn
    reason: str


class PersistEpoch(NamedTuple):
    """Write acceptedEpoch/currentEpoch durably before executing later actions."""
    name: str
    value: int


class LogProposals(NamedTuple):
    """Append and fsync these txns, then call `persisted(seq)` (the leader's own ACK).
    `data` is the PROPOSAL data, which is also the txn log entry body: encoded once."""
    seq: int
    entries: list[tuple[int, Any, Any, Any, bytes]]  # (zxid, hdr, txn, digest, data)


class ApplyCommitted(NamedTuple):
    """A committed txn, in zxid order (CommitProcessor -> FinalRequestProcessor)."""
    zxid: int
    hdr: Any
    txn: Any
    digest: Any
    data: bytes | None = None  # its PROPOSAL data (for the committed-proposal window)


class Established(NamedTuple):
    """A quorum acked NEWLEADER: start the ZooKeeperServer (Leader.startZkServer)."""
    epoch: int


class StepDown(NamedTuple):
    reason: str


class CommitReconfig(NamedTuple):
    """A reconfig txn commits (Leader.tryToCommit): the host switches to `config` (the txn's
    data) through QuorumPeer.processReconfig before the ApplyCommitted that follows; `designated` is
    the leader of the next configuration (getDesignatedLeader)."""
    zxid: int
    designated: int
    config: bytes


class Touch(NamedTuple):
    session_id: int
    timeout: int


class ReadConfirmed(NamedTuple):
    """A sync of the leader's own client (`confirm_read(token)`) may be answered now."""
    token: Any


class LearnerRequest(NamedTuple):
    """A forwarded client request for the host's prep stage (Leader.submitLearnerRequest).
    A sync (type 9) must come back through `process_sync(conn)` once it reaches that stage."""
    conn: Conn
    sid: int
    request: ForwardedRequest
    authinfo: Any


class ReadDiskLog(NamedTuple):
    """Read the txn log from `zxid` on (ZKDatabase.getProposalsFromTxnLog) away from the
    core's loop and hand the entries to `disk_log_read(conn, ...)`: that learner's sync waits
    for them, as Java's LearnerHandler thread does while it reads."""
    conn: Conn
    zxid: int


# Everything LeaderCore returns; the host handles each kind (LeaderHost.execute).
LeaderAction = (SendTo | SendSnap | Close | PersistEpoch | LogProposals | ApplyCommitted
                | Established | StepDown | CommitReconfig | Touch | ReadConfirmed
                | LearnerRequest | ReadDiskLog)
