"""A bounded, seeded run of the damaged-data-directory fuzzer (tests/fuzz/dirfuzz.py): pyzk and
Java ZooKeeper 3.8.0 each start on their own copy of a base directory (built by a real pyzk
run) with the same damage. Fails on a pyzk traceback or hang, and on a difference class that
tests/fuzz/dirfuzz_known_differences.py does not list.

Bounds: two bases (a pyzk and a Java run, ~5 s), then cases for at most DIRFUZZ_SECONDS
(~21 s in all on 2 cores).
PYZK_DIRFUZZ_SEED / PYZK_DIRFUZZ_SECONDS / PYZK_DIRFUZZ_BASES override; long runs use the CLI
(`python -m tests.fuzz.dirfuzz --seed S --cases N`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.servers import java_available

from .dirfuzz import known, run

pytestmark = [pytest.mark.java, pytest.mark.timeout(180)]

DIRFUZZ_SEED = int(os.environ.get("PYZK_DIRFUZZ_SEED", "20261205"))
DIRFUZZ_SECONDS = float(os.environ.get("PYZK_DIRFUZZ_SECONDS", "14"))
DIRFUZZ_BASES = os.environ.get("PYZK_DIRFUZZ_BASES", "pyzk,java").split(",")


def test_damaged_data_dirs_start_or_refuse_as_java_does(tmp_path: Path) -> None:
    if not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing (scripts/test.sh installs it)")
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    n, found = run(DIRFUZZ_SEED, list(range(10_000)), tmp_path, DIRFUZZ_BASES,
                   seconds=DIRFUZZ_SECONDS, verbose=True)
    assert n >= 5, f"only {n} cases ran in {DIRFUZZ_SECONDS} s"
    bad = [c for r in found for c in r.classes
           if "TRACEBACK" in c or "HUNG" in c or known(c) is None]
    assert not bad, "\n".join(bad)
