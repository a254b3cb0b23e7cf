"""The pure FLE state machine behaves as FastLeaderElection.lookForLeader and its
WorkerReceiver do (release-3.8.4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pyzk.config.model import LearnerType, QuorumServer
from pyzk.zab.election import FLE, Broadcast, Decided, SendNotification, SetTimer
from pyzk.zab.packets_election import Notification
from pyzk.zab.quorum import QuorumMaj
from pyzk.zab.vote import LONG_MIN, ServerState

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "election"


def quorum(voters: int = 3, observers: int = 1) -> QuorumMaj:
    return QuorumMaj({sid: QuorumServer(sid, f"127.0.0.10{sid}", 2888, 3888,
                                        LearnerType.OBSERVER if sid > voters
                                        else LearnerType.PARTICIPANT)
                      for sid in range(1, voters + observers + 1)})


def note(state: ServerState, leader: int, zxid: int = 0, rnd: int = 1, epoch: int = 0) -> Notification:
    return Notification(int(state), leader, zxid, rnd, epoch, 2, quorum().config_bytes())


def decided(actions: Sequence[object]) -> Decided | None:
    return next((a for a in actions if isinstance(a, Decided)), None)


def test_start_broadcasts_own_vote_to_all_voters_including_self() -> None:
    f = FLE(2, quorum())
    acts = f.start(0x100000005, 1, now_ms=0)
    b = next(a for a in acts if isinstance(a, Broadcast))
    assert b.to_sids == (1, 2, 3)
    n = b.notification
    assert (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch) == (0, 2, 0x100000005, 1, 1)
    assert SetTimer(200) in acts


def test_three_voters_elect_the_highest_vote_after_finalize_wait() -> None:
    f = FLE(3, quorum())
    f.start(0, 0, 0)
    f.on_message(3, note(ServerState.LOOKING, 3), 1)
    acts = f.on_message(1, note(ServerState.LOOKING, 3), 2)
    assert decided(acts) is None and SetTimer(202) in acts   # quorum: wait 200 ms for better
    d = decided(f.on_timer(202))
    assert d is not None and d.state == ServerState.LEADING and d.vote.id == 3


def test_survivors_of_a_lost_peer_decide_without_finalize_wait() -> None:
    # The leader (3) died: its connection broke, so the transport reports it gone. The two
    # survivors agree, nobody else can vote: decide at once instead of 200 ms later.
    f = FLE(2, quorum())
    f.peers_changed(frozenset({3}), 0)
    f.start(0x100000009, 1, 0)
    f.on_message(2, note(ServerState.LOOKING, 2, 0x100000009, 1, 1), 1)
    d = decided(f.on_message(1, note(ServerState.LOOKING, 2, 0x100000009, 1, 1), 2))
    assert d is not None and d.state == ServerState.LEADING and d.vote.id == 2


def test_a_peer_never_reached_or_unreported_still_gets_finalize_wait() -> None:
    for gone in (None, frozenset[int]()):   # no report (Java's rule) / 3 not started yet
        f = FLE(2, quorum())
        if gone is not None:
            f.peers_changed(gone, 0)
        f.start(0, 0, 0)
        f.on_message(2, note(ServerState.LOOKING, 2), 1)
        acts = f.on_message(1, note(ServerState.LOOKING, 2), 2)
        assert decided(acts) is None and SetTimer(202) in acts


def test_losing_the_last_silent_peer_ends_finalize_wait() -> None:
    f = FLE(2, quorum())
    f.peers_changed(frozenset(), 0)
    f.start(0, 0, 0)
    f.on_message(2, note(ServerState.LOOKING, 2), 1)
    assert decided(f.on_message(1, note(ServerState.LOOKING, 2), 2)) is None
    d = decided(f.peers_changed(frozenset({3}), 50))   # 3's connection breaks mid-wait
    assert d is not None and d.vote.id == 2
    # A live peer that has not voted yet is waited for even when another is gone.
    g = FLE(1, quorum(5, 0))
    g.peers_changed(frozenset({5}), 0)
    g.start(0, 0, 0)
    acts: list[object] = []
    for sid in (3, 2, 1):
        acts = g.on_message(sid, note(ServerState.LOOKING, 3), 1)
    acts += g.on_message(1, note(ServerState.LOOKING, 3), 1)   # my moved vote loops back
    assert decided(acts) is None and g.proposed_leader == 3   # quorum, but 4 is silent


def test_a_better_vote_during_finalize_wait_restarts_the_count() -> None:
    f = FLE(1, quorum())
    f.start(0, 0, 0)
    f.on_message(1, note(ServerState.LOOKING, 2), 1)          # not yet: my own vote is 1
    f.on_message(1, note(ServerState.LOOKING, 1), 1)
    f.on_message(2, note(ServerState.LOOKING, 2), 2)
    acts = f.on_message(1, note(ServerState.LOOKING, 2), 3)   # my updated vote loops back
    assert SetTimer(203) in acts
    acts = f.on_message(3, note(ServerState.LOOKING, 3), 50)  # better: proposal moves to 3
    assert any(isinstance(a, Broadcast) and a.notification.leader == 3 for a in acts)
    assert decided(f.on_timer(203)) is None
    assert f.proposed_leader == 3


def test_notification_timeout_resends_and_doubles_up_to_the_max() -> None:
    f = FLE(1, quorum(), max_interval_ms=1000)
    f.start(0, 0, 0)
    t, gaps = 200, []
    for _ in range(5):
        acts = f.on_timer(t)
        assert any(isinstance(a, Broadcast) for a in acts)
        nxt = next(a.at_ms for a in acts if isinstance(a, SetTimer))
        assert nxt is not None
        gaps.append(nxt - t)
        t = nxt
    assert gaps == [400, 800, 1000, 1000, 1000]


def test_observer_learns_the_java_leader_from_java_notifications() -> None:
    f = FLE(4, quorum())
    acts = f.start(0, 0, 0)
    b = next(a for a in acts if isinstance(a, Broadcast))
    assert b.to_sids == (1, 2, 3) and b.notification.leader == LONG_MIN
    d = None
    for sid, name in ((1, "following_from_sid1"), (3, "leading_from_sid3"),
                      (2, "following_from_sid2")):
        n = Notification.decode((GOLDEN / f"{name}.bin").read_bytes())
        d = d or decided(f.on_message(sid, n, 10))
    assert d is not None and d.state == ServerState.OBSERVING
    assert (d.vote.id, d.vote.peer_epoch, d.vote.election_epoch) == (3, 1, 1)


def test_following_notifications_without_the_leaders_own_are_not_enough() -> None:
    f = FLE(4, quorum())
    f.start(0, 0, 0)
    for sid in (1, 2):
        n = Notification.decode((GOLDEN / f"following_from_sid{sid}.bin").read_bytes())
        assert decided(f.on_message(sid, n, 10)) is None     # checkLeader: no LEADING yet


def test_restarted_voter_joins_an_ensemble_from_a_later_round() -> None:
    f = FLE(1, quorum())
    f.start(0, 0, 0)
    assert decided(f.on_message(3, note(ServerState.LEADING, 3, rnd=7, epoch=2), 5)) is None
    d = decided(f.on_message(2, note(ServerState.FOLLOWING, 3, rnd=7, epoch=2), 6))
    assert d is not None and d.state == ServerState.FOLLOWING and d.vote.id == 3
    assert f.logical_clock == 7


def test_non_voters_get_the_current_vote_at_once() -> None:
    f = FLE(3, quorum())
    f.start(0, 0, 0)
    acts = f.on_message(4, note(ServerState.LOOKING, LONG_MIN, LONG_MIN, 1, LONG_MIN), 1)
    assert len(acts) == 1 and isinstance(acts[0], SendNotification) and acts[0].to_sid == 4
    assert acts[0].notification.state == ServerState.LOOKING and acts[0].notification.leader == 3


def test_lagging_looking_peer_is_told_our_round() -> None:
    f = FLE(3, quorum())
    f.start(0, 0, 0)
    f.on_message(2, note(ServerState.LOOKING, 2, rnd=5), 1)   # jump to round 5
    acts = f.on_message(1, note(ServerState.LOOKING, 1, rnd=1), 2)
    reply = next(a for a in acts if isinstance(a, SendNotification))
    assert (reply.to_sid, reply.notification.election_epoch, reply.notification.leader) == (1, 5, 3)


def test_a_follower_answers_looking_voters_with_its_current_vote() -> None:
    f = FLE(1, quorum())
    f.start(0, 0, 0)
    f.on_message(3, note(ServerState.LEADING, 3, rnd=1), 1)
    assert decided(f.on_message(2, note(ServerState.FOLLOWING, 3, rnd=1), 2)) is not None
    f.update_election_vote(1)
    acts = f.on_message(2, note(ServerState.LOOKING, 2, rnd=3), 9)
    reply = next(a for a in acts if isinstance(a, SendNotification)).notification
    assert (reply.state, reply.leader, reply.election_epoch, reply.peer_epoch) == (1, 3, 1, 1)
    assert f.on_message(3, note(ServerState.LEADING, 3), 10) == []   # non-LOOKING: ignored


def test_a_leader_hearing_another_leader_reports_a_rival() -> None:
    """The seed's "multiple leaders" situation becomes an action the host logs, naming both."""
    from pyzk.zab.election import RivalLeader

    f = FLE(3, quorum())
    f.start(0, 0, 0)
    f.on_message(3, note(ServerState.LOOKING, 3), 1)
    f.on_message(1, note(ServerState.LOOKING, 3), 2)
    assert decided(f.on_timer(202)).state == ServerState.LEADING
    acts = f.on_message(2, note(ServerState.LEADING, 2, epoch=5), 300)
    assert RivalLeader(2, 5, 0) in acts
    assert not any(isinstance(a, RivalLeader)
                   for a in f.on_message(1, note(ServerState.FOLLOWING, 3), 301))


# -- a newer config gossiped in a notification (WorkerReceiver, processReconfig) ---------------

def _with_version(q: QuorumMaj, version: int) -> QuorumMaj:
    return QuorumMaj(q.all_members, version)


def _cfg_note(state: ServerState, leader: int, cfg: QuorumMaj, rnd: int = 1,
              epoch: int = 1) -> Notification:
    return Notification(int(state), leader, 0x100000003, rnd, epoch, 2, cfg.config_bytes())


def test_newer_membership_in_a_notification_is_adopted_and_restarts_the_election() -> None:
    from pyzk.zab.election import AdoptConfig

    # Server 1 slept through a reconfig that made it an observer of voters {2, 3}.
    old = _with_version(quorum(3, 0), 0x100000000)
    new_members = dict(old.all_members)
    new_members[1] = QuorumServer(1, "127.0.0.101", 2888, 3888, LearnerType.OBSERVER)
    new = QuorumMaj(new_members, 0x100000003)
    f = FLE(1, old, reconfig_enabled=True)
    f.start(0x100000000, 1, 0)
    f.on_message(1, _cfg_note(ServerState.LOOKING, 1, old), 1)       # round 1, own vote
    acts = f.on_message(3, _cfg_note(ServerState.LEADING, 3, new, rnd=4), 5)
    adopt = acts[0]
    assert isinstance(adopt, AdoptConfig) and adopt.restarted
    assert adopt.quorum.version == 0x100000003 and adopt.previous_version == 0x100000000
    assert f.quorum is adopt.quorum and f.participant is False
    # A new election under the new config: round 1 again, an observer's proposal, sent to the
    # new voters only; the message that carried the config is not counted.
    b = next(a for a in acts if isinstance(a, Broadcast))
    assert b.to_sids == (2, 3) and b.notification.leader == LONG_MIN
    assert b.notification.election_epoch == 1 and b.notification.config == new.config_bytes()
    assert decided(acts) is None
    f.on_message(3, _cfg_note(ServerState.LEADING, 3, new, rnd=4), 6)
    d = decided(f.on_message(2, _cfg_note(ServerState.FOLLOWING, 3, new, rnd=4), 7))
    assert d is not None and d.state == ServerState.OBSERVING and d.vote.id == 3


def test_newer_version_of_the_same_membership_is_adopted_without_a_restart() -> None:
    from pyzk.zab.election import AdoptConfig

    old = _with_version(quorum(3, 0), 0x100000000)
    newer = _with_version(quorum(3, 0), 0x200000000)
    f = FLE(1, old, reconfig_enabled=True)
    f.start(0, 0, 0)
    acts = f.on_message(3, _cfg_note(ServerState.LOOKING, 3, newer), 1)
    assert acts[0] == AdoptConfig(newer, 0x100000000, False)
    assert f.logical_clock == 1 and f.proposed_leader == 3   # the message is still processed


def test_configs_are_ignored_when_older_not_looking_or_reconfig_disabled() -> None:
    old = _with_version(quorum(3, 0), 0x200000000)
    stale = _with_version(quorum(2, 0), 0x100000000)
    newer = _with_version(quorum(2, 0), 0x300000000)
    f = FLE(1, old, reconfig_enabled=True)
    f.start(0, 0, 0)
    assert not any(type(a).__name__ == "AdoptConfig"
                   for a in f.on_message(3, _cfg_note(ServerState.LOOKING, 3, stale), 1))
    off = FLE(1, old)
    off.start(0, 0, 0)
    off.on_message(3, _cfg_note(ServerState.LOOKING, 3, newer), 1)
    assert off.quorum is old
    # Decided (FOLLOWING): Java skips processReconfig outside LOOKING.
    f.on_message(3, note(ServerState.LEADING, 3, rnd=1), 2)
    assert decided(f.on_message(2, note(ServerState.FOLLOWING, 3, rnd=1), 3)) is not None
    f.on_message(2, _cfg_note(ServerState.LOOKING, 2, newer, rnd=3), 4)
    assert f.quorum is old
