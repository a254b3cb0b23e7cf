"""The member's side of pyzk.workers: start, watch and restart the worker processes, hand
them accepted client sockets, and let them sync with whatever master this server runs now.

Each worker gets two socket pairs at start: `fds` (SOCK_SEQPACKET) carries accepted client
sockets (SCM_RIGHTS, one kind byte each), `ctl` (a stream of msgpack frames, links.py)
carries the config at start and then the worker's state, closed connections and answers to
statistics requests. The replica itself syncs over a Unix socket in a private (0700)
directory, with the observer protocol; the role of the moment (standalone, leader, learner)
sets `master`, and a worker whose link is closed by a role change dials again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import shutil
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from ... import logs
from .links import KIND_BYTES, read_frame, write_frame

if TYPE_CHECKING:
    from ...config.model import Config
    from ..fourlw_port import FourLetterWords
    from ..observer_master_host import ObserverMasterHost
    from ..view import LiveView
    from .report import Report

log = structlog.get_logger("pyzk.workers")

RESTART_DELAY_S = (0.2, 5.0)  # first and longest wait before restarting a worker that died
STATS_TIMEOUT_S = 2.0


def _child_env() -> dict[str, str]:
    """The member's environment, with this pyzk first on the path however it was started."""
    env = dict(os.environ)
    home = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH")) if p)
    return env


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.fds: socket.socket | None = None
        self.ctl: asyncio.StreamWriter | None = None
        self.serving = False
        self.conns: Counter[tuple[str, str]] = Counter()  # (kind, ip) of handed sockets
        self.restarts = 0


class WorkerPool:
    def __init__(self, config: Config, count: int,
                 released: Callable[[str, str], None]) -> None:
        self.config = config
        self.released = released  # a handed connection ended: (kind, ip)
        self._master: ObserverMasterHost | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="pyzk-workers-"))  # mode 0700
        self.link_path = self.dir / "link"
        self.workers = [_Worker(i) for i in range(1, count + 1)]
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._rr = 0
        self._asks = itertools.count(1)
        self._answers: dict[int, asyncio.Future[object]] = {}
        # The member's answer to a four-letter word (for the whole server), which a worker's
        # client asks through its worker.
        self.answer_word: Callable[[str, bytes], Awaitable[str]] | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._on_link, path=str(self.link_path))
        for w in self.workers:
            self._tasks.append(asyncio.create_task(self._supervise(w),
                                                   name=f"pyzk-worker-{w.index}"))

    async def stop(self) -> None:
        self._stopping = True
        for w in self.workers:
            if w.proc is not None and w.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.terminate()
        for w in self.workers:
            if w.proc is not None:
                try:
                    await asyncio.wait_for(w.proc.wait(), 5)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        w.proc.kill()
        for t in self._tasks:
            t.cancel()
        if self._server is not None:
            self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the replicas' links -------------------------------------------------------------------
    @property
    def master(self) -> ObserverMasterHost | None:
        """What the workers sync from now: the role of the moment's, None between roles."""
        return self._master

    @master.setter
    def master(self, master: ObserverMasterHost | None) -> None:
        self._master = master
        if master is not None:  # waiting workers dial at once instead of at their next retry
            for w in self.workers:
                if w.ctl is not None:
                    write_frame(w.ctl, {"dial": 1})

    async def _on_link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        master = self._master
        if master is None:  # no role serving: the worker dials again
            writer.close()
            return
        await master.serve(reader, writer)

    # -- processes -----------------------------------------------------------------------------
    async def _supervise(self, w: _Worker) -> None:
        delay = RESTART_DELAY_S[0]
        while not self._stopping:
            try:
                await self._run_once(w)
            except OSError as e:
                log.error("cannot start worker process", worker=w.index, error=str(e))
            if self._stopping:
                return
            w.restarts += 1
            log.warning("worker process ended; restarting", worker=w.index,
                        status=w.proc.returncode if w.proc else None, delay_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_DELAY_S[1])

    async def _run_once(self, w: _Worker) -> None:
        fds_here, fds_there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ctl_here, ctl_there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            w.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pyzk.server.workers.process", str(w.index),
                str(fds_there.fileno()), str(ctl_there.fileno()), str(self.link_path),
                str(os.getpid()), pass_fds=(fds_there.fileno(), ctl_there.fileno()),
                stdin=asyncio.subprocess.DEVNULL, env=_child_env())
        finally:
            fds_there.close()
            ctl_there.close()
        fds_here.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=ctl_here)
        w.fds, w.ctl = fds_here, writer
        log.info("worker process started", worker=w.index, pid=w.proc.pid)
        try:
            write_frame(writer, pickle.dumps((self.config, logs.current(), logs.process_fields())))
            while True:
                msg = await read_frame(reader)
                if msg is None:
                    break
                self._on_message(w, msg)
        finally:
            w.serving = False
            w.fds = w.ctl = None
            fds_here.close()
            writer.close()
            for (kind, ip), n in w.conns.items():  # its connections died with it
                for _ in range(n):
                    self.released(kind, ip)
            w.conns.clear()
            if w.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
            await w.proc.wait()

    def _on_message(self, w: _Worker, msg: object) -> None:
        if not isinstance(msg, dict):
            return
        if "serving" in msg:
            w.serving = bool(msg["serving"])
        elif "lost" in msg:
            key = (str(msg["lost"]), str(msg["ip"]))
            if w.conns[key] > 0:
                w.conns[key] -= 1
                self.released(*key)
        elif "answer" in msg:
            fut = self._answers.pop(int(msg["answer"]), None)
            if fut is not None and not fut.done():
                fut.set_result(msg.get("data"))
        elif "word" in msg:
            task = asyncio.ensure_future(self._answer_word(w, msg))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _answer_word(self, w: _Worker, msg: dict[str, object]) -> None:
        text = ""
        if self.answer_word is not None:
            extra = msg.get("extra")
            text = await self.answer_word(str(msg["word"]),
                                          extra if isinstance(extra, bytes) else b"")
        if w.ctl is not None:
            write_frame(w.ctl, {"reply": msg.get("q"), "data": text})

    # -- client sockets ------------------------------------------------------------------------
    def dispatch(self, sock: socket.socket, kind: str, ip: str) -> bool:
        """Round robin over this process and the serving workers: True when a worker took
        `sock` (closed here then), False when this process serves it."""
        ready = [w for w in self.workers if w.serving and w.fds is not None]
        if not ready:
            return False
        self._rr = (self._rr + 1) % (len(ready) + 1)
        if self._rr == 0:
            return False
        w = ready[self._rr - 1]
        assert w.fds is not None
        try:
            socket.send_fds(w.fds, [KIND_BYTES[kind]], [sock.fileno()])
        except OSError:
            return False  # its queue is full or it just died: serve it here
        w.conns[(kind, ip)] += 1
        sock.close()
        return True

    # -- statistics ----------------------------------------------------------------------------
    async def ask(self, what: str) -> list[object]:
        """Every serving worker's answer to `what` (see process.py), those that answer in
        time."""
        futs = []
        loop = asyncio.get_running_loop()
        for w in self.workers:
            if w.ctl is None or not w.serving:
                continue
            n = next(self._asks)
            fut: asyncio.Future[object] = loop.create_future()
            self._answers[n] = fut
            futs.append(fut)
            write_frame(w.ctl, {"ask": n, "what": what})
        if not futs:
            return []
        done, pending = await asyncio.wait(futs, timeout=STATS_TIMEOUT_S)
        for f in pending:
            f.cancel()
        return [f.result() for f in done if not f.cancelled()]

    def serve_words(self, words: FourLetterWords, views: list[LiveView]) -> None:
        """Four-letter words, the AdminServer and mntr describe the whole server: each view
        gathers the workers' reports, words asked through a worker are answered here."""
        words.answer = self.answer_word = words.answer_here
        for view in views:
            view.gatherer = self.reports
            view.on_reset = self.reset

    async def reports(self) -> list[Report]:
        """Every serving worker's part of the statistics (report.py)."""
        return [r for r in await self.ask("report") if isinstance(r, dict)]

    def reset(self, what: str) -> None:
        """srst or crst, on every worker too."""
        for w in self.workers:
            if w.ctl is not None:
                write_frame(w.ctl, {"reset": what})

    def status(self) -> list[tuple[int, int | None, bool, int]]:
        """(index, pid, serving, restarts) of each worker."""
        return [(w.index, w.proc.pid if w.proc else None, w.serving, w.restarts)
                for w in self.workers]
