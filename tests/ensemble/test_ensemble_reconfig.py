"""Dynamic reconfiguration on a 3-node pyzk ensemble (reconfigEnabled=true, superDigest for
"super:test" as kazoo's harness sets it): kazoo's TestReconfig scenarios, and removing a
follower and adding it back (PrepRequestProcessor's reconfig branch, Leader.tryToCommit's
COMMITANDACTIVATE, QuorumPeer.processReconfig; zookeeperReconfig.md: a removed server becomes a
non-voting follower and keeps serving, but its votes stop counting)."""

from __future__ import annotations

import functools
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadArgumentsError, BadVersionError, NoAuthError

from tests.ensemble.launcher import Ensemble, Member, four_letter, start_client, wait_for

HOSTS = ["127.0.6.1", "127.0.6.2", "127.0.6.3"]
JAVA_HOSTS = ["127.0.6.7", "127.0.6.8", "127.0.6.9"]
SUPER = {"DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
         "reconfigEnabled": "true", "syncLimit": "5"}


def _super(hosts: str) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=8.0, auth_data=[("digest", "super:test")],
                    connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 1.0})
    c.start(timeout=15)
    return c


def _version(data: bytes) -> int:
    return int(data.decode().split("\n")[-1].split("=")[1], 16)


def _shows(host: str, text: str) -> bool:
    return _membership(host) == text


def _membership(host: str) -> str:
    """The `conf` output's membership lines (server.N=... and version=...)."""
    return "\n".join(ln for ln in four_letter(host, "conf").splitlines()
                     if ln.startswith(("server.", "version=")))


@pytest.fixture
def ens(make_ensemble) -> Iterator[Ensemble]:  # type: ignore[no-untyped-def]
    e: Ensemble = make_ensemble(HOSTS, extra=SUPER)
    e.start(40)
    yield e


@pytest.fixture(params=["pyzk", "java"])
def any_ens(request, make_ensemble) -> Iterator[Ensemble]:  # type: ignore[no-untyped-def]
    """The same scenarios against Java 3.8 members (differential check) on other addresses."""
    if request.param == "pyzk":
        e: Ensemble = make_ensemble(HOSTS, extra=SUPER)
    else:
        e = make_ensemble(JAVA_HOSTS, extra=SUPER, kinds={1: "java", 2: "java", 3: "java"})
    e.start(60)
    yield e


def test_kazoo_reconfig_scenarios_no_auth_add_remove_observer_bad_input(
        any_ens: Ensemble) -> None:
    ens = any_ens
    client = start_client(ens.connect_string)
    try:
        # test_no_super_auth: a valid joiner, but no WRITE on /zookeeper/config
        with pytest.raises(NoAuthError):
            client.reconfig(joining="server.999=0.0.0.0:1234:2345:observer;3456",
                            leaving=None, new_members=None)
        # test_bad_input: parsing fails before the ACL check
        with pytest.raises(BadArgumentsError):
            client.reconfig(joining="some thing", leaving=None, new_members=None)

        # test_add_remove_observer
        sup = _super(ens.connect_string)
        socks = []
        ports = []
        for _ in range(3):
            s = socket.socket()
            s.bind(("", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
        joining = f"server.100=0.0.0.0:{ports[0]}:{ports[1]}:observer;0.0.0.0:{ports[2]}"
        try:
            data, stat = sup.reconfig(joining=joining, leaving=None, new_members=None)
            assert joining.encode() in data
            assert stat.mzxid == _version(data)  # version = the reconfig txn's zxid
            data, _ = sup.reconfig(joining=None, leaving="100", new_members=None)
            assert joining.encode() not in data
            curver = _version(data)
            with pytest.raises(BadVersionError):
                client.reconfig(joining=joining, leaving=None, new_members=None,
                                from_config=curver + 1)
            got, _ = client.get("/zookeeper/config")
            assert got == data
            for m in ens.members.values():  # every member activated the same config
                host, text = m.host, data.decode()
                wait_for(functools.partial(_shows, host, text), 10,
                         f"conf of member {m.sid} to show the new config")
        finally:
            for s in socks:
                s.close()
            sup.stop()
            sup.close()
    finally:
        client.stop()
        client.close()


def test_removed_follower_stops_voting_and_is_added_back(ens: Ensemble) -> None:
    leader = ens.leader()
    f_removed, f_other = ens.followers()
    removed = ens.members[f_removed]
    other = ens.members[f_other]
    sup = _super(ens.members[leader].address)
    try:
        data, _ = sup.reconfig(joining=None, leaving=str(f_removed), new_members=None)
        text = data.decode()
        assert f"server.{f_removed}=" not in text and f"server.{f_other}=" in text
        sup.create("/after-remove", b"1")
        # The removed server keeps serving as a non-voting follower (zookeeperReconfig.md).
        rc = start_client(removed.address)
        try:
            rc.sync("/")
            assert rc.exists("/after-remove") is not None
            assert removed.mode() == "follower"
            wait_for(lambda: _membership(removed.host) == text, 10, "removed member's conf")
        finally:
            rc.stop()
            rc.close()

        # Its vote no longer counts: with the other voter frozen, the quorum is lost.
        assert other.proc is not None
        os.kill(other.proc.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: ens.members[leader].mode() != "leader", 20,
                     "the leader to lose its 2-voter quorum")
        finally:
            os.kill(other.proc.pid, signal.SIGCONT)
        ens.wait_serving(40)

        # Add it back as a participant (incremental joins need all three ports).
        leader = ens.leader()
        sup2 = _super(ens.members[leader].address)
        try:
            joiner = f"server.{f_removed}={removed.host}:2888:3888:participant;{removed.host}:2181"
            data, _ = sup2.reconfig(joining=joiner, leaving=None, new_members=None)
            assert joiner.encode() in data
            sup2.create("/after-add", b"2")
            # Now it counts: freeze the other follower; the quorum {leader, re-added} holds.
            others = [s for s in ens.followers() if s != f_removed]
            frozen = ens.members[others[0]] if others else None
            if frozen is not None and frozen.proc is not None:
                os.kill(frozen.proc.pid, signal.SIGSTOP)
                try:
                    sup2.create("/while-frozen", b"3")
                    assert ens.members[leader].mode() == "leader"
                finally:
                    os.kill(frozen.proc.pid, signal.SIGCONT)
        finally:
            sup2.stop()
            sup2.close()
    finally:
        sup.stop()
        sup.close()


# -- restart after a reconfig: zoo.cfg points at zoo.cfg.dynamic.<version> -----------------------

def _config_files(m: Member) -> dict[str, str]:
    """zoo.cfg and its siblings (.bak, .dynamic.*) as the member left them."""
    return {p.name: p.read_text() for p in sorted(m.workdir.iterdir())
            if p.name.startswith("zoo.cfg") and not p.name.endswith(".tmp")}


def _restart_keeping_files(m: Member) -> None:
    """Member.start writes zoo.cfg from m.cfg: hand it the file as the server rewrote it, so the
    restart reads exactly what was on disk (checked by the caller)."""
    props = [ln.split("=", 1) for ln in (m.workdir / "zoo.cfg").read_text().splitlines() if ln]
    m.cfg = {k: v for k, v in props}
    m.start()


def _election_port_open(host: str) -> bool:
    try:
        with socket.create_connection((host, 3888), timeout=0.5):
            return True
    except OSError:
        return False


def _start_highest_first(e: Ensemble) -> None:
    """The scenario needs sid 3 to lead: start it first, so that 1 and 2 find its vote when
    they look. Started together on a loaded machine, a member 3 that comes up half a second
    late loses the election to 2, on Java as on pyzk."""
    e.members[3].start()
    wait_for(lambda: _election_port_open(e.members[3].host), 30, "member 3's election port")
    for sid in (1, 2):
        e.members[sid].start()
    e.wait_serving(60)


def _reconfig_restart_scenario(e: Ensemble, root: Path, hosts: list[str]) -> list[object]:
    """Remove follower 1 (sid 3 leads: the highest sid wins a fresh election), restart the
    members of the new config (SIGTERM), see the removed one refuse to start, kill -9 one
    survivor and restart it. Returns each step's observations with paths and addresses made
    neutral, to compare pyzk with Java."""
    def neutral(text: str) -> str:
        text = text.replace(str(root), "<root>")
        for i, h in enumerate(hosts, 1):
            text = text.replace(h, f"<h{i}>")
        return text

    def files() -> dict[int, dict[str, str]]:
        return {sid: {k: neutral(v) for k, v in _config_files(m).items()}
                for sid, m in e.members.items()}

    seen: list[object] = []
    _start_highest_first(e)
    assert e.leader() == 3, e.modes()
    seen.append(files())  # after boot: zoo.cfg.bak and the epoch-1 dynamic file
    sup = _super(e.members[3].address)
    try:
        data, _ = sup.reconfig(joining=None, leaving="1", new_members=None)
        sup.create("/after-reconfig", b"x")
    finally:
        sup.stop()
        sup.close()
    text = data.decode()
    for m in e.members.values():
        wait_for(functools.partial(_shows, m.host, text), 10, f"member {m.sid} to activate")
    seen.append(neutral(text))
    e.stop()
    seen.append(files())  # after the reconfig and a clean stop

    removed, kept = e.members[1], [e.members[2], e.members[3]]
    before = {m.sid: (m.workdir / "zoo.cfg").read_bytes() for m in kept}
    for m in kept:
        _restart_keeping_files(m)
        assert (m.workdir / "zoo.cfg").read_bytes() == before[m.sid]
    e.wait_serving(60, members=[2, 3])
    for m in kept:
        assert _membership(m.host) == text, (m.sid, _membership(m.host))
    c = start_client(",".join(m.address for m in kept))
    try:
        got, _ = c.get("/zookeeper/config")
        assert got.decode() == text
        assert c.exists("/after-reconfig") is not None
    finally:
        c.stop()
        c.close()

    # The removed server is in no server list now: Java's QuorumPeer.start throws "My id 1 not
    # in the peer list" and exits; pyzk refuses the same config.
    _restart_keeping_files(removed)
    assert removed.proc is not None
    assert removed.proc.wait(60) != 0
    seen.append("My id 1 not in the peer list" in removed.log_text())

    # kill -9 a survivor; it comes back with the reconfigured membership.
    victim = e.members[e.followers()[0]] if e.followers() else kept[0]
    victim.kill9()
    _restart_keeping_files(victim)
    e.wait_serving(60, members=[2, 3])
    assert _membership(victim.host) == text
    seen.append(files())  # a restart rewrites nothing
    return seen


def test_restart_after_reconfig_keeps_the_new_membership_and_writes_files_as_java(
        workdir: Path) -> None:
    runs: dict[str, list[object]] = {}
    for kind, hosts in (("pyzk", HOSTS), ("java", JAVA_HOSTS)):
        root = workdir / kind
        e = Ensemble(root, hosts, extra=SUPER,
                     kinds={i: kind for i in (1, 2, 3)})
        try:
            runs[kind] = _reconfig_restart_scenario(e, root, hosts)
        except BaseException:
            print(e.logs(40))
            raise
        finally:
            e.stop()
    pyzk_run, java_run = runs["pyzk"], runs["java"]
    assert pyzk_run[1] == java_run[1]  # the new config text
    assert pyzk_run[3] is True and java_run[3] is True
    for step in (0, 2, 4):
        assert pyzk_run[step] == java_run[step], (step, pyzk_run[step], java_run[step])


def test_member_down_during_a_reconfig_learns_it_from_election_notifications(
        any_ens: Ensemble) -> None:
    """FastLeaderElection's WorkerReceiver: a LOOKING server told about a newer config in a
    notification processReconfigs it and restarts its election under it. Member 1 sleeps
    through a reconfig that makes it an observer; on restart it observes at once."""
    ens = any_ens
    m1 = ens.members[1]
    if ens.leader() == 1:
        pytest.skip("member 1 leads; the scenario needs it to be a follower")
    m1.stop()
    ens.wait_serving(30, members=[2, 3])
    hosts = {sid: m.host for sid, m in ens.members.items()}
    members = ",".join(
        f"server.{sid}={h}:2888:3888:{'observer' if sid == 1 else 'participant'};{h}:2181"
        for sid, h in hosts.items())
    sup = _super(",".join(ens.members[s].address for s in (2, 3)))
    try:
        data, _ = sup.reconfig(joining=None, leaving=None, new_members=members)
    finally:
        sup.stop()
        sup.close()
    text = data.decode()
    version = _version(data)
    _restart_keeping_files(m1)
    wait_for(lambda: m1.mode() == "observer", 30, "member 1 to observe")
    assert _membership(m1.host) == text
    assert f"Received version: {version:x} my version:" in m1.log_text()
    cfg = (m1.workdir / "zoo.cfg").read_text()
    assert f"dynamicConfigFile={m1.workdir.resolve()}/zoo.cfg.dynamic.{version:x}\n" in cfg
    assert "clientPort=" not in cfg  # the client address moved into the dynamic file


def _reconfig_away(sup: KazooClient, sid: int) -> bytes:
    """reconfig(leaving=sid), the new config's data. The member the client is on may leave its
    role while answering (Java's does when it hands leadership over) and the client then sees
    ConnectionLoss without knowing the outcome: read /zookeeper/config after reconnecting,
    and ask again only if the change did not commit."""
    from kazoo.exceptions import ConnectionLoss

    gone = f"server.{sid}="
    for _ in range(3):
        try:
            data, _ = sup.reconfig(joining=None, leaving=str(sid), new_members=None)
        except ConnectionLoss:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    sup.sync("/zookeeper/config")  # not a stale view of an older config
                    data, _ = sup.get("/zookeeper/config")
                    break
                except ConnectionLoss:
                    time.sleep(0.05)
            else:
                continue
            if gone in data.decode():
                continue
        assert gone not in data.decode()
        return bytes(data)
    raise AssertionError(f"reconfig removing {sid} did not commit in 3 attempts")


def test_removing_the_leader_leaves_a_working_ensemble_without_losing_writes(
        any_ens: Ensemble) -> None:
    """Reconfig away the current leader: the remaining voters get a new leader (Java: the
    designated leader takes over; pyzk: a new election), the old leader follows as a
    non-voter, and every acknowledged write is there."""
    from kazoo.exceptions import ConnectionLoss, NodeExistsError

    ens = any_ens
    old = ens.leader()
    sup = _super(ens.connect_string)
    try:
        acked = []
        for i in range(10):
            sup.create(f"/before-{i}", b"x")
            acked.append(f"/before-{i}")
        data = _reconfig_away(sup, old)
        for i in range(10):
            for _ in range(200):  # ConnectionLoss while the new leader takes over: retry
                try:
                    sup.create(f"/after-{i}", b"y")
                    break
                except NodeExistsError:
                    break
                except ConnectionLoss:
                    wait_for(lambda: sup.connected, 10, "reconnect")
            acked.append(f"/after-{i}")
        modes = ens.wait_serving(30)
        new = [s for s, v in modes.items() if v == "leader"]
        assert new and new[0] != old and modes[old] == "follower", modes
        if ens.kind(new[0]) == "pyzk":
            # As Java: no election, every member takes the designated leader (reconfigFlag).
            for m in ens.members.values():
                assert "following the reconfig's designated leader" in m.log_text(), m.sid
        for m in ens.members.values():
            wait_for(functools.partial(_shows, m.host, data.decode()), 10, f"conf of {m.sid}")
            c = start_client(m.address)
            try:
                c.sync("/")
                assert [p for p in acked if c.exists(p) is None] == []
            finally:
                c.stop()
                c.close()
    finally:
        sup.stop()
        sup.close()
