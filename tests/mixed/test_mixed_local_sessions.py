"""Local sessions (localSessionsEnabled / localSessionsUpgradingEnabled) on pyzk members, next
to an all-Java ensemble doing the same: a session made on a follower or on the leader is
local (no txn for its creation or close), writes through it work, an ephemeral create upgrades
it or fails as Java's does, another member does not know it, and mntr counts it."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.ensemble.launcher import Ensemble, wait_for
from tests.integration.rawclient import RawClient
from tests.mixed.mixhelp import start_led_by

SUBNET = "127.0.13"  # apart from the other mixed tests


def zxid(ens: Ensemble, sid: int) -> int:
    text = ens.members[sid].fourlw(ens.members[sid].host, "srvr")
    m = re.search(r"Zxid: 0x([0-9a-f]+)", text)
    assert m, text
    return int(m.group(1), 16)


def mntr(ens: Ensemble, sid: int, key: str) -> str | None:
    for line in ens.members[sid].fourlw(ens.members[sid].host, "mntr").splitlines():
        k, _, v = line.partition("\t")
        if k == key:
            return v
    return None


def leader_zxid(ens: Ensemble, on: int) -> int:
    """The leader's (3) last applied zxid once it has applied all member `on` has: `on`
    answers a txn once it applied it, and the leader, which committed it before, may apply
    it a moment later (a Java leader sends the COMMIT before it applies)."""
    applied = zxid(ens, on)
    wait_for(lambda: zxid(ens, 3) >= applied, 5, f"the leader to apply {applied:#x}")
    return zxid(ens, 3)


def observe(ens: Ensemble, on: int, other: int) -> list[object]:
    """What a client of member `on` sees; zxids counted on the leader (3)."""
    out: list[object] = []
    # A local session that stops pinging after the counts are read; until then each count is
    # read right after a request on it, so a slow moment cannot expire it early (2 s timeout).
    silent = RawClient(ens.members[on].host, 2181)
    silent.connect(timeout_ms=2000)

    def local_sessions() -> str | None:
        assert silent.exists("/").err == 0
        return mntr(ens, on, "zk_local_sessions")
    c = RawClient(ens.members[on].host, 2181)
    try:
        z0 = leader_zxid(ens, on)
        s = c.connect(timeout_ms=4000)
        out.append(("session txn", leader_zxid(ens, on) - z0))
        out.append(("local_sessions", local_sessions()))
        r1 = c.create(f"/ls{on}", b"x")
        out.append(("create", r1.err))
        r2 = c.create(f"/ls{on}/e", b"", flags=1)
        out.append(("ephemeral", r2.err))
        c.call(2, None)  # a sync-free read barrier: exists /
        out.append(("local_sessions after", local_sessions()))
        elsewhere = RawClient(ens.members[other].host, 2181)
        try:
            again = elsewhere.connect(timeout_ms=4000, session_id=s.sessionId, passwd=s.passwd)
            out.append(("elsewhere timeout", again.timeOut))
        finally:
            elsewhere.close()
        z1 = leader_zxid(ens, on)
        c.call(-11, None)  # closeSession
        out.append(("closed by server", c.is_closed_by_server(10)))
        out.append(("close txn", leader_zxid(ens, on) - z1))
        out.append(("silent one expired", silent.is_closed_by_server(10)))
    finally:
        c.close()
        silent.close()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("upgrading", ["false", "true"])
def test_local_sessions_as_java(mixed, upgrading: str) -> None:  # type: ignore[no-untyped-def]
    extra = {"localSessionsEnabled": "true", "localSessionsUpgradingEnabled": upgrading}
    got = {}
    for name, kinds in (("java", {1: "java", 2: "java", 3: "java"}),
                        ("pyzk", {1: "java", 2: "pyzk", 3: "pyzk"})):
        ens = mixed(kinds, subnet=SUBNET, extra=extra)
        start_led_by(ens, leader=3, second=2)
        got[name] = {"follower": observe(ens, 2, 1), "leader": observe(ens, 3, 1)}
        ens.stop()
        for m in ens.members.values():  # the next ensemble reuses the addresses, not the data
            shutil.rmtree(m.workdir)
    for role in ("follower", "leader"):
        assert got["pyzk"][role] == got["java"][role], (role, got)
        seen = dict(got["java"][role])  # what Java does, pinned so the comparison is not idle
        assert seen["session txn"] == 0 and seen["local_sessions"] == "2", seen
        assert seen["silent one expired"] is True, seen
        assert seen["ephemeral"] == (0 if upgrading == "true" else -120), seen
        upgraded = upgrading == "true"  # then the session is global: known everywhere
        assert seen["elsewhere timeout"] == (4000 if upgraded else 0), seen
        assert seen["close txn"] == (1 if upgraded else 0), seen
