"""quorumCnxnTimeoutMs against Java ZooKeeper 3.8.0: a connection to the election port that
never sends its initial message is dropped once the socket timeout runs out --
quorumCnxnTimeoutMs when set, else tickTime * syncLimit (QuorumPeer.createCnxnManager).

Each kind runs as a one-member quorum (standaloneEnabled=false), which listens on its election
port; the time from connect to the server's close is compared.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.servers import ServerProc, free_port, java_available

pytestmark = [pytest.mark.java, pytest.mark.slow,
              pytest.mark.skipif(not java_available(), reason="Java ZooKeeper not installed")]

HOSTS = {"java": "127.0.0.227", "pyzk": "127.0.0.228"}


def idle_close_after(kind: str, workdir: Path, extra: dict[str, str]) -> float:
    host = HOSTS[kind]
    election = free_port(host)
    cfg = {"tickTime": "200", "initLimit": "10", "syncLimit": "5",
           "standaloneEnabled": "false",
           "server.1": f"{host}:{free_port(host)}:{election}", **extra}
    srv = ServerProc(kind, workdir / kind, host=host, cfg=cfg)
    srv.datadir.mkdir(parents=True, exist_ok=True)
    (srv.datadir / "myid").write_text("1\n")
    srv.start(timeout=60)
    try:
        with socket.create_connection((host, election), timeout=10) as s:
            t0 = time.monotonic()
            try:
                got = s.recv(1)  # the server sends nothing first; b"" when it closes
            except ConnectionResetError:
                got = b""
            assert got == b""
            return time.monotonic() - t0
    finally:
        srv.stop()


@pytest.mark.parametrize("extra, expect", [
    ({"quorumCnxnTimeoutMs": "2000"}, 2.0),
    ({}, 1.0),  # tickTime 200 * syncLimit 5
], ids=["quorumCnxnTimeoutMs", "tickTime-x-syncLimit"])
def test_idle_election_connection_dropped_like_java(workdir: Path, extra: dict[str, str],
                                                    expect: float) -> None:
    got = {kind: idle_close_after(kind, workdir / kind, extra) for kind in ("java", "pyzk")}
    print(got)
    for kind, seconds in got.items():
        assert expect * 0.9 <= seconds <= expect + 1.5, kind
    assert abs(got["pyzk"] - got["java"]) < 0.75
