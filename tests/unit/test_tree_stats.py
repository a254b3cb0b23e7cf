"""Stat semantics of each write, the initial tree, containers/TTL candidates, ephemerals."""

from __future__ import annotations

from typing import Any

import pytest

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.prep import PrepSettings
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import CONTAINER_EPHEMERAL_OWNER, Err
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE

IP = [r.Id("ip", "127.0.0.1")]


def create(p: LocalPipeline, path: str, data: bytes | None = b"", flags: int = 0,
           session: int = 1, op: int = Op.CREATE2, now: int = 1000) -> tuple[int, Any]:
    err, body, _ = p.write(Request(session, 1, op, r.CreateRequest(path, data, OPEN_ACL_UNSAFE,
                                                                  flags), IP), now)
    if err or op == Op.CREATE:
        return err, body
    return err, r.Create2Response.from_bytes(body)


def stat(p: LocalPipeline, path: str) -> Any:
    return p.tree.stat_of(p.tree.nodes[path])


def test_initial_tree_matches_java_datatree() -> None:
    p = LocalPipeline()
    assert set(p.tree.nodes) == {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}
    root = stat(p, "/")
    assert (root.czxid, root.cversion, root.numChildren, root.pzxid) == (0, -1, 1, 0)
    assert stat(p, "/zookeeper").cversion == -2
    cfg = stat(p, "/zookeeper/config")
    assert cfg.aversion == -1
    assert p.tree.acl_of(p.tree.nodes["/zookeeper/config"]) == [r.ACL(1, r.Id("world", "anyone"))]
    assert p.tree.node_count() == 5  # Java counts the "" root alias


def test_create_sets_child_and_parent_stats() -> None:
    p = LocalPipeline()
    err, resp = create(p, "/a", b"hello", now=1234)
    assert err == 0 and resp.path == "/a"
    s = resp.stat
    assert (s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime) == (1, 1, 1, 1234, 1234)
    assert (s.version, s.cversion, s.aversion, s.dataLength, s.numChildren) == (0, 0, 0, 5, 0)
    root = stat(p, "/")
    assert (root.pzxid, root.numChildren, root.cversion) == (1, 2, 0)  # 1 create*2 - 2 kids


def test_delete_moves_parent_pzxid_and_client_cversion() -> None:
    p = LocalPipeline()
    create(p, "/a")
    create(p, "/a/b")
    err, body, _ = p.write(Request(1, 2, Op.DELETE, r.DeleteRequest("/a/b", 0), IP))
    assert (err, body) == (0, b"")
    s = stat(p, "/a")
    # persisted cversion counts creates (1); clients see creates + deletes = 2
    assert (s.pzxid, s.cversion, s.numChildren, s.mzxid) == (3, 2, 0, 1)
    assert p.tree.nodes["/a"].cversion == 1


def test_set_data_and_set_acl_versions() -> None:
    p = LocalPipeline()
    create(p, "/a", b"x")
    err, body, _ = p.write(Request(1, 2, Op.SET_DATA, r.SetDataRequest("/a", b"yz", 0), IP), 5)
    s = r.SetDataResponse.from_bytes(body).stat
    assert (err, s.version, s.mzxid, s.mtime, s.dataLength, s.czxid) == (0, 1, 2, 5, 2, 1)
    err, _, _ = p.write(Request(1, 3, Op.SET_DATA, r.SetDataRequest("/a", b"", 0), IP))
    assert err == Err.BADVERSION
    acl = [r.ACL(31, r.Id("world", "anyone"))]
    err, body, _ = p.write(Request(1, 4, Op.SET_ACL, r.SetACLRequest("/a", acl, 0), IP))
    s = r.SetACLResponse.from_bytes(body).stat
    assert (err, s.aversion, s.version, s.mzxid) == (0, 1, 1, 2)


def test_null_data_round_trips_as_null() -> None:
    p = LocalPipeline()
    create(p, "/n", None)
    err, body, _ = p.read(Request(1, 2, Op.GET_DATA, r.GetDataRequest("/n", False), IP))
    assert err == 0 and body[:4] == b"\xff\xff\xff\xff"
    assert r.GetDataResponse.from_bytes(body).data is None


def test_failed_write_consumes_zxid_as_error_txn() -> None:
    p = LocalPipeline()
    err, _ = create(p, "/missing/child")
    assert err == Err.NONODE
    hdr, txn = p.log[-1]
    assert (hdr.type, hdr.zxid, txn) == (-1, 1, r.ErrorTxn(Err.NONODE))
    assert p.tree.last_processed_zxid == 1


def test_ephemerals_removed_on_close_session_with_events() -> None:
    p = LocalPipeline()
    create(p, "/app")
    create(p, "/app/e1", flags=1, session=7)
    create(p, "/app/e2", flags=3, session=7)
    assert p.tree.ephemerals[7] == {"/app/e1", "/app/e20000000001"}
    p.read(Request(9, 1, Op.GET_CHILDREN, r.GetChildrenRequest("/app", True), IP, watcher="w"))
    hdr, txn = p.prep.close_session_txn(7, 0, p.next_zxid(), 0)
    assert txn.paths2Delete == ["/app/e1", "/app/e20000000001"]
    rc = p.tree.process_txn(hdr, txn)
    assert "/app/e1" not in p.tree.nodes and 7 not in p.tree.ephemerals
    assert [(w, e.type, e.path) for w, e in rc.events] == [("w", 4, "/app")]
    s = stat(p, "/app")
    assert s.pzxid == hdr.zxid and s.numChildren == 0


def test_close_session_lists_pending_ephemeral_creates() -> None:
    p = LocalPipeline()
    p.propose(Request(7, 1, Op.CREATE, r.CreateRequest("/e", b"", OPEN_ACL_UNSAFE, 1), IP), 0)
    _, txn = p.prep.close_session_txn(7, 0, p.next_zxid(), 0)
    assert txn.paths2Delete == ["/e"]


def test_container_candidates_only_after_a_child_existed() -> None:
    p = LocalPipeline()
    err, resp = create(p, "/c", op=Op.CREATE_CONTAINER, flags=4)
    assert err == 0 and resp.stat.ephemeralOwner == 0
    assert p.tree.nodes["/c"].ephemeral_owner == CONTAINER_EPHEMERAL_OWNER
    assert p.tree.expiry_candidates(10**12) == []
    create(p, "/c/x")
    assert p.tree.expiry_candidates(10**12) == []
    p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/c/x", -1), IP))
    assert p.tree.expiry_candidates(10**12) == ["/c"]
    built = p.prep.delete_container_txn("/c", p.next_zxid(), 0)
    assert built is not None
    hdr, txn = built
    assert (hdr.type, hdr.clientId, txn) == (Op.DELETE_CONTAINER, 0, r.DeleteTxn("/c"))
    p.tree.process_txn(hdr, txn)
    assert "/c" not in p.tree.nodes and not p.tree.containers


def test_delete_container_txn_skips_non_candidates() -> None:
    p = LocalPipeline()
    create(p, "/c", op=Op.CREATE_CONTAINER, flags=4)
    create(p, "/c/x")
    assert p.prep.delete_container_txn("/c", p.next_zxid(), 0) is None
    assert p.prep.delete_container_txn("/nope", p.next_zxid(), 0) is None


def test_ttl_nodes_expire_after_mtime_plus_ttl() -> None:
    p = LocalPipeline(settings=PrepSettings(extended_types=True))
    req = Request(1, 1, Op.CREATE_TTL, r.CreateTTLRequest("/t", b"", OPEN_ACL_UNSAFE, 5, 100), IP)
    err, body, _ = p.write(req, 1000)
    assert err == 0
    assert r.Create2Response.from_bytes(body).stat.ephemeralOwner == 0
    assert p.tree.expiry_candidates(1100) == []
    assert p.tree.expiry_candidates(1101) == ["/t"]


@pytest.mark.parametrize("ttl,extended,code", [
    (100, False, Err.UNIMPLEMENTED), (0, True, Err.BADARGUMENTS),
    (1 << 40, True, Err.BADARGUMENTS),
])
def test_ttl_validation(ttl: int, extended: bool, code: int) -> None:
    p = LocalPipeline(settings=PrepSettings(extended_types=extended))
    req = Request(1, 1, Op.CREATE_TTL, r.CreateTTLRequest("/t", b"", OPEN_ACL_UNSAFE, 5, ttl), IP)
    assert p.write(req)[0] == code


def test_walk_is_parent_before_child_and_all_children_number() -> None:
    p = LocalPipeline()
    for path in ("/a", "/a/b", "/a/b/c", "/d"):
        create(p, path)
    order = [path for path, _ in p.tree.walk()]
    assert order.index("/a") < order.index("/a/b") < order.index("/a/b/c")
    assert order[0] == "/" and len(order) == len(p.tree.nodes)
    assert p.tree.all_children_number("/a") == 2
    assert p.tree.all_children_number("/") == len(p.tree.nodes) - 1
