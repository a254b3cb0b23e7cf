"""Hierarchical quorums (group.G / weight.N) in mixed ensembles of pyzk and Java 3.8.0: a
member of weight 0 never leads and never counts, so the ensemble is available exactly while
the two weighted members are; every member holds the same /zookeeper/config text."""

from __future__ import annotations

import pytest

from tests.ensemble.launcher import wait_for
from tests.mixed.mixhelp import clients, close_all

SUBNET = "127.0.11"  # apart from the other mixed tests
HIER = {"group.1": "1:2:3", "weight.3": "0"}


@pytest.mark.slow
@pytest.mark.parametrize("kinds", [{1: "pyzk", 2: "java", 3: "pyzk"},
                                   {1: "java", 2: "pyzk", 3: "java"}],
                         ids=["java-leads", "pyzk-leads"])
def test_weight_zero_member_never_leads_or_counts(mixed, kinds: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    ens = mixed(kinds, subnet=SUBNET, extra=HIER)
    ens.start(40)
    # Same zxid everywhere: FLE would pick the highest sid, 3, but weight 0 never wins.
    modes = ens.wait_serving(40)
    assert modes == {1: "follower", 2: "leader", 3: "follower"}, modes
    cs = clients(ens)
    try:
        configs = {}
        for s, c in cs.items():
            c.sync("/")
            configs[s] = c.get("/zookeeper/config")[0].decode()
        assert len(set(configs.values())) == 1, configs
        assert "group.1=1:2:3" in configs[1] and "weight.3=0" in configs[1], configs[1]
        cs[1].create("/h", b"before")
    finally:
        close_all(cs.values())
    # Member 1 stops: 2 and 3 are a majority of heads but weigh 1 of 2: no quorum anywhere.
    ens.members[1].stop()
    # The leader gives up and its follower notices the closed connection (a moment later on a
    # loaded machine: a pyzk follower still said "follower" 0.17 s after Java's leader gave up).
    wait_for(lambda: all(ens.members[m].mode() not in ("leader", "follower") for m in (2, 3)),
             30, "the leader to give up without a weighted quorum, and its follower")
    for _ in range(3):  # and no one is elected while 1 is away (bounded: 3 checks)
        assert ens.members[2].mode() not in ("leader", "follower"), ens.logs()
        assert ens.members[3].mode() not in ("leader", "follower"), ens.logs()
        wait_for(lambda: "LOOKING" in ens.members[2].log_text() or
                 "LOOKING" in ens.members[3].log_text(), 10, "an election round")
    ens.members[1].start()
    modes = ens.wait_serving(60)
    assert modes[2] == "leader" and modes[3] != "leader", modes
    cs = clients(ens, [3])
    try:
        cs[3].sync("/h")
        assert cs[3].get("/h")[0] == b"before"
    finally:
        close_all(cs.values())
