"""One Jepsen-style schedule: a seeded plan of faults, a workload of registers and a set run
by several kazoo clients while the nemesis plays the plan, then a heal, final reads on every
member, and the checks (linearizability per register key, split into read and write failures;
lost writes; the set; member divergence).

Everything random comes from the schedule's seed: the fault plan, its timings, the victims,
each client's operations. A schedule replays from its seed (the server's own timing still
varies: a victim named "the leader" is whoever leads when the fault starts).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from .checker import KeyReport, Op, SetReport, check_register, check_set
from .cluster import Cluster

ROOT = "/jepsen"
SET = f"{ROOT}/set"
INIT_VALUE = b"init"

FAULTS_3 = ["kill", "pause", "isolate-leader", "split", "oneway", "kill-then-isolate-leader"]
FAULTS_5 = FAULTS_3 + ["bridge", "ring", "clock"]
# Wall-clock steps of one member (seconds to minutes, either way); needs libfaketime.
CLOCK_STEPS_S = (5, 30, 90, 300, 900)


@dataclass
class Step:
    fault: str
    hold: float       # seconds the fault lasts
    rest: float       # seconds of calm after the heal
    pick: int         # raw random number choosing victims/groups at run time


@dataclass
class Plan:
    seed: int
    n: int
    steps: list[Step]
    clients: int
    keys: int

    def uses(self, fault: str) -> bool:
        return any(s.fault == fault for s in self.steps)

    def describe(self) -> str:
        return ", ".join(f"{s.fault}({s.hold:.1f}s)" for s in self.steps)


def make_plan(seed: int, n: int = 3, faults: int = 3, clients: int = 6, keys: int = 3,
              only: list[str] | None = None, hold: tuple[float, float] = (2.0, 4.0),
              rest: tuple[float, float] = (1.0, 2.5)) -> Plan:
    """The seeded plan: which faults, how long each holds, how long the calm after it."""
    rng = random.Random(f"plan-{seed}-{n}")
    menu = only or (FAULTS_5 if n >= 5 else FAULTS_3)
    steps = [Step(rng.choice(menu), rng.uniform(*hold), rng.uniform(*rest), rng.randrange(1 << 30))
             for _ in range(faults)]
    return Plan(seed, n, steps, clients, keys)


# -- the workload ------------------------------------------------------------------------------
def _start_client(address: str, session_timeout: float) -> KazooClient:
    c = KazooClient(hosts=address, timeout=session_timeout,
                    connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
    c.start(timeout=30)
    return c


class Worker:
    """One client process: a kazoo client in its home member's namespace, connected to that
    member only, running random ops until told to stop."""

    def __init__(self, pid: int, client: KazooClient, rng: random.Random, keys: int,
                 history: list[Op], lock: threading.Lock, clock: Callable[[], float],
                 op_timeout: float) -> None:
        self.pid = pid
        self.c = client
        self.rng = rng
        self.keys = keys
        self.history = history
        self.lock = lock
        self.clock = clock
        self.op_timeout = op_timeout
        self.counter = 0
        self.last_version: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True, name=f"jepsen-p{pid}")

    def record(self, op: Op) -> None:
        with self.lock:
            self.history.append(op)

    def loop(self) -> None:
        while not self.stop.is_set():
            r = self.rng.random()
            key = f"{ROOT}/r{self.rng.randrange(self.keys)}"
            if r < 0.4:
                self.read(key)
            elif r < 0.65:
                self.write(key)
            elif r < 0.85:
                self.cas(key)
            else:
                self.add()
            self.stop.wait(self.rng.uniform(0.0, 0.02))

    def _fresh_value(self) -> bytes:
        self.counter += 1
        return f"p{self.pid}-{self.counter}".encode()

    def _wait(self, async_result: Any) -> Any:
        return async_result.get(timeout=self.op_timeout)

    def read(self, key: str) -> None:
        op = Op(self.pid, "read", key, self.clock())
        try:
            self._wait(self.c.sync_async(key))
            data, st = self._wait(self.c.get_async(key))
            op.complete, op.outcome, op.value, op.version = self.clock(), "ok", data, st.version
            self.last_version[key] = st.version
        except (KazooException, KazooTimeoutError) as e:
            op.outcome, op.error = "info", type(e).__name__
        self.record(op)

    def write(self, key: str) -> None:
        op = Op(self.pid, "write", key, self.clock(), value=self._fresh_value())
        try:
            st = self._wait(self.c.set_async(key, op.value, -1))
            op.complete, op.outcome, op.version = self.clock(), "ok", st.version
            self.last_version[key] = st.version
        except NoNodeError:
            op.complete, op.outcome, op.error = self.clock(), "fail", "NoNode"
        except (KazooException, KazooTimeoutError) as e:
            op.outcome, op.error = "info", type(e).__name__
        self.record(op)

    def cas(self, key: str) -> None:
        exp = self.last_version.get(key, 0) + self.rng.choice([0, 0, 0, 1])
        op = Op(self.pid, "cas", key, self.clock(), value=self._fresh_value(), version=exp)
        try:
            st = self._wait(self.c.set_async(key, op.value, exp))
            op.complete, op.outcome, op.new_version = self.clock(), "ok", st.version
            self.last_version[key] = st.version
        except BadVersionError:
            op.complete, op.outcome, op.error = self.clock(), "fail", "BadVersion"
        except NoNodeError:
            op.complete, op.outcome, op.error = self.clock(), "fail", "NoNode"
        except (KazooException, KazooTimeoutError) as e:
            op.outcome, op.error = "info", type(e).__name__
        self.record(op)

    def add(self) -> None:
        op = Op(self.pid, "add", SET, self.clock(), value=self._fresh_value().decode())
        try:
            self._wait(self.c.create_async(f"{SET}/e-", op.value.encode(), sequence=True))
            op.complete, op.outcome = self.clock(), "ok"
        except (KazooException, KazooTimeoutError) as e:
            op.outcome, op.error = "info", type(e).__name__
        self.record(op)


# -- results -----------------------------------------------------------------------------------
@dataclass
class Result:
    plan: Plan
    kind: str
    ops: int = 0
    ok: int = 0
    failed: int = 0          # definite failures (BadVersion, ...)
    info: int = 0            # indeterminate
    keys: list[KeyReport] = field(default_factory=list)
    lost_writes: int = 0     # acknowledged register writes missing from the final version
    set: SetReport | None = None
    divergence: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # harness trouble (no final read, ...)
    events: list[str] = field(default_factory=list)
    seconds: float = 0.0
    history: list[Op] = field(default_factory=list)

    def save_history(self, path: Path) -> None:
        """The history as JSON lines (bytes as latin-1 text), for a later look."""
        import json

        def enc(v: Any) -> Any:
            return v.decode("latin-1") if isinstance(v, bytes) else v

        with open(path, "w") as f:
            for op in self.history:
                d = {k: enc(v) for k, v in op.__dict__.items()}
                d["complete"] = None if op.complete == float("inf") else op.complete
                f.write(json.dumps(d) + "\n")

    @property
    def read_failures(self) -> int:
        return sum(1 for k in self.keys if k.failed_kind == "read")

    @property
    def write_failures(self) -> int:
        return sum(1 for k in self.keys if k.failed_kind == "write")

    @property
    def unknown(self) -> int:
        """Keys whose search ran out of budget: no verdict (not counted as valid)."""
        return sum(1 for k in self.keys if k.failed_kind == "unknown")

    @property
    def set_lost(self) -> int:
        return len(self.set.lost) if self.set else 0

    @property
    def sound(self) -> bool:
        """Writes, CAS and sets safe, no divergence, no harness error (reads aside)."""
        return (self.write_failures == 0 and self.unknown == 0 and self.lost_writes == 0 and self.set_lost == 0
                and not (self.set and self.set.unexpected) and not self.divergence
                and not self.errors)

    @property
    def valid(self) -> bool:
        return self.sound and self.read_failures == 0

    def line(self) -> str:
        lin = " ".join(f"{k.key.rsplit('/', 1)[-1]}={'yes' if k.linearizable else k.failed_kind}"
                       for k in self.keys)
        s = self.set
        return (f"seed={self.plan.seed} kind={self.kind} n={self.plan.n} "
                f"ops={self.ops} ok={self.ok} fail={self.failed} info={self.info} "
                f"linearizable[{lin}] read-fail={self.read_failures} "
                f"write-fail={self.write_failures} unknown={self.unknown} "
                f"lost-writes={self.lost_writes} "
                f"set-lost={self.set_lost} set-unexpected={len(s.unexpected) if s else '-'} "
                f"divergence={len(self.divergence)} errors={len(self.errors)} "
                f"{'VALID' if self.valid else 'INVALID'} {self.seconds:.0f}s "
                f"plan=[{self.plan.describe()}]")

    def details(self) -> str:
        out = [f"  event {e}" for e in self.events]
        for k in self.keys:
            if not k.linearizable:
                out.append(f"  key {k.key}: {k.failed_kind} failure; {k.detail}")
                out += [f"    stale: {x}" for x in k.stale[1:6]]
        if self.set and self.set.lost:
            out.append(f"  set lost: {self.set.lost[:10]}")
        out += [f"  divergence: {d}" for d in self.divergence[:10]]
        out += [f"  error: {e}" for e in self.errors]
        return "\n".join(out)


def load_history(path: Path) -> list[Op]:
    """A history saved by Result.save_history."""
    import json

    ops = []
    for line in Path(path).read_text().splitlines():
        d = json.loads(line)
        if d["complete"] is None:
            d["complete"] = float("inf")
        if d["kind"] != "add" and isinstance(d["value"], str):
            d["value"] = d["value"].encode("latin-1")
        ops.append(Op(**d))
    return ops


def recheck(path: Path, keys: int = 3) -> list[KeyReport]:
    hist = load_history(path)
    out = []
    for k in range(keys):
        ops = [op for op in hist if op.key == f"{ROOT}/r{k}"]
        final = [op.version for op in ops if op.process == -1]
        out.append(check_register(f"{ROOT}/r{k}", ops, (INIT_VALUE, 0),
                                  final_version=final[0] if final else None))
    return out


def _dump(c: KazooClient, timeout: float) -> dict[str, tuple[Any, ...]]:
    """The /jepsen subtree after a sync: data and stat of every node."""
    c.sync_async(ROOT).get(timeout=timeout)
    out: dict[str, tuple[Any, ...]] = {}
    todo = [ROOT]
    while todo:
        path = todo.pop()
        data, st = c.get_async(path).get(timeout=timeout)
        out[path] = (data, st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
                     st.numChildren)
        kids = c.get_children_async(path).get(timeout=timeout)
        todo.extend(f"{path}/{k}" for k in kids)
    return out


# -- the schedule ------------------------------------------------------------------------------
class Schedule:
    def __init__(self, plan: Plan, workdir: Path, kinds: dict[int, str] | None = None,
                 kind_name: str = "pyzk", session_timeout: float = 4.0,
                 op_timeout: float = 5.0, log: Callable[[str], None] | None = None,
                 tick_ms: int = 200, cfg: dict[str, str] | None = None) -> None:
        self.tick_ms = tick_ms
        self.cfg = cfg
        self.plan = plan
        self.workdir = workdir
        self.kinds = kinds
        self.kind_name = kind_name
        self.session_timeout = session_timeout
        self.op_timeout = op_timeout
        self.log = log or (lambda s: None)
        self.t0 = time.monotonic()
        self.events: list[str] = []
        self.probe_client: KazooClient | None = None

    def clock(self) -> float:
        return time.monotonic() - self.t0

    def event(self, text: str) -> None:
        line = f"{self.clock():7.2f} {text}"
        self.events.append(line)
        self.log(line)

    def run(self) -> Result:
        started = time.monotonic()
        res = Result(self.plan, self.kind_name)
        cl = Cluster(self.workdir, self.plan.n, self.kinds, tick_ms=self.tick_ms,
                     tag=f"{os.getpid() % 100000}-{self.plan.seed % 1000}",
                     clock_steps=self.plan.uses("clock"), cfg=self.cfg)
        workers: list[Worker] = []
        clients: list[KazooClient] = []
        try:
            cl.create()
            cl.start(90 if self.kind_name != "pyzk" else 40)
            history: list[Op] = []
            lock = threading.Lock()
            setup = cl.run(1, _start_client, cl.ens.members[1].address, self.session_timeout)
            clients.append(setup)
            setup.ensure_path(SET)
            self.probe_client = setup
            for k in range(self.plan.keys):
                setup.create(f"{ROOT}/r{k}", INIT_VALUE)
            for p in range(self.plan.clients):
                home = p % self.plan.n + 1
                c = cl.run(home, _start_client, cl.ens.members[home].address,
                           self.session_timeout)
                clients.append(c)
                workers.append(Worker(p, c, random.Random(f"client-{self.plan.seed}-{p}"),
                                      self.plan.keys, history, lock, self.clock,
                                      self.op_timeout))
            self.t0 = time.monotonic()
            for w in workers:
                w.thread.start()
            self.event(f"workload started, modes {cl.mode_summary()}")
            time.sleep(1.0)
            for step in self.plan.steps:
                self.fault(cl, step)
            for w in workers:
                w.stop.set()
            for w in workers:
                w.thread.join(self.op_timeout + 5)
            with lock:
                hist = list(history)
            # End the workload sessions before the final reads: a request that timed out in a
            # worker (recorded as indeterminate) is still queued in its kazoo client, which
            # would send it on reconnecting, in the middle of the final reads (seed 2066: one
            # member read before such a write landed, the others after).
            for c in clients:
                try:
                    c.stop()
                except Exception:  # noqa: BLE001 - a client that will not close is no verdict
                    pass
            self.final(cl, res, hist)
        except Exception as e:  # noqa: BLE001 - reported, with the events so far
            res.errors.append(f"{type(e).__name__}: {e}")
        finally:
            for w in workers:
                w.stop.set()
            for c in clients:
                try:
                    c.stop()
                    c.close()
                except Exception:  # noqa: BLE001
                    pass
            cl.destroy()
        res.events = self.events
        res.seconds = time.monotonic() - started
        return res

    # -- nemesis ---------------------------------------------------------------------------
    def fault(self, cl: Cluster, step: Step) -> None:
        rng = random.Random(step.pick)
        ids = list(range(1, cl.n + 1))
        f = step.fault
        leader = cl.leader()
        if f == "kill":
            v = rng.choice(ids)
            self.event(f"kill -9 member {v} (leader {leader})")
            cl.kill9(v)
            time.sleep(step.hold)
            cl.restart(v)
            self.event(f"restart member {v}")
        elif f == "pause":
            v = leader if leader is not None and rng.random() < 0.5 else rng.choice(ids)
            self.event(f"SIGSTOP member {v} (leader {leader})")
            cl.pause(v)
            time.sleep(step.hold)
            cl.resume(v)
            self.event(f"SIGCONT member {v}")
        elif f in ("isolate-leader", "kill-then-isolate-leader"):
            lead = leader if leader is not None else rng.choice(ids)
            if f == "kill-then-isolate-leader":
                # The case: the leader is cut off while a just-restarted follower is
                # still syncing with it.
                v = rng.choice([i for i in ids if i != lead])
                self.event(f"kill -9 follower {v}, restart it")
                cl.kill9(v)
                time.sleep(0.3)
                cl.restart(v)
                time.sleep(rng.uniform(0.2, 1.0))
            self.event(f"isolate leader {lead} from its peers (clients still reach it)")
            for i in ids:
                if i != lead:
                    cl.cut(lead, i)
            self.watch(cl, step.hold)
            cl.heal_network()
            self.event("heal")
        elif f == "split":
            rng.shuffle(ids)
            small = ids[: (cl.n - 1) // 2]
            big = ids[len(small):]
            self.event(f"split {sorted(big)} | {sorted(small)} (leader {leader})")
            for a in small:
                for b in big:
                    cl.cut(a, b)
            self.watch(cl, step.hold)
            cl.heal_network()
            self.event("heal")
        elif f == "oneway":
            a, b = rng.sample(ids, 2)
            if leader is not None and rng.random() < 0.5:
                a = leader
                b = rng.choice([i for i in ids if i != a])
            self.event(f"one-way loss {a} -> {b} (leader {leader})")
            cl.block(a, b)
            self.watch(cl, step.hold)
            cl.heal_network()
            self.event("heal")
        elif f == "bridge":
            rng.shuffle(ids)
            left, mid, right = ids[:2], ids[2], ids[3:]
            self.event(f"bridge {sorted(left)} - {mid} - {sorted(right)} (leader {leader})")
            for a in left:
                for b in right:
                    cl.cut(a, b)
            self.watch(cl, step.hold)
            cl.heal_network()
            self.event("heal")
        elif f == "ring":
            rng.shuffle(ids)
            self.event(f"ring {ids} (each sees its two neighbours; leader {leader})")
            n = len(ids)
            for x in range(n):
                for y in range(x + 1, n):
                    if (y - x) % n not in (1, n - 1):
                        cl.cut(ids[x], ids[y])
            self.watch(cl, step.hold)
            cl.heal_network()
            self.event("heal")
        elif f == "clock":
            # An NTP/operator step of one member's wall clock, then the step back. Session
            # expiry and timers run on the monotonic clock and must not notice; znode and txn
            # times (the leader's wall clock) jump.
            v = leader if leader is not None and rng.random() < 0.5 else rng.choice(ids)
            off = rng.choice((-1, 1)) * rng.choice(CLOCK_STEPS_S)
            self.event(f"step wall clock of member {v} by {off:+d}s (leader {leader})")
            cl.step_clock(v, off)
            self.event(self.probe_txn_time())
            self.watch(cl, step.hold)
            cl.step_clock(v, 0)
            self.event(f"step wall clock of member {v} back")
        else:
            raise ValueError(f"unknown fault {f!r}")
        time.sleep(step.rest)

    def probe_txn_time(self) -> str:
        """Create a probe znode and compare its ctime (the leader's wall clock when it proposed
        the create) with this machine's: the step shows when the stepped member leads."""
        c = self.probe_client
        if c is None:
            return "probe: no client"
        try:
            path = c.create_async(f"{ROOT}/clock-probe-", b"", sequence=True).get(timeout=5)
            st = c.exists_async(path).get(timeout=5)
            now_ms = time.time() * 1000
            return f"probe {path}: ctime - local wall clock = {(st.ctime - now_ms) / 1000:+.1f}s"
        except (KazooException, KazooTimeoutError) as e:
            return f"probe failed: {type(e).__name__}"

    def watch(self, cl: Cluster, hold: float) -> None:
        """Hold the fault, noting the members' modes once a second."""
        end = time.monotonic() + hold
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(1.0, left))
            self.event(f"modes {cl.mode_summary()}")

    # -- final checks ----------------------------------------------------------------------
    def dump_members(self, cl: Cluster, res: Result) -> dict[int, dict[str, tuple[Any, ...]]]:
        """Every member's /jepsen subtree, each read by a fresh client on that member."""
        dumps: dict[int, dict[str, tuple[Any, ...]]] = {}
        for i, m in cl.ens.members.items():
            c = None
            for attempt in range(3):
                try:
                    c = cl.run(i, _start_client, m.address, self.session_timeout)
                    dumps[i] = cl.run(i, _dump, c, 10.0)
                    break
                except Exception as e:  # noqa: BLE001
                    if attempt == 2:
                        res.errors.append(f"final read on member {i}: {type(e).__name__}: {e}")
                    time.sleep(1.0)
                finally:
                    if c is not None:
                        c.stop()
                        c.close()
                        c = None
        return dumps

    def final(self, cl: Cluster, res: Result, hist: list[Op]) -> None:
        cl.heal_all()
        self.event("healed everything; waiting for a serving ensemble")
        try:
            cl.wait_healthy(90 if self.kind_name != "pyzk" else 60)
        except TimeoutError as e:
            res.errors.append(f"ensemble did not recover: {str(e)[:300]}")
            return
        self.event(f"modes {cl.mode_summary()}")
        dumps = self.dump_members(cl, res)
        # A write can still land between two members' dumps: a request the leader received
        # just before its client session closed, still being forwarded. A real divergence
        # stays; read again (bounded) before calling it one.
        for _ in range(2):
            if res.errors or not dumps or all(d == dumps[min(dumps)] for d in dumps.values()):
                break
            self.event("final dumps differ; reading every member again in 1 s")
            time.sleep(1.0)
            dumps = self.dump_members(cl, res)
        if not dumps:
            return
        ref_id = min(dumps)
        ref = dumps[ref_id]
        for i, d in dumps.items():
            if d != ref:
                paths = sorted(set(d) | set(ref))
                diff = [p for p in paths if d.get(p) != ref.get(p)]
                res.divergence.append(f"member {i} differs from member {ref_id} at "
                                      f"{len(diff)} nodes, e.g. "
                                      + "; ".join(f"{p}: {d.get(p)} vs {ref.get(p)}"
                                                  for p in diff[:3]))
        # Final reads join the history (they start after everything else ended).
        now = self.clock()
        for k in range(self.plan.keys):
            path = f"{ROOT}/r{k}"
            if path in ref:
                hist.append(Op(-1, "read", path, now, now + 0.001, "ok", ref[path][0],
                               ref[path][4]))
        res.history = hist
        res.ops = len(hist)
        res.ok = sum(op.outcome == "ok" for op in hist)
        res.failed = sum(op.outcome == "fail" for op in hist)
        res.info = sum(op.outcome == "info" for op in hist)
        for k in range(self.plan.keys):
            path = f"{ROOT}/r{k}"
            ops = [op for op in hist if op.key == path]
            res.keys.append(check_register(path, ops, (INIT_VALUE, 0),
                                           final_version=ref[path][4] if path in ref else None))
            if path in ref:
                acked = sum(1 for op in ops if op.kind in ("write", "cas") and op.outcome == "ok")
                res.lost_writes += max(0, acked - ref[path][4])
        final_set = {p.rsplit("/", 1)[-1]: v[0].decode() for p, v in ref.items()
                     if p.startswith(SET + "/")}
        res.set = check_set([op for op in hist if op.kind == "add"], final_set)


def run_schedule(seed: int, workdir: Path, n: int = 3, kind: str = "pyzk", faults: int = 3,
                 clients: int = 6, keys: int = 3, only: list[str] | None = None,
                 log: Callable[[str], None] | None = None,
                 hold: tuple[float, float] = (2.0, 4.0), **kw: Any) -> Result:
    """kind: "pyzk", "java", or "mixed" (members alternate java/pyzk, member 1 java)."""
    plan = make_plan(seed, n, faults, clients, keys, only, hold)
    if kind == "pyzk":
        kinds = None
    elif kind == "java":
        kinds = {i: "java" for i in range(1, n + 1)}
    elif kind == "mixed":
        kinds = {i: ("java" if i % 2 else "pyzk") for i in range(1, n + 1)}
    else:
        raise ValueError(kind)
    workdir.mkdir(parents=True, exist_ok=True)
    return Schedule(plan, workdir, kinds, kind, log=log, **kw).run()


__all__ = ["Plan", "Result", "Schedule", "make_plan", "run_schedule"]
