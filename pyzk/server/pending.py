"""Per-connection reply ordering.

Replies leave a connection in request order (the Java client rejects out-of-order xids). A write
holds its place until its txn is durable and applied; reads queued behind it run only when they
reach the head, so they observe the session's own earlier writes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..pipeline.request import Request


class Pending:
    __slots__ = ("req", "reply", "is_write", "started", "large")

    def __init__(self, req: Request, is_write: bool, started: float) -> None:
        self.req = req
        self.reply: bytes | None = None
        self.is_write = is_write
        self.started = started
        self.large = 0  # bytes counted in the server's large-request total until answered


class ReplyQueue(deque[Pending]):
    """FIFO of a connection's outstanding requests (push, len and clear are deque's own)."""

    __slots__ = ()

    push = deque.append

    def drain(self, run_read: Callable[[Request], bytes],
              emit: Callable[[Pending, bytes], object]) -> None:
        """Send every finished reply at the head; run queued reads that reached the head."""
        while self:
            head = self[0]
            if head.reply is None:
                if head.is_write:
                    return
                head.reply = run_read(head.req)
            self.popleft()
            emit(head, head.reply)
