"""Error codes as kazoo exceptions, multi/transactions (all-or-nothing, per-op results, the Kafka
broker-registration and controller-epoch patterns) and ACLs (digest, auth, ip, world, redaction,
super digest)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    AuthFailedError,
    BadArgumentsError,
    BadVersionError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_digest_acl,
    make_digest_acl_credential,
)

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from tests.integration.itest_util import raw
from tests.integration.rawclient import OPEN_ACL


def test_error_codes_surface_as_kazoo_exceptions(client: KazooClient, base: str) -> None:
    with pytest.raises(NoNodeError):
        client.create(f"{base}/missing/child")
    client.create(f"{base}/a", b"x")
    with pytest.raises(NodeExistsError):
        client.create(f"{base}/a")
    with pytest.raises(BadVersionError):
        client.set(f"{base}/a", b"y", version=3)
    with pytest.raises(BadVersionError):
        client.delete(f"{base}/a", version=1)
    client.create(f"{base}/a/b")
    with pytest.raises(NotEmptyError):
        client.delete(f"{base}/a")
    client.create(f"{base}/e", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        client.create(f"{base}/e/x")
    with pytest.raises(NoChildrenForEphemeralsError):
        client.create(f"{base}/e/x", sequence=True)
    with pytest.raises(InvalidACLError):
        client.create(f"{base}/badscheme", acl=[ACL(Permissions.ALL, Id("nosuch", "x"))])
    with pytest.raises(InvalidACLError):
        # `auth` ids expand to the caller's authenticated ids; an anonymous caller has none.
        client.create(f"{base}/authacl", acl=CREATOR_ALL_ACL)
    with pytest.raises(BadArgumentsError):
        client.create(f"{base}/a/b\0c")


def test_bad_paths_get_java_codes_per_operation(zk, base: str) -> None:
    c = raw(zk)
    try:
        # Writes validate the path in prep (BADARGUMENTS) once the parent resolves; reads only
        # look the path up (NONODE). A NUL makes every op BADARGUMENTS.
        assert [c.create(f"{base}/", b"").err, c.set(f"{base}/", b"").err,
                c.delete(f"{base}/").err, c.exists(f"{base}/").err] == [-8, -8, -101, -101]
        assert [c.create("rel", b"").err, c.delete("rel").err, c.get("rel").err] == \
            [-8, -8, -101]
        assert [c.create(f"{base}/a\0b", b"").err, c.exists(f"{base}/a\0b").err,
                c.get(f"{base}/a\0b").err] == [-8, -8, -101]
        assert c.create(f"{base}/emptyacl", b"", acl=[]).err == Err.INVALIDACL
        assert c.create(f"{base}/x//y", b"").err == Err.NONODE
    finally:
        c.close()


def test_unknown_auth_scheme_is_auth_failed(zk, clients) -> None:
    k = clients(zk)
    with pytest.raises(AuthFailedError):
        k.add_auth("nosuchscheme", "whatever")
    # The server keeps serving others.
    assert clients(zk).exists("/zookeeper") is not None


def test_transaction_is_all_or_nothing_with_per_op_results(client: KazooClient,
                                                          base: str) -> None:
    client.create(f"{base}/v", b"0")
    t = client.transaction()
    t.create(f"{base}/new", b"n")
    t.set_data(f"{base}/v", b"1", version=5)
    t.delete(f"{base}/missing")
    res = t.commit()
    assert [type(x) for x in res] == [RolledBackError, BadVersionError, RuntimeInconsistency]
    assert client.exists(f"{base}/new") is None
    assert client.get(f"{base}/v")[1].version == 0

    t = client.transaction()
    t.check(f"{base}/v", 0)
    t.create(f"{base}/new", b"n")
    t.set_data(f"{base}/v", b"1", version=0)
    t.delete(f"{base}/new")
    t.create(f"{base}/s-", sequence=True)
    res = t.commit()
    assert res[0] is True and res[1] == f"{base}/new" and res[3] is True
    assert res[2].version == 1 and res[4] == f"{base}/s-0000000002"
    # One multi, one zxid: the create and the setData share it.
    assert client.exists(f"{base}/s-0000000002").czxid == res[2].mzxid

    t = client.transaction()
    t.check(f"{base}/v", 0)
    t.create(f"{base}/never")
    assert [type(x) for x in t.commit()] == [BadVersionError, RuntimeInconsistency]


def test_kafka_broker_registration_multi_null_create_then_set(zk, base: str) -> None:
    """KafkaZkClient.registerBroker: create ephemeral with null data + setData(version 0)."""
    c = raw(zk)
    try:
        p = f"{base}/brokers-ids-1"
        data = b'{"version":5,"host":"h","port":9092}'
        rep = c.multi([(Op.CREATE, r.CreateRequest(p, None, OPEN_ACL, 1)),
                       (Op.SET_DATA, r.SetDataRequest(p, data, 0))])
        assert rep.err == 0
        (t1, e1, b1), (t2, e2, b2) = rep.body
        assert (t1, e1, b1.path) == (Op.CREATE, 0, p)
        assert (t2, e2) == (Op.SET_DATA, 0)
        st = b2.stat
        assert st.czxid == st.mzxid == rep.zxid and st.version == 1
        assert st.ephemeralOwner == c.session.sessionId and st.dataLength == len(data)
        # Registering again fails as a whole with NODEEXISTS on the create.
        rep = c.multi([(Op.CREATE, r.CreateRequest(p, None, OPEN_ACL, 1)),
                       (Op.SET_DATA, r.SetDataRequest(p, data, 0))])
        assert rep.err == 0
        assert [(t, e) for t, e, _ in rep.body] == [(-1, Err.NODEEXISTS),
                                                    (-1, Err.RUNTIMEINCONSISTENCY)]
    finally:
        c.close_session()


def test_kafka_controller_epoch_bump_is_guarded_by_version(client: KazooClient,
                                                          base: str) -> None:
    epoch = f"{base}/controller_epoch"
    ctl = f"{base}/controller"
    client.create(epoch, b"1")
    _, st = client.get(epoch)
    t = client.transaction()
    t.create(ctl, b'{"brokerid":1}', ephemeral=True)
    t.set_data(epoch, b"2", version=st.version)
    res = t.commit()
    assert res[0] == ctl and res[1].version == 1
    client.delete(ctl)
    # A second controller holding the stale epoch version loses atomically.
    t = client.transaction()
    t.create(ctl, b'{"brokerid":2}', ephemeral=True)
    t.set_data(epoch, b"2", version=st.version)
    assert [type(x) for x in t.commit()] == [RolledBackError, BadVersionError]
    assert client.exists(ctl) is None
    # checkControllerEpoch-wrapped write.
    t = client.transaction()
    t.check(epoch, 0)
    t.create(f"{base}/topic")
    assert [type(x) for x in t.commit()] == [BadVersionError, RuntimeInconsistency]


def test_multi_read_returns_per_op_results(zk, client: KazooClient, base: str) -> None:
    client.create(f"{base}/d", b"data")
    c = raw(zk)
    try:
        rep = c.multi([(Op.GET_DATA, r.GetDataRequest(f"{base}/d", False)),
                       (Op.GET_CHILDREN, r.GetChildrenRequest(f"{base}/nope", False)),
                       (Op.GET_CHILDREN, r.GetChildrenRequest(base, False))], read=True)
        assert rep.err == 0
        (t1, e1, b1), (t2, e2, b2), (t3, e3, b3) = rep.body
        assert (t1, e1, b1.data) == (Op.GET_DATA, 0, b"data")
        assert (t2, e2, b2.err) == (Op.ERROR, Err.NONODE, Err.NONODE)
        assert (t3, e3, b3.children) == (Op.GET_CHILDREN, 0, ["d"])
    finally:
        c.close()


def _ids(acl: list[ACL]) -> list[tuple[int, str, str]]:
    return [(a.perms, a.id.scheme, a.id.id) for a in acl]


def test_digest_acl_and_redaction_for_non_admin(zk, clients, base: str) -> None:
    owner = clients(zk, auth_data=[("digest", "alice:secret")])
    anon = clients(zk)
    p = f"{base}/secret"
    alice = make_digest_acl("alice", "secret", all=True)
    owner.create(p, b"s", acl=[alice, ACL(Permissions.READ, Id("world", "anyone"))])
    assert anon.get(p)[0] == b"s"
    with pytest.raises(NoAuthError):
        anon.set(p, b"x")
    with pytest.raises(NoAuthError):
        anon.set_acls(p, OPEN_ACL_UNSAFE)
    digest = make_digest_acl_credential("alice", "secret")
    assert _ids(owner.get_acls(p)[0]) == [(31, "digest", digest), (1, "world", "anyone")]
    # Without ADMIN, digest ids come back as "user:x" (FinalRequestProcessor getACL).
    assert _ids(anon.get_acls(p)[0]) == [(31, "digest", "alice:x"), (1, "world", "anyone")]
    owner.set(p, b"t")
    q = f"{base}/private"
    owner.create(q, b"p", acl=[alice])
    with pytest.raises(NoAuthError):
        anon.get(q)
    with pytest.raises(NoAuthError):
        anon.get_children(q)
    with pytest.raises(NoAuthError):
        anon.get_acls(q)
    assert anon.exists(q) is not None  # exists needs no permission
    with pytest.raises(NoAuthError):
        anon.create(f"{q}/child")
    # Another user with a different password is someone else.
    mallory = clients(zk, auth_data=[("digest", "alice:wrong")])
    with pytest.raises(NoAuthError):
        mallory.get(q)


def test_auth_scheme_expands_to_creator_ids(zk, clients, base: str) -> None:
    owner = clients(zk, auth_data=[("digest", "bob:pw")])
    p = f"{base}/mine"
    owner.create(p, b"", acl=CREATOR_ALL_ACL)
    assert _ids(owner.get_acls(p)[0]) == [(31, "digest", make_digest_acl_credential("bob",
                                                                                    "pw"))]
    with pytest.raises(NoAuthError):
        clients(zk).get(p)


def test_ip_acl_matches_the_source_address(zk, client: KazooClient, base: str) -> None:
    p = f"{base}/ip"
    client.create(p, b"ip", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.42")),
                                 ACL(Permissions.READ, Id("ip", "10.0.0.0/8"))])
    allowed = raw(zk, source="127.0.0.42")
    denied = raw(zk, source="127.0.0.41")
    try:
        assert allowed.get(p).body.data == b"ip"
        assert denied.get(p).err == Err.NOAUTH
        assert denied.exists(p).err == 0
        assert allowed.set(p, b"x").err == 0
        who = allowed.call(Op.WHO_AM_I)
        assert [(ci.authScheme, ci.user) for ci in who.body.clientInfo] == [("ip", "127.0.0.42")]
    finally:
        allowed.close()
        denied.close()
    client.create(f"{base}/mask", b"m", acl=[ACL(Permissions.READ, Id("ip", "127.0.0.0/8"))])
    assert client.get(f"{base}/mask")[0] == b"m"


def test_world_read_only_node_refuses_writes(client: KazooClient, base: str) -> None:
    p = f"{base}/ro"
    client.create(p, b"r", acl=READ_ACL_UNSAFE)
    assert client.get(p)[0] == b"r"
    for call in (lambda: client.set(p, b"x"), lambda: client.create(f"{p}/c"),
                 lambda: client.set_acls(p, OPEN_ACL_UNSAFE)):
        with pytest.raises(NoAuthError):
            call()
    # Deleting a child needs DELETE on the parent, not on the node itself.
    client.delete(p)


def test_super_digest_bypasses_acls(zk_factory, clients) -> None:
    digest = base64.b64encode(hashlib.sha1(b"super:letmein").digest()).decode()
    srv = zk_factory(**{"DigestAuthenticationProvider.superDigest": f"super:{digest}"})
    owner = clients(srv, auth_data=[("digest", "carol:pw")])
    owner.create("/locked", b"l", acl=[make_digest_acl("carol", "pw", all=True)])
    su = clients(srv, auth_data=[("digest", "super:letmein")])
    assert su.get("/locked")[0] == b"l"
    su.set("/locked", b"changed")
    assert _ids(su.get_acls("/locked")[0]) == [
        (31, "digest", make_digest_acl_credential("carol", "pw"))]
    su.set_acls("/locked", OPEN_ACL_UNSAFE)
    assert clients(srv).get("/locked")[0] == b"changed"
    wrong = clients(srv, auth_data=[("digest", "super:nope")])
    su.set_acls("/locked", [make_digest_acl("carol", "pw", all=True)])
    with pytest.raises(NoAuthError):
        wrong.get("/locked")
