"""Fixtures for the real-client reference tests: one standalone server per test, per kind.

`ref_server` follows `server_kind` (parametrized from PYZK_TEST_SERVERS by tests/conftest.py)
and listens on this suite's loopback range 127.0.0.51-59 (java on .51, pyzk on .52).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ServerProc

HOSTS = {"java": "127.0.0.51", "pyzk": "127.0.0.52"}


@pytest.fixture
def ref_server(server_kind: str, workdir: Path) -> Iterator[ServerProc]:
    server = ServerProc(server_kind, workdir / server_kind, host=HOSTS[server_kind])
    server.start()
    try:
        yield server
    finally:
        server.stop()
