"""Three voters plus one observer (server.4=...:observer, peerType=observer): the observer
syncs from the leader, serves reads, forwards writes, reports Mode: observer, is kept current
by INFORM packets, is not counted for the quorum, and its death does not disturb the voters
(Observer.java, Leader.java's observingLearners, ObserverZooKeeperServer)."""

from __future__ import annotations

import functools
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import EventType, WatchedEvent

from tests.ensemble.launcher import Ensemble, four_letter, start_client, wait_for
from tests.servers import handshake_ok

HOSTS = ["127.0.0.175", "127.0.0.176", "127.0.0.177", "127.0.0.178"]
OBSERVER = 4
NOT_SERVING = "not currently serving"


def _client(hosts: str) -> KazooClient:
    return start_client(hosts, 6.0)


def _mntr(host: str) -> dict[str, str]:
    out = {}
    for line in four_letter(host, "mntr").splitlines():
        k, _, v = line.partition("\t")
        out[k] = v
    return out


def _not_serving(host: str) -> bool:
    return NOT_SERVING in four_letter(host, "srvr")


def _elections(ens: Ensemble, sid: int) -> int:
    return ens.members[sid].log_text().count('"election done"')


def test_observer_syncs_serves_forwards_is_informed_and_does_not_count_for_quorum(
        make_ensemble) -> None:  # type: ignore[no-untyped-def]
    # syncLimit 5 ticks (1 s): a 2-core CI box under load can stall a process for 400 ms.
    ens: Ensemble = make_ensemble(HOSTS, observers=(OBSERVER,), extra={"syncLimit": "5"})
    voters = [1, 2, 3]
    obs = ens.members[OBSERVER]
    for s in voters:
        ens.members[s].start()
    ens.wait_serving(30, members=voters)
    voter_cs = ",".join(ens.members[s].address for s in voters)
    try:
        vc = _client(voter_cs)
    except Exception as e:
        raise AssertionError(f"no session on the voters: {e!r}\n{ens.logs(40)}") from None
    states: list[str] = []
    vc.add_listener(states.append)
    vc.ensure_path("/obs")
    for i in range(50):
        vc.create(f"/obs/pre-{i:02d}", b"before the observer")

    # The observer joins late and syncs everything written so far.
    obs.start()
    ens.wait_serving(30)
    assert obs.mode() == "observer"
    assert "Mode: observer" in four_letter(obs.host, "srvr")
    leader = ens.leader()
    assert sorted(str(m) for m in ens.modes().values()) == ["follower", "follower", "leader", "observer"]
    wait_for(lambda: _mntr(ens.members[leader].host).get("zk_synced_observers") == "1", 10,
             "the leader to count one synced observer")
    assert _mntr(ens.members[leader].host).get("zk_synced_followers") == "2"
    oc = _client(obs.address)
    # Reads are served locally (no sync): the DIFF/SNAP brought every earlier write.
    assert sorted(oc.get_children("/obs")) == [f"pre-{i:02d}" for i in range(50)]

    # Writes through the observer are forwarded to the leader and committed everywhere.
    oc.create("/obs/from-observer", b"o")
    oc.set("/obs/pre-00", b"set via observer")
    oc.create("/obs/eph", ephemeral=True)
    vc.sync("/obs")
    assert vc.get("/obs/from-observer")[0] == b"o"
    assert vc.get("/obs/pre-00")[0] == b"set via observer"
    assert vc.exists("/obs/eph").ephemeralOwner == oc.client_id[0]

    # INFORM keeps it current: a watch set on the observer fires for a voter's write, and
    # the observer then serves the new data without a sync.
    seen: list[WatchedEvent] = []
    fired = threading.Event()

    def on_watch(event: WatchedEvent) -> None:
        seen.append(event)
        fired.set()

    oc.exists("/obs/inform", watch=on_watch)
    for i in range(100):
        vc.create(f"/obs/burst-{i:03d}", b"b")
    vc.create("/obs/inform", b"news")
    assert fired.wait(10), "the observer's watch did not fire"
    assert seen[0].type == EventType.CREATED
    assert oc.get("/obs/inform")[0] == b"news"
    assert len(oc.get_children("/obs")) == 50 + 2 + 100 + 1

    # Killing the observer does not disturb the voters: same leader, no disconnect, writes go on.
    oc.stop()
    oc.close()
    modes_before = ens.modes()
    elections = {s: _elections(ens, s) for s in voters}
    states.clear()
    obs.kill9()
    t0 = time.monotonic()
    for i in range(100):
        vc.create(f"/obs/while-down-{i:03d}", b"w")
    wait_for(lambda: _mntr(ens.members[leader].host).get("zk_synced_observers") == "0", 10,
             "the leader to drop the observer")
    assert {s: m for s, m in ens.modes().items() if s != OBSERVER} == \
        {s: m for s, m in modes_before.items() if s != OBSERVER}
    assert states == [], f"the voter client saw {states} when the observer died\n{ens.logs()}"
    assert {s: _elections(ens, s) for s in voters} == elections, "a voter left its role"
    print(f"\n100 writes in {time.monotonic() - t0:.2f}s with the observer dead")

    # Restarted, it catches up with what it missed.
    obs.start()
    ens.wait_serving(30)
    oc = _client(obs.address)
    assert len(oc.get_children("/obs")) == 50 + 2 + 100 + 1 + 100 - 1  # /obs/eph went with oc

    # Not counted for the quorum: with two voters gone the leader has only the observer, so
    # it steps down, and the observer stops serving as well.
    for s in voters:
        if s != leader:
            ens.members[s].kill9()
    for s in (leader, OBSERVER):
        wait_for(functools.partial(_not_serving, ens.members[s].host), 15,
                 f"member {s} to stop serving without a voting quorum")
    wait_for(lambda: not oc.connected, 15, "the observer's client to be disconnected")
    try:
        oc.create_async("/obs/no-quorum", b"x").get(timeout=2)
        raise AssertionError("a write succeeded without a voting quorum")
    except (ConnectionLoss, SessionExpiredError, KazooTimeoutError):
        pass
    assert not handshake_ok(obs.host, 2181), "the observer accepted a session without quorum"
    for c in (oc, vc):
        c.stop()
        c.close()
