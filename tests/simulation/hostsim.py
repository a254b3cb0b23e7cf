"""Seeded simulation of whole ensembles running the real hosts: each member is an unmodified
pyzk.server.quorum_peer.QuorumPeer (election, LeaderHost/LearnerHost, ZkServer, GroupCommit,
the session tracker, TxnSnapLog on real files) on a simulated event loop (simloop.py: virtual
time, on-loop executor, crash = freeze), network (simnet.py) and clock (the loop's time).
Clients (simclient.py) talk the client protocol to the members' real client ports.

A schedule is a function of its seed: crashes (a member's tasks freeze and only what it wrote
to its files stays; a restart is a new QuorumPeer on the same data directory), restarts,
partitions, connection resets and client sessions that are abandoned (and must expire). After
every step: at most one leader established per epoch; members that applied the same zxid have
the same tree digest and no member saw a txn digest differ from its own; every established
leader holds every acknowledged write. After healing: one leader, identical trees holding every
acknowledged write, every abandoned session's ephemeral gone on every member, and a session that
keeps pinging is never expired.

    .venv/bin/python -m tests.simulation.hostsim [seeds] [first_seed] [3|3+1|5|all]
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import structlog

from pyzk.server.leader_host import LeaderHost
from tests.simulation.simclient import SimClient, ephemeral_path
from tests.simulation.simloop import Incarnation, SimLoop, Stuck
from tests.simulation.simmember import STATS, TICK_MS, Member, host, member_config
from tests.simulation.simnet import Connection, Fabric
from tests.simulation.syncfaults import SyncWatch

CONFIGS = {"3": (3, 0), "3+1": (3, 1), "5": (5, 0), "3+1-trunc-leads": (3, 1),
           "3-stale-ack": (3, 0)}
RANDOM_CONFIGS = ("3", "3+1", "5")  # the rest are directed schedules (directed.py)
SESSION_MS = 800
WRITERS = 2       # clients writing one create at a time each
AIM = 0.5         # the share of crashes and partitions aimed at the leader
SLOW_DISK = 0.3   # the share of schedules with one member on a slow disk, all run long
SLOW_DISK_MS = (30.0, 120.0)  # its disk jobs' delay: longer than a ping interval (half a tick)
FAULT_STEPS = 60  # driver steps with faults, each 5-80 ms of virtual time apart
SHM = Path("/dev/shm") if Path("/dev/shm").is_dir() else None


class Violation(AssertionError):
    pass


class Sim:
    def __init__(self, seed: int, config: str, root: Path) -> None:
        self.seed = seed
        self.loop = SimLoop(seed)
        self.rng = self.loop.rng
        self.fabric = Fabric(self.loop)
        n, obs = CONFIGS[config]
        self.voters = n
        self.members = {sid: Member(self, sid, member_config(sid, n, obs, root))
                        for sid in range(1, n + obs + 1)}
        self.leaders: dict[int, int] = {}   # epoch -> the member that established it
        self.digests: dict[int, int] = {}   # zxid -> tree digest after it
        self.acked: dict[str, tuple[bytes, int]] = {}  # path -> (data, zxid)
        self.checked_leaders: set[tuple[int, int, int]] = set()
        self.clients: list[SimClient] = []
        self.abandoned: set[int] = set()   # sessions whose client went away
        self.ephemerals: dict[str, int] = {}
        self.sessions_opened = 0
        self.errors: list[str] = []
        self.trace: list[str] = []
        self.next_cid = 0
        self.cut_members: set[int] = set()  # members whose last sync's stream was cut
        if self.slow_disks and self.rng.random() < SLOW_DISK:
            # A member on slow storage: its NEWLEADER snapshot and log writes outlast a ping
            # interval, so leader PINGs reach it while its NEWLEADER ACK waits on its disk.
            slow = self.rng.choice(sorted(self.members))
            lo = self.rng.uniform(*SLOW_DISK_MS)
            self.loop.disk_delay_ms[slow] = (lo, lo * 1.5)
            self.trace.append(f"member {slow} has a slow disk ({lo:.0f} ms)")
            STATS["slow_disks"] += 1
        self.loop.set_exception_handler(self._loop_error)
        self.loop.on_killed = self._killed
        self.fabric.on_connect = self._watch_sync

    # -- events from the members and clients ------------------------------------------------
    def _watch_sync(self, conn: Connection, port: int) -> Callable[[int, bytes], int | None] | None:
        """Each quorum-port connection's syncs: counted, and some faults aimed at them
        (syncfaults.py)."""
        return SyncWatch(self, conn) if port == 2888 else None

    def _killed(self, inc: Incarnation) -> None:
        m = self.members[inc.sid]
        if m.inc is inc and inc.alive:
            self.trace.append(f"{m.sid} died inside a disk job")
            STATS["killed_in_job"] += 1
            m.crash()

    def fatal(self, sid: int) -> None:
        self.errors.append(f"member {sid} failed fatally")

    def _loop_error(self, loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
        exc = ctx.get("exception")
        if isinstance(exc, (ConnectionError, OSError, TimeoutError, asyncio.CancelledError)):
            return
        self.errors.append(f"{ctx.get('message')}: {exc!r} {ctx.get('task', '')!r:.300}")

    def acknowledged(self, path: str, data: bytes, zxid: int) -> None:
        self.acked[path] = (data, zxid)
        STATS["acked"] += 1

    def ephemeral_created(self, client: SimClient, path: str) -> None:
        self.ephemerals[path] = client.session_id

    def fail(self, what: str) -> None:
        raise Violation(f"seed {self.seed}: {what} (at {self.loop.time():.3f}s; trace tail "
                        f"{self.trace[-8:]}; members {self.describe()})")

    def describe(self) -> str:
        out = []
        for m in self.members.values():
            p = m.peer
            if not m.alive or p is None or p.server is None:
                out.append(f"{m.sid}:down")
                continue
            out.append(f"{m.sid}:{p.state.name}/{p.mode}/e{p.current_epoch}"
                       f"/z{p.server.tree.last_processed_zxid:#x}")
        return " ".join(out)

    # -- invariants ---------------------------------------------------------------------------
    def check(self) -> None:
        if self.errors:
            self.fail(self.errors[0])
        for m in self.members.values():
            epoch = m.leading_epoch()
            if epoch is not None:
                first = self.leaders.setdefault(epoch, m.sid)
                if first != m.sid:
                    self.fail(f"two leaders established in epoch {epoch:#x}: {first} and {m.sid}")
                self._leader_holds_acked(m, epoch)
            srv = m.server()
            if srv is None:
                continue
            last = srv.tree.digests.last
            if last is not None:
                seen = self.digests.setdefault(last.zxid, last.digest)
                if seen != last.digest:
                    self.fail(f"member {m.sid} digest at zxid {last.zxid:#x} differs")
            if srv.tree.digests.mismatches:
                self.fail(f"member {m.sid} applied a txn whose digest differs from its tree's")
            if srv.serving:
                # A session's ephemerals go in the same apply as its closeSession.
                for owner in srv.tree.ephemerals:
                    if owner not in srv.sessions.sessions:
                        self.fail(f"member {m.sid} keeps ephemerals of session {owner:#x}, "
                                  "which it no longer tracks")

    def _leader_holds_acked(self, m: Member, epoch: int) -> None:
        key = (m.sid, epoch, len(self.acked))
        if key in self.checked_leaders:
            return
        self.checked_leaders.add(key)
        srv = m.server()
        assert srv is not None
        for path, (data, zxid) in self.acked.items():
            if zxid >> 32 > epoch:
                # Committed by a later leader while this one, cut off, has not yet noticed
                # that it lost its quorum (seed 1523 of "3"): it cannot hold that write.
                continue
            node = srv.tree.nodes.get(path)
            if node is None or node.data != data:
                self.fail(f"leader {m.sid} of epoch {epoch:#x} lacks acknowledged {path}")

    # -- clients -----------------------------------------------------------------------------
    def new_client(self, writes: bool = True) -> SimClient:
        self.next_cid += 1
        client = SimClient(self, self.next_cid, SESSION_MS, writes)
        client.on_lost = self._client_lost
        live = [m for m in self.members.values() if m.alive]
        target = self.rng.choice(live) if live else self.members[1]
        self.clients.append(client)
        self.loop.create_task(self._connect(client, target.sid), context=contextvars.Context())
        return client

    async def _connect(self, client: SimClient, sid: int) -> None:
        try:
            await self.loop.create_connection(lambda: client, host(sid), 2181)
        except OSError:
            client.connection_lost(None)

    def _client_lost(self, client: SimClient) -> None:
        if client.session_id:
            self.abandoned.add(client.session_id)
        if client in self.clients:
            self.clients.remove(client)
        if client.writes:
            self.loop.call_later(self.rng.uniform(0.01, 0.1), self._replace_client,
                                 context=contextvars.Context())

    def _replace_client(self) -> None:
        if self.accept_clients:
            self.new_client()

    accept_clients = True
    faults_on = True
    slow_disks = True  # a seeded share of runs puts one member on a slow disk
    held_writes: list[SimClient] | None = None  # a list: writers wait in it (directed.py)

    # -- the schedule ---------------------------------------------------------------------------
    async def run(self) -> None:
        for m in self.members.values():
            m.start()
        for _ in range(WRITERS):
            self.new_client()
        for step in range(FAULT_STEPS):
            await asyncio.sleep(self.rng.uniform(0.005, 0.08))
            self.check()
            self._fault(step)
            self.check()
        await self._heal()

    def _leader(self) -> Member | None:
        for m in self.members.values():
            if m.alive and m.peer is not None and isinstance(m.peer.role, LeaderHost):
                return m
        return None

    def _fault(self, step: int) -> None:
        rng = self.rng
        x = rng.random()
        live = [m for m in self.members.values() if m.alive]
        dead = [m for m in self.members.values() if not m.alive]
        leader = self._leader()
        # Half the crashes and partitions aim at the leader: proposals it logged but could
        # not commit are what a later TRUNC and the fast-forward paths are about.
        aim = leader is not None and rng.random() < AIM
        if x < 0.10 and len(live) > 1:
            m = leader if aim and leader is not None else rng.choice(live)
            self.trace.append(f"crash {m.sid}")
            m.crash()
        elif x < 0.22 and dead:
            m = rng.choice(dead)
            self.trace.append(f"restart {m.sid}")
            m.start()
        elif x < 0.30:
            k = rng.randint(1, len(self.members) // 2)
            side = set(rng.sample(sorted(self.members), k))
            if aim and leader is not None:
                side = {leader.sid, *sorted(side)[:k - 1]}
            self.trace.append(f"partition {sorted(side)}")
            self.fabric.partition(side, set(self.members))
            STATS["partitions"] += 1
        elif x < 0.40:
            self.trace.append("heal")
            self.fabric.heal()
        elif x < 0.50:
            if self.fabric.reset_random():
                self.trace.append("reset")
                STATS["resets"] += 1
        elif x < 0.58 and live:
            m = rng.choice(live)
            assert m.inc is not None
            k = rng.randint(1, 4)
            self.trace.append(f"{m.sid} dies at file operation #{k} of its disk jobs")
            self.loop.kill_plan[m.inc] = k
        elif x < 0.62:
            m = rng.choice(sorted(self.members.values(), key=lambda m: m.sid))
            step = rng.choice((-1, 1)) * rng.randint(1_000, 60_000)
            self.trace.append(f"wall clock of {m.sid} {step:+d} ms")
            m.clock.wall_offset_ms += step
            STATS["clock_steps"] += 1

    async def _heal(self) -> None:
        self.trace.append("heal all")
        self.faults_on = False
        self.loop.kill_plan.clear()
        self.fabric.heal()
        for m in self.members.values():
            if not m.alive:
                m.start()
        await self._settle()
        # Sessions: a steady client keeps pinging through three timeouts and must stay; every
        # abandoned session must be gone (with its ephemeral) everywhere.
        # Opening it may meet a member that has just left its role (its clients are closed,
        # as Java's are); a client then tries another member, as ZooKeeper clients do.
        for _attempt in range(5):
            steady = self.new_client(writes=False)
            await self._wait(lambda c=steady: c.ephemeral_done or c.lost,
                             5.0, "steady session")
            if not steady.lost:
                break
            await self._settle()
        else:
            self.fail("a session on the healed ensemble could not be opened in 5 attempts")
        steady_id = steady.session_id
        self.accept_clients = False
        for c in list(self.clients):
            if c is not steady:
                c.close()
        await self._sleep_checking(SESSION_MS / 1000)
        # Wall time jumps on every member (an NTP step): elapsed-time expiry must not notice.
        for m in self.members.values():
            m.clock.wall_offset_ms += 3_600_000
        await self._sleep_checking(2 * SESSION_MS / 1000 + 2 * TICK_MS / 1000)
        if steady.lost:
            self.fail(f"session {steady_id:#x} expired although its client kept pinging")
        await self._settle()
        self._final_checks(steady_id)

    async def _settle(self) -> None:
        def settled() -> bool:
            leaders = [m for m in self.members.values() if m.leading_epoch() is not None]
            if len(leaders) != 1:
                return False
            lead = leaders[0].server()
            assert lead is not None
            for m in self.members.values():
                srv = m.server()
                if srv is None or not srv.serving or \
                        srv.tree.last_processed_zxid != lead.tree.last_processed_zxid:
                    return False
            return True
        await self._wait(settled, 30.0, "one leader and caught-up members after healing")

    async def _wait(self, cond: Any, limit_s: float, what: str) -> None:
        end = self.loop.time() + limit_s
        while not cond():
            if self.loop.time() > end:
                self.fail(f"no {what} within {limit_s}s")
            await asyncio.sleep(0.02)
            self.check()

    async def _sleep_checking(self, seconds: float) -> None:
        end = self.loop.time() + seconds
        while self.loop.time() < end:
            await asyncio.sleep(0.02)
            self.check()

    def _final_checks(self, steady_id: int) -> None:
        self.check()
        trees = {sid: m.server() for sid, m in self.members.items()}
        first = trees[1]
        assert first is not None
        want = first.tree.digests.last
        for sid, srv in trees.items():
            assert srv is not None
            if srv.tree.digests.last != want or srv.tree.nodes.keys() != first.tree.nodes.keys():
                self.fail(f"member {sid}'s tree differs from member 1's after healing")
            for path, (data, _z) in self.acked.items():
                node = srv.tree.nodes.get(path)
                if node is None or node.data != data:
                    self.fail(f"member {sid} lost acknowledged write {path}")
            for path, owner in self.ephemerals.items():
                present = path in srv.tree.nodes
                if owner in self.abandoned and present:
                    self.fail(f"member {sid} keeps {path} of expired session {owner:#x}")
            if ephemeral_path(steady_id) not in srv.tree.nodes:
                self.fail(f"member {sid} lacks the steady session's ephemeral")
        STATS["established"] += len(self.leaders)
        STATS["sessions"] += self.sessions_opened
        STATS["expired"] += len(self.abandoned)


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """No log output from the members (a schedule's findings are its violations), nor from
    the frozen coroutines finalized when a run is disposed of."""
    old = structlog.get_config()
    old_disable = logging.root.manager.disable
    old_hook = sys.unraisablehook
    structlog.configure(processors=[_drop])
    logging.disable(logging.CRITICAL)
    sys.unraisablehook = lambda _: None
    try:
        yield
    finally:
        structlog.configure(**old)
        logging.disable(old_disable)
        sys.unraisablehook = old_hook


def _drop(_logger: object, _name: str, _event: object) -> NoReturn:
    raise structlog.DropEvent


def run_one(seed: int, config: str = "3") -> Sim:
    root = Path(tempfile.mkdtemp(prefix=f"hostsim-{seed}-", dir=SHM))
    sim = _schedule(config)(seed, config, root)
    # The cycle collector runs finalizers (a dropped StreamWriter closes its transport) when
    # allocation counts cross its thresholds, which depend on what the process ran before:
    # off during a run, so that only the server's own gc.collect calls (after recovery and
    # snapshots) run it, at moments the seed decides.
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    with _quiet_logs():
        try:
            sim.loop.run_until_complete(
                sim.loop.create_task(sim.run(), context=contextvars.Context()))
        except Stuck:
            sim.fail("the simulated world stopped (nothing ready, no timer)")
        except Violation:
            raise
        except Exception as e:  # noqa: BLE001 - any escape is a finding, with its seed
            raise Violation(f"seed {seed}: {e!r} (replay: python -m "
                            f"tests.simulation.hostsim 1 {seed} {config})") from e
        finally:
            _dispose(sim)
            shutil.rmtree(root, ignore_errors=True)
            gc.unfreeze()  # the servers froze the heap after recovery; let this run's go
            gc.collect()
            if collecting:
                gc.enable()
    return sim


def _schedule(config: str) -> type[Sim]:
    if config in RANDOM_CONFIGS:
        return Sim
    from tests.simulation import directed  # it builds on this module
    return directed.SCHEDULES[config]


def _dispose(sim: Sim) -> None:
    """End the run here, quietly: every task (frozen ones too) is cancelled and unwound on the
    loop in virtual time, so no pending coroutine is left for the collector to finalize later
    (outside this function's silence). Effects no longer matter: the invariants are checked."""
    loop = sim.loop
    tasks = set(asyncio.all_tasks(loop))
    for m in sim.members.values():
        for inc in [m.inc, *(c[0] for c in m.corpses)]:
            if inc is not None:
                inc.alive = True
                tasks.update(t for t in inc.tasks if not t.done())
    for t in tasks:
        t.cancel()
    if tasks and not loop.is_closed():
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.wait(tasks, timeout=5.0))
    for t in tasks:
        if not t.done():  # a step dropped at the crash: nothing will ever resume it
            t._log_destroy_pending = False  # type: ignore[attr-defined]
            with contextlib.suppress(BaseException):
                t.get_coro().close()
    for m in sim.members.values():
        if m.inc is not None:
            m.inc.alive = False
        # Each incarnation's files (a crashed one's now point at /dev/null): closed through
        # the objects that own the descriptors, so a long run does not run out of them.
        for peer in [m.peer, *(c[1] for c in m.corpses)]:
            if peer is not None and peer._storage is not None:
                with contextlib.suppress(Exception):
                    peer._storage.close()
    loop.close()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    which = sys.argv[3] if len(sys.argv) > 3 else "all"
    for cfg in (list(CONFIGS) if which == "all" else [which]):
        t0 = time.perf_counter()
        bad = 0
        for s in range(first, first + count):
            try:
                run_one(s, cfg)
            except Violation as e:
                bad += 1
                print(f"FAIL {cfg} {e}\n  replay: python -m tests.simulation.hostsim 1 {s} {cfg}",
                      flush=True)
        dt = time.perf_counter() - t0
        print(f"{cfg}: {count} seeds, {bad} failed, {dt:.1f}s ({dt / count:.2f}s per seed) "
              f"{dict(STATS)}", flush=True)
