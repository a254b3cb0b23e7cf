"""The real-host simulation's power (tests/simulation/hostsim.py): each past fix a simulation,
a mixed ensemble or the Jepsen suite called for, removed again by patching the real code (a core
or a host) back to its pre-fix form, must be caught by some seed.
test_hostsim.py replays known catching seeds per fix (KNOWN_CATCHES) in CI; by hand:

    .venv/bin/python -m tests.simulation.removed_fixes [seeds_per_config] [fix ...] [config ...]

runs the seeds 0.. of each configuration (all by default) with each fix removed (all by
default) and lists the catching seeds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyzk.server.learner_host import LearnerHost
from pyzk.server.persistence import TxnSnapLog
from pyzk.server.zkserver import ZkServer
from pyzk.storage import txnlog
from pyzk.storage.logfile import iter_log
from pyzk.zab import database as D
from pyzk.zab import leader as LD
from pyzk.zab import learner as LN
from pyzk.zab.packets import PT, encode_touches, packet
from tests.simulation import hostsim as es


def _no_ff_window(self: D.ReplicaDatabase, zxid: int, data: bytes) -> None:
    """fe66b2b: fast-forwarded txns did not join the committed window."""


def _snap_keeps_window(self: D.ReplicaDatabase) -> list[D.DbAction]:
    """fe66b2b: a SNAP/reset left the old window in place."""
    self.unsaved = True
    self.generation += 1
    return [D.Drain()]


def _reload_keeps_window(self: D.ReplicaDatabase, tree_zxid: int, logged: Any) -> None:
    """fe66b2b: the window was loaded at start-up only, not again after a TRUNC."""
    if not self.window:
        self.window.extend((z, d) for z, d in logged if z <= tree_zxid)
    self.unsaved = False


def _keep_unsaved_snap(self: D.ReplicaDatabase) -> list[D.DbAction]:
    """fe66b2b: a SNAP tree whose NEWLEADER snapshot never reached disk was kept."""
    self.unsaved = False
    return [D.Drain(), D.ReplayLog()]


def _commit_undeferred(self: LN.LearnerCore, zxid: int) -> None:
    """5de8ee2: DIFF-sync commits before NEWLEADER were applied before being logged."""
    if not self.pending:
        return
    if self.pending[0].zxid != zxid:
        return self._fail(f"Committing zxid {zxid:#x} but next pending txn "
                          f"{self.pending[0].zxid:#x}")
    self.out.append(LN.Apply(self.pending.popleft()))
    return None


class _AcksKept(set[int]):
    def discard(self, sid: object) -> None:
        """badd528: acks from a learner's earlier connection kept counting."""


def _proposal_keeping_acks(orig: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kw: Any) -> None:
        orig(self, *args, **kw)
        self.acks = _AcksKept(self.acks)
    return init


def _ping_overtakes(orig: Callable[[LN.LearnerCore, Any], None]
                    ) -> Callable[[LN.LearnerCore, Any], None]:
    def sync_packet(self: LN.LearnerCore, qp: Any) -> None:
        """78c288d: a PING reply during sync did not wait for the NEWLEADER ack."""
        if qp.type == PT.PING:
            return self._send(packet(PT.PING, qp.zxid, encode_touches(self.touches()),
                                     qp.authinfo))
        return orig(self, qp)
    return sync_packet


def _expire_on_wall_time(self: ZkServer) -> int:
    """1e48a70: session expiry read the wall clock (time.time()), so an NTP step expired
    every session at once."""
    return self.clock.wall_ms()


def _persist_without_marker(self: LearnerHost, a: LN.Persist) -> None:
    """b9e5980: no updatingEpoch marker around a SNAP sync's snapshot and currentEpoch write,
    so a crash between the two left a data dir that refuses to start (LearnerHost._persist as
    it was before that commit)."""
    seq = a.seq
    after = None
    if a.current_epoch is not None:
        epoch = a.current_epoch

        def after() -> None:
            self.peer.persist_epoch("currentEpoch", epoch)

    snap_tree = self.server.tree if a.snapshot else None
    db = self.peer.db
    token = db.snapshot_queued() if a.snapshot else -1

    def done() -> None:
        if a.snapshot:
            db.snapshot_durable(token)
        self._persisted(seq)

    self.peer.disk.submit([(e.hdr, e.txn, e.digest, e.data) for e in a.entries],
                          done, snapshot_tree=snap_tree,
                          sessions=self.server.sessions.timeouts, after=after)


def _marker_for_snap_only(self: LearnerHost, a: LN.Persist) -> None:
    """Found by hostsim (seed 1213, "3"): the updatingEpoch marker was written for a SNAP
    sync only, so a kill between a DIFF sync's logged new-epoch txns and its currentEpoch
    write left a data dir that refuses to start."""
    if a.current_epoch is not None and not a.snapshot:
        return _persist_without_marker(self, a)
    return _ORIGINAL_PERSIST(self, a)


def _window_from_whole_log(self: TxnSnapLog) -> Iterator[tuple[int, bytes]]:
    """Found by hostsim (seed 1667, "3"): the window after a restart or reload held every
    logged txn up to the tree, also those before the snapshot recovery loaded: after a SNAP
    sync, an abandoned branch that ended short of the SNAP's zxid, which the member, leading,
    then TRUNCed a learner into."""
    for _, _, e in iter_log(self.datadir.log_dir, 0):
        yield e.hdr.zxid, txnlog.serialize_txn(e.hdr, e.txn, e.digest)


# name -> (class, attribute, replacement or a wrapper of the original)
FIXES: dict[str, tuple[type, str, Callable[..., Any], bool]] = {
    "ff_window": (D.ReplicaDatabase, "replayed", _no_ff_window, False),
    "snap_clears_window": (D.ReplicaDatabase, "replace", _snap_keeps_window, False),
    "reload_refills_window": (D.ReplicaDatabase, "loaded", _reload_keeps_window, False),
    "drop_unsaved_snap": (D.ReplicaDatabase, "before_election", _keep_unsaved_snap, False),
    "diff_commit_deferred": (LN.LearnerCore, "_commit", _commit_undeferred, False),
    "stale_acks_dropped": (LD._Proposal, "__init__", _proposal_keeping_acks, True),
    "ping_behind_ack": (LN.LearnerCore, "_sync_packet", _ping_overtakes, True),
    # host-level fixes (pyzk/server)
    "expiry_on_elapsed_time": (ZkServer, "mono_ms", _expire_on_wall_time, False),
    "updating_epoch_marker": (LearnerHost, "_persist", _persist_without_marker, False),
    "marker_on_diff_sync": (LearnerHost, "_persist", _marker_for_snap_only, False),
    "window_after_snapshot": (TxnSnapLog, "replayed_txns", _window_from_whole_log, False),
}
_ORIGINAL_PERSIST = LearnerHost._persist


# Catching seeds per fix, replayed by test_hostsim.py, which passes when any of them catches
# the fix's removal (a few per fix, so that a change to the server that moves a schedule does
# not blind the check at once; found with this script's __main__ or catching_seeds, 2026-12-05,
# after syncfaults.py's cut sync streams, crashes after syncs and slow disks moved every seed;
# snap_clears_window "3+1", drop_unsaved_snap, diff_commit_deferred, marker_on_diff_sync and
# window_after_snapshot found again once the leader read learners' syncs from the txn log in a
# worker thread, which moved their schedules; snap_clears_window, diff_commit_deferred and
# window_after_snapshot again on 2026-12-06, when group commit stopped double-buffering).
KNOWN_CATCHES: list[tuple[str, tuple[int, ...], str]] = [
    # fast-forwarded txns missing from the window
    ("ff_window", (1, 5, 14), "3"),
    # a SNAP'd member that leads before its window is refreshed: a learner it DIFFs or TRUNCs
    # from the pre-SNAP part of its window misses the SNAP's txns (2/400 seeds of "3",
    # 1/400 of "3+1", 0/400 of "5")
    ("snap_clears_window", (1005, 1232), "3"),  # 2 of seeds 0..1232 (2026-12-06)
    ("snap_clears_window", (560,), "3+1"),  # the 1st of seeds 0..560 (2026-12-06)
    # a SNAP stream cut before NEWLEADER: the unsaved tree voted, later txns were logged after
    # a gap that a restart replays (3 of seeds 0..51 of "3")
    ("drop_unsaved_snap", (94, 183, 446), "3"),
    # a DIFF stream cut before NEWLEADER after its COMMITs: the same gap (3 of 0..559 of "3")
    ("diff_commit_deferred", (145, 273, 559), "3"),
    # a member on a slow disk: leader PINGs overtake its NEWLEADER ACK, the leader drops it
    # every time and the healed ensemble never catches up (3 of seeds 0..24 of "3")
    ("ping_behind_ack", (5, 6, 24), "3"),
    # an hour's wall-clock step expires a live session
    ("expiry_on_elapsed_time", (0, 1, 2), "3"),
    # killed between a SNAP sync's snapshot and its currentEpoch write
    ("updating_epoch_marker", (1, 16, 31), "3"),
    # killed between a DIFF sync's log write and its currentEpoch write
    ("marker_on_diff_sync", (34, 73, 136), "3"),
    # a member restarted after a SNAP sync with an abandoned branch in its window, leading:
    # a learner TRUNCed into that branch loses committed txns (1/600 seeds of "3+1" (and
    # 1021), 0/600 of "3" and "5")
    ("window_after_snapshot", (583,), "3+1"),  # the 1st of seeds 0..583 (2026-12-06)
    # a member that fast-forwarded a proposal its next leader never had, TRUNCed by that
    # leader and leading soon after, DIFFs a learner behind the TRUNC point from its window:
    # the directed schedule of directed.py (44/60 seeds); no random schedule got there (0 of
    # 200 seeds of "3" and "3+1" before window_after_snapshot's fix, 0 of 80 per configuration
    # after it; not even a reload with a non-empty window in 40 seeds of "5")
    ("reload_refills_window", (1, 3, 8), "3+1-trunc-leads"),
    # a follower's ACK from its earlier connection counted after its new sync TRUNCed the
    # proposal away: committed while only the leader's log file held it (directed.py's
    # "3-stale-ack", whose COMMIT check reads the voters' log files; 56/60 seeds). The random
    # schedules never caught it (0 of 60, and after window_after_snapshot's fix 0 of 80, per
    # configuration): the stale ACK counts only between the TRUNC and the NEWLEADER write of
    # the txn again (a few ms), and they check acknowledged writes, not which disks hold a
    # txn when it commits.
    ("stale_acks_dropped", (0, 1, 2), "3-stale-ack"),
]


@contextmanager
def removed(name: str) -> Iterator[None]:
    cls, attr, repl, wraps = FIXES[name]
    orig = cls.__dict__[attr]
    setattr(cls, attr, repl(orig) if wraps else repl)
    try:
        yield
    finally:
        setattr(cls, attr, orig)


def catching_seeds(name: str, seeds: range, config: str, stop_after: int = 0) -> list[int]:
    found: list[int] = []
    with removed(name):
        for seed in seeds:
            try:
                es.run_one(seed, config)
            except es.Violation:
                found.append(seed)
                if stop_after and len(found) >= stop_after:
                    break
    return found


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    names = [a for a in sys.argv[2:] if a in FIXES] or list(FIXES)
    configs = [a for a in sys.argv[2:] if a in es.CONFIGS] or list(es.CONFIGS)
    for fix in names:
        for cfg in configs:
            hits = catching_seeds(fix, range(count), cfg)
            print(f"{fix:22} {cfg:4} caught by {len(hits)}/{count}: {hits[:12]}", flush=True)
