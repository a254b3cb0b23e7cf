"""Election-port bytes: Java 3.8's initial messages and notifications decode and re-encode byte
for byte (goldens recorded by tests/golden/election/capture_java.py); legacy forms are read as
Java reads them; malformed input is refused where Java skips it."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pyzk.zab.packets_election import (
    PROTOCOL_VERSION_V1,
    ElectionWireError,
    InitialMessage,
    Notification,
    check_frame_len,
    frame,
    parse_addresses,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "election"
NOTES = sorted(p for p in GOLDEN.glob("*.bin") if not p.name.startswith("initial"))
INITS = sorted(GOLDEN.glob("initial_*.bin"))


@pytest.mark.parametrize("path", INITS, ids=lambda p: p.name)
def test_java_initial_message_round_trips(path: Path) -> None:
    b = path.read_bytes()
    m = InitialMessage.decode(b)
    sid = int(path.stem[-1])
    assert m == InitialMessage(sid, f"127.0.0.10{sid}:3888", PROTOCOL_VERSION_V1)
    assert m.encode() == b


@pytest.mark.parametrize("path", NOTES, ids=lambda p: p.name)
def test_java_notification_round_trips(path: Path) -> None:
    b = path.read_bytes()
    n = Notification.decode(b)
    assert n.encode() == b
    assert n.version == 2 and n.config is not None and n.config.endswith(b"version=0")
    expected_state = {"looking": 0, "following": 1, "leading": 2}[path.name.split("_")[0]]
    assert n.state == expected_state


def test_java_replies_after_election_carry_new_epoch() -> None:
    n = Notification.decode((GOLDEN / "leading_from_sid3.bin").read_bytes())
    assert (n.leader, n.zxid, n.election_epoch, n.peer_epoch) == (3, 0, 1, 1)


def test_legacy_28_byte_form_derives_peer_epoch_from_zxid() -> None:
    b = struct.pack(">iqqq", 1, 3, 0x500000007, 4)
    n = Notification.decode(b)
    assert (n.peer_epoch, n.version, n.config) == (5, 0, None)
    assert n.encode() == b


def test_legacy_40_byte_form_has_no_version_as_far_as_java_reads() -> None:
    b = struct.pack(">iqqqqi", 0, 3, 7, 4, 2, 1)
    n = Notification.decode(b)
    assert (n.peer_epoch, n.version, n.config) == (2, 0, None)
    assert n.encode() == b


def test_version_1_message_has_no_config() -> None:
    b = struct.pack(">iqqqqi", 0, 3, 7, 4, 2, 1) + b"\0\0\0\0"
    n = Notification.decode(b)
    assert n.version == 1 and n.config is None and n.encode() == b


@pytest.mark.parametrize("b", [
    b"\0" * 27,                                               # < 28
    b"\0" * 30,                                               # no room for peerEpoch
    b"\0" * 38,                                               # no room for version
    struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, 100) + b"x",    # configLength past the end
    struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, -1),            # negative configLength
])
def test_malformed_notifications_are_refused(b: bytes) -> None:
    with pytest.raises(ElectionWireError):
        Notification.decode(b)


def test_bare_sid_initial_message_is_pre_3_5_form() -> None:
    assert InitialMessage.decode(struct.pack(">q", 7)).sid == 7


@pytest.mark.parametrize("b", [
    struct.pack(">qqi", -5, 1, 4) + b"a:12",                   # unknown protocol version
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 0),            # empty address
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 4096) + b"x" * 4096,
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 5) + b"hostx",  # no port
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 6) + b"h:port",
    # Ports outside 0..65535: Java's InetSocketAddress throws an IllegalArgumentException that
    # ends its election listener; pyzk refuses the message (found by the peer-port fuzzer,
    # seed 3 case 13: tests/ensemble/test_peer_fuzz.py).
    struct.pack(">qqi", PROTOCOL_VERSION_V1, -5, 8) + b"h:99999",
    struct.pack(">qqi", PROTOCOL_VERSION_V1, -5, 4) + b"h:-1",
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 9, 11) + b"h:1|h:65536",
    # What Integer.parseInt refuses and Python's int() would take.
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 7) + b"h: 3888",
    struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 7) + b"h:3_888",
])
def test_bad_initial_messages_are_refused(b: bytes) -> None:
    with pytest.raises(ElectionWireError):
        InitialMessage.decode(b)


def test_ipv6_and_wildcard_addresses() -> None:
    assert parse_addresses("[::1]:3888|0.0.0.0:1|h:2") == [("::1", 3888), ("h", 2)]


def test_port_bounds_and_signs_as_java_reads_them() -> None:
    assert parse_addresses("h:0|h:65535|h:+7") == [("h", 0), ("h", 65535), ("h", 7)]


def test_addresses_split_as_java_string_split() -> None:
    """Trailing empty items are dropped (Java 3.8.0 accepted 'h:1|' where pyzk refused it:
    peer-port fuzzer soak seed 12 case 23); an empty item elsewhere is badly formed."""
    assert parse_addresses("h:1|") == [("h", 1)]
    assert parse_addresses("h:1||") == [("h", 1)]
    assert parse_addresses("|") == [] and parse_addresses("||") == []
    for bad in ("", "|h:1", "h:1||h:2"):
        with pytest.raises(ElectionWireError):
            parse_addresses(bad)


def test_frames_are_int_length_prefixed_and_bounded() -> None:
    assert frame(b"abc") == b"\0\0\0\x03abc"
    check_frame_len(512 * 1024)
    for bad in (0, -1, 512 * 1024 + 1):
        with pytest.raises(ElectionWireError):
            check_frame_len(bad)
