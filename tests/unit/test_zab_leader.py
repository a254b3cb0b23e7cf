"""LeaderCore: discovery, sync, broadcast, pings and the syncLimit rule, driven by hand."""

from __future__ import annotations

from typing import Any

from pyzk.protocol import records as r
from pyzk.zab import leader as LD
from pyzk.zab import packets as P
from pyzk.zab.packets import PT, packet
from pyzk.zab.zxid import make_zxid as z


def _sent(acts: list[Any], conn: Any = None) -> list[tuple[str, int]]:
    return [(PT(a.qp.type).name, a.qp.zxid) for a in acts
            if isinstance(a, LD.SendTo) and (conn is None or a.conn == conn)]


def _info(sid: int, accepted: int, observer: bool = False, cfg: int = 0) -> Any:
    t = PT.OBSERVERINFO if observer else PT.FOLLOWERINFO
    return packet(t, z(accepted, 0), P.encode_learner_info(sid, cfg))


def _ackepoch(cur: int, last: int) -> Any:
    return packet(PT.ACKEPOCH, last, P.encode_int(cur))


def _established_leader(**kw: Any) -> tuple[LD.LeaderCore, list[Any]]:
    """Leader 1 of {1,2,3} at 1:2 with follower 2 synced (conn "f2")."""
    ld = LD.LeaderCore(1, {1, 2, 3}, {4}, accepted_epoch=1, current_epoch=1,
                       last_zxid=z(1, 2), committed_log=[(z(1, 1), b"a"), (z(1, 2), b"b")],
                       tick_ms=100, init_limit=5, sync_limit=2, **kw)
    acts = ld.start(0)
    acts += ld.on_packet("f2", _info(2, 1), 0)
    acts += ld.on_packet("f2", _ackepoch(1, z(1, 2)), 0)
    acts += ld.on_packet("f2", packet(PT.ACK, z(2, 0)), 0)
    return ld, acts


def test_new_epoch_is_max_accepted_plus_one_after_a_quorum_of_followerinfo() -> None:
    ld = LD.LeaderCore(1, {1, 2, 3}, set(), 3, 3, z(3, 9), [], tick_ms=100)
    assert ld.start(0) == []  # alone: no quorum yet
    acts = ld.on_packet("f2", _info(2, 5), 0)
    assert LD.PersistEpoch("acceptedEpoch", 6) in acts
    assert _sent(acts) == [("LEADERINFO", z(6, 0))]
    assert P.decode_int(acts[-1].qp.data) == 0x10000


def test_epoch_ack_quorum_sets_current_epoch_then_syncs_and_establishes() -> None:
    ld, acts = _established_leader()
    assert LD.PersistEpoch("currentEpoch", 2) in acts
    assert _sent(acts, "f2")[-3:] == [("DIFF", z(1, 2)), ("NEWLEADER", z(2, 0)),
                                      ("UPTODATE", -1)]
    assert LD.Established(2) in acts and ld.next_zxid() == z(2, 1)


def test_learner_ahead_of_the_leader_is_refused() -> None:
    ld = LD.LeaderCore(1, {1, 2, 3}, set(), 1, 1, z(1, 2), [], tick_ms=100)
    ld.start(0)
    ld.on_packet("f2", _info(2, 1), 0)
    acts = ld.on_packet("f2", _ackepoch(1, z(1, 5)), 0)
    assert any(isinstance(a, LD.Close) and "ahead" in a.reason for a in acts)
    acts = ld.on_packet("f3", _info(3, 1, cfg=99), 0)
    assert any(isinstance(a, LD.Close) and "ahead" in a.reason for a in acts)


def test_commit_needs_a_quorum_including_the_leaders_own_persisted_ack() -> None:
    ld, _ = _established_leader()
    hdr = r.TxnHeader(1, 1, z(2, 1), 0, 5)
    acts = ld.propose(hdr, r.SetDataTxn("/a", b"x", 0), None, 10)
    persist = next(a for a in acts if isinstance(a, LD.LogProposals))
    assert _sent(acts, "f2") == [("PROPOSAL", z(2, 1))]
    assert ld.on_packet("f2", packet(PT.ACK, z(2, 1)), 20) == []  # 1 of 3 voters
    acts = ld.persisted(persist.seq)
    assert _sent(acts, "f2") == [("COMMIT", z(2, 1))]
    assert [a.zxid for a in acts if isinstance(a, LD.ApplyCommitted)] == [z(2, 1)]


def test_observers_get_inform_with_the_proposal_bytes() -> None:
    ld, _ = _established_leader()
    acts = ld.on_packet("o4", _info(4, 0, observer=True), 0)
    acts += ld.on_packet("o4", _ackepoch(0, z(1, 2)), 0)
    acts += ld.on_packet("o4", packet(PT.ACK, z(2, 0)), 0)
    assert _sent(acts, "o4") == [("LEADERINFO", z(2, 0)), ("DIFF", z(1, 2)),
                                 ("NEWLEADER", z(2, 0)), ("UPTODATE", -1)]
    acts = ld.propose(r.TxnHeader(1, 1, z(2, 1), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 1)
    proposal = next(a.qp for a in acts if isinstance(a, LD.SendTo))
    acts = ld.persisted(1) + ld.on_packet("f2", packet(PT.ACK, z(2, 1)), 2)
    inform = next(a.qp for a in acts if isinstance(a, LD.SendTo) and a.conn == "o4")
    assert inform.type == PT.INFORM and inform.data == proposal.data


def test_sync_is_answered_after_the_earlier_proposals_commit() -> None:
    ld, _ = _established_leader()
    assert _sent(ld.process_sync("f2")) == [("SYNC", 0)]
    ld.propose(r.TxnHeader(1, 1, z(2, 1), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 1)
    assert ld.process_sync("f2") == []
    ld.persisted(1)
    assert ("SYNC", 0) in _sent(ld.on_packet("f2", packet(PT.ACK, z(2, 1)), 2))


def test_ping_touches_revalidate_and_forwarded_requests() -> None:
    seen: list[tuple[int, int, int]] = []

    def valid(s: int, t: int, sid: int) -> bool:
        seen.append((s, t, sid))
        return True

    ld, _ = _established_leader(session_valid=valid)
    acts = ld.on_packet("f2", packet(PT.PING, 0, P.encode_touches([(5, 3000)])), 1)
    assert acts == [LD.Touch(5, 3000)]
    acts = ld.on_packet("f2", packet(PT.REVALIDATE, -1, P.encode_revalidate(5, 3000)), 1)
    assert seen == [(5, 3000, 2)]
    assert P.decode_revalidate_reply(acts[0].qp.data) == (5, True)
    acts = ld.on_packet("f2", packet(PT.REQUEST, -1, P.encode_request(5, 9, 1, b"req")), 1)
    assert acts == [LD.LearnerRequest("f2", 2, P.ForwardedRequest(5, 9, 1, b"req"), None)]


def test_pings_every_half_tick_and_step_down_when_the_quorum_goes_quiet() -> None:
    ld, _ = _established_leader()
    acts = ld.on_tick(50)
    assert _sent(acts, "f2") == [("PING", z(2, 0))]
    for t in range(100, 2000, 50):
        ld.on_packet("f2", packet(PT.PING, 0, None), t)  # follower keeps answering
        assert not any(isinstance(a, LD.StepDown) for a in ld.on_tick(t))
    acts = []
    for t in range(2000, 3000, 50):
        acts += ld.on_tick(t)
    assert any(isinstance(a, LD.StepDown) for a in acts)


def test_a_learner_that_does_not_ack_within_sync_limit_is_dropped() -> None:
    ld, _ = _established_leader()
    ld.propose(r.TxnHeader(1, 1, z(2, 1), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 10)
    acts: list[Any] = []
    for t in range(50, 400, 50):
        ld.on_packet("f2", packet(PT.PING, 0, None), t)
        acts += ld.on_tick(t)
    assert any(isinstance(a, LD.Close) and "transaction timeout" in a.reason for a in acts)


def test_discovery_times_out_after_init_limit() -> None:
    ld = LD.LeaderCore(1, {1, 2, 3}, set(), 1, 1, 0, [], tick_ms=100, init_limit=5)
    ld.start(0)
    assert ld.on_tick(499) == []
    assert any(isinstance(a, LD.StepDown) for a in ld.on_tick(500))


# -- Java's timing: when the leader stops counting a learner ---------------------------------
# tick 100 ms, initLimit 5, syncLimit 2 (see _established_leader).

def _syncing(ld: LD.LeaderCore, conn: str, sid: int, t: int) -> None:
    """A restarted learner that got NEWLEADER and has not acked it yet (LearnerHandler
    blocked reading the NEWLEADER ACK)."""
    ld.on_packet(conn, _info(sid, 2), t)
    ld.on_packet(conn, _ackepoch(2, z(2, 0)), t)
    assert ld.handlers[conn].stage == "newleader"


def _run_until_step_down(ld: LD.LeaderCore, start: int, stop: int,
                         alive: dict[str, int] | None = None) -> tuple[int, list[Any]]:
    """Drive on_tick at the host's wake-ups; `alive` maps conns to the time they go silent."""
    t, acts = start, []
    while t < stop:
        for conn, until in (alive or {}).items():
            if t < until and conn in ld.handlers:
                acts += ld.on_packet(conn, packet(PT.PING, 0, None), t)
        got = ld.on_tick(t)
        acts += got
        if any(isinstance(a, LD.StepDown) for a in got):
            return t, acts
        wake = ld.wakeup_ms()
        t = min(t + 25, wake) if wake is not None and wake > t else t + 25
    raise AssertionError("no step-down")


def test_a_syncing_learner_counts_only_until_its_init_limit_read_timeout() -> None:
    """Java: the acceptor's soTimeout (initLimit ticks) ends the handler of a learner that
    never ACKs NEWLEADER, so it stops counting before its tickOfInitialAckDeadline
    (initLimit + syncLimit ticks). Isolated at 1000 with f2 synced and f3 syncing since 900."""
    ld, _ = _established_leader()
    t = 25
    while t < 900:
        ld.on_packet("f2", packet(PT.PING, 0, None), t)
        assert not any(isinstance(a, LD.StepDown) for a in ld.on_tick(t))
        t += 25
    _syncing(ld, "f3", 3, 900)
    t, acts = _run_until_step_down(ld, 900, 5000, alive={"f2": 1000})
    assert any(isinstance(a, LD.Close) and a.reason == "Read timed out" for a in acts)
    # f3 is gone at 900 + 500, the check runs every full tick (every other half tick)
    assert 1400 <= t <= 1400 + 100
    # without the read timeout it would have counted until tick 7 after it connected
    assert t < 900 + (5 + 2) * 100


def test_a_synced_learner_that_goes_quiet_is_dropped_after_sync_limit() -> None:
    ld, _ = _established_leader()
    t, acts = _run_until_step_down(ld, 25, 5000, alive={"f2": 1000})
    closes = [a for a in acts if isinstance(a, LD.Close)]
    assert closes and closes[0].reason == "Read timed out"
    assert 1000 + 200 <= t <= 1000 + 200 + 100


def test_a_handler_waiting_on_the_leader_is_not_timed_out() -> None:
    """While LearnerHandler waits in getEpochToPropose/waitForEpochAck it does not read."""
    ld = LD.LeaderCore(1, {1, 2, 3, 4, 5}, set(), 1, 1, z(1, 2), [], tick_ms=100,
                       init_limit=5, sync_limit=2)
    ld.start(0)
    ld.on_packet("f2", _info(2, 1), 0)  # no quorum yet: f2 waits in getEpochToPropose
    assert ld.handlers["f2"].stage == "epoch"
    assert ld.wakeup_ms() == 500  # only the discovery deadline
    for t in range(25, 500, 25):
        assert not any(isinstance(a, LD.Close) for a in ld.on_tick(t))


def test_wakeup_is_the_next_half_tick_or_read_deadline() -> None:
    ld, _ = _established_leader()
    assert ld.wakeup_ms() == 50
    ld.on_tick(50)
    ld.on_packet("f2", packet(PT.PING, 0, None), 60)
    assert ld.wakeup_ms() == 100


# -- linearizable sync (beyond Java) -----------------------------------------------------------

def _round_ping(acts: list[Any], conn: str) -> Any:
    (qp,) = [a.qp for a in acts if isinstance(a, LD.SendTo) and a.conn == conn
             and a.qp.type == PT.PING]
    assert qp.authinfo and qp.authinfo[0].scheme == LD.ROUND_SCHEME
    return qp


def _echo(qp: Any) -> Any:
    return packet(PT.PING, qp.zxid, P.encode_touches([]), qp.authinfo)


def test_linearizable_sync_waits_for_a_quorum_round_started_after_it() -> None:
    ld, _ = _established_leader(linearizable_sync=True)
    acts = ld.process_sync("f2", 10)
    assert ("SYNC", 0) not in _sent(acts)
    ping = _round_ping(acts, "f2")
    # an untagged PING (the half-tick one) proves nothing about this round
    assert _sent(ld.on_packet("f2", packet(PT.PING, 0, None), 11)) == []
    assert _sent(ld.on_packet("f2", _echo(ping), 12)) == [("SYNC", 0)]


def test_syncs_arriving_during_a_round_wait_for_the_next_one() -> None:
    ld, _ = _established_leader(linearizable_sync=True)
    first = _round_ping(ld.process_sync("f2", 10), "f2")
    assert ld.confirm_read("local", 11) == []  # joins round 2, not round 1
    acts = ld.on_packet("f2", _echo(first), 12)
    assert _sent(acts, "f2") == [("SYNC", 0), ("PING", z(2, 0))]
    second = _round_ping(acts, "f2")
    assert LD.ReadConfirmed("local") not in acts
    assert ld.on_packet("f2", _echo(second), 13) == [LD.ReadConfirmed("local")]


def test_linearizable_sync_still_waits_for_the_last_proposal_to_commit() -> None:
    ld, _ = _established_leader(linearizable_sync=True)
    ld.propose(r.TxnHeader(1, 1, z(2, 1), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 1)
    ping = _round_ping(ld.confirm_read("c", 2), "f2")
    assert ld.on_packet("f2", _echo(ping), 3) == []
    ld.persisted(1)
    assert LD.ReadConfirmed("c") in ld.on_packet("f2", packet(PT.ACK, z(2, 1)), 4)


def test_a_cut_off_leader_never_answers_a_linearizable_sync() -> None:
    """The quorum-round rule: f2 stops answering at 100; the leader keeps leading until the
    read timeout and the tick check, and answers no sync in that time."""
    ld, _ = _established_leader(linearizable_sync=True)
    acts = ld.process_sync("f2", 120) + ld.confirm_read("c", 130)
    _, acts2 = _run_until_step_down(ld, 150, 5000, alive={"f2": 100})
    acts += acts2
    assert ("SYNC", 0) not in _sent(acts)
    assert not any(isinstance(a, LD.ReadConfirmed) for a in acts)


def test_a_learner_joining_mid_round_gets_the_round_ping() -> None:
    ld, _ = _established_leader(linearizable_sync=True)
    ld.process_sync("f2", 10)
    acts = ld.on_packet("f3", _info(3, 2), 11) + ld.on_packet("f3", _ackepoch(2, z(2, 0)), 11)
    acts += ld.on_packet("f3", packet(PT.ACK, z(2, 0)), 12)
    ping = _round_ping(acts, "f3")
    assert ("SYNC", 0) in _sent(ld.on_packet("f3", _echo(ping), 13), "f2")


def test_single_voter_leader_confirms_at_once() -> None:
    ld = LD.LeaderCore(1, {1}, set(), 1, 1, z(1, 2), [], tick_ms=100, linearizable_sync=True)
    ld.start(0)
    assert ld.confirm_read("c", 1) == [LD.ReadConfirmed("c")]


def test_after_a_stall_learners_get_one_pass_before_their_reads_time_out() -> None:
    """The host could not run for 1 s (> syncLimit ticks): the first tick after it neither
    drops f2 nor counts the missed half ticks; f2's buffered PING is then read in time."""
    ld, _ = _established_leader()
    ld.on_tick(50)
    ld.on_packet("f2", packet(PT.PING, 0, None), 60)
    acts = ld.on_tick(1060)
    assert not any(isinstance(a, (LD.Close, LD.StepDown)) for a in acts)
    assert ld.tick <= 1
    ld.on_packet("f2", packet(PT.PING, 0, None), 1061)
    assert not any(isinstance(a, (LD.Close, LD.StepDown)) for a in ld.on_tick(1080))


def test_commits_proposed_after_a_linearizable_sync_wait_for_its_sync() -> None:
    """Java's learners match SYNC and COMMITs against the session's queued requests in order
    (CommitProcessor): a write proposed after the learner's sync arrived must not commit on
    it before that SYNC. Here f2's sync waits for its round while f3's ACK commits a later
    proposal: f2 gets SYNC, then that COMMIT; f3 (no sync of its own) gets the COMMIT at once."""
    ld, _ = _established_leader(linearizable_sync=True)
    ld.on_packet("f3", _info(3, 1), 1)
    ld.on_packet("f3", _ackepoch(1, z(1, 2)), 1)
    ld.on_packet("f3", packet(PT.ACK, z(2, 0)), 1)
    ping = _round_ping(ld.process_sync("f2", 10), "f2")
    ld.propose(r.TxnHeader(1, 1, z(2, 1), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 11)
    ld.persisted(1)
    acts = ld.on_packet("f3", packet(PT.ACK, z(2, 1)), 12)
    assert ("COMMIT", z(2, 1)) in _sent(acts, "f3")
    assert _sent(acts, "f2") == []
    acts = ld.on_packet("f2", _echo(ping), 13)
    assert _sent(acts, "f2") == [("SYNC", 0), ("COMMIT", z(2, 1))]


def _after_acks(batched: bool) -> tuple[list[Any], LD.LeaderCore]:
    """Five proposals persisted by the leader, then follower 2's ACKs of the first four (and
    one of a zxid never proposed) read in one chunk."""
    ld, _ = _established_leader()
    for i in range(1, 6):
        ld.propose(r.TxnHeader(1, i, z(2, i), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 10)
    ld.persisted(ld.persist_seq)
    zxids = [z(2, 1), z(2, 2), z(2, 9), z(2, 3), z(2, 4)]
    if batched:
        return ld.on_acks("f2", zxids, 20), ld
    acts: list[Any] = []
    for x in zxids:
        acts += ld.on_packet("f2", packet(PT.ACK, x), 20)
    return acts, ld


def test_a_run_of_acks_does_what_the_packets_one_by_one_do() -> None:
    one, ld1 = _after_acks(False)
    many, ld2 = _after_acks(True)
    assert many == one
    assert _sent(many, "f2") == [("COMMIT", z(2, i)) for i in range(1, 5)]
    assert sorted(ld2.outstanding) == sorted(ld1.outstanding) == [z(2, 5)]
    h1, h2 = ld1.handlers["f2"], ld2.handlers["f2"]
    assert (h2.cur, h2.nxt, h2.read_since, h2.deadline_tick) == \
        (h1.cur, h1.nxt, h1.read_since, h1.deadline_tick)


def test_acks_from_an_unknown_or_syncing_learner_take_the_packet_path() -> None:
    ld, _ = _established_leader()
    acts = ld.on_acks("nobody", [z(2, 1)], 5)  # a new connection whose first packet is ACK
    assert any(isinstance(a, LD.Close) for a in acts)


def test_acks_from_a_learners_earlier_connection_stop_counting() -> None:
    # Follower 2 acked 2:1 and reconnected: its sync TRUNCs 2:1 away (past the leader's last
    # commit) before logging it again, so the old ACK must not make a quorum with the
    # leader's own (badd528).
    ld, _ = _established_leader()
    acts = ld.propose(r.TxnHeader(1, 1, z(2, 1), 0, 5), r.SetDataTxn("/a", b"x", 0), None, 10)
    persist = next(a for a in acts if isinstance(a, LD.LogProposals))
    ld.on_packet("f2", packet(PT.ACK, z(2, 1)), 11)
    ld.on_disconnect("f2")
    ld.on_packet("f2b", _info(2, 2), 12)
    acts = ld.persisted(persist.seq)
    assert not any(isinstance(a, LD.ApplyCommitted) for a in acts)
    acts = ld.on_packet("f2b", _ackepoch(2, z(2, 1)), 13)
    assert _sent(acts, "f2b") == [("TRUNC", z(1, 2)), ("PROPOSAL", z(2, 1)),
                                  ("NEWLEADER", z(2, 0))]
    acts = ld.on_packet("f2b", packet(PT.ACK, z(2, 0)), 14)
    acts += ld.on_packet("f2b", packet(PT.ACK, z(2, 1)), 14)
    assert [a.zxid for a in acts if isinstance(a, LD.ApplyCommitted)] == [z(2, 1)]
