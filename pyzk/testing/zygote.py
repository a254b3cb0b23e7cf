"""A fork server for test ensembles: one helper process imports pyzk once, then forks a member
process per request, so a member starts in milliseconds instead of paying interpreter start-up
and imports (~0.2-0.3 s each, more when three start at once on a small machine).

The members are real processes in their own sessions: SIGKILL, SIGSTOP and SIGTERM act on them
as on `python -m pyzk`. The helper is the members' parent, so it reaps them and reports exit
statuses. It talks JSON lines on its stdin/stdout: {"op": "spawn", argv, cwd, env, log} ->
{"pid"}; {"op": "status", pid} -> {"rc": int|null}. It exits when its stdin closes.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any


def _child(req: dict[str, Any]) -> None:
    """In the forked child: become a session leader, redirect output, run the server."""
    code = 1
    try:
        os.setsid()
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        import random
        random.seed()  # the fork copied the helper's generator state
        from pyzk.cli import main
        code = main(req["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # a member that fails to start says why in its log
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    """The helper's loop: requests on stdin, answers on stdout."""
    # The imports every member would otherwise repeat, lazy ones included.
    import importlib
    for name in ("pyzk.cli", "pyzk.logs", "pyzk.config", "pyzk.server.runtime",
                 "pyzk.server.quorum_peer", "pyzk.server.leader_host", "pyzk.server.learner_host",
                 "pyzk.server.frontends", "pyzk.storage.recovery", "uvloop"):
        importlib.import_module(name)
    exited: dict[int, int] = {}
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        while True:  # reap whatever has exited so far
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            exited[pid] = os.waitstatus_to_exitcode(status)
        if req["op"] == "spawn":
            out.flush()
            pid = os.fork()
            if pid == 0:
                _child(req)
            answer: dict[str, Any] = {"pid": pid}
        else:
            answer = {"rc": exited.get(req["pid"])}
        out.write(json.dumps(answer) + "\n")
        out.flush()


class Zygote:
    """The test process's handle on the helper (started on first use, shared, thread-safe)."""

    _shared: Zygote | None = None
    _shared_lock = threading.Lock()

    def __init__(self, env: dict[str, str]) -> None:
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from pyzk.testing.zygote import serve; serve()"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, text=True, bufsize=1)

    @classmethod
    def shared(cls, env: dict[str, str]) -> Zygote:
        with cls._shared_lock:
            z = cls._shared
            if z is None or z._proc.poll() is not None:
                z = cls._shared = cls(env)
                atexit.register(z.close)
            return z

    def _call(self, req: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(req) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the pyzk fork helper exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(self, argv: list[str], cwd: str, env: dict[str, str], log: str) -> ForkedProcess:
        answer = self._call({"op": "spawn", "argv": argv, "cwd": cwd, "env": env, "log": log})
        return ForkedProcess(self, int(answer["pid"]))

    def returncode(self, pid: int) -> int | None:
        rc = self._call({"op": "status", "pid": pid})["rc"]
        return None if rc is None else int(rc)

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)


class ForkedProcess:
    """A member forked by the helper, with the part of subprocess.Popen's API the fixture uses."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self._zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.returncode(self.pid)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        import signal
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode
