"""Storage knobs against Java ZooKeeper 3.8.0: the same client writes against each kind, then
the data directories are compared file by file.

txnLogSizeLimitInKb: FileTxnLog.commit starts a new log once the current file's length on disk
(preallocation included) is over the limit; one txn per commit (a synchronous client), so pyzk
and Java must roll at the very same zxids.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.servers import ServerProc, java_available

pytestmark = [pytest.mark.java,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOSTS = {"java": "127.0.0.84", "pyzk": "127.0.0.85"}


def logs_after_writes(kind: str, workdir: Path, cfg: dict[str, str], n: int) -> list[str]:
    srv = ServerProc(kind, workdir / kind, host=HOSTS[kind], cfg=cfg)
    srv.start(timeout=60)
    try:
        zk = KazooClient(hosts=srv.address, timeout=10.0)
        zk.start(timeout=30)
        try:
            for i in range(n):
                zk.create(f"/n{i}", b"x" * 1000)
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()
    files = (srv.datadir / "version-2").glob("log.*")
    return sorted((p.name for p in files), key=lambda s: int(s.split(".")[1], 16))


def test_txn_log_size_limit_rolls_at_the_same_zxids_as_java(workdir: Path) -> None:
    # digest.enabled (on by default): both write a TxnDigest after each txn, so entries match
    # in size only if pyzk writes it exactly as Java does.
    cfg = {"preAllocSize": "16", "txnLogSizeLimitInKb": "40", "snapCount": "100000"}
    got = {kind: logs_after_writes(kind, workdir, cfg, 90) for kind in ("java", "pyzk")}
    print(got)
    assert got["pyzk"] == got["java"]
    assert len(got["java"]) >= 3
