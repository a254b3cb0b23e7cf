"""A quorum member's /zookeeper/config has version -1, as on a Java member.

Java writes the node with ZKDatabase.initConfigInZKDatabase, a DataTree.setData with version -1
and zxid = the config's version: in QuorumPeerMain before the data dir is loaded (the first
snapshot keeps it) and in Learner.syncWithLeader once a learner is synced. pyzk only replaced
the node's data, so its members answered version 0 (found by the follower differential fuzz:
`exists /zookeeper/config` on a pyzk follower vs a Java follower). A standalone server never
calls it: its node keeps version 0 (tests/fuzz compares that against standalone Java).
Leader 3 and follower 1 are pyzk, follower 2 is Java.
"""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from tests.ensemble.launcher import Ensemble
from tests.mixed.mixhelp import clients, close_all, start_led_by

HOSTS = ["127.0.64.51", "127.0.64.52", "127.0.64.53"]


def test_config_node_version_on_pyzk_leader_and_follower_is_javas(workdir: Path) -> None:
    ens = Ensemble(workdir, HOSTS, tick_ms=500, kinds={2: "java"})
    cs: dict[int, KazooClient] = {}
    try:
        start_led_by(ens, 3, 1, timeout=60)
        cs = clients(ens)
        stats = {sid: c.exists("/zookeeper/config") for sid, c in cs.items()}
        got = {sid: (st.version, st.mzxid) for sid, st in stats.items() if st is not None}
        assert got[2] == (-1, 0), got  # Java's follower: the static config's version is 0
        assert got == {1: (-1, 0), 2: (-1, 0), 3: (-1, 0)}, got
    finally:
        close_all(cs.values())
        ens.stop()
