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
