"""ZAB packet codecs against bytes a Java 3.8 leader really sent (tests/golden/zab, recorded by
tests/golden/zab/capture_java.py) and round trips of every payload format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.jute import JuteError
from pyzk.zab import packets as P
from pyzk.zab.zxid import epoch_of, make_zxid

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "zab"


def _reencode(items: list[P.StreamItem]) -> bytes:
    out = bytearray()
    for it in items:
        out += P.encode_packet(it.qp)
        if it.snapshot is not None:
            s = it.snapshot
            out += P.encode_snap_body(s.sessions, s.acls, s.nodes)
    return bytes(out)


@pytest.mark.parametrize("name", ["snap", "diff"])
@pytest.mark.parametrize("chunk", [1, 7, 100000])
def test_java_leader_stream_decodes_and_reencodes_byte_for_byte(name: str, chunk: int) -> None:
    raw = (GOLDEN / f"{name}.leader.bin").read_bytes()
    meta = json.loads((GOLDEN / "capture.json").read_text())[name]
    rd = P.QuorumStreamReader()
    items: list[P.StreamItem] = []
    for i in range(0, len(raw), chunk):
        items += rd.feed(raw[i:i + chunk])
    assert [it.qp.type for it in items] == meta["types"]
    assert _reencode(items) == raw


def test_java_snap_sync_carries_the_tree_and_signature() -> None:
    raw = (GOLDEN / "snap.leader.bin").read_bytes()
    items = P.QuorumStreamReader().feed(raw)
    leaderinfo, snap, newleader, uptodate = items[:4]
    assert leaderinfo.qp.type == P.PT.LEADERINFO
    assert P.decode_int(leaderinfo.qp.data) == P.PROTOCOL_VERSION
    assert snap.qp.type == P.PT.SNAP and snap.qp.data is None and snap.snapshot is not None
    paths = {n.path: n.data for n in snap.snapshot.nodes}
    assert paths[""] == b"" and paths["/golden"] == b"root" and paths["/golden/n1"] == b"changed"
    assert newleader.qp.type == P.PT.NEWLEADER and b"server.1=" in newleader.qp.data
    assert newleader.qp.zxid == leaderinfo.qp.zxid == make_zxid(epoch_of(snap.qp.zxid), 0)
    assert uptodate.qp.type == P.PT.UPTODATE and uptodate.qp.zxid == -1
    informs = [P.decode_txn(it.qp.data) for it in items if it.qp.type == P.PT.INFORM]
    assert [e.hdr.type for e in informs] == [1, 5, 2]  # create, setData, delete
    assert informs[0].txn.path == "/golden/after" and informs[0].digest is not None
    pings = [it.qp for it in items if it.qp.type == P.PT.PING]
    assert pings and all(p.data is None for p in pings)


def test_java_diff_sync_is_proposal_commit_pairs() -> None:
    items = P.QuorumStreamReader().feed((GOLDEN / "diff.leader.bin").read_bytes())
    types = [it.qp.type for it in items]
    assert types[1] == P.PT.DIFF
    pairs = items[2:-2]
    for prop, commit in zip(pairs[::2], pairs[1::2], strict=True):
        assert prop.qp.type == P.PT.PROPOSAL and commit.qp.type == P.PT.COMMIT
        assert P.decode_txn(prop.qp.data).hdr.zxid == prop.qp.zxid == commit.qp.zxid


def test_our_learner_bytes_match_what_java_accepted() -> None:
    """The learner side of the capture (our encoder) decodes to the expected handshake."""
    items = P.QuorumStreamReader().feed((GOLDEN / "snap.learner.bin").read_bytes())
    info, ackepoch = items[0].qp, items[1].qp
    assert info.type == P.PT.OBSERVERINFO
    li = P.decode_learner_info(info.data)
    assert (li.sid, li.protocol_version, li.config_version) == (4, 0x10000, 0)
    assert len(info.data) == 20
    assert ackepoch.type == P.PT.ACKEPOCH and P.decode_int(ackepoch.data) == 0
    assert [it.qp.type for it in items[2:]][:2] == [P.PT.ACK, P.PT.ACK]


def test_payload_round_trips() -> None:
    assert P.decode_request(P.encode_request(0x1234, 7, 1, b"body")) == (0x1234, 7, 1, b"body")
    assert P.decode_touches(P.encode_touches([(1, 30000), (-5, 4000)])) == [(1, 30000),
                                                                          (-5, 4000)]
    assert P.decode_touches(None) == []
    assert P.decode_revalidate(P.encode_revalidate(9, 5000)) == (9, 5000)
    assert P.decode_revalidate_reply(P.encode_revalidate_reply(9, True)) == (9, True)
    assert P.encode_revalidate_reply(1, False) == b"\0" * 7 + b"\x01\x00"
    assert P.decode_inform_and_activate(P.encode_inform_and_activate(3, b"x")) == (3, b"x")
    assert P.encode_int(-1) == b"\xff\xff\xff\xff" and P.decode_long(P.encode_long(-2)) == -2
    hdr = r.TxnHeader(1, 2, make_zxid(3, 4), 5, 5)
    txn = r.SetDataTxn("/a", b"v", 1)
    e = P.decode_txn(P.encode_txn(hdr, txn))
    assert (e.hdr, e.txn) == (hdr, txn)


def test_learner_info_is_read_leniently_like_java() -> None:
    assert P.decode_learner_info(None).sid is None
    short = P.decode_learner_info(P.encode_learner_info(7, 0)[:8])
    assert (short.sid, short.protocol_version, short.config_version) == (7, 0, None)
    # Fewer than 8 bytes: Java's LearnerHandler keeps its initial sid 0 (no anonymous sid).
    assert P.decode_learner_info(b"\x01\x02\x03").sid == 0
    assert P.decode_learner_info(b"").sid == 0


def test_torn_or_bad_payloads_raise_jute_errors() -> None:
    with pytest.raises(JuteError):
        P.decode_touches(b"\0" * 13)
    with pytest.raises(JuteError):
        P.decode_request(b"\0" * 15)
    with pytest.raises(JuteError):
        P.decode_snap_body(P.encode_snap_body([], [], [])[:-1])
    bad_sig = P.encode_snap_body([], [], [])[:-10] + b"NotBenHere"
    with pytest.raises(JuteError):
        P.decode_snap_body(bad_sig)
