"""Prep never raises and never leaves a zxid without a txn (PrepRequestProcessor's catch).

A request whose preparation fails for any reason becomes an error txn with the zxid it was
given, so the log has no hole; the change records it made are dropped, so later requests do
not see phantom nodes. Java's rules for inputs that fuzzing found: a null path inside a multi and
a write multi of read ops are MARSHALLINGERROR, a client's deleteContainer is BADARGUMENTS.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyzk.pipeline import prep as prep_module
from pyzk.pipeline.changes import ChangeRecord, Outstanding
from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE

IP = [r.Id("ip", "127.0.0.1")]


def _req(op: int, rec: Any, xid: int = 7) -> Request:
    return Request(1, xid, op, rec, IP)


def _create(path: str) -> Request:
    return _req(Op.CREATE, r.CreateRequest(path, b"d", OPEN_ACL_UNSAFE, 0))


def test_multi_with_a_null_path_is_marshalling_error_with_its_zxid() -> None:
    p = LocalPipeline()
    p.write(_create("/a"))
    hdr, txn = p.propose(_req(Op.MULTI, [(Op.CREATE, r.CreateRequest("/a/x", b"", [], 0)),
                                         (Op.CHECK, r.CheckVersionRequest(None, -1))]), 0)
    assert (hdr.type, hdr.zxid, txn) == (Op.ERROR, 2, r.ErrorTxn(Err.MARSHALLINGERROR))
    assert not p.prep.outstanding.queue and not p.prep.outstanding.by_path


def test_write_multi_of_reads_is_marshalling_error() -> None:
    p = LocalPipeline()
    hdr, txn = p.propose(_req(Op.MULTI, [(Op.GET_DATA, r.GetDataRequest("/", False))]), 0)
    assert (hdr.type, txn) == (Op.ERROR, r.ErrorTxn(Err.MARSHALLINGERROR))


def test_client_delete_container_is_bad_arguments_and_keeps_the_node() -> None:
    p = LocalPipeline()
    p.write(_create("/plain"))
    err, _, _ = p.write(_req(Op.DELETE_CONTAINER, None))
    assert err == Err.BADARGUMENTS
    assert "/plain" in p.tree.nodes
    assert p.log[-1][0].type == Op.ERROR  # logged as an error txn, consuming its zxid


@pytest.mark.skipif(not str(prep_module.__file__).endswith(".py"),
                    reason="patches a method, which a compiled Prep (pyzk.tools.compiled) "
                           "does not allow")
def test_unexpected_failure_becomes_error_txn_and_drops_its_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    p = LocalPipeline()
    p.write(_create("/a"))
    real = p.prep._p2txn
    failures = [RuntimeError("injected")]

    def flaky(op: int, zxid: int, time: int, req: Any, rec: Any) -> Any:
        txn = real(op, zxid, time, req, rec)  # adds change records, then fails once
        if failures:
            raise failures.pop()
        return txn

    monkeypatch.setattr(p.prep, "_p2txn", flaky)
    hdr, txn = p.propose(_create("/a/boom"), 0)
    assert (hdr.type, hdr.zxid, txn) == (Op.ERROR, 2, r.ErrorTxn(Err.MARSHALLINGERROR))
    assert "/a/boom" not in p.prep.outstanding.by_path and "/a" not in p.prep.outstanding.by_path
    # The next request prepares against the real state: the failed create left nothing.
    err, _, _ = p.write(_create("/a/boom"))
    assert err == 0 and p.log[-1][0].zxid == 3


def test_discard_restores_the_earlier_record_of_each_path() -> None:
    out = Outstanding()
    a1 = ChangeRecord(5, "/a", False, version=1)
    out.add(a1)
    out.add(ChangeRecord(6, "/b", False))
    out.add(ChangeRecord(7, "/a", False, version=2))
    out.add(ChangeRecord(7, "/c", True))
    out.discard(7)
    assert [c.zxid for c in out.queue] == [5, 6]
    assert out.by_path["/a"] is a1 and "/c" not in out.by_path and "/b" in out.by_path
