"""Quotas in a mixed ensemble (a Java and a pyzk follower under a Java or a pyzk leader, all
with enforceQuota=true): the leader's prep refuses writes over a hard limit whichever member a
client uses, every member keeps the same zookeeper_stats, and only the leader counts
quota_exceeded_error_per_namespace (PrepRequestProcessor runs there alone)."""

from __future__ import annotations

from typing import Any

import pytest
from kazoo.exceptions import KazooException

from tests.ensemble.launcher import four_letter, start_client
from tests.mixed.mixhelp import clients, close_all, start_led_by

SUBNET = "127.0.16"  # apart from the other mixed tests
STATS = "/zookeeper/quota/m/zookeeper_stats"
EXCEEDED = "zk_m_quota_exceeded_error_per_namespace"


def outcome(call: Any) -> str:
    try:
        call()
    except KazooException as e:
        return type(e).__name__
    return "ok"


@pytest.mark.parametrize("leader_kind", ["java", "pyzk"])
def test_leader_enforces_quota_and_every_member_keeps_the_stats(
        mixed: Any, leader_kind: str) -> None:
    ens = mixed({1: "java", 2: "pyzk", 3: leader_kind}, subnet=SUBNET,
                extra={"enforceQuota": "true"})
    start_led_by(ens, 3, 2)
    cs = clients(ens)
    eph = start_client(ens.members[1].address)
    try:
        zk = cs[1]
        zk.create("/m", b"m")
        zk.create("/zookeeper/quota/m", b"")
        zk.create("/zookeeper/quota/m/zookeeper_limits",
                  b"count=-1,bytes=-1=;byteHardLimit=20;countHardLimit=4")
        zk.create(STATS, b"count=0,bytes=0")
        steps = {}
        for sid in sorted(cs):  # up to the count limit through every member
            steps[f"create x{sid}"] = outcome(lambda s=sid: cs[s].create(f"/m/x{s}", b"12345"))
        for sid in sorted(cs):  # over it, through every member
            steps[f"create y{sid}"] = outcome(lambda s=sid: cs[s].create(f"/m/y{s}", b""))
        steps["set over bytes"] = outcome(lambda: cs[2].set("/m/x1", b"x" * 10))
        steps["delete x3"] = outcome(lambda: cs[2].delete("/m/x3"))
        steps["ephemeral"] = outcome(lambda: eph.create("/m/e", b"ee", ephemeral=True))
        with_ephemeral = {}
        for sid, c in cs.items():
            c.sync("/m")
            with_ephemeral[sid] = c.get(STATS)[0]
        eph.stop()
        stats = {}
        for sid, c in cs.items():
            c.sync("/m")
            stats[sid] = c.get(STATS)[0]
        counted = {sid: dict(ln.split("\t", 1) for ln in four_letter(
            m.host, "mntr").splitlines() if "\t" in ln).get(EXCEEDED)
            for sid, m in ens.members.items()}
    finally:
        close_all([*cs.values(), eph])
    assert steps == {"create x1": "ok", "create x2": "ok", "create x3": "ok",
                     "create y1": "QuotaExceededError", "create y2": "QuotaExceededError",
                     "create y3": "QuotaExceededError", "set over bytes": "QuotaExceededError",
                     "delete x3": "ok", "ephemeral": "ok"}, steps
    assert set(with_ephemeral.values()) == {b"count=4,bytes=13"}, with_ephemeral
    assert set(stats.values()) == {b"count=3,bytes=11"}, stats
    assert counted == {1: None, 2: None, 3: "4"}, counted
