"""Loaded at start-up by a pyzk member run under libfaketime (tests/jepsen/clockstep.py): with
FAKETIME_DONT_FAKE_MONOTONIC=1, libfaketime 0.9.10 turns Python 3.11's time.sleep
(clock_nanosleep on CLOCK_MONOTONIC, TIMER_ABSTIME) into EINVAL (libfaketime issue #426).
select() with a relative timeout passes through untouched, so time.sleep becomes that."""

from __future__ import annotations

import os
import select
import time

_real_sleep = time.sleep


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        select.select([], [], [], left)


if os.environ.get("LD_PRELOAD", "").find("faketime") >= 0:
    time.sleep = _sleep
