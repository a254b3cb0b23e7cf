"""ACL checks and the built-in auth providers (world, ip, digest, super), as Java does them.

Sources: ZooKeeperServer.checkACL, PrepRequestProcessor.fixupACL, DigestAuthenticationProvider,
IPAuthenticationProvider, AuthUtil.getClientInfos. Auth ids are r.Id records held per session.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from ..protocol import records as r
from ..protocol.codes import Err, KeeperError, MarshallingError
from ..protocol.jute import java_utf8

SUPER_ID: Any = r.Id("super", "")
_INT = re.compile(r"[+-]?[0-9]+\Z")
_REDACT = re.compile("[:][^\n\r\u0085\u2028\u2029]*")


def java_split(s: str, sep: str, limit: int = 0) -> list[str]:
    """String.split with a literal one-character separator: limit 0 drops trailing empties."""
    if limit > 0:
        return s.split(sep, limit - 1)
    parts = s.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts if parts else ([] if s else [""])


def _parse_int(s: str) -> int | None:
    """Integer.parseInt, or None where it throws NumberFormatException."""
    if not _INT.match(s):
        return None
    v = int(s)
    return v if -0x80000000 <= v <= 0x7FFFFFFF else None


# -- ip provider (IPAuthenticationProvider: IPv4 only, CIDR by "/bits") ----------------------

def _v4(addr: str) -> list[int] | None:
    parts = addr.split(".")
    if len(parts) != 4:
        return None
    out = []
    for p in parts:
        v = _parse_int(p)
        if v is None or not 0 <= v <= 255:
            return None
        out.append(v)
    return out


def _mask(b: list[int], bits: int) -> None:
    start = bits // 8
    start_mask = ~((1 << (8 - bits % 8)) - 1) & 0xFF
    while start < len(b):
        b[start] &= start_mask
        start_mask = 0
        start += 1


def ip_is_valid(ident: str) -> bool:
    parts = ident.split("/", 1)
    if _v4(parts[0]) is None:
        return False
    if len(parts) == 2:
        bits = _parse_int(parts[1])
        if bits is None or not 0 <= bits <= 32:
            return False
    return True


def ip_matches(ident: str, acl_expr: str) -> bool:
    parts = acl_expr.split("/", 1)
    acl_addr = _v4(parts[0])
    if acl_addr is None:
        return False
    bits = 32
    if len(parts) == 2:
        b = _parse_int(parts[1])
        if b is None or not 0 <= b <= 32:
            return False
        bits = b
    _mask(acl_addr, bits)
    remote = _v4(ident)
    if remote is None:
        return False
    _mask(remote, bits)
    return remote == acl_addr


# -- digest provider ---------------------------------------------------------------------

def generate_digest(id_password: str) -> str:
    """DigestAuthenticationProvider.generateDigest: "user:" + base64(sha1("user:password"))."""
    user = id_password.split(":", 1)[0]
    digest = hashlib.sha1(id_password.encode("utf-8")).digest()  # noqa: S324 - Java's scheme
    return user + ":" + base64.b64encode(digest).decode("ascii")


def digest_auth_ids(auth: bytes | None, super_digest: str | None) -> list[Any]:
    """Ids an `addauth digest user:pw` adds to a session (handleAuthentication): super first.
    A null auth buffer is AUTHFAILED (Java's `new String(null)` throws): see
    pyzk.server.auth.authenticate."""
    ident = generate_digest(java_utf8(auth or b""))
    ids: list[Any] = []
    if super_digest is not None and ident == super_digest:
        ids.append(SUPER_ID)
    ids.append(r.Id("digest", ident))
    return ids


def digest_is_valid(ident: str) -> bool:
    return len(java_split(ident, ":")) == 2


# -- provider registry (ProviderRegistry defaults: ip and digest) -------------------------

# scheme -> (isValid, matches, isAuthenticated)
DIGEST_PROVIDER: tuple[Any, Any, bool] = (digest_is_valid, str.__eq__, True)
PROVIDERS: dict[str, tuple[Any, Any, bool]] = {
    "ip": (ip_is_valid, ip_matches, False),
    "digest": DIGEST_PROVIDER,
}


# -- providers that only exist when configured (ProviderRegistry: authProvider.N classes;
# QuorumPeerConfig.configureSSLAuth adds x509 whenever secureClientPort is set) -------------

_DN_TYPE = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9-]*|(?:OID\.)?[0-9]+(?:\.[0-9]+)*)\s*=")
_DN_VALUE = re.compile(r'\s*(?:#[0-9A-Fa-f]+|"(?:[^"\\]|\\.)*"|(?:[^,;+"\\]|\\.)*)\s*')


def x509_is_valid(ident: str) -> bool:
    """X509AuthenticationProvider.isValid: `new X500Principal(id)` parses (RFC 1779/2253 DN:
    type=value pairs separated by ',', ';' or '+'; the empty DN is valid)."""
    pos = 0
    if not ident.strip():
        return True
    while True:
        t = _DN_TYPE.match(ident, pos)
        if t is None:
            return False
        v = _DN_VALUE.match(ident, t.end())
        assert v is not None  # the value pattern also matches the empty string
        pos = v.end()
        if pos == len(ident):
            return True
        if ident[pos] not in ",;+":
            return False
        pos += 1


def sasl_is_valid(ident: str) -> bool:
    """SASLAuthenticationProvider.isValid: `new KerberosName(id)` accepts a name without '@'
    or one shaped service[/host]@REALM."""
    return "@" not in ident or re.fullmatch(r"[^/@]*(/[^/@]*)?@[^/@]*", ident) is not None


# zookeeper.letAnySaslUserDoX: a sasl ACL id every SASL-authenticated client matches.
SASL_ANY_USER: list[str | None] = [None]


def sasl_matches(ident: str, acl_expr: str) -> bool:
    """SASLAuthenticationProvider.matches."""
    return ident in ("super", acl_expr) or (SASL_ANY_USER[0] is not None
                                            and acl_expr == SASL_ANY_USER[0])


OPTIONAL_PROVIDERS: dict[str, tuple[Any, Any, bool]] = {
    "x509": (x509_is_valid, str.__eq__, True),
    "sasl": (sasl_is_valid, sasl_matches, True),
}


def enable_provider(scheme: str) -> None:
    """Register one of OPTIONAL_PROVIDERS (process-wide, like Java's static ProviderRegistry)."""
    PROVIDERS[scheme] = OPTIONAL_PROVIDERS[scheme]


def user_name(ident: Any) -> str:
    """AuthUtil.getUser: digest -> the user part, ip -> the address, unknown scheme -> ""."""
    if ident.scheme == "digest":
        user: str = ident.id.split(":")[0]
        return user
    if ident.scheme in PROVIDERS:
        return str(ident.id)
    return ""


# -- checks ------------------------------------------------------------------------------

def has_perm(acl: Sequence[Any], perm: int, auth_ids: Sequence[Any], skip_acl: bool = False) -> bool:
    """ZooKeeperServer.checkACL without the exception: empty ACL and super pass everything."""
    if skip_acl or not acl:
        return True
    for a in auth_ids:
        if a.scheme == "super":
            return True
    for perms, ident in acl:
        if perms & perm:
            scheme = ident.scheme
            if scheme == "world" and ident.id == "anyone":
                return True
            prov = PROVIDERS.get(scheme)
            if prov is not None:
                matches = prov[1]
                for a in auth_ids:
                    if a.scheme == scheme and matches(a.id, ident.id):
                        return True
    return False


def check_acl(acl: Sequence[Any], perm: int, auth_ids: Sequence[Any], skip_acl: bool = False,
              path: str | None = None) -> None:
    if not has_perm(acl, perm, auth_ids, skip_acl):
        raise KeeperError(Err.NOAUTH, path)


def _marshalling(path: str) -> MarshallingError:
    """A NullPointerException in PrepRequestProcessor: pRequest's catch (Exception) turns it
    into MARSHALLINGERROR for the whole request (a whole multi too)."""
    return MarshallingError(path)


def _remove_duplicates(path: str, acls: list[Any] | None) -> list[Any]:
    """PrepRequestProcessor.removeDuplicates: `retval.contains(acl)` calls the new ACL's
    jute-generated equals on each kept one: perms first, then scheme.equals, then id.equals,
    so a null scheme (or a null id after an equal scheme) throws once perms match."""
    uniq: list[Any] = []
    for a in acls or ():
        dup = False
        for kept in uniq:
            if kept.perms != a.perms:
                continue
            ident, other = a.id, kept.id
            if ident.scheme is None:
                raise _marshalling(path)
            if ident.scheme != other.scheme:
                continue
            if ident.id is None:
                raise _marshalling(path)
            if ident.id == other.id:
                dup = True
                break
        if not dup:
            uniq.append(a)
    return uniq


def fixup_acl(path: str, auth_ids: Sequence[Any], acls: list[Any] | None) -> list[Any]:
    """PrepRequestProcessor.fixupACL: dedupe, validate schemes/ids, expand `auth` ids.

    Null strings behave as in Java: a null scheme is INVALIDACL, but a null id under "world"
    (`id.getId().equals("anyone")`) or under a registered provider (`isValid(null)`) throws,
    which the caller answers MARSHALLINGERROR."""
    if acls is not None and len(acls) == 1:
        # The usual request (OPEN_ACL_UNSAFE): one world:anyone entry passes every step below
        # unchanged, so skip them (a create's prep is short of time).
        a = acls[0]
        ident = a.id
        if ident is not None and ident.scheme == "world" and ident.id == "anyone":
            return [a]
    uniq = _remove_duplicates(path, acls)
    if not uniq:
        raise KeeperError(Err.INVALIDACL, path)
    out: list[Any] = []
    for a in uniq:
        ident = a.id
        if ident is None or ident.scheme is None:
            raise KeeperError(Err.INVALIDACL, path)
        scheme = ident.scheme
        if scheme == "world" and ident.id is None:
            raise _marshalling(path)
        if scheme == "world" and ident.id == "anyone":
            out.append(a)
        elif scheme == "auth":
            # expand to every authenticated id of the caller (ip ids are not "authenticated")
            valid = False
            for cid in auth_ids:
                prov = PROVIDERS.get(cid.scheme)
                if prov is not None and prov[2]:
                    valid = True
                    out.append(r.ACL(a.perms, cid))
            if not valid:
                raise KeeperError(Err.INVALIDACL, path)
        else:
            prov = PROVIDERS.get(scheme)
            if prov is None:
                raise KeeperError(Err.INVALIDACL, path)
            if ident.id is None:
                raise _marshalling(path)
            if not prov[0](ident.id):
                raise KeeperError(Err.INVALIDACL, path)
            out.append(a)
    return out


def redact_digests(acl: list[Any]) -> list[Any]:
    """getACL for callers without ADMIN: digest ids become "user:x" (id.replaceAll(":.*", ":x"))."""
    out = []
    for a in acl:
        ident = a.id
        if ident.scheme == "digest":
            # Java's '.' stops at any line terminator, Python's only at \n
            a = r.ACL(a.perms, r.Id("digest", _REDACT.sub(":x", ident.id)))
        out.append(a)
    return out
