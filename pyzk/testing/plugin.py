"""pytest plugin (entry point `pyzk`): fixtures that hand tests a real ZooKeeper-compatible server.

    def test_lock(zk_server):
        client = KazooClient(hosts=zk_server.connection_string)

`zk_server` is a fresh standalone pyzk per test; `zk_server_factory(**zoo_cfg_keys)` makes more
(each stopped and removed at the end of the test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import ZkTestServer


@pytest.fixture
def zk_server_factory() -> Iterator[Callable[..., ZkTestServer]]:
    made: list[ZkTestServer] = []

    def make(**settings: Any) -> ZkTestServer:
        srv = ZkTestServer(**settings).start()
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()


@pytest.fixture
def zk_server(zk_server_factory: Callable[..., ZkTestServer]) -> ZkTestServer:
    return zk_server_factory()
