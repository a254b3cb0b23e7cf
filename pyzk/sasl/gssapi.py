"""GSSAPI (Kerberos V5) SASL server side, RFC 4752, as the JDK's GssKrb5Server answers
ZooKeeper's clients.

ZooKeeper (SecurityUtils.createSaslServer) makes it as Sasl.createSaslServer("GSSAPI",
<service>, <host>, null props, SaslServerCallbackHandler), service and host split from the JAAS
Server section's principal service/host@REALM. With null props the only protection offered is
"no security layer" (bit 1) and the receive buffer is 65536. The exchange:
1. context establishment: every client token goes to accept_sec_context; while it continues, its
   output is the answer. Once established, a non-empty output (the AP-REP of mutual
   authentication) is the answer; with no output the offer of step 2 is sent at once.
2. the client's next token must be empty; the answer is the wrapped 4-octet offer
   (protections, max buffer), without confidentiality.
3. the client's token unwraps to (chosen protection, its max buffer, [authorization id]); the
   authentication id (the Kerberos source name) and the authorization id (the client's, else the
   source name) go to the authorize callback, whose id becomes getAuthorizationID. The answer
   is a null token and the exchange is complete.
Every failure is SaslError (Java's SaslException) with the JDK's message, but a choice shorter
than four octets: SaslRuntimeError, as Java fails there with an index exception.
Written from RFC 4752 and the JDK's documented behaviour; no code copied.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol

from .digest_md5 import SaslError, SaslRuntimeError

NO_SECURITY_LAYER, INTEGRITY, PRIVACY = 1, 2, 4
OFFERED = NO_SECURITY_LAYER  # allQop for the default qop "auth"
RECEIVE_MAX = 65536


class AcceptorContext(Protocol):
    """What the exchange needs of a GSS security context (pyzk.sasl.gss.Context)."""

    established: bool

    def accept(self, token: bytes) -> tuple[bytes, str]: ...
    def wrap(self, data: bytes, confidential: bool = False) -> bytes: ...
    def unwrap(self, data: bytes) -> bytes: ...
    def close(self) -> None: ...


class GssapiServer:
    """One connection's exchange. `authorize(authentication_id, authorization_id)` is
    SaslServerCallbackHandler's AuthorizeCallback: it returns the id ZooKeeper records."""

    def __init__(self, context: AcceptorContext,
                 authorize: Callable[[str, str], str],
                 failure: type[Exception] = Exception) -> None:
        self.context = context
        self._authorize = authorize
        self._failure = failure  # the GSS layer's exception type, turned into SaslError
        self.stage = 0
        self.peer = ""
        self.complete = False
        self.authorization_id: str | None = None

    def evaluate(self, token: bytes) -> bytes | None:
        if self.complete:
            raise SaslError("SASL authentication already complete")
        if self.stage == 1:
            return self._offer(token)
        if self.stage == 2:
            self._choice(token)
            return None  # the exchange is complete: a null token
        try:
            out, peer = self.context.accept(token)
        except self._failure as e:
            raise SaslError(f"GSS initiate failed [Caused by {e}]") from None
        if self.context.established:
            self.stage = 1
            self.peer = peer
            if not out:
                return self._offer(b"")
        return out or None

    def _offer(self, token: bytes) -> bytes:
        if token:
            raise SaslError("Handshake expecting no response data from server")
        offer = bytes([OFFERED]) + RECEIVE_MAX.to_bytes(3, "big")
        self.stage = 2
        try:
            return self.context.wrap(offer, confidential=False)
        except self._failure as e:
            raise SaslError(f"Problem wrapping handshake1 [Caused by {e}]") from None

    def _choice(self, token: bytes) -> None:
        try:
            data = self.context.unwrap(token)
        except self._failure as e:
            raise SaslError(f"Final handshake step failed [Caused by {e}]") from None
        if len(data) < 4:
            # Java reads the four octets before it checks how many there are: the
            # ArrayIndexOutOfBoundsException closes the connection unanswered.
            raise SaslRuntimeError(f"Index {len(data)} out of bounds for length {len(data)}")
        chosen = data[0]
        if not chosen & OFFERED:
            raise SaslError(f"Client selected unsupported protection: {struct.unpack('b', data[:1])[0]}")
        authzid = data[4:].decode("utf-8", "replace") if len(data) > 4 else self.peer
        self.authorization_id = self._authorize(self.peer, authzid)
        self.complete = True
        self.context.close()


class InitiatorContext(Protocol):
    """What the client side needs of a GSS security context (pyzk.sasl.gss.Context)."""

    established: bool

    def init(self, target: Any, token: bytes | None, flags: int) -> bytes: ...
    def wrap(self, data: bytes, confidential: bool = False) -> bytes: ...
    def unwrap(self, data: bytes) -> bytes: ...
    def close(self) -> None: ...


# GssKrb5Client asks for mutual authentication, confidentiality and integrity.
INIT_FLAGS = 2 | 16 | 32


class GssapiClient:
    """The learner's side of RFC 4752, as the JDK's GssKrb5Client answers a quorum server:
    an initial response (the first context token), context tokens until the context is
    established (an empty response when the last step has no output), then the answer to
    the server's wrapped offer: no security layer, a receive size of 0 (the client supports
    no layer), and the authorization id, wrapped without confidentiality."""

    def __init__(self, context: InitiatorContext, target: Any, authorization_id: str,
                 failure: type[Exception] = Exception) -> None:
        self.context = context
        self.target = target
        self.authorization_id = authorization_id
        self._failure = failure
        self.complete = False

    def initial_response(self) -> bytes:
        return self._step(None)

    def evaluate(self, challenge: bytes) -> bytes | None:
        if self.complete:
            raise SaslError("GSSAPI authentication already complete")
        if not self.context.established:
            return self._step(challenge)
        try:
            offer = self.context.unwrap(challenge)
        except self._failure as e:
            raise SaslError(f"Final handshake failed [Caused by {e}]") from None
        if len(offer) != 4:
            raise SaslError("Invalid message on server handshake: expecting 4 octets, "
                            f"got {len(offer)}")
        if not offer[0] & NO_SECURITY_LAYER:
            raise SaslError("No common protection layer between client and server")
        choice = bytes([NO_SECURITY_LAYER, 0, 0, 0]) + self.authorization_id.encode()
        try:
            answer = self.context.wrap(choice, confidential=False)
        except self._failure as e:
            raise SaslError(f"Final handshake failed [Caused by {e}]") from None
        self.complete = True
        self.context.close()
        return answer

    def _step(self, token: bytes | None) -> bytes:
        try:
            return self.context.init(self.target, token, INIT_FLAGS)
        except self._failure as e:
            raise SaslError(f"GSS initiate failed [Caused by {e}]") from None
