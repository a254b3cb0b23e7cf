"""Recording and normalising raw-client steps.

Each step keeps (label, op, err, response fields, watch events read before the reply). Values that
legitimately differ between servers are replaced: zxids by their rank among all zxids of the
transcript (so relative order and equality survive), wall-clock times by "t"/0, session ids by
the name of the client that owns them.
"""

from __future__ import annotations

import difflib
import pprint
from typing import Any

from pyzk.protocol.codes import Err, EventType
from pyzk.protocol.opcodes import Op

ZXID_FIELDS = frozenset({"czxid", "mzxid", "pzxid"})
UNORDERED_FIELDS = frozenset({"children", "ephemerals"})
TIME_FIELDS = frozenset({"ctime", "mtime"})


class Zxid(int):
    """Marks an int as a zxid until normalisation."""


class Transcript:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.sessions: dict[int, str] = {}

    def name_session(self, session_id: int, name: str) -> None:
        self.sessions[session_id] = name

    def record(self, label: str, op: int, reply: Any, **extra: Any) -> None:
        step: dict[str, Any] = {
            "step": label,
            "op": Op(op).name if op in Op._value2member_map_ else op,
            "err": _err_name(reply.err),
            "zxid": Zxid(reply.zxid),
            "body": self._value(reply.body),
            "events": [(EventType(e.type).name, e.state, e.path) for e in reply.events],
        }
        step.update(extra)
        self.steps.append(step)

    def note(self, label: str, **fields: Any) -> None:
        self.steps.append({"step": label, **fields})

    def _value(self, v: Any, field: str = "") -> Any:
        if v is None or isinstance(v, (str, bytes, bool, float)):
            return v
        if isinstance(v, int):
            if field in ZXID_FIELDS:
                return Zxid(v)
            if field in TIME_FIELDS:
                return "t" if v else 0
            if field == "ephemeralOwner":
                return self.sessions.get(v, v if v == 0 else "unknown-session")
            return v
        if isinstance(v, list):
            items = [self._value(x) for x in v]
            # Child and ephemeral lists come from Java hash sets: ZooKeeper defines no order.
            if field in UNORDERED_FIELDS:
                items.sort()
            return items
        if isinstance(v, tuple) and hasattr(v, "_fields"):
            return {"_": type(v).__name__,
                    **{f: self._value(getattr(v, f), f) for f in v._fields}}
        if isinstance(v, tuple):  # multi result (type, err, body)
            return tuple(self._value(x) for x in v)
        return repr(v)

    def normalised(self) -> list[dict[str, Any]]:
        """The steps with zxids replaced by rank ("z0" is the smallest seen)."""
        seen: set[int] = set()
        _collect(self.steps, seen)
        rank = {z: i for i, z in enumerate(sorted(seen))}
        return _replace(self.steps, rank)


def _err_name(code: int) -> str:
    try:
        return Err(code).name
    except ValueError:
        return str(code)


def _collect(v: Any, out: set[int]) -> None:
    if isinstance(v, Zxid):
        out.add(int(v))
    elif isinstance(v, dict):
        for x in v.values():
            _collect(x, out)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _collect(x, out)


def _replace(v: Any, rank: dict[int, int]) -> Any:
    if isinstance(v, Zxid):
        return f"z{rank[int(v)]}"
    if isinstance(v, dict):
        return {k: _replace(x, rank) for k, x in v.items()}
    if isinstance(v, list):
        return [_replace(x, rank) for x in v]
    if isinstance(v, tuple):
        return tuple(_replace(x, rank) for x in v)
    return v


def render(steps: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for i, s in enumerate(steps):
        lines += [f"#{i:03d} {line}" for line in pprint.pformat(s, width=110).splitlines()]
    return lines


def diff(java: list[dict[str, Any]], pyzk: list[dict[str, Any]]) -> str:
    """A unified diff of the two rendered transcripts, with the first differing step named."""
    first = next((i for i, (a, b) in enumerate(zip(java, pyzk, strict=False)) if a != b),
                 min(len(java), len(pyzk)))
    head = f"first difference at step #{first:03d}"
    if first < len(java):
        head += f" ({java[first].get('step')})"
    body = difflib.unified_diff(render(java), render(pyzk), "java", "pyzk", lineterm="", n=4)
    return head + "\n" + "\n".join(body)
