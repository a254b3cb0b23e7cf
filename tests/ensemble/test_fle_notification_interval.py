"""fastleader.minNotificationInterval / maxNotificationInterval in zoo.cfg: Java turns unknown
keys into `zookeeper.<key>` system properties, which FastLeaderElection reads, so the keys
shape the backoff of a member that finds no quorum. A lone member of each kind (its two peers
never start) logs "Notification time out: N ms" after every resend; the waits must match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ensemble.launcher import Ensemble, wait_for

HOSTS = ["127.0.27.1", "127.0.27.2", "127.0.27.3"]
TIMEOUT = re.compile(r"Notification time out: (\d+) ms")


def _waits(kind: str, root: Path, extra: dict[str, str], count: int) -> list[int]:
    e = Ensemble(root / kind, HOSTS, kinds={1: kind}, extra=extra)
    m = e.members[1]
    m.start()
    try:
        def seen() -> list[int] | None:
            got = [int(x) for x in TIMEOUT.findall(m.log_text())]
            return got if len(got) >= count else None
        return wait_for(seen, 30, f"{count} notification timeouts on {kind}")[:count]  # type: ignore[index]
    finally:
        m.stop()


@pytest.mark.parametrize("extra,want", [
    ({"fastleader.minNotificationInterval": "25", "fastleader.maxNotificationInterval": "300"},
     [50, 100, 200, 300, 300, 300]),
    ({}, [400, 800]),  # Java's defaults: 200 ms, doubling
])
def test_lone_member_backs_off_as_java(tmp_path: Path, extra: dict[str, str],
                                       want: list[int]) -> None:
    java = _waits("java", tmp_path, extra, len(want))
    pyzk = _waits("pyzk", tmp_path, extra, len(want))
    assert java == want
    assert pyzk == java
