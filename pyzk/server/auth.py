"""Server-side auth providers for the `auth` packet (ProviderRegistry's built-ins).

digest: id "user:password" -> Id("digest", "user:" + base64(sha1("user:password"))), plus
Id("super", "") when it equals the configured super digest (DigestAuthenticationProvider);
ip: the peer's address (IPAuthenticationProvider). Any other scheme fails with AUTHFAILED.
"""

from __future__ import annotations

import base64
import hashlib

from ..protocol import records as r


def digest_of(id_password: str) -> str:
    """DigestAuthenticationProvider.generateDigest."""
    user = id_password.split(":", 1)[0]
    sha = hashlib.sha1(id_password.encode("utf-8")).digest()  # noqa: S324 - Java's scheme
    return user + ":" + base64.b64encode(sha).decode("ascii")


def authenticate(scheme: str | None, auth: bytes | None, peer_ip: str,
                 super_digest: str | None) -> list[r.Id] | None:
    """Ids the connection gains, or None for AUTHFAILED."""
    if scheme == "digest":
        digest = digest_of((auth or b"").decode("utf-8", "replace"))
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


def client_infos(ids: list[r.Id]) -> list[r.ClientInfo]:
    """AuthUtil.getClientInfos: scheme and the provider's user name (digest: the part before
    ':'; ip: the address; schemes without a provider, like super: empty)."""
    out = []
    for i in java_set_order(ids):
        if i.scheme == "digest":
            user = (i.id or "").split(":", 1)[0]
        elif i.scheme in ("ip", "sasl", "x509"):
            user = i.id or ""
        else:
            user = ""
        out.append(r.ClientInfo(i.scheme, user))
    return out
