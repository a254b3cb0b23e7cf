"""The secure client port behaves as Java's (NettyServerCnxnFactory + X509AuthenticationProvider):
kazoo connects over TLS with a client certificate and gains Id("x509", subject DN as Java renders
it); clientAuth need/want/none; JKS, PKCS12 and PEM stores; TLSv1.2 only by default.

Every test runs against pyzk and Java with the same generated certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

from tests.integration.itest_util import connected_clients, refused, wait_for
from tests.servers import ServerProc, free_port, java_available
from tests.workers_util import workers_serving

jks = pytest.importorskip("jks")  # pyjks writes the JKS stores kazoo's harness uses too

HOST = "127.0.0.121"
PASSWORD = "s3cret"
# Java: X500Principal.getName() = RFC 2253, last RDN first; ',' in a value is escaped and
# emailAddress (no RFC 2253 keyword) becomes its OID with the DER value in hex.
CLIENT_DN = ("1.2.840.113549.1.9.1=#16116b617a6f6f406578616d706c652e6f7267,"
             "CN=client,OU=Eng,O=Kazoo\\, Inc.,C=US")


@dataclass
class Pki:
    dir: Path
    ca_pem: Path
    client_cert: Path
    client_key: Path
    stores: dict[str, tuple[Path, Path, str]]  # kind -> (keystore, truststore, password)


def _name(*attrs: tuple[Any, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def _cert(subject: x509.Name, issuer: x509.Name, key: Any, signer: Any, ca: bool,
          san: list[Any] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name((NameOID.COMMON_NAME, "pyzk test CA"))
    ca = _cert(ca_name, ca_name, ca_key, ca_key, True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert(_name((NameOID.COMMON_NAME, "localhost")), ca_name, srv_key, ca_key, False,
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))])
    cli_key = ec.generate_private_key(ec.SECP256R1())
    cli = _cert(_name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "Kazoo, Inc."),
                      (NameOID.ORGANIZATIONAL_UNIT_NAME, "Eng"), (NameOID.COMMON_NAME, "client"),
                      (NameOID.EMAIL_ADDRESS, "kazoo@example.org")), ca_name, cli_key, ca_key, False)
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "client.pem").write_bytes(cli.public_bytes(pem))
    pkcs8 = serialization.PrivateFormat.PKCS8
    (d / "client.key").write_bytes(cli_key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    # JKS (what kazoo's harness writes), PKCS12 and PEM (key + chain in one file).
    srv_pkcs8 = srv_key.private_bytes(der, pkcs8, serialization.NoEncryption())
    entry = jks.PrivateKeyEntry.new("server", [srv.public_bytes(der), ca.public_bytes(der)],
                                    srv_pkcs8, "pkcs8")
    jks.KeyStore.new("jks", [entry]).save(str(d / "keystore.jks"), PASSWORD)
    trusted = jks.TrustedCertEntry.new("ca", ca.public_bytes(der))
    jks.KeyStore.new("jks", [trusted]).save(str(d / "truststore.jks"), PASSWORD)
    enc = serialization.BestAvailableEncryption(PASSWORD.encode())
    (d / "keystore.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"server", srv_key, srv, [ca], enc))
    # Java's PKCS12 store trusts only certificates keytool tagged as trusted (an Oracle bag
    # attribute cryptography cannot write), so the PKCS12 truststore comes from keytool.
    if shutil.which("keytool"):
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file",
                        str(d / "ca.pem"), "-keystore", str(d / "truststore.p12"), "-storetype",
                        "PKCS12", "-storepass", PASSWORD], check=True, capture_output=True)
    # Java's PEM loader cannot decrypt PBES2 (AES) keys: the PEM keystore is unencrypted.
    (d / "keystore.pem").write_bytes(
        srv_key.private_bytes(pem, pkcs8, serialization.NoEncryption())
        + srv.public_bytes(pem) + ca.public_bytes(pem))
    stores = {
        "jks": (d / "keystore.jks", d / "truststore.jks", PASSWORD),
        "p12": (d / "keystore.p12", d / "truststore.p12", PASSWORD),
        "pem": (d / "keystore.pem", d / "ca.pem", ""),
    }
    return Pki(d, d / "ca.pem", d / "client.pem", d / "client.key", stores)


def tls_settings(pki: Pki, store: str = "jks", **extra: str) -> dict[str, str]:
    keystore, truststore, password = pki.stores[store]
    if not truststore.exists():
        pytest.skip(f"no {truststore.name} (keytool missing)")
    settings = {
        "secureClientPort": str(free_port(HOST)),
        "secureClientPortAddress": HOST,
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": str(keystore),
        "ssl.keyStore.password": password,
        "ssl.trustStore.location": str(truststore),
        "ssl.trustStore.password": password,
    }
    settings.update(extra)
    return settings


@pytest.fixture
def tls_server(zk_kind: str, tmp_path: Path) -> Iterator[Callable[..., ServerProc]]:
    started: list[ServerProc] = []
    if zk_kind == "java" and not java_available():
        pytest.skip("java or /usr/share/java/zookeeper.jar missing")

    def make(settings: dict[str, str]) -> ServerProc:
        srv = ServerProc(zk_kind, tmp_path / f"{zk_kind}-{len(started)}", host=HOST,
                         cfg=settings)
        started.append(srv)
        srv.start()
        return srv

    yield make
    for srv in started:
        srv.stop()


def start_tls_server(make: Callable[..., ServerProc], pki: Pki, **kw: Any) -> ServerProc:
    return make(tls_settings(pki, **kw))


def secure_address(srv: ServerProc) -> str:
    return f"{HOST}:{srv.cfg['secureClientPort']}"


def kazoo(hosts: str, made: list[KazooClient], **kw: Any) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=10.0, **kw)
    made.append(c)
    c.start(timeout=15)
    return c


@pytest.fixture
def made() -> Iterator[list[KazooClient]]:
    clients: list[KazooClient] = []
    yield clients
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - best-effort teardown
            pass


def tls_client(pki: Pki, srv: ServerProc, made: list[KazooClient],
               with_cert: bool = True) -> KazooClient:
    kw: dict[str, Any] = {"use_ssl": True, "ca": str(pki.ca_pem), "verify_certs": True}
    if with_cert:
        kw.update(certfile=str(pki.client_cert), keyfile=str(pki.client_key))
    return kazoo(secure_address(srv), made, **kw)


X509_ACL = [make_acl("x509", CLIENT_DN, all=True)]


@pytest.mark.parametrize("store", ["jks", "p12", "pem"])
def test_kazoo_over_tls_gains_the_x509_id_of_its_certificate(
        tls_server: Callable[..., ServerProc], pki: Pki, made: list[KazooClient],
        store: str) -> None:
    srv = start_tls_server(tls_server, pki, store=store)
    c = tls_client(pki, srv, made)
    c.create("/x509-only", b"secret", acl=X509_ACL)
    assert c.get("/x509-only")[0] == b"secret"
    assert c.get_acls("/x509-only")[0] == X509_ACL
    plain = kazoo(f"{HOST}:{srv.port}", made)
    with pytest.raises(NoAuthError):
        plain.get("/x509-only")
    # The plain port serves the same tree.
    assert plain.exists("/x509-only") is not None


def test_worker_processes_serve_tls_clients_with_their_x509_id(
        tls_server: Callable[..., ServerProc], pki: Pki, made: list[KazooClient],
        zk_kind: str) -> None:
    """pyzk.workers: the member hands accepted TLS sockets to a worker, which does the
    handshake; every connection, wherever it lands, gets its certificate's x509 id."""
    if zk_kind != "pyzk":
        pytest.skip("pyzk.workers is pyzk's")
    srv = make_workers_tls_server(tls_server, pki)
    owner = tls_client(pki, srv, made)
    owner.create("/x509-workers", b"secret", acl=X509_ACL)
    others = [tls_client(pki, srv, made) for _ in range(4)]  # alternately member and worker
    for c in others:
        c.sync("/")
        assert c.get("/x509-workers")[0] == b"secret"
    plain = kazoo(f"{HOST}:{srv.port}", made)
    # It may land on the process the owner's create was not answered by, whose replica can
    # lag that commit (NoNode instead of NoAuth): a sync orders its read after it.
    plain.sync("/")
    with pytest.raises(NoAuthError):
        plain.get("/x509-workers")


def make_workers_tls_server(make: Callable[..., ServerProc], pki: Pki) -> ServerProc:
    srv = make({**tls_settings(pki), "pyzk.workers": "2"})
    wait_for(lambda: workers_serving(srv.log_path.read_text()) == 1, 30, "the worker to serve")
    return srv


def test_client_auth_need_refuses_a_client_without_certificate(
        tls_server: Callable[..., ServerProc], pki: Pki) -> None:
    srv = start_tls_server(tls_server, pki)
    ctx = ssl.create_default_context(cafile=str(pki.ca_pem))
    ctx.check_hostname = False
    assert not session_over_tls(ctx, srv)


def test_client_auth_want_admits_a_client_without_certificate_and_no_x509_id(
        tls_server: Callable[..., ServerProc], pki: Pki, made: list[KazooClient]) -> None:
    srv = start_tls_server(tls_server, pki, **{"ssl.clientAuth": "want"})
    owner = tls_client(pki, srv, made)
    owner.create("/x509-only", b"", acl=X509_ACL)
    anonymous = tls_client(pki, srv, made, with_cert=False)
    with pytest.raises(NoAuthError):
        anonymous.get("/x509-only")


def test_client_auth_none_ignores_the_client_certificate(
        tls_server: Callable[..., ServerProc], pki: Pki, made: list[KazooClient]) -> None:
    srv = start_tls_server(tls_server, pki, **{"ssl.clientAuth": "NONE"})
    c = tls_client(pki, srv, made)
    c.create("/x509-only", b"", acl=X509_ACL)
    with pytest.raises(NoAuthError):
        c.get("/x509-only")


def test_default_protocol_is_tls12_only(tls_server: Callable[..., ServerProc], pki: Pki) -> None:
    # X509Util.DEFAULT_PROTOCOL is TLSv1.2 and enabledProtocols defaults to [protocol].
    srv = start_tls_server(tls_server, pki)
    assert session_over_tls(client_context(pki, ssl.TLSVersion.TLSv1_2), srv)
    assert not session_over_tls(client_context(pki, ssl.TLSVersion.TLSv1_3), srv)


def test_enabled_protocols_tls13(tls_server: Callable[..., ServerProc], pki: Pki) -> None:
    # X509Util's default suites are all TLS 1.2 ones: TLS 1.3 also needs its suites named.
    srv = start_tls_server(tls_server, pki, **{
        "ssl.protocol": "TLSv1.3", "ssl.enabledProtocols": "TLSv1.3",
        "ssl.ciphersuites": "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384"})
    assert session_over_tls(client_context(pki, ssl.TLSVersion.TLSv1_3), srv)
    assert not session_over_tls(client_context(pki, ssl.TLSVersion.TLSv1_2), srv)


def client_context(pki: Pki, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_pem))
    ctx.check_hostname = False
    ctx.minimum_version = ctx.maximum_version = version
    ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return ctx


def session_over_tls(ctx: ssl.SSLContext, srv: ServerProc) -> bool:
    """True when a ConnectRequest over TLS gets a ConnectResponse with a session id."""
    req = struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16 + b"\0"
    port = int(srv.cfg["secureClientPort"])
    try:
        with socket.create_connection((HOST, port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=HOST) as s:
            s.sendall(struct.pack(">i", len(req)) + req)
            got = b""
            while len(got) < 4 + 36:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                got += chunk
            (sid,) = struct.unpack_from(">q", got, 4 + 8)
            close = struct.pack(">ii", 1, -11)
            s.sendall(struct.pack(">i", len(close)) + close)
            return sid != 0
    except (OSError, ssl.SSLError):
        return False


def test_max_cnxns_counts_each_client_port_on_its_own(
        tls_server: Callable[..., ServerProc], pki: Pki) -> None:
    """maxCnxns=2 with both ports full on the plain side: a third plain connection is closed,
    a TLS session still gets in (each factory counts its own connections,
    ServerCnxnFactory.limitTotalNumberOfCnxns)."""
    srv = start_tls_server(tls_server, pki, maxCnxns="2")
    held = wait_for(lambda: connected_clients(srv, 2), 10, "two plain connections")
    try:
        assert refused(HOST, srv.port)
        assert session_over_tls(client_context(pki, ssl.TLSVersion.TLSv1_2), srv)
    finally:
        for c in held:
            c.close()
