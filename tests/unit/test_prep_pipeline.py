"""PrepRequestProcessor semantics: pipelined writes, sequential names, multi all-or-nothing."""

from __future__ import annotations

from typing import Any

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.multi import decode_multi_response
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE
from pyzk.tree.znode import child_names

IP = [r.Id("ip", "127.0.0.1")]


def creq(path: str, flags: int = 0, op: int = Op.CREATE, session: int = 1) -> Request:
    return Request(session, 1, op, r.CreateRequest(path, b"d", OPEN_ACL_UNSAFE, flags), IP)


def multi(p: LocalPipeline, ops: list[tuple[int, Any]]) -> list[tuple[int, int, Any]]:
    err, body, _ = p.write(Request(1, 9, Op.MULTI, ops, IP))
    assert err == 0  # multi replies always carry err 0 in the header
    return decode_multi_response(body)[0]


def test_sequential_names_use_parent_cversion_including_pending_creates() -> None:
    p = LocalPipeline()
    p.write(creq("/q"))
    prepped = [p.propose(creq("/q/n-", flags=2), 0) for _ in range(3)]
    assert [txn.path for _, txn in prepped] == ["/q/n-0000000000", "/q/n-0000000001",
                                                "/q/n-0000000002"]
    for hdr, txn in prepped:
        p.apply(creq("/q/n-", flags=2), hdr, txn)
    assert sorted(child_names(p.tree.nodes["/q"].children, "/q")) == [
        "n-0000000000", "n-0000000001", "n-0000000002"]


def test_sequence_counts_creates_not_deletes() -> None:
    p = LocalPipeline()
    p.write(creq("/q"))
    p.write(creq("/q/x"))
    p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/q/x", -1), IP))
    _, body, _ = p.write(creq("/q/s", flags=2))
    assert r.CreateResponse.from_bytes(body).path == "/q/s0000000001"


def test_pipelined_create_sees_pending_create_and_delete() -> None:
    p = LocalPipeline()
    h1, t1 = p.propose(creq("/a"), 0)
    h2, t2 = p.propose(creq("/a"), 0)
    assert (h2.type, t2) == (Op.ERROR, r.ErrorTxn(Err.NODEEXISTS))
    h3, t3 = p.propose(Request(1, 1, Op.DELETE, r.DeleteRequest("/a", 0), IP), 0)
    assert h3.type == Op.DELETE
    h4, t4 = p.propose(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/a", b"", -1), IP), 0)
    assert t4 == r.ErrorTxn(Err.NONODE)
    for h, t in ((h1, t1), (h2, t2), (h3, t3), (h4, t4)):
        p.tree.process_txn(h, t)
        p.prep.committed(h.zxid)
    assert "/a" not in p.tree.nodes and not p.prep.outstanding.queue


def test_pipelined_set_data_version_checks() -> None:
    p = LocalPipeline()
    p.write(creq("/v"))
    _, t1 = p.propose(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/v", b"1", 0), IP), 0)
    _, t2 = p.propose(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/v", b"2", 0), IP), 0)
    _, t3 = p.propose(Request(1, 1, Op.SET_DATA, r.SetDataRequest("/v", b"2", 1), IP), 0)
    assert (t1.version, t2, t3.version) == (1, r.ErrorTxn(Err.BADVERSION), 2)


def test_error_codes_in_java_order() -> None:
    p = LocalPipeline()
    p.write(creq("/e", flags=1, session=5))
    assert p.write(creq("/e/child"))[0] == Err.NOCHILDRENFOREPHEMERALS
    assert p.write(creq("nope"))[0] == Err.BADARGUMENTS
    assert p.write(creq("/x/"))[0] == Err.NONODE  # parent "/x" checked before the path
    assert p.write(creq("/bad//x"))[0] == Err.NONODE
    assert p.write(creq("/a//"))[0] == Err.NONODE
    assert p.write(creq("/ok", flags=9))[0] == Err.BADARGUMENTS
    assert p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/zookeeper", -1), IP))[0] == \
        Err.BADARGUMENTS
    p.write(creq("/p"))
    p.write(creq("/p/c"))
    assert p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/p", 5), IP))[0] == Err.BADVERSION
    assert p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/p", -1), IP))[0] == Err.NOTEMPTY
    assert p.write(Request(1, 1, Op.RECONFIG, r.ReconfigRequest(None, None, "x", -1), IP))[0] \
        == Err.RECONFIGDISABLED


def test_multi_success_results() -> None:
    p = LocalPipeline()
    res = multi(p, [
        (Op.CREATE, r.CreateRequest("/m", b"", OPEN_ACL_UNSAFE, 0)),
        (Op.CREATE2, r.CreateRequest("/m/a", b"", OPEN_ACL_UNSAFE, 0)),
        (Op.SET_DATA, r.SetDataRequest("/m", b"zz", 0)),
        (Op.CHECK, r.CheckVersionRequest("/m", 1)),
        (Op.DELETE, r.DeleteRequest("/m/a", 0)),
    ])
    assert [(t, e) for t, e, _ in res] == [(1, 0), (15, 0), (5, 0), (13, 0), (2, 0)]
    assert res[0][2].path == "/m" and res[1][2].stat.czxid == 1 and res[2][2].stat.version == 1
    assert p.tree.nodes["/m"].data == b"zz" and "/m/a" not in p.tree.nodes
    assert p.tree.last_processed_zxid == 1  # one zxid for the whole multi


def test_multi_failure_rewrites_results_and_applies_nothing() -> None:
    p = LocalPipeline()
    p.write(creq("/exists"))
    res = multi(p, [
        (Op.CREATE, r.CreateRequest("/new", b"", OPEN_ACL_UNSAFE, 0)),
        (Op.CREATE, r.CreateRequest("/exists", b"", OPEN_ACL_UNSAFE, 0)),
        (Op.SET_DATA, r.SetDataRequest("/exists", b"", -1)),
        (Op.DELETE, r.DeleteRequest("/exists", -1)),
    ])
    assert [(t, e) for t, e, _ in res] == [(-1, 0), (-1, Err.NODEEXISTS),
                                           (-1, Err.RUNTIMEINCONSISTENCY),
                                           (-1, Err.RUNTIMEINCONSISTENCY)]
    assert [b.err for _, _, b in res] == [0, Err.NODEEXISTS, -2, -2]
    assert "/new" not in p.tree.nodes
    hdr, txn = p.log[-1]
    assert hdr.type == Op.MULTI and [t.type for t in txn.txns] == [1, -1, -1, -1]


def test_failed_multi_rolls_back_pending_records_for_next_sequence() -> None:
    p = LocalPipeline()
    p.write(creq("/q"))
    p.propose(Request(1, 2, Op.MULTI, [
        (Op.CREATE, r.CreateRequest("/q/s", b"", OPEN_ACL_UNSAFE, 2)),
        (Op.DELETE, r.DeleteRequest("/nope", -1)),
    ], IP), 0)
    _, txn = p.propose(creq("/q/s", flags=2), 0)
    assert txn.path == "/q/s0000000000"
