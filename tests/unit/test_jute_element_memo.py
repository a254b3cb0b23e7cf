"""The vector-element memo (jute._ElementMemo) decodes and encodes exactly as the plain record
codec does: same records, same offsets, same errors, whatever it has seen before."""

from __future__ import annotations

import random

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.jute import JuteError, _element_memo


def _plain_acl_list(buf: bytes, off: int) -> tuple[list[object] | None, int]:
    n = int.from_bytes(buf[off:off + 4], "big", signed=True)
    off += 4
    if n == -1:
        return None, off
    out = []
    for _ in range(max(n, 0)):
        x, off = r.ACL.decode(buf, off)
        out.append(x)
    return out, off


def _acls(rng: random.Random) -> list[object]:
    schemes = ["world", "digest", "ip", "auth", "x509", "", "sch\u00e9me"]
    ids = ["anyone", "u:abc=", "10.0.0.1/8", "", "\U0001f600", "x" * 300]
    return [r.ACL(rng.choice([0, 1, 31, -1, 2**31 - 1]),
                  r.Id(rng.choice(schemes + [None]), rng.choice(ids + [None])))
            for _ in range(rng.randrange(0, 4))]


def test_memo_round_trips_match_the_plain_codec_repeatedly() -> None:
    rng = random.Random(11)
    for _ in range(400):
        acl = _acls(rng)
        req = r.CreateRequest("/p", b"d", acl, 0)
        raw = r.CreateRequest.to_bytes(req)
        for _round in range(2):  # second time through: memo hits
            dec, off = r.CreateRequest.decode(raw, 0)
            assert dec == req and off == len(raw)
            assert r.CreateRequest.to_bytes(dec) == raw
        acl_off = 4 + 2 + 4 + 1  # path "/p", data b"d"
        assert _plain_acl_list(raw, acl_off)[0] == acl


def test_memo_keeps_the_plain_errors_for_truncated_and_bad_lengths() -> None:
    good = r.CreateTxn.to_bytes(r.CreateTxn("/a", b"", [r.ACL(31, r.Id("world", "anyone"))],
                                            False, 1))
    r.CreateTxn.decode(good, 0)  # remembered
    for cut in range(1, len(good)):
        with pytest.raises(JuteError):
            r.CreateTxn.from_bytes(good[:cut], exact=True)
    # a string length below -1 inside the ACL: the plain decoder's error, memo or not
    bad = bytearray(good)
    i = bad.index(b"world") - 4
    bad[i:i + 4] = (-7).to_bytes(4, "big", signed=True)
    with pytest.raises(JuteError):
        r.CreateTxn.from_bytes(bytes(bad), exact=True)


def test_memo_is_bounded_and_skips_long_encodings() -> None:
    memo = _element_memo(r.ACL)
    assert memo is not None and _element_memo(r.Txn) is None  # buffers are not memoized
    for i in range(memo.MEMO_LIMIT * 2):
        rec = r.ACL(1, r.Id("digest", f"user{i}:x"))
        raw = memo.encoded(rec)
        assert memo.decode(raw, 0) == (rec, len(raw))
    assert len(memo.by_bytes) <= memo.MEMO_LIMIT and len(memo.by_value) <= memo.MEMO_LIMIT
    long_rec = r.ACL(1, r.Id("digest", "y" * 1000))
    raw = memo.encoded(long_rec)
    assert raw not in memo.by_bytes and long_rec not in memo.by_value
    assert memo.decode(raw, 0) == (long_rec, len(raw))
