"""Power loss, not just kill -9: pyzk runs in the power-cut test mode (PYZK_TEST_POWERCUT_DIR,
pyzk/storage/powercut.py), which records what each fsync made durable; the test SIGKILLs the
server(s) in the middle of a write load and rewinds every file of the data directories to its
last durable state, as losing power would (unsynced appends, renames and creations gone). Then:
every member starts, and every write acknowledged before the cut is there, on every member.

PYZK_POWERCUT_SEED replays a run (the seed, printed, picks the cut times).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError

from pyzk.storage import powercut
from tests.ensemble.launcher import Ensemble
from tests.servers import ServerProc

STANDALONE_HOST = "127.0.0.164"
ENSEMBLE_HOSTS = ["127.0.0.161", "127.0.0.162", "127.0.0.163"]
# Small snapCount and log size: snapshots and log rolls (and their renames and directory
# fsyncs) happen during the load, not only appends.
CFG = {"snapCount": "200", "preAllocSize": "64"}


def _seed() -> int:
    env = os.environ.get("PYZK_POWERCUT_SEED")
    seed = int(env) if env else random.randrange(1 << 30)
    print(f"PYZK_POWERCUT_SEED={seed}")
    return seed


@contextmanager
def _powercut_env(journal: Path) -> Iterator[None]:
    """Children started inside inherit the test mode; this process never installs it
    (pyzk.storage is already imported above)."""
    old = os.environ.get(powercut.ENV)
    os.environ[powercut.ENV] = str(journal)
    try:
        yield
    finally:
        if old is None:
            del os.environ[powercut.ENV]
        else:
            os.environ[powercut.ENV] = old


class Load:
    """Writers creating /pc/<round>/<writer>-<n> as fast as the server acknowledges, plus a
    counter node updated with setData; remembers what was acknowledged."""

    def __init__(self, hosts: str, tag: str, writers: int = 4) -> None:
        self.tag = tag
        self.c = KazooClient(hosts=hosts, timeout=6.0,
                             connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        self.c.start(timeout=30)
        self.c.ensure_path(f"/pc/{tag}")
        try:
            self.c.create(f"/pc/{tag}-counter", b"0")
        except NodeExistsError:
            pass
        self.acked: list[str] = []
        self.counter_version = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,), daemon=True)
                        for w in range(writers)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def run(self, w: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            path = f"/pc/{self.tag}/{w}-{n}"
            try:
                # A few requests in flight per writer: more unsynced data at the cut.
                batch = [self.c.create_async(f"{path}-{k}", b"x" * 100) for k in range(4)]
                done = [r.get(timeout=5) for r in batch]
                with self.lock:
                    self.acked.extend(done)
                if w == 0:
                    st = self.c.set_async(f"/pc/{self.tag}-counter", str(n).encode()).get(5)
                    with self.lock:
                        self.counter_version = max(self.counter_version, st.version)
            except (KazooException, KazooTimeoutError):
                return  # the cut: whatever was in flight is not acknowledged

    def finish(self) -> tuple[list[str], int]:
        self.stop.set()
        for t in self.threads:
            t.join(10)
        with self.lock:
            got = list(self.acked), self.counter_version
        try:
            self.c.stop()
            self.c.close()
        except Exception:  # noqa: BLE001 - the server is gone
            pass
        return got


def _verify(hosts: str, acked: list[str], counter: tuple[str, int]) -> None:
    c = KazooClient(hosts=hosts, timeout=6.0,
                    connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
    c.start(timeout=30)
    try:
        c.sync("/")
        missing = [p for p in acked if c.exists(p) is None]
        assert not missing, (f"{len(missing)} of {len(acked)} acknowledged creates lost on "
                             f"{hosts}, e.g. {missing[:5]}")
        path, version = counter
        st = c.exists(path)
        assert st is not None and st.version >= version, \
            f"{path} at version {st and st.version}, acknowledged {version}, on {hosts}"
    finally:
        c.stop()
        c.close()


def _summary(report: dict[str, list[str]]) -> str:
    return "; ".join(f"{k} {len(v)} {[Path(x.split()[0]).name for x in v][:4]}"
                     for k, v in report.items())


def test_standalone_power_cut(tmp_path: Path) -> None:
    rng = random.Random(_seed())
    srv = ServerProc("pyzk", tmp_path / "srv", host=STANDALONE_HOST, cfg=CFG)
    journal = tmp_path / "journal"
    srv.write_cfg()
    powercut.baseline(journal, [srv.datadir])
    acked_all: list[tuple[list[str], tuple[str, int]]] = []
    try:
        for rnd in range(2):
            with _powercut_env(journal):
                srv.start(30)
            for acked, counter in acked_all:  # earlier rounds survived later cuts too
                _verify(srv.address, acked, counter)
            load = Load(srv.address, f"r{rnd}")
            load.start()
            time.sleep(rng.uniform(0.8, 2.5))
            srv.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            srv.proc.wait(15)  # type: ignore[union-attr]
            acked, version = load.finish()
            report = powercut.cut(journal, [srv.datadir])
            print(f"round {rnd}: {len(acked)} acked; cut: {_summary(report)}")
            assert acked, "no write was acknowledged before the cut"
            acked_all.append((acked, (f"/pc/r{rnd}-counter", version)))
        with _powercut_env(journal):
            srv.start(30)
        for acked, counter in acked_all:
            _verify(srv.address, acked, counter)
    finally:
        srv.stop()


def test_ensemble_loses_power_at_once(tmp_path: Path) -> None:
    rng = random.Random(_seed())
    ens = Ensemble(tmp_path, ENSEMBLE_HOSTS, extra={**CFG, "syncLimit": "5",
                                                     "initLimit": "10"})
    journals = {i: tmp_path / f"s{i}" / "journal" for i in ens.members}
    for i, m in ens.members.items():
        m.datadir.mkdir(parents=True, exist_ok=True)
        (m.datadir / "myid").write_text(f"{i}\n")
        powercut.baseline(journals[i], [m.datadir])

    def start_all() -> None:
        for i, m in ens.members.items():
            with _powercut_env(journals[i]):
                m.start()
        ens.wait_serving(60)

    acked_all: list[tuple[list[str], tuple[str, int]]] = []
    try:
        for rnd in range(2):
            start_all()
            for acked, counter in acked_all:
                for m in ens.members.values():
                    _verify(m.address, acked, counter)
            load = Load(ens.connect_string, f"r{rnd}")
            load.start()
            time.sleep(rng.uniform(1.0, 3.0))
            procs = [m.proc for m in ens.members.values() if m.proc is not None]
            for p in procs:  # all at once
                p.send_signal(signal.SIGKILL)
            for p in procs:
                p.wait(15)
            acked, version = load.finish()
            for i, m in ens.members.items():
                report = powercut.cut(journals[i], [m.datadir])
                print(f"round {rnd} member {i}: {_summary(report)}")
            print(f"round {rnd}: {len(acked)} acked")
            assert acked, "no write was acknowledged before the cut"
            acked_all.append((acked, (f"/pc/r{rnd}-counter", version)))
        start_all()
        for acked, counter in acked_all:
            for m in ens.members.values():
                _verify(m.address, acked, counter)
    except Exception:
        print(ens.logs(40))
        raise
    finally:
        ens.stop()


@pytest.mark.parametrize("fsync", [True, False])
def test_powercut_layer_loses_exactly_the_unsynced(tmp_path: Path, fsync: bool) -> None:
    """The layer itself, in a child process: an fsynced append survives, an unsynced one
    does not; a create whose directory was never fsynced disappears."""
    import subprocess
    import textwrap

    root, journal = tmp_path / "root", tmp_path / "journal"
    root.mkdir()
    (root / "old").write_bytes(b"base")
    powercut.baseline(journal, [root])
    code = textwrap.dedent(f"""
        import os, pyzk.storage
        fd = os.open({str(root / 'old')!r}, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"+synced")
        os.fsync(fd)
        os.write(fd, b"+lost")
        fd2 = os.open({str(root / 'new')!r}, os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd2, b"new")
        os.fsync(fd2)
        if {fsync!r}:
            d = os.open({str(root)!r}, os.O_RDONLY)
            os.fsync(d)
    """)
    env = dict(os.environ, **{powercut.ENV: str(journal)})
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=30)
    assert (root / "old").read_bytes() == b"base+synced+lost"
    powercut.cut(journal, [root])
    assert (root / "old").read_bytes() == b"base+synced"
    if fsync:
        assert (root / "new").read_bytes() == b"new"
    else:
        assert not (root / "new").exists()
