"""Znode path validation exactly as PathUtils.validatePath rejects (as KeeperError BADARGUMENTS)."""

from __future__ import annotations

import re

from ..protocol.codes import Err, KeeperError

# One pass over the path for the hot path; equivalent to the character loop in path_error.
# (chr(0xD800): mypyc, pyzk.tools.compiled, refuses surrogate code points in string literals.)
_BAD = re.compile("[\x00-\x1f\x7f-\x9f" + chr(0xD800) + "-\uf8ff\ufff0-\U0010ffff]|//"
                  "|/\\.\\.?(?:/|$)")


def path_error(path: str | None) -> str | None:
    """The reason PathUtils.validatePath would give, or None when the path is valid.

    Java iterates UTF-16 code units; a non-BMP character is a surrogate pair there, which the
    U+D800..U+F8FF rule rejects, so any code point above U+FFFF is rejected here too.
    """
    if path is None:
        return "Path cannot be null"
    if not path:
        return "Path length must be > 0"
    if path[0] != "/":
        return "Path must start with / character"
    n = len(path)
    if n == 1:
        return None
    if path[-1] == "/":
        return "Path must not end with / character"
    lastc = "/"
    for i in range(1, n):
        c = path[i]
        if c == "\0":
            return f"null character not allowed @{i}"
        if c == "/" and lastc == "/":
            return f"empty node name specified @{i}"
        if c == "." and lastc == ".":
            if path[i - 2] == "/" and (i + 1 == n or path[i + 1] == "/"):
                return f"relative paths not allowed @{i}"
        elif c == ".":
            if path[i - 1] == "/" and (i + 1 == n or path[i + 1] == "/"):
                return f"relative paths not allowed @{i}"
        else:
            o = ord(c)
            if (0 < o <= 0x1F or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xF8FF
                    or 0xFFF0 <= o):
                return f"invalid character @{i}"
        lastc = c
    return None


def validate_path(path: str, sequential: bool = False) -> None:
    """Raise KeeperError(BADARGUMENTS) where PathUtils.validatePath throws."""
    if not is_valid_path(path + "1" if sequential and path is not None else path):
        raise KeeperError(Err.BADARGUMENTS, path)


# Paths found valid lately: most writes and reads name paths seen before (a client's keys, a
# Kafka broker's znodes), and a dict lookup costs less than the regex. Bounded in count and
# in what one entry may hold; cleared when full.
_VALID: dict[str, None] = {}
_VALID_LIMIT = 4096
_VALID_MAX_LEN = 256


def is_valid_path(path: str | None) -> bool:
    if path in _VALID:
        return True
    if not path or path[0] != "/":
        return False
    if len(path) == 1:
        return True
    if path[-1] == "/" or _BAD.search(path) is not None:
        return False
    if len(path) <= _VALID_MAX_LEN:
        if len(_VALID) >= _VALID_LIMIT:
            _VALID.clear()
        _VALID[path] = None
    return True
