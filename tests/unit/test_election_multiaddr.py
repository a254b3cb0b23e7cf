"""The election connection manager under multiAddress.enabled (QuorumCnxManager with
MultipleAddresses), over loopback 127.0.20.x / 127.0.21.x: a listener per election address,
the V2 initial message carrying every address, the dialled address chosen by the
reachability pick, a connection whose peer stops answering probes dropped; and the probes of
pyzk.server.reachability."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sequence

import pytest

from pyzk.server import reachability
from pyzk.server.reachability import all_reachable_or_all, is_reachable, reachable_or_one
from pyzk.zab.election_addresses import Addr, MultiAddress
from pyzk.zab.election_transport import QuorumCnxManager
from pyzk.zab.packets_election import PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2, InitialMessage


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def test_listens_on_every_address_and_sends_v2_with_all_of_them() -> None:
    port = free_port("127.0.20.2")
    mine = [("127.0.20.2", port), ("127.0.21.2", port)]
    lst = socket.create_server(("127.0.21.1", 0))
    lst.settimeout(10)
    peer1 = [("127.0.20.1", free_port("127.0.20.1")), ("127.0.21.1", lst.getsockname()[1])]
    picked: list[Sequence[Addr]] = []

    async def pick(addrs: Sequence[Addr], timeout_s: float) -> Addr:
        picked.append(addrs)
        return addrs[1]  # as if only the second link answered

    async def main() -> bytes:
        m = QuorumCnxManager(2, mine, {1: peer1}, multi=MultiAddress(True, pick=pick))
        await m.start()
        try:
            for addr in mine:  # Listener: one ListenerHandler per address
                with socket.create_connection(addr, timeout=5):
                    pass
            m.to_send(1, b"vote")
            loop = asyncio.get_running_loop()
            d, _ = await loop.run_in_executor(None, lst.accept)
            d.settimeout(5)
            got = b""
            while len(got) < 20 or len(got) < 20 + struct.unpack(">i", got[16:20])[0]:
                got += await loop.run_in_executor(None, d.recv, 4096)
            d.close()
            return got
        finally:
            await m.close()
            lst.close()

    got = asyncio.run(main())
    msg = InitialMessage.decode(got[:20 + struct.unpack(">i", got[16:20])[0]])
    assert msg.protocol_version == PROTOCOL_VERSION_V2 and msg.sid == 2
    assert msg.host_ports() == mine
    assert picked == [peer1]


def test_without_the_flag_the_handshake_stays_v1_with_one_address() -> None:
    m = QuorumCnxManager(2, [("127.0.20.2", 3888), ("127.0.21.2", 3888)], {})
    msg = m.initial_message()
    assert msg.protocol_version == PROTOCOL_VERSION_V1 and msg.addresses == "127.0.20.2:3888"


def test_a_connection_whose_peer_stops_answering_is_dropped() -> None:
    """connectOne with a connection already there: asyncValidateIfSocketIsStillReachable."""
    answers = {"up": True}

    async def reachable(host: str, timeout_s: float) -> bool:
        return answers["up"]

    async def main() -> tuple[bool, bool]:
        port = free_port("127.0.20.4")
        peer = QuorumCnxManager(4, ("127.0.20.4", port), {})
        await peer.start()
        m = QuorumCnxManager(5, ("127.0.20.5", free_port("127.0.20.5")),
                             {4: [("127.0.20.4", port)]},
                             multi=MultiAddress(True, reachable=reachable))
        await m.start()
        try:
            m.to_send(4, b"x")
            for _ in range(200):
                if m.connected(4):
                    break
                await asyncio.sleep(0.01)
            m.connect_one(4)           # the peer answers: kept
            await asyncio.sleep(0.05)
            kept = m.connected(4)
            answers["up"] = False
            m.connect_one(4)           # it no longer does: dropped
            for _ in range(200):
                if not m.connected(4):
                    break
                await asyncio.sleep(0.01)
            return kept, m.connected(4)
        finally:
            await m.close()
            await peer.close()

    assert asyncio.run(main()) == (True, False)


def test_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused port 7 is a host that answers. The choices over several addresses, with a
    stand-in probe (no traffic may leave this machine): the reachable one, or all/the first
    when none is."""
    async def fake(host: str, timeout_s: float) -> bool:
        if host == "10.0.0.1":
            await asyncio.sleep(timeout_s)
            return False
        return True

    async def main() -> tuple[bool, Addr, list[Addr], list[Addr], Addr]:
        up = await is_reachable("127.0.20.9", 1.0)
        monkeypatch.setattr(reachability, "is_reachable", fake)
        one = await reachable_or_one([("10.0.0.1", 1), ("127.0.21.9", 2)], 0.2)
        some = await all_reachable_or_all([("10.0.0.1", 1), ("127.0.21.9", 2)], 0.2)
        none = await all_reachable_or_all([("10.0.0.1", 1), ("10.0.0.1", 2)], 0.2)
        first = await reachable_or_one([("10.0.0.1", 1), ("10.0.0.1", 2)], 0.2)
        return up, one, some, none, first

    up, one, some, none, first = asyncio.run(main())
    assert up
    assert one == ("127.0.21.9", 2)
    assert some == [("127.0.21.9", 2)]
    assert none == [("10.0.0.1", 1), ("10.0.0.1", 2)]
    assert first == ("10.0.0.1", 1)
