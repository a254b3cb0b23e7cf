"""kazoo's recipes, each driven by two or three clients against one server."""

from __future__ import annotations

import threading

from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.partitioner import SetPartitioner
from kazoo.recipe.party import Party
from kazoo.recipe.queue import LockingQueue, Queue

from tests.integration.itest_util import wait_for


def _three(zk, clients):
    return [clients(zk) for _ in range(3)]


def test_lock_is_mutually_exclusive_and_handed_over(zk, clients, base: str) -> None:
    c1, c2, c3 = _three(zk, clients)
    l1, l2, l3 = (Lock(c, f"{base}/lock", ident) for c, ident in ((c1, "a"), (c2, "b"),
                                                                  (c3, "c")))
    assert l1.acquire(timeout=10)
    assert not l2.acquire(blocking=False)
    order: list[str] = []
    got = threading.Event()

    def contend() -> None:
        with l3:
            order.append("c")
            got.set()

    t = threading.Thread(target=contend)
    t.start()
    wait_for(lambda: "c" in l1.contenders(), 10, "contender c")
    assert l1.contenders() == ["a", "c"]
    order.append("a-release")
    l1.release()
    assert got.wait(10)
    t.join(10)
    assert order == ["a-release", "c"]
    assert l2.acquire(timeout=10)
    l2.release()


def test_election_picks_one_leader_and_fails_over(zk, clients, base: str) -> None:
    c1, c2, _ = _three(zk, clients)
    e1 = Election(c1, f"{base}/elect", "one")
    e2 = Election(c2, f"{base}/elect", "two")
    leading: list[str] = []
    release1 = threading.Event()

    def lead(name: str, hold: threading.Event | None) -> None:
        leading.append(name)
        if hold is not None:
            hold.wait(10)

    t1 = threading.Thread(target=e1.run, args=(lead, "one", release1))
    t1.start()
    wait_for(lambda: leading == ["one"], 10, "first leader")
    t2 = threading.Thread(target=e2.run, args=(lead, "two", None))
    t2.start()
    wait_for(lambda: e1.contenders() == ["one", "two"], 10, "both contenders")
    assert leading == ["one"]
    release1.set()
    t1.join(10)
    wait_for(lambda: leading == ["one", "two"], 10, "failover")
    t2.join(10)


def test_barrier_blocks_until_removed(zk, clients, base: str) -> None:
    c1, c2, _ = _three(zk, clients)
    b1 = Barrier(c1, f"{base}/barrier")
    b2 = Barrier(c2, f"{base}/barrier")
    b1.create()
    assert not b2.wait(timeout=0.2)
    passed = threading.Event()
    def waiter() -> None:
        if b2.wait(10):
            passed.set()

    t = threading.Thread(target=waiter)
    t.start()
    b1.remove()
    assert passed.wait(10)
    t.join(10)


def test_double_barrier_enters_and_leaves_together(zk, clients, base: str) -> None:
    cs = _three(zk, clients)
    bars = [DoubleBarrier(c, f"{base}/double", 3) for c in cs]
    entered: list[int] = []
    left: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        bars[i].enter()
        with lock:
            entered.append(i)
        bars[i].leave()
        with lock:
            left.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(entered) == [0, 1, 2] and sorted(left) == [0, 1, 2]


def test_counter_is_consistent_across_clients(zk, clients, base: str) -> None:
    cs = _three(zk, clients)
    counters = [Counter(c, f"{base}/counter") for c in cs]

    def bump(ctr: Counter) -> None:
        for _ in range(10):
            ctr += 1

    threads = [threading.Thread(target=bump, args=(ctr,)) for ctr in counters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert counters[0].value == 30
    counters[1] -= 5
    assert counters[2].value == 25


def test_queue_delivers_each_item_once_in_priority_order(zk, clients, base: str) -> None:
    c1, c2, c3 = _three(zk, clients)
    q1 = Queue(c1, f"{base}/queue")
    q1.put(b"low", priority=200)
    q1.put(b"high", priority=10)
    q1.put(b"mid", priority=100)
    got = [Queue(c2, f"{base}/queue").get(), Queue(c3, f"{base}/queue").get(), q1.get()]
    assert got == [b"high", b"mid", b"low"]
    assert q1.get() is None and len(q1) == 0


def test_locking_queue_holds_item_until_consumed(zk, clients, base: str) -> None:
    c1, c2, _ = _three(zk, clients)
    producer = LockingQueue(c1, f"{base}/lq")
    producer.put_all([b"a", b"b"])
    consumer = LockingQueue(c2, f"{base}/lq")
    assert consumer.get(timeout=10) == b"a"
    assert len(producer) == 2  # still there until consumed
    assert consumer.consume()
    assert len(producer) == 1
    assert consumer.get(timeout=10) == b"b"
    assert consumer.release()  # give it back
    assert producer.get(timeout=10) == b"b"
    assert producer.consume() and len(producer) == 0


def test_party_membership_follows_sessions(zk, clients, base: str) -> None:
    c1, c2, c3 = _three(zk, clients)
    p1 = Party(c1, f"{base}/party", "one")
    p2 = Party(c2, f"{base}/party", "two")
    p1.join()
    p2.join()
    watcher = Party(c3, f"{base}/party")
    assert sorted(watcher) == ["one", "two"] and len(watcher) == 2
    c2.stop()
    assert sorted(watcher) == ["one"]
    p1.leave()
    assert len(watcher) == 0


def test_set_partitioner_splits_the_set(zk, clients, base: str) -> None:
    c1, c2, _ = _three(zk, clients)
    items = ["a", "b", "c", "d"]
    parts = [SetPartitioner(c, f"{base}/part", items, time_boundary=0.2,
                            identifier=ident) for c, ident in ((c1, "p1"), (c2, "p2"))]

    def settle() -> bool:
        for p in parts:
            if p.release:
                p.release_set()
            elif p.allocating:
                p.wait_for_acquire(0.2)
        return all(p.acquired for p in parts) and sum(len(list(p)) for p in parts) == 4

    wait_for(settle, 20, "partition acquired")
    got = [sorted(p) for p in parts]
    assert sorted(got[0] + got[1]) == items and all(len(g) == 2 for g in got)
    for p in parts:
        p.finish()
