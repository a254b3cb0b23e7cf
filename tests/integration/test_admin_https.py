"""AdminServer over HTTPS as JettyAdminServer: admin.forceHttps (TLS only) and
admin.portUnification (HTTP and HTTPS on one port), the certificate from the ssl.quorum.* stores;
a plaintext request to an HTTPS-only port, and a wrong keystore password (the server runs on
without an AdminServer). Java 3.8 and pyzk in the same test, compared."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pyzk.testing.pki import Stores, TestCa
from tests.servers import J, ServerProc, free_port, handshake_ok, java_available

HOSTS = {"java": "127.0.9.21", "pyzk": "127.0.9.22"}
# Jetty + Jackson for Java's AdminServer (as tests/reference/test_fourlw_java_formats.py).
ADMIN_JARS = ["jetty9-server.jar", "jetty9-servlet.jar", "jetty9-http.jar", "jetty9-io.jar",
              "jetty9-util.jar", "jetty9-security.jar", "jackson-core.jar",
              "jackson-databind.jar", "jackson-annotations.jar"]


class AdminProc(ServerProc):
    """A server with its AdminServer on (Java: drop the -D disabling it, add Jetty)."""

    def command(self, cfg_path: Path) -> list[str]:
        cmd = [c for c in super().command(cfg_path)
               if c != "-Dzookeeper.admin.enableServer=false"]
        if self.kind == "java":
            i = cmd.index("-cp")
            cmd[i + 1] += ":" + ":".join(f"{J}/{jar}" for jar in ADMIN_JARS)
        return cmd

    @property
    def admin_port(self) -> int:
        return int(self.cfg["admin.serverPort"])


def request(srv: AdminProc, tls: ssl.SSLContext | None, path: str = "/commands/ruok",
            limit_s: float = 10.0) -> tuple[bytes, bool]:
    """One GET; (what came back before the server closed, whether it closed in time).
    The connection asks to be closed, so a complete answer ends with a close too."""
    raw = socket.create_connection((srv.host, srv.admin_port), timeout=limit_s)
    try:
        s = tls.wrap_socket(raw, server_hostname=srv.host) if tls is not None else raw
    except (OSError, ssl.SSLError):
        raw.close()
        return b"handshake failed", True
    got = b""
    deadline = time.monotonic() + limit_s
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {srv.host}\r\nConnection: close\r\n\r\n".encode())
        while time.monotonic() < deadline:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return got, False
            except (OSError, ssl.SSLError):
                return got, True
            if not chunk:
                return got, True
            got += chunk
        return got, False
    finally:
        s.close()


def summary(answer: tuple[bytes, bool]) -> tuple[str, str | None, bool, bool]:
    """(status line, Strict-Transport-Security, whether a JSON body for ruok came, closed)."""
    data, closed = answer
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    return (lines[0], headers.get("strict-transport-security"),
            b'"command" : "ruok"' in body, closed)


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Stores, Path]:
    ca = TestCa(tmp_path / "ca")
    return ca.issue("admin", "localhost", ips=tuple(HOSTS.values())), ca.dir / "ca.pem"


@pytest.fixture
def start_pairs(tmp_path: Path) -> Iterator[Callable[..., list[dict[str, AdminProc]]]]:
    """start(*extras): for each settings dict a Java and a pyzk server, all started at once
    (JVM start-up dominates; in parallel it is paid about once)."""
    if not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    started: list[AdminProc] = []

    def start(*extras: dict[str, str]) -> list[dict[str, AdminProc]]:
        pairs = []
        for extra in extras:
            pair = {}
            for kind, host in HOSTS.items():
                cfg = {"admin.enableServer": "true", "admin.serverAddress": host,
                       "admin.serverPort": str(free_port(host)), **extra}
                srv = AdminProc(kind, tmp_path / f"{kind}{len(started)}", host=host, cfg=cfg)
                started.append(srv)
                pair[kind] = srv
            pairs.append(pair)
        with ThreadPoolExecutor(len(started)) as pool:
            for f in [pool.submit(srv.start) for pair in pairs for srv in pair.values()]:
                f.result()
        return pairs

    yield start
    for srv in started:
        srv.stop()


def stores_cfg(stores: Stores, **extra: str) -> dict[str, str]:
    return {"ssl.quorum.keyStore.location": str(stores.keystore),
            "ssl.quorum.keyStore.password": stores.password,
            "ssl.quorum.trustStore.location": str(stores.truststore),
            "ssl.quorum.trustStore.password": stores.password, **extra}


def wait_admin_listening(srv: AdminProc, limit_s: float = 20.0) -> bool:
    """Jetty starts after the client port: wait (bounded) until the admin port accepts."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((srv.host, srv.admin_port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@pytest.mark.slow
def test_admin_https_matches_java(start_pairs: Callable[..., list[dict[str, AdminProc]]],
                                  pki: tuple[Stores, Path]) -> None:
    stores, ca_pem = pki
    https = ssl.create_default_context(cafile=str(ca_pem))
    https.check_hostname = False
    seen: dict[str, dict[str, object]] = {k: {} for k in HOSTS}
    forced, unified, wrong = start_pairs(
        stores_cfg(stores, **{"admin.forceHttps": "true"}),
        stores_cfg(stores, **{"admin.portUnification": "true"}),
        stores_cfg(stores, **{"admin.forceHttps": "true", "ssl.quorum.keyStore.password": "x"}))
    for kind, srv in forced.items():
        assert wait_admin_listening(srv), srv.tail_log()
        seen[kind]["forceHttps: HTTPS"] = summary(request(srv, https))
        # No HTTP answer and a close, not a hang. Java's JSSE sends a fatal alert record first;
        # asyncio's TLS layer drops the connection without one.
        data, closed = request(srv, None)
        seen[kind]["forceHttps: HTTP"] = (data.startswith(b"HTTP"), closed)
    for kind, srv in unified.items():
        assert wait_admin_listening(srv), srv.tail_log()
        seen[kind]["unified: HTTPS"] = summary(request(srv, https))
        seen[kind]["unified: HTTP"] = summary(request(srv, None))
    for kind, srv in wrong.items():
        seen[kind]["wrong password: client port"] = handshake_ok(srv.host, srv.port)
        seen[kind]["wrong password: admin port listens"] = wait_admin_listening(srv, 3.0)
    java = seen["java"]
    assert java["forceHttps: HTTPS"] == ("HTTP/1.1 200 OK", "max-age=86400; includeSubDomains",
                                         True, True)
    assert java["forceHttps: HTTP"] == (False, True)
    assert java["unified: HTTP"] == ("HTTP/1.1 200 OK", None, True, True)
    assert java["wrong password: client port"] is True
    assert java["wrong password: admin port listens"] is False
    assert seen["pyzk"] == java
