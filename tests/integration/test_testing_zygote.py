"""pyzk.testing's fork helper: members it forks are real, separate processes: each serves, a
SIGTERM stops it cleanly (exit 0), a SIGKILL is seen as one (-9), SIGSTOP freezes it, and each
gets its own random state; an ensemble also starts with the fork helper off (fork=False)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from kazoo.client import KazooClient

from pyzk.testing import ZkTestEnsemble
from pyzk.testing.ensemble import four_letter, member_env
from pyzk.testing.server import free_port
from pyzk.testing.zygote import ForkedProcess, Zygote

HOST = "127.0.0.207"


def _spawn(tmp_path: Path, name: str) -> tuple[ForkedProcess, int]:
    port = free_port(HOST)
    work = tmp_path / name
    work.mkdir()
    cfg = work / "zoo.cfg"
    cfg.write_text(f"tickTime=200\ndataDir={work / 'data'}\nclientPort={port}\n"
                   f"clientPortAddress={HOST}\nadmin.enableServer=false\n"
                   "4lw.commands.whitelist=*\nforceSync=no\n")
    proc = Zygote.shared(member_env()).spawn(["serve", "--no-env", "--config", str(cfg)],
                                             str(work), member_env(), str(work / "pyzk.log"))
    return proc, port


def _wait(cond, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_forked_members_serve_and_report_how_they_ended(tmp_path: Path) -> None:
    a, port_a = _spawn(tmp_path, "a")
    b, port_b = _spawn(tmp_path, "b")
    try:
        _wait(lambda: four_letter(HOST, port_a, "ruok") == "imok"
              and four_letter(HOST, port_b, "ruok") == "imok")
        assert a.pid != b.pid and a.poll() is None
        zk = KazooClient(hosts=f"{HOST}:{port_a}")
        zk.start(10)
        zk.create("/forked", b"x")
        assert zk.get("/forked")[0] == b"x"
        zk.stop()
        zk.close()

        a.send_signal(signal.SIGTERM)
        assert a.wait(15) == 0  # the server's clean shutdown on SIGTERM
        b.send_signal(signal.SIGSTOP)  # frozen: alive but silent
        assert b.poll() is None and four_letter(HOST, port_b, "ruok", timeout=0.5) == ""
        b.send_signal(signal.SIGCONT)
        _wait(lambda: four_letter(HOST, port_b, "ruok") == "imok")
        b.kill()
        assert b.wait(15) == -signal.SIGKILL
    finally:
        for p in (a, b):
            p.kill()


def test_ensemble_starts_without_the_fork_helper(tmp_path: Path) -> None:
    with ZkTestEnsemble(3, hosts=["127.0.0.208", "127.0.0.209", "127.0.0.210"],
                        workdir=tmp_path, fork=False) as ens:
        assert all(not isinstance(m.proc, ForkedProcess) for m in ens.members.values())
        roles = sorted(v or "" for v in ens.modes().values())
        assert roles == ["follower", "follower", "leader"]
