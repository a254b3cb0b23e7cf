"""Vote order and equality follow FastLeaderElection.totalOrderPredicate and Vote.equals."""

from __future__ import annotations

from pyzk.zab.vote import LONG_MIN, ServerState, Vote, total_order, vote_beats


def test_higher_peer_epoch_wins_over_higher_zxid_and_sid() -> None:
    assert total_order(1, 5, 2, 9, 900, 1)
    assert not total_order(9, 900, 1, 1, 5, 2)


def test_same_epoch_higher_zxid_wins_then_higher_sid() -> None:
    assert total_order(1, 6, 1, 3, 5, 1)
    assert total_order(3, 5, 1, 2, 5, 1)
    assert not total_order(2, 5, 1, 3, 5, 1)


def test_identical_vote_does_not_beat_itself() -> None:
    assert not total_order(3, 5, 1, 3, 5, 1)


def test_zero_weight_never_wins() -> None:
    assert not total_order(9, 99, 9, 1, 0, 0, new_weight=0)


def test_any_real_vote_beats_an_observers_min_value_proposal() -> None:
    assert vote_beats(Vote(1, 0, 1, 0), Vote(LONG_MIN, LONG_MIN, 1, LONG_MIN))


def test_looking_votes_compare_all_numbers() -> None:
    a = Vote(3, 5, 1, 0)
    assert a.same_as(Vote(3, 5, 1, 0))
    assert not a.same_as(Vote(3, 5, 2, 0))
    assert not a.same_as(Vote(3, 6, 1, 0, ServerState.FOLLOWING))


def test_out_of_election_votes_ignore_zxid_and_round() -> None:
    a = Vote(3, 5, 1, 1, ServerState.FOLLOWING, version=2)
    assert a.same_as(Vote(3, 9, 7, 1, ServerState.LEADING, version=2))
    assert not a.same_as(Vote(3, 9, 7, 2, ServerState.LEADING, version=2))


def test_mixed_format_versions_compare_only_the_leader_id() -> None:
    a = Vote(3, 5, 1, 1, ServerState.FOLLOWING, version=2)
    assert a.same_as(Vote(3, 0, 0, 7, ServerState.LEADING, version=0))


def test_str_matches_java_tostring() -> None:
    assert str(Vote(3, 0x100000002, 1, 1)) == "(3, 100000002, 1)"
    assert str(Vote(LONG_MIN, LONG_MIN, 1, LONG_MIN)) == (
        f"({LONG_MIN}, 8000000000000000, 8000000000000000)")
