"""flushDelay / maxWriteQueuePollTime / maxBatchSize on quorum members, in a mixed ensemble: a
Java and a pyzk follower log the same burst of proposals from a pyzk leader, and each flushes it
as Java's SyncRequestProcessor does (mntr's sync_processor_batch_size: one sample per flush).

With flushDelay=1000, maxWriteQueuePollTime=400 and maxBatchSize=10, 25 proposals arriving
together right after a flush are flushed as 10 + 10 + 5 on both followers.
"""

from __future__ import annotations

import pytest

from tests.ensemble.launcher import four_letter, start_client, wait_for
from tests.mixed.mixhelp import start_led_by

pytestmark = pytest.mark.slow

# syncLimit 10 ticks (2 s): a follower holding its acks up to flushDelay must not be dropped
CFG = {"flushDelay": "1000", "maxWriteQueuePollTime": "400", "maxBatchSize": "10",
       "syncLimit": "10", "initLimit": "10"}
BURST = 25
KEYS = ("zk_cnt_sync_processor_batch_size", "zk_sum_sync_processor_batch_size")


def batches(host: str) -> tuple[int, int]:
    pairs = dict(line.split("\t", 1) for line in four_letter(host, "mntr").splitlines()
                 if "\t" in line)
    return int(pairs[KEYS[0]]), int(float(pairs[KEYS[1]]))


def leader_txns(host: str) -> int:
    """Txns the leader has made in this epoch (the counter of its last zxid)."""
    for line in four_letter(host, "srvr").splitlines():
        if line.startswith("Zxid: "):
            return int(line[6:], 16) & 0xFFFFFFFF
    raise AssertionError("no Zxid in srvr")


def test_followers_of_both_kinds_batch_a_burst_like_java(mixed) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "java", 2: "pyzk", 3: "pyzk"}, extra=CFG)
    start_led_by(ens, leader=3, second=2)
    hosts = {sid: ens.members[sid].host for sid in (1, 2)}

    def all_flushed() -> dict[int, tuple[int, int]] | None:
        made = leader_txns(ens.members[3].host)
        now = {sid: batches(h) for sid, h in hosts.items()}
        return now if all(v[1] >= made for v in now.values()) else None

    zk = start_client(ens.members[3].address, timeout=30.0)
    try:
        zk.create("/warm")
        # each follower has flushed everything so far (a follower not needed for the quorum
        # may still hold its last proposals for up to 400 ms)
        before = wait_for(all_flushed, 15, "followers flushed before the burst")
        results = [zk.create_async(f"/n{i}") for i in range(BURST)]
        for res in results:
            res.get(timeout=30)
        after = wait_for(all_flushed, 15, "followers flushed the burst")
    finally:
        zk.stop()
        zk.close()
    got = {sid: (after[sid][0] - before[sid][0], after[sid][1] - before[sid][1])
           for sid in (1, 2)}
    print(got)
    assert got[1] == (3, BURST), ens.logs()  # Java
    assert got[2] == got[1]
