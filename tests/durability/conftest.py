"""Fixtures for the durability suite: pyzk subprocesses on loopback 127.0.0.81-89 that the tests
kill with SIGKILL, restart on the same data dir, or corrupt on disk between runs.

PYZK_CRASH_ROUNDS and PYZK_CRASH_SEED reproduce a crash round (the seeds are printed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import ServerProc

HOST = "127.0.0.81"


@pytest.fixture
def pyzk_server(tmp_path: Path) -> Iterator[Callable[..., ServerProc]]:
    """make(**cfg) -> an unstarted pyzk ServerProc on 127.0.0.81 with its own data dir."""
    made: list[ServerProc] = []

    def make(**cfg: str) -> ServerProc:
        srv = ServerProc("pyzk", tmp_path / f"pyzk-{len(made)}", host=HOST, cfg=cfg)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()
