"""Read-only mode (readonlymode.enabled=true), as ReadOnlyZooKeeperServer: a member that has
lost its quorum serves read-only clients after a grace period (reads answered, writes
NOTREADONLY, isro "ro"), refuses other clients and global sessions, and goes back to normal
service, ending its read-only sessions, when the quorum returns. Each test runs against a
3-member Java ZooKeeper ensemble and a pyzk one."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.protocol.states import KeeperState

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.multi import encode_multi_request
from pyzk.protocol.opcodes import Op
from tests.ensemble.launcher import Ensemble, JavaMember, four_letter, wait_for
from tests.integration.rawclient import OPEN_ACL, ConnectionClosed, RawClient

HOSTS = ["127.0.0.181", "127.0.0.182", "127.0.0.183"]
HOSTS_NO_LOCAL = ["127.0.0.184", "127.0.0.185", "127.0.0.186"]
RO = {"readonlymode.enabled": "true"}
# As kazoo's harness configures TestReadOnlyMode (ZOOKEEPER_LOCAL_SESSION_RO=true).
LOCAL = {"localSessionsEnabled": "true", "localSessionsUpgradingEnabled": "true"}


def ensemble(make_ensemble, kind: str, hosts: list[str],  # type: ignore[no-untyped-def]
             extra: dict[str, str]) -> Ensemble:
    ens: Ensemble = make_ensemble(hosts, extra=extra)
    if kind == "java":
        for sid, m in list(ens.members.items()):
            ens.members[sid] = JavaMember(m.sid, m.host, m.workdir, m.cfg)
    ens.start(60)
    return ens


def isro(host: str) -> str:
    return four_letter(host, "isro")


def refused(host: str, **connect: object) -> bool:
    """True when the member closes the connection instead of answering the handshake."""
    c = RawClient(host, 2181, timeout=5.0)
    try:
        c.connect(**connect)  # type: ignore[arg-type]
    except ConnectionClosed:
        return True
    finally:
        c.close()
    return False


def expired(host: str, session: object) -> bool:
    """True when the member answers a re-attach with timeOut 0 (session expired)."""
    c = RawClient(host, 2181, timeout=5.0)
    try:
        return c.connect(session_id=session.sessionId, passwd=session.passwd,  # type: ignore[attr-defined]
                         read_only=True).timeOut == 0
    finally:
        c.close()


def lose_quorum(ens: Ensemble) -> tuple[int, list[int]]:
    """Stop every member but one follower; wait until it serves read-only."""
    survivor = ens.followers()[0]
    others = [s for s in ens.members if s != survivor]
    for s in others:
        ens.members[s].stop()
    host = ens.members[survivor].host
    wait_for(lambda: isro(host) == "ro", 20, "the survivor to serve read-only")
    return survivor, others


def test_member_without_quorum_serves_read_only_clients_until_the_quorum_returns(
        make_ensemble, server_kind: str) -> None:  # type: ignore[no-untyped-def]
    ens = ensemble(make_ensemble, server_kind, HOSTS, {**RO, **LOCAL})
    survivor_id = ens.followers()[0]
    host = ens.members[survivor_id].host
    assert isro(host) == "rw"
    rw = KazooClient(hosts=f"{host}:2181", timeout=6.0)
    rw.start(timeout=15)
    rw.create("/ro", b"data")
    rw.create("/ro/child", b"")
    rw.sync("/ro")
    rw.stop()
    rw.close()
    # With local sessions, a session is replicated (global) once it creates an ephemeral.
    plain = RawClient(host, 2181)
    local_session = plain.connect(timeout_ms=30000, read_only=True)
    assert local_session.readOnly is False  # a normal member says rw even to an RO client
    plain.close()
    up = RawClient(host, 2181)
    upgraded = up.connect(timeout_ms=30000, read_only=True)
    assert up.create("/ro/eph", flags=1).err == 0  # EPHEMERAL

    survivor, others = lose_quorum(ens)
    assert survivor == survivor_id
    assert "Mode: read-only" in four_letter(host, "srvr")

    # A read-only client gets a local session and the readOnly flag.
    c = RawClient(host, 2181)
    s = c.connect(timeout_ms=30000, read_only=True)
    assert s.readOnly is True and s.sessionId != 0 and s.timeOut == 4000  # maxSessionTimeout
    got = c.call(Op.GET_DATA, r.GetDataRequest("/ro", False))
    assert got.err == 0 and got.body.data == b"data"
    children = c.call(Op.GET_CHILDREN, r.GetChildrenRequest("/ro", False)).body.children
    assert sorted(children) == ["child", "eph"]
    # State changes (and sync: there is no leader) are answered NOTREADONLY, in order.
    multi = bytearray()
    encode_multi_request([(Op.DELETE, r.DeleteRequest("/ro/child", -1))], multi)
    writes = [(Op.CREATE, r.CreateRequest("/ro/x", b"", OPEN_ACL, 0)),
              (Op.SET_DATA, r.SetDataRequest("/ro", b"v", -1)),
              (Op.DELETE, r.DeleteRequest("/ro/child", -1)),
              (Op.SET_ACL, r.SetACLRequest("/ro", OPEN_ACL, -1)),
              (Op.SYNC, r.SyncRequest("/ro")),
              (Op.MULTI, multi)]
    for op, rec in writes:
        rep = c.call(op, rec)
        assert rep.err == Err.NOTREADONLY, (op, rep)
    xids = [c.send_request(Op.EXISTS, r.ExistsRequest("/ro", False)),
            c.send_request(Op.CREATE, r.CreateRequest("/ro/y", b"", OPEN_ACL, 0)),
            c.send_request(Op.EXISTS, r.ExistsRequest("/ro", False))]
    replies = [c.read_reply(Op.EXISTS, xids[0]), c.read_reply(Op.CREATE, xids[1]),
               c.read_reply(Op.EXISTS, xids[2])]
    assert [(p.xid, p.err) for p in replies] == [(xids[0], 0), (xids[1], Err.NOTREADONLY),
                                                 (xids[2], 0)]

    # Clients that did not ask for read-only, and global sessions, are refused (closed);
    # a session local to the old role is unknown here (expired).
    assert refused(host, read_only=False)
    assert refused(host, read_only=None)  # an old client sends no readOnly flag at all
    assert refused(host, session_id=upgraded.sessionId, passwd=upgraded.passwd, read_only=True)
    assert expired(host, local_session)
    up.close()
    # A local session can re-attach here with its password.
    again = RawClient(host, 2181)
    back = again.connect(session_id=s.sessionId, passwd=s.passwd, read_only=True)
    assert back.sessionId == s.sessionId and back.readOnly is True
    assert c.is_closed_by_server(5)  # the previous connection of that session
    assert again.call(Op.EXISTS, r.ExistsRequest("/ro", False)).err == 0

    # kazoo in read-only mode: CONNECTED_RO, reads work, writes raise NotReadOnlyCallError.
    k = KazooClient(hosts=f"{host}:2181", read_only=True, timeout=6.0)
    states: list[str] = []
    k.add_listener(lambda state: states.append(state))
    k.start(timeout=15)
    assert k.client_state == KeeperState.CONNECTED_RO
    assert k.get("/ro")[0] == b"data"
    with pytest.raises(NotReadOnlyCallError):
        k.create("/ro/z")

    # Quorum back: the member rejoins, its read-only connections are closed, isro says rw.
    ens.members[others[0]].start()
    ens.wait_serving(30, members=[survivor, others[0]])
    assert isro(host) == "rw"
    again.close()
    # The local session does not survive into the quorum (the leader does not know it).
    late = RawClient(host, 2181)
    assert late.connect(session_id=s.sessionId, passwd=s.passwd, read_only=True).timeOut == 0
    late.close()
    # kazoo's read-only session expires there; it makes a new one and can write again.
    wait_for(lambda: k.client_state == KeeperState.CONNECTED, 30, "kazoo to reconnect rw")
    assert "SUSPENDED" in states  # its read-only connection was closed
    k.create("/ro/after", b"")
    assert k.get("/ro")[0] == b"data"
    k.stop()
    k.close()


def test_read_only_member_refuses_new_sessions_without_local_sessions(
        make_ensemble, server_kind: str) -> None:  # type: ignore[no-untyped-def]
    ens = ensemble(make_ensemble, server_kind, HOSTS_NO_LOCAL, RO)
    host = ens.members[ens.followers()[0]].host
    g = RawClient(host, 2181)
    global_session = g.connect(timeout_ms=30000, read_only=True)
    g.close()
    survivor, _ = lose_quorum(ens)
    assert ens.members[survivor].host == host
    # Without local sessions every session is global: it cannot re-attach here.
    assert refused(host, session_id=global_session.sessionId, passwd=global_session.passwd,
                   read_only=True)
    # ReadOnlyRequestProcessor answers the global createSession NOTREADONLY: a reply header
    # arrives where the ConnectResponse was expected (ZOOKEEPER-3863).
    c = RawClient(host, 2181)
    req = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, 30000, 0, b"\0" * 16)) + b"\x01"
    c.send_frame(req)
    frame = c.read_frame()
    hdr, off = r.ReplyHeader.decode(frame, 0)
    assert (hdr.xid, hdr.err, off, len(frame)) == (0, Err.NOTREADONLY, 16, 16)
    c.close()


def test_read_only_local_session_expires_on_the_member(
        make_ensemble, server_kind: str) -> None:  # type: ignore[no-untyped-def]
    ens = ensemble(make_ensemble, server_kind, HOSTS, {**RO, **LOCAL})
    survivor, _ = lose_quorum(ens)
    host = ens.members[survivor].host
    c = RawClient(host, 2181)
    s = c.connect(timeout_ms=1000, read_only=True)  # minSessionTimeout=1000
    assert s.readOnly is True and s.timeOut == 1000
    assert c.is_closed_by_server(10), "an idle local session did not expire"
    late = RawClient(host, 2181)
    assert late.connect(session_id=s.sessionId, passwd=s.passwd, read_only=True).timeOut == 0
    late.close()
