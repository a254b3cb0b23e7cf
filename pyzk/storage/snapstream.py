"""Snapshot stream modes (SnapStream): uncompressed, gzip and xerial snappy-java framing.

Java picks the mode for writing from zookeeper.snapshot.compression.method (zoo.cfg's
snapshot.compression.method) and names the file snapshot.<zxid><ext> with ext "", ".gz" or
".snappy"; for reading it picks the mode from the file name's last dot-separated part
(case-insensitive; anything else is read as uncompressed). The Adler-32 seals inside the
snapshot are over the uncompressed bytes, so compression wraps the whole stream.

Snappy files are written the way snappy-java's SnappyOutputStream writes them: a 16-byte header
(the magic 0x82 "SNAPPY" 0x00, then int version 1 and int compatible version 1, big-endian),
then blocks of at most 32 KiB of input, each an int compressed length and one raw snappy block.
SnappyInputStream also reads a stream with no header as one raw snappy block, and a header
repeated where a block length is expected (concatenated streams); so does this module.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

CHECKED, GZIP, SNAPPY = "", "gz", "snappy"
MODES = (CHECKED, GZIP, SNAPPY)

SNAPPY_MAGIC = b"\x82SNAPPY\x00"  # SnappyCodec.MAGIC_HEADER
SNAPPY_HEADER = SNAPPY_MAGIC + struct.pack(">ii", 1, 1)  # version, compatible version
SNAPPY_BLOCK = 32 * 1024  # SnappyOutputStream.DEFAULT_BLOCK_SIZE
GZIP_MAGIC = b"\x1f\x8b"
_INT = struct.Struct(">i")


class StreamError(ValueError):
    """A compressed snapshot stream that cannot be decoded."""


def mode_from_setting(value: str) -> str | None:
    """SnapStream.StreamMode.fromString for the configured method: None when it names no mode
    (Java then silently writes uncompressed snapshots; pyzk refuses the value at start)."""
    v = value.lower()
    return v if v in MODES else None


def mode_of_file(name: str) -> str:
    """SnapStream.getStreamMode(fileName): the last dot-separated part, case-insensitive."""
    parts = name.split(".")
    if len(parts) > 1:
        last = parts[-1].lower()
        if last in (GZIP, SNAPPY):
            return last
    return CHECKED


def extension(mode: str) -> str:
    return f".{mode}" if mode else ""


def _snappy() -> Any:
    try:
        import cramjam
    except ImportError:  # pragma: no cover - cramjam is a dependency
        raise StreamError("snappy snapshots need the 'cramjam' package") from None
    return cramjam.snappy


def compress_chunks(mode: str, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The file's bytes for the uncompressed snapshot stream `pieces`, piece by piece."""
    if mode == CHECKED:
        yield from pieces
    elif mode == GZIP:
        # GZIPOutputStream: a gzip member with no name and no mtime; any gzip reads back.
        z = zlib.compressobj(6, zlib.DEFLATED, 31)
        for p in pieces:
            out = z.compress(p)
            if out:
                yield out
        yield z.flush()
    elif mode == SNAPPY:
        compress_raw = _snappy().compress_raw
        yield SNAPPY_HEADER
        pending = bytearray()
        for p in pieces:
            pending += p
            if len(pending) >= SNAPPY_BLOCK:
                buf = bytearray()
                view = memoryview(pending)
                n = len(pending) - len(pending) % SNAPPY_BLOCK
                for off in range(0, n, SNAPPY_BLOCK):
                    block = bytes(compress_raw(bytes(view[off:off + SNAPPY_BLOCK])))
                    buf += _INT.pack(len(block))
                    buf += block
                view.release()
                del pending[:n]
                yield bytes(buf)
        if pending:
            block = bytes(compress_raw(bytes(pending)))
            yield _INT.pack(len(block)) + block
    else:
        raise StreamError(f"unknown snapshot compression method {mode!r}")


def compress(mode: str, data: bytes) -> bytes:
    if mode == CHECKED:
        return data
    return b"".join(compress_chunks(mode, [data]))


def decompress(mode: str, raw: bytes) -> bytes:
    """The uncompressed snapshot stream of a file in `mode` (StreamError when it is broken)."""
    if mode == CHECKED:
        return raw
    if mode == GZIP:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise StreamError(f"bad gzip stream: {e}") from None
    return _snappy_decompress(raw)


def _snappy_decompress(raw: bytes) -> bytes:
    snappy = _snappy()
    try:
        if len(raw) < len(SNAPPY_HEADER) or not raw.startswith(SNAPPY_MAGIC):
            # SnappyInputStream.readFully: no header, one raw snappy block.
            return bytes(snappy.decompress_raw(raw))
        (version,) = _INT.unpack_from(raw, 8)
        if version < 1:
            raise StreamError(f"compressed with incompatible codec version {version}")
        out = bytearray()
        off = len(SNAPPY_HEADER)
        while off < len(raw):
            if len(raw) - off < 4:
                raise StreamError(f"truncated block length at offset {off}")
            if raw.startswith(SNAPPY_MAGIC, off):  # a concatenated stream's header
                off += len(SNAPPY_HEADER)
                continue
            (size,) = _INT.unpack_from(raw, off)
            off += 4
            if size < 0 or off + size > len(raw):
                raise StreamError(f"failed to read chunk at offset {off - 4}")
            out += snappy.decompress_raw(raw[off:off + size])
            off += size
        return bytes(out)
    except StreamError:
        raise
    except Exception as e:  # cramjam.DecompressionError and friends
        raise StreamError(f"bad snappy stream: {e}") from None


def has_valid_start(mode: str, head: bytes) -> bool:
    """SnapStream.isValidGZipStream / isValidSnappyStream: the first bytes are the magic."""
    if mode == GZIP:
        return head[:2] == GZIP_MAGIC
    return head[:len(SNAPPY_MAGIC)] == SNAPPY_MAGIC
