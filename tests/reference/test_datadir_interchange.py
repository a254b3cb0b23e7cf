"""A data dir written by pyzk's storage is started by Java ZooKeeper 3.8, which serves exactly
the tree pyzk built (paths, data, ACLs, every Stat field); Java then appends to it, and pyzk's
recovery reads the result back to exactly what Java served."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.storage import txnlog
from pyzk.storage.datadir import DataDir
from pyzk.storage.logfile import TxnLogWriter
from pyzk.storage.recovery import recover
from pyzk.tree.datatree import DataTree
from tests.servers import ServerProc, java_available

pytestmark = [pytest.mark.java,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOST = "127.0.0.31"
SID = 0x0100_00AB_CDEF_0001
OPEN = [r.ACL(31, r.Id("world", "anyone"))]
# digest of alice:secret (DigestAuthenticationProvider.generateDigest)
ALICE = [r.ACL(31, r.Id("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="))]
T0 = 1_700_000_000_000


def build_datadir(root: Path) -> tuple[DataTree, dict[int, int]]:
    """Drive a DataTree with txns as the server would, logging each and snapshotting midway."""
    dd = DataDir(root)
    tree = DataTree(extended_types=True)
    sessions: dict[int, int] = {}
    dd.save_snapshot(sc.capture(tree, sessions))
    w = TxnLogWriter(dd.log_dir, prealloc=64 * 1024)
    zxid = 0

    def txn(t: int, rec: Any, sid: int = SID) -> None:
        nonlocal zxid
        zxid += 1
        h = r.TxnHeader(sid, zxid, zxid, T0 + zxid, t)
        if t == Op.CREATE_SESSION:
            sessions[sid] = rec.timeOut
        tree.process_txn(h, rec)
        w.append(h, rec)

    def cv(path: str) -> int:
        return tree.nodes[path].cversion + 1

    txn(Op.CREATE_SESSION, r.CreateSessionTxn(30000))
    txn(Op.CREATE, r.CreateTxn("/app", b"hello", OPEN, False, cv("/")))
    for i in range(3):
        name = f"/app/seq-{tree.nodes['/app'].cversion:010d}"
        txn(Op.CREATE2, r.CreateTxn(name, b"s%d" % i, OPEN, False, cv("/app")))
    txn(Op.CREATE, r.CreateTxn("/app/eph", b"e", OPEN, True, cv("/app")))
    txn(Op.CREATE, r.CreateTxn("/app/bin", bytes(range(256)), OPEN, False, cv("/app")))
    txn(Op.CREATE, r.CreateTxn("/app/none", None, OPEN, False, cv("/app")))
    txn(Op.SET_DATA, r.SetDataTxn("/app", b"hello-v1", 1))
    w.flush()
    # Snapshot midway, the way the server does it: capture on the loop, encode in a thread,
    # while the "loop" keeps applying txns (a fuzzy snapshot).
    view = sc.capture(tree, sessions)
    w.roll()
    txn(Op.CREATE, r.CreateTxn("/secure", b"s", OPEN, False, cv("/")))
    txn(Op.SET_ACL, r.SetACLTxn("/secure", ALICE, 1))
    out: list[bytes] = []
    th = threading.Thread(target=lambda: out.append(sc.encode_view(view)))
    th.start()
    th.join(30)
    dd.write_snapshot(view.zxid, out[0])
    txn(Op.DELETE, r.DeleteTxn("/app/none"))
    txn(Op.MULTI, txnlog.make_multi_txn([
        (Op.CREATE, r.CreateTxn("/multi", b"m", OPEN, False, cv("/"))),
        (Op.CREATE, r.CreateTxn("/multi/x", b"mx", OPEN, False, 1)),
        (Op.SET_DATA, r.SetDataTxn("/app", b"hello-v2", 2)),
        (Op.CHECK, r.CheckVersionTxn("/app", 2)),
    ]))
    txn(Op.MULTI, txnlog.make_multi_txn([
        (Op.ERROR, r.ErrorTxn(0)), (Op.ERROR, r.ErrorTxn(-101))]))
    txn(Op.ERROR, r.ErrorTxn(-110))
    txn(Op.CREATE_CONTAINER, r.CreateContainerTxn("/box", b"c", OPEN, cv("/")))
    txn(Op.CREATE, r.CreateTxn("/box/item", b"i", OPEN, False, cv("/box")))
    txn(Op.CREATE_TTL, r.CreateTTLTxn("/ttl", b"t", OPEN, cv("/"), 3_600_000))
    txn(Op.CREATE_SESSION, r.CreateSessionTxn(5000), sid=SID + 1)
    txn(Op.CREATE, r.CreateTxn("/gone", b"g", OPEN, True, cv("/")), sid=SID + 1)
    sessions.pop(SID + 1)
    txn(Op.CLOSE_SESSION, r.CloseSessionTxn(["/gone"]), sid=SID + 1)
    w.close()
    return tree, sessions


def served_by(zk: KazooClient) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}

    def walk(path: str) -> None:
        try:
            data, st = zk.get(path)
            acl, _ = zk.get_acls(path)
            kids = zk.get_children(path)
        except NoNodeError:
            return
        out[path] = (data, [(a.perms, a.id.scheme, a.id.id) for a in acl], tuple(st))
        for k in kids:
            walk(path.rstrip("/") + "/" + k)

    walk("/")
    return out


def held_by(tree: DataTree) -> dict[str, tuple[Any, ...]]:
    return {p: (n.data or b"", [(a.perms, a.id.scheme, a.id.id) for a in tree.acl_of(n)],
                tuple(tree.stat_of(n))) for p, n in tree.nodes.items()}


def test_java_serves_a_pyzk_written_datadir_and_pyzk_reads_it_back(tmp_path: Path) -> None:
    tree, sessions = build_datadir(tmp_path / "data")
    assert recover(DataDir(tmp_path / "data"), lambda: DataTree(extended_types=True)).last_zxid \
        == tree.last_processed_zxid
    srv = ServerProc("java", tmp_path, host=HOST, cfg={"extendedTypesEnabled": "true"})
    srv.start(60)
    try:
        zk = KazooClient(hosts=srv.address)
        zk.start(20)
        try:
            zk.add_auth("digest", "alice:secret")
            assert served_by(zk) == held_by(tree)
            # Java appends to the pyzk-written dir; pyzk must read Java's additions back.
            zk.create("/from-java", b"j")
            zk.set("/app", b"java-was-here")
            after = served_by(zk)
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()
    res = recover(DataDir(tmp_path / "data"), lambda: DataTree(extended_types=True))
    assert held_by(res.tree) == after
    assert SID in res.sessions
