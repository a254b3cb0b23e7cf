"""What a member and its worker processes say besides the observer protocol: msgpack frames
(4-byte length first) on the control stream, and one kind byte with each client socket
passed over the SOCK_SEQPACKET pair. The first control frame is the pickled Config (both ends
are this program, started by the member over a private socket pair); msgpack after that.
"""

from __future__ import annotations

import asyncio
import struct

import msgpack

from ..startup import PLAIN, SECURE, UNIFIED

KIND_BYTES = {PLAIN: b"p", SECURE: b"s", UNIFIED: b"u"}
KINDS = {v[0]: k for k, v in KIND_BYTES.items()}
_LEN = struct.Struct(">I")
MAX_FRAME = 64 << 20


def write_frame(writer: asyncio.StreamWriter, msg: object) -> None:
    """A control frame: raw bytes as they are, anything else msgpack-encoded."""
    data = msg if isinstance(msg, bytes) else msgpack.packb(msg)
    if not writer.is_closing():
        writer.write(_LEN.pack(len(data)) + data)


async def read_raw(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readexactly(4)
        (n,) = _LEN.unpack(head)
        if n > MAX_FRAME:
            return None
        return await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


async def read_frame(reader: asyncio.StreamReader) -> object | None:
    """The next msgpack frame, or None at the end of the stream."""
    data = await read_raw(reader)
    if data is None:
        return None
    try:
        return msgpack.unpackb(data, strict_map_key=False)
    except (ValueError, msgpack.ExtraData):
        return None
