"""zookeeper.emulate353TTLNodes against Java 3.8.0: a TTL node as ZooKeeper 3.5.3 encoded its
ephemeralOwner (the top bit and the TTL), in a data directory both servers load. With
extendedTypesEnabled and emulate353TTLNodes it is a TTL node (kept at load, its owner hidden
from clients, deleted once idle past its TTL); without emulation it reads as the ephemeral of
a dead session and is gone at load. Same answers from both servers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.storage.datadir import DataDir
from pyzk.tree.datatree import DataTree
from tests.servers import ServerProc, java_available

pytestmark = pytest.mark.skipif(not java_available(), reason="needs Debian's Java ZooKeeper")
TTL_MS = 500
OWNER_353 = -(1 << 63) + TTL_MS  # 0x8000000000000000 | ttl, as a signed long
# mtime this far ahead: the node outlives any server's start-up, then expires TTL_MS later.
AHEAD_MS = 6000


def data_dir_with_353_ttl_node(path: Path) -> None:
    tree = DataTree()
    world = [r.ACL(31, r.Id("world", "anyone"))]
    mtime = int(time.time() * 1000) + AHEAD_MS
    tree.process_txn(r.TxnHeader(0, 1, 1, mtime, Op.CREATE), r.CreateTxn("/t353", b"x", world,
                                                                          False, 1))
    tree.nodes["/t353"].ephemeral_owner = OWNER_353
    DataDir(path).write_snapshot(1, sc.encode_view(sc.capture(tree, {})), fsync=True)


def observe(kind: str, base: Path, emulate: bool) -> tuple[object, ...]:
    work = base / f"{kind}-{emulate}"
    data_dir_with_353_ttl_node(work / "data")
    cfg = {"extendedTypesEnabled": "true", "tickTime": "200"}
    if emulate:
        cfg["emulate353TTLNodes"] = "true"
    srv = ServerProc(kind, work, cfg=cfg)
    srv.jvm_flags = ["-Dznode.container.checkIntervalMs=200"]
    srv.start()
    zk = KazooClient(hosts=srv.address, timeout=10)
    zk.start(timeout=15)
    try:
        st = zk.exists("/t353")
        at_load = None if st is None else (st.ephemeralOwner, st.dataLength)
        gone = st is None
        deadline = time.monotonic() + AHEAD_MS / 1000 + 15
        while not gone and time.monotonic() < deadline:  # bounded
            gone = zk.exists("/t353") is None
            time.sleep(0.2)
        return at_load, gone
    finally:
        zk.stop()
        zk.close()
        srv.stop()


@pytest.mark.slow
def test_353_ttl_owner_read_as_java_reads_it(tmp_path: Path) -> None:
    got = {(kind, emulate): observe(kind, tmp_path, emulate)
           for kind in ("java", "pyzk") for emulate in (True, False)}
    for emulate in (True, False):
        assert got[("pyzk", emulate)] == got[("java", emulate)], got
    assert got[("java", True)] == ((0, 1), True), got   # a TTL node: kept, then expired
    assert got[("java", False)] == (None, True), got    # a dead session's ephemeral
