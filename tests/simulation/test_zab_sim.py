"""Randomized ZAB schedules (tests/simulation/zabsim.py): commits in zxid order everywhere, no
committed write lost across leader changes, synced servers hold the committed prefix, identical
trees after quiescence. ZABSIM_SEEDS / ZABSIM_FIRST_SEED pick the seeds (3 configs per seed)."""

from __future__ import annotations

import os

import pytest

from tests.simulation import zabsim

SEEDS = int(os.environ.get("ZABSIM_SEEDS", "700"))
FIRST = int(os.environ.get("ZABSIM_FIRST_SEED", "0"))


@pytest.mark.parametrize(("voters", "observers"), [(3, 0), (3, 1), (5, 0)])
def test_random_schedules_keep_zab_invariants(voters: int, observers: int) -> None:
    print(f"zabsim seeds {FIRST}..{FIRST + SEEDS - 1} voters={voters} observers={observers}")
    for seed in range(FIRST, FIRST + SEEDS):
        sim = zabsim.Sim(seed, voters, observers)
        try:
            sim.run()
        except zabsim.Violation as e:
            pytest.fail(f"seed={seed} voters={voters} observers={observers}: {e}")


def test_schedules_exercise_every_sync_mode_and_many_elections() -> None:
    zabsim.STATS.clear()
    for seed in range(40):
        zabsim.Sim(seed, 3, 1).run()
    s = zabsim.STATS
    assert s["DIFF"] and s["SNAP"] and s["TRUNC"] and s["elections"] > 100 and s["commits"] > 500


def test_a_seed_replays_identically() -> None:
    a, b = zabsim.Sim(7, 5, 0), zabsim.Sim(7, 5, 0)
    a.run()
    b.run()
    assert a.trace == b.trace and a.committed == b.committed
