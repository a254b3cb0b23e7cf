"""A follower answers pipelined writes that repeat an xid in order, as a Java follower does.

A follower forwards a write to the leader and answers it when the txn comes back; it must take
the txn as the answer to the session's oldest forwarded request (CommitProcessor matches the
earliest queued local write by session and cxid), not look the request up by xid: a client may
repeat an xid, and a lookup by (session, xid) once left a request unanswered and hung the
connection (found on a worker process, which forwards the same way: forwarding.py). Leader 3
is pyzk; follower 1 is pyzk and follower 2 Java; both get the same pipelined requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ensemble.launcher import Ensemble
from tests.integration.test_workers import repeated_xids
from tests.mixed.mixhelp import start_led_by
from tests.servers import java_available

HOSTS = ["127.0.40.41", "127.0.40.42", "127.0.40.43"]


def test_a_pyzk_follower_answers_repeated_xids_as_a_java_follower(workdir: Path) -> None:
    if not java_available():
        pytest.skip("Debian's Java ZooKeeper is not installed")
    ens = Ensemble(workdir, HOSTS, tick_ms=500, kinds={2: "java"})
    try:
        start_led_by(ens, 3, 1, timeout=60)
        on_pyzk = repeated_xids(HOSTS[0], 2181, "/py")
        on_java = repeated_xids(HOSTS[1], 2181, "/java")
        # The created paths differ only by the prefix each follower was given.
        assert [(x, e, p and p.replace("/py", "/R")) for x, e, p in on_pyzk] == \
            [(x, e, p and p.replace("/java", "/R")) for x, e, p in on_java], (on_pyzk, on_java)
        assert on_pyzk[1][1] == 0 and len(on_pyzk) == 12, on_pyzk
    finally:
        ens.stop()
