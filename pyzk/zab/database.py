"""A quorum member's database bookkeeping (ZKDatabase around the data tree) as a pure state
machine: the committed-proposal window a new leader syncs learners from, whether the tree in
memory is backed by the disk, and the disk steps a host takes before an election and on a SNAP,
a full-resync reset or a TRUNC from the leader. The host owns the tree and the files: it carries
out the actions in order and reports what it read back through `loaded`/`replayed`/`truncated`.

Each rule here was a lost or diverged committed txn in the ensemble simulation or a mixed
pyzk/Java ensemble (tests/simulation/ensemble_sim.py runs this class for every member).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Drain:
    """Wait until every queued log append and snapshot is durable: the next step reads or
    replaces what they write (a SNAP tree must not race an older append)."""


@dataclass(frozen=True)
class Reload:
    """Rebuild the tree from the newest snapshot and the log after it, then report
    `loaded(tree zxid, the logged txns)`."""


@dataclass(frozen=True)
class ReplayLog:
    """ZKDatabase.fastForwardDataBase: apply the txns logged after the tree's zxid (acked,
    never seen committed) and report each through `replayed`."""


@dataclass(frozen=True)
class CutLog:
    """ZKDatabase.truncateLog: cut the log after `zxid`, then report `truncated(ok)`; not ok
    when a snapshot newer than `zxid` makes that impossible."""
    zxid: int


@dataclass(frozen=True)
class ResyncFully:
    """The TRUNC could not be done: end this sync (LearnerCore.truncate_failed); the next
    learner announces zxid 0 and rebuilds from an empty tree (Java exits here instead)."""


DbAction = Drain | Reload | ReplayLog | CutLog | ResyncFully


class ReplicaDatabase:
    """One per member, outliving its roles (QuorumPeer's ZKDatabase)."""

    def __init__(self, commit_log_count: int) -> None:
        # ZKDatabase.committedLog: (zxid, PROPOSAL data) of the last commits, oldest first.
        self.window: deque[tuple[int, bytes]] = deque(maxlen=max(commit_log_count, 1))
        # The tree came from a SNAP or a full-resync reset and the NEWLEADER snapshot of it is
        # not durable yet: if the role ends now the disk, not this tree, is the member's
        # state, or a later DIFF is logged on top of a log that lacks the SNAP's txns.
        self.unsaved = False
        # A TRUNC was impossible: sync from zxid 0 until a sync snapshot is queued.
        self.full_resync = False
        # Bumped by each replacement: a snapshot of an earlier tree, finishing while the host
        # drains the disk for the next one, does not save the new tree.
        self.generation = 0

    # -- what the host reports --------------------------------------------------------------
    def loaded(self, tree_zxid: int, logged: Iterable[tuple[int, bytes]]) -> None:
        """The tree was rebuilt from disk (start-up, TRUNC, an unsaved SNAP dropped): the
        window is refilled from the log up to the tree, as loadDataBase's playback does, so it
        holds nothing of a truncated branch and nothing from before a SNAP gap."""
        self.window.clear()
        self.window.extend((z, d) for z, d in logged if z <= tree_zxid)
        self.unsaved = False

    def committed(self, zxid: int, data: bytes) -> None:
        """A committed txn was applied to the tree."""
        self.window.append((zxid, data))

    def replayed(self, zxid: int, data: bytes) -> None:
        """A fast-forwarded txn joins the window too (commitProposalPlaybackListener): else a
        leader with it in its tree DIFFs a learner that lacks it straight past it."""
        self.window.append((zxid, data))

    def truncated(self, ok: bool) -> list[DbAction]:
        if not ok:
            self.full_resync = True
            return [ResyncFully()]
        return [Reload()]

    def snapshot_queued(self) -> int:
        """A sync snapshot (NEWLEADER after SNAP/TRUNC/reset) of the tree as it is now is
        queued: it supersedes the log, so a full resync is no longer needed. Returns the
        token to hand to `snapshot_durable`."""
        self.full_resync = False
        return self.generation

    def snapshot_durable(self, token: int) -> None:
        """That snapshot is on disk: the tree it was taken of is backed by it."""
        if token == self.generation:
            self.unsaved = False

    # -- decisions --------------------------------------------------------------------------
    def before_election(self) -> list[DbAction]:
        """QuorumPeer.run, LOOKING: the tree must equal the disk before it votes."""
        actions: list[DbAction] = [Drain()]
        if self.unsaved:
            actions.append(Reload())
        actions.append(ReplayLog())
        return actions

    def replace(self) -> list[DbAction]:
        """A SNAP (ZKDatabase.deserializeSnapshot) or a full-resync reset replaces the tree:
        the window goes with it (a txn fast-forwarded here may not be in the leader's history)
        and the tree is unsaved until its NEWLEADER snapshot is durable."""
        self.window.clear()
        self.unsaved = True
        self.generation += 1
        return [Drain()]

    def truncate(self, zxid: int) -> list[DbAction]:
        return [Drain(), CutLog(zxid)]
