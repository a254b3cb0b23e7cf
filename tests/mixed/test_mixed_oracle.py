"""oraclePath (QuorumOracleMaj) in two-voter ensembles, pyzk next to Java 3.8.0: each member
reads its own oracle file; the member whose oracle says '1' keeps serving (or takes the lead)
when the other one dies, the other, when it comes back, follows it because its own oracle says
'0'; a member whose oracle says '0' left alone serves nothing. Same outcomes for an all-Java
pair and for pyzk/Java pairs with either kind on either side."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kazoo.exceptions import KazooException

from tests.ensemble.launcher import Ensemble, start_client, wait_for
from tests.mixed.mixhelp import close_all

SUBNET = "127.0.17"  # apart from the other mixed tests


def writes_through(ens: Ensemble, sid: int, path: str) -> bool:
    try:
        c = start_client(ens.members[sid].address, timeout=5)
    except KazooException:
        return False
    try:
        c.create(path, b"v", makepath=True)
        return True
    except KazooException:
        return False
    finally:
        close_all([c])


def scenario(ens: Ensemble) -> list[object]:
    out: list[object] = []
    # 1 starts alone: its oracle grants it the lead without a majority.
    ens.members[1].start()
    wait_for(lambda: ens.members[1].mode() == "leader", 40, "member 1 leading alone")
    out.append(("1 alone at start", writes_through(ens, 1, "/o/first")))
    # 2 joins; it hears 1 LEADING, sees no majority, its oracle says 0: it follows 1.
    ens.members[2].start()
    out.append(("2 joins", ens.wait_serving(40)))
    # The follower dies: the leader keeps leading on its oracle and commits alone.
    ens.members[2].stop()
    ens.wait_serving(40, members=[1])
    out.append(("2 gone", ens.members[1].mode(), writes_through(ens, 1, "/o/alone")))
    ens.members[2].start()
    out.append(("2 back", ens.wait_serving(40)))
    c = start_client(ens.members[2].address)
    try:
        c.sync("/o")
        out.append(("2 sees", sorted(c.get_children("/o"))))
    finally:
        close_all([c])
    # The leader dies: 2's oracle says 0, so it serves nothing.
    ens.members[1].stop()
    wait_for(lambda: ens.members[2].mode() not in ("leader", "follower"), 40,
             "member 2 giving up")
    out.append(("2 alone", ens.members[2].mode()))
    return out


@pytest.mark.slow
def test_oracle_decides_for_a_lone_member_as_java(mixed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    got = {}
    for name, kinds in (("java", {1: "java", 2: "java"}), ("pyzk-1", {1: "pyzk", 2: "java"}),
                        ("pyzk-2", {1: "java", 2: "pyzk"})):
        oracles = {1: tmp_path / f"{name}-oracle1", 2: tmp_path / f"{name}-oracle2"}
        oracles[1].write_text("1")
        oracles[2].write_text("0")
        ens = mixed(kinds, subnet=SUBNET)
        for sid, m in ens.members.items():
            m.cfg["oraclePath"] = str(oracles[sid])
        try:
            got[name] = scenario(ens)
        finally:
            ens.stop()
            for m in ens.members.values():
                shutil.rmtree(m.workdir, ignore_errors=True)
    assert got["java"] == [("1 alone at start", True),
                           ("2 joins", {1: "leader", 2: "follower"}),
                           ("2 gone", "leader", True),
                           ("2 back", {1: "leader", 2: "follower"}),
                           ("2 sees", ["alone", "first"]), ("2 alone", None)], got
    assert got["pyzk-1"] == got["java"] and got["pyzk-2"] == got["java"], got
