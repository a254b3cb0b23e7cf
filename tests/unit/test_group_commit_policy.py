"""GroupCommit under SyncRequestProcessor's flush rules (pyzk.pipeline.sync_policy), socket- and
disk-free: a storage that records what each flush wrote."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from pyzk.pipeline.sync_policy import SyncPolicy
from pyzk.server import group_commit
from pyzk.server.group_commit import GroupCommit

# Compiled (pyzk.tools.compiled, as tests/integration/test_compiled.py runs tests/unit),
# GroupCommit takes a TxnSnapLog and refuses the stand-in storage these tests count flushes with.
pytestmark = pytest.mark.skipif(not str(group_commit.__file__).endswith(".py"),
                                reason="a stand-in storage; the compiled GroupCommit takes a "
                                       "TxnSnapLog only")


class _Hdr(NamedTuple):
    time: float


class _Writer:
    def __init__(self) -> None:
        self.pending = 0

    def append(self, hdr: Any, txn: Any, digest: Any) -> None:
        self.pending += 1

    def append_serialized(self, hdr: Any, body: bytes) -> None:
        self.pending += 1


class _Storage:
    """Counts the txns each flush makes durable."""

    def __init__(self) -> None:
        self.writer = _Writer()
        self.flushes: list[int] = []

    def append_batch(self, txns: list[Any]) -> None:
        self.writer.pending += len(txns)

    def flush(self, fsync: bool) -> int:
        self.flushes.append(self.writer.pending)
        self.writer.pending = 0
        return 0


def _commit(policy: SyncPolicy) -> tuple[GroupCommit, _Storage]:
    storage = _Storage()
    return GroupCommit(storage, force_sync=False, policy=policy), storage  # type: ignore[arg-type]


async def _drain(gc: GroupCommit, until: Callable[[], bool]) -> None:
    for _ in range(200):  # bounded: 200 wake-ups of at most 50 ms
        if until():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("group commit did not finish")


def test_a_batch_holds_at_most_max_batch_size_txns() -> None:
    async def run() -> list[int]:
        gc, storage = _commit(SyncPolicy(max_batch=10))
        done: list[int] = []
        for _ in range(25):
            gc.add((_Hdr(time.time() * 1000), None, None), lambda t: done.append(len(t)))  # type: ignore[arg-type]
        gc.start()
        await _drain(gc, lambda: sum(done) == 25)
        await gc.stop()
        return storage.flushes

    assert asyncio.run(run()) == [10, 10, 5]


def test_flush_delay_gathers_until_no_write_comes_for_max_write_queue_poll_time() -> None:
    async def run() -> tuple[list[int], float]:
        gc, storage = _commit(SyncPolicy(flush_delay_ms=2000, max_poll_ms=150, max_batch=100))
        durable: list[float] = []
        gc.start()
        t0 = time.monotonic()
        for _ in range(3):  # arrive within the poll time of each other
            gc.add((_Hdr(time.time() * 1000), None, None),
                   lambda t: durable.append(time.monotonic() - t0))  # type: ignore[arg-type]
            await asyncio.sleep(0.02)
        gc.submit([], lambda: None)  # a job without txns does not upset the gathering
        await _drain(gc, lambda: bool(durable))
        await gc.stop()
        return storage.flushes, durable[0]

    flushes, waited = asyncio.run(run())
    assert flushes == [3]
    assert waited >= 0.15  # held for the poll time after the last write


def test_runs_gathered_from_one_chunk_are_packed_up_to_max_batch_size() -> None:
    """A host's runs (one per PROPOSAL, or one per multi-entry Persist) become jobs of at most
    maxBatchSize entries, a run never split; each job reports the seq of its last run. Flushes
    then hold exactly maxBatchSize entries, as SyncRequestProcessor's (a job that would overflow
    one is split, and reports only once all of it is durable)."""
    async def run() -> tuple[list[int], list[int]]:
        gc, storage = _commit(SyncPolicy(max_batch=3))
        e = (_Hdr(time.time() * 1000), None, None, b"")
        released: list[int] = []
        gc.submit_runs([([e], 1), ([e], 2), ([e, e], 3), ([e] * 5, 4), ([e], 5)],  # type: ignore[list-item]
                       released.append)
        gc.start()
        await _drain(gc, lambda: released[-1:] == [5])
        await gc.stop()
        return storage.flushes, released

    flushes, released = asyncio.run(run())
    assert released == [2, 3, 4, 5]
    assert flushes == [3, 3, 3, 1]


def test_a_split_job_reports_durable_only_after_its_last_piece() -> None:
    async def run() -> list[tuple[int, list[int]]]:
        gc, storage = _commit(SyncPolicy(max_batch=10))
        e = (_Hdr(time.time() * 1000), None, None, b"")
        seen: list[tuple[int, list[int]]] = []
        gc.submit([e] * 7, lambda: seen.append((1, list(storage.flushes))))  # type: ignore[list-item]
        gc.submit([e] * 18, lambda: seen.append((2, list(storage.flushes))))  # type: ignore[list-item]
        gc.start()
        await _drain(gc, lambda: len(seen) == 2)
        await gc.stop()
        return seen

    # 25 entries flush as 10 + 10 + 5; the 18-entry job spans all three and reports only after
    # the last (the 7-entry one after the first: the worker may start the next write first)
    (first, at1), (second, at2) = asyncio.run(run())
    assert (first, second) == (1, 2) and at1[0] == 10 and at2 == [10, 10, 5]
