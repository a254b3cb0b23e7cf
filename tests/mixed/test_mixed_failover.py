"""Failures and upgrades in mixed ensembles, with a kazoo writer running throughout and every
acknowledged write checked on every member afterwards: kill -9 of the leader on either side
(a new leader is elected across implementations), and a rolling replacement of three Java
servers by pyzk, one at a time on the same data directory and myid, and back to Java."""

from __future__ import annotations

import json
import re

import pytest
from ensemble import Ensemble, Member
from mixhelp import Writer, assert_all_present, start_led_by, wait_leader_among


def other(kind: str) -> str:
    return "java" if kind == "pyzk" else "pyzk"


@pytest.mark.parametrize("leader_kind", ["pyzk", "java"])
def test_kill9_of_the_leader_loses_no_acknowledged_write(mixed, leader_kind: str) -> None:  # type: ignore[no-untyped-def]
    # Leader 3; the survivors 1 and 2 are one of each kind.
    ens: Ensemble = mixed({1: leader_kind, 2: other(leader_kind), 3: leader_kind})
    start_led_by(ens, leader=3, second=2)
    w = Writer(ens.connect_string).start()
    try:
        w.wait_acked(30)
        ens.members[3].kill9()
        new_leader = wait_leader_among(ens, [1, 2])
        w.wait_acked(30)
        ens.members[3].start()
        modes = ens.wait_serving(40)
        assert modes[new_leader] == "leader" and modes[3] == "follower", modes
        w.wait_acked(30)
    finally:
        acked = w.stop()
    assert len(acked) >= 90
    assert_all_present(ens, "/w", acked)


def recovered_zxid(m: Member, since: int) -> int:
    """The zxid the member loaded from its data directory at its last start (after `since`)."""
    text = m.log_text()[since:]
    found = re.findall(r"highest zxid is 0x([0-9a-f]+)", text)  # ZKDatabase.loadDataBase
    if found:
        return int(found[-1], 16)
    for line in text.splitlines():
        if '"data directory recovered"' in line:
            return int(json.loads(line)["zxid"], 16)
    raise AssertionError(f"member {m.sid} logged no recovery:\n{m.tail_log()}")


def test_rolling_replacement_java_to_pyzk_and_back_keeps_every_acknowledged_write(mixed) -> None:  # type: ignore[no-untyped-def]
    ens: Ensemble = mixed({1: "java", 2: "java", 3: "java"})
    ens.start(60)
    w = Writer(ens.connect_string).start()
    steps: list[str] = []
    try:
        w.wait_acked(20)
        for target in ("pyzk", "java"):
            for sid in (1, 2, 3):
                ens.members[sid].stop()
                since = len(ens.members[sid].log_text())
                ens.replace(sid, target).start()
                modes = ens.wait_serving(60)
                # It started from the other kind's files, not from an empty directory.
                assert recovered_zxid(ens.members[sid], since) > 0, steps
                steps.append(f"{sid}->{target}: " + ",".join(
                    f"{s}{ens.kind(s)[0]}={m}" for s, m in modes.items()))
                w.wait_acked(20, timeout=40)
            assert {ens.kind(s) for s in ens.members} == {target}, steps
    finally:
        acked = w.stop()
    assert len(acked) >= 140, steps
    assert_all_present(ens, "/w", acked)
