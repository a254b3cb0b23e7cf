"""Java's textual renderings that ZooKeeper's admin output leaks: Double.toString, Long.toHexString,
Date.toString, and Jackson's INDENT_OUTPUT pretty printer (JsonOutputter.java).

Pure functions; no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_double(x: float) -> str:
    """Java's Double.toString: plain decimal with at least one fraction digit in [1e-3, 1e7),
    otherwise computerized scientific notation such as 1.0E7 (shortest round-trip digits)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    a = abs(x)
    if 1e-3 <= a < 1e7:
        return repr(float(x))  # Python's repr never uses an exponent in this range
    # Shortest round-trip digits, re-laid out as Java's d.dddE<n>.
    sign, digits, exp = Decimal(repr(a)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) - 1 + int(exp)
    coeff = ds[0] + "." + (ds[1:] or "0")
    return f"{'-' if x < 0 else ''}{coeff}E{e10}"


def java_number(v: int | float) -> str:
    """How PrintWriter.print / string concatenation shows a boxed number."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return java_double(v)


def hex_long(v: int) -> str:
    """Long.toHexString: two's-complement for negatives (e.g. -1 -> ffffffffffffffff)."""
    return format(v & 0xFFFFFFFFFFFFFFFF, "x")


def java_date(epoch_ms: int, tz_name: str = "UTC") -> str:
    """java.util.Date.toString in UTC: 'Tue Nov 24 16:06:00 UTC 2026'."""
    t = time.gmtime(epoch_ms // 1000)
    return (f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {tz_name} {t.tm_year}")


def _json_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return java_double(v)
    s = str(v)
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jackson_pretty(value: Any, level: int = 0) -> str:
    """Jackson DefaultPrettyPrinter layout: objects one field per line indented by two spaces with
    ' : ', arrays inline as '[ a, b ]', empty containers '{ }' and '[ ]'. Map keys become strings."""
    if isinstance(value, Mapping):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        parts = [f"{pad}{_json_scalar(str(k))} : {jackson_pretty(v, level + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(parts) + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if not items:
            return "[ ]"
        return "[ " + ", ".join(jackson_pretty(v, level) for v in items) + " ]"
    return _json_scalar(value)
