"""`python -m pyzk.server.workers.process INDEX FDS CTL LINK PARENT`: one worker process,
started by its member's WorkerPool (pool.py) with the two socket pairs' ends it inherited.
It ends with its member: on the control stream's end, and by PR_SET_PDEATHSIG when the
member is killed outright.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import pickle
import signal
import socket
import sys
from pathlib import Path

from ... import logs
from ..malloc_tuning import tune_malloc
from ..persistence import tune_gc
from .links import read_raw

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """SIGTERM when the member dies (even by SIGKILL); if it is already gone, exit now."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit(0)


async def _main(index: int, fds: socket.socket, ctl: socket.socket, link: Path) -> int:
    from .worker import Worker  # after the log set-up: importing the server logs nothing yet

    reader, writer = await asyncio.open_connection(sock=ctl)
    first = await read_raw(reader)
    if first is None:
        return 1
    config, (fmt, level), fields = pickle.loads(first)  # from our own member only
    logs.configure(fmt, level)
    logs.bind_process(**fields, worker=index)
    loop = asyncio.get_running_loop()
    worker = Worker(config, index, link, fds, reader, writer)
    done = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _finish, done)
    running = asyncio.ensure_future(worker.run())
    await asyncio.wait([running, done], return_when=asyncio.FIRST_COMPLETED)
    running.cancel()
    try:
        await running
    except (asyncio.CancelledError, Exception):  # noqa: BLE001 - exiting either way
        pass
    return 0


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def main(argv: list[str]) -> int:
    index, fds_fd, ctl_fd, link, parent = argv
    _die_with_parent(int(parent))
    tune_gc()
    tune_malloc()
    fds = socket.socket(fileno=int(fds_fd))
    ctl = socket.socket(fileno=int(ctl_fd))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(_main(int(index), fds, ctl, Path(link)))
    return uvloop.run(_main(int(index), fds, ctl, Path(link)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
