"""Layout fingerprints of 4LW text and AdminServer JSON: what must match Java exactly (line
structure, keys, key order, value kinds) with the values that legitimately differ (numbers, ids,
addresses, dates, versions, paths of the data dir, JVM details) abstracted away.
Used by the golden-file unit tests and the live Java-vs-pyzk reference tests.
"""

from __future__ import annotations

import re
from typing import Any

_DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \S+ \d{4}")
_HEX = re.compile(r"0x[0-9a-f]+")
_ADDR = re.compile(r"\d+\.\d+\.\d+\.\d+:\d+")
_FLOAT = re.compile(r"-?\d+\.\d+(?:E-?\d+)?")
_INT = re.compile(r"-?\d+")
_HASH_LINE = re.compile(r"^[0-9a-f]+: -?\d+$")
_FREE_VALUE_KEYS = ("Zookeeper version", "dataDir", "dataLogDir")
_CONN = re.compile(r"^ /")


def _shape(line: str) -> str:
    line = _DATE.sub("<date>", line)
    line = re.sub(r"lop=\w+", "lop=<op>", line)  # the last op name is a value, not layout
    line = _HEX.sub("<hex>", line)
    line = _ADDR.sub("<addr>", line)
    line = _FLOAT.sub("#.#", line)
    return _INT.sub("#", line)


def _number_kind(value: str) -> str:
    if _INT.fullmatch(value):
        return "int"
    if _FLOAT.fullmatch(value):
        return "float"
    return "text"


def text_layout(cmd: str, text: str) -> list[str]:
    """One fingerprint per line (order kept, except connection lines, which Java emits in hash-set
    order). The trailing-newline convention is kept as a final '<no newline>' marker."""
    lines = text.split("\n")
    tail = [] if text.endswith("\n") or not text else ["<no newline>"]
    if text.endswith("\n"):
        lines = lines[:-1]
    if cmd == "mntr":
        out = []
        for line in lines:
            key, _, value = line.partition("\t")
            out.append(f"{key}\t{'text' if key == 'zk_version' else _number_kind(value)}")
        return out + tail
    if cmd == "envi":
        return [line.partition("=")[0] for line in lines] + tail
    if cmd == "hash":
        return sorted({"<zxid>: #" if _HASH_LINE.match(ln) else _shape(ln) for ln in lines}) + tail
    if cmd == "dump":
        # Empty expiry buckets come and go with timing; only occupied ones are structure.
        lines = [ln for ln in lines if not ln.startswith("0 expire at ")]
        if "Connections dump:" in lines:
            # Which 10 s bucket a connection lands in depends on when it last talked (two
            # connections straddle a boundary now and then): keep only the members.
            cut = lines.index("Connections dump:")
            lines = lines[:cut] + [ln for ln in lines[cut:]
                                   if not re.match(r"\d+ expire at ", ln)]
        lines = [re.sub(r"Sets \(\d+\)/", "Sets (#)/", ln) for ln in lines]
    out = []
    for line in lines:
        key, sep, _ = line.partition(": " if ": " in line else "=")
        out.append(key + sep + "*" if sep and key in _FREE_VALUE_KEYS else _shape(line))
    # Connection lines, and each run of tab-indented items (watch/ephemeral/expiry members), come
    # from Java hash sets: they keep their slots but are sorted among themselves.
    groups = [[i for i, line in enumerate(lines) if _CONN.match(line)]]
    run: list[int] = []
    for i, line in enumerate(lines + [""]):
        if line.startswith("\t"):
            run.append(i)
        elif run:
            groups.append(run)
            run = []
    for slots in groups:
        for i, shaped in zip(slots, sorted(out[i] for i in slots), strict=True):
            out[i] = shaped
    if cmd in ("wchc", "wchp"):
        # Java iterates HashMaps: each header with its tab lines is a block; blocks are unordered.
        blocks: list[list[str]] = []
        for line, shaped in zip(lines, out, strict=True):
            if line.startswith("\t") and blocks:
                blocks[-1].append(shaped)
            else:
                blocks.append([shaped])
        out = [x for b in sorted(blocks[:-1]) for x in b] + blocks[-1] if blocks else out
    return out + tail


_DYNAMIC_KEYS = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
                 "session_id_to_watched_paths", "path_to_session_ids", "current_config"}
_BEANS = {"server_stats"}


def _kind(v: Any) -> Any:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return ["list", sorted({repr(_kind(x)) for x in v})]
    if isinstance(v, dict):
        return [[k, _kind(x)] for k, x in v.items()]
    return type(v).__name__


def json_layout(name: str, obj: dict[str, Any]) -> Any:
    """Keys in order with value kinds; maps keyed by ids/paths/times collapse to one '*' key."""
    if name == "system_properties":  # the JVM's properties: only the envelope is comparable
        return [[k, _kind(v)] for k, v in obj.items() if k in ("command", "error")]

    def walk(key: str, v: Any) -> Any:
        if isinstance(v, dict):
            if key in _DYNAMIC_KEYS:  # empty expiry buckets come and go with timing
                return ["*", sorted({repr(walk("", x)) for x in v.values() if x != []})]
            pairs = [[k, walk(k, x)] for k, x in v.items()]
            # Jackson orders a bean's getter-only properties by reflection, which varies between
            # JVM runs (seen for ServerStats): compare those as a set.
            return sorted(pairs) if key in _BEANS else pairs
        if isinstance(v, list):
            return ["list", sorted({repr(walk("", x)) for x in v})]
        return _kind(v)

    return walk("", obj)
