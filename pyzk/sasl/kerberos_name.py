"""ZooKeeper's KerberosName: service[/host]@REALM principals and their short names.

SaslServerCallbackHandler turns every authenticated SASL id (DIGEST-MD5 user names too) into
the id ZooKeeper records: the short name, then "/host" unless
zookeeper.kerberos.removeHostFromPrincipal=true, then "@REALM" unless
zookeeper.kerberos.removeRealmFromPrincipal=true. The short name comes from the auth_to_local
rules (zookeeper.security.auth_to_local, default "DEFAULT": a principal of the default realm
maps to its first component; any other realm matches no rule).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"([^/@]*)(/([^/@]*))?@([^/@]*)", re.DOTALL)


class MalformedName(ValueError):
    """new KerberosName(name) throws IllegalArgumentException."""


class NoMatchingRule(Exception):
    """getShortName: no auth_to_local rule applies (an IOException in Java)."""


@dataclass(frozen=True)
class KerberosName:
    service: str
    host: str | None
    realm: str | None

    @classmethod
    def parse(cls, name: str) -> KerberosName:
        m = _NAME.fullmatch(name)
        if m is None:
            if "@" in name:
                raise MalformedName(f"Malformed Kerberos name: {name}")
            return cls(name, None, None)
        return cls(m.group(1), m.group(3), m.group(4))

    def short_name(self, default_realm: str) -> str:
        if self.host is None and self.realm is None:
            return self.service
        if self.realm == default_realm:  # the DEFAULT rule
            return self.service
        raise NoMatchingRule(f"No rules applied to {self}")

    def __str__(self) -> str:
        out = self.service
        if self.host is not None:
            out += "/" + self.host
        if self.realm is not None:
            out += "@" + self.realm
        return out


def default_realm(krb5_conf: str | None = None) -> str:
    """default_realm of [libdefaults] in the Kerberos configuration (KRB5_CONFIG, else
    /etc/krb5.conf), or "" when there is none (KerberosName's fallback)."""
    path = Path(krb5_conf or os.environ.get("KRB5_CONFIG", "") or "/etc/krb5.conf")
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[] ").lower()
        elif section == "libdefaults" and "=" in line:
            key, _, value = line.partition("=")
            if key.strip() == "default_realm":
                return value.strip()
    return ""


def authorized_id(authentication_id: str, realm: str, remove_host: bool,
                  remove_realm: bool) -> str | None:
    """SaslServerCallbackHandler.handleAuthorizeCallback's id, or None when no rule applies
    (the SASL server then keeps the client's authorization id). MalformedName propagates."""
    name = KerberosName.parse(authentication_id)
    try:
        out = name.short_name(realm)
    except NoMatchingRule:
        return None
    if not remove_host and name.host is not None:
        out += "/" + name.host
    if not remove_realm and name.realm is not None:
        out += "@" + name.realm
    return out
