"""The jute codec: golden bytes written from zookeeper.jute by hand, frames captured from the
real Java client and server (tests/golden/client/frames.json), round trips of every record, and
decoders fed whole, truncated at every byte and with trailing bytes."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.connect import decode_connect, encode_connect_response
from pyzk.protocol.framing import FrameBuffer, FrameError, frame
from pyzk.protocol.jute import JuteError
from pyzk.protocol.multi import decode_multi, encode_multi_request, encode_multi_response
from pyzk.protocol.opcodes import CLIENT_OPS, Op

FRAMES = json.loads((Path(__file__).parents[1] / "golden/client/frames.json").read_text())
OPEN = [r.ACL(31, r.Id("world", "anyone"))]

RESPONSES: dict[int, Any] = {
    Op.CREATE: r.CreateResponse, Op.CREATE2: r.Create2Response,
    Op.CREATE_CONTAINER: r.Create2Response, Op.CREATE_TTL: r.Create2Response,
    Op.EXISTS: r.ExistsResponse, Op.GET_DATA: r.GetDataResponse,
    Op.SET_DATA: r.SetDataResponse, Op.GET_ACL: r.GetACLResponse, Op.SET_ACL: r.SetACLResponse,
    Op.GET_CHILDREN: r.GetChildrenResponse, Op.GET_CHILDREN2: r.GetChildren2Response,
    Op.SYNC: r.SyncResponse, Op.GET_ALL_CHILDREN_NUMBER: r.GetAllChildrenNumberResponse,
    Op.GET_EPHEMERALS: r.GetEphemeralsResponse, Op.WHO_AM_I: r.WhoAmIResponse,
    Op.ADD_WATCH: r.ErrorResponse,
}


def test_stat_is_68_bytes_in_declaration_order() -> None:
    stat = r.Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
    assert r.Stat.to_bytes(stat) == struct.pack(">qqqqiiiqiiq", *stat)
    assert len(r.Stat.to_bytes(stat)) == 68


def test_connect_request_with_read_only_flag_is_45_bytes_plus_flag() -> None:
    body = r.ConnectRequest.to_bytes(r.ConnectRequest(0, 0, 30000, 0, b"\0" * 16))
    assert body == struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16
    assert len(body) == 44
    c = decode_connect(body + b"\x01")
    assert c.read_only and not c.old_client
    assert decode_connect(body).old_client


def test_connect_response_echoes_read_only_only_to_new_clients() -> None:
    new = encode_connect_response(30000, 7, b"p" * 16, False, old_client=False)
    old = encode_connect_response(30000, 7, b"p" * 16, False, old_client=True)
    assert new == struct.pack(">iiiqi", 4 + 4 + 8 + 4 + 16 + 1, 0, 30000, 7, 16) + b"p" * 16 + b"\0"
    assert old == frame(new[4:-1])


def test_null_buffer_string_and_vector_are_minus_one() -> None:
    rec = r.CreateRequest(None, None, None, 0)
    assert r.CreateRequest.to_bytes(rec) == b"\xff" * 12 + b"\0\0\0\0"
    assert r.CreateRequest.from_bytes(r.CreateRequest.to_bytes(rec), exact=True) == rec


def _sample(cls: Any) -> Any:
    values = []
    for _, ftype in cls.FIELDS:
        if ftype in ("int", "long"):
            values.append(-5)
        elif ftype == "boolean":
            values.append(True)
        elif ftype == "buffer":
            values.append(b"\x00\xffdata")
        elif ftype == "ustring":
            values.append("/p\u00e9th")
        elif hasattr(ftype, "of"):
            of = ftype.of
            values.append(["a", "b"] if of == "ustring" else [_sample(of)])
        else:
            values.append(_sample(ftype))
    return cls(*values)


RECORDS = [v for v in vars(r).values() if isinstance(v, type) and hasattr(v, "FIELDS")]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_record_round_trips_and_rejects_truncation(cls: Any) -> None:
    rec = _sample(cls)
    data = cls.to_bytes(rec)
    assert cls.from_bytes(data, exact=True) == rec
    for cut in range(len(data)):
        with pytest.raises(JuteError):
            cls.from_bytes(data[:cut], exact=True)
    with pytest.raises(JuteError):
        cls.from_bytes(data + b"\0", exact=True)
    assert cls.decode(data + b"tail", 0) == (rec, len(data))
    got, end = cls.decode(b"at" + data, 2)  # decoded where it starts, as the record's type
    assert (got, end) == (rec, len(data) + 2) and type(got) is cls


def test_absurd_lengths_are_rejected_not_allocated() -> None:
    with pytest.raises(JuteError):
        r.GetDataRequest.from_bytes(struct.pack(">i", 0x7FFFFFFF) + b"/x\x00")
    with pytest.raises(JuteError):
        r.GetChildrenResponse.from_bytes(struct.pack(">i", 10_000_000))
    with pytest.raises(JuteError):
        r.GetDataRequest.from_bytes(struct.pack(">i", -2) + b"\x00")


def test_multi_request_and_response_round_trip() -> None:
    ops = [(Op.CREATE, r.CreateRequest("/a", b"x", OPEN, 1)),
           (Op.SET_DATA, r.SetDataRequest("/a", None, 0)),
           (Op.CHECK, r.CheckVersionRequest("/a", 1)),
           (Op.DELETE, r.DeleteRequest("/a", -1))]
    out = bytearray()
    encode_multi_request(ops, out)
    assert decode_multi(bytes(out)) == (ops, len(out))
    resp = bytearray()
    encode_multi_response([(Op.CREATE, 0, r.CreateResponse("/a")),
                           (Op.ERROR, -101, r.ErrorResponse(-101))], resp)
    assert resp.endswith(r.MultiHeader.to_bytes(r.MultiHeader(-1, True, -1)))


def test_multi_mixing_reads_and_writes_is_malformed() -> None:
    out = bytearray()
    encode_multi_request([(Op.CREATE, r.CreateRequest("/a", b"", OPEN, 0)),
                          (Op.GET_DATA, r.GetDataRequest("/a", False))], out)
    with pytest.raises(JuteError, match="Mixing"):
        decode_multi(bytes(out))


def test_frame_buffer_splits_byte_by_byte_and_refuses_bad_lengths() -> None:
    fb = FrameBuffer(100)
    stream = frame(b"abc") + frame(b"") + frame(b"xyz")
    got: list[bytes] = []
    for i in range(len(stream)):
        fb.feed(stream[i:i + 1])
        got += fb.frames()
    assert got == [b"abc", b"", b"xyz"]
    fb.feed(struct.pack(">i", 101))
    with pytest.raises(FrameError):
        fb.frames()
    fb2 = FrameBuffer(100)
    fb2.feed(struct.pack(">i", -1))
    with pytest.raises(FrameError):
        fb2.frames()


def test_java_client_frames_decode_and_reencode_byte_for_byte() -> None:
    """Every request zkCli.sh sent, and every reply and event Java sent back."""
    c2s = [bytes.fromhex(h) for h in FRAMES["c2s"]]
    s2c = [bytes.fromhex(h) for h in FRAMES["s2c"]]
    connect = decode_connect(c2s[0])
    assert r.ConnectRequest.to_bytes(connect.request) + b"\0" == c2s[0]
    ops: dict[int, int] = {}
    seen: set[int] = set()
    for f in c2s[1:]:
        hdr, off = r.RequestHeader.decode(f, 0)
        ops[hdr.xid] = hdr.type
        seen.add(hdr.type)
        spec = CLIENT_OPS[hdr.type]
        if hdr.type in (Op.MULTI, Op.MULTI_READ):
            mops, end = decode_multi(f, off)
            out = bytearray(r.RequestHeader.to_bytes(hdr))
            encode_multi_request(mops, out)
            assert end == len(f) and bytes(out) == f
        elif spec.request is not None:
            rec, end = spec.request.decode(f, off)
            assert end == len(f)
            assert r.RequestHeader.to_bytes(hdr) + spec.request.to_bytes(rec) == f
        else:
            assert off == len(f)
    assert {Op.CREATE, Op.CREATE_CONTAINER, Op.SET_DATA, Op.GET_DATA, Op.AUTH, Op.WHO_AM_I,
            Op.GET_ALL_CHILDREN_NUMBER, Op.GET_EPHEMERALS, Op.SYNC, Op.ADD_WATCH,
            Op.MULTI, Op.CLOSE_SESSION} <= seen
    resp, off = r.ConnectResponse.decode(s2c[0], 0)
    assert len(resp.passwd) == 16 and s2c[0][off:] == b"\0"
    decoded = 0
    for f in s2c[1:]:
        hdr, off = r.ReplyHeader.decode(f, 0)
        if hdr.xid == -1:
            ev, end = r.WatcherEvent.decode(f, off)
            assert end == len(f) and ev.state == 3
            continue
        cls = RESPONSES.get(ops.get(hdr.xid, -999))
        if hdr.err != 0 or cls is None:
            continue
        body, end = cls.decode(f, off)
        assert end == len(f)
        assert r.ReplyHeader.to_bytes(hdr) + cls.to_bytes(body) == f
        decoded += 1
    assert decoded >= 12
