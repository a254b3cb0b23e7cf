"""The standalone server's digests without sockets: every txn it logs carries the tree
digest after it (none after an error), a restart replays them all with 0 mismatches and
rebuilds the same digest, and digest_mismatches_count counts a committed txn whose digest is not the tree's."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.server.clock import ManualClock
from pyzk.storage import txnlog
from pyzk.storage.logfile import read_log_file
from pyzk.storage.recovery import recover
from pyzk.tree.datatree import DataTree
from tests.unit.test_zkserver_clock import _connect, _create, _request, _server


def logged(data_dir: Path) -> list[txnlog.TxnEntry]:
    out = []
    for path in sorted((data_dir / "version-2").glob("log.*")):
        out += [e for _, e in txnlog.iter_entries(read_log_file(path), str(path))]
    return out


@pytest.mark.asyncio
async def test_logged_digests_replay_and_count_mismatches(tmp_path: Path) -> None:
    srv = await _server(tmp_path, ManualClock())
    try:
        conn, tr, _ = await _connect(srv, 4000)
        for i in range(5):
            assert await _create(conn, tr, i + 1, f"/n{i}", 1 if i == 4 else 0) == 0
        assert await _create(conn, tr, 9, "/n0", 0) != 0  # NODEEXISTS: an error txn
        n = len(tr.frames)
        conn.data_received(_request(10, Op.SET_DATA, r.SetDataRequest.to_bytes(
            r.SetDataRequest("/n1", b"new", -1))))
        await tr.wait_frames(n + 1)
        want = srv.tree.tree_digest()
        assert srv.tree.digests.last is not None and srv.tree.digests.last.digest == want
        metric = srv.stats.metrics.counter("digest_mismatches_count")
        assert metric.value == 0
        # a committed txn whose digest is not this tree's (as a follower's tree that
        # diverged from its leader's): counted once
        hdr = r.TxnHeader(0, 0, srv.last_zxid + 1, 0, Op.ERROR)
        srv.apply_committed(hdr, r.ErrorTxn(0), None, r.TxnDigest(2, want + 1))
        assert metric.value == 1
    finally:
        await srv.stop()
    entries = logged(tmp_path)
    assert [e.hdr.type for e in entries] == [Op.CREATE_SESSION] + [Op.CREATE] * 5 + \
        [Op.ERROR, Op.SET_DATA]
    assert [e.digest is None for e in entries] == [False] * 6 + [True, False]
    assert all(e.digest.version == 2 for e in entries if e.digest is not None)
    rec = recover(srv.storage.datadir, DataTree)  # a restart replays and compares them all
    assert rec.tree.digests.mismatches == 0
    assert entries[7].digest == r.TxnDigest(2, want)
    assert rec.tree.tree_digest() == rec.tree.recompute_digest()
