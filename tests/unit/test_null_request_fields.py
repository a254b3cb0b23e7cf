"""Every nullable field of a client request, set to null, goes through prep, apply and the
reply (or the read) without an exception escaping and without an error logged.

jute's ustring, buffer and vector fields are null on the wire with length -1, and pyzk's
records hold None there; the records are typed Any, so mypy cannot see such a None reach a
parameter or attribute annotated `str`, `bytes` or `list`. Interpreted Python lets it pass;
the compiled build (pyzk.tools.compiled, mypyc) checks those annotations at run time and raises
TypeError, which prep turns into a logged MARSHALLINGERROR and a read lets escape (WatchTable.
remove once took `path: str` and removeWatches with a null path failed so). Interpreted these
cases only document the contract; tests/integration/test_compiled.py runs them on the compiled
modules, where a wrong annotation fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.prep import PrepSettings
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.jute import BUFFER, USTRING, Vector
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE

WORLD = r.ACL(31, r.Id("world", "anyone"))
AUTH = [r.Id("ip", "127.0.0.1"), r.Id("digest", "u:x")]
WATCHER = object()
WRITES = frozenset({Op.CREATE, Op.CREATE2, Op.CREATE_CONTAINER, Op.CREATE_TTL, Op.DELETE,
                    Op.SET_DATA, Op.SET_ACL, Op.MULTI})

REQUESTS: dict[int, Any] = {
    Op.CREATE: r.CreateRequest("/a/n", b"x", [WORLD], 0),
    Op.CREATE2: r.CreateRequest("/a/n", b"x", [WORLD], 2),
    Op.CREATE_CONTAINER: r.CreateRequest("/a/n", b"x", [WORLD], 4),
    Op.CREATE_TTL: r.CreateTTLRequest("/a/n", b"x", [WORLD], 5, 1000),
    Op.DELETE: r.DeleteRequest("/a/b", -1),
    Op.SET_DATA: r.SetDataRequest("/a", b"y", -1),
    Op.SET_ACL: r.SetACLRequest("/a", [WORLD], -1),
    Op.EXISTS: r.ExistsRequest("/a", True),
    Op.GET_DATA: r.GetDataRequest("/a", True),
    Op.GET_ACL: r.GetACLRequest("/d"),
    Op.GET_CHILDREN: r.GetChildrenRequest("/a", True),
    Op.GET_CHILDREN2: r.GetChildren2Request("/a", True),
    Op.GET_ALL_CHILDREN_NUMBER: r.GetAllChildrenNumberRequest("/a"),
    Op.GET_EPHEMERALS: r.GetEphemeralsRequest("/"),
    Op.SYNC: r.SyncRequest("/a"),
    Op.CHECK_WATCHES: r.CheckWatchesRequest("/a", 3),
    Op.REMOVE_WATCHES: r.RemoveWatchesRequest("/a", 3),
    Op.ADD_WATCH: r.AddWatchRequest("/a", 1),
    Op.SET_WATCHES: r.SetWatches(0, ["/a", "/x"], ["/a", "/y"], ["/a", "/z"]),
    Op.SET_WATCHES2: r.SetWatches2(0, ["/a", "/x"], ["/a", "/y"], ["/a", "/z"], ["/a"], ["/"]),
}
# A multi's sub-ops (each mutated in turn, the others valid), and a multiRead's.
MULTI_OPS: list[tuple[int, Any]] = [
    (Op.CREATE, r.CreateRequest("/a/m", b"x", [WORLD], 0)),
    (Op.CREATE_CONTAINER, r.CreateRequest("/a/k", b"x", [WORLD], 4)),
    (Op.CREATE_TTL, r.CreateTTLRequest("/a/t", b"x", [WORLD], 5, 1000)),
    (Op.SET_DATA, r.SetDataRequest("/a", b"y", -1)),
    (Op.CHECK, r.CheckVersionRequest("/a", -1)),
    (Op.DELETE, r.DeleteRequest("/a/b", -1)),
]
MULTI_READ_OPS: list[tuple[int, Any]] = [
    (Op.GET_DATA, r.GetDataRequest("/a", True)),
    (Op.GET_CHILDREN, r.GetChildrenRequest("/a", True)),
]
# ACL ids with a null scheme or id under each kind of scheme fixupACL tells apart.
NULL_IDS = [(None, "anyone"), ("world", None), ("digest", None), ("ip", None), ("auth", None),
            ("x509", None), ("sasl", None), ("super", None), (None, None)]


def mutations(rec: Any) -> Iterator[tuple[str, Any]]:
    """rec with one nullable field null, a null element in a vector<ustring>, or an ACL
    entry whose Id has a null string (alone, after and before a valid entry)."""
    for name, ftype in type(rec).FIELDS:
        if ftype in (USTRING, BUFFER) or isinstance(ftype, Vector):
            yield f"null({name})", rec._replace(**{name: None})
        if isinstance(ftype, Vector) and ftype.of == USTRING:
            yield f"null-element({name})", rec._replace(**{name: ["/a", None, "/b"]})
        if name == "acl":
            for scheme, ident in NULL_IDS:
                bad = r.ACL(31, r.Id(scheme, ident))
                for acl in ([bad], [WORLD, bad], [bad, WORLD]):
                    yield f"acl={acl}", rec._replace(acl=acl)


def cases() -> Iterator[tuple[str, int, Any]]:
    for op, rec in REQUESTS.items():
        for label, mutated in mutations(rec):
            yield f"op={op} {label}", op, mutated
    for op, ops in ((Op.MULTI, MULTI_OPS), (Op.MULTI_READ, MULTI_READ_OPS)):
        for i, (sub_op, sub) in enumerate(ops):
            for label, mutated in mutations(sub):
                yield (f"op={op} sub-op {i} ({sub_op}) {label}", op,
                       [*ops[:i], (sub_op, mutated), *ops[i + 1:]])


CASES = list(cases())


def world() -> LocalPipeline:
    """Nodes, an ephemeral, a container, a digest-ACL node, and a one-shot and a persistent
    watch of WATCHER on /a."""
    p = LocalPipeline(settings=PrepSettings(extended_types=True))
    for path, op, flags in (("/a", Op.CREATE, 0), ("/a/b", Op.CREATE, 0), ("/e", Op.CREATE, 1),
                            ("/c", Op.CREATE_CONTAINER, 4)):
        assert p.write(Request(1, 1, op, r.CreateRequest(path, b"d", OPEN_ACL_UNSAFE, flags),
                               AUTH))[0] == 0
    digest_acl = [r.ACL(31, r.Id("digest", "u:x")), r.ACL(1, r.Id("ip", "127.0.0.1"))]
    assert p.write(Request(1, 1, Op.CREATE, r.CreateRequest("/d", b"d", digest_acl, 0),
                           AUTH))[0] == 0
    assert p.read(Request(1, 1, Op.GET_DATA, r.GetDataRequest("/a", True), AUTH, WATCHER))[0] == 0
    assert p.read(Request(1, 1, Op.ADD_WATCH, r.AddWatchRequest("/a", 1), AUTH, WATCHER))[0] == 0
    return p


def test_the_mutations_cover_every_request_and_sub_op() -> None:
    assert len(CASES) > 250
    assert {op for _, op, _ in CASES} == set(REQUESTS) | {Op.MULTI, Op.MULTI_READ}


@pytest.mark.parametrize("op", sorted({op for _, op, _ in CASES}))
def test_null_fields_fail_or_pass_as_java_without_an_exception_or_an_error_logged(
        op: int) -> None:
    problems: list[str] = []
    for label, case_op, rec in CASES:
        if case_op != op:
            continue
        p = world()
        req = Request(1, 9, op, rec, AUTH, WATCHER)
        with capture_logs() as logs:
            try:
                err = (p.write(req) if op in WRITES else p.read(req))[0]
            except Exception as e:  # noqa: BLE001 - what the test looks for
                problems.append(f"{label}: raised {type(e).__name__}: {e}")
                continue
        errors = [f"{e.get('event')}" for e in logs if e.get("log_level") in ("error", "critical")]
        if errors:
            problems.append(f"{label}: err={int(err)}, logged {errors}")
    assert not problems, "\n".join(problems)


def test_get_ephemerals_takes_a_null_prefix_as_every_ephemeral() -> None:
    p = world()
    assert p.tree.get_ephemerals(1, None) == ["/e"]
