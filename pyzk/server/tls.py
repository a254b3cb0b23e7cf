"""The secure client port: an ssl.SSLContext built from Java-style key/trust stores, and the
connection class that turns a verified client certificate into an x509 auth id.

Mirrors X509Util.createSSLContextAndOptionsFromConfig, SSLContextAndOptions (protocols, cipher
suites, clientAuth) and NettyServerCnxnFactory.CertificateVerifier (release-3.8.4).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from ..config.model import Config, TlsSettings
from ..tree import acl
from .auth import add_auth_ids, x509_auth_ids
from .connection import ClientConn
from .unified import AcceptLoop, OnSocket, client_port_decided, looks_like_tls, peek_head

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
    from cryptography.x509 import Certificate

log = structlog.get_logger("pyzk.tls")

# X509Util.DEFAULT_CIPHERS_JAVA9 (GCM first, then CBC): what Java 9+ enables by default.
DEFAULT_CIPHER_SUITES: tuple[str, ...] = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
)
_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
TLS13_SUITES = frozenset({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                          "TLS_AES_128_CCM_8_SHA256"})
_CLIENT_AUTH = {"need": ssl.CERT_REQUIRED, "want": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
_SUITE = re.compile(r"TLS_(?:(ECDHE|DHE)_(RSA|ECDSA)|RSA)_WITH_(AES_128|AES_256|CHACHA20)"
                    r"_(GCM|CBC|POLY1305)_(SHA|SHA256|SHA384)")
# Netty's SslHandler gives up on a handshake after 10 s (handshakeTimeoutMillis default).
HANDSHAKE_TIMEOUT_S = 10.0


class TlsError(Exception):
    """The key or trust store cannot be used; the message names the file and the problem;
    `where` names the listener it was for."""

    where = "secureClientPort"


@dataclass
class _Material:
    key_pem: bytes
    chain_pem: bytes


def store_type(location: Path, declared: str) -> str:
    """KeyStoreFileType.fromPropertyValueOrFileName: the declared type, else the extension."""
    if declared:
        return declared
    ext = {".jks": "JKS", ".pem": "PEM", ".p12": "PKCS12"}.get(location.suffix)
    if ext is None:
        raise TlsError(f"Unable to auto-detect store file type from file name: {location}")
    return ext


def read_password(value: str, path: Path | None) -> str:
    """X509Util.getPasswordFromConfigPropertyOrFile / SecretUtils.readSecret: the file wins and
    loses one trailing line separator."""
    if path is None:
        return value
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TlsError(f"cannot read password file {path}: {e.strerror}") from None
    return text[:-1] if text.endswith("\n") else text


def _der_to_pem(der: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def _key_pem(key: PrivateKeyTypes) -> bytes:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    return bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


def _load_jks(location: Path, password: str) -> Any:  # pyjks has no type hints
    try:
        import jks  # pyjks: reads Sun JKS/JCEKS (Java's default keystore format before 9)
    except ImportError:  # pragma: no cover - pyjks is a dependency
        raise TlsError("JKS stores need the pyjks package") from None
    try:
        return jks.KeyStore.load(str(location), password)
    except Exception as e:  # noqa: BLE001 - pyjks raises many unrelated types
        raise TlsError(f"cannot load JKS store {location}: {e}") from None


def _load_p12(location: Path, password: str
              ) -> tuple[PrivateKeyTypes | None, Certificate | None, list[Certificate]]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        return pkcs12.load_key_and_certificates(location.read_bytes(),
                                                password.encode() if password else None)
    except (OSError, ValueError) as e:
        raise TlsError(f"cannot load PKCS12 store {location}: {e}") from None


def load_key_material(location: Path, password: str, declared: str) -> _Material:
    """The server's private key and certificate chain (X509Util.createKeyManager); like the
    PKIX key manager with one entry, the first private key entry is used."""
    kind = store_type(location, declared)
    if kind == "PEM":
        # PEMFileLoader: one file with the (optionally encrypted) key and the chain.
        try:
            data = location.read_bytes()
        except OSError as e:
            raise TlsError(f"cannot read {location}: {e.strerror}") from None
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        m = re.search(rb"-+BEGIN [A-Z ]*PRIVATE KEY-+.*?-+END [A-Z ]*PRIVATE KEY-+", data, re.S)
        if m is None:
            raise TlsError(f"no private key in {location}")
        try:
            key = load_pem_private_key(m.group(0), password.encode() if password else None)
        except (ValueError, TypeError) as e:
            raise TlsError(f"cannot read the private key in {location}: {e}") from None
        certs = re.findall(rb"-+BEGIN CERTIFICATE-+.*?-+END CERTIFICATE-+\s*", data, re.S)
        return _Material(_key_pem(key), b"".join(certs))
    if kind == "PKCS12":
        p12_key, cert, extra = _load_p12(location, password)
        if p12_key is None or cert is None:
            raise TlsError(f"no private key entry in {location}")
        from cryptography.hazmat.primitives.serialization import Encoding

        chain = [cert, *extra]
        return _Material(_key_pem(p12_key), b"".join(c.public_bytes(Encoding.PEM) for c in chain))
    ks = _load_jks(location, password)
    for entry in ks.private_keys.values():
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        if not entry.is_decrypted():
            entry.decrypt(password)
        key = load_der_private_key(entry.pkey_pkcs8, None)
        return _Material(_key_pem(key), b"".join(_der_to_pem(c[1]) for c in entry.cert_chain))
    raise TlsError(f"no private key entry in {location}")


def load_trust_pem(location: Path, password: str, declared: str) -> str:
    """The trust anchors (X509Util.loadTrustStore) as concatenated PEM text."""
    kind = store_type(location, declared)
    if kind == "PEM":
        try:
            data = location.read_text(encoding="ascii", errors="replace")
        except OSError as e:
            raise TlsError(f"cannot read {location}: {e.strerror}") from None
        certs = re.findall(r"-+BEGIN CERTIFICATE-+.*?-+END CERTIFICATE-+", data, re.S)
        if not certs:
            raise TlsError(f"no certificates in {location}")
        return "\n".join(certs) + "\n"
    if kind == "PKCS12":
        from cryptography.hazmat.primitives.serialization import Encoding

        _, cert, extra = _load_p12(location, password)
        found = [c for c in (cert, *extra) if c is not None]
        return "".join(c.public_bytes(Encoding.PEM).decode() for c in found)
    ks = _load_jks(location, password)
    # PKIXParameters(KeyStore): only trusted-certificate entries are anchors.
    return "".join(_der_to_pem(e.cert).decode() for e in ks.certs.values())


def openssl_cipher(name: str) -> str | None:
    """A Java/IANA TLS 1.2 suite name in OpenSSL's spelling, or None when it has none here
    (TLS 1.3 suites cannot be chosen through Python's ssl module)."""
    m = _SUITE.fullmatch(name)
    if m is None:
        return None
    kx, auth, cipher, mode, mac = m.groups()
    bulk = {"AES_128": "AES128", "AES_256": "AES256", "CHACHA20": "CHACHA20"}[cipher]
    prefix = f"{kx}-{auth}-" if kx else ""
    if mode == "POLY1305":
        return f"{prefix}CHACHA20-POLY1305" if kx else None
    if mode == "GCM":
        return f"{prefix}{bulk}-GCM-{mac}"
    return f"{prefix}{bulk}-{mac}"


def build_context(tls: TlsSettings, server_side: bool = True) -> ssl.SSLContext:
    """An SSLContext from pyzk.config.TlsSettings: the secure client port's, or a quorum
    member's listening (server_side) or dialling one. A dialling context always verifies the
    peer's chain (Java's trust manager); host names are checked by the caller, as Java's
    ZKTrustManager does, not by OpenSSL."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    if not server_side:
        ctx.check_hostname = False
    versions = [_VERSIONS[p] for p in tls.enabled_protocols if p in _VERSIONS]
    if "TLS" in tls.enabled_protocols:  # "TLS" is a context name, not a version: TLS 1.2+
        versions += [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]
    suites = [s.strip() for s in (tls.cipher_suites if tls.cipher_suites is not None
                                  else DEFAULT_CIPHER_SUITES)]
    names = [n for n in (openssl_cipher(s) for s in suites) if n]
    # Java negotiates TLS 1.3 only with a TLS 1.3 suite enabled, and X509Util's default list
    # has none: ssl.protocol=TLSv1.3 alone makes every handshake fail there. Python cannot
    # pick among TLS 1.3 suites, only allow or forbid the version.
    if not any(s in TLS13_SUITES for s in suites):
        versions = [v for v in versions if v < ssl.TLSVersion.TLSv1_3]
    if not names:
        versions = [v for v in versions if v >= ssl.TLSVersion.TLSv1_3]
    if not versions:
        raise TlsError(
            f"no cipher suite in ssl.ciphersuites ({','.join(suites)}) fits ssl.enabledProtocols"
            f" ({','.join(tls.enabled_protocols)}); TLSv1.3 needs e.g. TLS_AES_128_GCM_SHA256")
    # Python sets a range, not a set: enabledProtocols=TLSv1,TLSv1.3 also allows 1.1 and 1.2.
    ctx.minimum_version = min(versions)
    ctx.maximum_version = max(versions)
    if names:
        # OpenSSL 3 hides TLS < 1.2 suites below security level 0.
        level = ":@SECLEVEL=0" if ctx.minimum_version < ssl.TLSVersion.TLSv1_2 else ""
        try:
            ctx.set_ciphers(":".join(names) + level)
        except ssl.SSLError:
            raise TlsError(f"none of ssl.ciphersuites is available: {','.join(suites)}") from None
    key_password = read_password(tls.key_store_password, tls.key_store_password_path)
    material = load_key_material(tls.key_store, key_password, tls.key_store_type)
    _load_chain(ctx, material, tls.key_store)
    if tls.trust_store is not None:
        trust_password = read_password(tls.trust_store_password, tls.trust_store_password_path)
        cadata = load_trust_pem(tls.trust_store, trust_password, tls.trust_store_type)
        if cadata:
            ctx.load_verify_locations(cadata=cadata)
    else:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # Java: the JDK's default trust
    # A trusted end-entity certificate is an anchor for Java's PKIX; OpenSSL needs this flag.
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.verify_mode = _CLIENT_AUTH[tls.client_auth] if server_side else ssl.CERT_REQUIRED
    return ctx


def build_admin_context(tls: TlsSettings) -> ssl.SSLContext:
    """JettyAdminServer's SslContextFactory.Server: the ssl.quorum key and trust stores (both
    must load), Jetty's defaults otherwise: TLS 1.2 and up, no client certificate asked for."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    material = load_key_material(tls.key_store, read_password(
        tls.key_store_password, tls.key_store_password_path), tls.key_store_type)
    if tls.trust_store is None:
        raise TlsError("ssl.quorum.trustStore.location is not set")
    load_trust_pem(tls.trust_store, read_password(
        tls.trust_store_password, tls.trust_store_password_path), tls.trust_store_type)
    _load_chain(ctx, material, tls.key_store)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_chain(ctx: ssl.SSLContext, material: _Material, where: Path) -> None:
    """load_cert_chain reads files only: hand it a private temporary copy, removed at once."""
    with tempfile.TemporaryDirectory(prefix="pyzk-tls-") as tmp:
        pem = Path(tmp) / "server.pem"
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(material.key_pem + material.chain_pem)
        try:
            ctx.load_cert_chain(str(pem))
        except ssl.SSLError as e:
            raise TlsError(f"key and certificate in {where} do not fit: {e}") from None


class TlsClientConn(ClientConn):
    """A client-port connection over TLS (asyncio calls connection_made after the handshake).
    CertificateVerifier: when a certificate was asked for and given, the x509 provider adds
    Id("x509", subject DN) (and super for X509AuthenticationProvider.superUser)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._closed:
            return
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return  # clientAuth=none, or want without a certificate: no x509 id
        if "x509" not in acl.PROVIDERS:
            # ProviderRegistry is initialised before the client port factory: with
            # client.portUnification alone (no secureClientPort, no authProvider.N naming
            # X509AuthenticationProvider) Java has no x509 provider and closes the connection.
            log.error("X509 Auth provider not found: x509", client=self.peer)
            self.close()
            return
        tls = self.server.config.tls  # set with secureClientPort or client.portUnification
        try:
            ids = x509_auth_ids(der, tls.x509_super_user if tls is not None else None)
        except ValueError as e:
            log.error("cannot read the client certificate", client=self.peer, error=str(e))
            self.close()
            return
        self.peer_cert_der = der
        add_auth_ids(self.auth, ids)
        log.info("Authenticated Id for Scheme 'x509'", id=ids[-1].id, client=self.peer)


async def start_secure_listener(cfg: Config, factory: Callable[[], asyncio.Protocol],
                                start_serving: bool = True) -> asyncio.base_events.Server:
    """Listen on secureClientPort; factory() makes a TlsClientConn. Raises TlsError when the
    stores cannot be used (Java fails every handshake instead; pyzk will not start)."""
    if cfg.tls is None:  # load_config sets tls whenever secureClientPort is set
        raise TlsError("secureClientPort is set without ssl.* settings")
    ctx = build_context(cfg.tls)
    loop = asyncio.get_running_loop()
    backlog = cfg.client_port_listen_backlog if cfg.client_port_listen_backlog > 0 else 1024
    return await loop.create_server(factory, host=cfg.secure_client_port_address or None,
                                    port=cfg.secure_client_port, reuse_address=True,
                                    backlog=backlog, ssl=ctx,
                                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
                                    start_serving=start_serving)


def unified_acceptor(ctx: ssl.SSLContext, plain: Callable[[], ClientConn],
                     secure: Callable[[], ClientConn]) -> OnSocket:
    """An accepted socket of a unified port: plaintext or TLS by its first bytes."""

    async def accept(sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            head = await peek_head(sock, client_port_decided)
        except OSError:
            sock.close()
            return
        if not looks_like_tls(head):
            await loop.connect_accepted_socket(plain, sock)
            return
        try:
            await loop.connect_accepted_socket(secure, sock, ssl=ctx,
                                               ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        except (OSError, ssl.SSLError, TimeoutError) as e:
            # CertificateVerifier.operationComplete: the handshake future failed.
            log.error("Unsuccessful handshake with session 0x0", error=str(e))
            sock.close()

    return accept


async def start_unified_client_listener(cfg: Config, plain: Callable[[], ClientConn],
                                        secure: Callable[[], ClientConn],
                                        start_serving: bool = True) -> AcceptLoop:
    """client.portUnification: the plain clientPort also speaks TLS with the ssl.* stores
    (NettyServerCnxnFactory.DualModeSslHandler); a TLS client is a TlsClientConn, with its
    x509 id, exactly as on secureClientPort."""
    if cfg.tls is None:  # load_config sets tls whenever client_port_unification is
        raise TlsError("client.portUnification is set without ssl.* settings")
    try:
        ctx = build_context(cfg.tls)
    except TlsError as e:
        # Java builds the context per connection and closes every one, plaintext too
        # ("Failed to initialize a channel"); pyzk will not start instead.
        e.where = "client.portUnification"
        raise
    backlog = cfg.client_port_listen_backlog if cfg.client_port_listen_backlog > 0 else 1024
    accept = unified_acceptor(ctx, plain, secure)
    listener = AcceptLoop.bind(cfg.client_port_address or None, cfg.client_port, accept, backlog,
                               cancel_on_close=True)  # only peeks and handshakes are cancelled
    if start_serving:
        await listener.start_serving()
    return listener
