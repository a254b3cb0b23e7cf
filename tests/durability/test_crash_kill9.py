"""A write pyzk acknowledged is never lost: SIGKILL at seeded random moments mid-load, restart on
the same data dir, and the recovered tree is exactly a prefix of each session's writes that
contains every acknowledged one. Also: a torn last log entry is dropped with a warning, a
corrupted entry mid-log refuses startup with one clear line, sessions survive a restart (or
expire after their timeout), and forceSync=no still serves and recovers.

Reproduce a failure with PYZK_CRASH_SEED=<seed> (and PYZK_CRASH_ROUNDS=<n>); seeds are printed.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from pyzk.storage import txnlog
from pyzk.storage.logfile import read_log_file, sorted_logs
from tests.durability.aclient import AsyncZk
from tests.durability.workload import RoundResult, run_writer, setup_round, verify
from tests.servers import ServerProc

ROUNDS = int(os.environ.get("PYZK_CRASH_ROUNDS", "15"))
SESSIONS = 8
BUDGET = 250  # writes per session per round: bounds a round even if the kill never fires
ROUND_TIMEOUT = 30.0


def _seed() -> int:
    raw = os.environ.get("PYZK_CRASH_SEED")
    return int(raw) if raw else random.SystemRandom().randrange(1, 10**9)


def _kill(srv: ServerProc) -> Callable[[], None]:
    def kill() -> None:
        assert srv.proc is not None
        srv.proc.kill()
    return kill


def _crash_round(srv: ServerProc, root: str, seed: int, kill_after: int) -> RoundResult:
    """Load, SIGKILL mid-load, reap the process; returns what was sent and acknowledged."""
    async def go() -> RoundResult:
        logs = await setup_round(srv.host, srv.port, root, SESSIONS)
        return await run_writer(srv.host, srv.port, logs, seed, BUDGET, kill_after, _kill(srv),
                                timeout=ROUND_TIMEOUT)
    res = asyncio.run(go())
    assert srv.proc is not None
    srv.proc.wait(10)
    assert srv.proc.returncode == -9, f"server was not SIGKILLed: rc {srv.proc.returncode}"
    assert not res.errors, res.errors[:5]
    return res


def _verify(srv: ServerProc, res: RoundResult,
            lost: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    bad, states = asyncio.run(verify(srv.host, srv.port, res.sessions, lost))
    assert not bad, "\n".join(bad[:20])
    return states


def test_acknowledged_writes_survive_kill9_at_random_moments(
        pyzk_server: Callable[..., ServerProc]) -> None:
    seed = _seed()
    print(f"\ncrash test: PYZK_CRASH_SEED={seed} PYZK_CRASH_ROUNDS={ROUNDS}")
    rng = random.Random(seed)
    # A small snapCount makes snapshots (and log rolls) happen during the load, so kills also
    # land mid-snapshot and recovery runs from snapshot + several logs.
    srv = pyzk_server(snapCount="300", preAllocSize="64")
    srv.start()
    rounds: list[tuple[RoundResult, list[dict[str, Any]]]] = []
    for n in range(ROUNDS):
        t0 = time.monotonic()
        kill_after = rng.randrange(1, SESSIONS * BUDGET // 2)
        round_seed = rng.randrange(1 << 30)
        res = _crash_round(srv, f"/r{n}", round_seed, kill_after)
        srv.start()
        states = _verify(srv, res)
        rounds.append((res, states))
        sent = sum(len(s.writes) for s in res.sessions)
        kept = sum(s.recovered for s in res.sessions)
        print(f"round {n}: seed {round_seed} kill after {kill_after} acks "
              f"(at {res.killed_at:.3f}s): sent {sent}, acked {res.acked}, recovered {kept}, "
              f"round {time.monotonic() - t0:.2f}s")
    # One more SIGKILL of an idle server: recovery must reproduce every round's state exactly.
    srv.kill9()
    srv.start()

    async def reread() -> list[list[dict[str, Any]]]:
        from tests.durability.workload import read_state
        zk = await AsyncZk.connect(srv.host, srv.port)
        try:
            return [[await read_state(zk, log) for log in res.sessions] for res, _ in rounds]
        finally:
            await zk.close()

    again = asyncio.run(reread())
    for n, ((_, states), now) in enumerate(zip(rounds, again, strict=True)):
        assert now == states, f"round {n}: state changed across an idle restart"


def _last_entry(log_dir: Path) -> tuple[Path, int, int, int]:
    """(file, entry offset, entry end, zxid) of the last complete entry in the newest log."""
    for path in reversed(sorted_logs(log_dir)):
        scan = read_log_file(path)
        if scan.entries:
            off, payload = scan.entries[-1]
            zxid = txnlog.deserialize_txn(payload).hdr.zxid
            return path, off, off + 12 + len(payload) + 1, zxid
    raise AssertionError(f"no log entries in {log_dir}")


def test_torn_last_log_entry_is_dropped_with_a_warning(
        pyzk_server: Callable[..., ServerProc]) -> None:
    seed = _seed()
    print(f"\ntorn test: PYZK_CRASH_SEED={seed}")
    rng = random.Random(seed)
    srv = pyzk_server()  # default snapCount: one snapshot.0 and one log, so the tail is replayed
    srv.start()
    res = _crash_round(srv, "/torn", rng.randrange(1 << 30), rng.randrange(100, 800))
    log_dir = srv.datadir / "version-2"
    path, off, end, zxid = _last_entry(log_dir)
    # A power cut mid-write: the entry loses its last bytes (and the zeros after it).
    cut = end - rng.randrange(1, 6)
    with open(path, "r+b") as f:
        f.truncate(cut)
    voided = [w for lg in res.sessions for w in lg.writes if w.acked and w.zxid == zxid]
    print(f"cut {path.name} at {cut} (entry zxid {zxid:#x} at offset {off}, ends {end}); "
          f"acknowledged writes voided by the cut: {[(w.kind, w.paths) for w in voided]}")
    mark = srv.log_path.stat().st_size
    srv.start()
    # The torn txn's reply (if any) is void: its fsync is what "did not complete".
    _verify(srv, res, lost=frozenset({zxid}))
    text = srv.log_path.read_bytes()[mark:].decode(errors="replace")
    warned = [ln for ln in text.splitlines() if "torn txn log entry" in ln]
    assert warned and path.name in warned[0] and f"offset {off}" in warned[0], text[-2000:]
    # The torn file stays; new txns go to a new file, and both replay on the next restart.
    res2 = _crash_round(srv, "/torn2", rng.randrange(1 << 30), rng.randrange(50, 400))
    srv.start()
    _verify(srv, res, lost=frozenset({zxid}))
    _verify(srv, res2)


def _good_nodes(srv: ServerProc, n: int) -> None:
    async def go() -> None:
        zk = await AsyncZk.connect(srv.host, srv.port)
        reps = await asyncio.gather(*(zk.create(f"/n{i}", b"x%d" % i) for i in range(n)))
        assert all(rep.err == 0 for rep in reps)
        await zk.close()
    asyncio.run(go())


def test_corrupt_entry_mid_log_refuses_to_start_with_one_line(
        pyzk_server: Callable[..., ServerProc]) -> None:
    srv = pyzk_server()
    srv.start()
    _good_nodes(srv, 200)
    srv.kill9()
    (path,) = sorted_logs(srv.datadir / "version-2")
    scan = read_log_file(path)
    off, payload = scan.entries[len(scan.entries) // 2]
    with open(path, "r+b") as f:
        f.seek(off + 12 + len(payload) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x5A]))
    cfg = srv.write_cfg()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run(srv.command(cfg), capture_output=True, text=True, timeout=60,
                          cwd=srv.workdir, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "Traceback" not in out, out[-3000:]
    errors = [ln for ln in out.splitlines() if str(path) in ln and f"offset {off}" in ln]
    assert len(errors) == 1, out[-3000:]
    print(f"\nexit {proc.returncode}: {errors[0]}")
    assert "CRC" in errors[0] or "checksum" in errors[0].lower(), errors[0]


def test_sessions_survive_restart_or_expire_after_their_timeout(
        pyzk_server: Callable[..., ServerProc]) -> None:
    srv = pyzk_server(tickTime="200")
    srv.start()

    async def make_sessions() -> tuple[tuple[int, bytes], int]:
        keep = await AsyncZk.connect(srv.host, srv.port, timeout_ms=2000)
        drop = await AsyncZk.connect(srv.host, srv.port, timeout_ms=2000)
        for zk, name in ((keep, "/keep"), (drop, "/drop")):
            rep = await zk.create(name, b"e", flags=1)  # EPHEMERAL
            assert rep.err == 0, rep.err
        srv.kill9()  # the sockets die with the server: no closeSession is ever sent
        return (keep.session_id, keep.passwd), drop.session_id

    keep_id, drop_sid = asyncio.run(make_sessions())
    t_start = time.monotonic()
    srv.start()
    kz = KazooClient(hosts=srv.address, client_id=keep_id, timeout=2.0)
    kz.start(timeout=10)
    try:
        assert kz.client_id[0] == keep_id[0], "kazoo did not resume the session"
        stat = kz.exists("/keep")
        assert stat is not None and stat.ephemeralOwner == keep_id[0]
        deadline = time.monotonic() + 15
        while (st := kz.exists("/drop")) is not None:
            assert st.ephemeralOwner == drop_sid
            assert time.monotonic() < deadline, "/drop outlived its session by far"
            kz.sync("/")  # one round trip per poll; no bare sleep
            time.sleep(0.05)
        gone_after = time.monotonic() - t_start
        # Restored sessions get a fresh timeout at recovery (which follows t_start), so the
        # ephemeral cannot go before 2 s minus one tick of bucket rounding.
        assert gone_after >= 2.0 - 0.2, f"/drop removed {gone_after:.2f}s after restart"
        # The resumed session was kept alive by kazoo's pings throughout.
        assert kz.exists("/keep") is not None
    finally:
        kz.stop()
        kz.close()


def test_force_sync_no_serves_and_recovers_after_clean_stop(
        pyzk_server: Callable[..., ServerProc]) -> None:
    srv = pyzk_server(forceSync="no")
    srv.start()
    _good_nodes(srv, 300)
    srv.stop()
    assert srv.proc is not None and srv.proc.returncode == 0, srv.tail_log()
    srv.start()

    async def check() -> None:
        zk = await AsyncZk.connect(srv.host, srv.port)
        reps = await asyncio.gather(*(zk.get(f"/n{i}") for i in range(300)))
        assert [rep.body.data if rep.err == 0 else rep.err for rep in reps] == \
            [b"x%d" % i for i in range(300)]
        await zk.close()
    asyncio.run(check())
