"""Network partitions between real network namespaces: each member runs in its own namespace
on a bridge (10.77.0.N), and a partition downs its bridge port so packets are dropped, not
refused. An isolated leader stops serving (its clients lose the connection, its unacknowledged
proposals are truncated later) while the majority elects a new leader and keeps writing; an
isolated follower stops serving while writes go on. After each heal all members hold the same
tree, compared node by node through a client inside each namespace, with every acknowledged
write in it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from tests.ensemble.launcher import Ensemble, four_letter, start_client, wait_for
from tests.ensemble.partition_fabric import Fabric

NOT_SERVING = "not currently serving"


def _dump(c: KazooClient) -> dict[str, tuple[Any, ...]]:
    """Every node's data and stat, read after a sync so the member is current."""
    c.sync("/")
    out: dict[str, tuple[Any, ...]] = {}
    todo = ["/"]
    while todo:
        path = todo.pop()
        data, st = c.get(path)
        out[path] = (data, st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
                     st.aversion, st.ephemeralOwner, st.numChildren)
        todo.extend(f"{path.rstrip('/')}/{k}" for k in c.get_children(path))
    return out


class Cluster:
    """The ensemble in namespaces plus one kazoo client per member, living in its namespace
    and connected to that member only."""

    def __init__(self, fab: Fabric, workdir: Path) -> None:
        self.fab = fab
        # syncLimit 5 ticks (1 s): a loaded 2-core CI box can stall a process for 400 ms.
        self.ens: Ensemble = fab.ensemble(workdir, extra={"syncLimit": "5"})
        self.clients: dict[int, KazooClient] = {}

    def start(self) -> None:
        self.ens.start(30)
        for i, m in self.ens.members.items():
            self.clients[i] = self.fab.run(i, start_client, m.address, 6.0)

    def srvr(self, i: int) -> str:
        return self.fab.run(i, four_letter, self.ens.members[i].host, "srvr")

    def write(self, i: int, paths: list[str]) -> list[str]:
        c = self.clients[i]
        for p in paths:
            c.create(p, p.encode())
        return paths

    def converged(self, acked: list[str]) -> dict[str, tuple[Any, ...]]:
        dumps = {i: self.fab.run(i, _dump, c) for i, c in self.clients.items()}
        first = dumps[1]
        for i, d in dumps.items():
            diff = sorted(set(d.items()) ^ set(first.items()))[:6]
            assert d == first, f"member {i} differs from member 1: {diff}"
        missing = [p for p in acked if p not in first]
        assert missing == [], f"acknowledged writes lost: {missing[:10]}"
        return first

    def close(self) -> None:
        for c in self.clients.values():
            c.stop()
            c.close()
        self.ens.stop()


def test_partitioned_leader_stops_serving_majority_elects_and_all_converge_after_heal(
        fabric: Fabric, workdir: Path) -> None:
    cl = Cluster(fabric, workdir)
    try:
        cl.start()
        ens = cl.ens
        acked = cl.write(1, ["/part"]) + cl.write(2, [f"/part/a-{i:03d}" for i in range(30)])

        # Isolate the leader; its client (same namespace) still reaches it.
        old = ens.leader()
        majority = [s for s in ens.members if s != old]
        t0 = time.monotonic()
        fabric.cut(old)
        # A write sent to the isolated leader right away can at most be proposed, never
        # committed: it must not be acknowledged.
        lost = cl.clients[old].create_async("/part/minority-write", b"x")
        ens.wait_serving(30, members=majority)
        new = ens.leader()
        elected_s = time.monotonic() - t0
        wait_for(lambda: NOT_SERVING in cl.srvr(old), 15, "the isolated leader to stop serving")
        stepped_down_s = time.monotonic() - t0
        with pytest.raises((KazooException, KazooTimeoutError)):
            lost.get(timeout=10)
        wait_for(lambda: not cl.clients[old].connected, 15,
                 "the isolated leader's client to lose its connection")
        with pytest.raises((KazooException, KazooTimeoutError)):
            cl.clients[old].create_async("/part/minority-2", b"x").get(timeout=2)
        # The majority goes on writing through both of its members.
        for s in majority:
            acked += cl.write(s, [f"/part/b{s}-{i:03d}" for i in range(30)])
        print(f"\nleader {old} isolated: {new} leads after {elected_s:.2f}s; the old leader "
              f"stopped serving after {stepped_down_s:.2f}s")

        # Heal: the old leader rejoins as a follower and everyone holds the same tree.
        fabric.heal(old)
        ens.wait_serving(30)
        assert ens.leader() == new
        wait_for(lambda: cl.clients[old].connected, 20, "the old leader's client to reconnect")
        tree = cl.converged(acked)
        # That write never left the old leader, so the new epoch cannot hold it: if the old
        # leader logged it, it was told to TRUNC it away when it rejoined.
        assert "/part/minority-write" not in tree
        olog = ens.members[old].log_text()
        how = "SNAP" if "loaded SNAP from the leader" in olog else \
            "TRUNC" if "truncated the txn log" in olog else "DIFF"
        print(f"converged: {len(tree)} nodes; the old leader resynced by {how}")

        # Isolate a follower: writes go on, it stops serving, and after the heal it catches up.
        lagger = next(s for s in ens.followers())
        rest = [s for s in ens.members if s != lagger]
        fabric.cut(lagger)
        for s in rest:
            acked += cl.write(s, [f"/part/c{s}-{i:03d}" for i in range(30)])
        wait_for(lambda: NOT_SERVING in cl.srvr(lagger), 15,
                 "the isolated follower to stop serving")
        assert ens.leader() == new
        fabric.heal(lagger)
        ens.wait_serving(30)
        wait_for(lambda: cl.clients[lagger].connected, 20, "the follower's client to reconnect")
        cl.converged(acked)
    finally:
        cl.close()
