"""Client replies leave in one write per connection per event-loop turn."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Flushable(Protocol):
    def flush(self) -> None: ...


class OutputFlusher:
    """Writes out every connection that has replies waiting, once per event-loop turn: one
    loop callback for all of them rather than one per connection (a busy server answers
    dozens of connections in a turn)."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: list[Flushable] = []

    def add(self, conn: Flushable) -> None:
        """`conn` has output; the caller makes sure it is added at most once per flush."""
        waiting = self._waiting
        waiting.append(conn)
        if len(waiting) == 1:
            asyncio.get_running_loop().call_soon(self._flush_all)

    def _flush_all(self) -> None:
        waiting, self._waiting = self._waiting, []
        for conn in waiting:
            conn.flush()
