"""The fuzzer's zxid base on a pyzk server with pyzk.workers=2 (no Java needed).

difffuzz compares zxids as deltas from a base: the lane's `exists "/"` marker in front of a
case, or for a case on its own connection a ping on the observer session. A read is answered
from the serving process's copy of the tree (Java: FinalRequestProcessor's
getDataTreeLastProcessedZxid), and with two processes the lane or the observer sits on the
worker, whose replica may not yet have applied what the member just answered on another
connection: the base came out low and seed 777 reported "create2 err=0: zxid pyzk-java=+N"
for connect cases (observer behind the lane's writes) and +1 for a lane case after a connect
case (lane behind that case's closeSession). Here cases that alternate between the two kinds
must see exactly their own txns, with the lane and the observer on different processes. That
lag is no divergence a client can see (as across a Java ensemble's servers, a session must sync
to see other sessions' writes): one session's zxids cannot go backwards, since neither process
takes a reconnect from a client that has seen a zxid it has not applied (second test).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.fuzz import difffuzz
from tests.fuzz.difffuzz import Case, Fuzzer, Gen, Side, connect_payload, frame
from tests.integration.itest_util import wait_for
from tests.workers_util import workers_serving

pytestmark = pytest.mark.timeout(120)

ROUNDS = 20  # per placement
LANE_CHILDREN = 8
_TS_MASK = (1 << 40) - 1


def _apart(sid_a: int, sid_b: int) -> bool:
    """Session ids from different processes: a worker's ids count from a start time
    SESSION_ID_SPACING_MS (~12 days) away from the member's (bits 16..55 hold the time)."""
    d = ((sid_a >> 16) - (sid_b >> 16)) & _TS_MASK
    return min(d, _TS_MASK + 1 - d) > 1 << 29


def _cases(i: int) -> tuple[Case, Case]:
    """A connect case (createSession, create2; the fuzzer closes its session after it) and a
    lane case (pipelined create2s, which a worker's replica applies a little later) with
    their own subtrees."""
    k = 2 * i
    g = Gen(0, k)
    fresh = Case(k, "connect", "connect", "zxid-base",
                 [frame(connect_payload(timeout=30_000).out), g.create(g.R)],
                 fresh=True, cleanup=True)
    g = Gen(0, k + 1)
    lane = Case(k + 1, "valid", "create", "zxid-base",
                [g.create(g.R)] + [g.create(f"{g.R}/{j}") for j in range(LANE_CHILDREN)])
    return fresh, lane


async def _reopen(side: Side, apart_from: int, lane: bool) -> None:
    """Reopen the lane or the observer until it is on the other process than the session
    `apart_from` (connections are handed out round robin)."""
    for _ in range(4):
        c = side.lane if lane else side.obs
        if c is not None:
            c.abort()
        if lane:
            side.lane = None
            await side.ensure_lane()
        else:
            side.obs = None
            await side.ensure_obs()
        if _apart(side.lane_sid if lane else side.obs_sid, apart_from):
            return
    raise AssertionError("could not place the session on the other process")


async def _rounds(fz: Fuzzer) -> list[str]:
    """Both placements: lane on one process and observer on the other, then swapped."""
    side = fz.sides[0]
    side.lane = side.obs = None  # connections of an earlier event loop, if any
    await side.ensure_lane()
    bad = []
    for placement in range(2):
        if placement:
            await _reopen(side, side.lane_sid, lane=True)
        await _reopen(side, side.lane_sid, lane=False)
        for i in range(placement * ROUNDS, (placement + 1) * ROUNDS):
            want_lane = list(range(1, LANE_CHILDREN + 2))
            for case, want in zip(_cases(i), ([2], want_lane), strict=True):
                res = await fz.run_case(case)
                out = res.outcomes[0]
                got = [r[3] if r is not None else None for r in out.replies[:-1]]
                if got != want or out.end != "sentinel":
                    bad.append(f"placement {placement} case {case.k} ({case.op}): zxid deltas "
                               f"{got}, want {want}, end {out.end}")
    return bad


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    """A pyzk-only Fuzzer whose server runs a member and one worker, once it serves."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(difffuzz.PYZK_EXTRA_CFG, "pyzk.workers", "2")
        fz = Fuzzer(["pyzk"], tmp_path_factory.mktemp("zxidbase"), deadline=5.0,
                    log=lambda s: None)
        fz.start()
    try:
        srv = fz.sides[0].srv
        assert srv is not None
        wait_for(lambda: workers_serving(srv.log_path.read_text()) == 1, 30,
                 "the worker to serve")
        yield fz
    finally:
        fz.stop()


def test_zxid_base_counts_only_the_cases_txns(fuzzer: Fuzzer) -> None:
    bad = asyncio.run(_rounds(fuzzer))
    assert not bad, "\n".join(bad)


def test_no_process_takes_a_client_that_has_seen_a_newer_zxid(fuzzer: Fuzzer) -> None:
    """What keeps a replica's lag invisible within one session: a client reconnecting with a
    lastZxidSeen its new server has not applied is refused (ZooKeeperServer.
    processConnectRequest: "client must try another server"), on the member and on the
    worker alike (two connections in a row: round robin gives one to each)."""
    async def go() -> list[tuple[bool, int]]:
        side = fuzzer.sides[0]
        ahead = 1 << 40  # epoch 256: more than either process has applied
        out = []
        for _ in range(2):
            c = await side.open()
            c.write(frame(connect_payload(last_zxid=ahead).out))
            closed = await c.wait_close(5.0)
            out.append((closed, len(c.frames)))
            c.abort()
        return out
    assert asyncio.run(go()) == [(True, 0), (True, 0)]
