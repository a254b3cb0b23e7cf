"""flushDelay / maxWriteQueuePollTime / maxBatchSize against Java ZooKeeper 3.8.0: the same burst
of asynchronous creates against each server, then the txn log flushes counted in mntr's
sync_processor_batch_size summary (one sample per flush, its size the txns flushed).

With flushDelay=1000, maxWriteQueuePollTime=400 and maxBatchSize=10, a burst of 25 writes right
after a flush is flushed as 10 + 10 (batch full) + 5 (no write for 400 ms), and the last five
replies come only after that flush.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.servers import ServerProc, java_available

pytestmark = [pytest.mark.java, pytest.mark.slow,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOSTS = {"java": "127.0.0.225", "pyzk": "127.0.0.226"}
CFG = {"flushDelay": "1000", "maxWriteQueuePollTime": "400", "maxBatchSize": "10"}
BURST = 25


def mntr(srv: ServerProc) -> dict[str, str]:
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(b"mntr")
        out = b""
        for _ in range(1000):  # bounded: the server closes after the answer
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    pairs = (line.split("\t", 1) for line in out.decode().splitlines() if "\t" in line)
    return {k: v for k, v in pairs}


def burst(kind: str, workdir: Path) -> tuple[int, int, float, float]:
    """(flushes, txns flushed, seconds to the first reply, seconds to the last reply)."""
    srv = ServerProc(kind, workdir / kind, host=HOSTS[kind], cfg=CFG)
    srv.start(timeout=60)
    try:
        zk = KazooClient(hosts=srv.address, timeout=30.0)  # no ping during the burst
        zk.start(timeout=30)
        try:
            zk.create("/warm")  # held too: flushed once no write comes for 400 ms
            before = mntr(srv)
            t0 = time.monotonic()
            results = [zk.create_async(f"/n{i}") for i in range(BURST)]
            done: list[float] = []
            for res in results:
                res.get(timeout=30)
                done.append(time.monotonic() - t0)
            after = mntr(srv)
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()
    key = "zk_cnt_sync_processor_batch_size", "zk_sum_sync_processor_batch_size"
    flushes = int(after[key[0]]) - int(before[key[0]])
    txns = int(float(after[key[1]])) - int(float(before[key[1]]))
    return flushes, txns, min(done), max(done)


def test_flush_delay_batches_like_java(workdir: Path) -> None:
    got = {kind: burst(kind, workdir) for kind in ("java", "pyzk")}
    print(got)
    for kind, (flushes, txns, first, last) in got.items():
        assert (flushes, txns) == (3, BURST), kind
        assert last >= 0.35, kind  # the last five waited for the 400 ms idle flush
        # the full batches did not wait for it
        assert last - first >= 0.2, kind
    assert got["pyzk"][:2] == got["java"][:2]
