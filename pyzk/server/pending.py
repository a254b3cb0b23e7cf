"""Per-connection reply ordering.

Replies leave a connection in request order (the Java client rejects out-of-order xids). A write
holds its place until its txn is durable and applied; reads queued behind it run only when they
reach the head, so they observe the session's own earlier writes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..pipeline.request import Request
from ..protocol import records as r

if TYPE_CHECKING:
    from ..tree.datatree import TxnResult
    from .connection import ClientConn


class Pending:
    __slots__ = ("req", "reply", "is_write", "started", "large")

    def __init__(self, req: Request, is_write: bool, started: float) -> None:
        self.req = req
        self.reply: bytes | None = None
        self.is_write = is_write
        self.started = started
        self.large = 0  # bytes counted in the server's large-request total until answered


class ReplyQueue:
    """FIFO of a connection's outstanding requests.

    A deque held, not subclassed: mypyc (pyzk.tools.compiled) compiles this module, and a
    compiled subclass of collections.deque crashed on construction."""

    __slots__ = ("_q",)

    def __init__(self) -> None:
        self._q: deque[Pending] = deque()

    def __len__(self) -> int:
        return len(self._q)

    def __bool__(self) -> bool:
        return bool(self._q)

    def __iter__(self) -> Iterator[Pending]:
        return iter(self._q)

    def push(self, p: Pending) -> None:
        self._q.append(p)

    def clear(self) -> None:
        self._q.clear()

    def last(self) -> Pending | None:
        """The newest request, or None."""
        return self._q[-1] if self._q else None

    def drain(self, run_read: Callable[[Request], bytes],
              emit: Callable[[Pending, bytes], object]) -> None:
        """Send every finished reply at the head; run queued reads that reached the head."""
        q = self._q
        while q:
            head = q[0]
            if head.reply is None:
                if head.is_write:
                    return
                head.reply = run_read(head.req)
            q.popleft()
            emit(head, head.reply)


class Origin:
    """Who waits for a txn: a client request, a connecting client, or the server itself."""

    __slots__ = ("conn", "pending", "on_applied")

    def __init__(self, conn: ClientConn | None, pending: Pending | None,
                 on_applied: Callable[[r.TxnHeaderRecord, TxnResult], None] | None = None) -> None:
        self.conn = conn
        self.pending = pending
        self.on_applied = on_applied


NO_ORIGIN = Origin(None, None)  # a txn nobody waits for
