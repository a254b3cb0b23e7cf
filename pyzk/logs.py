"""Logging for pyzk: structlog with a console renderer on a TTY and JSON lines otherwise.

Standard-library logging (asyncio, libraries) is routed through the same renderer, and the
server id, role, zxid and session id can be bound per task with contextvars.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import IO, Any

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, unbind_contextvars

_HANDLER_NAME = "pyzk"
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
          "WARN": logging.WARNING, "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    try:
        return LEVELS[level.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None


# Fields on every line of this process (bind_process): the server id is process-wide, while
# contextvars bindings only reach tasks created after the binding.
_PROCESS_FIELDS: dict[str, Any] = {}


def _add_process_fields(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for k, v in _PROCESS_FIELDS.items():
        event_dict.setdefault(k, v)
    return event_dict


def _session_field(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """One name for the session id in every line: `session_id` (call sites may say
    `session=`)."""
    if "session" in event_dict and "session_id" not in event_dict:
        event_dict["session_id"] = event_dict.pop("session")
    return event_dict


def bind_process(**fields: Any) -> None:
    """Add fields (e.g. server_id) to every later log line from any task or thread."""
    _PROCESS_FIELDS.update({k: v for k, v in fields.items() if v is not None})


def process_fields() -> dict[str, Any]:
    return dict(_PROCESS_FIELDS)


def clear_process_fields() -> None:
    _PROCESS_FIELDS.clear()


def configure(fmt: str = "auto", level: str | int = "INFO", stream: IO[str] | None = None) -> str:
    """Install the pyzk log pipeline; safe to call again (it replaces itself).

    fmt is "console", "json" or "auto" (console when stream is a TTY). Returns the format used.
    """
    out = stream if stream is not None else sys.stderr
    if fmt not in ("console", "json", "auto"):
        raise ValueError(f"unknown log format {fmt!r}")
    if fmt == "auto":
        isatty = getattr(out, "isatty", None)
        fmt = "console" if callable(isatty) and isatty() else "json"
    lvl = _level(level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_process_fields,
        _session_field,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        tail: list[Any] = [structlog.processors.dict_tracebacks]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=bool(getattr(out, "isatty", lambda: False)()))
        tail = []
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        cache_logger_on_first_use=False,
    )
    _CURRENT[:] = [fmt, lvl]
    return fmt


_CURRENT: list[Any] = ["json", logging.INFO]


def current() -> tuple[str, int]:
    """The format and level the last configure() installed (worker processes copy them)."""
    return str(_CURRENT[0]), int(_CURRENT[1])


def get_logger(name: str = "pyzk", **initial: Any) -> Any:
    """A structlog logger named like a stdlib logger (so levels per module still work)."""
    return structlog.get_logger(name, **initial)


def _hex(n: int) -> str:
    return f"0x{n & 0xFFFFFFFFFFFFFFFF:x}"


def bind_server(server_id: int | None = None, role: str | None = None) -> None:
    """Tag every later log line in this context with the server id and/or role."""
    fields: dict[str, Any] = {}
    if server_id is not None:
        fields["server_id"] = server_id
    if role is not None:
        fields["role"] = role
    bind_contextvars(**fields)


def bind_zxid(zxid: int) -> None:
    """Tag later lines with the last zxid, in ZooKeeper's 0x hex notation."""
    bind_contextvars(zxid=_hex(zxid))


def bind_session(session_id: int) -> None:
    """Tag later lines with a session id, as 0x hex like ZooKeeper's own logs."""
    bind_contextvars(session_id=_hex(session_id))


def unbind(*keys: str) -> None:
    unbind_contextvars(*keys)


@contextlib.contextmanager
def session_context(session_id: int) -> Iterator[None]:
    """Bind the session id for the duration of a block (one request, one connection task)."""
    with bound_contextvars(session_id=_hex(session_id)):
        yield


def log_config_error(err: Exception) -> None:
    """One structured error line for a configuration problem (file, line and key as fields)."""
    fields = {k: getattr(err, k) for k in ("source", "line", "key") if getattr(err, k, None)}
    get_logger("pyzk.config").error("config_error", error=str(err),
                                    message=getattr(err, "message", str(err)), **fields)
