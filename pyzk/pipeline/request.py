"""A client request as the pipeline sees it (Java's server Request, minus the connection)."""

from __future__ import annotations

from typing import Any


class Request:
    """One per request: a plain class, not a dataclass, because the compiled build (mypyc)
    keeps a dataclass's generated __init__ interpreted, and this one runs for every request."""

    __slots__ = ("session_id", "xid", "op", "record", "auth", "watcher", "exception")

    def __init__(self, session_id: int, xid: int, op: int, record: Any, auth: list[Any],
                 watcher: Any = None, exception: int = 0) -> None:
        self.session_id = session_id
        self.xid = xid
        self.op = op
        # decoded request record; list[(op, record)] for multi/multiRead; None for bodiless
        # ops (or when the body failed to decode: prep then logs a MARSHALLINGERROR error txn)
        self.record = record
        self.auth = auth  # the session's authenticated r.Id list (ip:..., digest:..., super:...)
        self.watcher = watcher  # connection token registered for watches
        # Request.getException: an error this server decided before the leader answered (a
        # local session's ephemeral create that could not be upgraded); the reply carries it
        # whatever the committed txn says (FinalRequestProcessor throws it).
        self.exception = exception

    def __repr__(self) -> str:
        return (f"Request(session_id={self.session_id:#x}, xid={self.xid}, op={self.op}, "
                f"record={self.record!r})")
