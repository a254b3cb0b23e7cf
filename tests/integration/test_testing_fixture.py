"""The pytest plugin users get: an in-process pyzk per test, restartable, kazoo recipes on it."""

from __future__ import annotations

import time

from kazoo.client import KazooClient
from kazoo.recipe.lock import Lock


def test_zk_server_fixture_serves_kazoo_and_survives_restart(zk_server) -> None:
    t0 = time.monotonic()
    client = KazooClient(hosts=zk_server.connection_string)
    client.start(timeout=10)
    try:
        client.create("/app/config", b"v1", makepath=True)
        lock = Lock(client, "/app/lock")
        with lock:
            assert client.get_children("/app/lock")
        zk_server.restart()
        client.retry(client.get, "/app/config")  # reconnects to the restarted server
        assert client.get("/app/config")[0] == b"v1"
    finally:
        client.stop()
        client.close()
    assert time.monotonic() - t0 < 30


def test_factory_applies_zoo_cfg_keys(zk_server_factory) -> None:
    srv = zk_server_factory(extendedTypesEnabled="true")
    client = KazooClient(hosts=srv.connection_string)
    client.start(timeout=10)
    try:
        assert srv.config.extended_types is True
        assert client.exists("/zookeeper") is not None
    finally:
        client.stop()
        client.close()
