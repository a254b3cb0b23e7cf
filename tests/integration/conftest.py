"""Server fixtures for the integration suite: every test runs against each server kind.

PYZK_TEST_SERVERS (default "pyzk,java") picks the kinds (parsed as tests/conftest.py does); a kind
whose launcher is missing is a pytest skip carrying the reason. `zk` is one module-scoped server per kind (tests use unique
paths); `zk_factory` starts a private server for tests that need special settings.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from tests.servers import ServerProc, java_available

HOST = "127.0.0.41"
ALT_HOST = "127.0.0.42"  # a second loopback source address (ip ACL tests)

# Settings Java reads only as JVM system properties (no "zookeeper." prefix), so a zoo.cfg key
# cannot reach them (ContainerManager via ZooKeeperServerMain; BinaryInputArchive.maxBuffer).
# pyzk reads the same names from zoo.cfg.
JVM_ONLY = ("znode.container.checkIntervalMs", "znode.container.maxPerMinute",
            "znode.container.maxNeverUsedIntervalMs", "jute.maxbuffer")
SUPER_DIGEST_KEY = "DigestAuthenticationProvider.superDigest"


def server_kinds() -> list[str]:
    raw = os.environ.get("PYZK_TEST_SERVERS", "pyzk,java")
    return [k.strip() for k in raw.split(",") if k.strip()]


def unavailable_reason(kind: str) -> str | None:
    if kind == "java":
        return None if java_available() else "java or /usr/share/java/zookeeper.jar missing"
    if kind == "pyzk":
        if importlib.util.find_spec("pyzk.__main__") is None:
            return "pyzk launcher (pyzk/__main__.py, `python -m pyzk`) not present yet"
        return None
    return f"unknown server kind {kind!r} in PYZK_TEST_SERVERS"


def kind_params() -> list[Any]:
    """One param per selected kind; java ones carry the `java` mark, missing ones a skip."""
    params: list[Any] = []
    for k in server_kinds():
        marks: list[Any] = [pytest.mark.java] if k == "java" else []
        reason = unavailable_reason(k)
        if reason:
            marks.append(pytest.mark.skip(reason=f"{k}: {reason}"))
        params.append(pytest.param(k, id=k, marks=marks))
    return params


class TestServer(ServerProc):
    """ServerProc plus JVM -D flags for the settings Java takes only as system properties."""

    def __init__(self, kind: str, workdir: Path, host: str = HOST,
                 settings: dict[str, str] | None = None) -> None:
        settings = dict(settings or {})
        cfg: dict[str, str] = {}
        flags: list[str] = []
        for key, value in settings.items():
            if kind == "java" and key in JVM_ONLY:
                flags.append(f"-D{key}={value}")
            elif kind == "java" and key == SUPER_DIGEST_KEY:
                flags.append(f"-Dzookeeper.{key}={value}")
            else:
                cfg[key] = value
        super().__init__(kind, workdir, host=host, cfg=cfg)
        self.jvm_flags = flags  # ServerProc puts them on the java command line


_counter = itertools.count()


def start_server(kind: str, base: Path, settings: dict[str, str] | None = None) -> TestServer:
    reason = unavailable_reason(kind)
    if reason:
        pytest.skip(f"{kind}: {reason}")
    srv = TestServer(kind, base / f"{kind}-{next(_counter)}", settings=settings)
    try:
        srv.start()
    except BaseException:
        srv.stop()
        raise
    return srv


# Named zk_kind, not server_kind: tests/conftest.py parametrizes `server_kind` per function,
# and these servers are shared per module.
@pytest.fixture(scope="module", params=kind_params())
def zk_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def zk(zk_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    """One default-config server per kind, shared by a module's tests."""
    srv = start_server(zk_kind, tmp_path_factory.mktemp("zk"))
    yield srv
    srv.stop()


@pytest.fixture
def zk_factory(zk_kind: str, tmp_path: Path) -> Iterator[Callable[..., TestServer]]:
    """Start private servers (special settings) of the current kind."""
    started: list[TestServer] = []

    def make(**settings: str) -> TestServer:
        srv = start_server(zk_kind, tmp_path, settings)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def clients() -> Iterator[Callable[..., KazooClient]]:
    """Factory of started kazoo clients, all stopped at teardown."""
    made: list[KazooClient] = []

    def make(srv: ServerProc, **kw: Any) -> KazooClient:
        kw.setdefault("timeout", 10.0)
        c = KazooClient(hosts=srv.address, **kw)
        c.start(timeout=15)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - best-effort teardown
            pass


@pytest.fixture
def client(zk: TestServer, clients: Callable[..., KazooClient]) -> KazooClient:
    return clients(zk)


@pytest.fixture
def base(request: pytest.FixtureRequest, client: KazooClient) -> str:
    """A fresh persistent parent znode unique to this test."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "_")
    path = f"/t-{name}-{next(_counter)}"
    client.create(path)
    return path

