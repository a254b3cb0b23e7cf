"""Linearizability checker for the Jepsen-style suite: Wing & Gong's search with Lowe's
memoization (the algorithm of Knossos' `wgl` and of porcupine), one history per key.

An operation has an invocation time, a completion time and an outcome, as in Jepsen:

- "ok": it happened, between invocation and completion, with the recorded result;
- "fail": it definitely did not change anything (a CAS answered BadVersion still tells us
  that the version differed when it ran: that observation is checked too);
- "info": indeterminate (ConnectionLoss, a timeout): it may or may not have happened, at any
  time after its invocation. Its completion is taken as +infinity and the model accepts it in
  any state, so the search may linearize it anywhere after its invocation, including after
  everything else, which is the same as "never happened". Reads that end "info" say nothing
  and are dropped.

The register model is a ZooKeeper znode: state (value, version); `write` is setData with
version -1 (the reply's version must be the new one), `cas` is setData with an expected version,
`read` is sync + getData (value and version). When a key's history is not linearizable the
check is repeated without its reads: if that passes, the violation is in the reads (a stale
read, say) and is counted as a read failure; otherwise writes/CAS alone are inconsistent (a lost
or phantom write) and it is counted as a write failure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

State = tuple[Any, int]  # (value, version)


@dataclass
class Op:
    process: int
    kind: str                 # "read" | "write" | "cas"
    key: str
    invoke: float
    complete: float = math.inf
    outcome: str = "info"     # "ok" | "fail" | "info"
    value: Any = None         # written value, or value read
    version: int | None = None  # version read / returned by a write / expected by a cas
    new_version: int | None = None  # version returned by a successful cas
    error: str = ""

    def brief(self) -> str:
        t = "inf" if self.complete == math.inf else f"{self.complete:.3f}"
        extra = f" exp={self.version}" if self.kind == "cas" else f" v={self.version}"
        return (f"p{self.process} {self.kind} {self.value!r}{extra} {self.outcome} "
                f"[{self.invoke:.3f}, {t}]{' ' + self.error if self.error else ''}")


def step(state: State, op: Op) -> tuple[bool, State]:
    """The znode register model: (accepted, next state)."""
    value, version = state
    if op.kind == "read":
        return (value, version) == (op.value, op.version), state
    if op.kind == "write":
        if op.outcome == "info":
            return True, (op.value, version + 1)
        ok = op.version is None or op.version == version + 1
        return ok, (op.value, version + 1)
    if op.kind == "cas":
        match = op.version == version
        if op.outcome == "info":
            return True, ((op.value, version + 1) if match else state)
        if op.outcome == "fail":
            return not match, state
        ok = match and (op.new_version is None or op.new_version == version + 1)
        return ok, (op.value, version + 1)
    raise ValueError(f"unknown op kind {op.kind!r}")


class _Node:
    __slots__ = ("op", "idx", "is_call", "match", "prev", "next")

    def __init__(self, op: Op | None, idx: int, is_call: bool) -> None:
        self.op = op
        self.idx = idx
        self.is_call = is_call
        self.match: _Node | None = None
        self.prev: _Node | None = None
        self.next: _Node | None = None


@dataclass
class Verdict:
    linearizable: bool
    explored: int = 0
    aborted: bool = False     # the search hit its budget: no verdict
    stuck_at: Op | None = None  # the op whose return could not be passed (a hint)


def relevant(ops: Iterable[Op]) -> list[Op]:
    """The ops the search needs: "fail" writes changed nothing; "info" reads said nothing.
    A "fail" cas is kept (it observed a different version)."""
    out = []
    for op in ops:
        if op.kind == "read" and op.outcome != "ok":
            continue
        if op.kind == "write" and op.outcome == "fail":
            continue
        if op.kind == "cas" and op.outcome == "fail" and op.error != "BadVersion":
            continue
        out.append(op)
    return out


def check(ops: list[Op], init: State, budget: int = 2_000_000) -> Verdict:
    """Wing-Gong-Lowe over one key's history (ops already filtered by relevant())."""
    events: list[tuple[float, int, _Node]] = []
    for i, op in enumerate(ops):
        call, ret = _Node(op, i, True), _Node(op, i, False)
        call.match = ret
        end = op.complete if op.outcome == "ok" or op.kind == "cas" and op.outcome == "fail" \
            or isinstance(op, _Settled) else math.inf
        # At equal times calls sort first: ops whose ends touch count as concurrent.
        events.append((op.invoke, 0, call))
        events.append((end, 1, ret))
    events.sort(key=lambda e: (e[0], e[1]))
    head = _Node(None, -1, False)
    prev = head
    for _, _, node in events:
        prev.next, node.prev = node, prev
        prev = node

    def lift(n: _Node) -> None:
        assert n.prev is not None and n.match is not None and n.match.prev is not None
        n.prev.next = n.next
        if n.next is not None:
            n.next.prev = n.prev
        m = n.match
        m.prev.next = m.next  # type: ignore[union-attr]
        if m.next is not None:
            m.next.prev = m.prev

    def unlift(n: _Node) -> None:
        m = n.match
        assert m is not None and m.prev is not None and n.prev is not None
        m.prev.next = m
        if m.next is not None:
            m.next.prev = m
        n.prev.next = n
        if n.next is not None:
            n.next.prev = n

    state = init
    linearized = 0
    cache: set[tuple[int, State]] = set()
    stack: list[tuple[_Node, State]] = []
    entry = head.next
    explored = 0
    while head.next is not None:
        explored += 1
        if explored > budget:
            return Verdict(False, explored, aborted=True)
        assert entry is not None
        if entry.is_call:
            assert entry.op is not None
            ok, new_state = step(state, entry.op)
            if ok:
                lin2 = linearized | (1 << entry.idx)
                key = (lin2, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state, linearized = new_state, lin2
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return Verdict(False, explored, stuck_at=entry.op)
            node, state = stack.pop()
            linearized &= ~(1 << node.idx)
            unlift(node)
            entry = node.next
    return Verdict(True, explored)


@dataclass
class KeyReport:
    key: str
    ops: int
    linearizable: bool
    failed_kind: str = ""     # "" | "read" | "write" | "unknown" (search budget exhausted)
    detail: str = ""
    stale: list[str] = field(default_factory=list)  # see stale_reads()


def stale_reads(ops: list[Op]) -> list[str]:
    """The plainest violations, named: an ok read returning version v although a write or CAS
    acknowledged with a version above v had completed before the read was invoked."""
    acked = sorted((op.complete, op.new_version if op.kind == "cas" else op.version, op)
                   for op in ops if op.kind in ("write", "cas") and op.outcome == "ok"
                   and (op.new_version if op.kind == "cas" else op.version) is not None)
    out = []
    best: tuple[int, Op] | None = None
    i = 0
    for r in sorted((op for op in ops if op.kind == "read" and op.outcome == "ok"),
                    key=lambda op: op.invoke):
        while i < len(acked) and acked[i][0] < r.invoke:
            if best is None or acked[i][1] > best[0]:
                best = (acked[i][1], acked[i][2])
            i += 1
        if best is not None and r.version is not None and r.version < best[0]:
            out.append(f"p{r.process} read v{r.version} at [{r.invoke:.3f}, {r.complete:.3f}] "
                       f"after p{best[1].process}'s {best[1].kind} to v{best[0]} acknowledged "
                       f"at {best[1].complete:.3f} ({best[0] - r.version} versions behind, "
                       f"{r.invoke - best[1].complete:.3f}s later)")
    return out


def resolve_indeterminate(rel: list[Op], final_version: int | None) -> list[Op]:
    """Settle indeterminate writes/CAS where the history itself says what became of them
    (each write's value is unique, and every applied write or CAS adds one to the version):

    - one whose value some read returned happened, no later than the earliest such read
      completed: its completion is set to that;
    - when the final version (read after everything ended) leaves room for exactly the
      observed ones (final version = acknowledged + observed), the unobserved ones did not
      happen and are dropped.

    Both only remove linearizations that cannot exist, so the verdict is unchanged; the search
    no longer tries every place for every ConnectionLoss. Without a final version, or when the
    counts do not add up (a lost or phantom write, left for the search to find), only the
    first rule applies."""
    seen: dict[Any, float] = {}
    for op in rel:
        if op.kind == "read" and op.outcome == "ok":
            seen[op.value] = min(seen.get(op.value, math.inf), op.complete)
    acked = sum(1 for op in rel if op.kind in ("write", "cas") and op.outcome == "ok")
    info = [op for op in rel if op.kind in ("write", "cas") and op.outcome == "info"]
    observed = [op for op in info if op.value in seen]
    drop_unobserved = final_version is not None and final_version - acked == len(observed)
    out = []
    for op in rel:
        if op.kind in ("write", "cas") and op.outcome == "info":
            if op.value in seen:
                op = Op(**{**op.__dict__, "complete": max(op.invoke, seen[op.value]),
                           "outcome": "info"})
                op.error = op.error or "observed"
                out.append(_Settled(op))
                continue
            if drop_unobserved:
                continue
        out.append(op)
    return out


class _Settled(Op):
    """An indeterminate op known to have happened by its (finite) completion."""

    def __init__(self, op: Op) -> None:
        super().__init__(**op.__dict__)


def check_register(key: str, ops: list[Op], init: State, budget: int = 2_000_000,
                   final_version: int | None = None) -> KeyReport:
    rel = resolve_indeterminate(relevant(ops), final_version)
    # Versions only grow, so a named stale read (stale_reads) is a proof on its own; the search
    # is then only needed for the writes. A long history with a stale read and many
    # indeterminate writes could otherwise exhaust the search budget before it says no.
    stale = stale_reads(rel)
    if stale:
        vw = check([op for op in rel if op.kind != "read"], init, budget)
        if vw.linearizable:
            return KeyReport(key, len(ops), False, "read",
                             f"{len(stale)} stale read(s), first: {stale[0]}", stale)
        if not vw.aborted:
            hint = f"stuck at: {vw.stuck_at.brief()}" if vw.stuck_at else ""
            return KeyReport(key, len(ops), False, "write", hint, stale)
    v = check(rel, init, budget)
    if v.linearizable:
        return KeyReport(key, len(ops), True)
    if v.aborted:
        return KeyReport(key, len(ops), False, "unknown", f"search budget {budget} exhausted")
    writes = [op for op in rel if op.kind != "read"]
    vw = check(writes, init, budget)
    hint = f"stuck at: {v.stuck_at.brief()}" if v.stuck_at else ""
    if vw.linearizable:
        stale = stale_reads(rel)
        if stale:
            hint = f"{len(stale)} stale read(s), first: {stale[0]}"
        return KeyReport(key, len(ops), False, "read", hint, stale)
    if vw.aborted:
        return KeyReport(key, len(ops), False, "unknown", hint)
    hint = f"stuck at: {vw.stuck_at.brief()}" if vw.stuck_at else ""
    return KeyReport(key, len(ops), False, "write", hint)


@dataclass
class SetReport:
    attempted: int
    acknowledged: int
    present: int
    lost: list[Any] = field(default_factory=list)        # acknowledged, missing at the end
    unexpected: list[Any] = field(default_factory=list)  # present, never attempted
    recovered: int = 0                                    # indeterminate, present at the end
    duplicate_seq: int = 0                                # two elements, one sequence number


def check_set(adds: list[Op], final: dict[str, Any] | None) -> SetReport:
    """Jepsen's set checker: `adds` are sequential creates (value = element); `final` maps each
    child name to its element as read after the heal (None: no final read possible)."""
    attempted = {op.value for op in adds}
    acked = {op.value for op in adds if op.outcome == "ok"}
    present_list = list((final or {}).values())
    present = set(present_list)
    rep = SetReport(len(attempted), len(acked), len(present))
    if final is None:
        return rep
    rep.lost = sorted(acked - present, key=str)
    rep.unexpected = sorted(present - attempted, key=str)
    rep.recovered = len((attempted - acked) & present)
    rep.duplicate_seq = len(present_list) - len(present)
    return rep
