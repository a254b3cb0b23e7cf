"""The background lane's result (tests/background_lane.py): the session's last test, selected
only when the lane runs. It waits for the lane and fails with the lane's own report."""

from __future__ import annotations

import re

from tests import background_lane


def test_the_background_lane_passed() -> None:
    assert background_lane.running(), "selected without a background lane"
    rc, out = background_lane.result()
    lines = out.splitlines()
    summary = next((ln for ln in reversed(lines) if re.search(r"\d+ (passed|failed|error)", ln)),
                   "(no summary)")
    print(f"background lane ({background_lane.LOG}): {summary.strip('= ')}")
    assert rc is not None, ("the background lane ran out of time "
                            f"({background_lane.TIMEOUT_S} s):\n" + "\n".join(lines[-60:]))
    assert rc == 0, f"the background lane failed (exit {rc}):\n" + "\n".join(lines[-80:])
