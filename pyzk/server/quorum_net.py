"""How members reach each other on the quorum (2888) and election (3888) ports: plaintext,
TLS (sslQuorum) and, on the listening side, both at once (portUnification).

Follows Java 3.8: QuorumX509Util builds the contexts from the `ssl.quorum.*` keys; outgoing
sockets are TLS exactly when sslQuorum is set (Learner.createSocket,
QuorumCnxManager.initiateConnection); a listener is a UnifiedServerSocket when sslQuorum or
portUnification is set, which reads up to 5 bytes (ssl.quorum.handshakeDetectionTimeoutMillis)
and treats a TLS record header as a handshake, anything else as plaintext (accepted only with
portUnification: "Refusing plaintext connection" otherwise). Both directions check the peer's
certificate against its address when ssl.quorum.hostnameVerification is on
(ZKTrustManager.performHostVerification: the IP address first, then the name a reverse lookup
gives; QuorumX509Util.shouldVerifyClientHostname is true, so servers check clients too).

This is the rolling upgrade Java documents: portUnification first (TLS and plaintext accepted,
plaintext dialled), then sslQuorum (TLS dialled), then portUnification off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from ..config.model import Config, TlsSettings
from ..sasl.quorum import (
    QuorumAuthError,
    QuorumSaslSettings,
    authenticate_learner,
    authenticate_server,
)
from .tls import HANDSHAKE_TIMEOUT_S, TlsError, build_context
from .unified import AcceptLoop, header_complete, looks_like_tls, peek_head

__all__ = ["QuorumListener", "QuorumNet", "looks_like_tls", "quorum_net"]

log = structlog.get_logger("pyzk.quorum")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _dns_match(host: str, pattern: str) -> bool:
    """ZKHostnameVerifier.matchIdentityStrict: a left-most '*' stands for one label."""
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if "*" not in pattern:
        return host == pattern
    p_first, _, p_rest = pattern.partition(".")
    h_first, _, h_rest = host.partition(".")
    if not p_rest or p_rest != h_rest:
        return False
    prefix, _, suffix = p_first.partition("*")
    return h_first.startswith(prefix) and h_first.endswith(suffix) and \
        len(h_first) >= len(prefix) + len(suffix)


def certificate_matches(der: bytes, host: str) -> bool:
    """ZKHostnameVerifier.verify: an IP address against the IP SANs only; a name against the
    DNS SANs, or the subject CNs when there is no DNS SAN."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return sans is not None and ip in sans.get_values_for_type(x509.IPAddress)
    names = sans.get_values_for_type(x509.DNSName) if sans is not None else []
    if not names:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return any(_dns_match(host, n) for n in names)


async def peer_host_verified(writer: asyncio.StreamWriter) -> bool:
    """performHostVerification for an established TLS stream: the peer's IP, then its name."""
    ssl_object = writer.get_extra_info("ssl_object")
    peer = writer.get_extra_info("peername")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der or not peer:
        return False
    ip = str(peer[0])
    if certificate_matches(der, ip):
        return True
    log.debug("Failed to verify host address", address=ip)
    try:
        name, _ = await asyncio.get_running_loop().getnameinfo((ip, 0), socket.NI_NAMEREQD)
    except OSError:
        name = ip  # InetAddress.getHostName gives the address back when nothing resolves
    if name != ip and certificate_matches(der, name):
        return True
    log.error("Failed to verify hostname", address=ip, hostname=name)
    return False


class QuorumContexts:
    """The listening and dialling SSLContexts from the ssl.quorum.* stores; with
    sslQuorumReloadCertFiles they are rebuilt when either store file changes
    (X509Util.enableCertFileReloading: connections made afterwards use the new material,
    established ones keep theirs)."""

    def __init__(self, tls: TlsSettings) -> None:
        self.tls = tls
        self.server, self.client = self._build()
        self._seen = self._signature()

    def _build(self) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        try:
            return build_context(self.tls), build_context(self.tls, server_side=False)
        except TlsError as e:
            e.where = "quorum"
            raise

    def _signature(self) -> tuple[tuple[int, int, int] | None, ...]:
        """What FileChangeWatcher would notice: a file written (mtime, size) or replaced
        (inode) in place; a missing file is ignored, as Java ignores deletes."""
        out: list[tuple[int, int, int] | None] = []
        for path in (self.tls.key_store, self.tls.trust_store):
            try:
                st = os.stat(path) if path is not None else None
            except OSError:
                st = None
            out.append((st.st_mtime_ns, st.st_size, st.st_ino) if st is not None else None)
        return tuple(out)

    def reload_if_changed(self) -> bool:
        """Rebuild after a change; a store that cannot be read keeps the old contexts (Java's
        watcher thread fails and the previous SSLContext stays). True when rebuilt."""
        now = self._signature()
        if now == self._seen or None in now[:1]:
            return False
        self._seen = now
        try:
            self.server, self.client = self._build()
        except TlsError as e:
            log.error("Failed to reload the quorum TLS stores", error=str(e))
            return False
        log.info("Reloaded the quorum TLS key and trust stores",
                 key_store=str(self.tls.key_store), trust_store=str(self.tls.trust_store))
        return True

    async def watch(self, period_s: float = 0.5) -> None:
        """Poll the store files until cancelled (the edge: files and a clock)."""
        log.info("enabling cert file reloading")
        while True:
            await asyncio.sleep(period_s)
            self.reload_if_changed()


@dataclass(frozen=True)
class QuorumNet:
    ssl_quorum: bool = False
    port_unification: bool = False
    contexts: QuorumContexts | None = None
    reload_cert_files: bool = False  # sslQuorumReloadCertFiles: QuorumPeer runs contexts.watch
    verify_hostnames: bool = True
    detect_timeout_s: float = 5.0
    # quorum.auth.* (pyzk.sasl.quorum): None = NullQuorumAuthServer/Learner.
    sasl: QuorumSaslSettings | None = None
    # Read timeouts during the exchange: the leader's learner sockets use tickTime * initLimit
    # (LearnerCnxAcceptor), election sockets tickTime * syncLimit (QuorumCnxManager).
    auth_timeout_s: float = 10.0
    election_timeout_s: float = 10.0

    async def authenticate_dialled(self, reader: asyncio.StreamReader,
                                   writer: asyncio.StreamWriter, election: bool = False,
                                   host: str = "") -> None:
        """SaslQuorumAuthLearner.authenticate on a connection we opened to the member
        configured as `host` (Kerberos' _HOST); QuorumAuthError when the peer refused us."""
        if self.sasl is not None:
            await authenticate_learner(reader, writer, self.sasl, self.election_timeout_s
                                       if election else self.auth_timeout_s, host)

    async def authenticate_accepted(self, reader: asyncio.StreamReader,
                                    writer: asyncio.StreamWriter, election: bool = False) -> bool:
        """SaslQuorumAuthServer.authenticate on a connection a member opened to us: False
        when it must close (logged here)."""
        if self.sasl is None:
            return True
        peer = writer.get_extra_info("peername")
        try:
            who = await authenticate_server(reader, writer, self.sasl, self.election_timeout_s
                                            if election else self.auth_timeout_s)
        except (QuorumAuthError, OSError, TimeoutError, asyncio.IncompleteReadError) as e:
            log.error("Failed to authenticate using SASL", learner=str(peer), error=str(e))
            return False
        if who is not None:
            log.info("Successfully completed the authentication using SASL", learner=str(peer),
                     id=who)
        return True

    @property
    def server_ctx(self) -> ssl.SSLContext | None:
        return self.contexts.server if self.contexts is not None else None

    @property
    def client_ctx(self) -> ssl.SSLContext | None:
        return self.contexts.client if self.contexts is not None else None

    @property
    def listens_tls(self) -> bool:
        return self.server_ctx is not None and (self.ssl_quorum or self.port_unification)

    @property
    def dials_tls(self) -> bool:
        return self.ssl_quorum and self.client_ctx is not None

    async def dial(self, host: str, port: int) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
        """A connection to a member's quorum or election port (TLS when sslQuorum)."""
        if not self.dials_tls:
            return await asyncio.open_connection(host, port)
        reader, writer = await asyncio.open_connection(
            host, port, ssl=self.client_ctx, server_hostname=None,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        if self.verify_hostnames and not await peer_host_verified(writer):
            writer.close()
            raise ssl.SSLCertVerificationError(
                f"certificate of {host}:{port} does not match its address")
        return reader, writer

    async def listen(self, handler: Handler, host: str | None, port: int,
                     **kw: object) -> QuorumListener:
        if not self.listens_tls:
            return QuorumListener(await asyncio.start_server(handler, host, port, **kw))  # type: ignore[arg-type]
        async def detect(sock: socket.socket) -> None:
            await self._detect(sock, handler)

        loop = AcceptLoop.bind(host, port, detect)
        await loop.start_serving()
        return QuorumListener(None, loop)

    async def _detect(self, sock: socket.socket, handler: Handler) -> None:
        """UnifiedSocket.detectMode, then the handshake and the client's host check."""
        loop = asyncio.get_running_loop()
        peer = sock.getpeername()
        try:
            head = await asyncio.wait_for(peek_head(sock, header_complete),
                                          self.detect_timeout_s)
        except TimeoutError:
            head = b""  # Java falls through to plaintext after the detection timeout
        except OSError:
            sock.close()
            return
        tls = looks_like_tls(head)
        if not tls and not self.port_unification:
            log.info("Refusing plaintext connection", client=f"{peer[0]}:{peer[1]}")
            sock.close()
            return
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=self.server_ctx if tls else None,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S if tls else None)
        except (OSError, ssl.SSLError) as e:
            log.warning("quorum TLS handshake failed", client=f"{peer[0]}:{peer[1]}", error=str(e))
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]
        if tls and self.verify_hostnames and not await peer_host_verified(writer):
            writer.close()
            return
        if not tls:
            log.info("Accepted plaintext connection", client=f"{peer[0]}:{peer[1]}")
        await handler(reader, writer)


class QuorumListener:
    """What QuorumNet.listen returns: an asyncio.Server, or a unified port's accept loop."""

    def __init__(self, server: asyncio.Server | None, loop: AcceptLoop | None = None) -> None:
        self.server = server
        self.loop = loop

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.loop is not None:
            self.loop.close()

    async def wait_closed(self) -> None:
        if self.server is not None:
            await self.server.wait_closed()
        if self.loop is not None:
            await self.loop.wait_closed()


PLAIN = QuorumNet()


def quorum_net(cfg: Config) -> QuorumNet:
    """The contexts from the ssl.quorum.* stores; plaintext when neither switch is set."""
    tls: TlsSettings | None = cfg.quorum_tls
    auth_s = cfg.tick_time_ms * max(cfg.init_limit, 1) / 1000
    election_s = cfg.tick_time_ms * max(cfg.sync_limit, 1) / 1000
    if tls is None or not (cfg.ssl_quorum or cfg.port_unification):
        if cfg.quorum_sasl is None:
            return PLAIN
        return QuorumNet(sasl=cfg.quorum_sasl, auth_timeout_s=auth_s,
                         election_timeout_s=election_s)
    return QuorumNet(ssl_quorum=cfg.ssl_quorum, port_unification=cfg.port_unification,
                     contexts=QuorumContexts(tls),
                     reload_cert_files=cfg.ssl_quorum_reload_cert_files,
                     verify_hostnames=tls.hostname_verification,
                     detect_timeout_s=tls.handshake_detection_timeout_ms / 1000,
                     sasl=cfg.quorum_sasl, auth_timeout_s=auth_s,
                     election_timeout_s=election_s)
