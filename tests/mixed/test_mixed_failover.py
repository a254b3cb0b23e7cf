"""Failures and upgrades in mixed ensembles, with a kazoo writer running throughout and every
acknowledged write checked on every member afterwards: kill -9 of the leader on either side
(a new leader is elected across implementations), and a rolling replacement of three Java
servers by pyzk, one at a time on the same data directory and myid, and back to Java."""

from __future__ import annotations

import json
import re

import pytest

from tests.ensemble.launcher import Ensemble, Member, wait_for
from tests.mixed.javaclient import JavaReport, JavaWriter
from tests.mixed.mixhelp import (
    Writer,
    assert_all_present,
    clients,
    close_all,
    start_led_by,
    wait_leader_among,
)


def other(kind: str) -> str:
    return "java" if kind == "pyzk" else "pyzk"


@pytest.mark.parametrize("leader_kind", ["pyzk", "java"])
def test_kill9_of_the_leader_loses_no_acknowledged_write(mixed, leader_kind: str) -> None:  # type: ignore[no-untyped-def]
    # Leader 3; the survivors 1 and 2 are one of each kind.
    ens: Ensemble = mixed({1: leader_kind, 2: other(leader_kind), 3: leader_kind})
    start_led_by(ens, leader=3, second=2)
    w = Writer(ens.connect_string).start()
    try:
        w.wait_acked(30)
        ens.members[3].kill9()
        new_leader = wait_leader_among(ens, [1, 2])
        w.wait_acked(30)
        ens.members[3].start()
        modes = ens.wait_serving(40)
        assert modes[new_leader] == "leader" and modes[3] == "follower", modes
        w.wait_acked(30)
    finally:
        acked = w.stop()
    assert len(acked) >= 90
    assert_all_present(ens, "/w", acked)


def recovered_zxid(m: Member, since: int) -> int:
    """The zxid the member loaded from its data directory at its last start (after `since`)."""
    text = m.log_text()[since:]
    found = re.findall(r"highest zxid is 0x([0-9a-f]+)", text)  # ZKDatabase.loadDataBase
    if found:
        return int(found[-1], 16)
    for line in text.splitlines():
        if '"data directory recovered"' in line:
            return int(json.loads(line)["zxid"], 16)
    raise AssertionError(f"member {m.sid} logged no recovery:\n{m.tail_log()}")


def test_rolling_replacement_java_to_pyzk_and_back_keeps_every_acknowledged_write(  # type: ignore[no-untyped-def]
        mixed, workdir) -> None:
    """kazoo and the Java client write throughout: each keeps its one session (reconnects to
    another member allowed, expiry not) and every write either acknowledged is everywhere."""
    ens: Ensemble = mixed({1: "java", 2: "java", 3: "java"})
    ens.start(60)
    w = Writer(ens.connect_string).start()
    jw = JavaWriter(ens.connect_string, workdir, parent="/jw", timeout_ms=4000)
    steps: list[str] = []
    try:
        w.wait_acked(20)
        java_acked(jw, 10)
        for target in ("pyzk", "java"):
            for sid in (1, 2, 3):
                ens.members[sid].stop()
                since = len(ens.members[sid].log_text())
                ens.replace(sid, target).start()
                modes = ens.wait_serving(60)
                # It started from the other kind's files, not from an empty directory.
                assert recovered_zxid(ens.members[sid], since) > 0, steps
                steps.append(f"{sid}->{target}: " + ",".join(
                    f"{s}{ens.kind(s)[0]}={m}" for s, m in modes.items()))
                w.wait_acked(20, timeout=40)
                java_acked(jw, 10)
            assert {ens.kind(s) for s in ens.members} == {target}, steps
    finally:
        acked = w.stop()
        rep = jw.stop()
    assert len(acked) >= 140, steps
    assert_all_present(ens, "/w", acked)
    assert_java_writer_kept_its_session_and_writes(ens, rep, steps)


def java_acked(jw: JavaWriter, n: int, timeout: float = 40.0) -> None:
    """Until the Java client has `n` more acknowledged creates than now."""
    target = jw.acked_count() + n
    wait_for(lambda: jw.acked_count() >= target or jw.proc.poll() is not None, timeout,
             f"{n} more Java-client acknowledged writes")
    assert jw.acked_count() >= target, f"Java writer exited:\n{jw.text()[-3000:]}"


def assert_java_writer_kept_its_session_and_writes(ens: Ensemble, rep: JavaReport,
                                                   steps: list[str]) -> None:
    tail = rep.text[-3000:]
    print(f"Java client: session {rep.final_session}, {len(rep.acked)} acked, {rep.unknown} "
          f"unknown, {len(rep.set_versions)} setData, states {rep.states}")
    # One session from start to end: it moved between members (and kinds) but never expired.
    assert len(rep.sessions) == 1 and rep.final_session == rep.sessions[0], tail
    assert not rep.expired and "Expired" not in rep.states, (steps, tail)
    assert len(rep.acked) >= 60, tail
    assert_all_present(ens, "/jw", rep.acked)
    # Its versioned setData of /jw: every member holds at least the last acknowledged version.
    cs = clients(ens, [s for s, m in ens.members.items() if m.running])
    try:
        versions = {}
        for s, c in cs.items():
            c.sync("/jw")
            st = c.exists("/jw")
            versions[s] = -1 if st is None else int(st.version)
    finally:
        close_all(cs.values())
    top = max(rep.set_versions, default=0)
    assert len(set(versions.values())) == 1 and min(versions.values()) >= top, (versions, top)
