"""The `sync` op across implementations with pyzk.linearizableSync on (the default): a pyzk
leader answers a sync only after a quorum echoed a PING sent after it arrived, and Java
followers echo it (Learner.ping copies the PING's authinfo), so syncs forwarded by Java
followers are answered, also with one follower down; under a Java leader a pyzk follower's sync
gets Java's behaviour. Each sync + get reads a write acknowledged through another member."""

from __future__ import annotations

import threading
import time

import pytest

from tests.mixed.mixhelp import clients, close_all, start_led_by


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


@pytest.mark.slow
def test_java_follower_keeps_sync_and_writes_of_one_session_in_order(mixed) -> None:  # type: ignore[no-untyped-def]
    """Found by the Jepsen suite: a Java follower's session pipelines sync, write, sync, write
    while other writes keep committing. Java's CommitProcessor matches SYNC and COMMITs with
    the session's queued requests in order, so a pyzk leader must not COMMIT a write that was
    proposed after the sync before it sends that SYNC (the sync waits for its PING round)."""
    ens = mixed({1: "java", 2: "java", 3: "pyzk"})
    start_led_by(ens, 3, 2)
    cs = clients(ens)
    stop = threading.Event()

    def churn() -> None:  # commits flowing from another session all along
        n = 0
        while not stop.is_set() and n < 5000:
            cs[3].set("/churn", str(n).encode())
            n += 1

    try:
        cs[3].create("/churn", b"")
        cs[3].create("/s", b"")
        t = threading.Thread(target=churn, daemon=True)
        t.start()
        follower = cs[1]
        results = []
        for i in range(200):
            results.append(follower.sync_async("/s"))
            results.append(follower.set_async("/s", str(i).encode()))
        for a in results:
            a.get(timeout=30)  # raises on any error or a dropped connection
        stop.set()
        t.join(30)
        follower.sync("/s")
        assert follower.get("/s")[0] == b"199"
        assert ens.modes()[1] == "follower", ens.logs()
    finally:
        stop.set()
        close_all(cs.values())
