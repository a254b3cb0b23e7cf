"""Stepping one member's wall clock (an NTP or operator step) while its monotonic clock runs on,
with libfaketime preloaded into the member process (Debian package `libfaketime`).

Each member gets its own offset file (FAKETIME_TIMESTAMP_FILE, re-read on every call with
FAKETIME_NO_CACHE=1) holding a relative offset in seconds ("+0", "+300", "-90"); writing a new
offset steps that member's CLOCK_REALTIME at once. Two settings of libfaketime 0.9.10 matter:

- FAKETIME_DONT_FAKE_MONOTONIC=1: CLOCK_MONOTONIC stays real (without it libfaketime reports
  the faked wall time as the monotonic time too).
- FAKETIME_FORCE_MONOTONIC_FIX=0: Debian's amd64 build forces a "monotonic fix" on timed
  waits of condition variables bound to CLOCK_MONOTONIC that, together with the setting
  above, makes every such wait return at once. The JVM binds its condition variables to
  CLOCK_MONOTONIC: Object.wait(ms) and LockSupport.parkNanos return immediately, and every
  loop around them spins (measured: a 2 s parkNanos returns after 0 ms; 6 s of CPU for a 10 s
  probe run). With the fix off, the waits take their full monotonic time across steps.

Python 3.11's time.sleep is clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), which libfaketime
0.9.10 mangles into a negative time when the monotonic clock is not faked: EINVAL on every
call (libfaketime issue #426). faketime_shim/sitecustomize.py (on the pyzk member's
PYTHONPATH only) puts a select()-based sleep in its place; select, poll, epoll, condition and
lock timeouts, asyncio's timers are not affected.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

SHIM_DIR = Path(__file__).resolve().parent / "faketime_shim"
_LIB_GLOBS = ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/local/lib/faketime/libfaketimeMT.so.1",
              "/usr/lib/faketime/libfaketimeMT.so.1")


def faketime_library() -> str | None:
    """The multithreaded libfaketime (the members run threads), or None when not installed."""
    for pattern in _LIB_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


def unavailable_reason() -> str | None:
    if faketime_library() is None:
        return "libfaketime is not installed (apt-get install libfaketime)"
    return None


def preload_env(offset_file: Path, python_path: str | None = None) -> list[str]:
    """`NAME=value` words for `env` that preload libfaketime with `offset_file` as the member's
    offset. python_path: the PYTHONPATH of a pyzk member (the shim goes first)."""
    lib = faketime_library()
    if lib is None:
        raise RuntimeError(unavailable_reason())
    words = [f"LD_PRELOAD={lib}",
             f"FAKETIME_TIMESTAMP_FILE={offset_file}",
             "FAKETIME_NO_CACHE=1",
             "FAKETIME_DONT_FAKE_MONOTONIC=1",
             "FAKETIME_FORCE_MONOTONIC_FIX=0",
             "NO_FAKE_STAT=1"]  # file times stay real: only the clocks are stepped
    if python_path is not None:
        words.append("PYTHONPATH=" + os.pathsep.join(p for p in (str(SHIM_DIR), python_path) if p))
    return words


def write_offset(offset_file: Path, seconds: int) -> None:
    """Set the member's wall-clock offset from real time (whole seconds, either sign); atomic,
    so the member never reads a half-written file."""
    tmp = offset_file.with_suffix(".tmp")
    tmp.write_text(f"{seconds:+d}\n")
    os.replace(tmp, offset_file)


def remove_shm(pid: int) -> None:
    """libfaketime creates a semaphore and a shared-memory segment named after each process it
    is preloaded into and removes them only on a clean exit: remove those of a member process
    that was killed (or stopped) once it is gone."""
    for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
        try:
            os.unlink(f"/dev/shm/{name}")
        except OSError:
            pass
