"""Jute binary archive: the primitives and a record compiler.

A record is declared once, as an ordered list of (name, type) pairs mirroring zookeeper.jute.
`record()` turns the declaration into a NamedTuple class and compiles a decoder and an encoder
for it (straight-line code, one `struct` call per run of fixed-size fields), so the hot path pays
no per-field interpretation. Layout rules follow BinaryInputArchive/BinaryOutputArchive: all
big-endian; buffer, ustring and vector carry an int length where -1 means null.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

# jute.maxbuffer default (BinaryInputArchive.maxBuffer) and its sanity padding
# (zookeeper.jute.maxbuffer.extrasize defaults to 1024 when unset or below it).
MAX_BUFFER = 0xFFFFF
EXTRA_MAX_BUFFER = 1024


class JuteError(ValueError):
    """Malformed or truncated jute bytes (Java throws IOException/EOFException here)."""


INT = "int"
LONG = "long"
BOOL = "boolean"
BUFFER = "buffer"
USTRING = "ustring"

_FIXED = {INT: ("i", 4), LONG: ("q", 8), BOOL: ("?", 1)}
_I = struct.Struct(">i")


class Vector:
    """vector<T> type marker; `of` is a primitive name or a record class."""

    __slots__ = ("of",)

    def __init__(self, of: Any) -> None:
        self.of = of


FieldType = Any  # str primitive name, Vector, or a record class
RecordDecoder = Callable[[Any, int], tuple[Any, int]]
RecordEncoder = Callable[[Any, bytearray], None]


# -- Java's UTF-8 decoding (new String(bytes, UTF_8)) ------------------------------------------

def _java_utf8_errors(exc: UnicodeError) -> tuple[str, int]:
    """One U+FFFD per malformed sequence, as Java's String.decodeUTF8 counts them. It agrees
    with Python's "replace" except for ED followed by A0-BF (a UTF-16 surrogate encoded in
    three bytes): Java reads ED like any 3-byte lead, so "ED A0 80" is one malformed
    character (three bytes) and "ED A0" before a non-continuation byte or the end one (two
    bytes), where Python answers one U+FFFD per byte."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    data, start = exc.object, exc.start
    if data[start] == 0xED and start + 1 < len(data) and 0xA0 <= data[start + 1] <= 0xBF:
        if start + 2 < len(data) and 0x80 <= data[start + 2] <= 0xBF:
            return "\ufffd", start + 3
        return "\ufffd", start + 2
    return "\ufffd", exc.end


codecs.register_error("pyzk-java-utf8", _java_utf8_errors)


def java_utf8(data: bytes) -> str:
    """new String(data, UTF_8) (and new String(data) under a UTF-8 default charset)."""
    return data.decode("utf-8", "pyzk-java-utf8")


# -- primitive helpers used by the generated code ---------------------------------------------

def read_buffer(buf: Any, off: int, limit: int) -> tuple[bytes | None, int]:
    if off + 4 > len(buf):
        raise JuteError("truncated buffer length")
    (n,) = _I.unpack_from(buf, off)
    off += 4
    if n == -1:
        return None, off
    if n < 0 or n > limit:
        raise JuteError(f"Unreasonable length = {n}")
    end = off + n
    if end > len(buf):
        raise JuteError("truncated buffer")
    return bytes(buf[off:end]), end


def read_string(buf: Any, off: int, limit: int) -> tuple[str | None, int]:
    if off + 4 > len(buf):
        raise JuteError("truncated string length")
    (n,) = _I.unpack_from(buf, off)
    off += 4
    if n == -1:
        return None, off
    if n < 0 or n > limit:
        raise JuteError(f"Unreasonable length = {n}")
    end = off + n
    if end > len(buf):
        raise JuteError("truncated string")
    # Java's new String(bytes, UTF_8) substitutes U+FFFD for malformed input.
    return bytes(buf[off:end]).decode("utf-8", "pyzk-java-utf8"), end


def read_vector_len(buf: Any, off: int) -> tuple[int, int]:
    if off + 4 > len(buf):
        raise JuteError("truncated vector length")
    (n,) = _I.unpack_from(buf, off)
    if n < -1:
        # BinaryInputArchive.startVector: only -1 means null; BinaryIndex(n) with n < 0 is
        # done at once, so any other negative count reads as an empty vector.
        return 0, off + 4
    # Each element takes at least one byte; a larger count can only be a lie.
    if n > len(buf) - off:
        raise JuteError(f"vector length {n} exceeds the frame")
    return n, off + 4


def write_buffer(out: bytearray, b: bytes | None) -> None:
    if b is None:
        out += b"\xff\xff\xff\xff"
    else:
        out += _I.pack(len(b))
        out += b


def write_string(out: bytearray, s: str | None) -> None:
    if s is None:
        out += b"\xff\xff\xff\xff"
    else:
        b = s.encode("utf-8")
        out += _I.pack(len(b))
        out += b


def _read_prim_list(kind: str) -> Callable[[Any, int, int], tuple[list[Any] | None, int]]:
    if kind == USTRING:
        def rd(buf: Any, off: int, limit: int) -> tuple[list[Any] | None, int]:
            n, off = read_vector_len(buf, off)
            if n == -1:
                return None, off
            items = []
            for _ in range(n):
                s, off = read_string(buf, off, limit)
                items.append(s)
            return items, off
        return rd
    if kind == BUFFER:
        def rdb(buf: Any, off: int, limit: int) -> tuple[list[Any] | None, int]:
            n, off = read_vector_len(buf, off)
            if n == -1:
                return None, off
            items = []
            for _ in range(n):
                b, off = read_buffer(buf, off, limit)
                items.append(b)
            return items, off
        return rdb
    fmt, size = _FIXED[kind]
    st = struct.Struct(">" + fmt)

    def rdf(buf: Any, off: int, limit: int) -> tuple[list[Any] | None, int]:
        n, off = read_vector_len(buf, off)
        if n == -1:
            return None, off
        if off + n * size > len(buf):
            raise JuteError("truncated vector")
        items = [st.unpack_from(buf, off + i * size)[0] for i in range(n)]
        return items, off + n * size
    return rdf


# -- the record compiler --------------------------------------------------------------------

_LIMIT = MAX_BUFFER + EXTRA_MAX_BUFFER


def record(name: str, fields: Sequence[tuple[str, FieldType]]) -> Any:
    """Build a NamedTuple class for a jute record with compiled `decode`/`encode`.

    `Cls.decode(buf, off=0) -> (rec, new_off)`; `Cls.encode(rec, out)` appends to a bytearray;
    `Cls.to_bytes(rec)` and `Cls.from_bytes(data)` (which rejects trailing bytes only if
    `exact=True`) are conveniences; `Cls.FIELDS` keeps the declaration.
    """
    base = NamedTuple(name, [(f, _py_type(t)) for f, t in fields])  # type: ignore[misc]
    ns: dict[str, Any] = {
        "_Tuple": base,
        "_tnew": tuple.__new__,
        "_JuteError": JuteError,
        "_read_buffer": read_buffer,
        "_read_string": read_string,
        "_read_vector_len": read_vector_len,
        "_write_buffer": write_buffer,
        "_write_string": write_string,
        "_I": _I,
        "_LIMIT": _LIMIT,
        "_UTF8_ERRORS": "pyzk-java-utf8",
    }
    dec_lines = ["def decode(buf, off=0):", "    blen = len(buf)"]
    enc_lines = ["def encode(rec, out):"]
    names = [f for f, _ in fields]
    fixed_run: list[tuple[str, str]] = []
    counter = [0]

    def flush_fixed() -> None:
        if not fixed_run:
            return
        counter[0] += 1
        sname = f"_S{counter[0]}"
        fmt = ">" + "".join(_FIXED[t][0] for _, t in fixed_run)
        st = struct.Struct(fmt)
        ns[sname] = st
        targets = ", ".join(f"v_{f}" for f, _ in fixed_run) + ","
        dec_lines.append(f"    if off + {st.size} > blen: raise _JuteError('truncated {name}')")
        dec_lines.append(f"    {targets} = {sname}.unpack_from(buf, off)")
        dec_lines.append(f"    off += {st.size}")
        args = ", ".join(f"rec[{names.index(f)}]" for f, _ in fixed_run)
        enc_lines.append(f"    out += {sname}.pack({args})")
        fixed_run.clear()

    for fname, ftype in fields:
        idx = names.index(fname)
        if isinstance(ftype, str) and ftype in _FIXED:
            fixed_run.append((fname, ftype))
            continue
        flush_fixed()
        if ftype == BUFFER:
            dec_lines += _inline_read(fname, "buffer", "bytes(buf[off:end])")
            enc_lines.append(f"    _write_buffer(out, rec[{idx}])")
        elif ftype == USTRING:
            dec_lines += _inline_read(fname, "string", "str(buf[off:end], 'utf-8', _UTF8_ERRORS)")
            enc_lines.append(f"    _write_string(out, rec[{idx}])")
        elif isinstance(ftype, Vector):
            of = ftype.of
            rd = f"_rv_{fname}"
            if isinstance(of, str):
                ns[rd] = _read_prim_list(of)
                dec_lines.append(f"    v_{fname}, off = {rd}(buf, off, _LIMIT)")
                wr = {USTRING: "_write_string(out, x)", BUFFER: "_write_buffer(out, x)"}.get(of)
                if wr is None:
                    ns[f"_vs_{fname}"] = struct.Struct(">" + _FIXED[of][0])
                    wr = f"out += _vs_{fname}.pack(x)"
            else:
                dec_more, wr = _record_vector_code(fname, of, ns)
                dec_lines += dec_more
            enc_lines += [
                f"    v = rec[{idx}]",
                "    if v is None:",
                "        out += b'\\xff\\xff\\xff\\xff'",
                "    else:",
                "        out += _I.pack(len(v))",
                "        for x in v:",
                f"            {wr}",
            ]
        elif isinstance(ftype, type):
            ns[f"_rec_{fname}"] = ftype
            dec_lines.append(f"    v_{fname}, off = _rec_{fname}.decode(buf, off)")
            enc_lines.append(f"    _rec_{fname}.encode(rec[{idx}], out)")
        else:
            raise TypeError(f"{name}.{fname}: unknown jute type {ftype!r}")
    flush_fixed()
    tup = ", ".join(f"v_{f}" for f in names)
    dec_lines.append(f"    return _tnew(_Cls, ({tup}{',' if len(names) == 1 else ''})), off")
    if names and all(isinstance(t, str) and t in _FIXED for _, t in fields):
        # Fixed-size fields only (headers, Stat, TxnDigest: every request and txn has some):
        # the unpacked tuple becomes the record as it is, not unpacked into locals first.
        size = ns["_S1"].size
        dec_lines = ["def decode(buf, off=0):",
                     f"    if off + {size} > len(buf): raise _JuteError('truncated {name}')",
                     f"    return _tnew(_Cls, _S1.unpack_from(buf, off)), off + {size}"]
    if len(enc_lines) == 1:
        enc_lines.append("    pass")

    cls: Any = type(name, (base,), {"__slots__": (), "FIELDS": tuple(fields)})
    ns["_Cls"] = cls
    exec("\n".join(dec_lines), ns)  # noqa: S102 - generated from a fixed declaration
    exec("\n".join(enc_lines), ns)  # noqa: S102
    cls.decode = staticmethod(ns["decode"])
    cls.encode = staticmethod(ns["encode"])

    def to_bytes(rec: Any) -> bytes:
        out = bytearray()
        ns["encode"](rec, out)
        return bytes(out)

    def from_bytes(data: Any, exact: bool = False) -> Any:
        rec, off = ns["decode"](data, 0)
        if exact and off != len(data):
            raise JuteError(f"{name}: {len(data) - off} trailing bytes")
        return rec

    cls.to_bytes = staticmethod(to_bytes)
    cls.from_bytes = staticmethod(from_bytes)
    return cls


def _inline_read(fname: str, what: str, value: str) -> list[str]:
    """Generated lines reading a buffer or ustring field into v_<fname>: read_buffer /
    read_string (same checks, same messages) written out in place, as a call per field costs
    as much as the reading. `value` makes the field from buf[off:end]."""
    return [
        "    if off + 4 > blen:",
        f"        raise _JuteError('truncated {what} length')",
        "    n, = _I.unpack_from(buf, off)",
        "    off += 4",
        "    if n == -1:",
        f"        v_{fname} = None",
        "    else:",
        "        if n < 0 or n > _LIMIT:",
        "            raise _JuteError(f'Unreasonable length = {n}')",
        "        end = off + n",
        "        if end > blen:",
        f"            raise _JuteError('truncated {what}')",
        f"        v_{fname} = {value}",
        "        off = end",
    ]


def _record_vector_code(fname: str, of: Any, ns: dict[str, Any]) -> tuple[list[str], str]:
    """Generated decode lines and the per-element encode statement of a vector<record> field.
    Elements of few distinct values (the ACLs of nearly every create) go through the
    element type's memo (_ElementMemo): each encoding met before is decoded and encoded once."""
    ns[f"_rec_{fname}"] = of
    memo = _element_memo(of)
    if memo is not None:
        ns[f"_mv_{fname}"] = memo
        dec, wr = f"_mv_{fname}.decode", f"out += _mv_{fname}.encoded(x)"
    else:
        dec, wr = f"_rec_{fname}.decode", f"_rec_{fname}.encode(x, out)"
    return [
        "    n, off = _read_vector_len(buf, off)",
        "    if n == -1:",
        f"        v_{fname} = None",
        "    else:",
        f"        v_{fname} = []",
        f"        dec = {dec}",
        "        for _ in range(n):",
        "            x, off = dec(buf, off)",
        f"            v_{fname}.append(x)",
    ], wr


class _ElementMemo:
    """Decode and encode of one vector element type through a bounded memo of encodings.

    A record of fixed-size fields, strings and buffers (and such records) can be measured
    without decoding it (`span`: the length fields alone), so an element whose bytes were
    decoded before is looked up by those bytes instead; an element encoded before is looked
    up by its value. Only what decoded or encoded successfully is remembered, as immutable
    records (tuples of ints and strings), so sharing them is safe; at most MEMO_LIMIT
    entries each, after which new values take the plain path."""

    MEMO_LIMIT = 256  # entries of each memo
    MAX_BYTES = 256  # longest encoding remembered (an ACL is ~30 bytes)
    __slots__ = ("cls", "span_steps", "by_bytes", "by_value")

    def __init__(self, cls: Any, span_steps: list[Any]) -> None:
        self.cls = cls
        self.span_steps = span_steps
        self.by_bytes: dict[bytes, Any] = {}
        self.by_value: dict[Any, bytes] = {}

    def _span(self, buf: Any, off: int) -> int:
        for step in self.span_steps:
            if type(step) is int:
                if step >= 0:
                    off += step
                else:  # a string: its length, -1 for null
                    (n,) = _I.unpack_from(buf, off)
                    off += 4 + (n if n > 0 else 0)
            else:
                off = step._span(buf, off)
        return off

    def decode(self, buf: Any, off: int) -> tuple[Any, int]:
        try:
            end = self._span(buf, off)
        except struct.error:  # truncated: the plain decoder says how
            return self.cls.decode(buf, off)  # type: ignore[no-any-return]
        if end - off <= self.MAX_BYTES and end <= len(buf):
            key = bytes(buf[off:end])
            hit = self.by_bytes.get(key)
            if hit is not None:
                return hit, end
            rec, new_off = self.cls.decode(buf, off)
            if new_off == end and len(self.by_bytes) < self.MEMO_LIMIT:
                self.by_bytes[key] = rec
            return rec, new_off
        return self.cls.decode(buf, off)  # type: ignore[no-any-return]

    def encoded(self, rec: Any) -> bytes:
        try:
            hit = self.by_value.get(rec)
        except TypeError:  # an unhashable field value: encode it plainly
            hit = None
            out = bytearray()
            self.cls.encode(rec, out)
            return bytes(out)
        if hit is not None:
            return hit
        out = bytearray()
        self.cls.encode(rec, out)
        b = bytes(out)
        if len(self.by_value) < self.MEMO_LIMIT and len(b) <= self.MAX_BYTES:
            self.by_value[rec] = b
        return b


_MEMOS: dict[Any, _ElementMemo | None] = {}


def _element_memo(cls: Any) -> _ElementMemo | None:
    """The shared memo of a vector element record type, if its encoding can be measured
    without decoding (fixed-size fields, strings, and records of those; no buffers, whose
    values are data, seldom repeated and costly to hash)."""
    if cls in _MEMOS:
        return _MEMOS[cls]
    steps: list[Any] = []
    ok = True
    for _, t in getattr(cls, "FIELDS", ()):
        if isinstance(t, str) and t in _FIXED:
            if steps and type(steps[-1]) is int and steps[-1] >= 0:
                steps[-1] += _FIXED[t][1]
            else:
                steps.append(_FIXED[t][1])
        elif t == USTRING:
            steps.append(-1)
        elif isinstance(t, type) and hasattr(t, "FIELDS"):
            sub = _element_memo(t)
            if sub is None:
                ok = False
                break
            steps.append(sub)
        else:
            ok = False
            break
    memo = _ElementMemo(cls, steps) if ok and steps else None
    _MEMOS[cls] = memo
    return memo


def _py_type(t: FieldType) -> Any:
    if t in (INT, LONG):
        return int
    if t == BOOL:
        return bool
    if t == BUFFER:
        return bytes | None
    if t == USTRING:
        return str | None
    if isinstance(t, Vector):
        return list | None
    return t
