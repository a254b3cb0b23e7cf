"""pytest plugin (entry point `pyzk`): fixtures that hand tests a real ZooKeeper-compatible server.

    def test_lock(zk_server):
        client = KazooClient(hosts=zk_server.connection_string)

`zk_server` is a fresh standalone pyzk per test; `zk_server_factory(**zoo_cfg_keys)` makes more
(each stopped and removed at the end of the test). `zk_ensemble` is a fresh three-member
replicated ensemble (member processes forked from a helper that has pyzk imported, see
pyzk.testing.ensemble and pyzk.testing.zygote); override the
`zk_ensemble_options` fixture to pass ZkTestEnsemble arguments (hosts, tick_ms, zoo.cfg keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .ensemble import ZkTestEnsemble, prewarm
from .server import ZkTestServer

ENSEMBLE_FIXTURES = {"zk_ensemble", "zk_ensemble_factory"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """When a collected test uses an ensemble fixture, start the member fork helper now."""
    if any(ENSEMBLE_FIXTURES & set(getattr(i, "fixturenames", ())) for i in items):
        prewarm()


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


@pytest.fixture
def zk_ensemble_options() -> dict[str, Any]:
    """Keyword arguments for the `zk_ensemble` fixture's ZkTestEnsemble; override to change."""
    return {}


@pytest.fixture
def zk_ensemble_factory() -> Iterator[Callable[..., ZkTestEnsemble]]:
    made: list[ZkTestEnsemble] = []

    def make(**options: Any) -> ZkTestEnsemble:
        ens = ZkTestEnsemble(**options)
        made.append(ens)  # before start(): a failed start still cleans up its processes
        return ens.start()

    yield make
    for ens in made:
        ens.close()


@pytest.fixture
def zk_ensemble(zk_ensemble_factory: Callable[..., ZkTestEnsemble],
                zk_ensemble_options: dict[str, Any]) -> ZkTestEnsemble:
    return zk_ensemble_factory(**zk_ensemble_options)
