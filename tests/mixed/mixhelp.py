"""Helpers for the mixed-ensemble tests: start members so a chosen sid leads, a writer thread
that records every acknowledged write, silent raw sessions that must expire, and checks that
every member holds the same data."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from tests.ensemble.launcher import Ensemble, start_client, wait_for
from tests.integration.rawclient import RawClient

EPHEMERAL = 1


def start_led_by(ens: Ensemble, leader: int, second: int, timeout: float = 40.0) -> None:
    """Start `leader` and `second` first, so FLE picks the higher sid of the two (same zxid and
    epoch: FastLeaderElection.totalOrderPredicate), then the rest; `leader` must be the higher."""
    assert leader > second
    busy = [m.address for m in ens.members.values() if m.fourlw(m.host, "ruok")]
    assert not busy, f"something already serves on {busy}"
    ens.members[leader].start()
    ens.members[second].start()
    ens.wait_serving(timeout, members=[leader, second])
    for sid, m in ens.members.items():
        if sid not in (leader, second):
            m.start()
    modes = ens.wait_serving(timeout)
    assert modes[leader] == "leader", (modes, ens.logs())


def restart(ens: Ensemble, sid: int, timeout: float = 40.0) -> None:
    ens.members[sid].start()
    ens.wait_serving(timeout)


def clients(ens: Ensemble, sids: Iterable[int] | None = None) -> dict[int, KazooClient]:
    """One kazoo client pinned to each member."""
    ids = list(sids) if sids is not None else list(ens.members)
    return {s: start_client(ens.members[s].address) for s in ids}


def write_then_read_everywhere(ens: Ensemble, path: str, sids: Iterable[int] = ()) -> None:
    """Create `path` (its parent made if needed) through the first of `sids` (default: every
    running member), then sync + exists through each of them."""
    cs = clients(ens, list(sids) or [s for s, m in ens.members.items() if m.running])
    try:
        first = next(iter(cs.values()))
        first.ensure_path(path.rsplit("/", 1)[0] or "/")
        first.create(path, b"v")
        for s, c in cs.items():
            c.sync(path)
            assert c.exists(path) is not None, (s, path)
    finally:
        close_all(cs.values())


def close_all(cs: Iterable[KazooClient]) -> None:
    for c in cs:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - teardown of a client whose server is gone
            pass


def children_everywhere(ens: Ensemble, path: str) -> dict[int, list[str]]:
    """sync + get_children through a fresh client on every running member."""
    cs = clients(ens, [s for s, m in ens.members.items() if m.running])
    try:
        out = {}
        for s, c in cs.items():
            c.sync(path)
            out[s] = sorted(c.get_children(path))
        return out
    finally:
        close_all(cs.values())


def gone_everywhere(cs: dict[int, KazooClient], path: str, timeout: float = 20.0) -> None:
    parent = path.rsplit("/", 1)[0] or "/"

    def vanished(c: KazooClient) -> bool:
        c.sync(parent)
        return c.exists(path) is None

    for s, c in cs.items():
        wait_for(functools.partial(vanished, c), timeout, f"{path} to vanish on member {s}")


class SilentSession:
    """A raw session that creates an ephemeral and then never pings, so the leader expires it
    after its timeout, whichever member it is connected to."""

    def __init__(self, host: str, path: str, timeout_ms: int = 1000) -> None:
        self.client = RawClient(host, 2181, timeout=10.0)
        self.session = self.client.connect(timeout_ms=timeout_ms)
        rep = self.client.create(path, b"", flags=EPHEMERAL)
        assert rep.err == 0, f"ephemeral {path} on {host}: err {rep.err}"

    def close(self) -> None:
        self.client.close()


class Writer:
    """Creates /w/n0000, /w/n0001, ... through kazoo, as fast as acknowledged, until stopped;
    `acked` holds every name the ensemble acknowledged. An error (connection loss during an
    election) leaves that name's fate unknown: it is neither counted nor checked."""

    def __init__(self, hosts: str, parent: str = "/w") -> None:
        self.parent = parent
        self.client = start_client(hosts, timeout=6.0)
        self.client.ensure_path(parent)
        self.acked: list[str] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._n = 0

    def start(self) -> Writer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            name = f"n{self._n:05d}"
            self._n += 1
            try:
                self.client.create(f"{self.parent}/{name}", name.encode())
                self.acked.append(name)
            except KazooException:
                self.errors += 1
                time.sleep(0.05)

    def wait_acked(self, n: int, timeout: float = 30.0) -> None:
        """Until `n` more writes than now are acknowledged."""
        target = len(self.acked) + n
        wait_for(lambda: len(self.acked) >= target, timeout, f"{n} more acknowledged writes")

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(30)
        self.client.stop()
        self.client.close()
        return list(self.acked)


def assert_all_present(ens: Ensemble, parent: str, acked: list[str]) -> None:
    """Every acknowledged name is on every running member, and all members agree."""
    seen = children_everywhere(ens, parent)
    for s, names in seen.items():
        missing = sorted(set(acked) - set(names))
        assert not missing, f"member {s} ({ens.kind(s)}) lost acknowledged writes {missing[:20]}"
    union = set().union(*seen.values())
    odd = {s: sorted(union - set(v)) for s, v in seen.items() if set(v) != union}
    if odd:
        where = {name: stat_everywhere(ens, f"{parent}/{name}")
                 for name in sorted({n for v in odd.values() for n in v})[:5]}
        raise AssertionError(f"members disagree: missing {odd}; czxid by member {where}; "
                             f"acked {len(acked)}")


def stat_everywhere(ens: Ensemble, path: str) -> dict[int, str | None]:
    cs = clients(ens, [s for s, m in ens.members.items() if m.running])
    try:
        out: dict[int, str | None] = {}
        for s, c in cs.items():
            c.sync(path)
            st = c.exists(path)
            out[s] = None if st is None else hex(st.czxid)
        return out
    finally:
        close_all(cs.values())


def wait_leader_among(ens: Ensemble, sids: list[int], timeout: float = 40.0) -> int:
    ens.wait_serving(timeout, members=sids)
    return ens.leader()
