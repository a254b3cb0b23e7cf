"""QuorumMaj: majority of voters, and toString byte-identical to Java's config text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pyzk.config.servers import parse_server
from pyzk.zab.packets_election import Notification
from pyzk.zab.quorum import QuorumMaj, has_quorum, java_long_hashmap_order, parse_config_text

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "election"


def quorum_from_lines(lines: list[str]) -> QuorumMaj:
    members = {}
    for line in lines:
        key, value = line.split("=", 1)
        sid = int(key.split(".")[1])
        members[sid] = parse_server(sid, value)
    return QuorumMaj(members)


def test_majority_counts_voters_only() -> None:
    q = quorum_from_lines(["server.1=h:1:2", "server.2=h:3:4", "server.3=h:5:6",
                           "server.4=h:7:8:observer"])
    assert q.half == 1
    assert q.contains_quorum({1, 2})
    assert not q.contains_quorum({1})
    assert not q.contains_quorum({1, 4})
    assert set(q.observing_members) == {4}


def test_config_text_matches_what_java_sends_in_notifications() -> None:
    meta = json.loads((GOLDEN / "capture.json").read_text())
    q = quorum_from_lines(meta["config_lines"])
    sent = Notification.decode((GOLDEN / "leading_from_sid3.bin").read_bytes()).config
    assert q.config_bytes() == sent


def test_config_text_round_trips_through_parse() -> None:
    q = quorum_from_lines(["server.1=h:1:2", "server.2=h:3:4:observer"])
    servers, version = parse_config_text(q.to_string())
    assert servers == {1: "h:1:2:participant", 2: "h:3:4:observer"} and version == 0


def test_hashmap_order_puts_colliding_sids_after_lower_buckets() -> None:
    # Capacity 16: sid 17 lands in bucket 1 with sid 1, before sid 2.
    assert java_long_hashmap_order([2, 17, 1, 3]) == [1, 17, 2, 3]
    assert java_long_hashmap_order(range(1, 6)) == [1, 2, 3, 4, 5]


# (ids, voters, quorum?): majority of the voters; non-voters (observers, unknown sids, the
# negative ids observers get) never count; an empty voter set has no quorum.
QUORUM_TABLE = [
    (set(), {1}, False),
    ({1}, {1}, True),
    ({1}, {1, 2}, False),
    ({1, 2}, {1, 2}, True),
    ({1}, {1, 2, 3}, False),
    ({1, 3}, {1, 2, 3}, True),
    ({1, 2, 3}, {1, 2, 3}, True),
    ({1, 2}, {1, 2, 3, 4}, False),
    ({1, 2, 3}, {1, 2, 3, 4}, True),
    ({1, 2}, {1, 2, 3, 4, 5}, False),
    ({4, 5, 1}, {1, 2, 3, 4, 5}, True),
    ({1, 4}, {1, 2, 3}, False),          # 4 is an observer
    ({1, -1, -2, 9}, {1, 2, 3}, False),  # observers' negative ids, unknown sids
    ({1, 2, 4, 5}, {1, 2, 3}, True),
    ({1, 2}, set(), False),
]


@pytest.mark.parametrize(("ids", "voters", "want"), QUORUM_TABLE)
def test_has_quorum_is_a_strict_majority_of_voters(ids: set[int], voters: set[int],
                                                   want: bool) -> None:
    assert has_quorum(ids, voters) is want
    members = {s: parse_server(s, f"h:{s}:{s + 100}") for s in voters}
    members.update({s: parse_server(s, f"h:{s}:{s + 100}:observer") for s in ids - voters if s > 0})
    assert QuorumMaj(members).contains_quorum(iter(ids)) is want


def test_no_quorum_is_counted_by_hand_outside_has_quorum() -> None:
    # Every quorum decision (election, leader acks, synced followers, reconfig) goes through
    # has_quorum, so a different rule (QuorumHierarchical) changes one function.
    root = Path(__file__).resolve().parents[2] / "pyzk"
    by_hand = re.compile(r"2 \* len\(|len\([^)]*\) // 2|> self\.half")
    offenders = [f"{p.relative_to(root)}:{i}" for p in sorted(root.rglob("*.py"))
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if by_hand.search(line) and p.name != "quorum.py"]
    assert offenders == []
