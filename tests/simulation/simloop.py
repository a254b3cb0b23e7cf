"""A deterministic asyncio event loop for the real-host simulation (tests/simulation/hostsim.py).

Subclasses asyncio's BaseEventLoop without touching its internals:
- `time()` is virtual; the "selector" never blocks: when nothing is ready it moves virtual time
  to the next timer, so a schedule runs as fast as the interpreter goes and is a function of
  its seed.
- `run_in_executor` runs the function on the loop after a seeded delay (fsyncs and snapshot
  writes become ordered events a crash can fall before or after).
- Every callback belongs to the member whose context scheduled it (a contextvar set when the
  member's process starts); when that incarnation has crashed, its callbacks are dropped, so
  its tasks freeze where they stood, as a killed process does (no `finally` runs, nothing more
  reaches the disk).
- The network API (create_connection, create_server) is the simulated network (simnet.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import sys
from asyncio import events
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Incarnation:
    """One run of one member's process, from start to crash or stop."""

    def __init__(self, sid: int, number: int) -> None:
        self.sid = sid
        self.number = number
        self.alive = True
        self.tasks: list[asyncio.Task[Any]] = []  # kept so a frozen task is never collected

    def __repr__(self) -> str:
        return f"m{self.sid}#{self.number}"


MEMBER: contextvars.ContextVar[Incarnation | None] = contextvars.ContextVar(
    "sim_member", default=None)


class Killed(BaseException):
    """Raised at a file operation inside a member's disk job: its process dies right there."""


# File operations Python audits (sys.addaudithook): the points where a disk job can be killed.
_FILE_EVENTS = frozenset({"open", "os.rename", "os.remove", "os.truncate", "os.mkdir",
                          "shutil.rmtree", "os.unlink"})


class _Auditor:
    """One process-wide audit hook (hooks cannot be removed), idle unless a simulation runs:
    it refuses sockets (the simulated world has none) and carries out planned kills."""

    def __init__(self) -> None:
        self.running = 0
        self.countdown = 0  # > 0: the file operation that many from now kills the job

    def __call__(self, event: str, args: tuple[object, ...]) -> None:
        if not self.running:
            return
        if event.startswith("socket.") and event != "socket.getaddrinfo":
            raise RuntimeError(f"the simulation opened a real socket ({event} {args!r})")
        if self.countdown and event in _FILE_EVENTS:
            self.countdown -= 1
            if self.countdown == 0:
                self.countdown = -1  # dead: every later file operation of the job fails too
                raise Killed(event)
            if self.countdown < 0:
                raise Killed(event)


AUDITOR = _Auditor()
sys.addaudithook(AUDITOR)


class Stuck(RuntimeError):
    """Nothing ready and no timer: the simulated world has stopped (a deadlock)."""


class _VirtualSelector:
    def __init__(self, loop: SimLoop) -> None:
        self.loop = loop

    def select(self, timeout: float | None) -> list[Any]:
        if timeout is None:
            raise Stuck("no callback ready and no timer scheduled")
        if timeout > 0:
            self.loop.now += timeout
        return []

    def close(self) -> None:
        pass


class SimLoop(asyncio.BaseEventLoop):  # type: ignore[misc]
    def __init__(self, seed: int, executor_delay_ms: tuple[float, float] = (0.1, 3.0)) -> None:
        super().__init__()
        self.now = 0.0
        self.rng = random.Random(seed ^ 0x5EED)
        self.executor_delay_ms = executor_delay_ms
        self._selector = _VirtualSelector(self)
        self._clock_resolution = 1e-9
        self.set_task_factory(self._task_factory)
        self.network: Any = None  # simnet.Fabric, set by the fabric
        # incarnation -> the file operation (1 = the next) of its disk jobs that kills it
        self.kill_plan: dict[Incarnation, int] = {}
        self.on_killed: Callable[[Incarnation], None] | None = None
        # member id -> its disk's delay range (ms), for a member on a slow disk
        self.disk_delay_ms: dict[int, tuple[float, float]] = {}

    def run_until_complete(self, future: Any) -> Any:
        AUDITOR.running += 1
        try:
            return super().run_until_complete(future)
        finally:
            AUDITOR.running -= 1

    # -- time ------------------------------------------------------------------------------
    def time(self) -> float:
        return self.now

    # -- BaseEventLoop's abstract I/O hooks: nothing to poll -------------------------------
    def _process_events(self, event_list: list[Any]) -> None:
        pass

    def _write_to_self(self) -> None:
        pass

    # -- crash semantics -------------------------------------------------------------------
    @staticmethod
    def _owner(context: contextvars.Context | None) -> Incarnation | None:
        return context.get(MEMBER) if context is not None else MEMBER.get()

    @staticmethod
    def _guard(inc: Incarnation, callback: Callable[..., object]) -> Callable[..., object]:
        def run_if_alive(*args: object) -> object:
            if inc.alive:
                return callback(*args)
            return None
        return run_if_alive

    def call_soon(  # type: ignore[override]  # typeshed's generics, same behaviour
            self, callback: Callable[..., object], *args: Any,
            context: contextvars.Context | None = None) -> events.Handle:
        inc = self._owner(context)
        if inc is not None:
            callback = self._guard(inc, callback)
        return super().call_soon(callback, *args, context=context)

    def call_at(  # type: ignore[override]  # typeshed's generics, same behaviour
            self, when: float, callback: Callable[..., object], *args: Any,
            context: contextvars.Context | None = None) -> events.TimerHandle:
        inc = self._owner(context)
        if inc is not None:
            callback = self._guard(inc, callback)
        return super().call_at(when, callback, *args, context=context)

    def _task_factory(self, loop: asyncio.AbstractEventLoop, coro: Any,
                      context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, context=context)
        inc = self._owner(context)
        if inc is not None:
            inc.tasks.append(task)
            if len(inc.tasks) > 256:
                inc.tasks = [t for t in inc.tasks if not t.done()]
        return task

    # -- executor: on the loop, after a seeded delay ---------------------------------------
    def run_in_executor(  # type: ignore[override]  # typeshed's generics, same behaviour
            self, executor: object, func: Callable[..., T],
            *args: Any) -> asyncio.Future[T]:
        fut: asyncio.Future[T] = self.create_future()
        caller = MEMBER.get()
        lo, hi = self.executor_delay_ms if caller is None else \
            self.disk_delay_ms.get(caller.sid, self.executor_delay_ms)

        def run() -> None:
            if fut.cancelled():
                return
            inc = MEMBER.get()
            kill_at = self.kill_plan.pop(inc, 0) if inc is not None else 0
            AUDITOR.countdown = kill_at
            try:
                result = func(*args)
            except Killed:
                AUDITOR.countdown = 0
                assert inc is not None
                if self.on_killed is not None:
                    self.on_killed(inc)
                return  # the future never resolves: that process is gone
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
                fut.set_exception(e)
                return
            finally:
                # The count goes on in the member's later jobs (plain log appends open no
                # file, so kills land in snapshots, log rolls and epoch writes).
                if AUDITOR.countdown > 0 and inc is not None:
                    self.kill_plan[inc] = AUDITOR.countdown
                AUDITOR.countdown = 0
            fut.set_result(result)

        self.call_later(self.rng.uniform(lo, hi) / 1000, run)
        return fut

    # -- the simulated network -------------------------------------------------------------
    async def create_connection(  # type: ignore[override]  # typeshed's overloads
            self, protocol_factory: Callable[[], asyncio.BaseProtocol],
            host: str | None = None, port: int | None = None,
            **kw: Any) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        assert self.network is not None and host is not None and port is not None
        return await self.network.connect(protocol_factory, host, port)  # type: ignore[no-any-return]

    async def create_server(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                            host: Any = None, port: int | None = None,
                            **kw: Any) -> Any:
        assert self.network is not None and port is not None
        return self.network.listen(protocol_factory, host, port,
                                   kw.get("start_serving", True))

    async def getnameinfo(self, sockaddr: Any, flags: int = 0) -> tuple[str, str]:
        return str(sockaddr[0]), str(sockaddr[1])
