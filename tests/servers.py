"""Launch real servers for tests: pyzk (subprocess) and Debian's Java ZooKeeper 3.8.

Both are started from a generated zoo.cfg on a loopback address with a free port, and are ready
when a ConnectRequest gets a ConnectResponse. Stop them by PID only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

J = "/usr/share/java"
JAVA_CLASSPATH = ":".join(f"{J}/{jar}" for jar in (
    "zookeeper.jar", "slf4j-simple.jar", "servlet-api.jar", "netty-codec.jar",
    "netty-resolver.jar", "netty-transport-native-unix-common.jar",
))
REPO = Path(__file__).resolve().parent.parent
JAVA_COMPILE_CP = f"{J}/zookeeper.jar:{J}/zookeeper-jute.jar"  # javac of the tests' Java clients


def java_available() -> bool:
    return shutil.which("java") is not None and Path(f"{J}/zookeeper.jar").exists()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def handshake_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when the server answers a fresh ConnectRequest with a ConnectResponse."""
    req = struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16 + b"\0"
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(req)) + req)
            head = s.recv(4)
            if len(head) < 4:
                return False
            (n,) = struct.unpack(">i", head)
            got = b""
            while len(got) < n:
                chunk = s.recv(n - len(got))
                if not chunk:
                    return False
                got += chunk
            # Close the session politely so it does not linger.
            (sid,) = struct.unpack_from(">q", got, 8)
            close = struct.pack(">ii", 1, -11)
            s.sendall(struct.pack(">i", len(close)) + close)
            return sid != 0
    except OSError:
        return False


class ServerProc:
    """One standalone server process. kind is "pyzk" or "java"."""

    def __init__(self, kind: str, workdir: Path, host: str = "127.0.0.1",
                 port: int | None = None, cfg: dict[str, str] | None = None,
                 pythonpath: str | None = None) -> None:
        self.kind = kind
        # The tree a pyzk server imports pyzk from: the checkout, or PYZK_SERVER_PATH (the
        # compiled build, pyzk.tools.compiled) when set, or what the caller names.
        self.pythonpath = pythonpath or os.environ.get("PYZK_SERVER_PATH") or str(REPO)
        self.host = host
        self.port = port or free_port(host)
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.cfg = {
            "tickTime": "2000",
            "dataDir": str(self.datadir),
            "clientPort": str(self.port),
            "clientPortAddress": host,
            "maxClientCnxns": "0",
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
        }
        if cfg:
            self.cfg.update(cfg)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{kind}.log"
        # -D options Java reads only as system properties (pyzk reads the same from
        # SERVER_JVMFLAGS, as zkServer.sh hands them to Java).
        self.jvm_flags: list[str] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def write_cfg(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.datadir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "zoo.cfg"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.cfg.items()))
        return path

    def command(self, cfg_path: Path) -> list[str]:
        if self.kind == "java":
            return ["java", "-Xmx512m", "-cp", JAVA_CLASSPATH,
                    "-Dzookeeper.admin.enableServer=false", *self.jvm_flags,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg_path)]
        # -P: the working directory is not put first on sys.path (pythonpath decides).
        return [sys.executable, "-P", "-m", "pyzk", "--config", str(cfg_path)]

    def start(self, timeout: float = 30.0) -> ServerProc:
        cfg_path = self.write_cfg()
        env = dict(os.environ)
        env["PYTHONPATH"] = self.pythonpath + os.pathsep + env.get("PYTHONPATH", "")
        if self.jvm_flags:
            env["SERVER_JVMFLAGS"] = " ".join(self.jvm_flags)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(self.command(cfg_path), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=env, start_new_session=True)
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.tail_log()}")
            if handshake_ok(self.host, self.port):
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.kind} not ready on {self.address}:\n{self.tail_log()}")

    def tail_log(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


def compile_java(source: Path, main_class: str, tag: str) -> Path:
    """Directory holding `main_class`.class compiled from `source` against the Debian jars,
    cached under tests/.work/java/<tag><hash of the source> (compiled once per source)."""
    import hashlib
    import tempfile

    import pytest

    if shutil.which("javac") is None:
        pytest.fail("javac is missing: scripts/test.sh installs default-jdk-headless")
    cache = REPO / "tests" / ".work" / "java"
    out = cache / f"{tag}{hashlib.sha256(source.read_bytes()).hexdigest()[:16]}"
    if (out / f"{main_class}.class").exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix="build-"))
    proc = subprocess.run(["javac", "-nowarn", "-d", str(tmp), "-cp", JAVA_COMPILE_CP,
                           str(source)], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail(f"javac failed:\n{proc.stdout}\n{proc.stderr}")
    try:
        os.replace(tmp, out)
    except OSError:  # another run won the race; its output is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return out
