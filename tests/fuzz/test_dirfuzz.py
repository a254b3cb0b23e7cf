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

DIRFUZZ_SEED = int(os.environ.get("PYZK_DIRFUZZ_SEED", "20261205"))
DIRFUZZ_SECONDS = float(os.environ.get("PYZK_DIRFUZZ_SECONDS", "14"))
DIRFUZZ_BASES = os.environ.get("PYZK_DIRFUZZ_BASES", "pyzk,java").split(",")


@pytest.mark.java
@pytest.mark.timeout(180)
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


def test_refusal_reasons_name_no_path_offset_or_zxid() -> None:
    from .dirfuzz import refusal_reason

    line = ('{"error": "cannot recover the data directory: /tmp/x/data/version-2/log.4b: '
            'offset 678: zxid 0x52 follows 0x4f", "event": "startup failed"}')
    assert refusal_reason("pyzk", line) == ("cannot recover the data directory: log.Z: "
                                            "offset N: zxid N follows N")
    java = ("[main] ERROR ZooKeeperServerMain - Unexpected exception, exiting abnormally\n"
            "java.io.IOException: Unreasonable length = 1234567\n\tat x")
    assert refusal_reason("java", java) == "java.io.IOException: Unreasonable length = N"


def test_damage_is_a_function_of_the_seed(tmp_path: Path) -> None:
    """Both servers' copies get the same damage, so a case replays from (seed, case)."""
    from pyzk.protocol import records as r
    from pyzk.storage.datadir import DataDir
    from pyzk.storage.logfile import TxnLogWriter
    from pyzk.storage.snapshot import capture
    from pyzk.tree.datatree import DataTree

    from .dirfuzz import damaged_files, mutate

    base = tmp_path / "base"
    dd = DataDir(base)
    tree = DataTree()
    acl = [r.ACL(31, r.Id("world", "anyone"))]
    for start in (1, 6):
        dd.save_snapshot(capture(tree, {}), fsync=False)
        w = TxnLogWriter(dd.log_dir, prealloc=4096)
        for z in range(start, start + 5):
            h, txn = r.TxnHeader(1, z, z, 1000, 1), r.CreateTxn(f"/n{z}", b"x", acl, False, z)
            tree.process_txn(h, txn)
            w.append(h, txn)
        w.close()
    import random
    import shutil
    for case in range(30):
        copies = []
        for side in ("a", "b"):
            d = tmp_path / f"{case}{side}"
            shutil.copytree(base, d)
            copies.append((mutate(d / "version-2", random.Random(f"7:{case}")), d))
        (da, a), (db, b) = copies
        assert da == db
        assert not damaged_files(a / "version-2", b / "version-2"), da
