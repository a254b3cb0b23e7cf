"""A seeded, pipelined multi-session writer that a SIGKILL interrupts, and its checker.

Each session owns the subtree /r<round>/s<i> and issues, in order, creates, setData on its own
keys (the k-th set of a key must leave version k) and multis (two creates plus a setData of the
session's multi key: all or nothing). Because a session's writes are logged in send order, the
recovered state must be exactly the first P writes of every session, with every acknowledged
write inside that prefix; anything else (a lost ack, a half multi, a phantom node) is a failure.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from tests.durability.aclient import OPEN_ACL, AsyncZk

KEYS = 4
WINDOW = 16  # writes in flight per session


@dataclass
class Write:
    kind: str  # "create" | "set" | "multi"
    paths: tuple[str, ...]  # create: (path,); set: (key,); multi: (a, b, multi key)
    data: bytes
    version: int = 0  # set/multi: the version this write gives its key
    acked: bool = False
    zxid: int = -1  # from the reply header, when acknowledged


@dataclass
class SessionLog:
    base: str
    writes: list[Write] = field(default_factory=list)
    key_data: dict[str, list[bytes]] = field(default_factory=dict)  # key -> data by version
    recovered: int = -1  # after check_session: how many of `writes` recovery kept


@dataclass
class RoundResult:
    sessions: list[SessionLog]
    acked: int
    killed_at: float  # seconds after the writer started
    errors: list[str]


def _key(base: str, j: int) -> str:
    return f"{base}/k{j}"


def _mkey(base: str) -> str:
    return f"{base}/mk"


async def setup_round(host: str, port: int, root: str, nsessions: int) -> list[SessionLog]:
    """Create root, one subtree per session, its keys and multi key (all acknowledged)."""
    zk = await AsyncZk.connect(host, port)
    try:
        futs = [zk.create(root, b"")]
        logs = []
        for i in range(nsessions):
            base = f"{root}/s{i}"
            log = SessionLog(base)
            futs.append(zk.create(base, b""))
            for j in range(KEYS):
                futs.append(zk.create(_key(base, j), b"init"))
                log.key_data[_key(base, j)] = [b"init"]
            futs.append(zk.create(_mkey(base), b"m-init"))
            log.key_data[_mkey(base)] = [b"m-init"]
            logs.append(log)
        for rep in await asyncio.gather(*futs):
            if rep.err:
                raise AssertionError(f"setup write failed with err {rep.err}")
        return logs
    finally:
        await zk.close()


async def _session_writer(zk: AsyncZk, log: SessionLog, rng: random.Random, budget: int,
                          on_ack: Callable[[], None], errors: list[str]) -> None:
    sem = asyncio.Semaphore(WINDOW)
    pending: set[asyncio.Future[Any]] = set()
    base = log.base

    def settle(w: Write, fut: asyncio.Future[Any]) -> None:
        sem.release()
        pending.discard(fut)
        if fut.cancelled() or fut.exception() is not None:
            return
        rep = fut.result()
        if rep.err != 0:
            errors.append(f"{w.kind} {w.paths} failed with err {rep.err}")
            return
        if w.kind == "set" and rep.body.stat.version != w.version:
            errors.append(f"set {w.paths[0]} acked version {rep.body.stat.version}, "
                          f"model expected {w.version}")
        w.acked, w.zxid = True, rep.zxid
        on_ack()

    for n in range(budget):
        await sem.acquire()
        if zk.closed:
            sem.release()
            break
        roll = rng.random()
        if roll < 0.4:
            path = f"{base}/c{n}"
            w = Write("create", (path,), f"c{n}-{rng.getrandbits(32):08x}".encode())
            fut = zk.create(path, w.data)
        elif roll < 0.8:
            key = _key(base, rng.randrange(KEYS))
            versions = log.key_data[key]
            w = Write("set", (key,), f"s{n}-{rng.getrandbits(32):08x}".encode(), len(versions))
            versions.append(w.data)
            fut = zk.set(key, w.data)
        else:
            mk = _mkey(base)
            versions = log.key_data[mk]
            a, b = f"{base}/m{n}a", f"{base}/m{n}b"
            w = Write("multi", (a, b, mk), f"m{n}-{rng.getrandbits(32):08x}".encode(),
                      len(versions))
            versions.append(w.data)
            fut = zk.multi([(Op.CREATE, r.CreateRequest(a, w.data, OPEN_ACL, 0)),
                            (Op.CREATE, r.CreateRequest(b, w.data, OPEN_ACL, 0)),
                            (Op.SET_DATA, r.SetDataRequest(mk, w.data, -1))])
        log.writes.append(w)
        pending.add(fut)
        fut.add_done_callback(functools.partial(settle, w))
    if pending:
        await asyncio.wait(pending)


async def run_writer(host: str, port: int, logs: list[SessionLog], seed: int, budget: int,
                     kill_after_acks: int, kill: Callable[[], None],
                     timeout: float = 30.0) -> RoundResult:
    """Drive every session until `kill_after_acks` writes are acknowledged, then kill the
    server (synchronously, from the reply callback, while writes are in flight)."""
    sessions = [await AsyncZk.connect(host, port, timeout_ms=4000) for _ in logs]
    errors: list[str] = []
    acked = 0
    killed: list[float] = []
    t0 = time.monotonic()

    def on_ack() -> None:
        nonlocal acked
        acked += 1
        if acked >= kill_after_acks and not killed:
            kill()
            killed.append(time.monotonic() - t0)

    tasks = [_session_writer(zk, log, random.Random(seed * 7919 + i), budget, on_ack, errors)
             for i, (zk, log) in enumerate(zip(sessions, logs, strict=True))]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    if not killed:
        # Every write was acknowledged before the threshold: kill an idle server instead.
        kill()
        killed.append(time.monotonic() - t0)
    for zk in sessions:
        await zk.close()
    return RoundResult(logs, acked, killed[0], errors)


# -- checking ---------------------------------------------------------------------------------

async def read_state(zk: AsyncZk, log: SessionLog) -> dict[str, tuple[bytes, int] | None]:
    """Data and version of the session's keys and of every node under its base."""
    ch = await zk.children(log.base)
    if ch.err:
        raise AssertionError(f"{log.base}: getChildren err {ch.err} after recovery")
    names = [f"{log.base}/{c}" for c in ch.body.children]
    reps = await asyncio.gather(*(zk.get(p) for p in names))
    state: dict[str, tuple[bytes, int] | None] = {}
    for p, rep in zip(names, reps, strict=True):
        if rep.err:
            raise AssertionError(f"{p}: listed but getData err {rep.err}")
        state[p] = (rep.body.data or b"", rep.body.stat.version)
    return state


def check_session(log: SessionLog, state: dict[str, Any],
                  lost_zxids: frozenset[int] = frozenset()) -> list[str]:
    """Failures for one session (empty when the recovered state is a valid prefix).

    lost_zxids: acknowledged txns the test itself destroyed (a simulated torn write), which are
    then treated as unacknowledged.
    """
    bad: list[str] = []
    base = log.base
    sent: set[str] = set(log.key_data)
    for key, versions in log.key_data.items():
        if key not in state:
            bad.append(f"{key}: set up before the crash, missing after recovery")
            continue
        data, v = state[key]
        if v >= len(versions):
            bad.append(f"{key}: version {v} but only {len(versions) - 1} sets were ever sent")
        elif data != versions[v]:
            bad.append(f"{key}: version {v} holds {data!r}, the write of that version sent "
                       f"{versions[v]!r}")
    applied: list[bool] = []
    for w in log.writes:
        if w.kind == "create":
            sent.add(w.paths[0])
            here = w.paths[0] in state
            if here and state[w.paths[0]][0] != w.data:
                bad.append(f"{w.paths[0]}: data {state[w.paths[0]][0]!r} != sent {w.data!r}")
            applied.append(here)
        elif w.kind == "set":
            st = state.get(w.paths[0])
            applied.append(st is not None and st[1] >= w.version)
        else:
            a, b, mk = w.paths
            sent.update((a, b))
            st = state.get(mk)
            parts = (a in state, b in state, st is not None and st[1] >= w.version)
            if len(set(parts)) != 1:
                bad.append(f"multi {a},{b},{mk}@v{w.version} half-applied: "
                           f"(create a, create b, set) = {parts}")
            for p in (a, b):
                if p in state and state[p][0] != w.data:
                    bad.append(f"{p}: data {state[p][0]!r} != sent {w.data!r}")
            applied.append(all(parts))
    prefix = applied.index(False) if False in applied else len(applied)
    log.recovered = prefix
    if any(applied[prefix:]):
        first = prefix + applied[prefix:].index(True)
        bad.append(f"{base}: write #{first} applied after unapplied write #{prefix} "
                   "(recovered state is not a prefix of the session's writes)")
    for i, w in enumerate(log.writes):
        if w.acked and w.zxid not in lost_zxids and not applied[i]:
            bad.append(f"{base}: acknowledged {w.kind} #{i} {w.paths} (zxid {w.zxid:#x}) lost")
    phantoms = sorted(set(state) - sent)
    if phantoms:
        bad.append(f"{base}: nodes that were never sent exist: {phantoms[:5]}")
    return bad


async def verify(host: str, port: int, logs: list[SessionLog],
                 lost_zxids: frozenset[int] = frozenset()) -> tuple[list[str], list[dict[str, Any]]]:
    """Check every session of a round; returns (failures, recovered states)."""
    zk = await AsyncZk.connect(host, port)
    try:
        states = [await read_state(zk, log) for log in logs]
    finally:
        await zk.close()
    bad: list[str] = []
    for log, st in zip(logs, states, strict=True):
        bad += check_session(log, st, lost_zxids)
    return bad, states
