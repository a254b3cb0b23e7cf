"""Bytes of the election port (3888): the initial message a connecting peer sends
(QuorumCnxManager.startConnection / InitialMessage.parse) and FLE notifications
(FastLeaderElection.buildMsg / WorkerReceiver.run), release-3.8.4. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

PROTOCOL_VERSION_V1 = -65536     # QuorumCnxManager.PROTOCOL_VERSION_V1 (single address)
PROTOCOL_VERSION_V2 = -65535     # ... V2: '|'-joined addresses (multiAddress.enabled)
MAX_ADDR_BUFFER = 2048           # QuorumCnxManager.maxBuffer: bound on the address bytes
PACKETMAXSIZE = 512 * 1024       # QuorumCnxManager.PACKETMAXSIZE: bound on one frame
CURRENT_VERSION = 2              # Notification.CURRENTVERSION
OBSERVER_ID_SID = 2**63 - 1      # QuorumPeer.OBSERVER_ID: an anonymous observer's sid

_HEAD = struct.Struct(">iqqq")   # state, leader, zxid, electionEpoch: the 28-byte pre-3.4.6 form
_LONG = struct.Struct(">q")
_INT = struct.Struct(">i")


class ElectionWireError(ValueError):
    """Bytes Java would refuse (InitialMessageException) or skip (BufferUnderflow, IOException)."""


@dataclass(frozen=True)
class InitialMessage:
    """What the dialing side sends first. protocol_version >= 0 is the pre-3.5 form where the
    first long is the sid itself and nothing follows."""

    sid: int
    addresses: str = ""            # "host:port", or '|'-joined for V2
    protocol_version: int = PROTOCOL_VERSION_V1

    def encode(self) -> bytes:
        if self.protocol_version >= 0:
            return _LONG.pack(self.sid)
        # Java sends String.getBytes() (platform charset, UTF-8 on any modern JVM).
        addr = self.addresses.encode("utf-8")
        return struct.pack(">qqi", self.protocol_version, self.sid, len(addr)) + addr

    @staticmethod
    def decode(buf: bytes) -> InitialMessage:
        """Decode a complete initial message; trailing bytes are ignored (they are frames)."""
        if len(buf) < 8:
            raise ElectionWireError("short initial message")
        (first,) = _LONG.unpack_from(buf, 0)
        if first >= 0:
            return InitialMessage(sid=first, protocol_version=first)
        if first not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):
            raise ElectionWireError(f"Got unrecognized protocol version {first}")
        if len(buf) < 20:
            raise ElectionWireError("short initial message")
        sid, n = struct.unpack_from(">qi", buf, 8)
        check_addr_len(n)
        if len(buf) < 20 + n:
            raise ElectionWireError(f"Read only {len(buf) - 20} bytes out of {n} sent by server {sid}")
        text = buf[20:20 + n].decode("utf-8", errors="replace")
        parse_addresses(text)
        return InitialMessage(sid=sid, addresses=text, protocol_version=first)

    def host_ports(self) -> list[tuple[str, int]]:
        return parse_addresses(self.addresses) if self.addresses else []


def check_addr_len(n: int) -> None:
    if n <= 0 or n > MAX_ADDR_BUFFER:
        raise ElectionWireError(f"Unreasonable buffer length: {n}")


def parse_addresses(text: str) -> list[tuple[str, int]]:
    """InitialMessage.parse: '|'-split host:port items (IPv6 in brackets); wildcard hosts are
    dropped, as Java drops them. Split as String.split does: trailing empty items go (so
    "h:1|" is one address and "|" none), other empty items are badly formed."""
    out: list[tuple[str, int]] = []
    items = text.split("|")
    while len(items) > 1 and not items[-1]:
        items.pop()
    if items == [""] and text:
        items = []  # only separators: String.split gives an empty array
    for item in items:
        if item.startswith("["):
            end = item.find("]")
            if end < 0 or not item[end + 1:].startswith(":"):
                raise ElectionWireError(f"Badly formed address: {item}")
            host, port_text = item[1:end], item[end + 2:]
            if ":" in port_text:
                raise ElectionWireError(f"Badly formed address: {item}")
        else:
            parts = item.split(":")
            if len(parts) != 2:
                raise ElectionWireError(f"Badly formed address: {item}")
            host, port_text = parts
        port = _port(port_text)
        if not 0 <= port <= 0xFFFF:
            # Java's `new InetSocketAddress(host, port)` throws IllegalArgumentException here,
            # which nothing in QuorumCnxManager catches: it ends 3.8.0's election listener for
            # good (tests/ensemble/test_peer_fuzz.py). pyzk refuses the message instead.
            raise ElectionWireError(f"Bad port number: {port_text}")
        if not _is_wildcard(host):
            out.append((host, port))
    return out


def _port(text: str) -> int:
    """Integer.parseInt: an optional sign, then decimal digits only (Python's int() would also
    take spaces and underscores)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isdecimal():
        raise ElectionWireError(f"Bad port number: {text}")
    return int(text)


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def format_addr(host: str, port: int) -> str:
    """NetUtils.formatInetAddr: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Notification:
    """One election message. `state` is the raw ordinal (Java drops unknown values only after
    answering non-voters, so it is kept as sent). `version` is what Java believes: 0 for the 28-
    and 40-byte legacy forms. `config` is the QuorumVerifier text bytes of version>1 messages.
    `form` ("current", "v40", "v28") and `extra` (bytes Java does not read) let a decoded message
    re-encode byte for byte."""

    state: int
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    version: int = CURRENT_VERSION
    config: bytes | None = b""
    form: str = "current"
    extra: bytes = b""

    def encode(self) -> bytes:
        head = _HEAD.pack(self.state, self.leader, self.zxid, self.election_epoch)
        if self.form == "v28":
            return head + self.extra
        if self.form == "v40":
            # buildMsg(5 args) writes version 1 last; receivers never read it (it is in `extra`).
            return head + _LONG.pack(self.peer_epoch) + (self.extra or _INT.pack(1))
        out = head + _LONG.pack(self.peer_epoch) + _INT.pack(self.version)
        if self.version > 1:
            cfg = self.config or b""
            out += _INT.pack(len(cfg)) + cfg
        return out + self.extra

    @staticmethod
    def decode(buf: bytes) -> Notification:
        """WorkerReceiver.run's parse. Raises ElectionWireError where Java logs and skips."""
        cap = len(buf)
        if cap < 28:
            raise ElectionWireError(f"Got a short response: {cap}")
        state, leader, zxid, epoch = _HEAD.unpack_from(buf, 0)
        if cap == 28:
            # Before ZK-107 there was no peerEpoch: Java derives it from the zxid's high half.
            return Notification(state, leader, zxid, epoch, zxid >> 32, version=0, config=None,
                                form="v28")
        if cap < 36:
            raise ElectionWireError(f"partial / malformed message (length {cap})")
        (peer_epoch,) = _LONG.unpack_from(buf, 28)
        if cap == 40:
            return Notification(state, leader, zxid, epoch, peer_epoch, version=0, config=None,
                                form="v40", extra=bytes(buf[36:]))
        if cap < 40:
            raise ElectionWireError(f"partial / malformed message (length {cap})")
        (version,) = _INT.unpack_from(buf, 36)
        if version <= 1:
            return Notification(state, leader, zxid, epoch, peer_epoch, version=version,
                                config=None, extra=bytes(buf[40:]))
        if cap < 44:
            raise ElectionWireError(f"partial / malformed message (length {cap})")
        (n,) = _INT.unpack_from(buf, 40)
        if n < 0 or n > cap or 44 + n > cap:
            raise ElectionWireError(f"Invalid configLength in notification message! capacity={cap},"
                                    f" version={version}, configLength={n}")
        return Notification(state, leader, zxid, epoch, peer_epoch, version=version,
                            config=bytes(buf[44:44 + n]), extra=bytes(buf[44 + n:]))


def frame(payload: bytes) -> bytes:
    """SendWorker.send: int length then the payload."""
    return _INT.pack(len(payload)) + payload


def check_frame_len(n: int) -> None:
    """RecvWorker.run refuses lengths <= 0 or above PACKETMAXSIZE (and drops the connection)."""
    if n <= 0 or n > PACKETMAXSIZE:
        raise ElectionWireError(f"Received packet with invalid packet: {n}")
