"""Live: a 3-node Java ZooKeeper 3.8 ensemble (127.0.0.101-103) elects a leader, and a pyzk FLE
driven by the asyncio election transport, joining as sid 4 (listed as an observer in Java's
config, at 127.0.0.104), learns the same leader and epoch from Java's notifications."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyzk.config.servers import parse_server
from pyzk.zab.election import FLE, Decided
from pyzk.zab.election_service import ElectionService
from pyzk.zab.election_transport import QuorumCnxManager
from pyzk.zab.quorum import QuorumMaj
from pyzk.zab.vote import ServerState
from tests.golden.election import capture_java as capture
from tests.servers import java_available

pytestmark = [pytest.mark.java,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]



@pytest.fixture
def java_ensemble(workdir: Path) -> Iterator[object]:
    ens = capture.JavaEnsemble(workdir / "fle", extra_type="observer")
    t0 = time.monotonic()
    ens.start()
    try:
        ens.elect_seconds = None
        ens.modes_seen = ens.wait_elected(90)
        ens.elect_seconds = time.monotonic() - t0
        yield ens
    finally:
        ens.stop()


def test_pyzk_observer_learns_the_java_leader(java_ensemble: object) -> None:
    ens = java_ensemble
    modes = ens.modes_seen  # type: ignore[attr-defined]
    leader = next(sid for sid, m in modes.items() if m == "leader")
    members = {}
    for line in ens.server_lines():  # type: ignore[attr-defined]
        key, value = line.split("=", 1)
        sid = int(key.split(".")[1])
        members[sid] = parse_server(sid, value)
    q = QuorumMaj(members)
    view = {sid: (s.host, s.election_port) for sid, s in members.items()}

    async def main() -> tuple[Decided, float]:
        svc = ElectionService(FLE(4, q), QuorumCnxManager(4, view[4], view))
        await svc.start()
        try:
            t = time.monotonic()
            d = await asyncio.wait_for(svc.elect(0, 0), 30)
            return d, time.monotonic() - t
        finally:
            await svc.close()

    d, took = asyncio.run(main())
    print(f"java ensemble elected in {ens.elect_seconds:.2f}s (incl. JVM start);"  # type: ignore[attr-defined]
          f" pyzk observer learned the leader in {took * 1000:.0f} ms")
    assert d.state == ServerState.OBSERVING
    assert d.vote.id == leader
    # A fresh ensemble's first established epoch is 1 (QuorumPeer.updateElectionVote).
    assert d.vote.peer_epoch == 1
