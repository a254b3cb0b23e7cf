"""The server's two clocks, injectable so that tests and the simulation can drive time.

Java keeps them apart the same way (org.apache.zookeeper.common.Time): session expiry,
timers and timeouts run on elapsed (monotonic) time, so a wall-clock step by NTP or an
operator neither expires every session at once nor keeps dead ones alive; znode ctime/mtime,
txn header times and container/TTL ages are wall-clock milliseconds because they are data
that clients and other servers read.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def wall_ms(self) -> int:
        """Milliseconds since the epoch (Time.currentWallTime)."""
        ...

    def mono_ms(self) -> int:
        """Milliseconds of elapsed time from an arbitrary origin (Time.currentElapsedTime)."""
        ...


class SystemClock:
    __slots__ = ()

    @staticmethod
    def wall_ms() -> int:
        return time.time_ns() // 1_000_000

    @staticmethod
    def mono_ms() -> int:
        return time.monotonic_ns() // 1_000_000


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told: unit tests and the simulation."""

    def __init__(self, wall_ms: int = 1_700_000_000_000, mono_ms: int = 1_000) -> None:
        self.wall = wall_ms
        self.mono = mono_ms

    def wall_ms(self) -> int:
        return self.wall

    def mono_ms(self) -> int:
        return self.mono

    def advance(self, ms: int) -> None:
        self.wall += ms
        self.mono += ms

    def step_wall(self, ms: int) -> None:
        """An NTP or operator step: wall time jumps, elapsed time does not."""
        self.wall += ms
