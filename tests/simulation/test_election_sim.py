"""Seeded simulations of 3- and 5-voter FLE (pyzk.zab.election) over a lossy, reordering network
with crashes (tests/simulation/fle_sim.py). Each failure names its seed; rerun one with
`FLE_SIM_SEED=<seed> pytest tests/simulation/test_election_sim.py`. FLE_SIM_RUNS scales counts.
"""

from __future__ import annotations

import os

import pytest

from tests.simulation.fle_sim import Params, Sim

RUNS = int(os.environ.get("FLE_SIM_RUNS", "1000"))
ONE = os.environ.get("FLE_SIM_SEED")


def seeds(n: int) -> range | list[int]:
    return [int(ONE)] if ONE else range(n)


# start jitter + max delay < finalizeWait (200 ms): every vote reaches every looking peer
# before anyone can finish waiting, so a round must end in agreement. (No superseding: a
# replaced message would arrive only with a later resend, after the 200 ms window.)
BENIGN = {"3 voters": Params(voters=3, max_delay=60, start_jitter=40, supersede=0),
          "5 voters + observer": Params(voters=5, observers=1, max_delay=60, start_jitter=40,
                                        supersede=0)}
CHAOS = {"3 voters": Params(voters=3, max_delay=800, loss=0.2, crashes=3, chaos_ms=20000),
         "5 voters + observer": Params(voters=5, observers=1, max_delay=800, loss=0.2,
                                       crashes=4, chaos_ms=20000)}


@pytest.mark.parametrize("name", list(BENIGN))
def test_timely_rounds_agree_on_the_max_vote(name: str) -> None:
    p = BENIGN[name]
    for seed in seeds(RUNS):
        s = Sim(seed, p).run()
        assert not s.errors, f"seed {seed}: {s.errors}"
        first = [d for d in s.decisions if d.inc == 0 and d.round == 1]
        voters = {d.sid for d in first if s.quorum.is_voter(d.sid)}
        assert voters == set(s.quorum.voting_members), f"seed {seed}: not all voters decided"
        best = max(iv for sid, iv in s.init_votes.items() if s.quorum.is_voter(sid))
        assert {d.leader for d in first} == {best[2]}, f"seed {seed}: {first}"
        assert s.first_established is not None, f"seed {seed}: no leader established"


@pytest.mark.parametrize("name", list(CHAOS))
def test_chaos_keeps_invariants_and_converges_after_healing(name: str) -> None:
    p = CHAOS[name]
    for seed in seeds(RUNS // 2):
        s = Sim(seed, p).run()
        # Decisions name voters with votes those voters really held; states match roles; any
        # leader picked before an epoch moved beats the initial votes of a quorum.
        assert not s.errors, f"seed {seed}: {s.errors}"
        final = s.final_leaders()
        assert None not in final.values() and len(set(final.values())) == 1, (
            f"seed {seed}: no single established leader after healing: {final}")


def test_same_seed_same_run() -> None:
    a = Sim(1234, CHAOS["5 voters + observer"]).run()
    b = Sim(1234, CHAOS["5 voters + observer"]).run()
    assert [(d.time, d.sid, d.leader) for d in a.decisions] == [
        (d.time, d.sid, d.leader) for d in b.decisions]
    assert a.messages == b.messages


@pytest.mark.parametrize("name", list(BENIGN))
def test_election_time_is_a_finalize_wait_or_two(name: str) -> None:
    """Time from the first start to an established leader, in simulated ms and messages
    (printed with -s); a timely network needs about one finalizeWait plus delays."""
    done = [d for seed in range(300) if (d := Sim(seed, BENIGN[name]).run().election_done())]
    ms = sorted(t for t, _ in done)
    msgs = sorted(m for _, m in done)
    print(f"{name}: median {ms[len(ms) // 2]} ms p99 {ms[len(ms) * 99 // 100]} ms,"
          f" median {msgs[len(msgs) // 2]} messages")
    assert len(done) == 300 and ms[len(ms) // 2] < 600
