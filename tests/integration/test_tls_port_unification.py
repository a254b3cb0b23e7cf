"""client.portUnification (NettyServerCnxnFactory.DualModeSslHandler): the plain clientPort also
takes TLS clients, who gain their certificate's x509 id as on secureClientPort; plaintext
clients and four-letter words keep working; bad certificates and garbage are turned away and
nothing hangs. One scenario, run against Java 3.8 and pyzk in the same test, compared."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

from pyzk.testing.pki import TestCa
from tests.servers import ServerProc, java_available

HOST_JAVA, HOST_PYZK = "127.0.9.11", "127.0.9.12"
NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
X509_PROVIDER = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"


def read_until_closed(sock: socket.socket, limit_s: float = 12.0) -> tuple[bytes, bool]:
    """What the server sends before it closes, and whether it closed within limit_s."""
    got = b""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return got, False
        except OSError:
            return got, True  # reset
        if not chunk:
            return got, True
        got += chunk
    return got, False


def session_over_tls(ctx: ssl.SSLContext, host: str, port: int) -> bool:
    """A ConnectRequest over TLS answered with a session id."""
    req = struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16 + b"\0"
    try:
        with socket.create_connection((host, port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(struct.pack(">i", len(req)) + req)
            got = b""
            while len(got) < 4 + 36:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                got += chunk
            return struct.unpack_from(">q", got, 4 + 8)[0] != 0
    except (OSError, ssl.SSLError):
        return False


def tls_context(ca: Path, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    ca, other = TestCa(tmp_path / "ca"), TestCa(tmp_path / "other", "another CA")
    stores = ca.issue("server", "localhost", ips=(HOST_JAVA, HOST_PYZK))
    return {"stores": stores, "ca_pem": ca.dir / "ca.pem",
            "client": ca.issue_pem("client", "client"),
            "stranger": other.issue_pem("stranger", "stranger")}


def unified_cfg(pki: dict[str, Any], **extra: str) -> dict[str, str]:
    stores = pki["stores"]
    return {"serverCnxnFactory": NETTY, "client.portUnification": "true",
            "ssl.keyStore.location": str(stores.keystore),
            "ssl.keyStore.password": stores.password,
            "ssl.trustStore.location": str(stores.truststore),
            "ssl.trustStore.password": stores.password, **extra}


@pytest.fixture
def start_both(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], dict[str, ServerProc]]]:
    if not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    started: list[ServerProc] = []

    def start(cfg: dict[str, str]) -> dict[str, ServerProc]:
        n = len(started)
        pair = {"java": ServerProc("java", tmp_path / f"java{n}", host=HOST_JAVA, cfg=cfg),
                "pyzk": ServerProc("pyzk", tmp_path / f"pyzk{n}", host=HOST_PYZK, cfg=cfg)}
        for srv in pair.values():
            started.append(srv)
            srv.start()
        return pair

    yield start
    for srv in started:
        srv.stop()


def observe(srv: ServerProc, pki: dict[str, Any]) -> dict[str, object]:
    seen: dict[str, object] = {}
    acl = [make_acl("x509", "CN=client", all=True)]
    tls = KazooClient(hosts=srv.address, timeout=10.0, use_ssl=True, verify_certs=True,
                      ca=str(pki["ca_pem"]), certfile=str(pki["client"][0]),
                      keyfile=str(pki["client"][1]))
    plain = KazooClient(hosts=srv.address, timeout=10.0)
    try:
        tls.start(timeout=15)
        tls.create("/unified", b"secret", acl=acl)
        seen["tls read"] = tls.get("/unified")[0]
        plain.start(timeout=15)
        try:
            plain.get("/unified")
            seen["plain read"] = "allowed"
        except NoAuthError:
            seen["plain read"] = "NoAuth"
        seen["plain sees node"] = plain.exists("/unified") is not None
    finally:
        for c in (tls, plain):
            c.stop()
            c.close()
    # A four-letter word is shorter than a TLS record header: plaintext at once.
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(b"ruok")
        seen["ruok"] = read_until_closed(s)
    ca = pki["ca_pem"]
    seen["tls without certificate"] = session_over_tls(tls_context(ca, None), srv.host, srv.port)
    seen["certificate of another CA"] = session_over_tls(
        tls_context(ca, pki["stranger"]), srv.host, srv.port)
    seen["own certificate"] = session_over_tls(tls_context(ca, pki["client"]), srv.host, srv.port)
    # A TLS record header followed by junk: the handshake fails and the connection closes.
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x20" + b"\xee" * 32)
        # Java answers with an alert record first; asyncio's TLS layer drops the connection
        # without one (a failed handshake aborts the transport): compare the close only.
        seen["TLS header then junk closed"] = read_until_closed(s)[1]
    # Not TLS and not a ZooKeeper frame either: a length far above jute.maxbuffer.
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        seen["HTTP request"] = read_until_closed(s)
    return seen


@pytest.mark.slow
def test_client_port_unification_matches_java(
        start_both: Callable[[dict[str, str]], dict[str, ServerProc]],
        pki: dict[str, Any]) -> None:
    # Java registers the x509 provider before the Netty factory reads client.portUnification
    # (QuorumPeerMain: ProviderRegistry.initialize, then createFactory): without
    # secureClientPort the provider must be named, as here.
    servers = start_both(unified_cfg(pki, **{"authProvider.x509": X509_PROVIDER}))
    java, pyzk = observe(servers["java"], pki), observe(servers["pyzk"], pki)
    assert java["tls read"] == b"secret" and java["plain read"] == "NoAuth"
    assert java["ruok"] == (b"imok", True)
    assert java["own certificate"] and not java["tls without certificate"]
    assert not java["certificate of another CA"]
    assert pyzk == java


@pytest.mark.slow
def test_unified_port_without_x509_provider_closes_tls_clients_as_java(
        start_both: Callable[[dict[str, str]], dict[str, ServerProc]],
        pki: dict[str, Any]) -> None:
    """"X509 Auth provider not found: x509": the handshake succeeds, then the server closes."""
    servers = start_both(unified_cfg(pki))
    ctx = tls_context(pki["ca_pem"], pki["client"])
    seen = {kind: (session_over_tls(ctx, srv.host, srv.port),
                   handshake_ok_plain(srv)) for kind, srv in servers.items()}
    assert seen["java"] == (False, True)
    assert seen["pyzk"] == seen["java"]
    for srv in servers.values():
        assert "X509 Auth provider not found: x509" in srv.tail_log(400)


def handshake_ok_plain(srv: ServerProc) -> bool:
    from tests.servers import handshake_ok

    return handshake_ok(srv.host, srv.port, timeout=5.0)


@pytest.mark.slow
def test_wrong_keystore_password_serves_no_client_on_either(tmp_path: Path,
                                                            pki: dict[str, Any]) -> None:
    """Java builds the SSL context per connection and closes every one, plaintext too
    ("Failed to initialize a channel"); pyzk refuses to start, naming the key and the store."""
    if not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")
    from tests.servers import handshake_ok

    cfg = unified_cfg(pki, **{"ssl.keyStore.password": "wrong"})
    java = ServerProc("java", tmp_path / "java", host=HOST_JAVA, cfg=cfg)
    pyzk = ServerProc("pyzk", tmp_path / "pyzk", host=HOST_PYZK, cfg=cfg)
    try:
        with pytest.raises(TimeoutError):
            java.start(timeout=0)  # launched; readiness is what is being tested
        deadline = time.monotonic() + 30
        answered = False
        while time.monotonic() < deadline and \
                "Failed to initialize a channel" not in java.tail_log(2000):
            answered |= handshake_ok(java.host, java.port)
            time.sleep(0.2)
        assert "Failed to initialize a channel" in java.tail_log(2000)
        assert not answered and not handshake_ok(java.host, java.port)
        assert java.proc is not None and java.proc.poll() is None  # running, serving nobody
        with pytest.raises(RuntimeError, match="exited early"):
            pyzk.start(timeout=15)
        assert pyzk.proc is not None and pyzk.proc.returncode == 1
        assert "cannot set up TLS for client.portUnification" in pyzk.tail_log()
    finally:
        java.stop()
        pyzk.stop()
