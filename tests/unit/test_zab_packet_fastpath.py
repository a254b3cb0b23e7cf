"""The quorum packet fast paths (no-authinfo encode, stream decode) produce and accept exactly
the bytes of the generic QuorumPacket record codec."""

from __future__ import annotations

import random

from pyzk.protocol import records as r
from pyzk.zab.packets import PT, QuorumStreamReader, encode_packet, packet


def _samples() -> list[object]:
    rng = random.Random(7)
    out: list[object] = [packet(PT.ACK, 0x100000001), packet(PT.COMMIT, -1),
                         packet(PT.PROPOSAL, 5, b""), packet(PT.UPTODATE, -1, None, []),
                         packet(PT.PING, 9, b"xy", [r.Id("digest", "u:p")])]
    for _ in range(50):
        data = None if rng.random() < 0.2 else rng.randbytes(rng.randrange(0, 300))
        out.append(packet(rng.choice([t for t in PT if t != PT.SNAP]), rng.randrange(-1, 1 << 62), data))
    return out


def test_encode_packet_matches_the_record_codec() -> None:
    for qp in _samples():
        assert encode_packet(qp) == bytes(r.QuorumPacket.to_bytes(qp))


def test_stream_reader_decodes_what_the_record_codec_decodes_split_anywhere() -> None:
    qps = _samples()
    wire = b"".join(bytes(r.QuorumPacket.to_bytes(q)) for q in qps)
    for step in (1, 7, 64, len(wire)):
        rd = QuorumStreamReader()
        got = []
        for i in range(0, len(wire), step):
            got += [item.qp for item in rd.feed(wire[i:i + step])]
        assert got == qps
