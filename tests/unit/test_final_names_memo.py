"""getChildren's memo of encoded children lists never serves a stale list.

Seeded random creates, deletes and multis (a delete and a re-create of the same child in one
txn reorders a parent's children without changing their count) under parents small enough
for a tuple and large enough for a dict of children; after every write, getChildren and
getChildren2 of every parent must equal the list encoded afresh from the tree. Two trees with
the same paths share the module's memo and must not see each other's lists.
"""

from __future__ import annotations

import random

from pyzk.pipeline import final
from pyzk.pipeline.local import LocalPipeline
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.tree.acl_cache import OPEN_ACL_UNSAFE
from pyzk.tree.znode import child_names

IP = [r.Id("ip", "127.0.0.1")]
PARENTS = ["/", "/small", "/big"]


def _create(path: str) -> Request:
    return Request(1, 1, Op.CREATE, r.CreateRequest(path, b"", OPEN_ACL_UNSAFE, 0), IP)


def _children(p: LocalPipeline, path: str, with_stat: bool) -> list[str]:
    if with_stat:
        err, body, _ = p.read(Request(1, 1, Op.GET_CHILDREN2, r.GetChildren2Request(path, False),
                                      IP))
        assert err == 0
        return list(r.GetChildren2Response.from_bytes(body, exact=True).children)
    err, body, _ = p.read(Request(1, 1, Op.GET_CHILDREN, r.GetChildrenRequest(path, False), IP))
    assert err == 0
    return list(r.GetChildrenResponse.from_bytes(body, exact=True).children)


def _check(p: LocalPipeline) -> None:
    for path in PARENTS:
        want = child_names(p.tree.nodes[path].children, path)
        assert _children(p, path, False) == want, path
        assert _children(p, path, True) == want, path


def test_children_memo_follows_every_change() -> None:
    rng = random.Random(20261205)
    trees = [LocalPipeline(), LocalPipeline()]
    for p in trees:
        p.write(_create("/small"))
        p.write(_create("/big"))
    for step in range(600):
        p = trees[step % 2]
        parent = rng.choice(PARENTS)
        limit = 5 if parent == "/small" else 20
        name = f"{parent.rstrip('/')}/c{rng.randrange(limit)}"
        exists = name in p.tree.nodes
        kind = rng.random()
        if kind < 0.15 and exists:
            # delete and re-create in one multi: same count, the child moves to the end
            ops = [(Op.DELETE, r.DeleteRequest(name, -1)),
                   (Op.CREATE, r.CreateRequest(name, b"", OPEN_ACL_UNSAFE, 0))]
            err, _, _ = p.write(Request(1, 1, Op.MULTI, ops, IP))
            assert err == 0
        elif exists:
            assert p.write(Request(1, 1, Op.DELETE, r.DeleteRequest(name, -1), IP))[0] == 0
        else:
            assert p.write(_create(name))[0] == 0
        _check(p)
        _check(trees[(step + 1) % 2])
    assert len(final._NAMES) <= final.NAMES_MEMO_LIMIT
