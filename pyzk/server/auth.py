"""Server-side auth providers for the `auth` packet (ProviderRegistry's built-ins).

digest: id "user:password" -> Id("digest", "user:" + base64(sha1("user:password"))), plus
Id("super", "") when it equals the configured super digest (DigestAuthenticationProvider);
ip: the peer's address (IPAuthenticationProvider); x509: the verified client certificate's
subject DN as Java renders it (X509AuthenticationProvider). Any other scheme: AUTHFAILED.
"""

from __future__ import annotations

import base64
import hashlib

import structlog

from ..config.keys import DIGEST_ALGORITHMS
from ..config.model import Config
from ..protocol import records as r
from ..protocol.jute import java_utf8
from ..tree import acl

log = structlog.get_logger("pyzk.auth")


# DigestAuthenticationProvider.digestAlg as a hashlib name: process-wide, like Java's static.
DIGEST_ALG = "sha1"


def digest_of(id_password: str) -> str:
    """DigestAuthenticationProvider.generateDigest."""
    user = id_password.split(":", 1)[0]
    sha = hashlib.new(DIGEST_ALG, id_password.encode("utf-8")).digest()
    return user + ":" + base64.b64encode(sha).decode("ascii")


# authProvider.N class -> the scheme its provider registers (ProviderRegistry.initialize).
PROVIDER_CLASSES = {
    "org.apache.zookeeper.server.auth.SASLAuthenticationProvider": "sasl",
    "org.apache.zookeeper.server.auth.X509AuthenticationProvider": "x509",
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider": "digest",
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider": "ip",
}


def enable_auth_providers(cfg: Config) -> None:
    """Register the ACL schemes this configuration adds: each authProvider.N class pyzk knows,
    and x509 whenever secureClientPort is set (QuorumPeerConfig.configureSSLAuth). Like Java,
    a class that cannot be loaded is only a warning."""
    global DIGEST_ALG
    security = cfg.security
    schemes = {"x509"} if cfg.secure_client_port else set()
    # DigestAuthenticationProvider.enabled=false drops the built-in digest provider (an
    # authProvider.N naming the class registers it again); its digestAlg hashes addauth ids.
    if security.digest_enabled:
        acl.PROVIDERS["digest"] = acl.DIGEST_PROVIDER
    else:
        acl.PROVIDERS.pop("digest", None)
    DIGEST_ALG = DIGEST_ALGORITHMS[security.digest_alg.upper()]
    acl.SASL_ANY_USER[0] = security.let_any_sasl_user
    for key, cls in sorted(cfg.auth_providers.items()):
        scheme = PROVIDER_CLASSES.get(cls)
        if scheme is None:
            log.warning("Problems loading auth provider (pyzk knows only the built-in ones)",
                        key=f"authProvider.{key}", class_name=cls)
        else:
            schemes.add(scheme)
    for scheme in sorted(schemes & set(acl.OPTIONAL_PROVIDERS)):
        acl.enable_provider(scheme)
    if "digest" in schemes:
        acl.PROVIDERS["digest"] = acl.DIGEST_PROVIDER


def authenticate(scheme: str | None, auth: bytes | None, peer_ip: str,
                 super_digest: str | None, peer_cert: bytes | None = None,
                 x509_super_user: str | None = None) -> list[r.Id] | None:
    """Ids the connection gains, or None for AUTHFAILED. x509 needs the certificate the TLS
    handshake verified (X509AuthenticationProvider.handleAuthentication); sasl's provider
    always fails an auth packet (SASLAuthenticationProvider.handleAuthentication)."""
    if scheme == "x509" and peer_cert and "x509" in acl.PROVIDERS:
        return x509_auth_ids(peer_cert, x509_super_user)
    if scheme == "digest" and "digest" in acl.PROVIDERS:
        if auth is None:
            # handleAuthentication's `new String(authData)` throws on a null buffer; processPacket
            # answers the RuntimeException AUTHFAILED and closes the connection.
            return None
        digest = digest_of(java_utf8(auth))
        ids = [r.Id("digest", digest)]
        if super_digest is not None and digest == super_digest:
            ids.append(r.Id("super", ""))
        return ids
    if scheme == "ip":
        return [r.Id("ip", peer_ip)]
    return None


def java_string_hash(s: str) -> int:
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def _id_hash(i: r.Id) -> int:
    """The jute-generated Id.hashCode: 37 * (37 * 17 + scheme) + id, in 32-bit arithmetic."""
    h = (37 * 17 + java_string_hash(i.scheme or "")) & 0xFFFFFFFF
    return (37 * h + java_string_hash(i.id or "")) & 0xFFFFFFFF


def java_set_order(ids: list[r.Id]) -> list[r.Id]:
    """Iteration order of Java's ConcurrentHashMap-backed authInfo set (16 buckets, which
    holds up to 12 ids before resizing); ties keep insertion order."""
    table = 16
    while len(ids) > table * 3 // 4:
        table *= 2

    def bucket(i: r.Id) -> int:
        h = _id_hash(i)
        return ((h ^ (h >> 16)) & 0x7FFFFFFF) & (table - 1)

    return sorted(ids, key=bucket)


def add_auth_ids(auth: list[r.Id], ids: list[r.Id]) -> None:
    """ServerCnxn.addAuthInfo for each id. Java keeps a connection's ids in a set and hands
    out getAuthInfo() in its iteration order, which is the order fixupACL expands an "auth"
    ACL in (so getACL shows it), whoAmI lists and a learner forwards; keep `auth` in it."""
    added = False
    for i in ids:
        if i not in auth:
            auth.append(i)
            added = True
    if added:
        auth[:] = java_set_order(auth)


def client_infos(ids: list[r.Id]) -> list[r.ClientInfo]:
    """AuthUtil.getClientInfos: scheme and the provider's user name (digest: the part before
    ':'; ip: the address; schemes without a provider, like super, or sasl when no
    authProvider.N registers SASLAuthenticationProvider: empty)."""
    out = []
    for i in java_set_order(ids):
        if i.scheme == "digest":
            user = (i.id or "").split(":", 1)[0]
        elif i.scheme in ("ip", "sasl", "x509") and i.scheme in acl.PROVIDERS:
            user = i.id or ""
        else:
            user = ""
        out.append(r.ClientInfo(i.scheme, user))
    return out


# -- x509 (X509AuthenticationProvider) -----------------------------------------------------

# The attribute types java.security X500Principal.getName() (RFC 2253 format) names by keyword;
# every other type is written as its dotted OID with a #hex DER value.
_RFC2253_KEYWORDS = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
    "2.5.4.11": "OU", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
# AVA.isDerString(value, false): string types rendered as text; others (UniversalString...) hex.
_TEXT_TAGS = {19: "ascii", 20: "latin-1", 22: "ascii", 27: "latin-1", 30: "utf-16-be", 12: "utf-8"}
_OTHER_TAGS = {18: "ascii", 26: "ascii", 28: "utf-32-be"}
_ESCAPEES = ',=+<>#;"\\'


def _der_value(tag: int, text: str) -> bytes:
    data = text.encode(_TEXT_TAGS.get(tag) or _OTHER_TAGS.get(tag) or "utf-8")
    n = len(data)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + data


def _ava_rfc2253(oid: str, tag: int, value: str) -> str:
    """AVA.toRFC2253String with no keyword map."""
    keyword = _RFC2253_KEYWORDS.get(oid, oid)
    if keyword[0].isdigit() or tag not in _TEXT_TAGS:
        return f"{keyword}=#{_der_value(tag, value).hex()}"
    chars = []
    for c in value:
        if c in _ESCAPEES:
            chars.append("\\" + c)
        elif c == "\0":
            chars.append("\\00")
        else:
            chars.append(c)
    # Leading and trailing spaces (and CRs) are escaped one by one.
    lead = 0
    while lead < len(chars) and chars[lead] in (" ", "\r"):
        chars[lead] = "\\" + chars[lead]
        lead += 1
    trail = len(chars) - 1
    while trail >= lead and chars[trail] in (" ", "\r"):
        chars[trail] = "\\" + chars[trail]
        trail -= 1
    return f"{keyword}=" + "".join(chars)


def java_dn(cert_der: bytes) -> str:
    """X509Certificate.getSubjectX500Principal().getName(): RDNs last-first, joined by ','
    (multi-valued RDNs by '+'). Raises ValueError for a certificate that cannot be parsed."""
    from cryptography import x509

    subject = x509.load_der_x509_certificate(cert_der).subject
    rdns = []
    for rdn in reversed(list(subject.rdns)):
        rdns.append("+".join(
            _ava_rfc2253(a.oid.dotted_string, int(a._type.value), str(a.value))
            for a in rdn))
    return ",".join(rdns)


def x509_auth_ids(cert_der: bytes, super_user: str | None) -> list[r.Id]:
    """X509AuthenticationProvider.handleAuthentication for a chain the handshake verified:
    Id("super", dn) first when dn is X509AuthenticationProvider.superUser, then Id("x509", dn)."""
    dn = java_dn(cert_der)
    ids = [r.Id("super", dn)] if super_user is not None and dn == super_user else []
    ids.append(r.Id("x509", dn))
    return ids
