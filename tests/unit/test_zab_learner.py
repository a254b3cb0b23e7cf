"""LearnerCore: epoch acceptance, DIFF/TRUNC/SNAP sync, persist-before-ack, broadcast."""

from __future__ import annotations

from typing import Any

from pyzk.protocol import records as r
from pyzk.storage.snapshot import Snapshot
from pyzk.zab import learner as LN
from pyzk.zab import packets as P
from pyzk.zab.packets import PT, packet
from pyzk.zab.zxid import make_zxid as z


def _sent(acts: list[Any]) -> list[tuple[str, int]]:
    return [(PT(a.qp.type).name, a.qp.zxid) for a in acts if isinstance(a, LN.Send)]


def _prop(zxid: int, path: str = "/a") -> Any:
    hdr = r.TxnHeader(1, 1, zxid, 0, 5)
    return packet(PT.PROPOSAL, zxid, P.encode_txn(hdr, r.SetDataTxn(path, b"v", 0)))


def _handshake(observer: bool = False, accepted: int = 1) -> tuple[LN.LearnerCore, list[Any]]:
    ln = LN.LearnerCore(2, observer, accepted, 1, z(1, 3), tick_ms=100, init_limit=5,
                        sync_limit=2, touches=lambda: [(7, 4000)])
    acts = ln.connected(0)
    acts += ln.on_packet(packet(PT.LEADERINFO, z(2, 0), P.encode_int(0x10000)), 1)
    return ln, acts


def test_followerinfo_then_accepted_epoch_is_persisted_before_ackepoch() -> None:
    ln, acts = _handshake()
    assert _sent(acts) == [("FOLLOWERINFO", z(1, 0)), ("ACKEPOCH", z(1, 3))]
    assert acts.index(LN.PersistEpoch("acceptedEpoch", 2)) < len(acts) - 1
    assert P.decode_int(acts[-1].qp.data) == 1  # our currentEpoch


def test_same_epoch_acks_minus_one_and_older_epoch_is_refused() -> None:
    _, acts = _handshake(accepted=2)
    assert P.decode_int(acts[-1].qp.data) == -1
    _, acts = _handshake(accepted=3)
    assert any(isinstance(a, LN.Disconnected) for a in acts)


def test_diff_sync_logs_everything_and_acks_newleader_only_after_persisted() -> None:
    ln, _ = _handshake()
    acts = ln.on_packet(packet(PT.DIFF, z(1, 4)), 2)
    acts += ln.on_packet(_prop(z(1, 4)), 2) + ln.on_packet(packet(PT.COMMIT, z(1, 4)), 2)
    acts += ln.on_packet(_prop(z(2, 1)), 2)  # outstanding, not yet committed
    assert [a for a in acts if isinstance(a, LN.Apply)] == []  # applied once logged
    acts = ln.on_packet(packet(PT.NEWLEADER, z(2, 0), b"cfg"), 3)
    assert [a.entry.zxid for a in acts if isinstance(a, LN.Apply)] == [z(1, 4)]
    (persist,) = [a for a in acts if isinstance(a, LN.Persist)]
    assert [e.zxid for e in persist.entries] == [z(1, 4), z(2, 1)]
    assert persist.current_epoch == 2 and not persist.snapshot
    assert _sent(acts) == []  # nothing promised before it is durable
    assert _sent(ln.persisted(persist.seq)) == [("ACK", z(2, 0)), ("ACK", z(2, 1))]
    acts = ln.on_packet(packet(PT.UPTODATE, -1), 4)
    assert _sent(acts) == [("ACK", z(2, 0))] and LN.StartServing(2) in acts


def test_snap_sync_loads_applies_commits_and_snapshots_at_newleader() -> None:
    ln, _ = _handshake()
    snap = Snapshot([], [], [], None, None, -1)
    acts = ln.on_packet(packet(PT.SNAP, z(1, 9)), 2, snap)
    assert acts == [LN.LoadSnapshot(snap, z(1, 9))]
    acts = ln.on_packet(_prop(z(1, 10)), 2) + ln.on_packet(packet(PT.COMMIT, z(1, 10)), 2)
    assert [a.entry.zxid for a in acts if isinstance(a, LN.Apply)] == [z(1, 10)]
    acts = ln.on_packet(packet(PT.NEWLEADER, z(2, 0), b""), 3)
    (persist,) = [a for a in acts if isinstance(a, LN.Persist)]
    assert persist.snapshot and persist.entries == []


def test_trunc_sync_emits_truncate() -> None:
    ln, _ = _handshake()
    assert ln.on_packet(packet(PT.TRUNC, z(1, 2)), 2) == [LN.Truncate(z(1, 2))]


def _broadcasting(observer: bool = False) -> LN.LearnerCore:
    ln, _ = _handshake(observer)
    ln.on_packet(packet(PT.DIFF, z(1, 3)), 2)
    acts = ln.on_packet(packet(PT.NEWLEADER, z(2, 0), b""), 2)
    ln.persisted(acts[-1].seq)
    ln.on_packet(packet(PT.UPTODATE, -1), 2)
    return ln


def test_follower_acks_proposals_after_persisting_and_applies_commits_in_order() -> None:
    ln = _broadcasting()
    acts = ln.on_packet(_prop(z(2, 1)), 5) + ln.on_packet(_prop(z(2, 2)), 5)
    assert _sent(acts) == []
    seqs = [a.seq for a in acts if isinstance(a, LN.Persist)]
    assert _sent(ln.persisted(seqs[-1])) == [("ACK", z(2, 1)), ("ACK", z(2, 2))]
    acts = ln.on_packet(packet(PT.COMMIT, z(2, 1)), 6) + ln.on_packet(packet(PT.COMMIT, z(2, 2)), 6)
    assert [a.entry.zxid for a in acts if isinstance(a, LN.Apply)] == [z(2, 1), z(2, 2)]


def test_commit_out_of_order_disconnects() -> None:
    ln = _broadcasting()
    ln.on_packet(_prop(z(2, 1)), 5)
    ln.on_packet(_prop(z(2, 2)), 5)
    acts = ln.on_packet(packet(PT.COMMIT, z(2, 2)), 6)
    assert any(isinstance(a, LN.Disconnected) for a in acts)


def test_observer_persists_and_applies_informs() -> None:
    ln = _broadcasting(observer=True)
    acts = ln.on_packet(packet(PT.INFORM, z(2, 1), _prop(z(2, 1)).data), 5)
    assert [type(a).__name__ for a in acts] == ["Persist", "Apply"]
    assert _sent(ln.persisted(acts[0].seq)) == []  # observers never ACK txns


def test_ping_reply_carries_host_touches_and_requests_are_forwarded() -> None:
    ln = _broadcasting()
    (send,) = ln.on_packet(packet(PT.PING, z(2, 0)), 5)
    assert send.qp.zxid == z(2, 0) and P.decode_touches(send.qp.data) == [(7, 4000)]
    (send,) = ln.forward(7, 3, 1, b"create")
    assert send.qp.type == PT.REQUEST and P.decode_request(send.qp.data) == (7, 3, 1, b"create")
    (send,) = ln.revalidate(7, 4000)
    assert P.decode_revalidate(send.qp.data) == (7, 4000)
    acts = ln.on_packet(packet(PT.REVALIDATE, -1, P.encode_revalidate_reply(7, False)), 5)
    assert acts == [LN.Revalidated(7, False)]
    assert ln.on_packet(packet(PT.SYNC, 0), 5) == [LN.SyncDone()]


def test_leader_silence_beyond_sync_limit_disconnects() -> None:
    ln = _broadcasting()
    assert ln.on_tick(150) == []
    assert any(isinstance(a, LN.Disconnected) for a in ln.on_tick(202))


def test_read_deadline_is_init_limit_until_newleader_then_sync_limit() -> None:
    """Learner.connectToLeader sets soTimeout initLimit ticks; syncWithLeader switches to
    syncLimit ticks when NEWLEADER arrives; the host sleeps until wakeup_ms."""
    ln, _ = _handshake()
    assert ln.wakeup_ms() == 1 + 5 * 100  # last packet (LEADERINFO) at 1
    assert ln.on_tick(500) == []
    assert any(isinstance(a, LN.Disconnected) for a in ln.on_tick(501))
    ln = _broadcasting()
    assert ln.wakeup_ms() == 2 + 2 * 100


def test_ping_reply_echoes_the_confirmation_round_tag() -> None:
    ln = _broadcasting()
    tag = [r.Id("pyzk:round", "7")]
    (send,) = ln.on_packet(packet(PT.PING, z(2, 0), None, tag), 5)
    assert send.qp.type == PT.PING and list(send.qp.authinfo) == tag


def test_a_ping_during_sync_is_answered_behind_the_newleader_ack() -> None:
    # The leader drops a learner whose first packet after NEWLEADER is not its ACK, and that
    # ACK waits for the sync's persist: a PING reply must wait behind it (78c288d).
    ln, _ = _handshake()
    ln.on_packet(packet(PT.DIFF, z(1, 3)), 2)
    (persist,) = [a for a in ln.on_packet(packet(PT.NEWLEADER, z(2, 0), b""), 3)
                  if isinstance(a, LN.Persist)]
    assert _sent(ln.on_packet(packet(PT.PING, z(2, 0)), 4)) == []
    assert _sent(ln.persisted(persist.seq)) == [("ACK", z(2, 0)), ("PING", z(2, 0))]
