"""The compiled build (pyzk.tools.compiled) that tests/integration/test_compiled.py tests, and the
unit tests run on it: started as soon as the session knows it will run those tests, at the
lowest CPU priority (nice 19), beside the rest of the suite.

The build is a minute or more of gcc on every core, the unit tests on it half a minute more.
Started early, they take only CPU time the other tests leave idle (most of them wait on servers,
timeouts and elections), so they are done, or nearly, when test_compiled needs them, instead of
costing the suite that time in one piece. The unit tests bind loopback addresses other tests use
too, so in the background they run in a network namespace of their own (`unshare -n`); where that
is not allowed, test_compiled runs them itself. The `tree` fixture then calls
pyzk.tools.compiled.build, a no-op when the build is current; when this one failed or was killed,
that call builds in the foreground and reports mypyc's own error.

    python -m tests.compiled_build      # what the background job runs
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pyzk.tools import compiled

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / "build" / "compiled"
WORK = REPO / "tests" / ".work"
LOG = WORK / "compiled-build.log"
UNIT_RESULT = WORK / "compiled-unit.json"
SUFFIX = ".cpython-311-x86_64-linux-gnu.so"
UNIT_TESTS = ["tests/unit"]
UNIT_TIMEOUT_S = 600

_proc: subprocess.Popen[bytes] | None = None


def unit_test_command(tree: Path) -> tuple[list[str], dict[str, str]]:
    """tests/unit with the compiled modules imported: the command and its environment.

    pytest's own `pythonpath = ["."]` (pyproject.toml) would put the checkout first and the unit
    tests would import the interpreted modules: pyzk is imported from the build before pytest
    starts (its submodules then come from there whatever sys.path says), checked, and the ini
    option is emptied."""
    run = ("import sys, pytest, pyzk.server.zkserver as m\n"
           f"assert m.__file__.endswith({SUFFIX!r}), m.__file__\n"
           "sys.exit(pytest.main(sys.argv[1:]))")
    cmd = [sys.executable, "-P", "-c", run, "-q", "-x", "-p", "no:cacheprovider",
           "-o", "addopts=", "-o", "pythonpath=", *UNIT_TESTS]
    return cmd, dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{REPO}")


def own_network() -> list[str] | None:
    """The prefix that runs a command in a new network namespace with loopback up, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    probe = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    return ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def unit_result(tree: Path) -> tuple[int, str] | None:
    """(exit code, output tail) of the background unit run on this very build, if there was one."""
    try:
        got = json.loads(UNIT_RESULT.read_text())
        stamp = (tree / compiled.STAMP).read_text().strip()
    except (OSError, ValueError):
        return None
    if got.get("stamp") != stamp:
        return None
    return int(got["rc"]), str(got["tail"])


def main() -> int:
    compiled.build(REPO / "pyzk", TREE, log=lambda s: print(s, flush=True))
    prefix = own_network()
    if prefix is None:
        print("no network namespace of our own: test_compiled runs the unit tests", flush=True)
        return 0
    cmd, env = unit_test_command(TREE)
    done = subprocess.run([*prefix, *cmd], env=env, cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=UNIT_TIMEOUT_S)
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
    UNIT_RESULT.write_text(json.dumps({"stamp": (TREE / compiled.STAMP).read_text().strip(),
                                       "rc": done.returncode, "tail": tail}))
    print(tail, flush=True)
    return 0


def start_in_background() -> None:
    """Start the build (a no-op when current) and the unit run, unless mypy is missing or they
    already run. A unit result is of this session only: the tests may have changed since."""
    global _proc
    if _proc is not None:
        return
    UNIT_RESULT.unlink(missing_ok=True)
    try:
        import mypy  # noqa: F401
    except ImportError:
        return  # test_compiled skips
    WORK.mkdir(parents=True, exist_ok=True)
    with open(LOG, "wb") as log:
        _proc = subprocess.Popen(["nice", "-n", "19", sys.executable, "-m", "tests.compiled_build"],
                                 cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, PYTHONPATH=str(REPO)),
                                 start_new_session=True)


def wait(timeout_s: float) -> None:
    """Wait for the background job, at most `timeout_s`; past that it is killed (the caller
    then builds, and runs the unit tests, in the foreground)."""
    proc = _proc
    if proc is None:
        return
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    stop()


def stop() -> None:
    """End a job still running (the session is over, or it took too long): its whole group."""
    global _proc
    proc, _proc = _proc, None
    end_group(proc)


def end_group(proc: subprocess.Popen[bytes] | None) -> None:
    """Kill a background job started with start_new_session, with all it started, if it runs."""
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it may end between poll and kill
            os.killpg(proc.pid, 9)
        proc.wait(30)


if __name__ == "__main__":
    sys.exit(main())
