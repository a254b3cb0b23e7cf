"""difffuzz `--target follower|observer`: each side is a 3-member ensemble of one kind, and the
cases go to one non-leader member of it, so they take the learner's request path (writes,
sync, createSession/closeSession forwarded to the leader and answered when the commit comes
back; Java's FollowerRequestProcessor/ObserverRequestProcessor, CommitProcessor, Learner).

follower: three voters started so that sid 3 leads (tests.mixed.mixhelp.start_led_by); the cases
go to follower 1. observer: voters 1 and 2 and observer 3; the cases go to observer 3.

EnsembleTarget stands where difffuzz's FuzzServer stands for a standalone server (start, stop,
alive, new_log, tail_log, port, proc): `alive` is every member alive, `new_log` is every pyzk
member's new log lines (the leader decodes what a learner forwards as raw bytes), `proc` is the
target member's process. Every epoch starts a new ensemble on fresh data dirs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ensemble.launcher import Ensemble, Member
from tests.mixed.mixhelp import start_led_by

# The first address of each side's three (the next two follow): 127.0.64.0/24, away from the
# standalone run's 127.0.0.61/62. Both sides' addresses must have the same length: replies
# show them (/zookeeper/config's data, and so its dataLength), and `canon` replaces them.
ENSEMBLE_BASE = {"pyzk": "127.0.64.11", "java": "127.0.64.21"}
TARGETS = ("follower", "observer")


def ensemble_hosts(base: str) -> list[str]:
    head, last = base.rsplit(".", 1)
    return [f"{head}.{int(last) + i}" for i in range(3)]


class EnsembleTarget:
    def __init__(self, kind: str, workdir: Path, base: str, target: str,
                 cfg: dict[str, str], jvm_flags: list[str], log_name: str) -> None:
        assert target in TARGETS, target
        self.kind = kind
        self.target = target
        self.workdir = workdir
        self.datadir = workdir  # what Side.stop removes
        hosts = ensemble_hosts(base)
        observers = (3,) if target == "observer" else ()
        self.ens = Ensemble(workdir, hosts, tick_ms=200, extra=cfg, observers=observers,
                            kinds=dict.fromkeys((1, 2, 3), kind))
        for m in self.ens.members.values():
            if kind == "java":
                m.env["SERVER_JVMFLAGS"] = " ".join(jvm_flags)
            m.log_path = m.workdir / log_name
        self._canon = [(h.encode(), f"member{i}".ljust(len(h), "_").encode())
                       for i, h in enumerate(hosts, 1)]
        self.sid = 3 if target == "observer" else 1
        self.host = hosts[self.sid - 1]
        self.port = 2181
        self.cfg = cfg
        self.log_pos: dict[int, int] = {}
        self.crash_counted = False

    def canon(self, frame: bytes) -> bytes:
        """`frame` with this ensemble's addresses replaced by names of the same length
        ("member1____"), so both sides' /zookeeper/config compare equal."""
        for h, name in self._canon:
            if h in frame:
                frame = frame.replace(h, name)
        return frame

    @property
    def member(self) -> Member:
        return self.ens.members[self.sid]

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.member.proc

    def start(self, timeout: float = 60.0) -> EnsembleTarget:
        if self.target == "follower":
            start_led_by(self.ens, 3, 2, timeout=timeout)
        else:
            self.ens.start(timeout)
        mode = self.member.mode()
        if mode != self.target:
            raise RuntimeError(f"{self.kind} member {self.sid} is {mode}, not {self.target}:\n"
                               f"{self.ens.logs()}")
        return self

    def stop(self) -> None:
        self.ens.stop()

    def alive(self) -> bool:
        return all(m.running for m in self.ens.members.values())

    def new_log(self) -> str:
        out = []
        for sid, m in self.ens.members.items():
            try:
                with open(m.log_path, "rb") as f:
                    f.seek(self.log_pos.get(sid, 0))
                    data = f.read()
            except OSError:
                continue
            self.log_pos[sid] = self.log_pos.get(sid, 0) + len(data)
            if data:
                out.append(f"[member {sid}] " + data.decode("utf-8", "replace"))
        return "".join(out)

    def tail_log(self, n: int = 30) -> str:
        dead = [s for s, m in self.ens.members.items() if not m.running]
        return f"dead members {dead}\n" + self.ens.logs(n)
