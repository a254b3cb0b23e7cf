"""ZooKeeper's KerberosName: service[/host]@REALM principals and their short names.

SaslServerCallbackHandler turns every authenticated SASL id (DIGEST-MD5 user names too) into
the id ZooKeeper records: the short name, then "/host" unless
zookeeper.kerberos.removeHostFromPrincipal=true, then "@REALM" unless
zookeeper.kerberos.removeRealmFromPrincipal=true. The short name comes from the auth_to_local
rules (zookeeper.security.auth_to_local, default "DEFAULT": a principal of the default realm
maps to its first component; any other realm matches no rule), Hadoop's syntax:
RULE:[<components>:<format with $0 realm, $1.. components>](<regex>)s/<regex>/<replacement>/[g].
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"([^/@]*)(/([^/@]*))?@([^/@]*)", re.DOTALL)
_RULE = re.compile(r"\s*((DEFAULT)|(RULE:\[(\d*):([^\]]*)](\(([^)]*)\))?"
                   r"(s/([^/]*)/([^/]*)/(g)?)?))")
_PARAM = re.compile(r"([^$]*)(\$(\d*))?")
_NON_SIMPLE = re.compile(r"[/@]")


class MalformedName(ValueError):
    """new KerberosName(name) throws IllegalArgumentException."""


class NoMatchingRule(Exception):
    """getShortName: no auth_to_local rule applies, or one is badly formed for this name (an
    IOException in Java: the SASL id stays the client's authorization id)."""


class BadRules(ValueError):
    """zookeeper.security.auth_to_local cannot be parsed (Java's KerberosName class fails to
    initialise, so every SASL login fails)."""


class RuleRuntimeError(Exception):
    """A rule fails with a RuntimeException in Java (a $n one past the components, a
    replacement naming a group the pattern lacks): the connection closes unanswered."""


def _java_replacement(to: str, m: re.Match[str]) -> str:
    """Matcher.appendReplacement: $n is group n (as many digits as still name a group),
    a backslash quotes the next character."""
    out: list[str] = []
    i = 0
    while i < len(to):
        c = to[i]
        if c == "\\":
            i += 1
            if i >= len(to):
                raise RuleRuntimeError("character to be escaped is missing")
            out.append(to[i])
            i += 1
        elif c == "$":
            i += 1
            if i >= len(to) or not to[i].isdigit():
                raise RuleRuntimeError("Illegal group reference")
            num = int(to[i])
            i += 1
            if num > m.re.groups:
                raise RuleRuntimeError(f"No group {num}")
            while i < len(to) and to[i].isdigit() and num * 10 + int(to[i]) <= m.re.groups:
                num = num * 10 + int(to[i])
                i += 1
            out.append(m.group(num) or "")
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Rule:
    """One auth_to_local rule; DEFAULT when `components` is None."""

    components: int | None = None
    fmt: str = ""
    match: re.Pattern[str] | None = None
    subst: re.Pattern[str] | None = None
    to: str = ""
    repeat: bool = False

    def __str__(self) -> str:
        if self.components is None:
            return "DEFAULT"
        out = f"RULE:[{self.components}:{self.fmt}]"
        if self.match is not None:
            out += f"({self.match.pattern})"
        if self.subst is not None:
            out += f"s/{self.subst.pattern}/{self.to}/" + ("g" if self.repeat else "")
        return out

    def apply(self, params: Sequence[str], default_realm: str) -> str | None:
        """params: realm, then the components. The short name, or None when not applicable."""
        result: str | None = None
        if self.components is None:
            if params[0] == default_realm:
                result = params[1]
        elif len(params) - 1 == self.components:
            base = _format(self.fmt, params)
            if self.match is None or self.match.fullmatch(base):
                if self.subst is None:
                    result = base
                else:
                    result = self.subst.sub(lambda m: _java_replacement(self.to, m), base,
                                            count=0 if self.repeat else 1)
        if result is not None and _NON_SIMPLE.search(result):
            raise NoMatchingRule(f"Non-simple name {result} after auth_to_local rule {self}")
        return result


def _format(fmt: str, params: Sequence[str]) -> str:
    """replaceParameters: $n is params[n]; a bare $ or an index past the end is refused."""
    out: list[str] = []
    start = 0
    while start < len(fmt):
        m = _PARAM.match(fmt, start)
        if m is None or m.end() == start:
            break
        out.append(m.group(1))
        num = m.group(3)
        if num is not None:
            if not num:
                raise NoMatchingRule(f"bad format in username mapping in {num}")
            n = int(num)
            if n > len(params):
                raise NoMatchingRule(f"index {n} from {fmt} is outside of the valid range 0 "
                                     f"to {len(params) - 1}")
            if n == len(params):
                raise RuleRuntimeError(f"Index {n} out of bounds for length {n}")
            out.append(params[n])
        start = m.end()
    return "".join(out)


def parse_rules(text: str) -> tuple[Rule, ...]:
    """KerberosName.parseRules; BadRules where Java's throws."""
    rules: list[Rule] = []
    remaining = text.strip()
    while remaining:
        m = _RULE.match(remaining)
        if m is None:
            raise BadRules(f"Invalid rule: {remaining}")
        if m.group(2) is not None:
            rules.append(Rule())
        else:
            if not m.group(4):
                raise BadRules(f'For input string: "{m.group(4)}"')
            try:
                rules.append(Rule(int(m.group(4)), m.group(5),
                                  re.compile(m.group(7)) if m.group(7) is not None else None,
                                  re.compile(m.group(9)) if m.group(9) is not None else None,
                                  m.group(10) or "", m.group(11) == "g"))
            except re.error as e:
                raise BadRules(f"Invalid rule: {remaining}: {e}") from None
        remaining = remaining[m.end():]
    return tuple(rules)


DEFAULT_RULES = (Rule(),)


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

    def short_name(self, default_realm: str, rules: Sequence[Rule] = DEFAULT_RULES) -> str:
        if self.realm is None:  # a simple name (no '@'): already short
            return self.service
        params = [self.realm, self.service] + ([self.host] if self.host is not None else [])
        for rule in rules:
            out = rule.apply(params, default_realm)
            if out is not None:
                return out
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
                  remove_realm: bool, rules: Sequence[Rule] = DEFAULT_RULES) -> str | None:
    """SaslServerCallbackHandler.handleAuthorizeCallback's id, or None when no rule applies
    (the SASL server then keeps the client's authorization id). MalformedName and
    RuleRuntimeError propagate."""
    name = KerberosName.parse(authentication_id)
    try:
        out = name.short_name(realm, rules)
    except NoMatchingRule:
        return None
    if not remove_host and name.host is not None:
        out += "/" + name.host
    if not remove_realm and name.realm is not None:
        out += "@" + name.realm
    return out
