"""DIGEST-MD5 (RFC 2831) server side, as the JDK's SaslServer answers ZooKeeper's clients.

ZooKeeperSaslServer creates it as Sasl.createSaslServer("DIGEST-MD5", "zookeeper",
"zk-sasl-md5", null props, SaslServerCallbackHandler): the only realm is "zk-sasl-md5", the
only digest-uri accepted is "zookeeper/zk-sasl-md5" (any case), the only qop is "auth" (the
challenge names no qop), UTF-8 charset, algorithm md5-sess, nonce count 1. Written from the
RFC and from what the JDK's server is documented and observed to answer; no code copied.

Two kinds of failure reach ZooKeeper differently:
- `SaslError` is Java's SaslException: processSasl answers AUTHFAILED (or
  SESSIONCLOSEDREQUIRESASLAUTH) and closes the connection, unless
  zookeeper.allowSaslFailedClients keeps it.
- `SaslRuntimeError` is a RuntimeException escaping evaluateResponse (a maxbuf or nonce-count
  that Integer.parseInt rejects, a user name KerberosName rejects): Java's IO thread closes the
  connection without an answer.
"""

from __future__ import annotations

import base64
import hashlib
import os
import unicodedata
from collections.abc import Callable

from ..protocol.jute import java_utf8

MAX_RESPONSE_LENGTH = 4096
SERVICE = "zookeeper"
SERVER_NAME = "zk-sasl-md5"
NONCE_COUNT = 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

# Directives a digest-response may carry, in the JDK server's table order.
_KEYS = ("username", "realm", "nonce", "cnonce", "nonce-count", "qop", "digest-uri",
         "response", "maxbuf", "charset", "cipher", "authzid", "auth-param")


class SaslError(Exception):
    """javax.security.sasl.SaslException: the exchange failed."""


class SaslRuntimeError(Exception):
    """A RuntimeException out of evaluateResponse (the connection closes unanswered)."""


# -- parsing ---------------------------------------------------------------------------------

def _lws(b: int) -> bool:
    return b in (13, 10, 32, 9)


def _skip_lws(buf: bytes, i: int) -> int:
    while i < len(buf) and _lws(buf[i]):
        i += 1
    return i


def _java_upper(c: str) -> str:
    u = c.upper()
    return u if len(u) == 1 else c


def java_equals_ignore_case(a: str, b: str) -> bool:
    """String.equalsIgnoreCase, char by char (upper case, then lower case of that)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        ux, uy = _java_upper(x), _java_upper(y)
        if ux != uy and ux.lower() != uy.lower():
            return False
    return True


def parse_directives(buf: bytes) -> dict[str, bytes]:
    """key=value pairs (quoted or not) separated by commas and linear white space; only the
    known directives are kept, each at most once (realm too, in a response)."""
    values: dict[str, bytes] = {}
    key = bytearray()
    value = bytearray()
    getting_key = True
    quoted = False
    expect_sep = False

    def extract() -> None:
        name = java_utf8(bytes(key))
        for known in _KEYS:
            if java_equals_ignore_case(name, known):
                if known in values:
                    raise SaslError(f"DIGEST-MD5: peer sent more than one {name} directive: "
                                    f"{java_utf8(bytes(value))}")
                values[known] = bytes(value)
                break

    i = _skip_lws(buf, 0)
    n = len(buf)
    while i < n:
        ch = buf[i]
        if getting_key:
            if ch == 0x2C:  # ','
                if key:
                    raise SaslError(f"Directive key contains a ',':{java_utf8(bytes(key))}")
                i = _skip_lws(buf, i + 1)
            elif ch == 0x3D:  # '='
                if not key:
                    raise SaslError("Empty directive key")
                getting_key = False
                i = _skip_lws(buf, i + 1)
                if i < n:
                    if buf[i] == 0x22:
                        quoted = True
                        i += 1
                else:
                    raise SaslError(f"Valueless directive found: {java_utf8(bytes(key))}")
            elif _lws(ch):
                i = _skip_lws(buf, i + 1)
                if i >= n or buf[i] != 0x3D:
                    raise SaslError(f"'=' expected after key: {java_utf8(bytes(key))}")
            else:
                key.append(ch)
                i += 1
        elif quoted:
            if ch == 0x5C:  # backslash: the next byte as it is
                i += 1
                if i >= n:
                    raise SaslError("Unmatched quote found for directive: "
                                    f"{java_utf8(bytes(key))} with value: "
                                    f"{java_utf8(bytes(value))}")
                value.append(buf[i])
                i += 1
            elif ch == 0x22:
                i += 1
                quoted = False
                expect_sep = True
            else:
                value.append(ch)
                i += 1
        elif _lws(ch) or ch == 0x2C:
            extract()
            key.clear()
            value.clear()
            getting_key = True
            quoted = expect_sep = False
            i = _skip_lws(buf, i + 1)
        elif expect_sep:
            raise SaslError("Expecting comma or linear whitespace after quoted string: "
                            f"\"{java_utf8(bytes(value))}\"")
        else:
            value.append(ch)
            i += 1
    if quoted:
        raise SaslError(f"Unmatched quote found for directive: {java_utf8(bytes(key))} "
                        f"with value: {java_utf8(bytes(value))}")
    if key:
        extract()
    return values


def _digit(c: str, radix: int) -> int:
    """Character.digit: Unicode decimal digits, and a-z / A-Z / their full-width forms."""
    if c.isdecimal():
        d = unicodedata.decimal(c)
    elif "a" <= c.lower() <= "z" and c.isascii():
        d = ord(c.lower()) - ord("a") + 10
    elif "\uff21" <= c <= "\uff3a" or "\uff41" <= c <= "\uff5a":
        d = (ord(c) - 0xFF21 if c <= "\uff3a" else ord(c) - 0xFF41) + 10
    else:
        return -1
    return d if d < radix else -1


def java_parse_int(s: str, radix: int = 10) -> int:
    """Integer.parseInt; SaslRuntimeError for NumberFormatException."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body:
        raise SaslRuntimeError(f'For input string: "{s}"')
    n = 0
    for c in body:
        d = _digit(c, radix)
        if d < 0:
            raise SaslRuntimeError(f'For input string: "{s}"')
        n = n * radix + d
    n = -n if s[:1] == "-" else n
    if not _INT_MIN <= n <= _INT_MAX:
        raise SaslRuntimeError(f'For input string: "{s}"')
    return n


# -- the digest computation (RFC 2831 2.1.2.1) ------------------------------------------------

def _latin1_or_utf8(s: str) -> bytes:
    """The JDK's stringToByte_8859_1 with UTF-8 on: ISO 8859-1 unless a char is above U+00FF."""
    if any(ord(c) > 0xFF for c in s):
        return s.encode("utf-8", "surrogatepass")
    return s.encode("latin-1")


def response_value(method: str, digest_uri: str, qop: str, username: str, realm: str,
                   password: str, nonce: bytes, cnonce: bytes, nonce_count: int,
                   authzid: bytes | None) -> bytes:
    """The 32 lower-case hex digits of response-value (method "AUTHENTICATE" for the client's
    response, "" for the server's rspauth)."""
    a2 = f"{method}:{digest_uri}".encode("utf-8", "surrogatepass")
    if qop in ("auth-int", "auth-conf"):
        a2 += b":" + b"0" * 32
    hex_a2 = hashlib.md5(a2).hexdigest().encode()  # noqa: S324 - RFC 2831
    secret = hashlib.md5(_latin1_or_utf8(username) + b":" + _latin1_or_utf8(realm) + b":"  # noqa: S324
                         + _latin1_or_utf8(password)).digest()
    a1 = secret + b":" + nonce + b":" + cnonce
    if authzid is not None:
        a1 += b":" + authzid
    hex_a1 = hashlib.md5(a1).hexdigest().encode()  # noqa: S324
    kd = b":".join((hex_a1, nonce, f"{nonce_count:08x}".encode(), cnonce,
                    qop.encode("utf-8", "surrogatepass"), hex_a2))
    return hashlib.md5(kd).hexdigest().encode()  # noqa: S324


def new_nonce() -> bytes:
    """30 random bytes in base64: 40 characters, no padding."""
    return base64.b64encode(os.urandom(30))


# -- the server ------------------------------------------------------------------------------

# (authentication id) -> authorization id ZooKeeper records; may raise SaslRuntimeError.
Authorize = Callable[[str, str], str]
# user name -> password, or None when the user is unknown.
Passwords = Callable[[str], "str | None"]


class DigestMD5Server:
    """One connection's exchange: evaluate(b"") gives the challenge, evaluate(response) the
    rspauth; after that (or after any failure) every token is "Server at illegal state"."""

    def __init__(self, passwords: Passwords, authorize: Authorize,
                 service: str = SERVICE, server_name: str = SERVER_NAME) -> None:
        self.passwords = passwords
        self.authorize = authorize
        self.digest_uri = f"{service}/{server_name}"
        self.realms = [server_name]
        self.step = 1
        self.nonce = b""
        self.complete = False
        self.authorization_id: str | None = None
        self.username: str | None = None

    def evaluate(self, token: bytes) -> bytes:
        if len(token) > MAX_RESPONSE_LENGTH:
            raise SaslError(f"DIGEST-MD5: Invalid digest response length. Got:  {len(token)}"
                            f" Expected < {MAX_RESPONSE_LENGTH}")
        if self.step == 1:
            # A client's initial response is not supported; the challenge is sent anyway
            # (RFC 2831 2.2: authentication proceeds as an initial one).
            self.step = 3
            return self._challenge()
        if self.step == 3:
            try:
                answer = self._validate(parse_directives(token))
            finally:
                self.step = 0
            self.complete = True
            return answer
        raise SaslError("DIGEST-MD5: Server at illegal state")

    def _challenge(self) -> bytes:
        self.nonce = new_nonce()
        out = bytearray()
        for realm in self.realms:
            out += b'realm="' + _quote(realm.encode()) + b'",'
        out += b'nonce="' + _quote(self.nonce) + b'",'
        out += b"charset=utf-8,algorithm=md5-sess"
        return bytes(out)

    def _validate(self, v: dict[str, bytes]) -> bytes:
        if "charset" in v and java_utf8(v["charset"]) != "utf-8":
            raise SaslError("DIGEST-MD5: digest response format violation. Incompatible "
                            f"charset value: {java_utf8(v['charset'])}")
        if "maxbuf" in v:
            java_parse_int(java_utf8(v["maxbuf"]))
        if "username" not in v:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing username.")
        username = java_utf8(v["username"])
        realm = java_utf8(v["realm"]) if "realm" in v else ""
        if realm not in self.realms:
            raise SaslError("DIGEST-MD5: digest response format violation. Nonexistent "
                            f"realm: {realm}")
        if "nonce" not in v:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing nonce.")
        if v["nonce"] != self.nonce:
            raise SaslError("DIGEST-MD5: digest response format violation. Mismatched nonce.")
        if "cnonce" not in v:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing cnonce.")
        cnonce = v["cnonce"]
        if "nonce-count" in v and java_parse_int(java_utf8(v["nonce-count"]), 16) != NONCE_COUNT:
            raise SaslError("DIGEST-MD5: digest response format violation. Nonce count does "
                            f"not match: {java_utf8(v['nonce-count'])}")
        qop = java_utf8(v["qop"]) if "qop" in v else "auth"
        if qop in ("auth-int", "auth-conf"):
            raise SaslError(f"DIGEST-MD5: server does not support  qop: {qop}")
        if qop != "auth":
            raise SaslError(f"DIGEST-MD5: digest response format violation. Invalid QOP: {qop}")
        uri = java_utf8(v["digest-uri"]) if "digest-uri" in v else None
        if uri is None or not java_equals_ignore_case(self.digest_uri, uri):
            raise SaslError("DIGEST-MD5: digest response format violation. Mismatched URI: "
                            f"{uri}; expecting: {self.digest_uri}")
        if "response" not in v:
            raise SaslError("DIGEST-MD5: digest response format  violation. Missing response.")
        authzid_bytes = v.get("authzid")
        authzid = java_utf8(authzid_bytes) if authzid_bytes is not None else username
        password = self.passwords(username)
        if password is None:
            raise SaslError(f"DIGEST-MD5: cannot acquire password for {username} in realm : "
                            f"{realm}")
        expected = response_value("AUTHENTICATE", uri, qop, username, realm, password,
                                  self.nonce, cnonce, NONCE_COUNT, authzid_bytes)
        if v["response"] != expected:
            raise SaslError("DIGEST-MD5: digest response format violation. Mismatched response.")
        self.username = username
        self.authorization_id = self.authorize(username, authzid)
        return b"rspauth=" + response_value("", uri, qop, username, realm, password,
                                            self.nonce, cnonce, NONCE_COUNT, authzid_bytes)


def _quote(data: bytes) -> bytes:
    """writeQuotedStringValue: backslash before '"', '\\', DEL and controls but CR, HT, LF."""
    out = bytearray()
    for b in data:
        if b in (0x22, 0x5C, 0x7F) or (b <= 31 and b not in (13, 9, 10)):
            out.append(0x5C)
        out.append(b)
    return bytes(out)


# -- the client side (tests and tools) -------------------------------------------------------

def client_response(challenge: bytes, username: str, password: str, *, cnonce: bytes = b"",
                    authzid: str | None = None, realm: str | None = None,
                    digest_uri: str = f"{SERVICE}/{SERVER_NAME}") -> bytes:
    """A well-formed digest-response to `challenge`, as a JDK client writes it."""
    ch = parse_challenge(challenge)
    nonce = ch["nonce"]
    realm = realm if realm is not None else java_utf8(ch.get("realm", b""))
    cnonce = cnonce or new_nonce()
    az = authzid.encode() if authzid is not None else None
    resp = response_value("AUTHENTICATE", digest_uri, "auth", username, realm, password, nonce,
                          cnonce, NONCE_COUNT, az)
    parts = [b'charset=utf-8', b'username="' + _quote(username.encode()) + b'"',
             b'realm="' + _quote(realm.encode()) + b'"', b'nonce="' + _quote(nonce) + b'"',
             b"nc=00000001", b'cnonce="' + _quote(cnonce) + b'"',
             b'digest-uri="' + digest_uri.encode() + b'"', b"maxbuf=65536",
             b"response=" + resp, b"qop=auth"]
    if az is not None:
        parts.append(b'authzid="' + _quote(az) + b'"')
    return b",".join(parts)


def parse_challenge(challenge: bytes) -> dict[str, bytes]:
    """The directives of a digest-challenge (first realm kept)."""
    out: dict[str, bytes] = {}
    i = 0
    while i < len(challenge):
        eq = challenge.index(b"=", i)
        key = challenge[i:eq].strip(b" ,").decode()
        i = eq + 1
        if challenge[i:i + 1] == b'"':
            j = i + 1
            val = bytearray()
            while challenge[j] != 0x22:
                if challenge[j] == 0x5C:
                    j += 1
                val.append(challenge[j])
                j += 1
            value, i = bytes(val), j + 2
        else:
            j = challenge.find(b",", i)
            j = len(challenge) if j < 0 else j
            value, i = challenge[i:j], j + 1
        out.setdefault(key, value)
    return out
