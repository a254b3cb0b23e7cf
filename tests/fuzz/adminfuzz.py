"""Hostile HTTP traffic for the AdminServer (JettyAdminServer's port) and other HTTP ports.

`cases(seed, n_random)` is a fixed catalogue (request lines, huge heads, framing, paths and
queries, every command with bogus parameters, pipelining) followed by `n_random` seeded
mutations of valid requests: the same seed gives the same bytes. `send_case` sends one case on a
fresh connection and sums up what came back as an `Outcome`: the status codes in order, the
`"error"` values of JSON bodies, and whether the server closed the connection (or left it open
for `quiet_s` after its last byte). Half-sent requests, clients that never read and many
connections at once are in tests/integration/test_admin_fuzz.py, which uses the same pieces.
"""

from __future__ import annotations

import random
import re
import socket
import time
from dataclasses import dataclass

COMMAND_NAMES = (
    "connection_stat_reset", "crst", "configuration", "conf", "config", "connections", "cons",
    "hash", "dirs", "dump", "environment", "env", "envi", "get_trace_mask", "gtmk",
    "initial_configuration", "icfg", "is_read_only", "isro", "last_snapshot", "lsnp", "leader",
    "lead", "monitor", "mntr", "observer_connection_stat_reset", "orst", "ruok",
    "set_trace_mask", "stmk", "server_stats", "srvr", "stats", "stat", "stat_reset", "srst",
    "observers", "obsr", "system_properties", "sysp", "voting_view", "watches", "wchc",
    "watches_by_path", "wchp", "watch_summary", "wchs", "zabstate",
)
BOGUS_QUERIES = (
    "", "?", "?&&", "?=", "?traceMask", "?traceMask=", "?traceMask=abc", "?traceMask=-1",
    "?traceMask=99999999999999999999", "?traceMask=0x10", "?traceMask=%zz", "?traceMask=1&traceMask=x",
    "?path=", "?path=%00", "?path=/../..", "?path=%ff%fe", "?a=%", "?%=%", "?a=b%2", "?x=" + "y" * 3000,
    "?" + "&".join(f"k{i}=v" for i in range(300)), "?path=/zookeeper&path=/",
)
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
ERROR = re.compile(rb'"error" : (null|"(?:[^"\\]|\\.)*")')


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    eof: bool = True  # half-close after sending: the server sees the end of the stream


@dataclass(frozen=True)
class Outcome:
    statuses: tuple[int, ...]
    errors: tuple[str, ...]
    end: str  # "closed" or "open" (no close within quiet_s of the last byte)

    def __str__(self) -> str:
        return f"{list(self.statuses)} {self.end}"


def get(target: str = "/commands/ruok", version: str = "HTTP/1.1", headers: str = "",
        close: bool = True) -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return f"GET {target} {version}\r\nHost: x\r\n{headers}{conn}\r\n".encode("latin-1")


def _request_lines() -> list[Case]:
    out = [Case("no-version", b"GET /commands/ruok\r\n\r\n"),
           Case("http09", b"GET /commands/ruok\r\n"),
           Case("http09-version", b"GET /commands/ruok HTTP/0.9\r\n\r\n"),
           Case("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
           Case("empty-line-only", b"\r\n\r\n"),
           Case("leading-crlf", b"\r\n\r\n" + get()),
           Case("cr-only", b"GET /commands/ruok HTTP/1.1\rHost: x\rConnection: close\r\r"),
           Case("lf-only", b"GET /commands/ruok HTTP/1.1\nHost: x\nConnection: close\n\n"),
           Case("tabs", b"GET\t/commands/ruok\tHTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
           Case("double-space", b"GET  /commands/ruok  HTTP/1.1\r\nConnection: close\r\n\r\n"),
           Case("trailing-space", b"GET /commands/ruok HTTP/1.1 \r\nConnection: close\r\n\r\n"),
           Case("extra-token", b"GET /commands/ruok HTTP/1.1 x\r\nConnection: close\r\n\r\n"),
           Case("nul-in-line", b"GET /commands/ru\x00ok HTTP/1.1\r\nConnection: close\r\n\r\n"),
           Case("binary", bytes(range(256)) * 4),
           Case("tls-hello-ish", b"\x16\x03\x01\x00\x05hello"),
           Case("absolute-uri", get("http://x/commands/ruok")),
           *(Case(f"absolute-{t}", get(t)) for t in (
               "Lnds:/srvr", "x!:/commands/ruok", "x:/", "x://", "x:///commands/ruok", "x:",
               "x:?a", "x:commands/ruok", "x://h?x", "x://u@h/commands/ruok",
               "x://h:1:2/commands/ruok", "x://h:/commands/ruok")),
           Case("asterisk", get("*")),
           Case("no-slash", get("commands/ruok")),
           Case("no-host-11", b"GET /commands/ruok HTTP/1.1\r\nConnection: close\r\n\r\n"),
           Case("http10", b"GET /commands/ruok HTTP/1.0\r\n\r\n"),
           Case("leading-space", b" " + get()), Case("leading-lf", b"\n" + get()),
           Case("raw-utf8-path", get("/commands/r\xc3\xbcok")),
           Case("raw-utf8-query", get("/commands/ruok?a=\xc3\xbc")),
           Case("head-only-lf", b"GET /commands/ruok HTTP/1.1\nHost: x\r\nConnection: close\n\r\n"),
           Case("cut-utf8 target", get("/commands/r\xc3")),
           Case("cut-utf8 query", get("/commands/ruok?a=\xc3")),
           Case("cut-utf8 09", b"GET /commands/r\xc3\r\n\r\n"),
           Case("half-line eof", b"GET /commands/ru"),
           Case("half-method eof", b"GE"),
           Case("half-head eof", b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n"),
           Case("half-field eof", b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-A: b"),
           Case("pri-11", get(version="HTTP/1.1").replace(b"GET", b"PRI", 1))]
    for v in ("HTTP/1.2", "HTTP/2.0", "HTTP/9.9", "http/1.1", "HTTP/1", "HTTP/1.1.1", "HTTP/",
              "FOO/1.1", "HTTP/11", "HTTP/1.\xe3", "H\x00TP/1.1"):
        out.append(Case(f"version {v}", get(version=v)))
    for m in ("POST", "PUT", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PATCH", "get",
              "FOO", "G\x01T", ";GET", "(X)", "G\xe9T", "M" * 100, "M" * 9000, "GET\x7f"):
        for target in ("/commands/ruok", "/commands", "/nowhere"):
            line = f"{m} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            out.append(Case(f"method {m[:12]} {target}", (line + "Connection: close\r\n\r\n")
                            .encode("latin-1")))
    return out


def _sizes() -> list[Case]:
    out = []
    base = len(get("/commands/ruok?x="))
    for n in range(8192 - base, 8300 - base, 4):
        out.append(Case(f"edge-target {n + base}", get("/commands/ruok?x=" + "a" * n)))
    hbase = len(get(headers="X-Big: \r\n"))
    for n in range(8192 - hbase, 8300 - hbase, 4):
        out.append(Case(f"edge-header {n + hbase}", get(headers=f"X-Big: {'b' * n}\r\n")))
    for n in (4000, 8100, 8300, 16300, 16500, 70000):
        out.append(Case(f"long-target {n}", get("/commands/ruok?x=" + "a" * n)))
        out.append(Case(f"long-header {n}", get(headers=f"X-Big: {'b' * n}\r\n")))
        out.append(Case(f"long-path {n}", get("/commands/" + "r" * n)))
    for n in (50, 100, 101, 1000, 3000):
        out.append(Case(f"headers x{n}", get(headers="".join(f"X-H{i}: v\r\n" for i in range(n)))))
    odd = {"no-colon": "NoColon\r\n", "space-before-colon": "Host : y\r\n",
           "obs-fold": "X-A: a\r\n  folded\r\n", "nul-header": "X-A: a\x00b\r\n",
           "bad-name": "X(A): b\r\n", "empty-name": ": b\r\n", "high-bytes": "X-A: \xff\xfe\r\n",
           "dup-host": "Host: y\r\n", "conn-upgrade": "Connection: Upgrade\r\nUpgrade: h2c\r\n",
           "expect-100": "Expect: 100-continue\r\n", "expect-odd": "Expect: bogus\r\n",
           "conn-keepalive-close": "Connection: keep-alive, close\r\n",
           "upgrade-only": "Upgrade: h2c\r\n", "conn-upgrade-only": "Connection: Upgrade\r\n",
           "upgrade-ws": "Connection: Upgrade\r\nUpgrade: websocket\r\n",
           "http2-settings": "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                             "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
           "value-tab": "X-A: a\tb\r\n", "value-ctl": "X-A: a\x01b\r\n",
           "value-del": "X-A: a\x7fb\r\n", "name-high": "X\xffA: b\r\n",
           "lone-cr": "X-A: a\rb\r\n", "cl-zero-dup": "Content-Length: 0\r\nContent-Length: 0\r\n",
           "cl-leading-zero": "Content-Length: 00\r\n", "cl-spaces": "Content-Length:   0  \r\n",
           "te-chunked-upper": "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n",
           "name-80": "X\x80A: b\r\n", "name-c3": "X\xc3A: b\r\n", "name-fe": "X\xfeA: b\r\n",
           "name-ef": "C\xefnnection: close\r\n", "name-ff2": "\xffA: b\r\n",
           "conn-close-param": "Connection: close;x\r\n", "conn-close-q": "Connection: \"close\"\r\n",
           "conn-closed": "Connection: closed\r\n", "conn-close-upper": "Connection: CLOSE\r\n",
           "host-empty": "Host:\r\n", "host-port": "Host: x:80\r\n", "host-badport": "Host: x:y\r\n",
           "host-emptyport": "Host: x:\r\n", "host-port0": "Host: x:0\r\n",
           "host-plusport": "Host: x:+80\r\n", "host-zeroport": "Host: x:0080\r\n", "host-bigport": "Host: x:99999\r\n",
           "host-v6": "Host: [::1]:80\r\n", "host-v6-bare": "Host: ::1\r\n",
           "host-v6-bad": "Host: [::1\r\n", "host-space": "Host: a b\r\n", "expect-100-upper": "Expect: 100-Continue\r\n"}
    out += [Case(f"header {k}", get(headers=v)) for k, v in odd.items()]
    return out


def _framing() -> list[Case]:
    g = "GET /commands/ruok HTTP/1.1\r\nHost: x\r\n"
    nxt = get("/commands/srvr")
    lens = {"cl-dup-same": "Content-Length: 3\r\nContent-Length: 3\r\n",
            "cl-dup-diff": "Content-Length: 3\r\nContent-Length: 5\r\n",
            "cl-list": "Content-Length: 3, 3\r\n", "cl-negative": "Content-Length: -3\r\n",
            "cl-alpha": "Content-Length: abc\r\n", "cl-plus": "Content-Length: +3\r\n",
            "cl-empty": "Content-Length:\r\n", "cl-space": "Content-Length: 3 3\r\n",
            "cl-huge": "Content-Length: 99999999999999999999\r\n",
            "cl-big": "Content-Length: 1000000000\r\n", "cl-hex": "Content-Length: 0x3\r\n",
            "cl-te": "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            "te-gzip": "Transfer-Encoding: gzip\r\n", "te-chunked-twice":
            "Transfer-Encoding: chunked, chunked\r\n", "te-bogus": "Transfer-Encoding: x\r\n",
            "te-chunked-gzip": "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"}
    out = []
    for name, h in lens.items():
        out.append(Case(f"framing {name}", (g + h + "\r\n").encode() + b"abc" + nxt))
    chunked = (g + "Transfer-Encoding: chunked\r\n\r\n").encode()
    bodies = {"ok": b"3\r\nabc\r\n0\r\n\r\n", "ext": b"3;x=y\r\nabc\r\n0\r\n\r\n",
              "bad-hex": b"zz\r\nabc\r\n0\r\n\r\n", "lie-long": b"ff\r\nabc\r\n0\r\n\r\n",
              "lie-short": b"1\r\nabc\r\n0\r\n\r\n", "no-last": b"3\r\nabc\r\n",
              "huge-size": b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
              "negative": b"-3\r\nabc\r\n0\r\n\r\n", "trailer": b"0\r\nX-T: 1\r\n\r\n",
              "no-crlf": b"3\r\nabc0\r\n\r\n"}
    for name, b in bodies.items():
        out.append(Case(f"chunked {name}", chunked + b + nxt))
    g10 = "GET /commands/ruok HTTP/1.0\r\n"
    for name, h in {"te": "Transfer-Encoding: chunked\r\n", "upgrade": "Upgrade: h2c\r\n",
                    "expect": "Expect: bogus\r\n", "cl-dup": "Content-Length: 1\r\n" * 2,
                    "te-gzip": "Transfer-Encoding: gzip\r\n", "host-bad": "Host: x:y\r\n",
                    "keep-te": "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n"}.items():
        out.append(Case(f"http10 {name}", (g10 + h + "\r\n").encode() + b"3\r\nabc\r\n0\r\n\r\n"
                        + get("/commands/srvr")))
    out.append(Case("get-body-cl", (g + "Content-Length: 5\r\n\r\n").encode() + b"hello" + nxt))
    out.append(Case("post-body", b"POST /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=%zz" + nxt))
    return out


def _paths() -> list[Case]:
    targets = ["/commands/%zz", "/commands/%ff", "/commands/%00", "/commands/%c0%af",
               "/commands/\xff", "/commands/%e2%82", "/commands/%", "/commands/%2",
               "/commands/../commands/ruok", "//commands/ruok", "/commands//ruok",
               "/commands/%2e%2e/commands/ruok", "/commands/%2e%2e%2f", "/commands/./ruok",
               "/commands/ruok/", "/commands/ruok/extra", "/COMMANDS/ruok", "/commands;x/ruok",
               "/commands/ruok;jsessionid=1", "/commands/ruok#frag", "/commands?x", "/commands/",
               "/", "/favicon.ico", "/commands/nope", "/commands/%72uok", "/commands/ruok%2f",
               "/commands/%2fruok", "/commands/..", "/..", "/commands/ruok%00", "/%63ommands/ruok",
               "/commands/ruok?%zz", "/commands/ruok?a=%ff", "/commands/ruok?\xff=1",
               "/commands/r%C3%BCok", "/commands/%F0%9F%92%A9", "/commands/%ED%A0%80",
               "/commands/" + "%41" * 3000, "/commands/ruok?" + "%" * 50, "/commands\\ruok",
               "/commands/ruok\\..\\x", "/commands/\t", "/commands/ ruok", "/commands/%20",
               "/commands/%01", "/commands/%7f", "/commands/ruok?a=%01", "/commands/ruok?a=%u0041",
               "/commands/ruok?a=%C0%AF", "/commands/ruok?a=1+2&b=%2B", "/commands/ruok?=x",
               "/commands/ruok;a/b", "/commands/.%2e/commands/ruok", "/commands/%2E",
               "/commands/ruok?#", "/commands/ruok#?%zz",
               "/commands/ruok?a%=3", "/commands/ruok?a=%@1", "/commands/ruok?a=%`a&b", "/commands/%=3",
               "/commands/ruok?a=%c3", "/commands/ruok?a=%c3&b=1", "/commands/ruok?a=%c3b",
               "/commands/ruok?a%c3=1", "/commands/ruok?a=%e2%82"]
    return [Case(f"path {t[:40]!r}", get(t)) for t in targets]


def command_cases(rng: random.Random | None = None, per_command: int = 0) -> list[Case]:
    """Every command name and alias with bogus parameters: all of BOGUS_QUERIES, or
    `per_command` of them picked by rng."""
    out = []
    for name in COMMAND_NAMES:
        queries = (BOGUS_QUERIES if rng is None
                   else rng.sample(BOGUS_QUERIES, min(per_command, len(BOGUS_QUERIES))))
        out += [Case(f"cmd {name}{q[:30]}", get(f"/commands/{name}{q}")) for q in queries]
    return out


def _pipelines() -> list[Case]:
    k = [get(f"/commands/{c}", close=False) for c in ("ruok", "srvr", "conf")]
    return [
        Case("pipeline 3 keep", b"".join(k)),
        Case("pipeline 3 keep then close", b"".join(k) + get()),
        Case("pipeline close in middle", k[0] + get() + k[1]),
        Case("pipeline then garbage", k[0] + b"GARBAGE\r\n\r\n" + k[1]),
        Case("pipeline 200 keep", get("/commands/ruok", close=False) * 200 + get()),
        Case("pipeline http10 keepalive", get(version="HTTP/1.0", close=False,
                                               headers="Connection: keep-alive\r\n") + get()),
        Case("pipeline http10 plain", get(version="HTTP/1.0", close=False) + get()),
        Case("keep then CR CR LF", k[0] + b"\r\r\n\r\n\r\n"),
        Case("keep then CR GET", k[0] + b"\r" + get()),
        Case("keep then LF CR CR LF", k[0] + b"\n\r\r\n"),
        Case("keep then space", k[0] + b" " + get()),
        Case("keep then NUL", k[0] + b"\x00" + get()),
        Case("open keep then CR CR LF", k[0] + b"\r\r\n", eof=False),
        Case("open keep-alive", k[0], eof=False),
        Case("open http10", get(version="HTTP/1.0", close=False), eof=False),
        Case("open close", get(), eof=False),
        Case("open bad request", b"GET\r\n\r\n", eof=False),
        Case("open 404", get("/nowhere", close=False), eof=False),
        Case("open 405", b"POST /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
             eof=False),
        Case("open cl-dup-diff", b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", eof=False),
    ]


_TOKENS = [b" ", b"\t", b"\r", b"\n", b"\r\n", b"%", b"%zz", b"%ff", b"%00", b"/..", b"//",
           b"?", b"&", b"=", b";", b":", b"\x00", b"\xff", b"HTTP/1.1", b"Content-Length: 4\r\n",
           b"Transfer-Encoding: chunked\r\n", b"Connection: keep-alive\r\n", b"0\r\n\r\n",
           b"GET /commands/ruok HTTP/1.1\r\n\r\n"]


def mutate(rng: random.Random, base: bytes) -> bytes:
    """A few random edits: insert a token, flip a byte, delete or duplicate a span."""
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(data) + 1)
        op = rng.randrange(4)
        if op == 0:
            data[i:i] = rng.choice(_TOKENS)
        elif op == 1 and data:
            data[min(i, len(data) - 1)] = rng.randrange(256)
        elif op == 2:
            del data[i:i + rng.randint(1, 8)]
        else:
            data[i:i] = data[i:i + rng.randint(1, 16)] * rng.randint(1, 3)
    return bytes(data)


def random_cases(seed: int, n: int) -> list[Case]:
    rng = random.Random(seed)
    bases = [get(f"/commands/{c}{q}") for c in ("ruok", "stmk", "wchp", "lsnp", "conf")
             for q in ("", "?traceMask=3", "?path=/a")]
    bases += [get(close=False) + get("/commands/srvr"),  # a second request after a first
              get(close=False, headers="Content-Length: 3\r\n") + b"abc" + get(),
              get(close=False, headers="Transfer-Encoding: chunked\r\n") + b"3\r\nabc\r\n0\r\n\r\n"
              + get()]
    return [Case(f"random seed={seed} #{i}", mutate(rng, rng.choice(bases))) for i in range(n)]


def cases(seed: int = 0, n_random: int = 0, per_command: int | None = None) -> list[Case]:
    """The catalogue, every command with all bogus queries (or per_command of them, picked by
    seed), then n_random mutations from seed."""
    commands = command_cases(None if per_command is None else random.Random(seed), per_command or 0)
    return (_request_lines() + _sizes() + _framing() + _paths() + commands + _pipelines()
            + random_cases(seed, n_random))


def summarize(data: bytes, end: str) -> Outcome:
    statuses = tuple(int(m.group(1)) for m in STATUS.finditer(data))
    errors = tuple(m.group(1).decode("utf-8", "replace") for m in ERROR.finditer(data))
    return Outcome(statuses, errors, end)


def send_case(host: str, port: int, case: Case, quiet_s: float | None = None,
              limit_s: float = 15.0) -> Outcome:
    """Send `case` on a new connection; read until the server closes, or for `quiet_s` after
    the last byte (the connection is then "open"), at most `limit_s` in all. quiet_s defaults
    to 1 s for a case that leaves the connection open, 5 s after a half-close (both servers
    close then: a longer wait only rides out a slow moment of a loaded machine)."""
    if quiet_s is None:
        quiet_s = 5.0 if case.eof else 1.0
    got = b""
    with socket.create_connection((host, port), timeout=limit_s) as s:
        try:
            s.sendall(case.data)
            if case.eof:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed while we sent: read what it said
        deadline = time.monotonic() + limit_s
        last = time.monotonic()
        while time.monotonic() < deadline:
            s.settimeout(max(min(last + quiet_s, deadline) - time.monotonic(), 0.01))
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return summarize(got, "open")
            except OSError:
                return summarize(got, "closed")
            if not chunk:
                return summarize(got, "closed")
            got += chunk
            last = time.monotonic()
    return summarize(got, "open")


# --- connection-level abuse: half-sent requests, clients that never read, many at once ------

STALLS: dict[str, bytes] = {
    "nothing": b"",
    "lone CR": b"\r",
    "half request line": b"GET /commands/ru",
    "half head": b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n",
    "body short of Content-Length": b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 10\r\n\r\nab",
    "chunk short": b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nab",
    "POST body short": b"POST /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
    "keep-alive then idle": get(close=False),
}


def stall(host: str, port: int, data: bytes, limit_s: float) -> tuple[Outcome, float]:
    """Send `data`, keep the connection open and wait (at most limit_s) for the server to
    answer and close: (what came back, seconds until the close or limit_s)."""
    t0 = time.monotonic()
    got = b""
    with socket.create_connection((host, port), timeout=limit_s) as s:
        s.sendall(data)
        while time.monotonic() - t0 < limit_s:
            s.settimeout(max(limit_s - (time.monotonic() - t0), 0.01))
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except OSError:
                return summarize(got, "closed"), time.monotonic() - t0
            if not chunk:
                return summarize(got, "closed"), time.monotonic() - t0
            got += chunk
    return summarize(got, "open"), limit_s


def server_side_state(sock: socket.socket) -> int | None:
    """The TCP state (Linux /proc/net/tcp{,6} numbering: 1 established, 4 FIN-WAIT-1, ...) of
    the server's end of `sock`, or None once the kernel forgot it. A server that gave up on a
    connection it cannot write to leaves it FIN-WAIT-1: the client never sees the FIN behind
    the data it does not read, so only the server side tells."""
    ip, port = sock.getsockname()[:2]
    ip_hex = f"{int.from_bytes(socket.inet_aton(ip), 'little'):08X}"
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.read().splitlines()[1:]:
                cols = line.split()
                rip, _, rport = cols[2].partition(":")
                if rip.endswith(ip_hex) and int(rport, 16) == port:
                    return int(cols[3], 16)
    return None


def never_read(host: str, port: int, limit_s: float, path: str = "/commands/conf",
               requests: int = 20000, send_s: float = 2.0) -> tuple[bool, float]:
    """Pipeline `requests` GETs (for at most send_s) with a tiny receive buffer and read
    nothing; (whether the server dropped the connection within limit_s, seconds taken)."""
    t0 = time.monotonic()
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(limit_s)
        s.connect((host, port))
        s.setblocking(False)
        blob = get(path, close=False) * requests
        sent = 0
        while sent < len(blob) and time.monotonic() - t0 < send_s:
            try:
                sent += s.send(blob[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:
                break
        while time.monotonic() - t0 < limit_s:
            if server_side_state(s) != 1:
                return True, time.monotonic() - t0
            time.sleep(0.1)
        return False, limit_s
    finally:
        s.close()


def many_connections(host: str, port: int, n: int) -> list[socket.socket]:
    """n connections, each with half a request sent (the caller closes them)."""
    out = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /commands/ruok HTTP/1.1\r\nHost")
        out.append(s)
    return out


def established_from(host: str, port: int, client_ip: str) -> int:
    """How many established connections the server at host:port has from client_ip."""
    ip_hex = f"{int.from_bytes(socket.inet_aton(host), 'little'):08X}"
    cip = f"{int.from_bytes(socket.inet_aton(client_ip), 'little'):08X}"
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.read().splitlines()[1:]:
                cols = line.split()
                lip, _, lport = cols[1].partition(":")
                if (lip.endswith(ip_hex) and int(lport, 16) == port
                        and cols[2].partition(":")[0].endswith(cip) and cols[3] == "01"):
                    count += 1
    return count
