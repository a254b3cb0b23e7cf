"""ObserverMasterCore: a follower syncing observers (DIFF, TRUNC, SNAP) from its own data,
relaying commits as INFORM, requests, revalidations and syncs, pings and read timeouts;
and a pyzk observer's LearnerCore synced by it end to end."""

from __future__ import annotations

from typing import Any

from pyzk.protocol import records as r
from pyzk.zab import learner as LN
from pyzk.zab import observer_master as OM
from pyzk.zab import packets as P
from pyzk.zab.leader import Close, SendSnap, SendTo, Touch
from pyzk.zab.packets import PT, packet
from pyzk.zab.zxid import make_zxid as z


def _data(zxid: int) -> bytes:
    return P.encode_txn(r.TxnHeader(1, 1, zxid, 0, 5), r.SetDataTxn("/a", b"v", 0))


class _Db:
    """The follower's tree position and committed window, as the host hands them over."""

    def __init__(self, last: int, window: list[int]) -> None:
        self.last = last
        self.window = [(x, _data(x)) for x in window]

    def state(self) -> tuple[int, list[tuple[int, bytes]]]:
        return self.last, list(self.window)

    def commit(self, zxid: int) -> bytes:
        self.last = zxid
        self.window.append((zxid, _data(zxid)))
        return self.window[-1][1]


def _core(db: _Db, **kw: Any) -> OM.ObserverMasterCore:
    return OM.ObserverMasterCore(2, 1, 0, b"server.1=...", db.state, tick_ms=100,
                                 init_limit=5, sync_limit=2, **kw)


def _sent(acts: list[Any], conn: Any = "o4") -> list[tuple[str, int]]:
    return [(PT(a.qp.type).name, a.qp.zxid) for a in acts
            if isinstance(a, SendTo) and a.conn == conn]


def _attach(om: OM.ObserverMasterCore, peer_last: int, conn: str = "o4",
            sid: int = 4) -> list[Any]:
    acts = om.on_packet(conn, packet(PT.OBSERVERINFO, z(1, 0), P.encode_learner_info(sid, 0)), 0)
    acts += om.on_packet(conn, packet(PT.ACKEPOCH, peer_last, P.encode_int(1)), 0)
    return acts


def test_observer_close_to_the_follower_gets_a_diff_then_newleader_and_uptodate() -> None:
    om = _core(_Db(z(1, 3), [z(1, 1), z(1, 2), z(1, 3)]))
    acts = _attach(om, z(1, 1))
    assert _sent(acts) == [("LEADERINFO", z(1, 0)), ("DIFF", z(1, 3)),
                           ("PROPOSAL", z(1, 2)), ("COMMIT", z(1, 2)),
                           ("PROPOSAL", z(1, 3)), ("COMMIT", z(1, 3)), ("NEWLEADER", z(1, 0))]
    assert _sent(om.on_packet("o4", packet(PT.ACK, z(1, 0)), 1)) == [("UPTODATE", -1)]
    assert om.synced() == [("o4", 4)]


def test_observer_far_behind_gets_a_snap_and_one_ahead_a_trunc() -> None:
    db = _Db(z(1, 9), [z(1, 8), z(1, 9)])
    acts = _attach(_core(db), z(1, 2))
    assert SendSnap("o4", z(1, 9)) in acts
    assert _sent(acts)[-1] == ("NEWLEADER", z(1, 0))
    acts = _attach(_core(db), z(1, 12), conn="o5", sid=5)
    assert _sent(acts, "o5")[1] == ("TRUNC", z(1, 9))


def test_only_observers_may_attach() -> None:
    om = _core(_Db(0, []))
    acts = om.on_packet("f3", packet(PT.FOLLOWERINFO, 0, P.encode_learner_info(3, 0)), 0)
    assert [type(a) for a in acts] == [Close]


def test_commits_go_to_observers_as_inform_in_order_and_pings_carry_the_last() -> None:
    db = _Db(z(1, 1), [z(1, 1)])
    om = _core(db)
    _attach(om, z(1, 1))
    # Commits between NEWLEADER and its ACK already flow (startForwarding came first).
    acts = om.committed(z(1, 2), db.commit(z(1, 2)))
    om.on_packet("o4", packet(PT.ACK, z(1, 0)), 1)
    acts += om.committed(z(1, 3), db.commit(z(1, 3)), designated=1)
    assert _sent(acts) == [("INFORM", z(1, 2)), ("INFORMANDACTIVATE", z(1, 3))]
    assert P.decode_inform_and_activate(acts[-1].qp.data) == (1, db.window[-1][1])
    assert _sent(om.on_tick(50)) == [("PING", z(1, 3))]


def test_requests_revalidations_and_syncs_are_relayed_through_the_follower() -> None:
    om = _core(_Db(0, []))
    _attach(om, 0)
    om.on_packet("o4", packet(PT.ACK, z(1, 0)), 1)
    create = packet(PT.REQUEST, -1, P.encode_request(7, 1, 1, b"body"))
    sync = packet(PT.REQUEST, -1, P.encode_request(7, 2, 9, b""))
    assert om.on_packet("o4", create, 2) == [OM.ToLeader(create, None)]
    assert om.on_packet("o4", sync, 2) == [OM.ToLeader(sync, "o4")]
    assert _sent(om.sync_done("o4")) == [("SYNC", 0)]
    reval = packet(PT.REVALIDATE, -1, P.encode_revalidate(7, 4000))
    assert om.on_packet("o4", reval, 3) == [OM.ToLeader(reval, None)]
    assert om.revalidated(8, True) is None  # the follower's own client's answer
    acts = om.revalidated(7, True)
    assert acts is not None and _sent(acts) == [("REVALIDATE", -1)] and Touch(7, 4000) in acts
    ping = packet(PT.PING, 0, P.encode_touches([(7, 4000)]))
    assert om.on_packet("o4", ping, 4) == [Touch(7, 4000)]


def test_silent_observer_times_out_and_stop_drops_everyone() -> None:
    om = _core(_Db(0, []))
    _attach(om, 0)
    om.on_packet("o4", packet(PT.ACK, z(1, 0)), 0)
    assert not any(isinstance(a, Close) for a in om.on_tick(199))
    assert Close("o4", "Read timed out") in om.on_tick(200)
    _attach(om, 0, conn="o5", sid=5)
    assert [type(a) for a in om.stop()] == [Close]
    assert [type(a) for a in om.on_packet("o6", packet(PT.OBSERVERINFO, 0), 0)] == [Close]


def test_a_pyzk_observer_syncs_from_the_observer_master_and_applies_informs() -> None:
    db = _Db(z(1, 3), [z(1, 1), z(1, 2), z(1, 3)])
    om = _core(db)
    ob = LN.LearnerCore(4, True, 1, 1, z(1, 1), tick_ms=100, init_limit=5, sync_limit=2,
                        touches=lambda: [])
    to_om = [a.qp for a in ob.connected(0) if isinstance(a, LN.Send)]
    applied: list[int] = []
    for _ in range(6):  # a few round trips settle the handshake
        to_ob = [a.qp for qp in to_om for a in om.on_packet("o4", qp, 1)
                 if isinstance(a, SendTo)]
        to_om = []
        for qp in to_ob:
            for a in ob.on_packet(qp, 1):
                if isinstance(a, LN.Send):
                    to_om.append(a.qp)
                elif isinstance(a, LN.Persist):
                    to_om += [x.qp for x in ob.persisted(a.seq) if isinstance(x, LN.Send)]
                elif isinstance(a, LN.Apply):
                    applied.append(a.entry.zxid)
    assert om.synced() == [("o4", 4)] and ob.state is LN.LearnerState.BROADCAST
    for a in om.committed(z(1, 4), db.commit(z(1, 4))):
        applied += [x.entry.zxid for x in ob.on_packet(a.qp, 2) if isinstance(x, LN.Apply)]
    assert applied == [z(1, 2), z(1, 3), z(1, 4)]
