"""zoo.cfg keys that change sockets and start-up, each checked on Java ZooKeeper 3.8.0 and pyzk
in the same test (loopback 127.0.28.x for Java members, 127.0.29.x for pyzk):

- tcpKeepAlive: SO_KEEPALIVE on both ends of every election-port connection
  (QuorumCnxManager.setSockOpts), not on the learner connections to the quorum port.
- electionPortBindRetry: a member whose election port is taken tries to bind it that many
  times, 1 s apart, logs that it leaves the listener and exits with 14
  (UNABLE_TO_BIND_QUORUM_PORT); 0 keeps trying and binds once the port is free.
- leaderServes=no: the leader's client port finds no server; followers serve.
- syncEnabled=false: an observer writes no txn log or snapshot while it serves.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ensemble.launcher import Ensemble, four_letter, start_client, wait_for
from tests.integration.rawclient import ConnectionClosed, RawClient
from tests.mixed.mixhelp import close_all

SUBNETS = {"java": "127.0.28", "pyzk": "127.0.29"}


@pytest.fixture
def ensembles(workdir: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Ensemble]]:
    """One 3-member ensemble of each kind (not started), stopped at teardown."""
    made: dict[str, Ensemble] = {}
    extra: dict[str, str] = getattr(request, "param", {})
    for kind, subnet in SUBNETS.items():
        made[kind] = Ensemble(workdir / kind, [f"{subnet}.{i}" for i in (1, 2, 3)],
                              extra=extra, kinds=dict.fromkeys((1, 2, 3), kind))
    yield made
    rep = getattr(request.node, "rep_call", None)
    for e in made.values():
        if rep is not None and rep.failed:
            print(e.logs(60))
        e.stop()


def keepalive_by_port(subnet: str) -> dict[int, dict[tuple[str, str], bool]]:
    """Quorum port (2888 or 3888) -> {(local, peer) address of each established socket that
    has one end on that port of a member in subnet: whether ss shows its keepalive timer}.
    A dialling member's own end may be on 127.0.0.1 (Java's, the route's source address), so
    sockets are matched by the member's end; Java's are IPv6 sockets, shown as
    [::ffff:127.0.28.1]:3888."""
    out = subprocess.run(["ss", "-tnoeH", "state", "established"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    seen: dict[int, dict[tuple[str, str], bool]] = {2888: {}, 3888: {}}
    for line in out.splitlines():
        ends = re.findall(r"(\S+):(\d+)\s", line)[:2]
        for host, port in ends:
            if host.strip("[]").removeprefix("::ffff:").startswith(subnet + ".") \
                    and int(port) in seen:
                key = (":".join(ends[0]), ":".join(ends[-1]))
                seen[int(port)][key] = "timer:(keepalive" in line
                break
    return seen


def keepalive_over_samples(subnet: str, samples: int = 5,
                           gap_s: float = 0.2) -> dict[int, dict[tuple[str, str], bool]]:
    """keepalive_by_port over a few samples: a socket counts as keepalive if any sample shows
    its keepalive timer. ss shows one timer per socket, and a socket with data in flight
    shows its retransmit timer ("on") instead (seen in CI on an election connection sending
    a vote); a socket without SO_KEEPALIVE never shows the keepalive timer."""
    merged: dict[int, dict[tuple[str, str], bool]] = {2888: {}, 3888: {}}
    for i in range(samples):
        for port, socks in keepalive_by_port(subnet).items():
            for key, on in socks.items():
                merged[port][key] = merged[port].get(key, False) or on
        if i + 1 < samples:
            time.sleep(gap_s)
    return merged


@pytest.mark.parametrize("ensembles", [{"tcpKeepAlive": "true"}], indirect=True)
def test_tcp_keep_alive_on_election_connections_only(ensembles: dict[str, Ensemble]) -> None:
    for e in ensembles.values():
        for m in e.members.values():
            m.start()
    for e in ensembles.values():
        e.wait_serving(40)
    for kind, subnet in SUBNETS.items():
        # Both learners' connections to the leader's quorum port (two ends each) and at least
        # one election connection: Java redials a dropped election connection only when it
        # has a vote to send, so how many outlive the election varies.
        wait_for(lambda s=subnet: (k := keepalive_by_port(s)) and len(k[3888]) >= 2
                 and len(k[2888]) == 4, 10, f"the {kind} quorum connections")
        seen = keepalive_over_samples(subnet)
        # Sockets that closed between samples still count: each was seen established.
        assert all(seen[3888].values()) and not any(seen[2888].values()), (kind, seen)


def test_election_port_bind_retry(ensembles: dict[str, Ensemble]) -> None:
    """Member 1 of each kind with electionPortBindRetry=2 gives up and exits with 14; member 2
    with 0 keeps trying and binds once the port is free (run side by side to save time)."""
    giving_up = [e.members[1] for e in ensembles.values()]
    for_ever = [e.members[2] for e in ensembles.values()]
    for m in giving_up:
        m.cfg["electionPortBindRetry"] = "2"
    for m in for_ever:
        m.cfg["electionPortBindRetry"] = "0"
    with _taken([m.host for m in giving_up + for_ever]):
        started = time.monotonic()
        for m in giving_up + for_ever:
            m.start()
        for m in giving_up:
            assert m.proc is not None
            assert m.proc.wait(60) == 14, m.tail_log()
            log = m.log_text()
            assert log.count("Exception while listening to address") == 2, m.tail_log()
            assert re.search(rf"Leaving listener thread for address {m.host}:3888 after 2 "
                             "errors. Use zookeeper.electionPortBindRetry property to increase"
                             " retry count.", log), m.tail_log()
            assert "I won't be able to participate in leader election any longer" in log
        assert time.monotonic() - started >= 2.0  # two failed binds, each followed by 1 s
        for m in for_ever:  # at least 4 failed binds: more than the default 3
            wait_for(lambda m=m: m.log_text().count("Exception while listening to address") >= 4,
                     30, f"member {m.host} retrying")
            assert m.running, m.tail_log()
    for m in for_ever:
        wait_for(lambda m=m: re.search(r"accepting connections now, my election bind port: "
                                       rf"\S*{m.host}:3888", m.log_text()),
                 10, f"member {m.host} binding once the port is free")
        assert m.running


class _taken:
    """Hold port 3888 of each host so a member cannot bind it: listening, as SO_REUSEADDR
    (which both kinds set, and which this needs past earlier tests' TIME_WAIT sockets) lets
    a second socket bind a port that none listens on."""

    def __init__(self, hosts: list[str]) -> None:
        self.socks: list[socket.socket] = []
        for h in hosts:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((h, 3888))
            s.listen(1)
            self.socks.append(s)

    def __enter__(self) -> _taken:
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.socks:
            s.close()


NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


@pytest.mark.parametrize("ensembles", [{"leaderServes": "no"}], indirect=True)
def test_leader_serves_no(ensembles: dict[str, Ensemble]) -> None:
    """leaderServes=no: the leader's client port has no server (Leader.lead does not hand it
    over): its four-letter words say so, a session attempt is closed with NIOServerCnxn's
    "ZooKeeperServer not running"; followers serve, writes go through the leader."""
    for e in ensembles.values():
        for m in e.members.values():
            m.start()
    words = ("srvr", "mntr", "stat", "cons", "conf", "isro", "ruok")
    seen: dict[str, dict[str, str]] = {}
    for kind, e in ensembles.items():
        modes = wait_for(lambda e=e: (ms := e.modes()) and sorted(map(str, ms.values()))
                         == ["None", "follower", "follower"] and ms, 40,
                         f"the {kind} followers")
        assert isinstance(modes, dict)
        leader = e.members[next(s for s, v in modes.items() if v is None)]
        seen[kind] = {w: four_letter(leader.host, w) for w in words}
        with pytest.raises((ConnectionClosed, OSError)):
            RawClient(leader.host, 2181).connect(5000)
        wait_for(lambda m=leader: "ZooKeeperServer not running" in m.log_text(), 10,
                 f"the {kind} leader's log line")
        followers = [m for m in e.members.values() if m is not leader]
        a, b = (start_client(m.address) for m in followers)
        try:
            a.create("/served", b"x")
            b.sync("/served")
            assert b.get("/served")[0] == b"x"
        finally:
            close_all((a, b))
    assert seen["pyzk"] == seen["java"]
    assert seen["java"] == {**dict.fromkeys(words[:5], NOT_SERVING), "isro": "null",
                            "ruok": "imok"}


def _files(datadir: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns)
            for p in (datadir / "version-2").iterdir() if p.name.startswith(("log.", "snapshot."))}


def test_observer_sync_enabled_false_writes_nothing(workdir: Path) -> None:
    """syncEnabled=false: an observer writes no txn log and no snapshot while it serves (the
    followers roll logs and snapshot every few writes, snapCount=10); restarted, it syncs from
    the leader and has every write."""
    made = {kind: Ensemble(workdir / kind, [f"{subnet}.{i}" for i in (1, 2, 3)],
                           extra={"syncEnabled": "false", "snapCount": "10"},
                           observers=(3,), kinds=dict.fromkeys((1, 2, 3), kind))
            for kind, subnet in SUBNETS.items()}
    try:
        for e in made.values():
            for m in e.members.values():
                m.start()
        for e in made.values():
            e.wait_serving(40)
        for kind, e in made.items():
            obs = e.members[3]
            before = _files(obs.datadir)
            follower_before = _files(e.members[1].datadir)
            c = start_client(obs.address)
            try:
                for i in range(30):
                    c.create(f"/o{i}", b"x")
                c.sync("/")
                assert c.exists("/o29") is not None
            finally:
                close_all([c])
            assert _files(obs.datadir) == before, (kind, before, _files(obs.datadir))
            assert _files(e.members[1].datadir) != follower_before, kind
            obs.stop()
            obs.start()
            e.wait_serving(40)
            c = start_client(obs.address)
            try:
                assert c.exists("/o29") is not None, kind
            finally:
                close_all([c])
    finally:
        for e in made.values():
            e.stop()
