"""pyzk.workers on every member of an ensemble: each member's worker processes follow it
through its roles (leader, follower; re-synced after an election), clients spread over all
processes of all members read each other's writes after sync and see each other's watches
and ephemerals; the same holds beside a Java member.
"""

from __future__ import annotations

import threading

from kazoo.client import KazooClient

from tests.ensemble.launcher import Ensemble, four_letter, start_client, wait_for
from tests.workers_util import workers_serving

HOSTS = ["127.0.31.11", "127.0.31.12", "127.0.31.13"]
WORKERS = {"pyzk.workers": "2"}


def _serving_everywhere(ens: Ensemble) -> bool:
    return all(workers_serving(m.log_text()) == 1 for m in ens.members.values()
               if ens.kind(m.sid) == "pyzk")


def _clients(ens: Ensemble, per_member: int) -> list[KazooClient]:
    return [start_client(m.address) for m in ens.members.values() for _ in range(per_member)]


def _check_replication(clients: list[KazooClient], tag: str) -> None:
    # The same text everywhere, and version -1 as Java's initConfigInZKDatabase leaves it on
    # a quorum member (a worker once kept 0: the follower differential fuzz with workers).
    configs = {(d, st.version) for d, st in (c.get("/zookeeper/config") for c in clients)}
    assert len(configs) == 1, configs
    data, version = configs.pop()
    assert b"server.1=" in data and version == -1, (data, version)
    clients[0].ensure_path(f"/{tag}")
    for i, c in enumerate(clients):
        c.create(f"/{tag}/c{i}", str(i).encode())
    fired = [threading.Event() for _ in clients]
    for i, c in enumerate(clients):
        c.sync(f"/{tag}")
        assert sorted(c.get_children(f"/{tag}")) == sorted(f"c{j}" for j in range(len(clients)))
        c.get(f"/{tag}/c0", watch=lambda e, i=i: fired[i].set())
    clients[-1].set(f"/{tag}/c0", b"changed")
    for f in fired:
        assert f.wait(10)
    eph = clients[1].create(f"/{tag}/eph", b"", ephemeral=True)
    clients[1].stop()
    clients[1].close()
    for c in clients[2:]:
        c.sync(f"/{tag}")
        assert c.exists(eph) is None


def test_workers_follow_their_members_through_an_election(make_ensemble) -> None:  # type: ignore[no-untyped-def]
    ens: Ensemble = make_ensemble(HOSTS, extra=WORKERS)
    ens.start()
    wait_for(lambda: _serving_everywhere(ens), 30, "every member's worker to serve")
    clients = _clients(ens, 2)
    try:
        cons = four_letter(HOSTS[0], "cons")
        assert cons.count("queued=") == 3, cons  # its two clients and this word's connection
        _check_replication(clients, "before")
        leader = ens.leader()
        ens.members[leader].kill9()
        survivors = [m for m in ens.members.values() if m.sid != leader]
        wait_for(lambda: sorted(m.mode() or "" for m in survivors) == ["follower", "leader"],
                 30, "a new leader")
        wait_for(lambda: all(workers_serving(m.log_text()) == 1 for m in survivors), 30,
                 "the survivors' workers to serve again")
        rest = _clients_of(ens, [m.sid for m in survivors], 2)
        try:
            _check_replication(rest, "after")
        finally:
            for c in rest[2:] + rest[:1]:
                c.stop()
                c.close()
    finally:
        for c in clients[:1] + clients[2:]:
            c.stop()
            c.close()


def _clients_of(ens: Ensemble, sids: list[int], per_member: int = 1) -> list[KazooClient]:
    return [start_client(ens.members[s].address) for s in sids for _ in range(per_member)]


def test_workers_beside_a_java_member(make_ensemble) -> None:  # type: ignore[no-untyped-def]
    ens: Ensemble = make_ensemble(HOSTS, extra=WORKERS, kinds={3: "java"})
    ens.start(timeout=60)
    wait_for(lambda: _serving_everywhere(ens), 30, "the pyzk members' workers to serve")
    clients = _clients(ens, 2)
    try:
        _check_replication(clients, "mixed")
    finally:
        for c in clients[:1] + clients[2:]:
            c.stop()
            c.close()


def test_an_observers_workers_relay_through_it(make_ensemble) -> None:  # type: ignore[no-untyped-def]
    ens: Ensemble = make_ensemble(HOSTS + ["127.0.31.14"], extra=WORKERS, observers=(4,))
    ens.start()
    wait_for(lambda: _serving_everywhere(ens), 30, "every member's worker to serve")
    clients = _clients_of(ens, [4, 4, 1, 2])  # the observer's processes first
    try:
        _check_replication(clients, "observed")
    finally:
        for c in clients[:1] + clients[2:]:
            c.stop()
            c.close()
