"""QuorumMaj: majority of voters, and toString byte-identical to Java's config text."""

from __future__ import annotations

import json
from pathlib import Path

from pyzk.config.servers import parse_server
from pyzk.zab.packets_election import Notification
from pyzk.zab.quorum import QuorumMaj, java_long_hashmap_order, parse_config_text

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
