"""The linearizability checker on hand-made histories: it accepts valid concurrent histories
(indeterminate ops included) and catches a stale read and a lost write, and says which kind."""

from __future__ import annotations

import math
import random

from tests.jepsen.checker import Op, check_register, check_set

INIT = (b"init", 0)


def w(p: int, val: str, t0: float, t1: float, ver: int | None = None,
      outcome: str = "ok") -> Op:
    return Op(p, "write", "k", t0, t1 if outcome != "info" else math.inf, outcome,
              val.encode(), ver)


def r(p: int, val: str, ver: int, t0: float, t1: float) -> Op:
    return Op(p, "read", "k", t0, t1, "ok", val.encode(), ver)


def cas(p: int, exp: int, val: str, t0: float, t1: float, outcome: str = "ok",
        new: int | None = None) -> Op:
    return Op(p, "cas", "k", t0, t1 if outcome != "info" else math.inf, outcome, val.encode(),
              exp, new, "BadVersion" if outcome == "fail" else "")


def test_sequential_history_is_linearizable() -> None:
    h = [w(1, "a", 0, 1, 1), r(2, "a", 1, 2, 3), cas(1, 1, "b", 4, 5, new=2),
         r(2, "b", 2, 6, 7), cas(3, 1, "c", 8, 9, "fail"), r(1, "b", 2, 10, 11)]
    assert check_register("k", h, INIT).linearizable


def test_concurrent_reads_may_see_either_side_of_a_write() -> None:
    # The write overlaps both reads: one sees the old value, the other the new one.
    h = [w(1, "a", 0, 10, 1), r(2, "init", 0, 1, 2), r(3, "a", 1, 3, 4),
         r(2, "a", 1, 5, 6)]
    assert check_register("k", h, INIT).linearizable


def test_concurrent_writes_in_either_order() -> None:
    h = [w(1, "a", 0, 10, 2), w(2, "b", 1, 9, 1), r(3, "a", 2, 11, 12)]
    assert check_register("k", h, INIT).linearizable


def test_stale_read_is_caught_and_counted_as_a_read() -> None:
    # The write was acknowledged before the read began, yet the read returns the old value.
    h = [w(1, "a", 0, 1, 1), r(2, "init", 0, 2, 3)]
    rep = check_register("k", h, INIT)
    assert not rep.linearizable and rep.failed_kind == "read"
    assert len(rep.stale) == 1 and "1 versions behind" in rep.stale[0]


def test_read_going_back_in_time_is_caught() -> None:
    h = [w(1, "a", 0, 10, 1), r(2, "a", 1, 1, 2), r(3, "init", 0, 3, 4)]
    rep = check_register("k", h, INIT)
    assert not rep.linearizable and rep.failed_kind == "read"


def test_lost_write_is_caught_and_counted_as_a_write() -> None:
    # Two acknowledged writes, then a CAS that only succeeds if the second one never happened.
    h = [w(1, "a", 0, 1, 1), w(2, "b", 2, 3, 2), cas(3, 1, "c", 4, 5, new=2)]
    rep = check_register("k", h, INIT)
    assert not rep.linearizable and rep.failed_kind == "write"


def test_lost_write_seen_by_versions_alone() -> None:
    # The second acknowledged write reports the version the first one already had.
    h = [w(1, "a", 0, 1, 1), w(2, "b", 2, 3, 1)]
    assert check_register("k", h, INIT).failed_kind == "write"


def test_indeterminate_write_may_have_happened() -> None:
    h = [w(1, "a", 0, 1, outcome="info"), r(2, "a", 1, 5, 6)]
    assert check_register("k", h, INIT).linearizable


def test_indeterminate_write_may_not_have_happened() -> None:
    h = [w(1, "a", 0, 1, outcome="info"), r(2, "init", 0, 5, 6), w(3, "b", 7, 8, 1),
         r(2, "b", 1, 9, 10)]
    assert check_register("k", h, INIT).linearizable


def test_indeterminate_write_takes_effect_late() -> None:
    # ConnectionLoss at t=1, but the write applies after a later read saw the old value.
    h = [w(1, "a", 0, 1, outcome="info"), r(2, "init", 0, 5, 6), r(2, "a", 1, 9, 10)]
    assert check_register("k", h, INIT).linearizable


def test_indeterminate_write_cannot_happen_before_its_invocation() -> None:
    h = [r(2, "a", 1, 0, 1), w(1, "a", 2, 3, outcome="info")]
    assert not check_register("k", h, INIT).linearizable


def test_indeterminate_cas() -> None:
    h = [w(1, "a", 0, 1, 1), cas(2, 1, "b", 2, 3, "info"), r(3, "b", 2, 4, 5)]
    assert check_register("k", h, INIT).linearizable
    h = [w(1, "a", 0, 1, 1), cas(2, 1, "b", 2, 3, "info"), r(3, "a", 1, 4, 5)]
    assert check_register("k", h, INIT).linearizable


def test_failed_cas_observed_a_different_version() -> None:
    # BadVersion for expected version 0 although nothing changed the znode.
    h = [cas(1, 0, "a", 0, 1, "fail"), r(2, "init", 0, 2, 3)]
    assert check_register("k", h, INIT).failed_kind == "write"


def test_many_concurrent_processes_are_checked_quickly() -> None:
    """A valid history from a simulated register with 8 processes and overlapping ops."""
    rng = random.Random(7)
    state = [b"init", 0]
    ops: list[Op] = []
    t = 0.0
    pending: list[tuple[float, Op]] = []
    for i in range(400):
        t += rng.random()
        p = i % 8
        kind = rng.choice(["read", "write", "cas"])
        op = Op(p, kind, "k", t - rng.random() * 2)
        # The op takes effect at t (its linearization point) and completes a little later.
        if kind == "read":
            op.value, op.version = state[0], state[1]
        elif kind == "write":
            state = [f"v{i}".encode(), state[1] + 1]
            op.value, op.version = state[0], state[1]
        else:
            exp = state[1] - rng.randint(0, 1)
            op.value, op.version = f"c{i}".encode(), exp
            if exp == state[1]:
                state = [op.value, state[1] + 1]
                op.new_version = state[1]
            else:
                op.outcome, op.error = "fail", "BadVersion"
        op.complete = t + rng.random() * 2
        op.outcome = op.outcome if op.outcome == "fail" else "ok"
        if kind != "read" and rng.random() < 0.05:
            op.outcome, op.complete = "info", math.inf
        pending.append((t, op))
        ops.append(op)
    rep = check_register("k", ops, INIT)
    assert rep.linearizable, rep


def test_set_checker() -> None:
    adds = [Op(1, "add", "set", 0, 1, "ok", "e1"), Op(2, "add", "set", 0, 1, "ok", "e2"),
            Op(3, "add", "set", 0, math.inf, "info", "e3"),
            Op(4, "add", "set", 0, math.inf, "info", "e4")]
    rep = check_set(adds, {"e-01": "e1", "e-03": "e3", "e-05": "e9"})
    assert rep.lost == ["e2"] and rep.unexpected == ["e9"] and rep.recovered == 1


def test_final_version_settles_indeterminate_writes() -> None:
    # Final version 1 with one acknowledged write: the ConnectionLoss write did not happen
    # (dropped before the search); final version 2: it did, and was read.
    h = [w(1, "a", 0, 1, 1), w(2, "b", 0, 1, outcome="info"), r(3, "a", 1, 2, 3),
         r(-1, "a", 1, 6, 7)]
    assert check_register("k", h, INIT, final_version=1).linearizable
    h2 = [w(1, "a", 0, 1, 1), w(2, "b", 0, 1, outcome="info"), r(3, "b", 2, 4, 5),
          r(-1, "b", 2, 6, 7)]
    assert check_register("k", h2, INIT, final_version=2).linearizable
    h3 = [w(1, "a", 0, 1, 1), w(2, "b", 0, 1, outcome="info"), r(3, "b", 2, 4, 5),
          r(-1, "a", 1, 6, 7)]
    assert check_register("k", h3, INIT, final_version=1).failed_kind == "read"


def test_observed_indeterminate_write_happened_before_its_reader() -> None:
    # "b" was read at [2, 3], so the write happened by t=3; a later read of the older value
    # with the same version pattern is stale.
    h = [w(1, "a", 0, 1, 1), w(2, "b", 1.5, 1.6, outcome="info"), r(3, "b", 2, 2, 3),
         r(4, "a", 1, 4, 5)]
    assert not check_register("k", h, INIT).linearizable
