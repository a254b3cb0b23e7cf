"""HTTP/1.1 requests read off an asyncio stream as a Jetty 9.4 connector reads them (the parsing
rules are pyzk.fourlw.http's): the AdminServer and the Prometheus /metrics port share these.

Every read and every blocked write waits at most the connector's idle timeout; past it the
connection is dropped (a half-sent head gets no answer, as Jetty's idle close). A head that
ends with the stream is a 400; a stream that ends (or idles) before a head starts closes
quietly.
"""

from __future__ import annotations

import asyncio

from pyzk.fourlw.http import Body, ChunkSkipper, Head, HeadParser

READ_CHUNK = 65536
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 414: "URI Too Long", 417: "Expectation Failed",
           426: "Upgrade Required", 431: "Request Header Fields Too Large", 500: "Server Error",
           501: "Not Implemented", 505: "HTTP Version Not Supported"}


def bad_message(status: int) -> tuple[int, str, str]:
    """HttpChannel's answer to a BadMessageException: (status, content type, body)."""
    reason = REASONS.get(status, "Bad Message")
    return status, "text/html;charset=iso-8859-1", (
        f"<h1>Bad Message {status}</h1><pre>reason: {reason}</pre>")


async def read_some(reader: asyncio.StreamReader, idle_s: float) -> bytes | None:
    """The next bytes; b"" at the end of the stream, None after idle_s without any."""
    try:
        return await asyncio.wait_for(reader.read(READ_CHUNK), idle_s)
    except TimeoutError:
        return None


async def next_head(reader: asyncio.StreamReader, pending: bytes, after_request: bool,
                    idle_s: float) -> tuple[Head | int | None, bytes]:
    """The next request head (or a status to refuse it with, or None: close quietly) and the
    bytes read past it."""
    parser = HeadParser(after_request)
    result = parser.feed(pending)
    while result is None:
        data = await read_some(reader, idle_s)
        if not data:
            # Jetty: the end of the stream inside a head is a 400; idle, it just closes.
            return (400 if data == b"" and parser.started else None), b""
        result = parser.feed(data)
    return result, parser.rest


async def skip_body(reader: asyncio.StreamReader, body: Body, pending: bytes,
                    idle_s: float) -> bytes | None:
    """Read past a request's body (Jetty answers a GET before reading it); the bytes after it,
    or None when the connection must close."""
    if body.chunked:
        skipper = ChunkSkipper()
        while True:
            done = skipper.feed(pending)
            if done is not None:
                return done[1] if done[0] else None
            got = await read_some(reader, idle_s)
            if not got:
                return None
            pending = got
    need = body.length
    while need > len(pending):
        need -= len(pending)
        got = await read_some(reader, idle_s)
        if not got:
            return None
        pending = got
    return pending[need:]


async def write_all(writer: asyncio.StreamWriter, data: bytes, idle_s: float) -> bool:
    """False when the client did not take the bytes within idle_s (Jetty's idle timeout covers
    blocked writes too): the connection is then aborted. False too when the client has already
    gone: uvloop raises RuntimeError on a write to a closed transport, which would end the
    handler with an error in the log instead of quietly."""
    if writer.is_closing():
        return False
    writer.write(data)
    try:
        await asyncio.wait_for(writer.drain(), idle_s)
    except TimeoutError:
        writer.transport.abort()
        return False
    return True
