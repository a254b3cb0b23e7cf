"""multiAddress.enabled over real links: three pyzk members, each in its own network namespace
with two links (10.79.1.i on one bridge, 10.79.2.i on another), every server line listing both
addresses. Cutting the first bridge (its br0 goes down, so every frame on that link is dropped,
as a failed switch would) must leave an ensemble that re-forms over the second link: election
connections probe and drop their dead peers and redial a reachable address, learners reach the
leader on its surviving address, and writes keep being acknowledged everywhere.

Namespaces are named pzma<pid>-*; skipped where they cannot be made (not root).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyzk.testing import netns as _ns
from pyzk.testing.netns import MemberLinks, NsThread, ip
from tests.ensemble.launcher import Ensemble, four_letter, start_client, wait_for

PREFIX = "pzma"
LINKS = ("10.79.1", "10.79.2")
N = 3


class TwoLinks(MemberLinks):
    """N member namespaces, each on two bridges (hub namespaces h1 and h2)."""

    def __init__(self) -> None:
        super().__init__(PREFIX, LINKS, N)


def _probe(th: NsThread, host: str, word: str) -> str:
    return th.run(four_letter, host, word)


@pytest.fixture
def two_links() -> Iterator[TwoLinks]:
    reason = _ns.unavailable_reason(f"{PREFIX}probe{os.getpid()}")
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    net = TwoLinks()
    try:
        net.create()
        yield net
    finally:
        net.destroy()


def _ensemble(workdir: Path, net: TwoLinks) -> Ensemble:
    # Clients and the 4LW probes use the first link's address from inside the member's own
    # namespace (local delivery), so they keep working when that link is cut.
    ens = Ensemble(workdir, [f"{LINKS[0]}.{i}" for i in net.names], tick_ms=200,
                   extra={"initLimit": "10", "syncLimit": "5", "cnxTimeout": "1000",
                          "multiAddress.reachabilityCheckTimeoutMs": "300"})
    lines = {f"server.{i}": "|".join(f"{s}.{i}:2888:3888" for s in LINKS) for i in net.names}
    for i, m in ens.members.items():
        m.cfg.update(lines)
        m.env["SERVER_JVMFLAGS"] = "-Dzookeeper.multiAddress.enabled=true"
        m.cmd_prefix = ["ip", "netns", "exec", net.names[i]]
        m.fourlw = functools.partial(_probe, net.threads[i])
    return ens


def _write_and_read_everywhere(ens: Ensemble, net: TwoLinks, path: str) -> None:
    """Create `path`-i through every member i in turn, then sync + list them on each."""
    def create(i: int) -> None:
        c = start_client(ens.members[i].address)
        try:
            c.create(f"{path}-{i}", b"v", makepath=True)
        finally:
            c.stop()
            c.close()

    def read(i: int) -> list[str]:
        c = start_client(ens.members[i].address)
        try:
            parent = path.rsplit("/", 1)[0]
            c.sync(parent)
            return sorted(c.get_children(parent))
        finally:
            c.stop()
            c.close()

    for i in net.names:
        net.threads[i].run(create, i, timeout=60)
    want = sorted(f"{path.rsplit('/', 1)[1]}-{i}" for i in net.names)
    for i in net.names:
        got = net.threads[i].run(read, i, timeout=60)
        assert [n for n in got if n in want] == want, (i, got)


def test_cutting_one_link_keeps_the_ensemble_writing(workdir: Path, two_links: TwoLinks) -> None:
    ens = _ensemble(workdir, two_links)
    try:
        # Form the ensemble with the second link down, so every election and learner
        # connection starts on the first one; then bring the second up and cut the first.
        two_links.cut(1)
        ens.start(timeout=60)
        # /zookeeper/config (and conf) print both addresses, sorted by host as Java does
        conf = two_links.threads[1].run(four_letter, f"{LINKS[0]}.1", "conf")
        assert f"server.2={LINKS[0]}.2:2888:3888|{LINKS[1]}.2:2888:3888:participant" in conf
        assert "electionPort=3888\n" in conf
        _write_and_read_everywhere(ens, two_links, "/ma/before")
        leader = ens.leader()
        before = _peers(two_links, leader, 2888)
        assert len(before) == N - 1 and all(p.startswith(LINKS[0] + ".") for p in before), before
        two_links.heal(1)
        link = 0
        cut_at = time.monotonic()
        two_links.cut(link)
        # The members notice (learner read timeouts, the leader's lost quorum), re-elect over
        # the second link and serve again; writes are acknowledged by every member.
        wait_for(lambda: _serves_write(ens, two_links), 60, "a write after the cut")
        recovered_s = time.monotonic() - cut_at
        ens.wait_serving(60)
        _write_and_read_everywhere(ens, two_links, "/ma/after")
        leader = ens.leader()
        survivor = LINKS[1 - link] + "."
        after = _peers(two_links, leader, 2888)
        assert len(after) == N - 1 and all(p.startswith(survivor) for p in after), after
        # Every member took part in the election after the cut, so it holds an election
        # connection over the second link (a pair of followers that had nothing more to say
        # once the vote was decided may not have redialled each other yet, as in Java).
        for i in two_links.names:
            remote = _peers(two_links, i, 3888, either_end=True)
            assert any(p.startswith(survivor) for p in remote), (i, remote)
        print(f"multiaddr: cut link {link + 1} carrying {before}; writes acknowledged again"
              f" {recovered_s:.1f} s later, learners now on {after}")
        logs = "\n".join(m.log_text() for m in ens.members.values())
        assert "Traceback" not in logs
    finally:
        ens.stop()


def _peers(net: TwoLinks, member: int, port: int, either_end: bool = False) -> list[str]:
    """Remote addresses of the established TCP connections to `port` (or, with either_end,
    from or to it) inside a member's namespace (`ss`)."""
    match = f"( sport = :{port} or dport = :{port} )" if either_end else f"( sport = :{port} )"
    out = ip("netns", "exec", net.names[member], "ss", "-Htn", "state", "established",
             match).stdout
    return sorted(line.split()[-1].rsplit(":", 1)[0] for line in out.splitlines() if line)


def _serves_write(ens: Ensemble, net: TwoLinks) -> bool:
    """One write through the current leader's client port, acknowledged within 5 s."""
    modes = ens.modes()
    leaders = [i for i, m in modes.items() if m == "leader"]
    if len(leaders) != 1 or sum(m == "follower" for m in modes.values()) != N - 1:
        return False

    def write() -> bool:
        try:
            c = start_client(ens.members[leaders[0]].address, timeout=5)
        except Exception:  # noqa: BLE001 - not serving yet: try again
            return False
        try:
            c.create("/ma/probe-", b"", sequence=True, makepath=True)
            return True
        except Exception:  # noqa: BLE001
            return False
        finally:
            c.stop()
            c.close()
    return bool(net.threads[leaders[0]].run(write, timeout=30))
