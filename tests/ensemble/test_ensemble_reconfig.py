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
from collections.abc import Iterator

import pytest
from ensemble import Ensemble, four_letter, start_client, wait_for
from kazoo.client import KazooClient
from kazoo.exceptions import BadArgumentsError, BadVersionError, NoAuthError

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
