"""pyzk.testing's `zk_ensemble` fixture, used as an application suite would: kazoo recipes (Lock,
Election, Counter, Queue) keep their guarantees on a three-member ensemble while a member is
stopped, killed or frozen mid-test.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.queue import Queue

from pyzk.testing import ZkTestEnsemble

HOSTS = ["127.0.0.201", "127.0.0.202", "127.0.0.203"]


@pytest.fixture
def zk_ensemble_options() -> dict[str, Any]:
    # This suite's own loopback addresses; free ports on each.
    return {"hosts": HOSTS}


def wait_until(cond: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def clients(zk_ensemble: ZkTestEnsemble) -> Iterator[Callable[..., KazooClient]]:
    """Started kazoo clients; `first=sid` pins the member a client connects to first."""
    made: list[KazooClient] = []

    def make(first: int | None = None) -> KazooClient:
        order = list(zk_ensemble.members)
        if first is not None:
            order.remove(first)
            order.insert(0, first)
        hosts = ",".join(zk_ensemble.member(s).address for s in order)
        c = KazooClient(hosts=hosts, randomize_hosts=first is None, timeout=10.0,
                        connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5},
                        command_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        c.start(timeout=15)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
        c.close()


def test_fixture_hands_back_one_leader_two_followers(zk_ensemble: ZkTestEnsemble) -> None:
    modes = sorted(m for m in zk_ensemble.modes().values() if m)
    assert modes == ["follower", "follower", "leader"]
    assert zk_ensemble.connection_string.count(",") == 2
    assert {a.rsplit(":", 1)[0] for a in zk_ensemble.connection_string.split(",")} == set(HOSTS)
    assert zk_ensemble.startup_seconds is not None and zk_ensemble.startup_seconds < 30


def test_lock_stays_exclusive_when_the_holders_member_stops(
        zk_ensemble: ZkTestEnsemble, clients: Callable[..., KazooClient]) -> None:
    leader = zk_ensemble.leader()
    holder, waiter = clients(first=leader), clients()
    lock1, lock2 = Lock(holder, "/app/lock", "holder"), Lock(waiter, "/app/lock", "waiter")
    assert lock1.acquire(timeout=10)
    zk_ensemble.stop(leader)  # the holder's member (the leader): client moves, session lives
    zk_ensemble.wait_serving()
    with pytest.raises(LockTimeout):  # not granted twice while the holder's session lives
        lock2.acquire(timeout=1.0)
    assert lock1.contenders() == ["holder"]
    lock1.release()
    assert lock2.acquire(timeout=10)
    lock2.release()


def test_election_keeps_one_leader_across_a_member_kill(
        zk_ensemble: ZkTestEnsemble, clients: Callable[..., KazooClient]) -> None:
    leader = zk_ensemble.leader()
    c1, c2 = clients(first=leader), clients(first=zk_ensemble.followers()[0])
    led: list[str] = []
    release = {"one": threading.Event(), "two": threading.Event()}

    def run(name: str) -> None:
        led.append(name)
        release[name].wait(30)

    e1, e2 = Election(c1, "/app/election", "one"), Election(c2, "/app/election", "two")
    t1 = threading.Thread(target=e1.run, args=(run, "one"), daemon=True)
    t1.start()
    wait_until(lambda: led == ["one"], what="the first candidate to lead")
    t2 = threading.Thread(target=e2.run, args=(run, "two"), daemon=True)
    t2.start()
    wait_until(lambda: len(e1.contenders()) == 2, what="two contenders")
    zk_ensemble.kill(leader)  # crash the ZooKeeper leader under the application leader's client
    zk_ensemble.wait_serving()
    assert e2.contenders() == ["one", "two"] and led == ["one"]
    release["one"].set()
    wait_until(lambda: led == ["one", "two"], what="leadership to pass to the second")
    release["two"].set()
    t1.join(10)
    t2.join(10)


def test_counter_counts_every_increment_while_a_follower_is_down(
        zk_ensemble: ZkTestEnsemble, clients: Callable[..., KazooClient]) -> None:
    follower = zk_ensemble.followers()[0]
    c1, c2 = clients(first=follower), clients()
    k1, k2 = Counter(c1, "/app/counter"), Counter(c2, "/app/counter")
    for _ in range(5):
        k1 += 1
        k2 += 2
    zk_ensemble.kill(follower)  # c1's member
    for _ in range(5):
        k1 += 1
        k2 += 2
    zk_ensemble.start(follower)  # back; it catches up from the leader
    for _ in range(5):
        k1 += 1
        k2 += 2
    c1.sync("/app/counter")  # a member may answer a read one commit behind the other
    c2.sync("/app/counter")
    assert k1.value == k2.value == 45
    rejoined = clients(first=follower)  # reads from the restarted member see every increment
    rejoined.sync("/app/counter")
    assert Counter(rejoined, "/app/counter").value == 45


def test_queue_keeps_fifo_order_across_a_leader_stop(
        zk_ensemble: ZkTestEnsemble, clients: Callable[..., KazooClient]) -> None:
    producer, consumer = clients(), clients()
    q_in, q_out = Queue(producer, "/app/queue"), Queue(consumer, "/app/queue")
    for i in range(10):
        q_in.put(f"item-{i}".encode())
    # The consumer's member may lag the producer's (a get() that sees no item returns None).
    consumer.sync("/app/queue")
    got = [q_out.get() for _ in range(3)]
    zk_ensemble.stop(zk_ensemble.leader())
    zk_ensemble.wait_serving()
    for i in range(10, 15):
        q_in.put(f"item-{i}".encode())
    deadline = time.monotonic() + 30
    for _ in range(1000):  # bounded: a get() may see nothing until its member catches up
        if len(got) == 15 or time.monotonic() > deadline:
            break
        item = q_out.get()
        if item is not None:
            got.append(item)
        else:
            consumer.sync("/app/queue")
    assert got == [f"item-{i}".encode() for i in range(15)]
    assert len(q_out) == 0


def test_frozen_member_misses_writes_then_catches_up_after_heal(
        zk_ensemble: ZkTestEnsemble, clients: Callable[..., KazooClient]) -> None:
    frozen = zk_ensemble.followers()[0]
    writer = clients(first=zk_ensemble.leader())
    zk_ensemble.partition(frozen)  # SIGSTOP: silent to peers and clients
    assert zk_ensemble.member(frozen).four_letter("ruok", timeout=0.3) == ""
    for i in range(20):
        writer.create(f"/app/during-freeze-{i}", b"x", makepath=True)
    zk_ensemble.heal()
    zk_ensemble.wait_joined(frozen)
    reader = clients(first=frozen)
    reader.sync("/app")
    assert len([c for c in reader.get_children("/app") if c.startswith("during-freeze-")]) == 20


def test_network_cut_of_the_leader_moves_leadership_and_heals(
        zk_ensemble_factory: Callable[..., ZkTestEnsemble]) -> None:
    """network="netns" (root only): a real cut, not a freeze; the cut member keeps running."""
    if os.geteuid() != 0:
        pytest.skip("network='netns' needs root for network namespaces")
    ens = zk_ensemble_factory(hosts=["127.0.0.204", "127.0.0.205", "127.0.0.206"],
                              network="netns", netns_prefix="pyzkc-", netns_subnet="10.78.0")
    old = ens.leader()
    writer = KazooClient(hosts=ens.connection_string_without(old), timeout=10.0)
    writer.start(timeout=15)
    try:
        writer.create("/cut/before", b"", makepath=True)
        ens.partition(old)
        # The two on the other side elect a leader; the cut one is alive but out of the quorum.
        wait_until(lambda: sorted(str(ens.member(s).mode()) for s in ens.members if s != old)
                   == ["follower", "leader"], what="a leader among the two connected members")
        wait_until(lambda: ens.member(old).mode() not in ("leader", "follower"),
                   what="the cut member to leave the quorum")
        assert ens.member(old).running
        for i in range(10):
            writer.create(f"/cut/during-{i}", b"")
        ens.heal()
        ens.wait_serving()
        assert ens.member(old).mode() == "follower"
        reader = KazooClient(hosts=ens.member(old).address, timeout=10.0)
        reader.start(timeout=15)
        try:
            reader.sync("/cut")
            assert len(reader.get_children("/cut")) == 11
        finally:
            reader.stop()
            reader.close()
    finally:
        writer.stop()
        writer.close()
