"""Fixtures for mixed ensembles: pyzk and Debian's Java ZooKeeper 3.8.0 servers in one
ensemble, on loopback addresses 127.0.5.1-9 (reserved for these tests so they never meet the
other ensemble suites). Skipped where Java ZooKeeper is not installed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ensemble.launcher import Ensemble
from tests.servers import java_available

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.java)
            if not java_available():
                item.add_marker(pytest.mark.skip(
                    reason="Debian's Java ZooKeeper is not installed (scripts/test.sh installs it)"))


@pytest.fixture
def mixed(workdir: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Ensemble]]:
    """make(kinds, **kw): an Ensemble of len(kinds) members on 127.0.5.1.., not started; every
    one made is stopped at teardown, and on failure the members' log tails are printed."""
    made: list[Ensemble] = []

    def make(kinds: dict[int, str], subnet: str = "127.0.5", **kw: object) -> Ensemble:
        hosts = [f"{subnet}.{i}" for i in range(1, len(kinds) + 1)]
        e = Ensemble(workdir, hosts, kinds=kinds, **kw)  # type: ignore[arg-type]
        made.append(e)
        return e

    yield make
    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and rep.failed
    for e in made:
        if failed:
            print(e.logs(60))
        e.stop()
    # MIXED_KEEP=DIR keeps a failed test's data directories and logs (for loops hunting a
    # rare divergence); the workdir fixture removes them otherwise.
    keep = os.environ.get("MIXED_KEEP")
    if failed and keep:
        dest = Path(keep) / f"{request.node.name}-{time.strftime('%H%M%S')}"
        shutil.copytree(workdir, dest, dirs_exist_ok=True)
        print(f"kept {workdir} in {dest}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + rep.when, rep)
