"""A bounded, seeded differential fuzz run (pyzk vs Java ZooKeeper 3.8.0) plus the regression
cases from the issue. Fails on a pyzk crash, hang or traceback, on a difference class that
tests/fuzz/known_differences.py does not list, and when Java's answer to a regression case is
not what the issue describes (that would mean the harness, not pyzk, is broken).

Bounds: FUZZ_CASES cases of seed FUZZ_SEED, at most FUZZ_SECONDS of fuzzing (one JVM and one
pyzk start, ~2 minutes in all on 2 cores). PYZK_DIFFFUZZ_CASES / PYZK_DIFFFUZZ_SEED override.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from .difffuzz import Fuzzer, case_stream, load_known, match_known, print_summary, regression_cases
from .difffuzz import java_available as _java_available

pytestmark = [pytest.mark.java, pytest.mark.timeout(420)]

FUZZ_SEED = int(os.environ.get("PYZK_DIFFFUZZ_SEED", "20240611"))
FUZZ_CASES = int(os.environ.get("PYZK_DIFFFUZZ_CASES", "4000"))
FUZZ_SECONDS = float(os.environ.get("PYZK_DIFFFUZZ_SECONDS", "100"))


@pytest.fixture(scope="module")
def fuzz_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fuzzer, dict]:
    if not _java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing (scripts/test.sh installs it)")
    fz = Fuzzer(["pyzk", "java"], Path(tmp_path_factory.mktemp("difffuzz")), deadline=2.0,
                restart_every=2500, log=lambda s: None)
    fz.start()
    try:
        async def go() -> None:
            await fz.run_cases(regression_cases())
            await fz.run_cases(case_stream(FUZZ_SEED, 0, FUZZ_CASES), max_seconds=FUZZ_SECONDS)
        asyncio.run(go())
    finally:
        fz.stop()
    summary = fz.summary(load_known())
    print_summary(summary)
    return fz, summary


def test_pyzk_no_crash_hang_or_traceback(fuzz_result: tuple[Fuzzer, dict]) -> None:
    fz, summary = fuzz_result
    st = summary["servers"]["pyzk"]
    assert st["cases"] >= min(FUZZ_CASES, 300), f"too few cases ran: {st}"
    assert st["crashes"] == 0, summary["tracebacks"]
    assert st["hangs"] == 0, st
    assert st["tracebacks"] == 0, summary["tracebacks"].get("pyzk")


def test_no_unknown_difference_class(fuzz_result: tuple[Fuzzer, dict]) -> None:
    _, summary = fuzz_result
    known = load_known()
    new = [f"{c['class']}  (x{c['count']}, replay: python -m tests.fuzz.difffuzz --seed "
           f"{FUZZ_SEED} --case {c['example_case']})"
           for c in summary["classes"] if match_known(c["class"], known) is None]
    assert not new, "difference classes not in known_differences.py:\n" + "\n".join(new)


def test_regression_cases_reproduce_javas_answers(fuzz_result: tuple[Fuzzer, dict]) -> None:
    _, summary = fuzz_result
    assert summary["regression_expectation_failures"] == []
