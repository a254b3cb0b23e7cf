"""ZooKeeperServer.processSasl and AuthenticationHelper.enforceAuthentication for pyzk.

One SASL server per connection, created on its first SASL request (Java creates one per
connection when a JAAS Server section exists): DIGEST-MD5 when the section has
DigestLoginModule users, GSSAPI (Kerberos) when it logs in with Krb5LoginModule. What the
client gets:
- no SASL login configured, or no SASL server could be made (a Kerberos principal without
  service/host, accepting credentials that cannot be had): OK, zxid 0, a null token (Java's
  NullPointerException path);
- a step of the exchange: OK, zxid 0, the server's token (challenge, then rspauth); when it
  completes, the connection gains Id("sasl", authorizationID), plus Id("super", "") when that id
  is a zookeeper.superUser;
- a SaslException: the error (AUTHFAILED, or SESSIONCLOSEDREQUIRESASLAUTH when SASL is required)
  with a null token, then the connection closes; with zookeeper.allowSaslFailedClients (and SASL
  not required) OK with a null token and the connection stays;
- a RuntimeException in the SASL server: the connection closes without an answer.
Failures are not counted in auth_failed_count (Java 3.8 counts only TLS handshake failures).
"""

from __future__ import annotations

from typing import Any

import structlog

from ..protocol import records as r
from ..protocol.codes import Err
from ..server.auth import add_auth_ids
from . import gss
from .digest_md5 import DigestMD5Server, SaslError, SaslRuntimeError
from .gssapi import GssapiServer
from .kerberos_name import MalformedName, RuleRuntimeError, authorized_id, default_realm
from .settings import SecuritySettings

log = structlog.get_logger("pyzk.sasl")

_NULL_TOKEN = r.SetSASLResponse.to_bytes((None,))


class ClientSecurity:
    def __init__(self, settings: SecuritySettings | None) -> None:
        self.settings = settings or SecuritySettings()
        self._realm: str | None = None
        self._acceptor: gss.Credential | None = None

    # -- SaslServerCallbackHandler --------------------------------------------------------
    def _password(self, user: str) -> str | None:
        s = self.settings
        if user not in s.credentials:
            # Java's handler keeps the last known user name in a field shared by every
            # connection, so an unknown user is checked against that user's password; pyzk
            # refuses unknown users outright.
            log.warning("User not found in list of DIGEST-MD5 authenticateable users.", user=user)
            return None
        if user == "super" and s.super_password is not None:
            return s.super_password
        return s.credentials[user]

    def _authorize(self, authentication_id: str, authorization_id: str) -> str:
        s = self.settings
        if self._realm is None:
            self._realm = default_realm()
        log.info("Successfully authenticated client", authenticationID=authentication_id,
                 authorizationID=authorization_id)
        try:
            out = authorized_id(authentication_id, self._realm, s.remove_host, s.remove_realm,
                                s.auth_to_local)
        except (MalformedName, RuleRuntimeError) as e:
            raise SaslRuntimeError(str(e)) from None
        if out is None:
            log.error("Failed to set name based on Kerberos authentication rules.",
                      authentication_id=authentication_id)
            return authorization_id
        log.info("Setting authorizedID", authorized_id=out)
        return out

    def is_super(self, ident: str | None) -> bool:
        return bool(ident) and ident in self.settings.super_users

    def _new_sasl_server(self) -> DigestMD5Server | GssapiServer | None:
        """SecurityUtils.createSaslServer; None where Java's is null."""
        krb = self.settings.kerberos
        if krb is None:
            return DigestMD5Server(self._password, self._authorize)
        parts = krb.service_and_host
        if parts is None:
            log.error("server principal name/hostname determination error",
                      principal=krb.principal)
            return None
        try:
            if self._acceptor is None:
                # GssKrb5Server names itself service@host (host based), as Java does.
                name = gss.Name.host_based(f"{parts[0]}@{parts[1]}")
                try:
                    self._acceptor = gss.Credential.acquire(
                        name, gss.GSS_C_ACCEPT, {"keytab": krb.keytab} if krb.keytab else {})
                finally:
                    name.release()
            return GssapiServer(gss.Context(self._acceptor), self._authorize, gss.GssError)
        except gss.GssError as e:
            log.error("Zookeeper Server failed to create a SaslServer to interact with a "
                      "client during session initiation",
                      error=f"Failure to initialize security context [Caused by {e}]")
            return None

    # -- processSasl ----------------------------------------------------------------------
    def process_sasl(self, server: Any, conn: Any, xid: int, token: bytes) -> None:
        s = self.settings
        sid = hex(conn.session_id)
        if not s.sasl_enabled:
            conn.send_reply(xid, 0, 0, _NULL_TOKEN)
            return
        sasl = getattr(conn, "sasl_server", None)
        if sasl is None:
            sasl = conn.sasl_server = self._new_sasl_server()
        if sasl is None:
            log.error("cnxn.saslServer is null: cnxn object did not initialize its saslServer "
                      "properly.")
            conn.send_reply(xid, 0, 0, _NULL_TOKEN)
            return
        try:
            answer = sasl.evaluate(token)
        except SaslRuntimeError as e:
            log.warning("closing connection: SASL server failed", client=conn.peer, session=sid,
                        error=str(e))
            conn.close()
            return
        except SaslError as e:
            log.warning("Client failed to SASL authenticate", client=conn.peer, session=sid,
                        error=str(e))
            if s.allow_sasl_failed_clients and not s.sasl_required:
                log.warning("Maintaining client connection despite SASL authentication failure.")
                conn.send_reply(xid, 0, 0, _NULL_TOKEN)
                return
            if s.sasl_required:
                log.warning("Closing client connection due to server requires client SASL "
                            "authentication, but client SASL authentication has failed, or "
                            "client is not configured with SASL authentication.")
                err = Err.SESSIONCLOSEDREQUIRESASLAUTH
            else:
                log.warning("Closing client connection due to SASL authentication failure.")
                err = Err.AUTHFAILED
            conn.send_reply(xid, 0, int(err), _NULL_TOKEN)
            conn.close_after_flush()
            return
        if sasl.complete:
            ident = sasl.authorization_id
            log.info("adding SASL authorization", session=sid, authorization_id=ident)
            _add(conn, r.Id("sasl", ident))
            if self.is_super(ident):
                _add(conn, r.Id("super", ""))
                log.info("Authenticated Id as super user", session=sid, id=ident)
        conn.send_reply(xid, 0, 0, r.SetSASLResponse.to_bytes((answer,)))

    # -- AuthenticationHelper -------------------------------------------------------------
    def enforce(self, conn: Any, xid: int) -> bool:
        """False (answered -124, connection closing) when authentication is enforced and the
        connection has no id of an enforced scheme yet."""
        s = self.settings
        if not s.enforce_enabled:
            return True
        if any(i.scheme in s.enforce_schemes for i in conn.auth):
            return True
        log.error("Client authentication scheme(s) does not match with any of the expected "
                  "authentication scheme, closing session.",
                  schemes=[i.scheme for i in conn.auth], expected=list(s.enforce_schemes),
                  session=hex(conn.session_id))
        conn.send_reply(xid, 0, int(Err.SESSIONCLOSEDREQUIRESASLAUTH), b"")
        conn.close_after_flush()
        return False


def _add(conn: Any, ident: Any) -> None:
    add_auth_ids(conn.auth, [ident])
