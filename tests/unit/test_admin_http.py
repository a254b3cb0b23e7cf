"""The AdminServer's HTTP as Jetty 9.4 takes it (pyzk/fourlw/http.py and the server loop in
pyzk/fourlw/admin.py). Every expected status here is what Java 3.8.0's AdminServer answered to the
same bytes (tests/integration/test_admin_fuzz.py compares the two on many more)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pyzk.fourlw.admin import AdminServer
from pyzk.fourlw.http import ChunkSkipper, Head, HeadParser, decode_target, parse_query
from tests.fuzz.adminfuzz import get, server_side_state
from tests.unit.test_fourlw_golden import fake_view

HOST = "127.0.63.20"
G = b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n"


def parse(data: bytes, eof: bool = False) -> Head | int | None:
    return HeadParser().feed(data)


@pytest.mark.parametrize(("data", "want"), [
    (b"GET /commands/ruok\r\n", 505),                      # HTTP/0.9
    (b"GET /commands/ruok HTTP/0.9\r\n", 505),
    (b"GET /commands/ruok HTTP/1.2\r\n", 505),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 426),
    (b"GET /commands/ruok HTTP/1.1 \r\n", 400),            # trailing space
    (b"GET /commands/ruok HTTP/1.\xe3\r\n", 400),          # a byte a version cannot hold
    (b"G\x01T /commands/ruok HTTP/1.1\r\n", 400),
    (b"GE?T /commands/ruok HTTP/1.1\r\n", 400),
    (b"\rGET /commands/ruok HTTP/1.1\r\n", 400),           # CR without LF
    (b"GET /commands/ru\x00ok HTTP/1.1\r\n", 400),
    (b"GET /commands/r\xff HTTP/1.1\r\n", 400),            # raw bytes that are not UTF-8
    (b"GET \x7fcommands/ruok\r\n", 400),                   # DEL may not start a target
    (b"GET /commands/ruok?x=" + b"a" * 8300 + b" HTTP/1.1\r\n", 414),
    (G + b"X-Big: " + b"b" * 8300 + b"\r\n\r\n", 431),
    (G + b"X-A: a\r\n  folded\r\n\r\n", 400),
    (G + b"Host : y\r\n\r\n", 400),
    (G + b"X(A): b\r\n\r\n", 400),
    (G + b"X-A: a\x00b\r\n\r\n", 400),
    (G + b"X\x80A: b\r\n\r\n", 400),
    (G + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\n", 400),
    (G + b"Content-Length: -3\r\n\r\n", 400),
    (G + b"Content-Length: abc\r\n\r\n", 400),
    (G + b"Content-Length: 99999999999999999999\r\n\r\n", 400),
    (G + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    (G + b"Transfer-Encoding: chunked;\r\n\r\n", 400),
    (G + b"Transfer-Encoding: chunked\xa0\r\n\r\n", 400),  # soak seed 700: NBSP is no space
    (G + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (G + b"Upgrade: h2c\r\n\r\n", 400),
    (G + b"Host: x:y\r\n\r\n", 400),
    (G + b"Host: x:0\r\n\r\n", 400),                      # soak seed 306
    (G + b"Expect: bogus\r\n\r\n", 417),
    (b"GET /commands/ruok HTTP/1.1\r\n\r\n", 400),         # HTTP/1.1 without Host
])
def test_heads_jetty_refuses(data: bytes, want: int) -> None:
    assert parse(data) == want


def test_heads_jetty_takes() -> None:
    for data in (b"\r\n\r\n" + G + b"\r\n", b"GET /commands/ruok HTTP/1.1\nHost: x\n\n",
                 b"GET  /commands/ruok  http/1.1\r\nHost: x\r\n\r\n",
                 b"GET /commands/ruok HTTP/1.0\r\n\r\n", G + b"X-A: \xff\xfe\r\n\r\n",
                 G + b"Content-Length: 00\r\n\r\n", G + b"Expect: 100-Continue\r\n\r\n"):
        assert isinstance(parse(data), Head), data
    # Jetty's method and header caches look names up 7 bits a byte.
    head = parse(b"\xc7ET /commands/ruok HTTP/1.1\r\nHost: x\r\nC\xefnnection: close\r\n\r\n")
    assert isinstance(head, Head) and head.method == "GET" and not head.keep_alive
    assert parse(b";GET /x HT1\r\n") == 505  # any visible first byte starts a method
    head = parse(b"::GET /commands/ruok HTTP/1.0\r\n\r\n")  # leading colons are skipped
    assert isinstance(head, Head) and head.method == "GET"
    assert parse(b": close\r\n") == 400
    head = parse(b"GET /x HTTP/1.1\r\nHost\xba x\r\n\r\n")  # 0xba is ':' in 7 bits
    assert isinstance(head, Head) and head.values("host") == [b"x"]
    assert parse(G + b"Connect\xe9on:= close\r\n\r\n") == 400  # the cache key is "Name: "
    assert parse(G + b"\xe3onnection: close\r\n\r\n") == 400  # not the first byte
    head = parse(G + b"Transfer-Encoding: c\xe8unked\r\n\r\n")  # whole cached fields too
    assert isinstance(head, Head) and head.values("transfer-encoding") == [b"chunked"]
    assert parse(b":\xc7ET /x HTTP/1.0\r\n\r\n") == 400  # no cache lookup after a skip
    head = parse(b"GET\xa0/x HTTP/1.0\r\n\r\n")  # the space is looked up too (seed 303)
    assert isinstance(head, Head) and (head.method, head.target) == ("GET", b"/x")
    assert parse(b"get /x HTTP/1.0\r\n\r\n").method == "get"  # type: ignore[union-attr]
    assert parse(b"GET /commands/ru") is None  # more bytes needed
    # Between pipelined requests Jetty eats any CR and LF; at the start a CR needs its LF.
    assert parse(b"\r\r\n" + G + b"\r\n") == 400
    assert isinstance(HeadParser(after_request=True).feed(b"\r\r\n\r" + G + b"\r\n"), Head)


@pytest.mark.parametrize(("target", "want"), [
    (b"/commands/%zz", None), (b"/commands/%", None), (b"/commands/%00", None), (b"/..", None),
    (b"*", None), (b"commands/ruok", None),
    (b"/commands/%ff", "/commands/\xff"),                  # not UTF-8: ISO-8859-1
    (b"/commands/%c0%af", "/commands/\xc0\xaf"),
    (b"/commands/r%C3%BCok", "/commands/r\xfcok"),
    (b"/commands/../commands/ruok", "/commands/ruok"),
    (b"/commands/%2e%2e/commands/ruok", "/commands/ruok"),
    (b"/commands/..", "/"), (b"/commands/./ruok", "/commands/ruok"),
    (b"/commands;x/ruok;jsessionid=1", "/commands/ruok"),
    (b"/commands/%=3", "/commands/\xd3"),                  # TypeUtil.convertHexDigit('=') is 13
    (b"http://x/commands/ruok", "/commands/ruok"),
    (b"/commands/ruok#?%zz", "/commands/ruok"),
    (b"/commands/con%f?path=/a", "/commands/con\xffpath=/a"),  # soak seed 204 #318
    # absolute targets without an authority (adminfuzz soak seed 522 #7043: "Lnds:/srvr" is
    # Jetty's 404, not a 400), each checked against Java 3.8.0
    (b"Lnds:/srvr", "/srvr"), (b"x!:/commands/ruok", "/commands/ruok"),
    (b"x:/commands/../commands/ruok", "/commands/ruok"), (b"x:/", "/"), (b"x://", "/"),
    (b"x:///commands/ruok", "/commands/ruok"), (b"x://h", "/"), (b"x://h:/a", "/a"),
    (b"x:", None), (b"x:?a=b", None), (b"x:commands/ruok", None), (b"a:b:/x", None),
    (b":/x", None), (b"x%:/x", None), (b"*:/x", None), (b"\xc3\xa9:/x", None),
    (b"x://h?x", None), (b"x://h#x", None), (b"x://u@h/x", None), (b"x://h:abc/x", None),
    (b"x://h:1:2/x", None), (b"x://[::1]:ab/x", None), (b"x://[::1]:1/x", "/x"),
])
def test_targets_as_httpuri_decodes_them(target: bytes, want: str | None) -> None:
    got = decode_target(target)
    assert (got[0] if got is not None else None) == want


def test_queries_as_urlencoded_decodes_them() -> None:
    assert parse_query(b"a=%zz") is None
    assert parse_query(b"a=%") is None
    assert parse_query(b"a=%ff") is None
    assert parse_query(b"a=%c3b") is None
    assert parse_query(b"a=%c3&b=1") == {"a": "\ufffd", "b": "1"}  # cut short at the end
    assert parse_query(b"k%=3") == {"k\ufffd": ""}  # '%=3' is an escape before '=' counts
    assert parse_query(b"traceMask=1&traceMask=x&a=1+2&b=%2B") == {
        "traceMask": "1", "a": "1 2", "b": "+"}


def test_chunked_bodies_are_skipped_as_httpparser_reads_them() -> None:
    assert ChunkSkipper().feed(b"3\r\nabc\r\n0\r\n\r\nNEXT") == (True, b"NEXT")
    assert ChunkSkipper().feed(b"3;x=y\r\nabc0\r\nX-T: 1\r\n\r\nNEXT") == (True, b"NEXT")
    assert ChunkSkipper().feed(b"zz\r\n")[0] is False  # type: ignore[index]
    assert ChunkSkipper().feed(b"fffffffffffffffffff\r\n")[0] is False  # type: ignore[index]
    assert ChunkSkipper().feed(b"ff\r\nabc") is None
    # A size's first non-hex byte starts its extensions; trailers are header lines; a CR
    # must come before LF (soak seed 200: #725, #1295, #2462, #2674, #3642, #3774).
    assert ChunkSkipper().feed(b"0I\n\r\nNEXT") == (True, b"NEXT")
    assert ChunkSkipper().feed(b"3?\r\nabc\r\n0\xa1\n\r\nNEXT") == (True, b"NEXT")
    assert ChunkSkipper().feed(b"3\r\nabc\r\n0\r\r\n") == (False, b"")
    assert ChunkSkipper().feed(b"0\r\nabc\r\n\r\n")[0] is False  # type: ignore[index]


@pytest.fixture
async def admin() -> AsyncIterator[tuple[AdminServer, list[dict[str, Any]]]]:
    """An AdminServer with a 1 s idle timeout; the loop's unhandled-exception reports."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    view = fake_view()
    server = AdminServer(lambda: view, HOST, 0, idle_timeout_ms=1000)
    await server.start()
    yield server, errors
    await server.stop()


async def _exchange(server: AdminServer, data: bytes, limit: float = 5.0) -> tuple[bytes, float]:
    """Send, read until the server closes (or limit): (bytes, seconds to the close)."""
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(data)
    got = b""
    try:
        while time.monotonic() - t0 < limit:
            chunk = await asyncio.wait_for(reader.read(65536), limit)
            if not chunk:
                break
            got += chunk
    finally:
        writer.close()
    return got, time.monotonic() - t0


async def test_body_short_of_its_length_is_answered_then_dropped_at_idle_timeout(
        admin: tuple[AdminServer, list[dict[str, Any]]]) -> None:
    """Jetty answers a GET when its head is in and closes when the rest of the body does not
    come. pyzk read the body first with no timeout: no answer, and the connection (and its
    task) stayed open for as long as the client liked."""
    server, errors = admin
    got, took = await _exchange(server, G + b"Content-Length: 10\r\n\r\nab")
    assert got.startswith(b"HTTP/1.1 200 ") and took < 3
    assert not errors


async def test_malformed_lengths_are_400s_not_task_crashes(
        admin: tuple[AdminServer, list[dict[str, Any]]]) -> None:
    """Content-Length -3, abc, 3 3, 0x3 raised ValueError in the connection's task (logged as
    'Unhandled exception in client_connected_cb', no answer); Java answers 400 and closes."""
    server, errors = admin
    for value in (b"-3", b"abc", b"3 3", b"0x3", b"3, 3"):
        got, _ = await _exchange(server, G + b"Content-Length: " + value + b"\r\n\r\nabc")
        assert got.startswith(b"HTTP/1.1 400 "), value
    got, _ = await _exchange(server, b"\xcdET /commands/ruok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400 ")
    assert not errors


async def test_end_of_stream_inside_a_head_is_a_400_and_chunked_bodies_are_skipped(
        admin: tuple[AdminServer, list[dict[str, Any]]]) -> None:
    server, errors = admin
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"GET /commands/ru")
    writer.write_eof()
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 400 ")
    writer.close()
    got, _ = await _exchange(server, G + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                             b"\r\n" + get("/commands/srvr"))
    assert got.count(b"HTTP/1.1 200 ") == 2
    assert not errors


async def test_a_client_that_never_reads_is_dropped_after_the_idle_timeout(
        admin: tuple[AdminServer, list[dict[str, Any]]]) -> None:
    """Jetty's idle timeout covers a write the client does not take; so does pyzk's now
    (a drain() with no timeout before)."""
    server, errors = admin

    def flood() -> bool:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((HOST, server.port))
        s.setblocking(False)
        blob, sent, t0 = get("/commands/conf", close=False) * 20000, 0, time.monotonic()
        try:
            while sent < len(blob) and time.monotonic() - t0 < 2:
                try:
                    sent += s.send(blob[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.05)
            while time.monotonic() - t0 < 6:
                if server_side_state(s) != 1:
                    return True
                time.sleep(0.1)
            return False
        finally:
            s.close()

    assert await asyncio.get_running_loop().run_in_executor(None, flood)
    assert not errors


@pytest.mark.parametrize("force_https", [False, True], ids=["portUnification", "forceHttps"])
async def test_tls_junk_on_https_ports_is_closed_and_the_port_serves_on(
        tmp_path: Any, force_https: bool) -> None:
    """A first byte 0x16 (a TLS handshake record) followed by junk, plain HTTP on an HTTPS-only
    port, and stalls: each connection ends (at the latest after the idle timeout), no
    exception reaches the loop, and HTTPS still answers."""
    import random
    import ssl

    from pyzk.testing.pki import TestCa
    from tests.fuzz.adminfuzz import Case, cases, send_case, stall

    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    ca = TestCa(tmp_path / "ca")
    cert, key = ca.issue_pem("srv", "localhost")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    view = fake_view()
    server = AdminServer(lambda: view, HOST, 0, idle_timeout_ms=1000, tls=ctx,
                         force_https=force_https)
    await server.start()
    rng = random.Random(5)
    batch = [Case(f"tls junk {i}", b"\x16" + rng.randbytes(rng.randrange(1, 600)))
             for i in range(30)]
    batch += [Case("tls header, long record", b"\x16\x03\x01\xff\xff" + b"a" * 100)]
    batch += cases(3, 20, per_command=0)[::8]

    def run() -> tuple[list[str], bytes]:
        with ThreadPoolExecutor(8) as pool:
            stalls = [pool.submit(stall, HOST, server.port, d, 4)
                      for d in (b"", b"\x16", b"\x16\x03")]
            ends = list(pool.map(lambda c: send_case(HOST, server.port, c, limit_s=8).end,
                                 batch))
            ends += [f.result()[0].end for f in stalls]
        client = ssl.create_default_context(cafile=str(ca.dir / "ca.pem"))
        client.check_hostname = False
        with socket.create_connection((HOST, server.port)) as s, \
                client.wrap_socket(s) as t:
            t.sendall(get())
            return ends, t.recv(100)

    try:
        ends, answer = await loop.run_in_executor(None, run)
    finally:
        await server.stop()
    assert set(ends) <= {"closed", "open"} and ends[-3:] == ["closed"] * 3
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert not errors
