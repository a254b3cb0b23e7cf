"""Mixed ensembles of pyzk and Java ZooKeeper 3.8.0 servers: 1 pyzk + 2 Java and 2 pyzk + 1
Java, with the leader on either side, elect one leader and replicate: writes made through every
member are read back from every member after sync, watches set on either kind of server fire,
and an ephemeral vanishes ensemble-wide when its session closes or expires, whichever kind of
server owned the session. Observers of either kind serve a leader of the other kind."""

from __future__ import annotations

import threading

import pytest

from tests.mixed.mixhelp import SilentSession, clients, close_all, gone_everywhere, start_led_by

# (kinds by sid, second member started with the leader sid 3): the leader is sid 3.
ARRANGEMENTS = {
    "1pyzk-2java-pyzk-leads": {1: "java", 2: "java", 3: "pyzk"},
    "1pyzk-2java-java-leads": {1: "pyzk", 2: "java", 3: "java"},
    "2pyzk-1java-pyzk-leads": {1: "java", 2: "pyzk", 3: "pyzk"},
    "2pyzk-1java-java-leads": {1: "pyzk", 2: "pyzk", 3: "java"},
}


@pytest.mark.parametrize("arrangement", list(ARRANGEMENTS))
def test_mixed_ensemble_replicates_writes_watches_and_ephemerals(mixed, arrangement: str) -> None:  # type: ignore[no-untyped-def]
    kinds = ARRANGEMENTS[arrangement]
    ens = mixed(kinds)
    start_led_by(ens, leader=3, second=2)
    assert ens.modes() == {1: "follower", 2: "follower", 3: "leader"}
    cs = clients(ens)
    try:
        # Writes through every member, read back from every member after sync.
        for s, c in cs.items():
            c.ensure_path("/app")
            c.create(f"/app/from{s}", f"{kinds[s]}{s}".encode())
        for s, c in cs.items():
            c.sync("/app")
            assert sorted(c.get_children("/app")) == ["from1", "from2", "from3"], s
            assert [c.get(f"/app/from{i}")[0] for i in (1, 2, 3)] == \
                [f"{kinds[i]}{i}".encode() for i in (1, 2, 3)], s
        # The same zxid everywhere for the last write (one history).
        stats = {s: c.exists("/app/from3") for s, c in cs.items()}
        assert len({st.mzxid for st in stats.values()}) == 1, stats

        # Data and child watches set on every member fire for a write through each other kind.
        for writer in cs:
            data_fired = {s: threading.Event() for s in cs}
            child_fired = {s: threading.Event() for s in cs}
            for s, c in cs.items():
                c.sync("/app")
                c.get("/app/from1", watch=lambda e, ev=data_fired[s]: ev.set())
                c.get_children("/app", watch=lambda e, ev=child_fired[s]: ev.set())
            cs[writer].set("/app/from1", f"by{writer}".encode())
            cs[writer].create(f"/app/child-by{writer}")
            for s in cs:
                assert data_fired[s].wait(10), f"data watch on {s} ({kinds[s]}), writer {writer}"
                assert child_fired[s].wait(10), f"child watch on {s} ({kinds[s]}), writer {writer}"

        # Ephemerals: a session owned by each member closes; its ephemeral vanishes everywhere.
        for owner in cs:
            o = clients(ens, [owner])[owner]
            o.create(f"/app/eph-close-{owner}", ephemeral=True)
            for s, c in cs.items():
                c.sync("/app")
                assert c.exists(f"/app/eph-close-{owner}") is not None, (owner, s)
            close_all([o])
            gone_everywhere(cs, f"/app/eph-close-{owner}")

        # And sessions owned by each member that stop pinging expire (1 s timeout) on the
        # leader, whichever kind it is; their ephemerals vanish everywhere.
        silent = [SilentSession(ens.members[s].host, f"/app/eph-expire-{s}") for s in cs]
        try:
            for s, c in cs.items():
                c.sync("/app")
                assert all(c.exists(f"/app/eph-expire-{o}") for o in cs), s
            for o in cs:
                gone_everywhere(cs, f"/app/eph-expire-{o}")
        finally:
            for x in silent:
                x.close()
    finally:
        close_all(cs.values())


@pytest.mark.parametrize("observer_kind", ["pyzk", "java"])
def test_observer_of_one_kind_serves_a_leader_of_the_other(mixed, observer_kind: str) -> None:  # type: ignore[no-untyped-def]
    other = "java" if observer_kind == "pyzk" else "pyzk"
    ens = mixed({1: other, 2: other, 3: observer_kind}, observers=(3,))
    start_led_by(ens, leader=2, second=1)
    assert ens.modes() == {1: "follower", 2: "leader", 3: "observer"}
    cs = clients(ens)
    try:
        fired = threading.Event()
        cs[3].ensure_path("/obs")
        cs[3].get_children("/obs", watch=lambda e: fired.set())
        cs[1].create("/obs/by-follower", b"f")
        assert fired.wait(10), "child watch on the observer"
        cs[3].create("/obs/by-observer", b"o")  # forwarded to the leader
        for s, c in cs.items():
            c.sync("/obs")
            assert sorted(c.get_children("/obs")) == ["by-follower", "by-observer"], s
        # An ephemeral owned through the observer vanishes everywhere on close and on expiry.
        o = clients(ens, [3])[3]
        o.create("/obs/eph", ephemeral=True)
        cs[2].sync("/obs")
        assert cs[2].exists("/obs/eph") is not None
        close_all([o])
        gone_everywhere(cs, "/obs/eph")
        silent = SilentSession(ens.members[3].host, "/obs/eph-expire")
        try:
            gone_everywhere(cs, "/obs/eph-expire")
        finally:
            silent.close()
    finally:
        close_all(cs.values())
