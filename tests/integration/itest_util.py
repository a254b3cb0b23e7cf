"""Small shared helpers of the integration suite: bounded waiting and raw-client shortcuts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.integration.rawclient import ConnectionClosed, RawClient


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll pred until it returns a truthy value (bounded); return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def raw(srv: Any, timeout_ms: int = 30000, source: str | None = None) -> RawClient:
    """A connected raw client on srv."""
    c = RawClient(srv.host, srv.port, source=source)
    c.connect(timeout_ms)
    return c


def connected_clients(srv: Any, n: int) -> list[RawClient] | None:
    """n raw clients connected to srv, or None (and none left open) if one is refused: callers
    retry with wait_for, as Java counts a closed connection until its selector catches up."""
    made: list[RawClient] = []
    try:
        for _ in range(n):
            made.append(raw(srv))
        return made
    except (ConnectionClosed, OSError):
        for c in made:
            c.close()
        return None


def refused(host: str, port: int, timeout: float = 5.0) -> bool:
    """A new connection is closed by the server: at once (Java may close it before the
    client's connect returns: EPIPE/ECONNRESET) or within timeout."""
    try:
        c = RawClient(host, port)
    except OSError:
        return True
    try:
        return c.is_closed_by_server(timeout)
    finally:
        c.close()
