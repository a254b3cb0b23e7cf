"""A client request as the pipeline sees it (Java's server Request, minus the connection)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Request:
    session_id: int
    xid: int
    op: int
    # decoded request record; list[(op, record)] for multi/multiRead; None for bodiless ops
    # (or when the body failed to decode: prep then logs a MARSHALLINGERROR error txn)
    record: Any
    auth: list[Any]  # the session's authenticated r.Id list (ip:..., digest:..., super:...)
    watcher: Any = None  # connection token registered for watches
    # Request.getException: an error this server decided before the leader answered (a local
    # session's ephemeral create that could not be upgraded); the reply carries it whatever
    # the committed txn says (FinalRequestProcessor throws it).
    exception: int = 0
