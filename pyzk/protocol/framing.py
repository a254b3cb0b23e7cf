"""Length-prefixed framing of the client port, with the four-letter-word sniff.

A frame is a 4-byte big-endian signed length and that many bytes. The server closes the
connection on a length < 0 or > jute.maxbuffer ("Len error", NIOServerCnxn.readLength). Before
the connect handshake, the first four bytes may instead be a four-letter word.
"""

from __future__ import annotations

import struct

_LEN = struct.Struct(">i")


class FrameError(ValueError):
    """The peer sent a length the server refuses; the connection must close. `frames` holds
    the complete frames before that length: Java reads (and serves) them first."""

    def __init__(self, message: str, frames: list[bytes] | None = None) -> None:
        super().__init__(message)
        self.frames = frames or []


class FrameBuffer:
    """Accumulates bytes and hands out whole frames (payload without the length)."""

    __slots__ = ("_buf", "max_len")

    def __init__(self, max_len: int) -> None:
        self._buf = bytearray()
        self.max_len = max_len

    def feed(self, data: bytes) -> None:
        self._buf += data

    def peek4(self) -> bytes | None:
        """The first four unread bytes, if present (for the 4LW sniff)."""
        return bytes(self._buf[:4]) if len(self._buf) >= 4 else None

    def take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def frames(self) -> list[bytes]:
        """Every complete frame now buffered. Raises FrameError on a refused length."""
        buf = self._buf
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (n,) = _LEN.unpack_from(buf, pos)
            if n < 0 or n > self.max_len:
                del buf[:pos]
                raise FrameError(f"Len error {n}", out)
            if end - pos - 4 < n:
                break
            out.append(bytes(buf[pos + 4:pos + 4 + n]))
            pos += 4 + n
        if pos:
            del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


def frame(payload: bytes | bytearray) -> bytes:
    return _LEN.pack(len(payload)) + payload
