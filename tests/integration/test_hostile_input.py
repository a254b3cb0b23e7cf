"""Hostile input that once stopped pyzk or got a different answer than Java's, on both servers.

Each case sends exact bytes and expects exactly what Java 3.8.0 does: which replies (xid, err),
whether the connection closes, and that the server goes on serving another client. The
differential fuzzer (tests/fuzz) searches for more; these are the ones found first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from tests.integration.rawclient import ConnectionClosed, RawClient, connected

CONNECT = bytes.fromhex("0000002d000000000000000000000000000075300000000000000000000000100000000"
                        "000000000000000000000000000")
# multi (xid 3) holding one check op whose path is null (string length -1)
NULL_PATH_MULTI = bytes.fromhex("00000022000000030000000e0000000d00ffffffffffffffffffffffffffff"
                                "ffff01ffffffff")


def _frame(xid: int, op: int, body: bytes = b"") -> bytes:
    payload = struct.pack(">ii", xid, op) + body
    return struct.pack(">i", len(payload)) + payload


def _string(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">i", -1)
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _replies(c: RawClient, timeout: float = 3.0) -> tuple[list[tuple[int, int]], bool]:
    """(xid, err) of every reply until the connection closes or goes quiet; closed?"""
    out: list[tuple[int, int]] = []
    for _ in range(50):
        try:
            f = c.read_frame(timeout)
        except ConnectionClosed:
            return out, True
        except TimeoutError:
            return out, False
        xid, _, err = struct.unpack_from(">iqi", f, 0)
        if xid != -1:
            out.append((xid, err))
    return out, False


def _ping_answers(c: RawClient) -> bool:
    try:
        c.send_raw(_frame(-2, Op.PING))
        f = c.read_frame(3.0)
    except (ConnectionClosed, OSError, TimeoutError):
        return False
    return struct.unpack_from(">i", f, 0)[0] == -2


@pytest.fixture
def raw(zk) -> Iterator[RawClient]:  # type: ignore[no-untyped-def]
    made: list[RawClient] = []

    def make() -> RawClient:
        c = connected(zk.host, zk.port)
        made.append(c)
        return c
    yield make  # type: ignore[misc]
    for c in made:
        c.close()


def _still_serving(zk) -> None:  # type: ignore[no-untyped-def]
    other = connected(zk.host, zk.port)
    try:
        assert other.exists("/").err == 0
    finally:
        other.close()


def test_null_path_multi_in_the_connect_write_is_marshalling_error(zk) -> None:  # type: ignore[no-untyped-def]
    c = RawClient(zk.host, zk.port)
    try:
        c.send_raw(CONNECT + NULL_PATH_MULTI)
        c.read_frame()  # ConnectResponse
        got, closed = _replies(c, 1.0)
        assert (got, closed) == ([(3, -5)], False)
        assert _ping_answers(c)
    finally:
        c.close()
    _still_serving(zk)


def test_null_path_multi_after_the_handshake_is_marshalling_error(raw, zk) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    c.send_raw(NULL_PATH_MULTI)
    got, closed = _replies(c, 1.0)
    assert (got, closed) == ([(3, -5)], False)
    assert _ping_answers(c)
    _still_serving(zk)


@pytest.mark.parametrize("after", [
    _frame(2, Op.EXISTS, _string("/") + b"\0"),
    _frame(2, Op.SET_DATA, _string("/") + struct.pack(">ii", -1, -1)),
    _frame(-2, Op.PING),
], ids=["exists", "setData", "ping"])
def test_requests_after_close_session_in_one_write_are_dropped(raw, zk, after: bytes) -> None:  # type: ignore[no-untyped-def]
    """Java's touch() fails once prep marked the session closing: MissingSessionException,
    the request is dropped unanswered, and the close reply ends the connection. (A read can
    win the race against prep in Java and get -112 instead; pyzk always drops.)"""
    c = raw()
    c.send_raw(_frame(1, Op.CLOSE_SESSION) + after)
    got, closed = _replies(c)
    assert closed and got[:1] == [(1, 0)]
    if zk.kind == "pyzk":
        assert got == [(1, 0)]
    else:
        assert all(err == -112 for _, err in got[1:])
    _still_serving(zk)


def test_write_multi_holding_a_read_is_marshalling_error(raw, zk) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    body = (struct.pack(">i?i", Op.GET_DATA, False, -1) + _string("/") + b"\0"
            + struct.pack(">i?i", -1, True, -1))
    c.send_raw(_frame(5, Op.MULTI, body))
    got, closed = _replies(c, 1.0)
    assert (got, closed) == ([(5, -5)], False)


def test_client_delete_container_never_deletes(raw, zk) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    assert c.create("/hostile-plain", b"x").err == 0
    for body in (_string("/hostile-plain") + struct.pack(">i", -1), b"/hostile-plain", b""):
        c.send_raw(_frame(7, Op.DELETE_CONTAINER, body))
        got, closed = _replies(c, 1.0)
        assert (got, closed) == ([(7, -8)], False)
    assert c.exists("/hostile-plain").err == 0


def test_set_acl_with_a_negative_acl_count_is_invalid_acl(raw, zk) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    for count in (-1, -2, -1000):
        c.send_raw(_frame(9, Op.SET_ACL, _string("/") + struct.pack(">ii", count, -1)))
        got, closed = _replies(c, 1.0)
        assert (got, closed) == ([(9, -114)], False)


@pytest.mark.parametrize("body", [b"", b"\0\0", struct.pack(">i", -1), struct.pack(">i", 50)],
                         ids=["empty", "short", "null-token", "truncated-token"])
def test_malformed_sasl_closes_the_connection(raw, zk, body: bytes) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    c.send_raw(_frame(4, Op.SASL, body))
    got, closed = _replies(c)
    assert (got, closed) == ([], True)
    _still_serving(zk)


def test_well_formed_sasl_without_a_sasl_server(raw, zk) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    c.send_raw(_frame(4, Op.SASL, r.GetSASLRequest.to_bytes(r.GetSASLRequest(b"tok"))))
    got, closed = _replies(c, 1.0)
    assert (got, closed) == ([(4, 0)], False)


def _mh(op: int, done: bool = False) -> bytes:
    return struct.pack(">i?i", op, done, -1)


def _raw_reply(c: RawClient) -> tuple[int, int, int, bytes]:
    f = c.read_frame(3.0)
    xid, zxid, err = struct.unpack_from(">iqi", f, 0)
    return xid, zxid, err, f[16:]


EMPTY_MULTI = bytes.fromhex("ffffffff01ffffffff")


def test_null_path_multi_takes_no_zxid_and_answers_the_empty_multi_response(raw, zk) -> None:  # type: ignore[no-untyped-def]
    """Java fails in getPendingChanges before the txn header exists: no txn, the reply carries
    the last processed zxid and the empty MultiResponse Final had already made."""
    c = raw()
    before = c.exists("/").zxid
    c.send_raw(_frame(3, Op.MULTI, _mh(Op.CHECK) + _string("/") + struct.pack(">i", -1)
                      + _mh(Op.DELETE) + _string(None) + struct.pack(">i", -1)
                      + _mh(-1, True)))
    assert _raw_reply(c) == (3, before, -5, EMPTY_MULTI)


@pytest.mark.parametrize(("ops", "body"), [
    (_mh(Op.GET_DATA) + _string(None) + b"\0", EMPTY_MULTI),
    (_mh(Op.SET_DATA) + _string("/") + struct.pack(">ii", -1, -1), EMPTY_MULTI),
    # the results before the failing op: getChildren("/") ok, then the null path
    (_mh(Op.GET_CHILDREN) + _string("/hostile-none") + b"\0"
     + _mh(Op.GET_DATA) + _string(None) + b"\0",
     struct.pack(">i?ii", -1, False, -101, -101) + EMPTY_MULTI),
], ids=["null-path", "write-op", "after-a-result"])
def test_failing_multi_read_answers_the_results_so_far(raw, zk, ops: bytes, body: bytes) -> None:  # type: ignore[no-untyped-def]
    c = raw()
    before = c.exists("/").zxid
    c.send_raw(_frame(4, Op.MULTI_READ, ops + _mh(-1, True)))
    assert _raw_reply(c) == (4, before, -5, body)


@pytest.mark.parametrize(("body", "answer"), [
    (struct.pack(">i", 5000), "connect-response"),
    (struct.pack(">i", 40000) + b"junk", "connect-response"),
    (b"\0\0", -5),
], ids=["timeout", "timeout-and-junk", "short"])
def test_create_session_inside_a_session(raw, zk, body: bytes, answer: object) -> None:  # type: ignore[no-untyped-def]
    """Java 3.8.0 runs it: a CreateSessionTxn for the same session (one zxid), answered with
    a second ConnectResponse carrying the connection's own timeout; a short body is -5."""
    c = raw()
    before = c.exists("/").zxid
    c.send_raw(_frame(7, -10, body) + _frame(8, Op.EXISTS, _string("/") + b"\0"))
    f = c.read_frame(3.0)
    if answer == "connect-response":
        proto, timeout, sid = struct.unpack_from(">iiq", f, 0)
        assert (len(f), proto, timeout, sid) == (37, 0, 30000, c.session.sessionId)
    else:
        assert struct.unpack_from(">iqi", f, 0) == (7, before + 1, answer)
    xid, zxid, err = struct.unpack_from(">iqi", c.read_frame(3.0), 0)
    assert (xid, zxid, err) == (8, before + 1, 0)
