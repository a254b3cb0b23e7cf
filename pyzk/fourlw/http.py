"""HTTP/1.1 request heads and URIs as Jetty 9.4 (JettyAdminServer's HttpParser, HttpURI and
servlet mapping) takes them, without I/O: the AdminServer feeds bytes in and gets a decision.

What Jetty refuses, and with which status (checked against Java 3.8.0 with Jetty 9.4 by
tests/integration/test_admin_fuzz.py):
- a head (request line and fields, leading blank lines not counted) over 8192 bytes: 414 when
  the limit falls inside the request target, else 431;
- a request line that is not `method SP+ target SP+ version` (a visible byte then token
  characters for the method, no control bytes or bad UTF-8 in the target), a CR not before LF:
  400; no version (HTTP/0.9): 505;
  a version other than HTTP/1.0 or HTTP/1.1 (any case): 505, or 426 for HTTP/2.0;
- obs-fold, a field without a name or colon, a space before the colon, control bytes in a
  value: 400; Content-Length that is not one plain decimal (or given twice), a
  Transfer-Encoding other than one `chunked`, both at once: 400; HTTP/1.1 without Host, or with
  Upgrade: 400; an Expect other than 100-continue: 417;
- a target that is neither `/...` nor absolute, bad %-escapes, %00, raw bytes that are not
  UTF-8, `..` above the root: 400; a query with bad %-escapes or that is not UTF-8 once
  decoded: 400 (only where the servlet reads its parameters: a command).
What Jetty takes that a strict reader would not, kept here because Java answers it: blank lines
and colons before a request (and any CR/LF between pipelined ones), LF-only line ends, a method
or known "Name: " matched 7 bits a byte by its caches ("\xc7ET /" is GET /), %-escape digits
as TypeUtil.convertHexDigit reads them ('%=3' is 0xd3), a path that is not UTF-8 decoded as
ISO-8859-1, chunk sizes followed by anything up to LF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 8192  # HttpConfiguration.requestHeaderSize
_TCHAR = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_TARGET = re.compile(rb"[\x00-\x20]")  # DEL passes (Jetty's URI state)
_VCHARS = re.compile(rb"[\x21-\x7e]+")
_SCHEME_END = re.compile(rb"[:/;?#%]")
PARSE_ERRORS = frozenset({400, 414, 417, 426, 431, 505})


@dataclass
class Head:
    method: str
    target: bytes
    version: str
    fields: list[tuple[str, bytes]] = field(default_factory=list)

    def values(self, name: str) -> list[bytes]:
        return [v for k, v in self.fields if k == name]

    def tokens(self, name: str, drop_params: bool = False) -> list[str]:
        """Comma-separated values, lower case; drop_params: each without its ;parameters (as
        HttpField.contains finds "close" in "close;x", while "chunked;" is not chunked)."""
        out = [(t.partition(";")[0] if drop_params else t).strip(" \t").lower()
               for v in self.values(name) for t in v.decode("latin-1").split(",")]
        return [t for t in out if t]  # only SP and HTAB are white space (not NBSP, 0xa0)

    @property
    def keep_alive(self) -> bool:
        conn = self.tokens("connection", drop_params=True)
        return "close" not in conn if self.version == "HTTP/1.1" else "keep-alive" in conn


@dataclass(frozen=True)
class Body:
    length: int = 0        # bytes to skip after the head
    chunked: bool = False  # or a chunked body to skip


class HeadParser:
    """Feed bytes; `result` becomes a Head (and `rest` the bytes after it), an int status for a
    head Jetty refuses, or stays None while more bytes are needed."""

    def __init__(self, after_request: bool = False) -> None:
        """after_request: a request before this one on the connection (Jetty then eats any CR
        and LF bytes up to the next request; at the start only CRLF or LF line ends)."""
        self.after_request = after_request
        self.skipped = False
        self.buf = b""
        self.used = 0           # bytes of the head taken so far (after leading blank lines)
        self.head: Head | None = None
        self.result: Head | int | None = None
        self.rest = b""

    @property
    def started(self) -> bool:
        return self.head is not None or self._skip(self.buf)[0] not in (b"", b"\r")

    def _skip(self, buf: bytes) -> tuple[bytes, bool]:
        """What is left once the bytes Jetty skips before a request are gone: after a request
        any CR and LF; then (HttpParser.quickStart) colons and LF or CRLF line ends. And
        whether quickStart skipped any (then its method cache lookup did not apply)."""
        if self.after_request:
            buf = buf.lstrip(b"\r\n")
        rest = _skip_blank(buf)
        return rest, len(rest) != len(buf)

    def feed(self, data: bytes) -> Head | int | None:
        self.buf += data
        if self.head is None:
            self.buf, skipped = self._skip(self.buf)
            self.skipped = self.skipped or skipped
        pos = 0  # lines are taken by offset: many pipelined requests in one read stay linear
        while self.result is None:
            nl = self.buf.find(b"\n", pos)
            if nl < 0:
                if self.used + len(self.buf) - pos > MAX_HEAD_BYTES:
                    self.result = self._too_large(self.buf[pos:])
                break
            line = self.buf[pos:nl]
            if self.used + len(line) + 1 > MAX_HEAD_BYTES:
                self.result = self._too_large(line)
                break
            self.used += len(line) + 1
            pos = nl + 1
            self.result = self._line(line[:-1] if line.endswith(b"\r") else line)
        self.buf = self.buf[pos:]
        if self.result is not None:
            self.rest, self.buf = self.buf, b""
        return self.result

    def _too_large(self, line: bytes) -> int:
        """414 when byte MAX_HEAD_BYTES + 1 is inside the request target, else 431."""
        if self.head is not None:
            return 431
        cut = MAX_HEAD_BYTES - self.used
        first = line.find(b" ")
        second = line.find(b" ", first + 1)
        in_target = 0 <= first < cut and (second < 0 or second >= cut)
        return 414 if in_target else 431

    def _line(self, line: bytes) -> Head | int | None:
        if b"\r" in line:
            return 400
        if self.head is None:
            head = request_line(line, cache=not self.skipped)
            if isinstance(head, int):
                return head
            self.head = head
            return None
        if not line:
            return head_complete(self.head)
        parsed = field_line(line)
        if isinstance(parsed, int):
            return parsed
        self.head.fields.append(parsed)
        return None


def field_line(line: bytes) -> tuple[str, bytes] | int:
    """(lower-case name, value) of a header or trailer line (its CRLF gone), or 400."""
    if line[:1] in (b" ", b"\t"):
        return 400  # obs-fold (RFC7230 compliance)
    name, colon, value = _cached_field(line) or line.partition(b":")
    if not colon or not _TCHAR.fullmatch(name):
        return 400
    value = value.strip(b" \t")
    if _BAD_VALUE.search(value):
        return 400
    return name.decode("ascii").lower(), value


# Names in Jetty's header cache (HttpHeader), looked up with their colon 7 bits a byte:
# "C\xefnnection:" is Connection there, though the same high byte in another name is a 400.
_CACHED_NAMES = frozenset(
    b"host connection content-length transfer-encoding content-type accept accept-encoding "
    b"accept-language accept-charset user-agent cookie authorization cache-control pragma "
    b"referer expect upgrade keep-alive te trailer via date if-modified-since "
    b"if-none-match range origin x-forwarded-for".split())


# Whole fields in the same cache (the value as cached replaces the bytes that matched it).
_CACHED_FIELDS = (b"connection: close", b"connection: keep-alive", b"connection: upgrade",
                  b"content-length: 0", b"transfer-encoding: chunked")
_CACHED_PREFIX = max(len(n) + 2 for n in _CACHED_NAMES | set(_CACHED_FIELDS))


def _cached_field(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(name, b":", value) when the line starts with a cached "Name: " (colon and space),
    compared 7 bits a byte ("Host\xba x" is Host: x), and some byte of that start is not
    ASCII (else the plain parse gives the same)."""
    if max(line[:_CACHED_PREFIX], default=0) < 0x80 or line[0] >= 0x80:
        return None  # all ASCII: the plain parse is the same; the first byte is read plainly
    low = bytes(b & 0x7F for b in line[:_CACHED_PREFIX]).lower()
    for whole in _CACHED_FIELDS:  # whole fields first: the longest match wins
        if low.startswith(whole):
            name, _, value = whole.partition(b": ")
            return name, b":", value + line[len(whole):]
    for name in _CACHED_NAMES:
        if low.startswith(name + b": ") and max(line[:len(name) + 2]) >= 0x80:
            return name, b":", line[len(name) + 1:]
    return None


_CACHED_METHODS = frozenset(
    b"GET POST HEAD PUT OPTIONS DELETE TRACE CONNECT MOVE PROXY PRI".split())


def _look_ahead(line: bytes) -> tuple[bytes, bytes] | None:
    """HttpMethod.lookAheadGet: (method, the rest) when the line starts with a method and its
    space, compared 7 bits a byte ("\xc7ET /" and "GET\xa0/" are GET /)."""
    for method in _CACHED_METHODS:
        n = len(method) + 1
        if bytes(b & 0x7F for b in line[:n]) == method + b" ":
            return method, line[n:]
    return None


def _skip_blank(buf: bytes) -> bytes:
    """Leading colons and CRLF or LF line ends gone; a CR without its LF stays (a 400)."""
    while buf.startswith((b"\r\n", b"\n", b":")):
        buf = buf[2:] if buf[:1] == b"\r" else buf[1:]
    return buf


def request_line(line: bytes, cache: bool = True) -> Head | int:
    """cache: the line is where the request's bytes start (HttpParser.quickStart looks the
    method up in its cache there); else any visible first byte starts a method, METHOD then
    takes only token characters."""
    ahead = _look_ahead(line) if cache else None
    method, sp, rest = (ahead[0], b" ", ahead[1]) if ahead else line.partition(b" ")
    if not sp or not _VCHARS.fullmatch(method[:1]):
        return 400
    if not _TCHAR.fullmatch(method[1:] or b"x"):
        return 400
    target, sp, version = rest.lstrip(b" ").partition(b" ")
    if not target or _BAD_TARGET.search(target) or not _utf8(target, partial_end=True):
        return 400
    if not _VCHARS.fullmatch(target[:1]):
        return 400  # SPACE1: a target starts with a visible ASCII byte (not DEL, not 0x80+)
    if not sp:
        return 505  # HTTP/0.9
    version = version.lstrip(b" ")  # spaces after the target are skipped
    if not _VCHARS.fullmatch(version):
        return 400
    v = version.decode("latin-1").upper()
    if v == "HTTP/2.0":
        return 426
    if v not in ("HTTP/1.0", "HTTP/1.1"):
        return 505
    return Head(method.decode("ascii"), target, v)


def _utf8(data: bytes, partial_end: bool = False) -> bool:
    """Valid UTF-8; partial_end: a sequence cut short at the end passes (HttpParser's
    Utf8StringBuilder only fails on a bad byte)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return partial_end and e.reason == "unexpected end of data"
    return True


def head_complete(head: Head) -> Head | int:
    lengths = head.values("content-length")
    coding = head.tokens("transfer-encoding")
    if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        return 400
    if lengths and int(lengths[0]) >= 1 << 63:
        return 400
    if head.values("transfer-encoding") and (coding != ["chunked"] or lengths):
        return 400
    if head.version == "HTTP/1.1" and (not head.values("host") or head.values("upgrade")):
        return 400
    if not all(_host_ok(h) for h in head.values("host")):
        return 400
    expect = head.tokens("expect") if head.version == "HTTP/1.1" else []
    return 417 if expect and expect != ["100-continue"] else head


def _host_ok(value: bytes) -> bool:
    """HostPort: one colon (not bracketed IPv6) must be followed by a port 1..65535."""
    if value.startswith(b"["):
        _, bracket, port = value.partition(b"]")
        return bool(bracket) and (not port or (port[:1] == b":" and _port_ok(port[1:])))
    if value.count(b":") != 1:
        return True
    return _port_ok(value.partition(b":")[2])


def _port_ok(port: bytes) -> bool:
    """HostPort.parsePort: Integer.parseInt (a sign allowed), then 1..65535."""
    digits = port[1:] if port[:1] in (b"+", b"-") else port
    return digits.isdigit() and 1 <= int(port) <= 65535


def body_of(head: Head) -> Body:
    if head.values("transfer-encoding"):
        return Body(chunked=True)
    lengths = head.values("content-length")
    return Body(int(lengths[0]) if lengths else 0)


def _hex(c: int) -> int:
    """TypeUtil.convertHexDigit: also takes ':;<=>?' (10-15) and '@', '`' (9); -1 if not."""
    d = (c & 0x1F) + ((c >> 6) * 0x19) - 0x10
    return d if 0 <= d <= 15 and c < 0x80 else -1


def _unescape(raw: bytes) -> bytes | None:
    """%XX decoded (the path), the digits as convertHexDigit reads them; None for a bad or cut
    escape."""
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:  # %
            if i + 2 >= len(raw) or _hex(raw[i + 1]) < 0 or _hex(raw[i + 2]) < 0:
                return None
            out.append(_hex(raw[i + 1]) * 16 + _hex(raw[i + 2]))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def canonical(path: str) -> str | None:
    """URIUtil.canonicalPath: `.` and `..` segments resolved; None above the root."""
    out: list[str] = []
    trailing = False
    for seg in path.split("/")[1:]:
        trailing = seg in (".", "..")
        if seg == "..":
            if not out:
                return None
            out.pop()
        elif seg != ".":
            out.append(seg)
    joined = "/" + "/".join(out)
    return joined + "/" if trailing and out else joined


def _split_target(target: bytes) -> tuple[bytes, bytes]:
    """(raw path, raw query): the path ends at '?' or '#', except within a %-escape's two
    bytes (HttpURI: "/con%f?x" is all path, "%f?" decoding to 0xff)."""
    i = 0
    while i < len(target) and target[i] not in b"?#":
        i += 3 if target[i] == 0x25 else 1
    path, rest = target[:i], target[i:]
    return path, (rest[1:].partition(b"#")[0] if rest[:1] == b"?" else b"")


def _absolute_target(target: bytes) -> bytes | None:
    """The path (with query) of an absolute target as HttpURI reads it; None: a 400. The
    scheme: what precedes the first ':' when none of / ; ? # % comes earlier (* or . first
    start a path); then "//" and an authority (host up to the next '/'; no path: "/") or a
    path starting with '/' ("x:/a" is /a). Checked against Java 3.8.0: "x:", "x:?a" are 400;
    '?', '#' or '@' inside the authority, or a port that is not digits, is 400 too."""
    m = _SCHEME_END.search(target)
    if m is None or m.group() != b":" or m.start() == 0 or target[:1] in (b"*", b"."):
        return None
    if not target[:m.start()].isascii():
        return None
    rest = target[m.end():]
    if not rest.startswith(b"//"):
        return rest if rest.startswith(b"/") else None
    slash = rest.find(b"/", 2)
    host = rest[2:] if slash < 0 else rest[2:slash]
    if any(c in host for c in b"?#@"):
        return None
    port = host[host.rfind(b"]") + 1:].partition(b":")[2] if host.startswith(b"[") else \
        host.partition(b":")[2]
    if port and not port.isdigit():
        return None
    return b"/" if slash < 0 else rest[slash:]


def decode_target(target: bytes) -> tuple[str, bytes] | None:
    """(decoded canonical path, raw query) as HttpURI gives them; None: a 400."""
    if not _utf8(target):
        return None
    if not target.startswith(b"/"):
        absolute = _absolute_target(target)
        if absolute is None:
            return None
        target = absolute
    raw, query = _split_target(target)
    raw = b"/".join(seg.partition(b";")[0] for seg in raw.split(b"/"))  # path parameters
    data = _unescape(raw)
    if data is None or b"\0" in data:
        return None
    try:
        path = data.decode("utf-8")
    except UnicodeDecodeError:
        path = data.decode("latin-1")  # URIUtil.decodePath falls back to ISO-8859-1
    canon = canonical(path)
    return None if canon is None else (canon, query)


def parse_query(query: bytes) -> dict[str, str] | None:
    """UrlEncoded.decodeUtf8To over the raw query, byte by byte (a %XX is taken before any
    '=' or '&' in it); each name's first value, as CommandServlet keeps; None: a 400."""
    pairs: list[tuple[bytes, bytes]] = []
    key: bytes | None = None
    buf = bytearray()
    i = 0
    while i < len(query):
        c = query[i]
        if c == 0x26:  # &
            if key is not None or buf:
                pairs.append((key, bytes(buf)) if key is not None else (bytes(buf), b""))
            key, buf = None, bytearray()
        elif c == 0x3D and key is None:  # the first = ends the name
            key, buf = bytes(buf), bytearray()
        elif c == 0x25:  # %
            if i + 2 >= len(query) or _hex(query[i + 1]) < 0 or _hex(query[i + 2]) < 0:
                return None
            buf.append(_hex(query[i + 1]) * 16 + _hex(query[i + 2]))
            i += 2
        else:
            buf.append(0x20 if c == 0x2B else c)
        i += 1
    if key is not None or buf:
        pairs.append((key, bytes(buf)) if key is not None else (bytes(buf), b""))
    out: dict[str, str] = {}
    for k, v in pairs:
        name, value = _utf8_replaced(k), _utf8_replaced(v)
        if name is None or value is None:
            return None
        out.setdefault(name, value)
    return out


def _utf8_replaced(data: bytes) -> str | None:
    """Utf8StringBuilder: a bad byte fails (None); a sequence cut short at the end of a name or
    value becomes U+FFFD (toReplacedString)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason != "unexpected end of data":
            return None
        return data[:e.start].decode("utf-8") + "\ufffd"


class ChunkSkipper:
    """A chunked body read and dropped as HttpParser does. Between chunks LF (or CRLF) lines
    are skipped and a size must start with a hex digit; in a size line the first byte that is
    not a hex digit starts the extensions, which run to LF; size 0 ends the chunks and the
    trailer follows, header lines up to a blank one. A CR not before LF or a control byte
    outside chunk data is an error. `feed` returns None while more is needed, else (ok, the
    bytes after the body)."""

    MAX_CHUNK = (2**31 - 1) // 16 - 16  # HttpParser.MAX_CHUNK_LENGTH
    MAX_LINE = MAX_HEAD_BYTES

    def __init__(self) -> None:
        self.state = "start"  # start, size, params, data, trailer
        self.size = 0
        self.cr = False
        self.line = bytearray()

    def feed(self, data: bytes) -> tuple[bool, bytes] | None:
        i = 0
        while i < len(data):
            if self.state == "data":
                take = min(self.size, len(data) - i)
                self.size -= take
                i += take
                if self.size == 0:
                    self.state = "start"
                continue
            ch = data[i]
            i += 1
            if self.cr:
                if ch != 0x0A:
                    return False, b""  # a CR not before LF
                self.cr = False
            elif ch == 0x0D:
                self.cr = True
                continue
            elif ch < 0x20 and ch not in (0x09, 0x0A):
                return False, b""  # a control byte
            done = self._byte(ch)
            if done is not None:
                return done, data[i:]
        return None

    def _byte(self, ch: int) -> bool | None:
        hexdigit = chr(ch) in "0123456789abcdefABCDEF"
        if self.state == "start":
            if ch == 0x0A:
                return None
            if not hexdigit:
                return False
            self.state, self.size = "size", int(chr(ch), 16)
        elif self.state in ("size", "params"):
            if ch == 0x0A:
                self.state = "trailer" if self.size == 0 else "data"
            elif self.state == "size" and hexdigit:
                if self.size > self.MAX_CHUNK:
                    return False
                self.size = self.size * 16 + int(chr(ch), 16)
            else:
                self.state = "params"
        elif ch != 0x0A:
            self.line.append(ch)
            return False if len(self.line) > self.MAX_LINE else None
        else:
            line, self.line = bytes(self.line), bytearray()
            return True if not line else (False if isinstance(field_line(line), int) else None)
        return None
