"""Seeded schedules of whole ensembles running the real hosts (tests/simulation/hostsim.py):
unmodified QuorumPeers on a simulated loop, network, disk and clock, with crashes, restarts,
partitions, resets and abandoned client sessions. HOSTSIM_SEEDS / HOSTSIM_FIRST_SEED pick the
seeds (per configuration); a failure prints the command that replays it."""

from __future__ import annotations

import os

import pytest

from tests.simulation import hostsim, removed_fixes

SEEDS = int(os.environ.get("HOSTSIM_SEEDS", "32"))
DIRECTED_SEEDS = int(os.environ.get("HOSTSIM_DIRECTED_SEEDS", "12"))
FIRST = int(os.environ.get("HOSTSIM_FIRST_SEED", "0"))


@pytest.mark.parametrize("config", hostsim.RANDOM_CONFIGS)
def test_random_schedules_keep_election_zab_and_session_invariants(config: str) -> None:
    for seed in range(FIRST, FIRST + SEEDS):
        try:
            hostsim.run_one(seed, config)
        except hostsim.Violation as e:
            pytest.fail(str(e))


@pytest.mark.parametrize("config", [c for c in hostsim.CONFIGS if c not in hostsim.RANDOM_CONFIGS])
def test_directed_schedules_keep_the_same_invariants(config: str) -> None:
    """tests/simulation/directed.py: scripted situations, seeded timings."""
    for seed in range(FIRST, FIRST + DIRECTED_SEEDS):
        try:
            hostsim.run_one(seed, config)
        except hostsim.Violation as e:
            pytest.fail(str(e))


def test_schedules_exercise_faults_syncs_and_expiry() -> None:
    hostsim.STATS.clear()
    for seed in range(6):
        hostsim.run_one(seed, "3+1")
    s = hostsim.STATS
    assert s["established"] > 10 and s["acked"] > 300 and s["crashes"] > 20
    assert s["resets"] and s["partitions"] and s["clock_steps"] and s["killed_in_job"]
    assert s["sync_cuts"] and s["sync_crashes"] and s["slow_disks"]
    assert s["expired"] > 12 and s["DIFF"] and s["SNAP"]


def test_a_seed_replays_identically() -> None:
    a, b = hostsim.run_one(11, "3+1"), hostsim.run_one(11, "3+1")
    assert a.trace == b.trace and a.acked == b.acked and a.digests == b.digests
    assert a.loop.time() == b.loop.time()


# The checker's power: each past fix (tests/simulation/removed_fixes.py), removed again from the
# real code, is caught by a known seed (found by `python -m tests.simulation.removed_fixes`).
@pytest.mark.parametrize(("fix", "seeds", "config"), removed_fixes.KNOWN_CATCHES)
def test_each_removed_fix_is_caught_by_a_known_seed(fix: str, seeds: tuple[int, ...],
                                                    config: str) -> None:
    for seed in seeds:
        try:
            with removed_fixes.removed(fix):
                hostsim.run_one(seed, config)
        except hostsim.Violation:
            hostsim.run_one(seed, config)  # and the real code passes it
            return
    pytest.fail(f"no seed of {seeds} ({config}) catches the removal of {fix}: find new ones "
                f"with `python -m tests.simulation.removed_fixes 200 {fix} {config}`")
