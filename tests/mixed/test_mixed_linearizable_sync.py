"""The `sync` op across implementations with pyzk.linearizableSync on (the default): a pyzk
leader answers a sync only after a quorum echoed a PING sent after it arrived, and Java
followers echo it (Learner.ping copies the PING's authinfo), so syncs forwarded by Java
followers are answered, also with one follower down; under a Java leader a pyzk follower's sync
gets Java's behaviour. Each sync + get reads a write acknowledged through another member."""

from __future__ import annotations

import time

import pytest
from mixhelp import clients, close_all, start_led_by


@pytest.mark.parametrize("leader_kind", ["pyzk", "java"])
def test_sync_then_get_reads_a_write_acked_elsewhere(mixed, leader_kind: str) -> None:  # type: ignore[no-untyped-def]
    other = "java" if leader_kind == "pyzk" else "pyzk"
    ens = mixed({1: other, 2: other, 3: leader_kind})
    start_led_by(ens, 3, 2)
    cs = clients(ens)
    try:
        cs[3].create("/s", b"0")
        for round_ in range(1, 4):
            for writer in cs:
                value = f"{round_}-{writer}".encode()
                cs[writer].set("/s", value)
                for reader, c in cs.items():
                    c.sync("/s")
                    assert c.get("/s")[0] == value, (writer, reader)
        # One follower down: the round still has its quorum (leader + the other follower).
        ens.members[1].stop()
        t0 = time.monotonic()
        cs[3].set("/s", b"last")
        cs[2].sync("/s")
        assert cs[2].get("/s")[0] == b"last"
        assert time.monotonic() - t0 < 10
    finally:
        close_all(cs.values())
