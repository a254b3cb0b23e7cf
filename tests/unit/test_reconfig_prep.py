"""The reconfig branch of PrepRequestProcessor (release-3.8.4) as pyzk.zab.reconfig and Prep run
it: Java's check order and error codes, the next config's text and version, the dynamic-file
text, and the leader core's COMMITANDACTIVATE needing a quorum of both configs."""

from __future__ import annotations

from typing import Any

import pytest

from pyzk.config.servers import parse_server
from pyzk.pipeline.prep import Prep, PrepSettings
from pyzk.pipeline.request import Request
from pyzk.protocol import records as r
from pyzk.protocol.codes import Err, KeeperError
from pyzk.protocol.opcodes import Op
from pyzk.tree.datatree import DataTree
from pyzk.zab import leader as L
from pyzk.zab import reconfig
from pyzk.zab.packets import PT, packet
from pyzk.zab.quorum import QuorumMaj

H = "127.0.6.1"
SERVERS = {i: parse_server(i, f"127.0.6.{i}:2888:3888") for i in (1, 2, 3)}
SUPER = [r.Id("super", "")]
ZXID = 0x100000005


def _rec(joining: str | None = None, leaving: str | None = None,
         members: str | None = None, cfg: int = -1) -> Any:
    return r.ReconfigRequest(joining, leaving, members, cfg)


class _Ctx:
    def __init__(self, version: int = 0x100000000, synced: bool = True,
                 last_seen: int | None = None) -> None:
        self.qv = QuorumMaj(SERVERS, version)
        self.last = QuorumMaj(SERVERS, version if last_seen is None else last_seen)
        self.synced = synced

    def prepare(self, rec: Any, zxid: int) -> QuorumMaj:
        return reconfig.prepare(rec, zxid, self.qv.version, self.last, True,
                                lambda qv: self.synced)


def _prep(rec: Any, auth: list[Any], ctx: Any = None, enabled: bool = True) -> tuple[Any, Any]:
    p = Prep(DataTree(), PrepSettings(reconfig_enabled=enabled))
    p.reconfig = ctx
    return p.prep(Request(1, 1, Op.RECONFIG, rec, auth, None), ZXID, 0)


def _err(rec: Any, auth: list[Any] | None = None, ctx: Any = None) -> int:
    hdr, txn = _prep(rec, SUPER if auth is None else auth, ctx or _Ctx())
    assert hdr.type == Op.ERROR
    return int(txn.err)


def test_disabled_then_standalone_unimplemented() -> None:
    assert int(_prep(_rec("x"), SUPER, None, enabled=False)[1].err) == Err.RECONFIGDISABLED
    assert int(_prep(_rec("x"), SUPER, None)[1].err) == Err.UNIMPLEMENTED


def test_checks_in_java_order_bad_input_before_acl_acl_last() -> None:
    ok_observer = "server.999=0.0.0.0:1234:2345:observer;3456"
    assert _err(_rec(ok_observer), auth=[]) == Err.NOAUTH  # kazoo test_no_super_auth
    assert _err(_rec("some thing"), auth=[]) == Err.BADARGUMENTS  # kazoo test_bad_input
    assert _err(_rec(ok_observer), ctx=_Ctx(last_seen=0x100000009)) == Err.RECONFIGINPROGRESS
    assert _err(_rec(ok_observer, cfg=0x100000001)) == Err.BADVERSION
    assert _err(_rec(ok_observer), ctx=_Ctx(synced=False)) == Err.NEWCONFIGNOQUORUM


@pytest.mark.parametrize("rec, code", [
    (_rec("server.4=127.0.6.4:1:2"), Err.BADARGUMENTS),         # no client port
    (_rec("server.4=127.0.6.4:1:1;5"), Err.BADARGUMENTS),       # same quorum/election port
    (_rec("server.4=a=b"), Err.BADARGUMENTS),                    # three '=' pieces
    (_rec("server.x=127.0.6.4:1:2;3"), Err.MARSHALLINGERROR),   # Long.parseLong
    (_rec(None, "two"), Err.MARSHALLINGERROR),                   # Long.parseLong
    (_rec(None, "2,3"), Err.BADARGUMENTS),                       # fewer than 2 voters
    (_rec(members="server.1=127.0.6.1:2888:3888,foo=bar"), Err.BADARGUMENTS),
    (_rec(members="server.1=127.0.6.1:2888:3888:observer"), Err.MARSHALLINGERROR),
])
def test_bad_requests_get_javas_codes(rec: Any, code: Err) -> None:
    assert _err(rec) == code


def test_incremental_txn_is_setdata_of_new_config_versioned_by_zxid() -> None:
    joiner = "server.100=0.0.0.0:1:2:observer;0.0.0.0:3"
    hdr, txn = _prep(_rec(f" {joiner} ,", "2"), SUPER, _Ctx())
    assert hdr.type == Op.RECONFIG
    assert txn == r.SetDataTxn("/zookeeper/config", (
        "server.1=127.0.6.1:2888:3888:participant\nserver.3=127.0.6.3:2888:3888:participant\n"
        f"{joiner}\nversion=100000005").encode(), -1)


def test_non_incremental_replaces_membership() -> None:
    members = ",".join(f"server.{i}=127.0.6.{i}:2888:3888;127.0.6.{i}:2181" for i in (1, 2))
    _, txn = _prep(_rec(members=members), SUPER, _Ctx())
    qv = reconfig.config_from_string(txn.data.decode())
    assert sorted(qv.voting_members) == [1, 2] and qv.version == ZXID


def test_dynamic_file_text_sorted_like_java() -> None:
    qv = reconfig.config_from_string("server.1=h:1:2:participant\nserver.100=h:3:4:observer;"
                                     "0.0.0.0:5\nversion=10")
    assert reconfig.dynamic_file_text(qv, False) == (
        "server.100=h:3:4:observer;0.0.0.0:5\nserver.1=h:1:2:participant")
    assert reconfig.dynamic_file_text(qv, True).endswith("\nversion=10")
    static = "tickTime=2000\nserver.1=h:1:2\nclientPort=2181\n"
    assert reconfig.edited_static_config(static, "/d/zoo.cfg.dynamic.10", True) == (
        "tickTime=2000\ndynamicConfigFile=/d/zoo.cfg.dynamic.10\n")


def _established_leader() -> tuple[L.LeaderCore, dict[int, str]]:
    core = L.LeaderCore(1, {1, 2, 3}, set(), 0, 0, 0, [], tick_ms=100)
    core.start(0)
    conns = {2: "c2", 3: "c3"}
    for sid, conn in conns.items():
        core.on_packet(conn, packet(PT.FOLLOWERINFO, 0, sid.to_bytes(8, "big")
                                    + (0x10000).to_bytes(4, "big") + (0).to_bytes(8, "big")), 0)
        core.on_packet(conn, packet(PT.ACKEPOCH, 0, (0).to_bytes(4, "big")), 0)
        core.on_packet(conn, packet(PT.ACK, core.new_leader_zxid), 0)
    assert core.phase == "broadcast"
    return core, conns


def test_reconfig_commits_with_both_quorums_and_sends_commitandactivate() -> None:
    core, conns = _established_leader()
    zxid = core.next_zxid()
    hdr = r.TxnHeader(1, 1, zxid, 0, Op.RECONFIG)
    txn = r.SetDataTxn("/zookeeper/config", b"server.1=x\nversion=1", -1)
    core.propose(hdr, txn, None, 0, reconfig=({1, 4, 5}, True))
    core.persisted(core.persist_seq)
    out = core.on_packet("c2", packet(PT.ACK, zxid), 0)
    # {1, 2} is a quorum of the old config but not of the new one {1, 4, 5}
    assert not any(isinstance(a, L.ApplyCommitted) for a in out)
    assert not core.is_quorum_synced({1, 4, 5}) and core.is_quorum_synced({1, 2, 4})
    core.next_voters = {1, 2, 4}  # as if the new config were {1, 2, 4}
    core.outstanding[zxid].quorums[-1] = {1, 2, 4}
    core.outstanding[zxid].reconfig = ({1, 2, 4}, True)
    out = core.on_packet("c3", packet(PT.ACK, zxid), 0)
    acts = [a for a in out if isinstance(a, L.CommitReconfig)]
    assert acts == [L.CommitReconfig(zxid, 1, txn.data)]
    sends = [a.qp for a in out if isinstance(a, L.SendTo)]
    assert {qp.type for qp in sends} == {PT.COMMITANDACTIVATE}
    assert sends[0].data == (1).to_bytes(8, "big")
    assert core.voters == {1, 2, 4} and core.config_version == zxid


def test_keeper_errors_are_keeper_errors() -> None:
    with pytest.raises(KeeperError):
        reconfig.prepare(_rec("bad"), ZXID, 0, QuorumMaj(SERVERS), True, lambda qv: True)
