"""observer.reconnectDelayMs and observer.election.DelayMs with a pyzk and a Java observer in
one mixed ensemble: each observer waits a random time below observer.reconnectDelayMs before it
connects to the leader (Observer.waitForReconnectDelay), and below observer.election.DelayMs
after losing its leader before it looks for a new one (waitForObserverElectionDelay), logging
"Waiting for N ms before reconnecting with the leader" each time. The draws are random, so the
two kinds are held to the same counts and bounds rather than the same numbers.
"""

from __future__ import annotations

import re

import pytest

from tests.ensemble.launcher import wait_for
from tests.mixed.mixhelp import start_led_by

pytestmark = pytest.mark.slow

WAIT = re.compile(r"Waiting for (\d+) ms before reconnecting with the leader")
RECONNECT_MS, ELECTION_MS = 700, 900


def waits(text: str) -> list[int]:
    return [int(m.group(1)) for m in WAIT.finditer(text)]


def test_observers_wait_before_reconnecting_like_java(mixed) -> None:  # type: ignore[no-untyped-def]
    ens = mixed({1: "java", 2: "pyzk", 3: "java", 4: "pyzk", 5: "java"}, observers=(4, 5),
                extra={"observer.reconnectDelayMs": str(RECONNECT_MS),
                       "observer.election.DelayMs": str(ELECTION_MS)})
    start_led_by(ens, leader=3, second=2)
    observers = {4: ens.members[4], 5: ens.members[5]}
    # a reconnect wait each before first connecting to the leader (more if a first attempt
    # failed on a loaded machine: then an election wait and another reconnect wait)
    before = {}
    for sid, m in observers.items():
        got = before[sid] = waits(m.log_text())
        assert got and got[0] < RECONNECT_MS and max(got) < ELECTION_MS, (sid, got)
    ens.members[3].stop()  # the leader: both observers lose it
    ens.wait_serving(60)
    for sid, m in observers.items():
        # the election delay, then the reconnect delay to the new leader
        n = len(before[sid])
        wait_for(lambda m=m, n=n: len(waits(m.log_text())) >= n + 2, 30,
                 f"observer {sid}'s waits")
        got = waits(m.log_text())[n:]
        assert got[0] < ELECTION_MS and got[1] < RECONNECT_MS, (sid, got)
