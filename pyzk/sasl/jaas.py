"""JAAS login configuration files (the JDK's ConfigFile syntax), as ZooKeeper servers read them.

    Server {
        org.apache.zookeeper.server.auth.DigestLoginModule required
        user_super="adminsecret"
        user_bob="bobsecret";
    };

Sections name login modules, each with a control flag and key=value options; values are quoted
strings (with backslash escapes) or bare words, and may use ${property} expansion. Comments are
// and /* */. A syntax error is JaasError with the file and line, as the JDK refuses the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

FLAGS = ("REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL")


class JaasError(Exception):
    """The file cannot be used (Configuration.getConfiguration throws SecurityException)."""


@dataclass(frozen=True)
class LoginModule:
    class_name: str
    flag: str  # REQUIRED | REQUISITE | SUFFICIENT | OPTIONAL
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Token:
    kind: str  # "word" | "string" | "number" | a single punctuation character
    value: str
    line: int


def _is_word_start(c: str) -> bool:
    return c.isascii() and c.isalpha() or c in "$_*" or 160 <= ord(c) <= 255


def _is_word_part(c: str) -> bool:
    return _is_word_start(c) or c.isdigit() and c.isascii() or c in ".-"


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def tokenize(text: str, name: str) -> list[Token]:
    """java.io.StreamTokenizer as ConfigFile sets it up."""
    out: list[Token] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c == "\r":
            line += 1
            i += 2 if text[i + 1:i + 2] == "\n" else 1
        elif ord(c) <= 32:
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] not in "\r\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            chunk = text[i:] if end < 0 else text[i:end + 2]
            line += chunk.count("\n")
            i = n if end < 0 else end + 2
        elif c == "/":  # StreamTokenizer's default comment character
            while i < n and text[i] not in "\r\n":
                i += 1
        elif c in "\"'":
            start_line = line
            i += 1
            buf = []
            while i < n and text[i] != c and text[i] not in "\r\n":
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    i += 1
                    e = text[i]
                    if e in "01234567":
                        j = i
                        while j < n and j - i < (3 if e <= "3" else 2) and text[j] in "01234567":
                            j += 1
                        buf.append(chr(int(text[i:j], 8)))
                        i = j
                        continue
                    buf.append(_ESCAPES.get(e, e))
                    i += 1
                    continue
                buf.append(ch)
                i += 1
            if i < n and text[i] == c:
                i += 1
            out.append(Token("string" if c == '"' else "'", "".join(buf), start_line))
        elif c.isdigit() and c.isascii() or c in ".-":
            j = i + 1
            while j < n and (text[j].isdigit() and text[j].isascii() or text[j] == "."):
                j += 1
            out.append(Token("number", text[i:j], line))
            i = j
        elif _is_word_start(c):
            j = i + 1
            while j < n and _is_word_part(text[j]):
                j += 1
            out.append(Token("word", text[i:j], line))
            i = j
        else:
            out.append(Token(c, c, line))
            i += 1
    return out


def expand(value: str, props: Mapping[str, str]) -> str:
    """PropertyExpander.expand: ${name} from the system properties, ${/} the separator."""
    out = []
    i = 0
    while i < len(value):
        start = value.find("${", i)
        if start < 0:
            out.append(value[i:])
            break
        end = value.find("}", start)
        if end < 0:
            out.append(value[i:])
            break
        out.append(value[i:start])
        prop = value[start + 2:end]
        if prop == "/":
            out.append("/")
        elif prop in props:
            out.append(props[prop])
        else:
            raise JaasError(f"unable to expand property {prop}")
        i = end + 1
    return "".join(out)


def parse(text: str, name: str, props: Mapping[str, str] | None = None) -> dict[str, list[LoginModule]]:
    """Sections of a JAAS file: {section name: its login modules}."""
    props = _default_props(props or {})
    toks = tokenize(text, name)
    pos = 0

    def err(msg: str, tok: Token | None) -> JaasError:
        where = f"{name}:{tok.line}" if tok else name
        return JaasError(f"{where}: {msg}")

    def peek() -> Token | None:
        return toks[pos] if pos < len(toks) else None

    def take(expect: str, kinds: tuple[str, ...]) -> Token:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise err(f"expected [{expect}], read [end of file]", toks[-1] if toks else None)
        if tok.kind not in kinds:
            raise err(f"expected [{expect}], found [{tok.value}]", tok)
        pos += 1
        return tok

    sections: dict[str, list[LoginModule]] = {}
    while peek() is not None:
        head = take("application name", ("word", "string"))
        take("{", ("{",))
        modules: list[LoginModule] = []
        while (t := peek()) is not None and t.kind != "}":
            cls = take("module class name", ("word", "string")).value
            flag_tok = take("controlFlag", ("word", "string"))
            flag = flag_tok.value.upper()
            if flag not in FLAGS:
                raise err(f"Invalid control flag, {flag}", flag_tok)
            options: dict[str, str] = {}
            while (t := peek()) is not None and t.kind != ";":
                key = take("option key", ("word", "string")).value
                take("=", ("=",))
                options[key] = expand(take("option value", ("word", "string")).value, props)
            take(";", (";",))
            modules.append(LoginModule(cls, flag, options))
        take("}", ("}",))
        take(";", (";",))
        if head.value in sections:
            raise err(f"Can not specify multiple entries for {head.value}", head)
        sections[head.value] = modules
    return sections


def _default_props(props: Mapping[str, str]) -> dict[str, str]:
    base = {"user.home": str(Path.home()), "user.dir": os.getcwd(),
            "user.name": os.environ.get("USER", ""), "file.separator": "/",
            "path.separator": ":", "line.separator": "\n"}
    base.update(props)
    return base


def config_path(value: str) -> Path:
    """The java.security.auth.login.config value as a file: a leading '=' (this file only)
    is dropped, and a file: URL is turned into its path."""
    if value.startswith("="):
        value = value[1:]
    if value.startswith("file:"):
        return Path(unquote(urlparse(value).path))
    return Path(value)


def load(value: str, props: Mapping[str, str] | None = None) -> dict[str, list[LoginModule]]:
    """Read and parse the file java.security.auth.login.config names."""
    path = config_path(value)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise JaasError(f"{path}: {e.strerror or e}") from None
    return parse(data.decode("utf-8", "replace"), str(path), props)
