"""Fixtures for the ensemble tests: three pyzk processes, standard ports, own loopback IPs.

The CI smoke ensemble uses 127.0.0.1-3 (the addresses the issue names); the failure tests use
127.0.0.141-149 so they never meet another suite's 127.0.0.1:2181.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ensemble.launcher import Ensemble
from tests.ensemble.partition_fabric import Fabric, unavailable_reason


@pytest.fixture
def make_ensemble(workdir: Path) -> Iterator[object]:
    made: list[Ensemble] = []

    def make(hosts: list[str], **kw: object) -> Ensemble:
        e = Ensemble(workdir, hosts, **kw)  # type: ignore[arg-type]
        made.append(e)
        return e

    yield make
    for e in made:
        e.stop()


@pytest.fixture
def fabric() -> Iterator[Fabric]:
    """Three network namespaces (one host each) for the partition tests; skipped where
    namespaces cannot be made."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    fab = Fabric(3)
    try:
        fab.create()
        yield fab
    finally:
        fab.destroy()
