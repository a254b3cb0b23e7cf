"""`version=` in zoo.cfg itself (no dynamicConfigFile): Java's QuorumMaj(Properties) reads it as
the hex version of the server list, which /zookeeper/config then shows. A one-member quorum
(standaloneEnabled=false) of each kind from the same lines; both show the same text."""

from __future__ import annotations

from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.servers import ServerProc, java_available

pytestmark = pytest.mark.skipif(not java_available(), reason="needs Debian's Java ZooKeeper")


def config_text(kind: str, base: Path, host: str) -> str:
    srv = ServerProc(kind, base / kind, host=host, port=2181, cfg={
        "tickTime": "200", "initLimit": "5", "syncLimit": "2", "standaloneEnabled": "false",
        "reconfigEnabled": "true", "server.1": f"{host}:2888:3888;{host}:2181", "version": "1000000ab"})
    srv.datadir.mkdir(parents=True, exist_ok=True)
    (srv.datadir / "myid").write_text("1\n")
    srv.start()
    zk = KazooClient(hosts=srv.address, timeout=10)
    zk.start(timeout=20)
    try:
        zk.sync("/zookeeper/config")
        return zk.get("/zookeeper/config")[0].decode()
    finally:
        zk.stop()
        zk.close()
        srv.stop()


@pytest.mark.slow
def test_version_line_sets_the_config_version(tmp_path: Path) -> None:
    java = config_text("java", tmp_path, "127.0.14.1")
    pyzk = config_text("pyzk", tmp_path, "127.0.14.2")
    assert java.endswith("version=1000000ab"), java
    assert pyzk.replace("127.0.14.2", "127.0.14.1") == java
