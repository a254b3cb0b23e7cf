"""Learner sync across implementations (LearnerHandler.syncFollower / Learner.syncWithLeader):
a member of one kind catches up from a leader of the other kind by DIFF after a short outage,
by SNAP after more writes than the leader's committed log keeps (500: Java raises any smaller
commitLogCount to that) with a small snapCount, or from an empty data directory,
and by TRUNC when it logged a proposal that was never committed before it, the leader, died.
The Java side's log names the sync mode it sent or received. Also: a client session moves
between a Java and a pyzk member and keeps its ephemerals."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
from kazoo.protocol.states import KazooState

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage.logfile import iter_log
from tests.ensemble.launcher import Ensemble, Member, four_letter, start_client, wait_for
from tests.integration.rawclient import RawClient
from tests.mixed.mixhelp import children_everywhere, close_all, restart, start_led_by

OPEN_ACL = [r.ACL(31, r.Id("world", "anyone"))]

# What each side logs for each sync mode: (kind, role) -> mode -> regexes ({sid}: the learner).
# Java's leader logs a TRUNC from its first branch (peer past the committed log) only at DEBUG;
# the learner's side names it.
SAYS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("java", "leader"): {"DIFF": (r"Sending DIFF zxid=0x[0-9a-f]+ +for peer sid: {sid}\b",),
                         "SNAP": (r"Sending snapshot last zxid of peer",),
                         "TRUNC": (r"Sending TRUNC zxid=0x[0-9a-f]+ +for peer sid: {sid}\b",)},
    ("java", "learner"): {"DIFF": (r"Getting a diff from the leader",),
                          "SNAP": (r"Getting a snapshot from leader",),
                          "TRUNC": (r"Truncating log to get in sync with the leader",)},
    ("pyzk", "leader"): {"SNAP": (r'"sent SNAP", "learner": {sid}\b',
                                  r'"learner": {sid}, "zxid": "0x[0-9a-f]+", "event": "sent SNAP"')},
    ("pyzk", "learner"): {"SNAP": (r"loaded SNAP from the leader",),
                          "TRUNC": (r"truncated the txn log",)},
}


def other(kind: str) -> str:
    return "java" if kind == "pyzk" else "pyzk"


def sync_modes_in(ens: Ensemble, learner: int, leader: int, since: dict[int, int]) -> set[str]:
    """The sync modes the learner and the leader logged after `since` (log offsets)."""
    found = set()
    for sid, role in ((learner, "learner"), (leader, "leader")):
        text = ens.members[sid].log_text()[since[sid]:]
        for mode, patterns in SAYS[(ens.kind(sid), role)].items():
            if any(re.search(p.format(sid=learner), text) for p in patterns):
                found.add(mode)
    return found


def log_marks(ens: Ensemble) -> dict[int, int]:
    return {s: len(m.log_text()) for s, m in ens.members.items()}


def only_on(ens: Ensemble, sid: int, path: str) -> list[str]:
    c = start_client(ens.members[sid].address)
    try:
        c.sync(path)
        return sorted(c.get_children(path))
    finally:
        close_all([c])


@pytest.mark.parametrize("learner_kind", ["pyzk", "java"])
def test_learner_catches_up_by_diff_after_a_short_outage(mixed, learner_kind: str) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: learner_kind, 2: other(learner_kind), 3: other(learner_kind)})
    start_led_by(ens, leader=3, second=2)
    c = start_client(ens.members[3].address)
    try:
        c.ensure_path("/d")
        c.create("/d/before")
        ens.members[1].stop()
        for i in range(5):
            c.create(f"/d/during{i}", b"x")
        marks = log_marks(ens)
        restart(ens, 1)
        assert sync_modes_in(ens, 1, 3, marks) == {"DIFF"}, ens.logs()
        want = ["before"] + [f"during{i}" for i in range(5)]
        assert only_on(ens, 1, "/d") == want
        c.create("/d/after")
        assert only_on(ens, 1, "/d") == sorted([*want, "after"])
    finally:
        close_all([c])


@pytest.mark.parametrize("how", ["many-writes", "empty-datadir"])
@pytest.mark.parametrize("learner_kind", ["pyzk", "java"])
def test_learner_catches_up_by_snap(mixed, learner_kind: str, how: str) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: learner_kind, 2: other(learner_kind), 3: other(learner_kind)},
                extra={"snapCount": "100"})
    start_led_by(ens, leader=3, second=2)
    c = start_client(ens.members[3].address)
    keeper = start_client(ens.members[2].address)  # a live session: SNAP carries it
    try:
        c.ensure_path("/s")
        c.create("/s/before", b"b")
        keeper.create("/s/eph", ephemeral=True)
        ens.members[1].stop()
        if how == "empty-datadir":
            shutil.rmtree(ens.members[1].datadir)
        n = 600 if how == "many-writes" else 5
        for res in [c.create_async(f"/s/n{i:03d}", b"v" * 100) for i in range(n)]:
            res.get(timeout=30)
        c.set("/s/before", b"changed")
        marks = log_marks(ens)
        restart(ens, 1)
        assert sync_modes_in(ens, 1, 3, marks) == {"SNAP"}, ens.logs()
        want = sorted(["before", "eph"] + [f"n{i:03d}" for i in range(n)])
        assert only_on(ens, 1, "/s") == want
        # The session that came in the snapshot still owns its ephemeral on the learner.
        close_all([keeper])
        wait_for(lambda: "eph" not in only_on(ens, 1, "/s"), 15, "the ephemeral to vanish")
        # The learner persisted what the SNAP gave it: it recovers it after a restart.
        c.create("/s/after-snap")
        ens.members[1].stop()
        c.create("/s/after-stop")
        restart(ens, 1)
        assert only_on(ens, 1, "/s") == sorted({*want, "after-snap", "after-stop"} - {"eph"})
        l1 = start_client(ens.members[1].address)
        assert l1.get("/s/before")[0] == b"changed"
        close_all([l1])
    finally:
        close_all([c, keeper])


def all_threads_stopped(pid: int) -> bool:
    """Every thread of `pid` is in state T (stopped), so none can still read a packet."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
        states = [Path(f"/proc/{pid}/task/{t}/stat").read_text().rsplit(")", 1)[1].split()[0]
                  for t in tids]
    except OSError:
        return False
    return all(st == "T" for st in states)


def logged_paths(member: Member) -> list[str]:
    """Paths of the create txns in the member's txn log."""
    log_dir = member.datadir / "version-2"
    if not log_dir.exists():
        return []
    return [e.txn.path for _, _, e in iter_log(log_dir) if e.hdr.type == Op.CREATE]


@pytest.mark.parametrize("truncated_kind", ["pyzk", "java"])
def test_old_leader_truncates_its_uncommitted_proposal(mixed, truncated_kind: str) -> None:  # type: ignore[no-untyped-def]
    """The leader (3) logs a proposal nobody else got, then dies; 2 and 1 (the other kind)
    elect 2; when 3 comes back the new leader TRUNCs its log to the last committed zxid."""
    ens = mixed({1: other(truncated_kind), 2: other(truncated_kind), 3: truncated_kind},
                extra={"syncLimit": "15"})  # 3 s: the leader keeps leading a frozen follower
    start_led_by(ens, leader=3, second=2)
    c = start_client(ens.members[3].address)
    raw = None
    try:
        c.ensure_path("/t")
        for i in range(3):
            c.create(f"/t/base{i}")
        c.sync("/t")
        close_all([c])
        ens.members[1].stop()
        m2, m3 = ens.members[2], ens.members[3]
        assert m2.proc is not None
        raw = RawClient(m3.host, 2181)
        raw.connect(timeout_ms=4000)  # createSession is a txn too: before quorum goes
        os.kill(m2.proc.pid, signal.SIGSTOP)  # 2 stops acking; 3 cannot commit
        wait_for(lambda: all_threads_stopped(m2.proc.pid), 10, "member 2 to stop")
        raw.send_request(Op.CREATE, r.CreateRequest("/t/uncommitted", b"", OPEN_ACL, 0))
        wait_for(lambda: "/t/uncommitted" in logged_paths(m3), 10,
                 "the leader to log the proposal")
        m3.kill9()
        m2.kill9()  # killed while stopped: it never read the proposal
        raw.close()
        raw = None
        m2.start()
        ens.members[1].start()
        ens.wait_serving(40, members=[1, 2])
        assert ens.members[2].mode() == "leader"
        # Nothing committed in the new epoch yet: the old leader's zxid is past the new one's
        # committed log in the same epoch, so it gets TRUNC (a later-epoch commit would make
        # Java fall back to SNAP: "Cannot send TRUNC to peer sid: 3 peer zxid is from
        # different epoch").
        marks = log_marks(ens)
        restart(ens, 3)
        assert sync_modes_in(ens, 3, 2, marks) == {"TRUNC"}, ens.logs()
        c = start_client(ens.members[2].address)
        c.create("/t/new-epoch")
        want = ["base0", "base1", "base2", "new-epoch"]
        assert children_everywhere(ens, "/t") == {1: want, 2: want, 3: want}
        assert "/t/uncommitted" not in logged_paths(m3)
        # And it stays in step afterwards, also across its own restart.
        c.create("/t/later")
        ens.members[3].stop()
        restart(ens, 3)
        assert only_on(ens, 3, "/t") == sorted([*want, "later"])
    finally:
        if raw is not None:
            raw.close()
        close_all([c])


@pytest.mark.parametrize("direction", ["java-to-pyzk", "pyzk-to-java"])
def test_session_moves_between_kinds_and_keeps_its_ephemerals(mixed, direction: str) -> None:  # type: ignore[no-untyped-def]
    src_kind, dst_kind = direction.split("-to-")
    # Followers 1 (source) and 2 (destination), leader 3 of either kind.
    ens = mixed({1: src_kind, 2: dst_kind, 3: "java"})
    start_led_by(ens, leader=3, second=2)
    src, dst = ens.members[1], ens.members[2]
    k = start_client(src.address)
    states: list[str] = []
    k.add_listener(states.append)
    try:
        k.ensure_path("/m")
        k.create("/m/eph", b"mine", ephemeral=True)
        session = k.client_id
        k.set_hosts(dst.address)
        src.stop()  # the client must reconnect, and can only reach dst
        wait_for(lambda: k.state == KazooState.CONNECTED and "SUSPENDED" in states, 20,
                 "kazoo to reconnect")
        assert k.client_id == session, "the session changed"
        assert KazooState.LOST not in states
        k.sync("/m")
        assert k.get("/m/eph")[0] == b"mine"
        assert four_letter_cons_has(dst.host, session[0])
        k.create("/m/eph2", ephemeral=True)  # the moved session can still write
        restart(ens, 1)
        # A raw re-attach with the session's password works on the source too.
        raw = RawClient(src.host, 2181)
        back = raw.connect(session_id=session[0], passwd=session[1], timeout_ms=4000)
        assert back.sessionId == session[0] and back.timeOut > 0
        raw.close()
        wait_for(lambda: k.state == KazooState.CONNECTED, 20, "kazoo back")
        close_all([k])
        for s in (1, 2, 3):
            wait_for(functools.partial(no_children, ens, s, "/m"), 20, f"ephemerals gone on {s}")
    finally:
        close_all([k])


def no_children(ens: Ensemble, sid: int, path: str) -> bool:
    return only_on(ens, sid, path) == []


def four_letter_cons_has(host: str, session_id: int) -> bool:
    return f"sid=0x{session_id:x}" in four_letter(host, "cons")

