"""Hostile input on the quorum port, driven by hand: one focused test for each fix the live
peer-port fuzzer (tests/ensemble/test_peer_fuzz.py, tests/fuzz/peergen.py) led to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pyzk.server.learner_conn import LearnerConn, read_learner
from pyzk.zab import leader as LD
from pyzk.zab import observer_master as OM
from pyzk.zab.packets import PT, encode_int, encode_learner_info, encode_packet, packet
from pyzk.zab.zxid import make_zxid as z


def _closed(acts: list[Any], conn: object) -> list[str]:
    return [a.reason for a in acts if isinstance(a, LD.Close) and a.conn == conn]


def test_leader_times_out_a_connection_that_never_completes_a_packet() -> None:
    """Java's LearnerCnxAcceptor sets soTimeout = tickTime * initLimit on the accepted socket,
    so a connection that sends nothing (or half a FOLLOWERINFO) is closed after it. pyzk made
    the handler only at the first whole packet: such a connection stayed open for ever
    (fuzzer seed 1, quorum cases 9, 15, 18, 19, 24, 26-28)."""
    ld = LD.LeaderCore(1, {1, 2, 3}, set(), 1, 1, z(1, 0), [], tick_ms=100, init_limit=5,
                       sync_limit=2)
    ld.start(0)
    assert ld.on_connect("silent", 0) == []
    assert ld.wakeup_ms() is not None and ld.wakeup_ms() <= 500  # type: ignore[operator]
    assert _closed(ld.on_tick(499), "silent") == []
    assert _closed(ld.on_tick(500), "silent") == ["Read timed out"]
    assert "silent" not in ld.handlers


def test_leader_connect_then_packets_as_before() -> None:
    """on_connect does not change what the first packet does."""
    ld = LD.LeaderCore(1, {1, 2, 3}, set(), 1, 1, z(1, 0), [], tick_ms=100)
    ld.start(0)
    ld.on_connect("x", 0)
    acts = ld.on_packet("x", packet(PT.PING, 0), 10)
    assert _closed(acts, "x") == ["First packet is not FOLLOWERINFO or OBSERVERINFO"]


def test_observer_master_times_out_a_silent_connection() -> None:
    om = OM.ObserverMasterCore(2, 1, 0, b"server.1=...", lambda: (0, []), tick_ms=100,
                               init_limit=5, sync_limit=2)
    om.on_connect("o9", 0)
    assert _closed(om.on_tick(499), "o9") == []
    assert _closed(om.on_tick(500), "o9") == ["Read timed out"]


def test_read_learner_takes_a_learner_info_too_short_for_a_sid() -> None:
    """A FOLLOWERINFO whose data is 1..7 bytes: read_learner peeked at the sid with
    struct.unpack_from and raised struct.error out of the connection callback ("Unhandled
    exception in client_connected_cb", fuzzer seed 1). Java leaves the sid at 0."""
    async def run() -> tuple[str | None, list[Any]]:
        reader = asyncio.StreamReader()
        reader.feed_data(encode_packet(packet(PT.FOLLOWERINFO, 0, b"\xcb7\x14W")))
        reader.feed_eof()
        got: list[Any] = []

        class _W:
            def get_extra_info(self, _: str) -> None:
                return None

        ln = LearnerConn(_W())  # type: ignore[arg-type]
        def feed(qp: Any) -> bool:
            got.append(qp)
            return True

        broken = await read_learner(reader, ln, feed, lambda: False)
        return broken, got

    broken, got = asyncio.run(run())
    assert broken is None and [qp.type for qp in got] == [PT.FOLLOWERINFO]


@pytest.mark.skipif(not str(LD.__file__).endswith(".py"),
                    reason="patches a module global and passes a stand-in storage, which the "
                           "compiled build (pyzk.tools.compiled) does not allow")
def test_a_learner_older_than_every_log_costs_the_leader_no_log_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ACKEPOCH with lastZxid 0 (below the committed window): the disk log cannot serve it
    when its oldest file starts after 0, which the file names say without reading them. The
    leader read and scanned the whole preallocated log on its event loop for each such
    handshake (soak seed 13: a burst of hostile handshakes starved the followers' pings)."""
    from pyzk.server import replication

    (tmp_path / "log.100000001").write_bytes(b"\0" * 64)
    (tmp_path / "log.100000400").write_bytes(b"\0" * 64)

    class _Dir:
        log_dir = tmp_path

        def valid_snapshots(self, n: int) -> list[Any]:
            return []

    class _Storage:
        datadir = _Dir()

    def no_read(path: Path) -> Any:
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(replication, "read_log_file", no_read)
    read = replication.disk_log_reader(_Storage())  # type: ignore[arg-type]
    assert list(read(0)) == []
    assert list(read(z(1, 0))) == []
    with pytest.raises(AssertionError, match="read"):
        list(read(z(1, 1)))  # inside the log: it is read, as before


def _leader_with_history() -> LD.LeaderCore:
    """Leader 1 of {1,2,3}, established with follower 2; committed window 1:5..1:9, the txn
    log older than that."""
    window = [(z(1, i), b"w%d" % i) for i in range(5, 10)]
    ld = LD.LeaderCore(1, {1, 2, 3}, set(), 1, 1, z(1, 9), window, tick_ms=100,
                       init_limit=5, sync_limit=2, defer_disk_log=True)
    ld.start(0)
    ld.on_packet("f2", packet(PT.FOLLOWERINFO, z(1, 0), encode_learner_info(2, 0)), 0)
    ld.on_packet("f2", packet(PT.ACKEPOCH, z(1, 9), encode_int(1)), 0)
    ld.on_packet("f2", packet(PT.ACK, z(2, 0)), 0)
    return ld


def _types(acts: list[Any], conn: object) -> list[str]:
    return [PT(a.qp.type).name for a in acts if isinstance(a, LD.SendTo) and a.conn == conn]


def test_a_sync_from_the_txn_log_waits_for_the_hosts_read() -> None:
    """A learner behind the committed window: the leader core asks its host to read the txn
    log (ReadDiskLog) instead of reading it itself on the host's loop, and syncs that learner
    when the entries come back; other learners and the broadcast go on meanwhile."""
    ld = _leader_with_history()
    ld.on_packet("x", packet(PT.OBSERVERINFO, 0, encode_learner_info(77, 0)), 10)
    acts = ld.on_packet("x", packet(PT.ACKEPOCH, z(1, 2), encode_int(1)), 10)
    assert [a for a in acts if isinstance(a, LD.ReadDiskLog)] == [LD.ReadDiskLog("x", z(1, 2))]
    assert _types(acts, "x") == [] and ld.handlers["x"].stage is LD.HandlerStage.EPOCHACK
    assert ld.on_tick(5000) is not None and "x" in ld.handlers  # no read timeout meanwhile
    disk = [(z(1, i), b"d%d" % i) for i in range(2, 6)]
    acts = ld.disk_log_read("x", disk, 5000)
    assert _types(acts, "x")[:3] == ["DIFF", "PROPOSAL", "COMMIT"]
    assert _types(acts, "x")[-1] == "NEWLEADER"
    assert ld.disk_log_read("x", disk, 5001) == []  # a second answer is ignored


def test_an_unreadable_or_empty_txn_log_means_a_snap() -> None:
    ld = _leader_with_history()
    ld.on_packet("x", packet(PT.FOLLOWERINFO, 0, encode_learner_info(88, 0)), 10)
    ld.on_packet("x", packet(PT.ACKEPOCH, 0, encode_int(1)), 10)
    acts = ld.disk_log_read("x", [], 20)
    assert [a for a in acts if isinstance(a, LD.SendSnap)] == [LD.SendSnap("x", z(1, 9))]


def _om_with_history() -> OM.ObserverMasterCore:
    """A follower's ObserverMaster whose committed window is 1:5..1:9, the txn log older,
    read by its host (defer_disk_log)."""
    window = [(z(1, i), b"w%d" % i) for i in range(5, 10)]
    return OM.ObserverMasterCore(2, 1, 0, b"server.1=...", lambda: (z(1, 9), list(window)),
                                 tick_ms=100, init_limit=5, sync_limit=2, defer_disk_log=True)


def test_an_observer_sync_from_the_txn_log_waits_for_the_hosts_read() -> None:
    """As the leader's: an observer behind the follower's committed window makes the core ask
    its host to read the txn log (ReadDiskLog) rather than read it on the follower's loop,
    where a burst of such handshakes would starve the follower's own pings; the observer is
    synced when the entries come back, and a second answer is ignored."""
    om = _om_with_history()
    om.on_packet("o", packet(PT.OBSERVERINFO, 0, encode_learner_info(77, 0)), 10)
    acts = om.on_packet("o", packet(PT.ACKEPOCH, z(1, 2), encode_int(1)), 10)
    assert [a for a in acts if isinstance(a, LD.ReadDiskLog)] == [LD.ReadDiskLog("o", z(1, 2))]
    assert _types(acts, "o") == [] and om.observers["o"].stage is OM.ObserverStage.ACKEPOCH
    again = om.on_packet("o", packet(PT.ACKEPOCH, z(1, 2), encode_int(1)), 11)
    assert [a for a in again if isinstance(a, LD.ReadDiskLog)] == []  # one read per observer
    disk = [(z(1, i), b"d%d" % i) for i in range(2, 6)]
    acts = om.disk_log_read("o", disk, 20)
    assert _types(acts, "o")[:3] == ["DIFF", "PROPOSAL", "COMMIT"]
    assert _types(acts, "o")[-1] == "NEWLEADER"
    assert om.disk_log_read("o", disk, 21) == []


def test_an_observer_whose_log_read_ends_before_the_window_gets_a_snap() -> None:
    """Entries that stop short of the window (commits moved it on meanwhile, or nothing could
    be read) leave a gap a DIFF cannot cover: SNAP."""
    for disk in ([], [(z(1, 2), b"d2"), (z(1, 3), b"d3")]):
        om = _om_with_history()
        om.on_packet("o", packet(PT.OBSERVERINFO, 0, encode_learner_info(88, 0)), 10)
        om.on_packet("o", packet(PT.ACKEPOCH, z(1, 1), encode_int(1)), 10)
        acts = om.disk_log_read("o", disk, 20)
        assert [a for a in acts if isinstance(a, LD.SendSnap)] == [LD.SendSnap("o", z(1, 9))]
