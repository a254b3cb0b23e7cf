"""A bounded, seeded differential fuzz run (pyzk vs Java ZooKeeper 3.8.0) plus the regression
cases from the issue. Fails on a pyzk crash, hang or traceback, on a difference class that
tests/fuzz/known_differences.py does not list, and when Java's answer to a regression case is
not what the issue describes (that would mean the harness, not pyzk, is broken).

Bounds: FUZZ_CASES cases of seed FUZZ_SEED, at most FUZZ_SECONDS of fuzzing (one JVM and one
pyzk start, ~2 minutes in all on 2 cores). PYZK_DIFFFUZZ_CASES / PYZK_DIFFFUZZ_SEED override.

A second, shorter run (WORKER_SEED, at most WORKER_SECONDS, PYZK_DIFFFUZZ_WORKER_* override)
gives pyzk `pyzk.workers=2`, so half its connections are served by a worker process that
forwards writes to the member: a repeated xid once hung a worker's connection, which only
this run can see.

A third (FOLLOWER_SEED, at most FOLLOWER_SECONDS counting both ensembles' start,
PYZK_DIFFFUZZ_FOLLOWER_* override) sends the cases to a follower of a 3-member ensemble on each
side (--target follower, tests/fuzz/ensemble_target.py, on 127.0.64.11-13 and .21-23): writes,
sync and sessions go through the learner's forwarding path and the leader.

A fourth (OBSERVER_SEED, at most OBSERVER_SECONDS, PYZK_DIFFFUZZ_OBSERVER_* override) sends them
to the observer of a 3-member ensemble (two voters and an observer per side, --target
observer): the observer takes INFORMs instead of PROPOSAL/COMMIT and never ACKs.
PYZK_DIFFFUZZ_OBSERVER=0 skips it.

On the learner targets a Java side gets LEARNER_JAVA_GRACE seconds after the 2 s deadline
before its case counts as a hang: in CI (three JVMs and three pyzk members on two cores) a Java
follower or observer answered valid cases late (follower seed 3 case 364, observer seed 7 cases
496 and 1038, each equal when replayed). pyzk gets no grace: its hangs count at the deadline.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from .difffuzz import (
    LEARNER_JAVA_GRACE,
    PYZK_EXTRA_CFG,
    TARGET,
    Fuzzer,
    case_stream,
    load_known,
    match_known,
    print_summary,
    regression_cases,
)
from .difffuzz import java_available as _java_available

pytestmark = [pytest.mark.java, pytest.mark.timeout(420)]

FUZZ_SEED = int(os.environ.get("PYZK_DIFFFUZZ_SEED", "20240611"))
FUZZ_CASES = int(os.environ.get("PYZK_DIFFFUZZ_CASES", "4000"))
FUZZ_SECONDS = float(os.environ.get("PYZK_DIFFFUZZ_SECONDS", "100"))
WORKER_SEED = int(os.environ.get("PYZK_DIFFFUZZ_WORKER_SEED", "1"))
WORKER_CASES = int(os.environ.get("PYZK_DIFFFUZZ_WORKER_CASES", "1500"))
WORKER_SECONDS = float(os.environ.get("PYZK_DIFFFUZZ_WORKER_SECONDS", "30"))
FOLLOWER_SEED = int(os.environ.get("PYZK_DIFFFUZZ_FOLLOWER_SEED", "3"))
FOLLOWER_CASES = int(os.environ.get("PYZK_DIFFFUZZ_FOLLOWER_CASES", "1500"))
FOLLOWER_SECONDS = float(os.environ.get("PYZK_DIFFFUZZ_FOLLOWER_SECONDS", "25"))
OBSERVER_SEED = int(os.environ.get("PYZK_DIFFFUZZ_OBSERVER_SEED", "7"))
OBSERVER_CASES = int(os.environ.get("PYZK_DIFFFUZZ_OBSERVER_CASES", "1500"))
OBSERVER_SECONDS = float(os.environ.get("PYZK_DIFFFUZZ_OBSERVER_SECONDS", "20"))


def _fuzz(tmp_path_factory: pytest.TempPathFactory, name: str, seed: int, cases: int,
          seconds: float, restart_every: int = 2500,
          regressions: bool = False) -> tuple[Fuzzer, dict]:
    """One bounded run of `seed` (after the regression cases if asked), pyzk beside Java."""
    if not _java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing (scripts/test.sh installs it)")
    fz = Fuzzer(["pyzk", "java"], Path(tmp_path_factory.mktemp(name)), deadline=2.0,
                restart_every=restart_every, log=lambda s: None,
                java_grace=LEARNER_JAVA_GRACE if TARGET["target"] != "standalone" else 0.0)
    fz.start()
    try:
        async def go() -> None:
            if regressions:
                await fz.run_cases(regression_cases())
            await fz.run_cases(case_stream(seed, 0, cases), max_seconds=seconds)
        asyncio.run(go())
    finally:
        fz.stop()
    summary = fz.summary(load_known())
    print_summary(summary)
    return fz, summary


@pytest.fixture(scope="module")
def fuzz_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fuzzer, dict]:
    return _fuzz(tmp_path_factory, "difffuzz", FUZZ_SEED, FUZZ_CASES, FUZZ_SECONDS,
                 regressions=True)


@pytest.fixture(scope="module")
def worker_fuzz_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fuzzer, dict]:
    PYZK_EXTRA_CFG["pyzk.workers"] = "2"
    try:
        return _fuzz(tmp_path_factory, "difffuzz-w2", WORKER_SEED, WORKER_CASES, WORKER_SECONDS)
    finally:
        PYZK_EXTRA_CFG.pop("pyzk.workers", None)


def _learner_fuzz(tmp_path_factory: pytest.TempPathFactory, target: str, seed: int,
                  cases: int, seconds: float) -> tuple[Fuzzer, dict]:
    TARGET["target"] = target
    try:
        return _fuzz(tmp_path_factory, f"difffuzz-{target}", seed, cases, seconds,
                     restart_every=100_000)
    finally:
        TARGET["target"] = "standalone"


@pytest.fixture(scope="module")
def follower_fuzz_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fuzzer, dict]:
    return _learner_fuzz(tmp_path_factory, "follower", FOLLOWER_SEED, FOLLOWER_CASES,
                         FOLLOWER_SECONDS)


@pytest.fixture(scope="module")
def observer_fuzz_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fuzzer, dict]:
    if os.environ.get("PYZK_DIFFFUZZ_OBSERVER") == "0":
        pytest.skip("PYZK_DIFFFUZZ_OBSERVER=0")
    return _learner_fuzz(tmp_path_factory, "observer", OBSERVER_SEED, OBSERVER_CASES,
                         OBSERVER_SECONDS)


def _no_crash_hang_or_traceback(summary: dict, at_least: int) -> None:
    st = summary["servers"]["pyzk"]
    assert st["cases"] >= at_least, f"too few cases ran: {st}"
    assert st["crashes"] == 0, summary["tracebacks"]
    assert st["hangs"] == 0, st
    assert st["tracebacks"] == 0, summary["tracebacks"].get("pyzk")


def _no_unknown_class(summary: dict, seed: int, how: str = "") -> None:
    known = load_known()
    new = [f"{c['class']}  (x{c['count']}, replay: python -m tests.fuzz.difffuzz --seed "
           f"{seed}{how} --case {c['example_case']})"
           for c in summary["classes"] if match_known(c["class"], known) is None]
    assert not new, "difference classes not in known_differences.py:\n" + "\n".join(new)


def test_pyzk_no_crash_hang_or_traceback(fuzz_result: tuple[Fuzzer, dict]) -> None:
    _no_crash_hang_or_traceback(fuzz_result[1], min(FUZZ_CASES, 300))


def test_no_unknown_difference_class(fuzz_result: tuple[Fuzzer, dict]) -> None:
    _no_unknown_class(fuzz_result[1], FUZZ_SEED)


def test_with_a_worker_no_crash_hang_traceback_or_unknown_class(
        worker_fuzz_result: tuple[Fuzzer, dict]) -> None:
    summary = worker_fuzz_result[1]
    _no_crash_hang_or_traceback(summary, min(WORKER_CASES, 100))
    _no_unknown_class(summary, WORKER_SEED, " --pyzk-cfg pyzk.workers=2")


def test_regression_cases_reproduce_javas_answers(fuzz_result: tuple[Fuzzer, dict]) -> None:
    _, summary = fuzz_result
    assert summary["regression_expectation_failures"] == []


def test_on_a_follower_no_crash_hang_traceback_or_unknown_class(
        follower_fuzz_result: tuple[Fuzzer, dict]) -> None:
    summary = follower_fuzz_result[1]
    _no_crash_hang_or_traceback(summary, min(FOLLOWER_CASES, 100))
    _no_unknown_class(summary, FOLLOWER_SEED, " --target follower")


def test_on_an_observer_no_crash_hang_traceback_or_unknown_class(
        observer_fuzz_result: tuple[Fuzzer, dict]) -> None:
    summary = observer_fuzz_result[1]
    _no_crash_hang_or_traceback(summary, min(OBSERVER_CASES, 100))
    _no_unknown_class(summary, OBSERVER_SEED, " --target observer")
