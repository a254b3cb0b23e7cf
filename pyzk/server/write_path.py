"""The interfaces between ZkServer and what carries its writes: the write path of a quorum
member's role, and a standalone server's hook for its worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..protocol import records as r

if TYPE_CHECKING:
    from .connection import ClientConn
    from .pending import Origin, Pending


class WritePath(Protocol):
    """How a quorum member's writes reach the txn log (pyzk.server.leader_host/learner_host).

    None on a ZkServer means standalone group commit. A leader proposes prepped txns
    (`submit`); a follower or observer (`forwards`) sends the raw request to the leader and
    applies it when the COMMIT comes back (FollowerRequestProcessor)."""

    forwards: bool
    forwards_sync: bool  # syncs go to `forward` too (a learner; a leader confirming reads)
    # A closing session's writes still go to the leader, which logs them as error txns: a
    # learner's LearnerSessionTracker.touchSession is true for a global session, closing or
    # not. A leader, and a worker (one server with its member), refuse them as Java's
    # SessionTrackerImpl does.
    forwards_closing: bool

    def submit(self, hdr: r.TxnHeaderRecord, txn: r.TxnRecord, origin: Origin,
               digest: r.TxnDigestRecord | None = None) -> None: ...
    def forward(self, conn: ClientConn, pending: Pending, op: int, body: bytes) -> None: ...
    def create_session(self, conn: ClientConn | None, session_id: int, timeout: int,
                       origin: Origin) -> None: ...
    def revalidate(self, conn: ClientConn, session_id: int, timeout: int) -> None: ...
    def touched(self, session_id: int, timeout_ms: int) -> None: ...




# A standalone server's applied txns, on to its worker processes (pyzk/server/workers).
OnCommitted = Callable[[r.TxnHeaderRecord, r.TxnRecord, r.TxnDigestRecord | None], None]
