"""The clock-step nemesis works on both kinds of member: under libfaketime as the Jepsen cluster
preloads it (clockstep.preload_env), writing a member's offset file steps its wall clock
forward and back at once while its monotonic clock runs on, and timed waits still take their
full time. Probed in a Python and a JVM process (the runtimes of pyzk and Java members); the
schedule in test_jepsen.py then shows both servers stamping txns with the stepped clock.
"""

from __future__ import annotations

import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jepsen.clockstep import preload_env, unavailable_reason, write_offset
from tests.servers import JAVA_CLASSPATH, compile_java, java_available

PY_PROBE = """
import sys, threading, time
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "now":
        print(time.time_ns() // 1_000_000, time.monotonic_ns(), flush=True)
    elif cmd == "wait":
        t0 = time.monotonic_ns(); time.sleep(0.3); t1 = time.monotonic_ns()
        threading.Event().wait(0.3); t2 = time.monotonic_ns()
        print(t1 - t0, t2 - t1, flush=True)
"""


@pytest.fixture(autouse=True)
def _faketime() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


class Probe:
    """A probe process answering one line per command, each read with a deadline."""

    def __init__(self, cmd: list[str], offset_file: Path, python: bool) -> None:
        write_offset(offset_file, 0)
        env_words = preload_env(offset_file, python_path="" if python else None)
        self.offset_file = offset_file
        self.proc = subprocess.Popen(["env", *env_words, *cmd], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ask(self, cmd: str, timeout: float = 20.0) -> tuple[int, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"probe gave no answer to {cmd!r} in {timeout}s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"probe exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
        a, b = line.split()
        return int(a), int(b)

    def step(self, seconds: int) -> None:
        write_offset(self.offset_file, seconds)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _check_steps(p: Probe) -> None:
    """+300 s, then -420 s (to 120 s behind real time), then back: the wall clock moves by the
    step plus the elapsed time, the monotonic clock by the elapsed time only."""
    w0, m0 = p.ask("now")
    for offset, step in ((300, 300), (-120, -420), (0, 120)):
        p.step(offset)
        w1, m1 = p.ask("now")
        elapsed_ms = (m1 - m0) / 1e6
        assert 0 <= elapsed_ms < 10_000, f"monotonic clock moved {elapsed_ms} ms"
        jump_ms = (w1 - w0) - elapsed_ms
        assert abs(jump_ms - step * 1000) < 500, f"wall clock jumped {jump_ms} ms, not {step} s"
        w0, m0 = w1, m1
    # Timed waits on the monotonic clock (sleep, condition variables) neither return early nor
    # hang across a step.
    p.step(-600)
    first, second = p.ask("wait")
    for ns in (first, second):
        assert 0.29e9 <= ns < 5e9, f"a 300 ms wait took {ns / 1e6} ms"


def test_python_wall_steps_monotonic_does_not(tmp_path: Path) -> None:
    p = Probe([sys.executable, "-c", PY_PROBE], tmp_path / "offset", python=True)
    try:
        _check_steps(p)
    finally:
        p.close()


def test_jvm_wall_steps_nanotime_does_not(tmp_path: Path) -> None:
    if not java_available():
        pytest.skip("Java ZooKeeper is not installed")
    src = Path(__file__).parent / "java" / "ClockProbe.java"
    classes = compile_java(src, "ClockProbe", "clockprobe-")
    p = Probe(["java", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp",
               f"{classes}:{JAVA_CLASSPATH}", "ClockProbe"], tmp_path / "offset", python=False)
    try:
        _check_steps(p)
    finally:
        p.close()
