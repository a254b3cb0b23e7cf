"""Quorum SASL (quorum.auth.*): members prove themselves to each other with DIGEST-MD5 or
Kerberos before election and learner traffic flows, in Java 3.8's wire format
(SaslQuorumAuthServer, SaslQuorumAuthLearner, QuorumAuth).

The dialling member ("learner": every election dial, every follower or observer connecting to
its leader) sends QuorumAuthPacket{magic, status, token} records when
quorum.auth.learnerRequireSasl is set; the listening member ("server") takes part when the first
8 bytes are the magic number, and refuses the connection when they are not and
quorum.auth.serverRequireSasl is set. Credentials come from the JAAS file's QuorumServer
(user_<name>="<password>") and QuorumLearner (username, password) sections.

A section that logs in with Krb5LoginModule makes that side Kerberos (GSSAPI, RFC 4752), as
SecurityUtils.createSaslClient/createSaslServer choose by the login subject: the learner
initiates to quorum.auth.kerberos.servicePrincipal with "_HOST" replaced by the dialled member's
host (SecurityUtils.getServerPrincipal), the server accepts as its QuorumServer principal, and
SaslQuorumServerCallbackHandler authorizes: the authenticated principal must be the one the
learner asks to act as, and a service/host@REALM principal must name a member's host.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from . import gss
from .digest_md5 import (
    NONCE_COUNT,
    DigestMD5Server,
    SaslError,
    SaslRuntimeError,
    client_response,
    new_nonce,
    parse_challenge,
    response_value,
)
from .gssapi import GssapiClient, GssapiServer
from .jaas import JaasError, LoginModule, load
from .settings import (
    DIGEST_LOGIN_MODULE,
    KRB5_LOGIN_MODULE,
    USER_PREFIX,
    KerberosLogin,
    SecurityConfigError,
    kerberos_login,
)

log = structlog.get_logger("pyzk.quorum")

# QUORUM_AUTH_MAGIC_NUMBER, Java's -0xa0dbcafecafe1234L: the hex literal is already a negative
# long, so the value Java sends is positive (its comment calls it negative).
MAGIC = 0x5F2435013501EDCC
IN_PROGRESS, SUCCESS, ERROR = 0, 1, -1
PROTOCOL = "zookeeper-quorum"  # QUORUM_SERVER_PROTOCOL_NAME
SERVER_NAME = "zk-quorum-sasl-md5"  # QUORUM_SERVER_SASL_DIGEST
MAX_RETRIES = 5  # SaslQuorumAuthServer.MAX_RETRIES
DEFAULT_SERVICE_PRINCIPAL = "zkquorum/localhost"  # QuorumAuth.QUORUM_KERBEROS_SERVICE_PRINCIPAL
HOST_PATTERN = "_HOST"  # SecurityUtils.QUORUM_HOSTNAME_PATTERN
MAX_TOKEN = 64 * 1024  # a DIGEST-MD5 token is a few hundred bytes; jute.maxbuffer elsewhere
_HEAD = struct.Struct(">qi")
_LEN = struct.Struct(">i")


class QuorumAuthError(Exception):
    """The exchange failed and the connection must close (SaslException in Java)."""


@dataclass(frozen=True)
class QuorumSaslSettings:
    server_required: bool = False
    learner_required: bool = False
    server_credentials: Mapping[str, str] = field(default_factory=dict)
    learner_user: str = ""
    learner_password: str = ""
    authz_hosts: frozenset[str] = frozenset()
    # Krb5LoginModule sections: the side speaks GSSAPI instead of DIGEST-MD5.
    server_kerberos: KerberosLogin | None = None
    learner_kerberos: KerberosLogin | None = None
    service_principal: str = DEFAULT_SERVICE_PRINCIPAL  # quorum.auth.kerberos.servicePrincipal


def build(values: Mapping[str, Any], props: Mapping[str, str] | None,
          hosts: frozenset[str]) -> QuorumSaslSettings | None:
    """QuorumPeerConfig's checks, then QuorumPeer.initialize's login: None when
    quorum.auth.enableSasl is off (NullQuorumAuthServer/Learner)."""
    enabled = bool(values.get("quorum.auth.enableSasl", False))
    server_req = bool(values.get("quorum.auth.serverRequireSasl", False))
    learner_req = bool(values.get("quorum.auth.learnerRequireSasl", False))
    for key, on in (("quorum.auth.serverRequireSasl", server_req),
                    ("quorum.auth.learnerRequireSasl", learner_req)):
        if on and not enabled:
            raise SecurityConfigError(f"quorum.auth.enableSasl is disabled, so cannot enable {key}",
                                      key)
    if server_req and not learner_req:
        raise SecurityConfigError("quorum.auth.learnerRequireSasl is disabled, so cannot enable "
                                  "quorum.auth.serverRequireSasl", "quorum.auth.serverRequireSasl")
    if not enabled:
        return None
    jaas = values.get("pyzk.jaas.loginConfig")
    if jaas is None:
        raise SecurityConfigError("quorum.auth.enableSasl needs a JAAS file "
                                  "(-Djava.security.auth.login.config or pyzk.jaas.loginConfig)",
                                  "quorum.auth.enableSasl")
    try:
        sections = load(str(jaas), props or {})
    except JaasError as e:
        raise SecurityConfigError(f"cannot read JAAS file '{jaas}': {e}",
                                  "pyzk.jaas.loginConfig") from None
    server_ctx = str(values.get("quorum.auth.server.saslLoginContext", "QuorumServer"))
    learner_ctx = str(values.get("quorum.auth.learner.saslLoginContext", "QuorumLearner"))
    creds: dict[str, str] = {}
    server_modules = _section(sections, server_ctx, str(jaas))
    for m in server_modules:
        creds.update({k[len(USER_PREFIX):]: v for k, v in m.options.items()
                      if k.startswith(USER_PREFIX)})
    user = password = ""
    learner_modules = _section(sections, learner_ctx, str(jaas))
    for m in learner_modules:
        user = m.options.get("username", user)
        password = m.options.get("password", password)
    return QuorumSaslSettings(
        server_req, learner_req, creds, user, password, hosts,
        server_kerberos=_kerberos(server_modules, props or {}),
        learner_kerberos=_kerberos(learner_modules, props or {}),
        service_principal=str(values.get("quorum.auth.kerberos.servicePrincipal")
                              or DEFAULT_SERVICE_PRINCIPAL))


def _section(sections: Mapping[str, list[LoginModule]], name: str,
             path: str) -> list[LoginModule]:
    """SaslQuorumAuthServer/Learner's constructors: the section must exist and name login
    modules there are."""
    modules = sections.get(name)
    if not modules:
        raise SecurityConfigError(
            f"SASL-authentication failed because the specified JAAS configuration section "
            f"'{name}' could not be found.", "quorum.auth.enableSasl")
    for m in modules:
        if m.class_name not in (DIGEST_LOGIN_MODULE, KRB5_LOGIN_MODULE):
            raise SecurityConfigError(f"JAAS section '{name}' of '{path}': no LoginModule found "
                                      f"for {m.class_name}", "quorum.auth.enableSasl")
    return modules


def _quorum_login_failed(reason: str) -> SecurityConfigError:
    """SaslQuorumAuthServer/Learner wrap the login's LoginException, and the peer does not
    start."""
    return SecurityConfigError("Failed to initialize authentication mechanism using SASL "
                               "[Caused by javax.security.auth.login.LoginException: "
                               f"{reason}]", "quorum.auth.enableSasl")


def _kerberos(modules: list[LoginModule], props: Mapping[str, str]) -> KerberosLogin | None:
    """The section's Krb5LoginModule login (keytab and principal checked now, as Java's Login
    does at start); None for a DIGEST-MD5 section."""
    for m in modules:
        if m.class_name == KRB5_LOGIN_MODULE:
            return kerberos_login(m, props, _quorum_login_failed)
    return None


def server_principal(config: str, host: str) -> str:
    """SecurityUtils.getServerPrincipal: "<service>/_HOST" (exactly two '/' components, the
    second exactly _HOST) becomes "<service>/<host, lower case>"; anything else is kept."""
    parts = config.split("/")
    if len(parts) != 2 or parts[1] != HOST_PATTERN:
        return config
    return f"{parts[0]}/{host.lower()}"


def target_service(principal: str) -> str:
    """The GSS host-based name service@host the learner asks a ticket for: createSaslClient
    splits the principal as KerberosName does and GssKrb5Client names the target
    "<service>@<host>" (the realm goes to the Kerberos library's own mapping; a principal
    without a host part gives Java's "null")."""
    name = principal.split("@", 1)[0]
    service, _, host = name.partition("/")
    return f"{service}@{host or 'null'}"


# -- wire -----------------------------------------------------------------------------------

def encode_packet(status: int, token: bytes | None) -> bytes:
    """QuorumAuthPacket{long magic, int status, buffer token} (a null buffer is length -1)."""
    body = _LEN.pack(-1) if token is None else _LEN.pack(len(token)) + token
    return _HEAD.pack(MAGIC, status) + body


def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write unless the peer already closed the connection: uvloop raises RuntimeError on a
    write to a closed transport; the next read reports the closed connection instead."""
    if not writer.is_closing():
        writer.write(data)


async def read_packet(reader: asyncio.StreamReader, timeout: float) -> tuple[int, bytes]:
    magic, status = _HEAD.unpack(await asyncio.wait_for(reader.readexactly(12), timeout))
    (n,) = _LEN.unpack(await asyncio.wait_for(reader.readexactly(4), timeout))
    if magic != MAGIC:
        raise QuorumAuthError(f"not a quorum auth packet (magic {magic:#x})")
    if n > MAX_TOKEN:
        raise QuorumAuthError(f"quorum auth token of {n} bytes")
    token = await asyncio.wait_for(reader.readexactly(n), timeout) if n > 0 else b""
    return status, token


def _unread(reader: asyncio.StreamReader, data: bytes) -> None:
    """Put bytes back in front of the stream: QuorumAuth.nextPacketIsAuth only peeks. asyncio
    has no peek, and the bytes were read out of the reader's own buffer an instant ago."""
    reader._buffer[0:0] = data  # type: ignore[attr-defined]


# -- the two sides -------------------------------------------------------------------------

async def authenticate_learner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               s: QuorumSaslSettings, timeout: float, host: str = "") -> None:
    """SaslQuorumAuthLearner.authenticate to the member configured as `host` (DIGEST-MD5 has
    no initial response; GSSAPI has)."""
    if not s.learner_required:
        return
    if s.learner_kerberos is not None:
        await _learner_gssapi(reader, writer, s.learner_kerberos,
                              server_principal(s.service_principal, host), timeout)
        return
    digest_uri = f"{PROTOCOL}/{SERVER_NAME}"
    _send(writer, encode_packet(IN_PROGRESS, b""))
    await writer.drain()
    status, token = await read_packet(reader, timeout)
    cnonce = new_nonce()
    sent = False
    challenge: dict[str, bytes] = {}
    while True:
        if status == ERROR:
            raise QuorumAuthError("Authentication failed against server")
        if status == SUCCESS:
            if not sent or not token.startswith(b"rspauth="):
                raise QuorumAuthError("Protocol error: server completed before the response")
            realm = challenge.get("realm", b"").decode("utf-8", "replace")
            expected = response_value("", digest_uri, "auth", s.learner_user, realm,
                                      s.learner_password, challenge["nonce"], cnonce,
                                      NONCE_COUNT, s.learner_user.encode())
            if token[len("rspauth="):] != expected:
                raise QuorumAuthError("DIGEST-MD5: mismatched response auth from the server")
            return
        if status != IN_PROGRESS or sent:
            raise QuorumAuthError(f"Authentication failed against server: status {status}")
        challenge = parse_challenge(token)
        _send(writer, encode_packet(IN_PROGRESS, client_response(
            token, s.learner_user, s.learner_password, cnonce=cnonce, authzid=s.learner_user,
            digest_uri=digest_uri)))
        await writer.drain()
        sent = True
        status, token = await read_packet(reader, timeout)


_initiators: dict[tuple[str, str | None], gss.Credential] = {}
_acceptors: dict[tuple[str, str | None], gss.Credential] = {}


def _initiator(krb: KerberosLogin) -> gss.Credential:
    """The learner's Kerberos login, one per principal and keytab for the process: its ticket
    cache keeps the TGT between connections, as the Login thread of Java's learner does."""
    key = (krb.principal, krb.keytab)
    if key not in _initiators:
        _initiators[key] = gss.initiator(krb.principal, krb.keytab)
    return _initiators[key]


def _acceptor(krb: KerberosLogin) -> gss.Credential:
    """GssKrb5Server's credentials: the host-based name service@host of the QuorumServer
    principal, keys from its keytab."""
    parts = krb.service_and_host
    if parts is None:
        # createSaslServer cannot split the principal and gives no SaslServer.
        raise QuorumAuthError(f"server principal name/hostname determination error: "
                              f"{krb.principal}")
    key = (krb.principal, krb.keytab)
    if key not in _acceptors:
        name = gss.Name.host_based(f"{parts[0]}@{parts[1]}")
        try:
            _acceptors[key] = gss.Credential.acquire(
                name, gss.GSS_C_ACCEPT, {"keytab": krb.keytab} if krb.keytab else {})
        finally:
            name.release()
    return _acceptors[key]


async def _off_loop(fn: Callable[..., bytes | None], *args: object) -> bytes | None:
    """fn(*args) in a worker thread. When the caller is cancelled meanwhile, the step is still
    waited for before the cancellation goes on: the caller then frees the C handles the
    thread is using."""
    fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait({fut})
        raise


async def _learner_gssapi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          krb: KerberosLogin, principal: str, timeout: float) -> None:
    """SaslQuorumAuthLearner.authenticate with a Kerberos subject. The context steps that may
    ask the KDC for tickets run in a thread, off the event loop."""
    peer = writer.get_extra_info("peername")
    log.info("QuorumLearner will use GSSAPI as SASL mechanism.")
    try:
        target = gss.Name.host_based(target_service(principal))
    except gss.GssError as e:
        raise QuorumAuthError(f"bad quorum service principal {principal}: {e}") from None
    client: GssapiClient | None = None
    try:
        client = GssapiClient(gss.Context(_initiator(krb)), target, krb.principal, gss.GssError)
        _send(writer, encode_packet(IN_PROGRESS, await _off_loop(client.initial_response)))
        await writer.drain()
        status, token = await read_packet(reader, timeout)
        while not client.complete:
            if status == SUCCESS:
                if await _off_loop(client.evaluate, token) is not None:
                    raise QuorumAuthError("Protocol error: attempting to send response after "
                                          "completion")
                break
            if status != IN_PROGRESS:
                raise QuorumAuthError(f"Authentication failed against server addr: {peer}")
            answer = await _off_loop(client.evaluate, token)
            _send(writer, encode_packet(IN_PROGRESS, answer))
            await writer.drain()
            status, token = await read_packet(reader, timeout)
    except (SaslError, gss.GssError) as e:
        log.error(f"An error: ({e}) occurred when evaluating Zookeeper Quorum Member's "
                  "received SASL token.")
        raise QuorumAuthError(str(e)) from None
    finally:
        if client is not None:
            client.context.close()
        target.release()
    if status != SUCCESS:
        raise QuorumAuthError(f"Authentication failed against server addr: {peer}, "
                              f"qpStatus: {status}")
    log.info(f"Successfully completed the authentication using SASL. server addr: {peer}, "
             "status: SUCCESS")


async def authenticate_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              s: QuorumSaslSettings, timeout: float) -> str | None:
    """SaslQuorumAuthServer.authenticate: the authorized learner id, or None when the learner
    did not authenticate and that is allowed. QuorumAuthError when the connection must close."""
    head = await asyncio.wait_for(reader.readexactly(8), timeout)
    _unread(reader, head)
    if struct.unpack(">q", head)[0] != MAGIC:
        if s.server_required:
            raise QuorumAuthError("Learner not trying to authenticate and authentication is "
                                  "required")
        return None
    server: DigestMD5Server | GssapiServer | None = None
    try:
        _, token = await read_packet(reader, timeout)
        server = _new_server(s)
        tries = 0
        while True:
            answer = server.evaluate(token)
            if server.complete:
                _send(writer, encode_packet(SUCCESS, answer))
                await writer.drain()
                return server.authorization_id
            tries += 1
            if tries > MAX_RETRIES:
                _send(writer, encode_packet(ERROR, answer))
                await writer.drain()
                return None
            _send(writer, encode_packet(IN_PROGRESS, answer))
            await writer.drain()
            _, token = await read_packet(reader, timeout)
    except (SaslError, SaslRuntimeError, QuorumAuthError, gss.GssError, TimeoutError,
            asyncio.IncompleteReadError) as e:
        # Java catches every exception here (a read timeout too) and answers ERROR.
        _send(writer, encode_packet(ERROR, b""))
        if s.server_required:
            raise QuorumAuthError(f"Failed to authenticate using SASL: {e}") from None
        return None


def _new_server(s: QuorumSaslSettings) -> DigestMD5Server | GssapiServer:
    """SecurityUtils.createSaslServer: GSSAPI when the QuorumServer section logs in with
    Kerberos, else DIGEST-MD5."""
    authorize = _authorizer(s.authz_hosts, digest=s.server_kerberos is None)
    if s.server_kerberos is None:
        return DigestMD5Server(s.server_credentials.get, authorize, PROTOCOL, SERVER_NAME)
    return GssapiServer(gss.Context(_acceptor(s.server_kerberos)), authorize, gss.GssError)


def _authorizer(hosts: frozenset[str], digest: bool) -> Callable[[str, str], str]:
    def authorize(authentication_id: str, authorization_id: str) -> str:
        """SaslQuorumServerCallbackHandler.handleAuthorizeCallback as the reference Java
        server has it (Debian's 3.8.0 carries ZOOKEEPER-4753, the CVE-2023-44981 fix): the ids
        must be equal, and with Kerberos the id must be service/host@REALM with a member's
        host. DIGEST-MD5 user names are not checked for a host."""
        ok = authentication_id == authorization_id
        if ok and not digest:
            parts = re.split(r"[/@]", authorization_id)
            ok = len(parts) == 3 and parts[1] in hosts
            if not ok:
                log.error(f"SASL authorization completed, {authorization_id} is not authorized "
                          "to connect")
        if not ok:
            raise SaslError(f"Failed to authorize learner {authorization_id}")
        log.info(f"Successfully authenticated learner: authenticationID={authentication_id};"
                 f"  authorizationID={authorization_id}.")
        return authorization_id
    return authorize
