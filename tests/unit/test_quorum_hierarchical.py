"""QuorumHierarchical (group.G / weight.N) as Java 3.8's: the containsQuorum table, weight-0
members and groups, toString's text, the config checks, and the leader core counting acks
through the same has_quorum rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyzk.config.load import ConfigError, build_config
from pyzk.config.servers import parse_server
from pyzk.zab.quorum import (
    QuorumConfigError,
    QuorumHierarchical,
    QuorumMaj,
    has_quorum,
    make_quorum,
)


def members(n: int, observers: tuple[int, ...] = ()) -> dict[int, object]:
    return {i: parse_server(i, f"127.0.0.{i}:2888:3888" + (":observer" if i in observers
                                                            else ""))
            for i in range(1, n + 1)}


NINE = {1: (1, 2, 3), 2: (4, 5, 6), 3: (7, 8, 9)}


@pytest.mark.parametrize(("ids", "want"), [
    ({1, 2, 4, 5}, True),       # two of three groups, each by a majority of its weight
    ({1, 2, 3, 4}, False),      # one group only
    ({1, 4, 7}, False),         # no group by a majority
    ({1, 2, 4, 5, 7}, True),
    (set(), False),
    ({1, 2, 99}, False),        # ids outside every group count nothing
])
def test_contains_quorum_nine_in_three_groups(ids: set[int], want: bool) -> None:
    q = QuorumHierarchical(members(9), 0, NINE, {})  # type: ignore[arg-type]
    assert q.contains_quorum(ids) is want
    assert has_quorum(ids, q.voter_set()) is want  # the leader's one rule agrees


def test_weights_and_weight_zero() -> None:
    q = QuorumHierarchical(members(3), 0, {1: (1, 2, 3)}, {3: 0})  # type: ignore[arg-type]
    assert q.weight(3) == 0 and q.weight(1) == 1
    assert q.contains_quorum({1, 2})
    assert not q.contains_quorum({1, 3}) and not q.contains_quorum({2, 3})
    heavy = QuorumHierarchical(members(3), 0, {1: (1, 2, 3)}, {1: 3})  # type: ignore[arg-type]
    assert heavy.contains_quorum({1}) and not heavy.contains_quorum({2, 3})
    # A group weighing 0 is not counted among the groups (numGroups--).
    q0 = QuorumHierarchical(members(3), 0, {1: (1, 2), 2: (3,)}, {3: 0})  # type: ignore[arg-type]
    assert q0.num_groups == 1 and q0.contains_quorum({1, 2})


def test_to_string_lists_groups_and_weights_as_java() -> None:
    q = QuorumHierarchical(members(3), 0x100000000, {1: (1, 2, 3)}, {3: 0})  # type: ignore[arg-type]
    assert q.to_string() == (
        "server.1=127.0.0.1:2888:3888:participant\n"
        "server.2=127.0.0.2:2888:3888:participant\n"
        "server.3=127.0.0.3:2888:3888:participant\n"
        "group.1=1:2:3\nweight.1=1\nweight.2=1\nweight.3=0\nversion=100000000")
    assert q.with_version(5).to_string().endswith("weight.3=0\nversion=5")
    assert q != QuorumMaj(q.all_members, 0) and QuorumMaj(q.all_members, 0) != q
    assert make_quorum(q.all_members, 0).is_majority


def test_config_checks_are_javas() -> None:
    with pytest.raises(QuorumConfigError, match="^Server 2is in multiple groups$"):
        QuorumHierarchical(members(3), 0, {1: (1, 2), 2: (2, 3)}, {})  # type: ignore[arg-type]
    with pytest.raises(QuorumConfigError, match="^Server 3is not in a group$"):
        QuorumHierarchical(members(3), 0, {1: (1, 2)}, {})  # type: ignore[arg-type]
    # Observers need no group.
    q = QuorumHierarchical(members(4, observers=(4,)), 0, {1: (1, 2, 3)}, {})  # type: ignore[arg-type]
    assert set(q.voting_members) == {1, 2, 3}


def test_zoo_cfg_keys(tmp_path: Path) -> None:
    base = {"dataDir": str(tmp_path), "clientPort": "2181", "tickTime": "200",
            "initLimit": "5", "syncLimit": "2",
            **{f"server.{i}": f"127.0.0.{i}:2888:3888" for i in (1, 2, 3)}}
    cfg = build_config({**base, "group.1": "1:2:3", "weight.3": "0"}, myid=1)
    assert cfg.quorum_groups == {1: (1, 2, 3)} and cfg.quorum_weights == {3: 0}
    with pytest.raises(ConfigError, match="is not in a group"):
        build_config({**base, "group.1": "1:2"}, myid=1)
    with pytest.raises(ConfigError, match="invalid weight"):
        build_config({**base, "group.1": "1:2:3", "weight.2": "x"}, myid=1)
