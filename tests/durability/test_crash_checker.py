"""The crash checker itself catches what it exists to catch: a lost acknowledged write, a
half-applied multi, a phantom node, wrong data, and a state that is not a prefix of the
session's writes (so a green crash run means something)."""

from __future__ import annotations

from typing import Any

from tests.durability.workload import SessionLog, Write, check_session

BASE = "/r0/s0"
K, MK = f"{BASE}/k0", f"{BASE}/mk"


def _log() -> SessionLog:
    log = SessionLog(BASE, key_data={K: [b"init", b"s1"], MK: [b"m-init", b"m2"]})
    log.writes = [
        Write("create", (f"{BASE}/c0",), b"c0", acked=True, zxid=10),
        Write("set", (K,), b"s1", 1, acked=True, zxid=11),
        Write("multi", (f"{BASE}/m2a", f"{BASE}/m2b", MK), b"m2", 1, acked=False),
        Write("create", (f"{BASE}/c3",), b"c3", acked=False),
    ]
    return log


def _state(**drop: bool) -> dict[str, Any]:
    st: dict[str, Any] = {K: (b"s1", 1), MK: (b"m2", 1), f"{BASE}/c0": (b"c0", 0),
                          f"{BASE}/m2a": (b"m2", 0), f"{BASE}/m2b": (b"m2", 0)}
    for path in drop:
        del st[path]
    return st


def test_a_valid_prefix_passes() -> None:
    assert check_session(_log(), _state()) == []
    st = _state()
    for p in (f"{BASE}/m2a", f"{BASE}/m2b"):
        del st[p]
    st[MK] = (b"m-init", 0)
    assert check_session(_log(), st) == []  # the unacknowledged multi simply did not happen


def test_lost_ack_half_multi_phantom_wrong_data_and_gaps_fail() -> None:
    st = _state()
    del st[f"{BASE}/c0"]
    assert any("acknowledged create" in b for b in check_session(_log(), st))
    assert check_session(_log(), st, frozenset({10})) != []  # still not a prefix
    st = _state()
    del st[f"{BASE}/m2b"]
    assert any("half-applied" in b for b in check_session(_log(), st))
    st = _state()
    st[f"{BASE}/ghost"] = (b"", 0)
    assert any("never sent" in b for b in check_session(_log(), st))
    st = _state()
    st[K] = (b"other", 1)
    assert any("holds" in b for b in check_session(_log(), st))
    st = _state()
    st[K] = (b"init", 0)  # acked set lost, later writes present
    assert any("not a prefix" in b for b in check_session(_log(), st))
    st = _state()
    st[f"{BASE}/c3"] = (b"c3", 0)  # an unacknowledged write that was sent may be present
    assert check_session(_log(), st) == []
