"""multi / multiRead bodies: MultiOperationRecord in, MultiResponse out.

Layout (MultiOperationRecord.java, MultiResponse.java): a MultiHeader before each op or result,
terminated by MultiHeader(-1, done=true, -1).
"""

from __future__ import annotations

from typing import Any

from . import records as r
from .jute import JuteError
from .opcodes import Op

# Which request record follows a MultiHeader of a given type.
_OP_RECORDS: dict[int, Any] = {
    Op.CREATE: r.CreateRequest,
    Op.CREATE2: r.CreateRequest,
    Op.CREATE_CONTAINER: r.CreateRequest,
    Op.CREATE_TTL: r.CreateTTLRequest,
    Op.DELETE: r.DeleteRequest,
    Op.SET_DATA: r.SetDataRequest,
    Op.CHECK: r.CheckVersionRequest,
    Op.GET_CHILDREN: r.GetChildrenRequest,
    Op.GET_DATA: r.GetDataRequest,
}
READ_OPS = frozenset({Op.GET_CHILDREN, Op.GET_DATA})
_CREATE_HEADERS = frozenset({Op.CREATE, Op.CREATE2, Op.CREATE_CONTAINER, Op.CREATE_TTL})
_TTL_FLAGS = frozenset({5, 6})
_CONTAINER_FLAGS = 4


def _create_op(flags: int) -> int:
    """Op.Create.getOpcode(CreateMode.fromFlag(flags, PERSISTENT)): the sub-op's type comes
    from its flags, not from its header (an unknown flag counts as PERSISTENT)."""
    if flags in _TTL_FLAGS:
        return Op.CREATE_TTL
    return Op.CREATE_CONTAINER if flags == _CONTAINER_FLAGS else Op.CREATE


def decode_multi(buf: Any, off: int = 0) -> tuple[list[tuple[int, Any]], int]:
    """Return [(op type, request record)] and the new offset.

    Raises JuteError where Java's deserializer throws IOException: an unknown op type or
    reads mixed with writes ("Mixing different kind of ops"). Create sub-ops are rebuilt as
    MultiOperationRecord does (Op.create): the type follows the flags, a createTTL header
    whose flags are not a TTL mode becomes a plain create that drops its ttl, and a create
    header with TTL flags becomes a createTTL still holding a CreateRequest (prep then fails
    the whole multi, Java's ClassCastException). An invalid flag is left for prep (-8).
    """
    ops: list[tuple[int, Any]] = []
    kinds: set[bool] = set()
    h, off = r.MultiHeader.decode(buf, off)
    while not h.done:
        rec_cls = _OP_RECORDS.get(h.type)
        if rec_cls is None:
            raise JuteError("Invalid type of op")
        rec, off = rec_cls.decode(buf, off)
        kinds.add(h.type in READ_OPS)
        if len(kinds) > 1:
            raise JuteError("Mixing different kind of ops")
        op_type = h.type
        if op_type in _CREATE_HEADERS:
            # 3.8.0-3.8.3 and 3.9.0-3.9.3 rebuild a create2 sub-op as a plain create too, so
            # it is logged and answered as create; ZOOKEEPER-4026 changed that in 3.8.4.
            op_type = _create_op(rec.flags)
            if h.type == Op.CREATE_TTL and op_type != Op.CREATE_TTL:
                rec = r.CreateRequest(rec.path, rec.data, rec.acl, rec.flags)
        ops.append((op_type, rec))
        h, off = r.MultiHeader.decode(buf, off)
    return ops, off


def encode_multi_request(ops: list[tuple[int, Any]], out: bytearray) -> None:
    for op_type, rec in ops:
        r.MultiHeader.encode((op_type, False, -1), out)
        type(rec).encode(rec, out)
    r.MultiHeader.encode((-1, True, -1), out)


def encode_multi_response(results: list[tuple[int, int, Any]], out: bytearray) -> None:
    """results: [(result type, err, response record or None)].

    Result type is the op's opcode, or Op.ERROR with `err` set and an ErrorResponse body.
    """
    for rtype, err, body in results:
        r.MultiHeader.encode((rtype, False, err), out)
        if body is not None:
            type(body).encode(body, out)
    r.MultiHeader.encode((-1, True, -1), out)


def decode_multi_response(buf: Any, off: int = 0) -> tuple[list[tuple[int, int, Any]], int]:
    """Client-side decoder (tests, benchmark, shell)."""
    bodies: dict[int, Any] = {
        Op.CREATE: r.CreateResponse, Op.CREATE2: r.Create2Response,
        Op.CREATE_CONTAINER: r.Create2Response, Op.CREATE_TTL: r.Create2Response,
        Op.SET_DATA: r.SetDataResponse, Op.GET_CHILDREN: r.GetChildrenResponse,
        Op.GET_DATA: r.GetDataResponse, Op.ERROR: r.ErrorResponse,
    }
    results: list[tuple[int, int, Any]] = []
    h, off = r.MultiHeader.decode(buf, off)
    while not h.done:
        cls = bodies.get(h.type)
        body = None
        if cls is not None:
            body, off = cls.decode(buf, off)
        results.append((h.type, h.err, body))
        h, off = r.MultiHeader.decode(buf, off)
    return results, off
