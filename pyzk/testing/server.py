"""Real pyzk servers for application test suites, without a JVM.

`ZkTestServer` runs a standalone pyzk in this process (its own event-loop thread) on a free
loopback port with a temporary data directory; `start`, `stop` and `restart` keep the data, so a
test can check what survives a restart. The server is the same code `python -m pyzk` runs.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..config.load import build_config
from ..server.runtime import Runtime


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ZkTestServer:
    """A standalone server in a background thread. Settings are zoo.cfg keys."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 data_dir: Path | str | None = None, **settings: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="pyzk-test-"))
        entries = {
            "tickTime": "200",
            "minSessionTimeout": "400",
            "maxSessionTimeout": "60000",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": host,
            "maxClientCnxns": "0",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "forceSync": "no",
        }
        entries.update({k: str(v) for k, v in settings.items()})
        self.config = build_config(entries, source_name="<pyzk.testing>", workdir=self.data_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runtime: Runtime | None = None

    @property
    def connection_string(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runtime is not None

    def start(self, timeout: float = 10.0) -> ZkTestServer:
        if self._runtime is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            rt = Runtime(self.config)
            try:
                loop.run_until_complete(rt.start())
            except BaseException as e:  # reported to the caller of start()
                failure.append(e)
                ready.set()
                return
            self._runtime = rt
            ready.set()
            loop.run_forever()
            loop.run_until_complete(rt.stop())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name=f"pyzk-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"pyzk test server on {self.connection_string} did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._runtime = None
        self._loop = None
        self._thread = None

    def restart(self) -> ZkTestServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove the data directory this object created."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ZkTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
