"""CRUD through kazoo (and the raw client where kazoo cannot): exact Stat fields, null data,
sequential names, ephemerals, containers, TTL nodes and the /zookeeper system subtree."""

from __future__ import annotations

import time

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from tests.integration.itest_util import raw, wait_for
from tests.integration.rawclient import OPEN_ACL


def test_create_set_delete_keep_stat_zxids_and_versions_consistent(client: KazooClient,
                                                                  base: str) -> None:
    p = f"{base}/node"
    path, st = client.create(p, b"hello", include_data=True)
    assert path == p
    assert st.czxid == st.mzxid == st.pzxid > 0
    assert st.ctime == st.mtime > 0
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert (st.ephemeralOwner, st.dataLength, st.numChildren) == (0, 5, 0)
    assert client.exists(p) == st

    st2 = client.set(p, b"hi", version=0)
    assert st2.czxid == st.czxid and st2.pzxid == st.pzxid
    assert st2.mzxid > st.mzxid and st2.mtime >= st.mtime and st2.ctime == st.ctime
    assert (st2.version, st2.dataLength) == (1, 2)

    _, cst = client.create(f"{p}/c", b"", include_data=True)
    pst = client.exists(p)
    assert pst.cversion == 1 and pst.numChildren == 1
    assert pst.pzxid == cst.czxid and pst.mzxid == st2.mzxid and pst.version == 1

    client.delete(f"{p}/c", version=0)
    pst2 = client.exists(p)
    assert pst2.cversion == 2 and pst2.numChildren == 0 and pst2.pzxid > cst.czxid
    assert pst2.mzxid == st2.mzxid

    ast = client.set_acls(p, READ_ACL_UNSAFE + OPEN_ACL_UNSAFE, version=0)
    assert ast.aversion == 1 and ast.version == 1 and ast.mzxid == st2.mzxid
    client.delete(p, version=1)
    assert client.exists(p) is None


def test_get_children2_returns_parent_stat(client: KazooClient, base: str) -> None:
    for name in ("b", "a", "c"):
        client.create(f"{base}/{name}")
    kids, st = client.get_children(base, include_data=True)
    assert sorted(kids) == ["a", "b", "c"]
    assert st == client.exists(base) and st.numChildren == 3 and st.cversion == 3


def test_null_data_round_trips_as_null_with_zero_length(client: KazooClient, base: str,
                                                        zk) -> None:
    client.create(f"{base}/null", None)
    data, st = client.get(f"{base}/null")
    assert data is None and st.dataLength == 0
    client.set(f"{base}/null", b"")
    data, st = client.get(f"{base}/null")
    assert data == b"" and st.dataLength == 0 and st.version == 1
    c = raw(zk)
    try:
        rep = c.set(f"{base}/null", None)
        assert rep.err == 0 and rep.body.stat.version == 2
        assert c.get(f"{base}/null").body.data is None
    finally:
        c.close()


def test_sequential_suffix_is_parent_cversion_padded_to_ten_digits(client: KazooClient,
                                                                    base: str) -> None:
    assert client.create(f"{base}/s-", sequence=True) == f"{base}/s-0000000000"
    client.create(f"{base}/plain")
    client.delete(f"{base}/plain")
    # The suffix is the parent's stored cversion, which counts child creates only; the Stat a
    # client sees reports 2*cversion - numChildren (DataNode.copyStat), i.e. creates + deletes.
    assert client.exists(base).cversion == 3
    assert client.create(f"{base}/s-", sequence=True) == f"{base}/s-0000000002"
    assert client.exists(base).cversion == 4
    assert client.create(f"{base}/", sequence=True) == f"{base}/0000000003"
    eph = client.create(f"{base}/e-", ephemeral=True, sequence=True)
    assert eph == f"{base}/e-0000000004"


def test_ephemeral_owner_is_session_and_node_goes_with_session(zk, clients, base: str) -> None:
    a = clients(zk)
    b = clients(zk)
    p = f"{base}/eph"
    a.create(p, b"x", ephemeral=True)
    st = b.exists(p)
    assert st.ephemeralOwner == a.client_id[0]
    assert b.get_children(base) == ["eph"]
    ca = raw(zk)
    try:
        # getEphemerals lists only the caller's session's ephemerals.
        assert ca.call(Op.GET_EPHEMERALS, r.GetEphemeralsRequest(base)).body.ephemerals == []
        ca.create(f"{base}/r1", b"", flags=1)
        ca.create(f"{base}/r2", b"", flags=1)
        rep = ca.call(Op.GET_EPHEMERALS, r.GetEphemeralsRequest(f"{base}/r"))
        assert rep.err == 0 and sorted(rep.body.ephemerals) == [f"{base}/r1", f"{base}/r2"]
    finally:
        ca.close_session()
    a.stop()
    assert b.exists(p) is None
    assert b.get_children(base) == []


def test_container_is_removed_after_its_last_child_goes(zk_factory, clients) -> None:
    srv = zk_factory(**{"znode.container.checkIntervalMs": "100"})
    k = clients(srv)
    c = raw(srv)
    try:
        rep = c.create("/cont", b"c", flags=4, op=Op.CREATE_CONTAINER)
        assert rep.err == 0 and rep.body.path == "/cont"
        # Clients see ephemeralOwner 0 for containers (DataNode.getClientEphemeralOwner).
        assert rep.body.stat.ephemeralOwner == 0
        assert c.create("/never", b"", flags=4, op=Op.CREATE_CONTAINER).err == 0
        k.create("/cont/child")
        k.delete("/cont/child")
        wait_for(lambda: k.exists("/cont") is None, 10, "container removal")
        # A container that never had a child stays (maxNeverUsedIntervalMs defaults to 0).
        assert k.exists("/never") is not None
    finally:
        c.close()


def test_never_used_container_is_removed_after_max_never_used_interval(zk_factory, clients) -> None:
    # ContainerManager.getCandidates: a childless container with cversion 0 goes once its
    # mtime is older than znode.container.maxNeverUsedIntervalMs (a JVM property in Java).
    srv = zk_factory(**{"znode.container.checkIntervalMs": "100",
                        "znode.container.maxNeverUsedIntervalMs": "1500"})
    k = clients(srv)
    c = raw(srv)
    try:
        assert c.create("/busy", b"", flags=4, op=Op.CREATE_CONTAINER).err == 0
        k.create("/busy/child")
        t0 = time.monotonic()
        assert c.create("/never", b"", flags=4, op=Op.CREATE_CONTAINER).err == 0
        assert k.exists("/never") is not None  # well inside its 1.5 s
        wait_for(lambda: k.exists("/never") is None, 15, "never-used container removal")
        assert time.monotonic() - t0 > 1.4
        assert k.exists("/busy/child") is not None  # a container in use stays
    finally:
        c.close()


def test_ttl_node_needs_extended_types_and_expires(zk, zk_factory, clients) -> None:
    c = raw(zk)
    try:
        rep = c.create("/ttl-disabled", b"", flags=5, op=Op.CREATE_TTL, ttl=100)
        assert rep.err == Err.UNIMPLEMENTED
    finally:
        c.close()
    srv = zk_factory(**{"extendedTypesEnabled": "true",
                        "znode.container.checkIntervalMs": "100"})
    k = clients(srv)
    c = raw(srv)
    try:
        assert c.create("/t0", b"", flags=5, op=Op.CREATE_TTL, ttl=0).err == Err.BADARGUMENTS
        assert c.create("/tb", b"", flags=5, op=Op.CREATE_TTL,
                        ttl=1 << 40).err == Err.BADARGUMENTS
        assert c.create("/tf", b"", flags=0, op=Op.CREATE_TTL, ttl=100).err == Err.BADARGUMENTS
        # A TTL mode through plain create2 is refused: the ttl field is missing.
        assert c.create("/tc", b"", flags=5).err == Err.BADARGUMENTS
        rep = c.create("/ttl", b"x", flags=5, op=Op.CREATE_TTL, ttl=200)
        assert rep.err == 0 and rep.body.stat.ephemeralOwner == 0
        rep = c.create("/tseq-", b"x", flags=6, op=Op.CREATE_TTL, ttl=60_000)
        assert rep.err == 0 and rep.body.path.startswith("/tseq-00000000")
        wait_for(lambda: k.exists("/ttl") is None, 10, "ttl expiry")
        assert k.exists(rep.body.path) is not None
    finally:
        c.close()


def test_system_subtree_contents(client: KazooClient, zk) -> None:
    assert sorted(client.get_children("/zookeeper")) == ["config", "quota"]
    data, st = client.get("/zookeeper/config")
    assert data == b"" and st.czxid == 0 and st.aversion == -1 and st.dataLength == 0
    acl, _ = client.get_acls("/zookeeper/config")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(1, "world", "anyone")]
    data, st = client.get("/zookeeper/quota")
    assert data == b"" and st.czxid == 0 and (st.version, st.aversion) == (0, 0)
    acl, _ = client.get_acls("/zookeeper/quota")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(31, "world", "anyone")]
    st = client.exists("/zookeeper")
    assert st.czxid == 0 and st.numChildren == 2 and st.cversion == -2
    assert client.exists("/").czxid == 0
    c = raw(zk)
    try:
        # The system nodes cannot be deleted; /zookeeper/config is read-only for world.
        assert c.delete("/zookeeper/quota").err == Err.BADARGUMENTS
        assert c.delete("/zookeeper").err == Err.BADARGUMENTS
        assert c.set("/zookeeper/config", b"x").err == Err.NOAUTH
    finally:
        c.close()


def test_get_all_children_number_counts_the_subtree(client: KazooClient, base: str,
                                                    zk) -> None:
    client.create(f"{base}/a/b/c", makepath=True)
    client.create(f"{base}/d")
    c = raw(zk)
    try:
        rep = c.call(Op.GET_ALL_CHILDREN_NUMBER, r.GetAllChildrenNumberRequest(base))
        assert rep.err == 0 and rep.body.totalNumber == 4
        rep = c.call(Op.GET_ALL_CHILDREN_NUMBER, r.GetAllChildrenNumberRequest(f"{base}/x"))
        assert rep.err == Err.NONODE
    finally:
        c.close()


def test_kazoo_missing_node_raises_no_node(client: KazooClient, base: str) -> None:
    try:
        client.get(f"{base}/missing")
    except NoNodeError:
        pass
    else:
        raise AssertionError("expected NoNodeError")
    assert OPEN_ACL[0].perms == 31
