"""pyzk.sasl.quorum: the QuorumAuthPacket exchange between a dialling and a listening member
over a real socket pair, Java's config checks, and the peek that leaves unauthenticated
traffic untouched."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from pyzk.sasl.quorum import (
    ERROR,
    MAGIC,
    QuorumAuthError,
    QuorumSaslSettings,
    authenticate_learner,
    authenticate_server,
    build,
    encode_packet,
)
from pyzk.sasl.settings import SecurityConfigError

SERVER = QuorumSaslSettings(True, True, {"member": "pw"}, "member", "pw")


async def _pair() -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter],
                           tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    a, b = socket.socketpair()
    return await asyncio.open_connection(sock=a), await asyncio.open_connection(sock=b)


async def _exchange(learner: QuorumSaslSettings, server: QuorumSaslSettings,
                    after: bytes = b"") -> tuple[object, object, bytes]:
    (lr, lw), (sr, sw) = await _pair()

    async def learn() -> object:
        try:
            await authenticate_learner(lr, lw, learner, 5)
            lw.write(after)
            await lw.drain()
            return "ok"
        except QuorumAuthError as e:
            return e

    async def serve() -> object:
        try:
            return await authenticate_server(sr, sw, server, 5)
        except QuorumAuthError as e:
            return e

    got_l, got_s = await asyncio.gather(learn(), serve())
    rest = await asyncio.wait_for(sr.readexactly(len(after)), 5) if after and \
        not isinstance(got_s, QuorumAuthError) else b""
    for w in (lw, sw):
        w.close()
    return got_l, got_s, rest


@pytest.mark.asyncio
async def test_digest_login_succeeds_and_the_stream_continues() -> None:
    got_l, got_s, rest = await _exchange(SERVER, SERVER, after=b"\x00\x00\x00\x0bpacket")
    assert got_l == "ok" and got_s == "member"
    assert rest == b"\x00\x00\x00\x0bpacket"


@pytest.mark.asyncio
async def test_wrong_password_fails_both_sides_when_required() -> None:
    bad = QuorumSaslSettings(True, True, {}, "member", "nope")
    got_l, got_s, _ = await _exchange(bad, SERVER)
    assert isinstance(got_l, QuorumAuthError) and isinstance(got_s, QuorumAuthError)
    lenient = QuorumSaslSettings(False, True, {"member": "pw"})
    got_l, got_s, _ = await _exchange(bad, lenient)
    assert isinstance(got_l, QuorumAuthError)  # told ERROR, the learner gives up
    assert got_s is None                        # the server would keep the connection


@pytest.mark.asyncio
async def test_no_login_is_peeked_past_or_refused() -> None:
    silent = QuorumSaslSettings(False, False)
    packet = b"\x00\x00\x00\x0b" + b"\x00" * 12
    got_l, got_s, rest = await _exchange(silent, QuorumSaslSettings(False, True), after=packet)
    assert (got_l, got_s, rest) == ("ok", None, packet)  # bytes left for the protocol
    got_l, got_s, _ = await _exchange(silent, SERVER, after=packet)
    assert isinstance(got_s, QuorumAuthError)


def test_packet_layout() -> None:
    assert encode_packet(ERROR, None) == MAGIC.to_bytes(8, "big", signed=True) + \
        b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff"


def test_config_checks_follow_quorum_peer_config(tmp_path: Path) -> None:
    with pytest.raises(SecurityConfigError, match="quorum.auth.enableSasl is disabled, so "
                                                  "cannot enable quorum.auth.serverRequireSasl"):
        build({"quorum.auth.serverRequireSasl": True}, None, frozenset())
    with pytest.raises(SecurityConfigError, match="learnerRequireSasl is disabled, so cannot"):
        build({"quorum.auth.enableSasl": True, "quorum.auth.serverRequireSasl": True}, None,
              frozenset())
    jaas = tmp_path / "j.conf"
    jaas.write_text('QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required'
                    ' user_a="x"; };\n')
    with pytest.raises(SecurityConfigError, match="'QuorumLearner' could not be found"):
        build({"quorum.auth.enableSasl": True, "pyzk.jaas.loginConfig": str(jaas)}, None,
              frozenset())
    assert build({}, None, frozenset()) is None
