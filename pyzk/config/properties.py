"""java.util.Properties text syntax, the way ZooKeeper's QuorumPeerConfig.parse loads zoo.cfg.

Owns splitting text into logical lines, comments, continuations, key/value separation and
backslash escapes (java.util.Properties.load / LineReader / loadConvert), keeping line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Properties treats only space, tab and form feed as whitespace between tokens.
_WS = " \t\f"
# Natural line terminators: \r\n, \r or \n (never the extra ones str.splitlines knows).
_EOL = re.compile(r"\r\n|\r|\n")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class PropertiesSyntaxError(ValueError):
    """Malformed input Java would also reject (a bad \\uXXXX escape); carries the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Prop:
    """One key/value pair as written; line is the 1-based natural line the entry starts on."""

    key: str
    value: str
    line: int


def java_trim(s: str) -> str:
    """String.trim(): strip every char <= U+0020 at both ends (QuorumPeerConfig trims keys
    and values this way, so an escaped trailing \\n or \\t disappears too)."""
    start, end = 0, len(s)
    while start < end and s[start] <= " ":
        start += 1
    while end > start and s[end - 1] <= " ":
        end -= 1
    return s[start:end]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines; drop blank and comment lines. Returns (first line no, text)."""
    naturals = _EOL.split(text)
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(naturals):
        lineno = i + 1
        line = naturals[i].lstrip(_WS)
        i += 1
        # A comment line is never continued, even when it ends with a backslash.
        if not line or line[0] in "#!":
            continue
        parts: list[str] = []
        while True:
            trailing = len(line) - len(line.rstrip("\\"))
            if trailing % 2 == 1:
                parts.append(line[:-1])
                if i >= len(naturals):
                    break  # backslash at end of input: Java drops it
                line = naturals[i].lstrip(_WS)
                i += 1
                continue
            parts.append(line)
            break
        out.append((lineno, "".join(parts)))
    return out


def _unescape(s: str, lineno: int) -> str:
    """loadConvert: \\t \\n \\r \\f, \\uXXXX, and backslash + any other char = that char."""
    if "\\" not in s:
        return s
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        i += 1
        if c != "\\" or i >= n:
            # A lone trailing backslash cannot survive _logical_lines; keep it if it does.
            out.append(c)
            continue
        c = s[i]
        i += 1
        if c == "u":
            hexpart = s[i:i + 4]
            if len(hexpart) != 4 or any(h not in "0123456789abcdefABCDEF" for h in hexpart):
                raise PropertiesSyntaxError(lineno, "Malformed \\uxxxx encoding.")
            out.append(chr(int(hexpart, 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(c, c))
    return "".join(out)


def _split_key_value(line: str) -> tuple[str, str]:
    """Key ends at the first unescaped '=', ':' or whitespace; then whitespace and at most
    one '=' or ':' (and whitespace after it) are skipped (Properties.load0)."""
    key_len = len(line)
    value_start = len(line)
    has_sep = False
    backslash = False
    for idx, c in enumerate(line):
        if c in "=:" and not backslash:
            key_len, value_start, has_sep = idx, idx + 1, True
            break
        if c in _WS and not backslash:
            key_len, value_start = idx, idx + 1
            break
        backslash = (not backslash) if c == "\\" else False
    while value_start < len(line):
        c = line[value_start]
        if c not in _WS:
            if not has_sep and c in "=:":
                has_sep = True
            else:
                break
        value_start += 1
    return line[:key_len], line[value_start:]


def parse_properties(text: str) -> list[Prop]:
    """Every entry in file order (duplicates kept; in Java the last one wins)."""
    props: list[Prop] = []
    for lineno, line in _logical_lines(text):
        raw_key, raw_value = _split_key_value(line)
        props.append(Prop(_unescape(raw_key, lineno), _unescape(raw_value, lineno), lineno))
    return props


def decode_config_bytes(data: bytes) -> str:
    """Java's Properties.load(InputStream) reads ISO-8859-1. pyzk reads UTF-8 first so that
    non-ASCII paths mean what their author wrote, falling back to Latin-1 like Java."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def java_string_hash(s: str) -> int:
    """String.hashCode over UTF-16 code units, as a signed 32-bit int's bit pattern."""
    h = 0
    data = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def java_properties_order(keys: list[str]) -> list[str]:
    """The order java.util.Properties (JDK 9+, a ConcurrentHashMap(8) inside) iterates keys
    put in the given order: QuorumPeerConfig.editStaticConfig writes zoo.cfg back this way.
    Emulates ConcurrentHashMap: table of 16 bins, spread(hash) & (n-1), a bin lists its keys
    in insertion order, the table doubles once the count reaches 3/4 of it, and
    ConcurrentHashMap.transfer splits each bin keeping the run of keys at its tail that go to
    the same half and putting the earlier ones in front, reversed. (Bins of 8+ keys, which
    Java turns into trees, do not occur with zoo.cfg keys.)"""
    n = 16
    table: list[list[tuple[int, str]]] = [[] for _ in range(n)]
    seen: set[str] = set()
    count = 0
    for key in keys:
        if key in seen:
            continue  # a replaced value keeps its key's place
        seen.add(key)
        h = java_string_hash(key)
        h = (h ^ (h >> 16)) & 0x7FFFFFFF  # ConcurrentHashMap.spread
        table[h & (n - 1)].append((h, key))
        count += 1
        if count >= n - (n >> 2):
            table = _transfer(table, n)
            n *= 2
    return [key for bin_ in table for _, key in bin_]


def _transfer(table: list[list[tuple[int, str]]], n: int) -> list[list[tuple[int, str]]]:
    new: list[list[tuple[int, str]]] = [[] for _ in range(2 * n)]
    for i, nodes in enumerate(table):
        if not nodes:
            continue
        last_run = 0  # index of the first node of the tail run going to one half
        for j in range(1, len(nodes)):
            if (nodes[j][0] & n) != (nodes[j - 1][0] & n):
                last_run = j
        low = [p for p in reversed(nodes[:last_run]) if not p[0] & n]
        high = [p for p in reversed(nodes[:last_run]) if p[0] & n]
        run = nodes[last_run:]
        if run[0][0] & n:
            high += run
        else:
            low += run
        new[i], new[i + n] = low, high
    return new
