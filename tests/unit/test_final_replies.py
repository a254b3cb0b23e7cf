"""FinalRequestProcessor reply bodies for writes and reads."""

from __future__ import annotations

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.multi import decode_multi_response
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE

IP = [r.Id("ip", "127.0.0.1")]


def creq(path: str, op: int = Op.CREATE, flags: int = 0, session: int = 1) -> Request:
    return Request(session, 1, op, r.CreateRequest(path, b"data", OPEN_ACL_UNSAFE, flags), IP)


def test_write_error_replies_are_header_only() -> None:
    p = LocalPipeline()
    assert p.write(creq("/a/b")) == (Err.NONODE, b"", [])
    assert p.write(creq("/a/b", op=Op.CREATE2)) == (Err.NONODE, b"", [])


def test_create_bodies() -> None:
    p = LocalPipeline()
    assert p.write(creq("/a"))[1] == r.CreateResponse.to_bytes(r.CreateResponse("/a"))
    err, body, _ = p.write(creq("/b", op=Op.CREATE2))
    resp = r.Create2Response.from_bytes(body, exact=True)
    assert resp.path == "/b" and resp.stat.czxid == 2
    err, body, _ = p.write(creq("/c", op=Op.CREATE_CONTAINER, flags=4))
    assert r.Create2Response.from_bytes(body, exact=True).path == "/c"


def test_delete_and_check_have_empty_bodies() -> None:
    p = LocalPipeline()
    p.write(creq("/a"))
    assert p.write(Request(1, 1, Op.CHECK, r.CheckVersionRequest("/a", 0), IP)) == (0, b"", [])
    assert p.write(Request(1, 1, Op.CHECK, r.CheckVersionRequest("/a", 3), IP))[0] == \
        Err.BADVERSION
    assert p.write(Request(1, 1, Op.DELETE, r.DeleteRequest("/a", -1), IP)) == (0, b"", [])


def test_exists_get_children2_and_all_children_number() -> None:
    p = LocalPipeline()
    p.write(creq("/a"))
    p.write(creq("/a/x"))
    p.write(creq("/a/x/y"))
    err, body, _ = p.read(Request(1, 1, Op.EXISTS, r.ExistsRequest("/a", False), IP))
    assert err == 0 and r.Stat.from_bytes(body, exact=True).numChildren == 1
    assert p.read(Request(1, 1, Op.EXISTS, r.ExistsRequest("/a\0", False), IP))[0] == \
        Err.BADARGUMENTS
    err, body, _ = p.read(Request(1, 1, Op.GET_CHILDREN2, r.GetChildren2Request("/a", False), IP))
    resp = r.GetChildren2Response.from_bytes(body, exact=True)
    assert resp.children == ["x"] and resp.stat.pzxid == 2
    err, body, _ = p.read(Request(1, 1, Op.GET_ALL_CHILDREN_NUMBER,
                                  r.GetAllChildrenNumberRequest("/a"), IP))
    assert r.GetAllChildrenNumberResponse.from_bytes(body).totalNumber == 2


def test_get_data_fast_path_matches_record_encoding() -> None:
    p = LocalPipeline()
    p.write(creq("/a"))
    err, body, _ = p.read(Request(1, 1, Op.GET_DATA, r.GetDataRequest("/a", False), IP))
    n = p.tree.nodes["/a"]
    assert body == r.GetDataResponse.to_bytes(r.GetDataResponse(b"data", p.tree.stat_of(n)))


def test_multi_read_reports_per_op_errors() -> None:
    p = LocalPipeline()
    p.write(creq("/a"))
    ops = [(Op.GET_DATA, r.GetDataRequest("/a", False)),
           (Op.GET_CHILDREN, r.GetChildrenRequest("/nope", False)),
           (Op.GET_CHILDREN, r.GetChildrenRequest("/", False))]
    err, body, _ = p.read(Request(1, 1, Op.MULTI_READ, ops, IP))
    res = decode_multi_response(body)[0]
    assert err == 0 and [(t, e) for t, e, _ in res] == [(4, 0), (-1, Err.NONODE), (8, 0)]
    assert res[0][2].data == b"data" and sorted(res[2][2].children) == ["a", "zookeeper"]


def test_multi_read_sub_ops_leave_no_watch_whatever_their_watch_flag() -> None:
    """Java's MultiOperationRecord keeps only a read sub-op's path (Op.getData/getChildren ask
    with watch false), so a multiRead never watches; difffuzz seed 1006 case 2191 found a
    removeWatches answered 0 on pyzk (the multiRead's data watch on "/") and NOWATCHER on Java."""
    p = LocalPipeline()
    p.write(creq("/a"))
    conn = object()
    ops = [(Op.GET_DATA, r.GetDataRequest("/a", True)),
           (Op.GET_CHILDREN, r.GetChildrenRequest("/a", True))]
    err, _, _ = p.read(Request(1, 1, Op.MULTI_READ, ops, IP, conn))
    assert err == 0
    assert p.tree.watches.watch_count() == 0
    _, _, events = p.write(Request(1, 2, Op.SET_DATA, r.SetDataRequest("/a", b"x", -1), IP))
    assert events == []
    _, _, events = p.write(creq("/a/b"))
    assert events == []
    assert p.read(Request(1, 3, Op.REMOVE_WATCHES, r.RemoveWatchesRequest("/a", 3), IP,
                          conn))[0] == Err.NOWATCHER


def test_get_ephemerals_is_per_session_with_prefix() -> None:
    p = LocalPipeline()
    p.write(creq("/e1", flags=1, session=5))
    p.write(creq("/x1", flags=1, session=5))
    p.write(creq("/e2", flags=1, session=6))
    err, body, _ = p.read(Request(5, 1, Op.GET_EPHEMERALS, r.GetEphemeralsRequest("/e"), IP))
    assert r.GetEphemeralsResponse.from_bytes(body).ephemerals == ["/e1"]
    err, body, _ = p.read(Request(5, 1, Op.GET_EPHEMERALS, r.GetEphemeralsRequest(" / "), IP))
    assert sorted(r.GetEphemeralsResponse.from_bytes(body).ephemerals) == ["/e1", "/x1"]


def test_undecodable_bodies_are_marshalling_errors() -> None:
    p = LocalPipeline()
    assert p.read(Request(1, 1, Op.GET_DATA, None, IP))[0] == Err.MARSHALLINGERROR
    assert p.write(Request(1, 1, Op.SET_DATA, None, IP))[0] == Err.MARSHALLINGERROR
    assert p.read(Request(1, 1, Op.ADD_WATCH, r.AddWatchRequest("/", 7), IP))[0] == \
        Err.MARSHALLINGERROR
