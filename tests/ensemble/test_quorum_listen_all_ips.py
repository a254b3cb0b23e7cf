"""quorumListenOnAllIPs=true: members bind their election port, and the leader its quorum port,
on the wildcard address instead of the server line's host (QuorumCnxManager.Listener,
Leader(), MultipleAddresses.getWildcardAddresses). Three members of each kind, each in its own
network namespace on one bridge (binding the wildcard is safe there); the listening sockets of
both kinds must match, and the ensemble must serve a write.

Namespaces are named pzla<pid>-*; skipped where they cannot be made (not root).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyzk.testing import netns as _ns
from pyzk.testing.netns import MemberLinks, ip
from tests.ensemble.launcher import Ensemble, four_letter, start_client

PREFIX = "pzla"
SUBNET = "10.81.1"
N = 3


class Star(MemberLinks):
    def __init__(self) -> None:
        super().__init__(PREFIX, (SUBNET,), N)

    def listening(self, i: int) -> set[str]:
        """The member's listening quorum/election sockets as 'wildcard:port' or 'addr:port'
        (Java's one dual-stack socket and pyzk's IPv4 + IPv6 pair both read 'wildcard')."""
        out = ip("netns", "exec", self.names[i], "ss", "-Hltn").stdout
        found = set()
        for line in out.splitlines():
            local = line.split()[3]
            host, port = local.rsplit(":", 1)
            if port not in ("2888", "3888"):
                continue
            wild = host in ("*", "0.0.0.0", "[::]", "[::ffff:0.0.0.0]")
            found.add(f"{'wildcard' if wild else host}:{port}")
        return found


@pytest.fixture
def star() -> Iterator[Star]:
    reason = _ns.unavailable_reason(f"{PREFIX}probe{os.getpid()}")
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    net = Star()
    try:
        net.create()
        yield net
    finally:
        net.destroy()


def _run(kind: str, workdir: Path, net: Star) -> dict[str, set[str]]:
    ens = Ensemble(workdir / kind, [f"{SUBNET}.{i}" for i in net.names], tick_ms=200,
                   kinds={i: kind for i in net.names},
                   extra={"quorumListenOnAllIPs": "true", "initLimit": "10", "syncLimit": "5"})
    for i, m in ens.members.items():
        m.cmd_prefix = ["ip", "netns", "exec", net.names[i]]
        m.fourlw = functools.partial(lambda th, host, word: th.run(four_letter, host, word),
                                     net.threads[i])
    try:
        ens.start(timeout=60)
        leader = ens.leader()

        def write() -> bytes:
            c = start_client(ens.members[leader].address)
            try:
                c.create("/all-ips", b"ok")
                c.sync("/all-ips")
                return bytes(c.get("/all-ips")[0])
            finally:
                c.stop()
                c.close()
        assert net.threads[leader].run(write, timeout=60) == b"ok"
        return {"leader": net.listening(leader),
                "followers": set().union(*(net.listening(i) for i in net.names if i != leader))}
    finally:
        ens.stop()


def test_members_listen_on_every_ip_as_java(workdir: Path, star: Star) -> None:
    java = _run("java", workdir, star)
    pyzk = _run("pyzk", workdir, star)
    assert java == {"leader": {"wildcard:2888", "wildcard:3888"},
                    "followers": {"wildcard:3888"}}, java
    assert pyzk == java
