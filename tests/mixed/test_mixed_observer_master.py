"""observerMasterPort: followers serve observers (Java's ObserverMaster), in mixed ensembles.

Two voters follow a leader and two observers (one of each kind) attach to a follower, picked
round robin from a shuffled list of the voters (the leader serves none, so an observer that
tries it moves on). Each follower's mntr shows `zk_synced_observers`. Killing one follower
(kill -9) makes its observers move to the other, so the run has a pyzk follower serving a Java
and a pyzk observer, then (the Java one back, the pyzk one stopped) a Java follower serving
both; writes through the observers' clients are
seen everywhere, a sync through an observer returns after the writes before it, and the
observers' client sessions stay alive (their touches reach the leader through the follower).

The default run has the mixed case with a pyzk leader (15 to 25 s); `OBSMASTER_FULL=1 pytest
tests/mixed/test_mixed_observer_master.py` adds it with a Java leader, and all-pyzk and all-Java
ensembles held to the same checks (which follower serves the observer, the mntr lines).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient

from tests.ensemble.launcher import Ensemble, four_letter, start_client, wait_for
from tests.mixed.mixhelp import close_all, start_led_by

OM_PORT = "2890"
SUBNET = "127.0.18"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
FULL = pytest.mark.skipif(not os.environ.get("OBSMASTER_FULL"), reason="OBSMASTER_FULL=1 to run")
EXTRA = {"observerMasterPort": OM_PORT, "observer.election.DelayMs": "50"}


def synced_observers(ens: Ensemble, sid: int) -> int | None:
    """The follower's `zk_synced_observers` mntr line (absent: None)."""
    m = ens.members[sid]
    for line in four_letter(m.host, "mntr").splitlines():
        if line.startswith("zk_synced_observers\t"):
            return int(line.split("\t")[1])
    return None


def served(ens: Ensemble, followers: list[int], observers: int) -> dict[int, int | None]:
    """Until the followers' synced observers add up to `observers`; returns them."""
    def counts() -> dict[int, int | None] | None:
        got = {s: synced_observers(ens, s) for s in followers}
        return got if sum(v or 0 for v in got.values()) == observers else None
    return wait_for(counts, 30, f"{observers} observers synced with {followers}")  # type: ignore[return-value]


def writes_through_observers(ens: Ensemble, observers: list[int], tag: str) -> None:
    """Create a node through each observer's client; every running member sees them all."""
    running = [s for s, m in ens.members.items() if m.running]
    cs = {s: start_client(ens.members[s].address) for s in running}
    try:
        cs[observers[0]].ensure_path(f"/om/{tag}")
        for s in observers:
            cs[s].create(f"/om/{tag}/from{s}", str(s).encode())
        for s, c in cs.items():
            c.sync(f"/om/{tag}")
            names = sorted(c.get_children(f"/om/{tag}"))
            assert names == sorted(f"from{o}" for o in observers), (s, ens.kind(s), names)
            data, stat = c.get(f"/om/{tag}/from{observers[0]}")
            assert data == str(observers[0]).encode(), (s, data)
    finally:
        close_all(cs.values())


def sessions_outlive_their_timeout(ens: Ensemble, observers: list[int]) -> None:
    """Ephemerals of 2 s sessions on the observers' clients are still there after two
    timeouts: the observers' pings reach the leader through the follower."""
    timeout = 2.0
    owners = {s: start_client(ens.members[s].address, timeout=timeout) for s in observers}
    reader = start_client(ens.members[ens.leader()].address)
    try:
        for s, c in owners.items():
            c.create(f"/om/eph{s}", ephemeral=True, makepath=True)
        reader.sync("/om")
        end = time.monotonic() + 2 * timeout
        for _ in range(200):  # bounded: one look every 0.1 s for 4 s
            alive = [s for s in observers if reader.exists(f"/om/eph{s}") is not None]
            assert alive == observers, f"sessions of observers {set(observers) - set(alive)} expired"
            if time.monotonic() >= end:
                break
            time.sleep(0.1)
    finally:
        close_all([*owners.values(), reader])


def sessions_move_to_observers(ens: Ensemble, observers: list[int]) -> None:
    """A session made on the leader reattaches through an observer, which revalidates it with
    the leader through its follower (REVALIDATE relayed both ways)."""
    for s in observers:
        owner = start_client(ens.members[ens.leader()].address)
        moved = None
        try:
            owner.create(f"/om/moved{s}", b"", ephemeral=True, makepath=True)
            session = owner.client_id
            moved = KazooClient(hosts=ens.members[s].address, client_id=session, timeout=8.0)
            moved.start(timeout=15)
            assert moved.client_id is not None and moved.client_id[0] == session[0], s
            moved.sync("/om")
            assert moved.exists(f"/om/moved{s}") is not None, s
        finally:
            close_all([c for c in (moved, owner) if c is not None])


def zkcli_get(ens: Ensemble, sid: int, path: str) -> str:
    """zkCli.sh's `get` through member `sid`: the data line it prints."""
    proc = subprocess.run([ZKCLI, "-server", ens.members[sid].address, "get", path],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    out = proc.stdout.split("WatchedEvent state:SyncConnected type:None path:null\n", 1)
    assert proc.returncode == 0 and len(out) == 2, (proc.stdout, proc.stderr)
    return out[1].strip()


@pytest.mark.parametrize("leader", ["pyzk", pytest.param("java", marks=FULL)])
def test_followers_serve_observers_of_either_kind(mixed, leader: str) -> None:  # type: ignore[no-untyped-def]
    # 1 java and 2 pyzk follow 3; 4 (java) and 5 (pyzk) observe through a follower.
    ens = mixed({1: "java", 2: "pyzk", 3: leader, 4: "java", 5: "pyzk"}, subnet=SUBNET,
                observers=(4, 5), extra=EXTRA)
    start_led_by(ens, leader=3, second=2)
    got = served(ens, [1, 2], 2)
    assert synced_observers(ens, 3) == 0, "the leader serves observers only on its quorum port"
    writes_through_observers(ens, [4, 5], "both")
    # Only the pyzk follower left: it serves the Java observer and the pyzk one.
    ens.members[1].kill9()
    assert served(ens, [2], 2) == {2: 2}, got
    writes_through_observers(ens, [4, 5], "pyzk-master")
    sessions_move_to_observers(ens, [4, 5])
    sessions_outlive_their_timeout(ens, [4, 5])
    # Only the Java follower left: it serves both, the pyzk observer synced by DIFF from it.
    ens.members[1].start()
    ens.wait_serving(40)
    ens.members[2].stop()
    assert served(ens, [1], 2) == {1: 2}
    writes_through_observers(ens, [4, 5], "java-master")
    sessions_move_to_observers(ens, [4, 5])
    assert zkcli_get(ens, 5, "/om/java-master/from4") == "4"
    sessions_outlive_their_timeout(ens, [4, 5])


@FULL
@pytest.mark.parametrize("kind", ["pyzk", "java"])
def test_observer_master_same_kind(mixed, kind: str) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({i: kind for i in range(1, 5)}, subnet=SUBNET, observers=(4,), extra=EXTRA)
    start_led_by(ens, leader=3, second=2)
    got = served(ens, [1, 2], 1)
    assert synced_observers(ens, 3) == 0
    master = next(s for s, n in got.items() if n)
    writes_through_observers(ens, [4], "one")
    ens.members[master].kill9()
    other = 3 - master
    assert served(ens, [other], 1) == {other: 1}
    writes_through_observers(ens, [4], "two")
    sessions_outlive_their_timeout(ens, [4])


@FULL
def test_observers_far_behind_get_a_snap_from_a_pyzk_follower(mixed) -> None:  # type: ignore[no-untyped-def]
    # More writes than the committed window (500) on one node, while the observers are down:
    # the log since they left outweighs the snapshot, so the follower sends a SNAP.
    ens = mixed({1: "pyzk", 2: "pyzk", 3: "pyzk", 4: "java", 5: "pyzk"}, subnet=SUBNET,
                observers=(4, 5), extra={**EXTRA, "snapCount": "100"})
    start_led_by(ens, leader=3, second=2)
    served(ens, [1, 2], 2)
    for s in (4, 5):
        ens.members[s].stop()
    c = start_client(ens.members[3].address)
    try:
        c.create("/big", b"")
        for i in range(700):
            c.set_async("/big", b"%04d" % i + b"x" * 1000)
        c.sync("/big")
        assert c.get("/big")[0][:4] == b"0699"
    finally:
        close_all([c])
    for s in (4, 5):
        ens.members[s].start()
    ens.wait_serving(40)
    served(ens, [1, 2], 2)
    assert "Getting a snapshot from leader" in ens.members[4].log_text()
    assert "loaded SNAP from the leader" in ens.members[5].log_text()
    writes_through_observers(ens, [4, 5], "after-snap")
    for s in (4, 5):
        o = start_client(ens.members[s].address)
        try:
            assert o.get("/big")[0][:4] == b"0699", s
        finally:
            close_all([o])


def test_an_observer_behind_the_window_gets_a_diff_read_from_the_followers_log(mixed) -> None:  # type: ignore[no-untyped-def]
    # 700 small writes while the observer is down: past the committed window (500) but a log
    # smaller than the snapshot (preAllocSize small: the log's size counts its preallocation,
    # as Java's), so the follower syncs it with a DIFF from its txn log, read in a thread
    # (ReadDiskLog) rather than on the follower's loop.
    ens = mixed({1: "pyzk", 2: "pyzk", 3: "pyzk", 4: "pyzk"}, subnet=SUBNET, observers=(4,),
                extra={**EXTRA, "snapCount": "100", "preAllocSize": "16"})
    start_led_by(ens, leader=3, second=2)
    served(ens, [1, 2], 1)
    c = start_client(ens.members[3].address)
    try:  # a tree of ~1.2 MB in the snapshots, so 700 small txns are the cheaper sync
        for i in range(300):
            c.create_async(f"/bulk{i}", b"b" * 4000)
        c.sync("/")
    finally:
        close_all([c])
    wait_for(lambda: ens.members[4].log_text().count("observing") >= 1, 20, "the observer")
    snaps = ens.members[4].log_text().count("loaded SNAP from the leader")
    ens.members[4].stop()
    c = start_client(ens.members[3].address)
    try:
        c.create("/small", b"")
        for i in range(700):
            c.set_async("/small", b"%04d" % i)
        c.sync("/small")
        assert c.get("/small")[0] == b"0699"
    finally:
        close_all([c])
    ens.members[4].start()
    ens.wait_serving(40)
    served(ens, [1, 2], 1)
    assert ens.members[4].log_text().count("loaded SNAP from the leader") == snaps
    o = start_client(ens.members[4].address)
    try:
        # The observer synced from a follower that may not have applied the leader's last
        # commits yet; a sync orders the read after them (a txn the DIFF left out would
        # still be missing afterwards).
        o.sync("/small")
        assert o.get("/small")[0] == b"0699"
    finally:
        close_all([o])
    writes_through_observers(ens, [4], "after-diff")
