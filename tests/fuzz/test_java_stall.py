"""difffuzz's tolerated Java stall on learner targets (Fuzzer.java_grace): only a Java hang
after replies that all match pyzk's is tolerated; any differing reply is still a class."""

from __future__ import annotations

from pathlib import Path

from .difffuzz import Outcome, Side, java_stalled


def _out(replies: list[tuple[str, int] | None], end: str) -> Outcome:
    return Outcome(None, list(replies), [""] * len(replies), [], [], [], end, [])


def _sides(tmp_path: Path) -> list[Side]:
    return [Side("pyzk", "pyzk", "127.0.0.1", tmp_path), Side("java", "java", "127.0.0.1",
                                                              tmp_path)]


def test_a_java_hang_after_matching_replies_is_a_stall(tmp_path: Path) -> None:
    pyzk = _out([("R", 0), ("R", -8), ("R", 0)], "sentinel")
    java = _out([("R", 0), ("R", -8), None], "hang")
    assert java_stalled(_sides(tmp_path), [pyzk, java])


def test_a_differing_reply_before_the_hang_is_not(tmp_path: Path) -> None:
    pyzk = _out([("R", 0), ("R", -8), ("R", 0)], "sentinel")
    java = _out([("R", 0), ("R", -101), None], "hang")
    assert not java_stalled(_sides(tmp_path), [pyzk, java])


def test_a_pyzk_hang_or_close_is_never_a_java_stall(tmp_path: Path) -> None:
    sides = _sides(tmp_path)
    assert not java_stalled(sides, [_out([None], "hang"), _out([None], "sentinel")])
    assert not java_stalled(sides, [_out([None], "closed"), _out([None], "hang")])
    assert not java_stalled(sides, [_out([None], "hang"), _out([None], "hang")])
