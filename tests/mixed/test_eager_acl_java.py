"""enableEagerACLCheck on an all-Java and an all-pyzk 3-member ensemble, the same raw client
steps through a follower and through the leader: a write the committed ACL forbids (or with an
invalid new ACL) is answered NOAUTH/INVALIDACL at zxid 0 before it is proposed, so it uses no
zxid (the next write's zxid follows the last one directly), while a write to a missing node
still goes through prep (NONODE as an error txn, one zxid)."""

from __future__ import annotations

from typing import Any

import pytest

from pyzk.protocol import records as r
from tests.integration.rawclient import connected

OPEN = [r.ACL(31, r.Id("world", "anyone"))]
READ_ONLY = [r.ACL(1, r.Id("world", "anyone"))]


def steps(host: str, tag: str) -> list[Any]:
    c = connected(host, 2181)
    try:
        out: list[Any] = []
        base = c.create(f"/{tag}", b"", acl=READ_ONLY).zxid
        for rep in (c.set(f"/{tag}", b"x"),
                    c.create(f"/{tag}/child", b""),
                    c.delete(f"/{tag}/nochild"),
                    c.create(f"/{tag}-bad", b"", acl=[r.ACL(31, r.Id("digest", "nocolon"))]),
                    c.set(f"/{tag}-missing", b"x"),
                    c.create(f"/{tag}-ok", b"")):
            out.append((rep.err, rep.zxid - base if rep.zxid else 0))
        return out
    finally:
        c.close()


@pytest.mark.parametrize("kind", ["java", "pyzk"])
def test_eager_acl_check_answers_before_proposing(mixed, kind: str) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: kind, 2: kind, 3: kind}, extra={"enableEagerACLCheck": "true"})
    ens.start(timeout=60)
    leader = ens.leader()
    follower = ens.followers()[0]
    got = {who: steps(ens.members[sid].host, who)
           for who, sid in (("leader", leader), ("follower", follower))}
    want = [(-102, 0), (-102, 0), (-102, 0), (-114, 0), (-101, 1), (0, 2)]
    assert got == {"leader": want, "follower": want}, got
