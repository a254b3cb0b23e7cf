"""Txn log codec, scanner and writer: Java's exact bytes, and refusal of corrupt logs."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import txnlog
from pyzk.storage.errors import LogFormatError
from pyzk.storage.logfile import (
    TxnLogWriter,
    iter_log,
    last_logged_zxid,
    logs_from,
    read_log_file,
    sorted_logs,
    truncate_log,
)

OPEN = [r.ACL(31, r.Id("world", "anyone"))]


def hdr(zxid: int, t: int, sid: int = 0x1000, cxid: int = 1) -> r.TxnHeader:
    return r.TxnHeader(sid, cxid, zxid, 1_700_000_000_000 + zxid, t)


SAMPLES = [
    (Op.CREATE_SESSION, r.CreateSessionTxn(30000)),
    (Op.CLOSE_SESSION, r.CloseSessionTxn(["/e1", "/e2"])),
    (Op.CREATE, r.CreateTxn("/a", b"x", OPEN, False, 3)),
    (Op.CREATE2, r.CreateTxn("/b", None, OPEN, True, 4)),
    (Op.CREATE_TTL, r.CreateTTLTxn("/t", b"t", OPEN, 1, 5000)),
    (Op.CREATE_CONTAINER, r.CreateContainerTxn("/c", b"", OPEN, 2)),
    (Op.DELETE, r.DeleteTxn("/a")),
    (Op.DELETE_CONTAINER, r.DeleteTxn("/c")),
    (Op.SET_DATA, r.SetDataTxn("/b", b"\x00\xff", 7)),
    (Op.RECONFIG, r.SetDataTxn("/zookeeper/config", b"server.1=x", -1)),
    (Op.SET_ACL, r.SetACLTxn("/b", [r.ACL(1, r.Id("digest", "u:h"))], 2)),
    (Op.ERROR, r.ErrorTxn(-101)),
    (Op.MULTI, txnlog.make_multi_txn([(Op.CREATE, r.CreateTxn("/m", b"", OPEN, False, 1)),
                                      (Op.ERROR, r.ErrorTxn(-101))])),
]


@pytest.mark.parametrize("t,txn", SAMPLES, ids=[Op(t).name for t, _ in SAMPLES])
@pytest.mark.parametrize("digest", [None, r.TxnDigest(2, -12345)])
def test_every_txn_type_round_trips(t: int, txn: object, digest: object) -> None:
    h = hdr(5, t)
    payload = txnlog.serialize_txn(h, txn, digest)
    assert txnlog.deserialize_txn(payload) == (h, txn, digest)


def test_entry_frame_is_adler32_long_then_buffer_then_eor() -> None:
    payload = txnlog.serialize_txn(hdr(1, Op.CREATE_SESSION), r.CreateSessionTxn(4000))
    entry = txnlog.encode_entry(payload)
    assert entry[:8] == struct.pack(">q", zlib.adler32(payload))
    assert entry[8:12] == struct.pack(">i", len(payload))
    assert entry[12:-1] == payload and entry[-1:] == b"B"
    assert txnlog.encode_log_header() == b"ZKLG" + struct.pack(">iq", 2, 0)


def test_create_v0_entry_reads_as_create_with_parent_cversion_minus_one() -> None:
    h = hdr(9, Op.CREATE)
    v0 = r.CreateTxnV0("/old", b"d", OPEN, True)
    e = txnlog.deserialize_txn(r.TxnHeader.to_bytes(h) + r.CreateTxnV0.to_bytes(v0))
    assert e.txn == r.CreateTxn("/old", b"d", OPEN, True, -1) and e.digest is None


def test_close_session_without_body_reads_as_none() -> None:
    e = txnlog.deserialize_txn(r.TxnHeader.to_bytes(hdr(3, Op.CLOSE_SESSION)))
    assert e.txn is None


def test_multi_subtxns_decode() -> None:
    parts = [(Op.SET_DATA, r.SetDataTxn("/x", b"1", 2)), (Op.CHECK, r.CheckVersionTxn("/x", 2))]
    assert txnlog.multi_subtxns(txnlog.make_multi_txn(parts)) == parts


def _log_bytes(n: int, pad: int = 200) -> tuple[bytes, list[int]]:
    buf = bytearray(txnlog.encode_log_header())
    offs = []
    for z in range(1, n + 1):
        offs.append(len(buf))
        buf += txnlog.encode_txn_entry(hdr(z, Op.SET_DATA), r.SetDataTxn("/p", b"v%d" % z, z))
    return bytes(buf) + b"\0" * pad, offs


def test_scan_stops_at_preallocated_zeros() -> None:
    data, offs = _log_bytes(5)
    scan = txnlog.scan_log(data, "log.1")
    assert [o for o, _ in scan.entries] == offs and scan.torn is None
    assert [e.hdr.zxid for _, e in txnlog.iter_entries(scan)] == [1, 2, 3, 4, 5]


def test_scan_of_file_without_padding_ends_cleanly() -> None:
    data, _ = _log_bytes(3, pad=0)
    assert len(txnlog.scan_log(data).entries) == 3


@pytest.mark.parametrize("cut", [1, 5, 13, 40])
def test_torn_last_entry_is_dropped_with_a_note(cut: int) -> None:
    data, offs = _log_bytes(4, pad=0)
    torn = data[: len(data) - cut]
    scan = txnlog.scan_log(torn, "log.1")
    assert len(scan.entries) == 3
    assert scan.torn is not None and str(offs[3]) in scan.torn


def test_missing_eor_on_last_entry_followed_by_zeros_is_torn() -> None:
    data, offs = _log_bytes(3, pad=300)
    buf = bytearray(data)
    end = offs[2] + 12 + struct.unpack_from(">i", buf, offs[2] + 8)[0]
    buf[end] = 0  # the EOR byte never reached the disk
    scan = txnlog.scan_log(bytes(buf), "log.1")
    assert len(scan.entries) == 2 and scan.torn


def test_missing_eor_in_the_middle_is_refused_not_truncated() -> None:
    data, offs = _log_bytes(5)
    buf = bytearray(data)
    end = offs[1] + 12 + struct.unpack_from(">i", buf, offs[1] + 8)[0]
    buf[end] = 0x41
    with pytest.raises(LogFormatError) as ei:
        txnlog.scan_log(bytes(buf), "log.1")
    assert ei.value.offset == offs[1] and "log.1" in str(ei.value)


def test_flipped_payload_byte_is_a_crc_error_naming_file_and_offset() -> None:
    data, offs = _log_bytes(5)
    buf = bytearray(data)
    buf[offs[2] + 20] ^= 0xFF
    with pytest.raises(LogFormatError, match=rf"log\.1: offset {offs[2]}: CRC check failed"):
        txnlog.scan_log(bytes(buf), "log.1")


def test_bad_magic_and_impossible_length_are_refused() -> None:
    data, offs = _log_bytes(2)
    with pytest.raises(LogFormatError, match="magic"):
        txnlog.scan_log(b"ZKSN" + data[4:], "x")
    buf = bytearray(data)
    struct.pack_into(">i", buf, offs[1] + 8, -7)
    with pytest.raises(LogFormatError, match="unreasonable"):
        txnlog.scan_log(bytes(buf), "x")


def test_padded_size_matches_file_padding() -> None:
    # FilePaddingTest cases
    assert txnlog.padded_size(0, 0, 0) == 0
    assert txnlog.padded_size(16, 16, 65536) == 65552
    assert txnlog.padded_size(1000, 65552, 65536) == 65552
    assert txnlog.padded_size(65552 - 100, 65552, 65536) == 131088
    assert txnlog.padded_size(200000, 65552, 65536) == 262144


def test_snapshot_trigger_rolls_between_half_and_full_snapcount() -> None:
    trig = txnlog.SnapshotTrigger(100, 0, random.Random(7))
    limit = 50 + trig.rand_roll
    assert 50 <= limit < 100
    assert not trig.should_snapshot(limit, 0) and trig.should_snapshot(limit + 1, 0)
    sized = txnlog.SnapshotTrigger(100_000, 1000, random.Random(1))
    assert sized.should_snapshot(0, 1000) and not sized.should_snapshot(0, 499)


def _append_range(w: TxnLogWriter, lo: int, hi: int) -> None:
    for z in range(lo, hi):
        w.append(hdr(z, Op.CREATE), r.CreateTxn(f"/n{z}", b"d", OPEN, False, z))


def test_writer_group_commit_rolls_and_reads_back(tmp_path: Path) -> None:
    w = TxnLogWriter(tmp_path, prealloc=4096)
    _append_range(w, 1, 6)
    assert not sorted_logs(tmp_path)  # append alone does no I/O
    assert w.flush() > 0
    w.roll()
    _append_range(w, 6, 9)
    w.roll()
    _append_range(w, 9, 12)
    w.flush()  # one flush spanning two rolls
    w.close()
    assert [p.name for p in sorted_logs(tmp_path)] == ["log.1", "log.6", "log.9"]
    assert (tmp_path / "log.1").stat().st_size == 4096 + 16  # preallocated like FilePadding
    got = [(p.name, e.hdr.zxid) for p, _, e in iter_log(tmp_path, 0)]
    assert [z for _, z in got] == list(range(1, 12))
    assert [(p.name, z) for p, _, e in iter_log(tmp_path, 7) for z in [e.hdr.zxid]][0] == \
        ("log.6", 7)
    assert last_logged_zxid(tmp_path) == 11
    assert [p.name for p in logs_from(tmp_path, 8)] == ["log.6", "log.9"]


def test_writer_grows_file_in_prealloc_blocks(tmp_path: Path) -> None:
    w = TxnLogWriter(tmp_path, prealloc=1024)
    for z in range(1, 60):
        w.append(hdr(z, Op.SET_DATA), r.SetDataTxn("/p", b"x" * 100, z))
        w.flush(fsync=False)
    w.close()
    size = (tmp_path / "log.1").stat().st_size
    assert size % 1024 == 16 % 1024 or size % 1024 == 0
    assert len(read_log_file(tmp_path / "log.1").entries) == 59


def test_truncate_keeps_txns_up_to_zxid_and_drops_later_files(tmp_path: Path) -> None:
    w = TxnLogWriter(tmp_path, prealloc=4096)
    _append_range(w, 1, 6)
    w.roll()
    _append_range(w, 6, 10)
    w.close()
    truncate_log(tmp_path, 3)
    assert [p.name for p in sorted_logs(tmp_path)] == ["log.1"]
    assert [e.hdr.zxid for _, _, e in iter_log(tmp_path, 0)] == [1, 2, 3]


def test_checksum_without_length_before_zeros_is_a_torn_header() -> None:
    data, offs = _log_bytes(2, pad=0)
    buf = data + struct.pack(">q", 12345) + b"\0" * 100
    scan = txnlog.scan_log(buf, "log.1")
    assert len(scan.entries) == 2 and scan.torn and "header" in scan.torn
    with pytest.raises(LogFormatError, match="followed by data"):
        txnlog.scan_log(buf + b"\x01", "log.1")


def test_scanning_a_64mb_preallocated_log_is_fast() -> None:
    data, _ = _log_bytes(50, pad=64 * 1024 * 1024)
    scan = txnlog.scan_log(data, "log.1")  # zero-checks run in C, no per-byte Python loop
    assert len(scan.entries) == 50 and scan.torn is None


def test_size_limit_rolls_after_the_commit_that_passes_it(tmp_path: Path) -> None:
    # txnLogSizeLimitInKb: the padded file length is what counts (FileTxnLog.commit).
    w = TxnLogWriter(tmp_path, prealloc=16 * 1024, size_limit=40 * 1024)
    for z in range(1, 61):
        w.append(r.TxnHeader(1, z, z, 0, Op.CREATE),
                 r.CreateTxn(f"/n{z}", b"x" * 1000, [], False, z))
        w.flush(fsync=False)
    w.close(fsync=False)
    names = [p.name for p in sorted_logs(tmp_path)]
    assert len(names) >= 2 and names[0] == "log.1"
    assert all(p.stat().st_size <= 16 + 48 * 1024 for p in sorted_logs(tmp_path))
