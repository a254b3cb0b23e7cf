"""The background lane: tests that need only the CPU (tests/unit, the seeded simulations of
tests/simulation) run in a second pytest, at nice 19, beside the rest of the suite.

Most of the suite waits: on servers starting, JVMs, timeouts, elections, session expiry. A
whole run leaves one of the two cores idle much of the time, and these ~1,150 tests (about two
and a half minutes in one piece) fit in it. They keep no wall-clock deadlines (the simulations
run on virtual time), so a slow moment cannot fail them; the unit tests that bind loopback
addresses get a network namespace of their own (`unshare -n`), so they cannot meet the other
tests' servers.

The lane runs only when it buys something: when the session selected lane tests, others too
and the check below (a whole run does), and a network namespace of our own can be made.
Otherwise every test runs in the session as usual. Its tests are deselected from the session,
which then ends with tests/test_background_lane.py: that waits for the lane and fails with the
lane's own failure report when the lane failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.compiled_build import end_group, own_network

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
WORK = TESTS / ".work"
LOG = WORK / "background-lane.log"
ARGS = WORK / "background-lane.args"
LANE_DIRS = ("unit", "simulation")
CHECK = "tests/test_background_lane.py"  # the session's last test: the lane's result
TIMEOUT_S = 1500

_proc: subprocess.Popen[bytes] | None = None


def in_lane(path: Path) -> bool:
    return any(path.is_relative_to(TESTS / d) for d in LANE_DIRS)


def start(nodeids: list[str]) -> bool:
    """Run these tests in the background; False when this machine cannot isolate them."""
    global _proc
    prefix = own_network()
    if prefix is None or _proc is not None:
        return False
    WORK.mkdir(parents=True, exist_ok=True)
    ARGS.write_text("\n".join(nodeids) + "\n")
    cmd = [*prefix, "nice", "-n", "19", sys.executable, "-m", "pytest", "-q",
           "-p", "no:cacheprovider", "-rfEs", "--durations=10", "--durations-min=5",
           f"@{ARGS}"]
    with open(LOG, "wb") as log:
        _proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, PYTHONPATH=str(REPO)),
                                 start_new_session=True)
    return True


def running() -> bool:
    return _proc is not None


def result(timeout_s: float = TIMEOUT_S) -> tuple[int | None, str]:
    """(pytest's exit code, None when it ran out of time; its output), waiting for it."""
    proc = _proc
    if proc is None:
        return None, "the background lane was not started"
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    rc = proc.poll()
    if rc is None:
        stop()
    return rc, LOG.read_text(errors="replace")


def stop() -> None:
    """End a lane still running (the session is over or gave up on it): its whole group."""
    global _proc
    proc, _proc = _proc, None
    end_group(proc)
