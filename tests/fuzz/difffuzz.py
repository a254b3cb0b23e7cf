"""Seeded, grammar-aware differential fuzzer: the same client bytes go to a pyzk server and to
Debian's Java ZooKeeper 3.8.0, and what each server does is compared.

Usage:
    .venv/bin/python -m tests.fuzz.difffuzz --seed S --frames N [--servers pyzk,java] [--report F]
    .venv/bin/python -m tests.fuzz.difffuzz --seed S --case K       # replay one case, print hex
    .venv/bin/python -m tests.fuzz.difffuzz --regressions           # the seeded regression cases
    .venv/bin/python -m tests.fuzz.difffuzz --target follower --seed S --frames N  # see below
    --hosts PYZK_IP,JAVA_IP moves the standalone servers off 127.0.0.61/62 (used by CI).

--target follower|observer: each side is a 3-member ensemble of its kind (pyzk members, Java
members) on 127.0.64.11-13 and 127.0.64.21-23 (--ensemble-base moves them, e.g. to replay a
case while a run goes on), and the cases go to a member that does not lead: follower 1 of an
ensemble led by 3 (start order), or observer 3 beside voters 1 and 2. Writes, sync and
createSession/closeSession then take the learner's path (forwarded to the leader, answered when
the commit comes back). Every epoch starts new ensembles; the member addresses in replies
(/zookeeper/config) are replaced by names of the same length. Cases that break a Java 3.8.0
ensemble for the rest of the epoch are not sent (skip_reason; the summary counts them).

How a case runs. Every case is a list of frames (4-byte length prefix + payload) generated from
the jute grammar (zookeeper.jute) for one featured opcode, optionally mutated at a field
boundary (lengths -1/0/huge/off by one, truncation, inserted/deleted bytes, wrong field types,
odd values, opcode/xid swaps), preceded by valid setup writes in a case-private subtree
/z<case> and followed by observing reads. All frames of a case go to each server in ONE write,
followed by a sentinel (`exists "/"` with a reserved xid): the sentinel's reply (or the server
closing the socket) says the case is complete, so nothing waits on a timeout unless a server
hangs. Most cases reuse one long-lived "lane" session per server; connect/pre-handshake cases
open their own connection. A `exists "/"` marker in front of the case gives the zxid base, so
zxids are compared as deltas within the case (a case on its own connection takes the base
from a ping on the observer session). A `sync "/"` goes before the marker and before every
batch on the observer session: a read is answered from the serving process's copy of the tree,
which with pyzk.workers > 1 may be a worker's replica that has not yet applied what another
connection was just answered, as on a Java follower; the sync brings it up to date.

Per server a case yields tokens: the ConnectResponse (normalized), every reply (matched request
op, err, zxid delta, normalized body: Stat zxids relative to the case, no times, session ids
replaced by self/other), every watch event, and how the stream ended (sentinel/closed/hang).
The first token that differs names the difference class, e.g.
`op=deleteContainer mut=plain-node: deleteContainer: pyzk err=0 vs java err=-8`.
At the end of every epoch (and at the end) both trees are walked over a super-user session and
compared node by node (data, versions, ACLs, ephemeral-ness); then both servers restart on
fresh data dirs. Crashes (a dead pyzk), hangs and tracebacks in pyzk's log are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import fnmatch
import hashlib
import json
import random
import re
import shutil
import socket
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.ensemble_target import ENSEMBLE_BASE, TARGETS, EnsembleTarget
from tests.servers import JAVA_CLASSPATH, ServerProc, java_available

HOSTS = {"pyzk": "127.0.0.61", "java": "127.0.0.62"}
MAXBUF = 0xFFFFF
SESSION_TIMEOUT = 3_600_000  # lane/observer sessions never expire during a run
SUPER_PW = "fuzzsuper"
SUPER_DIGEST = "super:" + base64.b64encode(
    hashlib.sha1(f"super:{SUPER_PW}".encode()).digest()).decode()
PRE_XID = 0x5EB7_0001  # reserved xids: the zxid marker before a case and the sentinel after it
SENT_XID = 0x5EB7_0002
SYNC_XID = 0x5EB7_0004  # the sync in front of a lane case's marker and of every observer batch
RESERVED_XIDS = (PRE_XID, SENT_XID, SYNC_XID)

OPS: dict[int, str] = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession", -1: "error",
}
OPNUM = {v: k for k, v in OPS.items()}
UNKNOWN_OPS = (0, 10, 23, 24, 99, 108, 109, 1000, -1, -2, -9, -12, 0x7FFFFFFF, -0x80000000)
WRITE_MULTI_OPS = (1, 15, 19, 21, 2, 5, 13)
READ_MULTI_OPS = (4, 8)

_I = struct.Struct(">i")
_Q = struct.Struct(">q")
_HDR = struct.Struct(">iqi")


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def s64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v & (1 << 63) else v


def opname(t: int) -> str:
    return OPS.get(t, f"op{t}")


# ------------------------------------------------------------------------------------------
# Jute writer that remembers where every field is (the grammar the mutations work on)
# ------------------------------------------------------------------------------------------

@dataclass
class Fld:
    start: int
    end: int
    label: str  # field path with indices stripped, e.g. "acl[].id.scheme"
    kind: str  # int long bool ustring buffer vector record


class Enc:
    def __init__(self) -> None:
        self.out = bytearray()
        self.fields: list[Fld] = []
        self.lens: list[tuple[int, str, int]] = []  # (offset of the length int, label, length)
        self.prefix = ""

    def _add(self, s: int, label: str, kind: str) -> None:
        self.fields.append(Fld(s, len(self.out), self.prefix + label, kind))

    def i32(self, label: str, v: int) -> None:
        s = len(self.out)
        self.out += _I.pack(s32(v))
        self._add(s, label, "int")

    def i64(self, label: str, v: int) -> None:
        s = len(self.out)
        self.out += _Q.pack(s64(v))
        self._add(s, label, "long")

    def boolean(self, label: str, v: int | bool) -> None:
        s = len(self.out)
        self.out.append(int(v) & 0xFF)
        self._add(s, label, "bool")

    def _blob(self, label: str, b: bytes | None, kind: str) -> None:
        s = len(self.out)
        if b is None:
            self.out += _I.pack(-1)
        else:
            self.out += _I.pack(len(b)) + b
        self.lens.append((s, self.prefix + label, -1 if b is None else len(b)))
        self._add(s, label, kind)

    def ustr(self, label: str, v: str | bytes | None) -> None:
        self._blob(label, v.encode("utf-8", "surrogatepass") if isinstance(v, str) else v,
                   "ustring")

    def buf(self, label: str, v: bytes | None) -> None:
        self._blob(label, v, "buffer")

    def vec(self, label: str, items: list[Any] | None, fn: Callable[[Enc, Any], None]) -> None:
        s = len(self.out)
        self.out += _I.pack(-1 if items is None else len(items))
        self.lens.append((s, self.prefix + label, -1 if items is None else len(items)))
        saved = self.prefix
        self.prefix = f"{saved}{label}[]."
        for it in items or ():
            fn(self, it)
        self.prefix = saved
        self._add(s, label, "vector")

    def rec(self, label: str, fn: Callable[[Enc], None]) -> None:
        s = len(self.out)
        saved = self.prefix
        self.prefix = f"{saved}{label}."
        fn(self)
        self.prefix = saved
        self._add(s, label, "record")


def enc_acl(e: Enc, acl: tuple[int, str | None, str | None]) -> None:
    e.i32("perms", acl[0])
    e.ustr("id.scheme", acl[1])
    e.ustr("id.id", acl[2])


def frame(payload: bytes | bytearray) -> bytes:
    return _I.pack(len(payload)) + bytes(payload)


class Rd:
    """Jute reader for replies; raises IndexError on short input."""

    __slots__ = ("b", "o")

    def __init__(self, b: bytes, o: int = 0) -> None:
        self.b, self.o = b, o

    def i32(self) -> int:
        if self.o + 4 > len(self.b):
            raise IndexError
        (v,) = _I.unpack_from(self.b, self.o)
        self.o += 4
        return int(v)

    def i64(self) -> int:
        if self.o + 8 > len(self.b):
            raise IndexError
        (v,) = _Q.unpack_from(self.b, self.o)
        self.o += 8
        return int(v)

    def boolean(self) -> int:
        if self.o + 1 > len(self.b):
            raise IndexError
        self.o += 1
        return self.b[self.o - 1]

    def buf(self) -> bytes | None:
        n = self.i32()
        if n == -1:
            return None
        if n < 0 or self.o + n > len(self.b):
            raise IndexError
        self.o += n
        return self.b[self.o - n:self.o]

    def ustr(self) -> str | None:
        v = self.buf()
        return None if v is None else v.decode("utf-8", "replace")

    def vec(self, fn: Callable[[], Any]) -> list[Any] | None:
        n = self.i32()
        if n == -1:
            return None
        if n < 0 or n > 1_000_000:
            raise IndexError
        return [fn() for _ in range(n)]


# ------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------

@dataclass
class Case:
    k: int
    kind: str
    op: str
    mut: str
    frames: list[bytes] = field(default_factory=list)  # complete frames incl. length prefix
    fresh: bool = False  # own connection; frames[0] is (meant as) the ConnectRequest
    cleanup: bool = False  # the session may expire early: close it after the case
    setacl: bool = False  # may have changed an ACL outside the case subtree
    name: str = ""  # regression case name
    expect_java: Callable[[list[tuple[Any, ...]]], bool] | None = None
    expect_text: str = ""

    @property
    def label(self) -> str:
        return f"op={self.op} mut={self.mut}"

    @property
    def root(self) -> str:
        return f"/z{self.k}"

    def data(self) -> bytes:
        return b"".join(self.frames)


def connect_payload(timeout: int = SESSION_TIMEOUT, last_zxid: int = 0, sid: int = 0,
                    passwd: bytes | None = b"\0" * 16, ro: int | None = 0,
                    pv: int = 0) -> Enc:
    e = Enc()
    e.i32("protocolVersion", pv)
    e.i64("lastZxidSeen", last_zxid)
    e.i32("timeOut", timeout)
    e.i64("sessionId", sid)
    e.buf("passwd", passwd)
    if ro is not None:
        e.boolean("readOnly", ro)
    return e


INVALID_PATHS: list[str | bytes | None] = [
    "", "z", "/z/", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a\x00b", "/\x01",
    "/\x7f", "/\u0085", "/\ud7ff", b"/\xed\xa0\x80", "/\ue000", "/\ufff0", "/\uffff", None,
    b"/\xff\xfe", "/" + "x" * 300, " /a", "/a ", "/zookeeper/", "/zookeeper/quota/x",
]
SPECIAL_PATHS = ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]
INT_VALUES = [0, 1, -1, 2, -2, 5, 7, 8, 255, 256, 0x7FFFFFFF, -0x80000000, 0xFFFF, 1 << 20]
LONG_VALUES = [0, 1, -1, 0x7FFFFFFFFFFFFFFF, -0x8000000000000000, 0xFFFFFFFFFF,
               0x10000000000, 1 << 32, 1000, 86400000]


class Gen:
    """Builds case k of a seed; every case has its own Random, so any case replays alone."""

    def __init__(self, seed: int, k: int) -> None:
        self.rng = random.Random(f"{seed}:{k}")
        self.k = k
        self.R = f"/z{k}"
        self.xid = 0
        self.existing = [self.R]

    # -- value pools --------------------------------------------------------------------
    def nxid(self) -> int:
        self.xid += 1
        return self.xid

    def invalid_path(self) -> str | bytes | None:
        p = self.rng.choice(INVALID_PATHS)
        # Keep everything a write could create inside the case subtree: "/\ud7ff" is valid.
        if isinstance(p, str) and p.startswith("/") and not p.startswith("/zookeeper"):
            return self.R + p
        if isinstance(p, bytes) and p.startswith(b"/"):
            return self.R.encode() + p
        return p

    def path(self, kind: str = "any") -> str | bytes | None:
        rng, R = self.rng, self.R
        x = rng.random()
        if kind == "write" and x < 0.02:
            return self.invalid_path()
        if x < 0.06:
            return self.invalid_path()
        if x < 0.10:
            p = rng.choice(SPECIAL_PATHS)
            if kind in ("write", "children") and p == "/":
                p = "/zookeeper"
            return p
        if x < 0.55:
            return rng.choice(self.existing)
        return rng.choice([R + "/n", R + "/a/n", R + "/q", R + "/n/m", R + "/e/x"])

    def data(self) -> bytes | None:
        x = self.rng.random()
        if x < 0.08:
            return None
        if x < 0.16:
            return b""
        if x < 0.18:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(200, 3000)))
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 24)))

    def acl(self) -> list[tuple[int, str | None, str | None]] | None:
        rng = self.rng
        x = rng.random()
        if x < 0.7:
            return [(31, "world", "anyone")]
        if x < 0.74:
            return []
        if x < 0.76:
            return None
        pool: list[tuple[int, str | None, str | None]] = [
            (31, "world", "anyone"), (1, "world", "anyone"), (rng.choice([0, 3, 15, 30, 32, 63, -1]), "world", "anyone"),
            (31, "world", "someone"), (31, "auth", ""), (31, "auth", "x"),
            (31, "digest", "u:" + base64.b64encode(hashlib.sha1(b"u:p").digest()).decode()),
            (31, "digest", "nocolon"), (31, "ip", "127.0.0.1"), (31, "ip", "10.0.0.0/8"),
            (31, "ip", "1.2.3"), (31, "ip", "::1"), (31, "ip", "127.0.0.1/33"),
            (31, "x509", "CN=x"), (31, "sasl", "u"), (31, "foo", "bar"), (31, "super", "x"),
            (31, None, "anyone"), (31, "world", None), (31, "", ""),
        ]
        return [rng.choice(pool) for _ in range(rng.randint(1, 3))]

    def version(self) -> int:
        return self.rng.choice([-1, -1, -1, 0, 0, 1, 2, -2, 0x7FFFFFFF])

    def flags(self) -> int:
        x = self.rng.random()
        if x < 0.85:
            return self.rng.choice([0, 0, 0, 1, 2, 3, 4, 5, 6])
        return self.rng.choice([7, 8, -1, 0x7FFFFFFF, 16, 0x100])

    def ttl(self) -> int:
        return self.rng.choice([1000, 60000, 0, -1, 1, 0xFFFFFFFFFF, 0x10000000000,
                                0x7FFFFFFFFFFFFFFF])

    def vec_paths(self) -> list[str | bytes | None] | None:
        x = self.rng.random()
        if x < 0.08:
            return None
        return [self.path() for _ in range(self.rng.randint(0, 3))]

    # -- request bodies -----------------------------------------------------------------
    def body(self, e: Enc, op: int) -> None:
        rng = self.rng
        if op in (1, 15, 19):
            flags = 4 if op == 19 and rng.random() < 0.8 else self.flags()
            e.ustr("path", self.path("write"))
            e.buf("data", self.data())
            e.vec("acl", self.acl(), enc_acl)
            e.i32("flags", flags)
        elif op == 21:
            e.ustr("path", self.path("write"))
            e.buf("data", self.data())
            e.vec("acl", self.acl(), enc_acl)
            e.i32("flags", rng.choice([5, 5, 6, 0, 1, 4, 7]) if rng.random() < 0.9 else self.flags())
            e.i64("ttl", self.ttl())
        elif op in (2, 20, 13):
            e.ustr("path", self.path("write"))
            e.i32("version", self.version())
        elif op in (3, 4, 8, 12):
            e.ustr("path", self.path("children" if op in (8, 12) else "any"))
            e.boolean("watch", rng.choice([0, 1, 1, 2]) if rng.random() < 0.1 else rng.choice([0, 1]))
        elif op == 5:
            e.ustr("path", self.path("write"))
            e.buf("data", self.data())
            e.i32("version", self.version())
        elif op in (6, 9):
            e.ustr("path", self.path())
        elif op == 7:
            e.ustr("path", self.path("write"))
            e.vec("acl", self.acl(), enc_acl)
            e.i32("version", self.version())
        elif op in (14, 22):
            self.multi_body(e, op)
        elif op == 16:
            for f in ("joiningServers", "leavingServers", "newMembers"):
                e.ustr(f, rng.choice([None, "", "server.5=127.0.0.1:1234:1235;2181", "1", "x"]))
            e.i64("curConfigId", rng.choice([-1, 0, 1 << 32]))
        elif op in (17, 18):
            e.ustr("path", self.path())
            e.i32("type", rng.choice([1, 2, 3, 4, 5, 0, 6, -1]))
        elif op == 100:
            self.auth_body(e)
        elif op in (101, 105):
            e.i64("relativeZxid", rng.choice([0, 0, 1, -1, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFF]))
            names = ["dataWatches", "existWatches", "childWatches"]
            if op == 105:
                names += ["persistentWatches", "persistentRecursiveWatches"]
            for n in names:
                e.vec(n, self.vec_paths(), lambda e2, p: e2.ustr("path", p))
        elif op == 102:
            e.buf("token", rng.choice([None, b"", b"\x00", b"hello", bytes(range(64))]))
        elif op in (103, 104):
            e.ustr("path", self.path("children"))
        elif op == 106:
            p = self.path("children")
            e.ustr("path", p)
            e.i32("mode", rng.choice([0, 1, 0, 1, 2, -1]))
        elif op == -10:
            if rng.random() < 0.8:
                e.i32("timeOut", rng.choice([SESSION_TIMEOUT, 30000, 0, -1]))
        elif op in (11, 107, -11):
            pass
        else:  # unknown opcode: some body bytes
            if rng.random() < 0.5:
                e.ustr("path", self.R)
                e.i32("version", -1)

    def auth_body(self, e: Enc) -> None:
        rng = self.rng
        scheme = rng.choice(["digest"] * 5 + ["ip", "ip", "world", "super", "foo", "sasl",
                                              "x509", "auth", "", None])
        if scheme == "digest":
            cred: bytes | None = rng.choice([b"u:p", b"u:p", b"a:b", b"u:", b":p", b":", b"nocolon",
                                             b"", None, b"u:" + b"x" * 5000, b"\xff\xfe:\x00",
                                             b"super:wrong"])
        elif scheme == "ip":
            cred = rng.choice([b"127.0.0.1", b"10.0.0.1", b"garbage", b"", None])
        else:
            cred = rng.choice([b"anyone", b"x", b"", None])
        e.i32("type", 0 if rng.random() < 0.9 else rng.choice([1, -1, 100]))
        e.ustr("scheme", scheme)
        e.buf("auth", cred)

    def multi_sub(self, e: Enc, t: int) -> None:
        if t in (1, 15, 19):
            self.body(e, t)
        elif t == 21:
            self.body(e, 21)
        elif t in (2, 13):
            e.ustr("path", self.path("write"))
            e.i32("version", self.version())
        elif t == 5:
            self.body(e, 5)
        elif t in (4, 8):
            e.ustr("path", self.path("children" if t == 8 else "any"))
            e.boolean("watch", self.rng.choice([0, 1]))
        else:
            self.body(e, t)

    def multi_body(self, e: Enc, op: int, garbage: bool = False) -> str:
        rng = self.rng
        pool = WRITE_MULTI_OPS if op == 14 else READ_MULTI_OPS
        n = rng.choice([0, 1, 1, 2, 2, 3, 4])
        note = ""
        types = [rng.choice(pool) for _ in range(n)]
        if garbage:
            g = rng.randrange(8)
            pos = rng.randrange(n + 1)
            if g == 0:
                bad = rng.choice([0, 3, 6, 7, 9, 11, 12, 14, 16, 17, 20, 22, 100, 101, -1, -10,
                                  -11, 999])
                types.insert(pos, bad)
                note = f"subop={opname(bad)}"
            elif g == 1:
                other = READ_MULTI_OPS if op == 14 else WRITE_MULTI_OPS
                bad = rng.choice(other)
                types.insert(pos, bad)
                note = f"{'read-in-write' if op == 14 else 'write-in-read'}:{opname(bad)}"
            else:
                note = ["done-flag", "end-type", "end-err", "no-end", "extra-after-end",
                        "subop-err"][g - 2]
        for t in types:
            done = 0
            err = -1
            if note == "done-flag" and rng.random() < 0.5:
                done = rng.choice([2, 255, 1])
            if note == "subop-err":
                err = rng.choice([0, 1, -101, 0x7FFFFFFF])
            e.i32("mh.type", t)
            e.boolean("mh.done", done)
            e.i32("mh.err", err)
            if done == 1:
                break  # the server stops reading here; the rest is trailing garbage
            saved = e.prefix
            e.prefix = f"{saved}ops[].{opname(t)}."
            self.multi_sub(e, t)
            e.prefix = saved
        if note == "no-end":
            return note
        end_type = rng.choice([0, 1, 5, 14, -2]) if note == "end-type" else -1
        end_err = rng.choice([0, 7, -101]) if note == "end-err" else -1
        e.i32("mh.type", end_type)
        e.boolean("mh.done", 1 if note != "done-flag" else rng.choice([1, 2, 255]))
        e.i32("mh.err", end_err)
        if note == "extra-after-end":
            e.i32("trailing", rng.getrandbits(31))
        return note

    def request(self, op: int, xid: int | None = None,
                builder: Callable[[Enc], None] | None = None) -> Enc:
        e = Enc()
        if xid is None:
            xid = {11: -2, 100: -4, 101: -8, 105: -8}.get(op) if self.rng.random() < 0.85 else None
            if xid is None:
                xid = self.nxid()
        e.i32("xid", xid)
        e.i32("type", op)
        if builder is not None:
            builder(e)
        else:
            self.body(e, op)
        return e

    def fixed(self, op: int, *fields: tuple[str, str, Any]) -> bytes:
        """A well-formed request from explicit fields (setup and observation frames)."""
        e = Enc()
        e.i32("xid", self.nxid())
        e.i32("type", op)
        for kind, label, v in fields:
            if kind == "acl":
                e.vec(label, v, enc_acl)
            else:
                getattr(e, kind)(label, v)
        return frame(e.out)

    def create(self, path: str, data: bytes | None = b"", flags: int = 0, op: int = 15,
               acl: Any = None) -> bytes:
        fields: list[tuple[str, str, Any]] = [
            ("ustr", "path", path), ("buf", "data", data),
            ("acl", "acl", acl if acl is not None else [(31, "world", "anyone")]),
            ("i32", "flags", flags)]
        if op == 21:
            fields.append(("i64", "ttl", 60000))
        return self.fixed(op, *fields)

    def setup(self) -> list[bytes]:
        rng, R = self.rng, self.R
        out = [self.create(R, b"root")]
        if rng.random() < 0.8:
            out.append(self.create(R + "/a", b"a"))
            self.existing.append(R + "/a")
            if rng.random() < 0.5:
                out.append(self.create(R + "/a/c", b"c"))
                self.existing.append(R + "/a/c")
        if rng.random() < 0.5:
            out.append(self.create(R + "/b", b""))
            self.existing.append(R + "/b")
        if rng.random() < 0.3:
            out.append(self.create(R + "/e", b"eph", flags=1))
            self.existing.append(R + "/e")
        if rng.random() < 0.3:
            out.append(self.create(R + "/k", b"", flags=4, op=19))
            out.append(self.create(R + "/k/x", b"x"))
            self.existing += [R + "/k", R + "/k/x"]
        if rng.random() < 0.15:
            out.append(self.create(R + "/t", b"t", flags=5, op=21))
            self.existing.append(R + "/t")
        if rng.random() < 0.2:
            out.append(self.fixed(3, ("ustr", "path", R + "/a"), ("boolean", "watch", 1)))
        if rng.random() < 0.2:
            out.append(self.fixed(8, ("ustr", "path", R), ("boolean", "watch", 1)))
        return out

    def observe(self) -> list[bytes]:
        rng, R = self.rng, self.R
        out: list[bytes] = []
        if rng.random() < 0.6:
            out.append(self.fixed(12, ("ustr", "path", R), ("boolean", "watch", 0)))
        if rng.random() < 0.4:
            p = rng.choice(self.existing)
            out.append(self.fixed(4, ("ustr", "path", p), ("boolean", "watch", 0)))
        if rng.random() < 0.2:
            out.append(self.fixed(6, ("ustr", "path", rng.choice(self.existing))))
        if rng.random() < 0.1:
            out.append(self.fixed(107))
        return out

    # -- mutations ----------------------------------------------------------------------
    def mutate(self, e: Enc) -> tuple[bytes, str]:
        rng = self.rng
        p = bytes(e.out)
        body = [f for f in e.fields if f.start >= 8 or f.label not in ("xid", "type")]
        prims = [f for f in e.fields if f.kind in ("int", "long", "bool", "ustring", "buffer",
                                                    "vector")]
        kinds = ["len", "len", "len", "trunc", "trunc", "insert", "delete", "type", "value",
                 "value", "append", "opcode", "xid", "null"]
        while True:
            m = rng.choice(kinds)
            if m == "len" and e.lens:
                off, label, actual = rng.choice(e.lens)
                name, v = rng.choice([
                    ("-1", -1), ("0", 0), ("-2", -2), ("+1", actual + 1), ("-1off", actual - 1),
                    ("huge", 0x7FFFFFFF), ("maxbuf+1", MAXBUF + 1), ("maxbuf", MAXBUF),
                    ("min", -0x80000000), ("+big", actual + 1000)])
                if name == "-1off" and actual <= 0:
                    name, v = "-2", -2
                return p[:off] + _I.pack(s32(v)) + p[off + 4:], f"len({label})={name}"
            if m == "null" and e.lens:
                f = rng.choice([f for f in e.fields if f.kind in ("ustring", "buffer", "vector")]
                               or e.fields)
                if f.kind in ("ustring", "buffer", "vector"):
                    return p[:f.start] + _I.pack(-1) + p[f.end:], f"null({f.label})"
                continue
            if m == "trunc":
                f = rng.choice(e.fields)
                if rng.random() < 0.7 or f.end - f.start < 2:
                    return p[:f.start], f"trunc@{f.label}"
                cut = rng.randrange(f.start + 1, f.end)
                return p[:cut], f"trunc-in@{f.label}"
            if m == "insert":
                f = rng.choice(e.fields)
                at = f.start if rng.random() < 0.7 else f.end
                junk = rng.choice([b"\x00", b"\xff", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
                                   b"\x7f\xff\xff\xff", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 9)))])
                return p[:at] + junk + p[at:], f"insert@{f.label}"
            if m == "delete" and body:
                f = rng.choice(body)
                if rng.random() < 0.5:
                    return p[:f.start] + p[f.end:], f"drop({f.label})"
                n = rng.randint(1, 3)
                at = rng.randrange(f.start, max(f.start + 1, f.end))
                return p[:at] + p[at + n:], f"delbytes@{f.label}"
            if m == "type" and prims:
                f = rng.choice(prims)
                newkind, enc = rng.choice([
                    ("int", _I.pack(rng.choice(INT_VALUES) & 0x7FFFFFFF)),
                    ("long", _Q.pack(rng.choice([0, 1, 1 << 40]))), ("bool", b"\x01"),
                    ("ustring", _I.pack(3) + b"abc"), ("buffer", _I.pack(2) + b"\x00\x01"),
                    ("vector", _I.pack(2) + _I.pack(1) + b"x" + _I.pack(1) + b"y"),
                    ("acl", _I.pack(1) + _I.pack(31) + _I.pack(5) + b"world" + _I.pack(6) + b"anyone")])
                if newkind == f.kind:
                    continue
                return p[:f.start] + enc + p[f.end:], f"type({f.label}:{f.kind}->{newkind})"
            if m == "value":
                nums = [f for f in e.fields if f.kind in ("int", "long", "bool")
                        and f.label not in ("xid", "type")]
                if not nums:
                    continue
                f = rng.choice(nums)
                if f.kind == "int":
                    v = rng.choice(INT_VALUES)
                    enc = _I.pack(s32(v))
                elif f.kind == "long":
                    v = rng.choice(LONG_VALUES)
                    enc = _Q.pack(s64(v))
                else:
                    v = rng.choice([2, 255, 0, 1])
                    enc = bytes([v])
                return p[:f.start] + enc + p[f.end:], f"value({f.label})={v}"
            if m == "append":
                junk = rng.choice([b"\x00", b"\x00\x00\x00\x00", b"\xff" * 8,
                                   bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40)))])
                return p + junk, "append"
            if m == "opcode":
                t = rng.choice(list(OPS) + list(UNKNOWN_OPS))
                return p[:4] + _I.pack(s32(t)) + p[8:], f"opcode->{opname(t)}"
            if m == "xid":
                x = rng.choice([-1, -2, -4, -8, 0, 0x7FFFFFFF, -0x80000000, 1])
                return _I.pack(s32(x)) + p[4:], f"xid={x}"

    # -- case kinds ---------------------------------------------------------------------
    def pick_op(self) -> int:
        rng = self.rng
        if rng.random() < 0.06:
            return rng.choice(UNKNOWN_OPS)
        return rng.choice([t for t in OPS if t not in (0, -1)])

    def gen(self) -> Case:
        rng = self.rng
        x = rng.random()
        if x < 0.24:
            return self.case_op(mutate=False)
        if x < 0.62:
            return self.case_op(mutate=True)
        if x < 0.72:
            return self.case_multi()
        if x < 0.77:
            return self.case_auth()
        if x < 0.79:
            return self.case_sasl()
        if x < 0.86:
            return self.case_connect()
        if x < 0.89:
            return self.case_prehandshake()
        if x < 0.92:
            return self.case_framing()
        return self.case_special()

    def _case(self, kind: str, op: str, mut: str, featured: list[bytes],
              setup: bool = True, observe: bool = True, **kw: Any) -> Case:
        frames = (self.setup() if setup else []) + featured + (self.observe() if observe else [])
        return Case(self.k, kind, op, mut, frames, **kw)

    def case_op(self, mutate: bool) -> Case:
        op = self.pick_op()
        setup = self.setup()
        e = self.request(op)
        if mutate:
            payload, mut = self.mutate(e)
        else:
            payload, mut = bytes(e.out), "valid"
        frames = setup + [frame(payload)] + self.observe()
        return Case(self.k, "mutate" if mutate else "valid", opname(op), mut, frames,
                    cleanup=op == -10, setacl=op == 7 or "opcode->setACL" in mut)

    def case_multi(self) -> Case:
        rng = self.rng
        op = rng.choice([14, 14, 14, 22])
        setup = self.setup()
        e = Enc()
        e.i32("xid", self.nxid())
        e.i32("type", op)
        note = self.multi_body(e, op, garbage=rng.random() < 0.7)
        payload, mut = bytes(e.out), note or "valid"
        if rng.random() < 0.35:
            payload, m2 = self.mutate(e)
            mut = f"{note}+{m2}" if note else m2
        return Case(self.k, "multi", opname(op), mut, setup + [frame(payload)] + self.observe())

    def case_auth(self) -> Case:
        rng = self.rng
        setup = self.setup()
        e = self.request(100)
        payload, mut = bytes(e.out), "valid"
        if rng.random() < 0.4:
            payload, mut = self.mutate(e)
        scheme = _describe_auth(payload)
        after = [self.fixed(107)]
        if rng.random() < 0.5:
            after.append(self.create(self.R + "/au", b"", acl=[(31, "auth", "")]))
            after.append(self.fixed(6, ("ustr", "path", self.R + "/au")))
        return Case(self.k, "auth", "auth", f"{scheme}:{mut}", setup + [frame(payload)] + after)

    def case_sasl(self) -> Case:
        e = self.request(102)
        payload, mut = bytes(e.out), "valid"
        if self.rng.random() < 0.6:
            payload, mut = self.mutate(e)
        return Case(self.k, "sasl", "sasl", mut, [self.create(self.R), frame(payload),
                                                  self.fixed(3, ("ustr", "path", self.R),
                                                             ("boolean", "watch", 0))])

    def case_connect(self) -> Case:
        rng = self.rng
        ro = rng.choice([0, 0, None, 1, 2])
        e = connect_payload(
            timeout=rng.choice([SESSION_TIMEOUT, 30000, 0, -1, 1, 4000, 0x7FFFFFFF, -0x80000000]),
            last_zxid=rng.choice([0, 0, 0, 1, 0x7FFFFFFFFFFFFFFF, -1, 1 << 40]),
            sid=rng.choice([0, 0, 0, 0, 1, -1, 0x7FFFFFFFFFFFFFFF, -0x8000000000000000]),
            passwd=rng.choice([b"\0" * 16, b"\0" * 16, None, b"", b"\1" * 15, b"\2" * 17,
                               b"\3" * 300]),
            ro=ro, pv=rng.choice([0, 0, 0, 1, -1, 3]))
        if rng.random() < 0.5:
            payload, mut = self.mutate_connect(e)
        else:
            payload, mut = bytes(e.out), "fields"
        frames = [frame(payload), self.create(self.R)]
        if rng.random() < 0.5:
            frames.append(self.fixed(3, ("ustr", "path", self.R), ("boolean", "watch", 0)))
        if rng.random() < 0.3:
            frames.append(frame(self.request(rng.choice([4, 9, 107, 11])).out))
        return Case(self.k, "connect", "connect", mut, frames, fresh=True, cleanup=True)

    def mutate_connect(self, e: Enc) -> tuple[bytes, str]:
        rng = self.rng
        p = bytes(e.out)
        m = rng.randrange(7)
        if m == 0:
            f = rng.choice(e.fields)
            return p[:f.start], f"trunc@{f.label}"
        if m == 1:
            return p + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 20))), "long"
        if m == 2:
            off, label, actual = e.lens[0]
            v = rng.choice([-1, -2, 0, 0x7FFFFFFF, MAXBUF + 1, actual + 1, actual - 1, 100])
            return p[:off] + _I.pack(s32(v)) + p[off + 4:], f"len(passwd)={v}"
        if m == 3:
            f = rng.choice(e.fields)
            return p[:f.start] + b"\x00" * rng.randint(1, 4) + p[f.start:], f"insert@{f.label}"
        if m == 4:
            f = rng.choice(e.fields)
            return p[:f.start] + p[f.end:], f"drop({f.label})"
        if m == 5:
            return p[:rng.randint(0, 8)], "short"
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60))), "random"

    def case_prehandshake(self) -> Case:
        rng = self.rng
        op = self.pick_op()
        first = frame(self.request(op).out)
        frames = [first]
        if rng.random() < 0.5:
            frames.append(frame(connect_payload().out))
        frames.append(self.create(self.R))
        return Case(self.k, "prehandshake", opname(op), "before-handshake", frames, fresh=True,
                    cleanup=True)

    def case_framing(self) -> Case:
        rng = self.rng
        setup = [self.create(self.R)]
        e = self.request(rng.choice([3, 4, 5, 1, 15, 14, 11]))
        p = bytes(e.out)
        m = rng.randrange(6)
        if m == 0:
            v = rng.choice([-1, -2, -0x80000000, -len(p)])
            bad = _I.pack(v) + p
            mut = "prefix<0"
        elif m == 1:
            v = rng.choice([MAXBUF + 1, 0x100000, 0x7FFFFFFF, 0x1000000])
            bad = _I.pack(v) + p
            mut = "prefix>maxbuffer"
        elif m == 2:
            n = rng.choice([0, 1, 3, 4, 7])
            bad = frame(p[:n])
            mut = f"prefix={n}"
        elif m == 3:  # exactly jute.maxbuffer-sized frames, just under and just over the limit
            size = rng.choice([MAXBUF, MAXBUF - 100, MAXBUF + 1])
            e2 = Enc()
            e2.i32("xid", self.nxid())
            e2.i32("type", 5)
            e2.ustr("path", self.R)
            pad = size - 8 - 4 - len(self.R) - 4 - 4
            e2.buf("data", b"\x00" * pad)
            e2.i32("version", -1)
            bad = frame(e2.out)
            mut = f"frame={size}"
        elif m == 4:
            bad = frame(p) * rng.randint(20, 80)
            mut = "burst"
        else:
            bad = frame(p) + b"\x00\x00\x00\x00"
            mut = "zero-frame"
        return Case(self.k, "framing", opname(_I.unpack_from(p, 4)[0]), mut,
                    setup + [bad] + [self.fixed(3, ("ustr", "path", self.R),
                                                ("boolean", "watch", 0))])

    def case_special(self) -> Case:
        rng = self.rng
        which = rng.randrange(7)
        R = self.R
        setup = self.setup()
        exists_r = self.fixed(3, ("ustr", "path", R), ("boolean", "watch", 0))
        if which == 0:
            frames = setup + [self.fixed(-11), exists_r]
            return Case(self.k, "special", "closeSession", "then-request", frames)
        if which == 1:
            target = rng.choice(self.existing)
            frames = setup + [self.fixed(20, ("ustr", "path", target), ("i32", "version", -1)),
                              exists_r]
            return Case(self.k, "special", "deleteContainer", "plain-node" if target != R + "/k"
                        else "container", frames)
        if which == 2:
            frames = setup + [self.fixed(13, ("ustr", "path", rng.choice(self.existing)),
                                         ("i32", "version", rng.choice([-1, 0, 5]))), exists_r]
            return Case(self.k, "special", "check", "outside-multi", frames)
        if which == 3:
            frames = setup + [self.fixed(-10, ("i32", "timeOut", SESSION_TIMEOUT)), exists_r]
            return Case(self.k, "special", "createSession", "after-handshake", frames)
        if which == 4:  # a long pipelined burst of valid ops
            frames = setup + [frame(self.request(rng.choice([3, 4, 5, 8, 12, 15, 2, 9, 6, 104]))
                                    .out) for _ in range(rng.randint(10, 60))]
            return Case(self.k, "special", "burst", "valid", frames)
        if which == 5:
            t = rng.choice(UNKNOWN_OPS)
            frames = setup + [frame(self.request(t).out), exists_r]
            return Case(self.k, "special", opname(t), "unknown-op", frames)
        # multi that deletes the case root's children then reads them
        frames = setup + [frame(self.request(14).out), frame(self.request(22).out), exists_r]
        return Case(self.k, "special", "multi+multiRead", "valid", frames)


def _describe_auth(payload: bytes) -> str:
    try:
        rd = Rd(payload, 12)
        scheme = rd.ustr()
        return f"scheme={scheme!r}"[:30]
    except IndexError:
        return "scheme=?"


# ------------------------------------------------------------------------------------------
# Seeded regression cases (from the issue)
# ------------------------------------------------------------------------------------------

def _errs(tokens: list[tuple[Any, ...]], role: str) -> list[int]:
    return [t[2] for t in tokens if t[0] == "R" and t[1] == role and t[2] != "none"]


def _ended(tokens: list[tuple[Any, ...]]) -> str:
    return str(tokens[-1][1]) if tokens and tokens[-1][0] == "X" else "?"


def regression_cases(start_k: int = 900_000_000) -> list[Case]:
    out: list[Case] = []

    def add(name: str, kind: str, op: str, build: Callable[[Gen], list[bytes]],
            expect: Callable[[list[tuple[Any, ...]]], bool] | None, text: str,
            fresh: bool = False) -> None:
        k = start_k + len(out)
        g = Gen(0, k)
        frames = build(g)
        out.append(Case(k, kind, op, name, frames, fresh=fresh, cleanup=fresh, name=name,
                        expect_java=expect, expect_text=text))

    reg1 = bytes.fromhex(
        "0000002d000000000000000000000000000075300000000000000000000000100000000000000000"
        "000000000000000000"
        "00000022000000030000000e0000000d00ffffffffffffffffffffffffffffffff01ffffffff")
    add("reg1-connect+multi-check-null-path", "regression", "multi",
        lambda g: [reg1[:49], reg1[49:]],
        lambda t: _errs(t, "multi") == [-5] and _ended(t) == "sentinel",
        "multi err -5, connection stays open", fresh=True)

    def reg2(g: Gen) -> list[bytes]:
        return [g.create(g.R), g.fixed(20, ("ustr", "path", g.R), ("i32", "version", -1)),
                g.fixed(3, ("ustr", "path", g.R), ("boolean", "watch", 0))]
    add("reg2-deleteContainer-plain-node", "regression", "deleteContainer", reg2,
        lambda t: _errs(t, "deleteContainer") == [-8] and _errs(t, "exists") == [0],
        "deleteContainer -8, node kept")

    def reg3(g: Gen) -> list[bytes]:
        e = Enc()
        e.i32("xid", -4)
        e.i32("type", 100)
        e.i32("type", 0)
        e.ustr("scheme", "digest")
        e.buf("auth", None)
        return [g.create(g.R), frame(e.out)]
    add("reg3-digest-auth-null-buffer", "regression", "auth", reg3,
        lambda t: _errs(t, "auth") == [-115] and _ended(t) == "closed",
        "auth -115 then close")

    def reg4(g: Gen) -> list[bytes]:
        return [g.create(g.R), g.fixed(-11), g.fixed(3, ("ustr", "path", g.R),
                                                     ("boolean", "watch", 0))]
    add("reg4-closeSession-then-request", "regression", "closeSession", reg4,
        lambda t: _errs(t, "closeSession") == [0] and _errs(t, "exists") in ([-112], [])
        and _ended(t) == "closed",
        "closeSession 0, next request -112 (or dropped: Java races the close), close")

    def reg5(g: Gen) -> list[bytes]:
        def b(e: Enc) -> None:
            e.i32("mh.type", 4)
            e.boolean("mh.done", 0)
            e.i32("mh.err", -1)
            e.ustr("path", g.R)
            e.boolean("watch", 0)
            e.i32("mh.type", -1)
            e.boolean("mh.done", 1)
            e.i32("mh.err", -1)
        return [g.create(g.R), frame(g.request(14, xid=g.nxid(), builder=b).out)]
    add("reg5-multi-with-read-op", "regression", "multi", reg5,
        lambda t: _errs(t, "multi") == [-5], "multi -5")

    for count in (-1, -2):
        def reg6(g: Gen, count: int = count) -> list[bytes]:
            def b(e: Enc) -> None:
                e.ustr("path", g.R)
                e.i32("acl.count", count)
                e.i32("version", -1)
            return [g.create(g.R), frame(g.request(7, xid=g.nxid(), builder=b).out)]
        add(f"reg6-setACL-acl-count{count}", "regression", "setACL", reg6,
            lambda t: _errs(t, "setACL") == [-114], "setACL -114")

    for op in (1, 15, 19, 21):
        for count in (-1, -3):
            def regc(g: Gen, op: int = op, count: int = count) -> list[bytes]:
                def b(e: Enc) -> None:
                    e.ustr("path", g.R + "/c")
                    e.buf("data", b"d")
                    e.i32("acl.count", count)
                    e.i32("flags", {19: 4, 21: 5}.get(op, 0))
                    if op == 21:
                        e.i64("ttl", 60000)
                return [g.create(g.R), frame(g.request(op, xid=g.nxid(), builder=b).out)]
            add(f"reg6-{opname(op)}-acl-count{count}", "regression", opname(op), regc,
                None, "")

    for op in (101, 105):
        def regw(g: Gen, op: int = op) -> list[bytes]:
            def b(e: Enc) -> None:
                e.i64("relativeZxid", 0)
                for _ in range(3 if op == 101 else 5):
                    e.i32("count", -1)
            return [g.create(g.R), frame(g.request(op, xid=-8, builder=b).out),
                    g.fixed(3, ("ustr", "path", g.R), ("boolean", "watch", 0))]
        add(f"reg6-{opname(op)}-null-vectors", "regression", opname(op), regw, None, "")

    def regm(g: Gen) -> list[bytes]:
        def b(e: Enc) -> None:
            e.i32("mh.type", 1)
            e.boolean("mh.done", 0)
            e.i32("mh.err", -1)
            e.ustr("path", g.R + "/m")
            e.buf("data", b"")
            e.i32("acl.count", -1)
            e.i32("flags", 0)
            e.i32("mh.type", -1)
            e.boolean("mh.done", 1)
            e.i32("mh.err", -1)
        return [g.create(g.R), frame(g.request(14, xid=g.nxid(), builder=b).out)]
    add("reg6-multi-create-null-acl", "regression", "multi", regm, None, "")

    for token_len in (-2, 0x7FFFFFFF, 100):
        def regs(g: Gen, token_len: int = token_len) -> list[bytes]:
            def b(e: Enc) -> None:
                e.i32("token.len", token_len)
            return [g.create(g.R), frame(g.request(102, xid=g.nxid(), builder=b).out)]
        add(f"reg7-sasl-token-len{token_len}", "regression", "sasl", regs,
            lambda t: _ended(t) == "closed", "connection closed")

    def regn(g: Gen) -> list[bytes]:
        # seed 501 cases 22807 and 47587: a null-path persistent watch, then the same null
        # path again on that session (WatcherModeManager's Key.equals: path.equals)
        def sw2(e: Enc) -> None:
            e.i64("relativeZxid", 0)
            for label, paths in (("dataWatches", []), ("existWatches", []),
                                 ("childWatches", []), ("persistentWatches", [None]),
                                 ("persistentRecursiveWatches", [])):
                e.vec(label, paths, lambda e2, p: e2.ustr("path", p))
        add_null = [g.fixed(106, ("ustr", "path", None), ("i32", "mode", m)) for m in (0, 1)]
        remove_null = [g.fixed(18, ("ustr", "path", None), ("i32", "type", 3))
                       for _ in range(3)]
        return [g.create(g.R), *add_null, frame(g.request(105, xid=-8, builder=sw2).out),
                *remove_null]
    add("reg8-null-path-watch-twice", "regression", "addWatch", regn,
        lambda t: (_errs(t, "addWatch") == [0, -5] and _errs(t, "setWatches2") == [-5]
                   and _errs(t, "removeWatches") == [-5, -5, -121]),
        "addWatch 0 then -5, setWatches2 -5, removeWatches -5 -5 -121")

    def regw(g: Gen) -> list[bytes]:
        # seed 1006 case 2191 after case 2189: a multiRead's sub-ops ask with watch true, but
        # Java keeps only their paths (Op.getData/getChildren), so nothing is watched
        def b(e: Enc) -> None:
            for mh_type, path in ((4, g.R), (8, g.R)):
                e.i32("mh.type", mh_type)
                e.boolean("mh.done", 0)
                e.i32("mh.err", -1)
                e.ustr("path", path)
                e.boolean("watch", 1)
            e.i32("mh.type", -1)
            e.boolean("mh.done", 1)
            e.i32("mh.err", -1)
        return [g.create(g.R), frame(g.request(22, xid=g.nxid(), builder=b).out),
                g.fixed(5, ("ustr", "path", g.R), ("buf", "data", b"x"), ("i32", "version", -1)),
                g.create(g.R + "/c"),
                g.fixed(18, ("ustr", "path", g.R), ("i32", "type", 3))]
    add("reg9-multiRead-watch-flags-ignored", "regression", "multiRead", regw,
        lambda t: (_errs(t, "multiRead") == [0] and _errs(t, "removeWatches") == [-121]
                   and not [x for x in t if x[0] == "E"]),
        "multiRead 0, no event on setData or a child create, removeWatches -121")
    return out


# ------------------------------------------------------------------------------------------
# Reply decoding and normalization
# ------------------------------------------------------------------------------------------

class Norm:
    def __init__(self, base: int, sid: int, root: str) -> None:
        self.base, self.sid, self.root = base, sid, root

    def z(self, z: int) -> Any:
        return z - self.base if z > self.base else "old"

    def p(self, path: str | None) -> str | None:
        if path is None:
            return None
        R = self.root
        if path == R or path.startswith(R + "/"):
            return "/R" + path[len(R):]
        if path.startswith(R) and len(path) == len(R) + 10 and path[len(R):].isdigit():
            return "/R<seq>"  # sequential child of "/": its suffix follows the root's cversion
        return path

    def stat(self, rd: Rd) -> tuple[Any, ...]:
        czxid, mzxid, _ct, _mt = rd.i64(), rd.i64(), rd.i64(), rd.i64()
        version, cversion, aversion = rd.i32(), rd.i32(), rd.i32()
        eo = rd.i64()
        dlen, nchild = rd.i32(), rd.i32()
        pzxid = rd.i64()
        eon = 0 if eo == 0 else ("self" if eo == self.sid else "other")
        if czxid == 0:  # "/" and the /zookeeper nodes: their children counts drift per case
            return ("sys", self.z(mzxid), version, aversion, eon, dlen)
        return (self.z(czxid), self.z(mzxid), version, cversion, aversion, eon, dlen, nchild,
                self.z(pzxid))

    def acl(self, rd: Rd) -> tuple[Any, ...]:
        return (rd.i32(), rd.ustr(), rd.ustr())

    def body(self, op: int, rd: Rd) -> Any:
        if op == 1:
            return ("path", self.p(rd.ustr()))
        if op in (15, 19, 21):
            return ("path", self.p(rd.ustr()), self.stat(rd))
        if op in (3, 5, 7, 13):
            return ("stat", self.stat(rd))
        if op in (4, 16):
            return ("data", rd.buf(), self.stat(rd))
        if op == 6:
            return ("acl", rd.vec(lambda: self.acl(rd)), self.stat(rd))
        if op == 8:
            return ("children", _sorted(rd.vec(rd.ustr)))
        if op == 12:
            return ("children", _sorted(rd.vec(rd.ustr)), self.stat(rd))
        if op == 9:
            return ("path", self.p(rd.ustr()))
        if op == 103:
            return ("ephemerals", _sorted([self.p(x) for x in rd.vec(rd.ustr) or []]))
        if op in (104, 106):
            return ("int", rd.i32())
        if op == 107:
            return ("clientInfo", rd.vec(lambda: (rd.ustr(), rd.ustr())))
        if op == 102:
            return ("token", rd.buf())
        if op in (14, 22):
            return ("multi", self.multi(rd))
        raise IndexError  # no body expected: caller records it raw

    def multi(self, rd: Rd) -> list[Any]:
        res: list[Any] = []
        for _ in range(10_000):
            t, done, err = rd.i32(), rd.boolean(), rd.i32()
            if done:
                res.append(("end", t, done, err))
                return res
            if t == -1:
                res.append(("err", err, rd.i32()))
            elif t in (2, 13, 20):
                res.append((opname(t), err))
            else:
                res.append((opname(t), err, self.body(t, rd)))
        return res


def _sorted(v: list[Any] | None) -> Any:
    return None if v is None else tuple(sorted(v, key=lambda s: (s is None, s or "")))


def request_list(case: Case) -> list[tuple[int, int]]:
    """(xid, op) of every frame of the case as the server would read its header."""
    out: list[tuple[int, int]] = []
    for i, f in enumerate(case.frames):
        if case.fresh and i == 0:
            continue
        off = 0
        while off + 4 <= len(f):  # a frame blob may hold several frames (bursts)
            (n,) = _I.unpack_from(f, off)
            if n < 8 or off + 4 + n > len(f):
                break
            xid, t = struct.unpack_from(">ii", f, off + 4)
            out.append((xid, t))
            off += 4 + n
    return out


@dataclass
class Outcome:
    """What one server did in one case, normalized.

    replies[i] is the reply to the i-th request of the case (None: no reply), as
    (role, err, zxid delta, body). Events carry the number of in-order replies seen before
    them. `order` lists in-order requests answered out of request order."""

    connect: tuple[Any, ...] | None
    replies: list[tuple[Any, ...] | None]
    roles: list[str]
    unmatched: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    order: list[str]
    end: str  # sentinel | closed | hang
    frames: list[bytes]
    sid: int = 0
    passwd: bytes = b""
    timeout: int = 0

    @property
    def tokens(self) -> list[tuple[Any, ...]]:
        """A flat view for printing and for the regression expectations."""
        t: list[tuple[Any, ...]] = []
        if self.connect is not None:
            t.append(self.connect)
        t += [r if r is not None else ("R", role, "none") for r, role in
              zip(self.replies, self.roles, strict=True)]
        t += [("U",) + u for u in self.unmatched]
        t += [("E",) + e for e in self.events]
        t += [("O", o) for o in self.order]
        t.append(("X", self.end))
        return t


# Replies that Java sends straight from the connection thread, not through the request
# pipeline (auth, sasl, and the UNIMPLEMENTED answer to an invalid opcode): they may overtake
# replies to earlier pipelined requests in Java too, so they are left out of the order check.
IMMEDIATE_OPS = frozenset({100, 102})


def tokenize(case: Case, frames: list[bytes], end: str, base: int, sid: int,
             expect_connect: bool) -> Outcome:
    reqs = request_list(case) + [(SENT_XID, 3)]
    roles = ["sentinel" if x == SENT_XID and i == len(reqs) - 1 else opname(t)
             for i, (x, t) in enumerate(reqs)]
    out = Outcome(None, [None] * len(reqs), roles, [], [], [], end, frames, sid)
    norm = Norm(base, sid, case.root)
    it = iter(frames)
    if expect_connect:
        first = next(it, None)
        if first is not None:
            rd = Rd(first)
            try:
                pv, to, s, pw = rd.i32(), rd.i32(), rd.i64(), rd.buf()
                ro: Any = first[rd.o] if rd.o < len(first) else None
                extra = len(first) - rd.o - (0 if ro is None else 1)
                out.connect = ("C", pv, to, "sid" if s else 0, -1 if pw is None else len(pw),
                               ro, extra)
                out.sid, out.passwd, out.timeout = s, pw or b"", to
                norm.sid = s
            except IndexError:
                out.connect = ("C", "short", len(first))
    answered = [False] * len(reqs)
    out.events = []
    last_regular = -1
    n_regular = 0
    for f in it:
        if f.startswith(b"BADFRAME"):
            out.unmatched.append(("bad-length-prefix",))
            continue
        if len(f) < 16:
            out.unmatched.append(("short-reply", len(f)))
            continue
        xid, zxid, err = _HDR.unpack_from(f, 0)
        if xid == 0 and len(f) in (36, 37) and f[16:20] == b"\0\0\0\x10":
            # A ConnectResponse frame in mid-session (Java answers createSession so)
            rsid = _Q.unpack_from(f, 8)[0]
            out.unmatched.append(("ConnectResponse", _I.unpack_from(f, 4)[0],
                                  "self" if rsid == norm.sid else ("other" if rsid else 0),
                                  len(f)))
            continue
        if xid == -1 and zxid == -1:  # a watch notification
            rd = Rd(f, 16)
            try:
                out.events.append((n_regular, rd.i32(), rd.i32(), norm.p(rd.ustr()), err))
            except IndexError:
                out.events.append((n_regular, "bad", len(f)))
            continue
        if xid in (PRE_XID, SYNC_XID):
            continue
        idx = None
        for i, (px, pt) in enumerate(reqs):
            if not answered[i] and (px == xid or (xid == -2 and pt == 11)):
                idx = i
                break
        op = reqs[idx][1] if idx is not None else None
        dz: Any = zxid - base if zxid > 0 else zxid
        body: Any = None
        if len(f) > 16:
            if idx == len(reqs) - 1:
                body = "present"
            else:
                rd = Rd(f, 16)
                try:
                    if op is None:
                        raise IndexError
                    body = norm.body(op, rd)
                    if rd.o != len(f):
                        body = (body, "trailing", len(f) - rd.o)
                except (IndexError, UnicodeError):
                    raw = f[16:]
                    body = ("raw", len(raw), raw.hex() if len(raw) <= 48 else
                            hashlib.sha1(raw).hexdigest()[:12])
        if idx is None:
            out.unmatched.append((err, dz, body))
            continue
        answered[idx] = True
        out.replies[idx] = ("R", roles[idx], err, dz, body)
        if op not in IMMEDIATE_OPS and err != -6:
            n_regular += 1
            if idx < last_regular:
                out.order.append(f"{roles[idx]} answered after {roles[last_regular]}")
            last_regular = max(last_regular, idx)
    # Events of one txn (e.g. a closeSession deleting several ephemerals) come in the order
    # the server walks its sets (a HashSet in Java): compare them as a set per position.
    out.events.sort(key=repr)
    out.events.sort(key=lambda e: e[0])
    return out


def fmt_tok(t: tuple[Any, ...] | None) -> str:
    if t is None:
        return "no reply"
    if t[0] == "R":
        return f"err={t[2]}"
    return str(t)


def _first_body_diff(a: Any, b: Any, path: str = "body") -> str:
    if type(a) is not type(b):
        return path
    if isinstance(a, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                name = x if isinstance(x, str) and i == 0 else str(i)
                return _first_body_diff(x, y, f"{path}.{name}" if i else path)
    if isinstance(a, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_body_diff(x, y, f"{path}[{i}]")
    return path


def _reply_diff(na: str, x: tuple[Any, ...], nb: str, y: tuple[Any, ...]) -> str:
    parts = []
    if x[2] != y[2]:  # zxid and body follow from the error: name the error only
        return f"{x[1]}: {na} err={x[2]} vs {nb} err={y[2]}"
    if x[3] != y[3]:
        if isinstance(x[3], int) and isinstance(y[3], int):
            parts.append(f"zxid {na}-{nb}={x[3] - y[3]:+}")
        else:
            parts.append("zxid differs")
    if (x[4] is None) != (y[4] is None):
        parts.append(f"body {na} {'absent' if x[4] is None else 'present'}"
                     f" vs {nb} {'absent' if y[4] is None else 'present'}")
    elif x[4] != y[4]:
        parts.append(f"{_first_body_diff(x[4], y[4])} differs")
    head = f"{x[1]}: " if x[2] != y[2] else f"{x[1]} err={x[2]}: "
    return head + "; ".join(parts)


END_NAME = {"sentinel": "open", "closed": "closed", "hang": "HANG",
            "unreachable": "UNREACHABLE (connect/handshake failed)"}


@dataclass
class Verdict:
    cls: str | None
    races: list[str] = field(default_factory=list)  # tolerated close races
    order: list[str] = field(default_factory=list)  # per-server reply order violations


def compare(case: Case, na: str, a: Outcome, nb: str, b: Outcome) -> Verdict:
    v = Verdict(None)
    for name, o in ((na, a), (nb, b)):
        for msg in o.order:
            v.order.append(f"{case.label}: {name} reply order: {msg}")
    both_closed = a.end == b.end == "closed"
    label = case.label

    def done(d: str) -> Verdict:
        v.cls = f"{label}: {d}"
        return v

    if a.connect != b.connect:
        x, y = a.connect, b.connect
        if x is None or y is None or len(x) != len(y):
            return done(f"connect-response: {na} {x} vs {nb} {y}")
        names = ("pv", "timeOut", "sessionId", "passwdLen", "readOnly", "extraBytes")
        j = next(j for j in range(1, len(x)) if x[j] != y[j])
        return done(f"connect-response {names[j - 1] if j - 1 < len(names) else j}: "
                    f"{na} {x[j]} vs {nb} {y[j]}")
    first_diff = None  # first request both answered, differently
    missing = None  # first request only one of them answered
    for i, (x, y) in enumerate(zip(a.replies, b.replies, strict=True)):
        if x == y:
            continue
        if x is None or y is None:
            if missing is None:
                missing = (i, x, y)
        elif first_diff is None:
            first_diff = _reply_diff(na, x, nb, y)
    if a.end != b.end:
        return done(f"{na} {END_NAME[a.end]} vs {nb} {END_NAME[b.end]}"
                    + (f"; {first_diff}" if first_diff else ""))
    if first_diff is not None:
        return done(first_diff)
    if missing is not None:
        i, x, y = missing
        if both_closed:
            fewer = na if x is None else nb
            more = nb if x is None else na
            v.races.append(f"close: {fewer} dropped replies to earlier pipelined requests that "
                           f"{more} answered before closing")
        else:
            return done(f"{a.roles[i]}: {na} {fmt_tok(x)} vs {nb} {fmt_tok(y)}")
    if a.unmatched != b.unmatched:
        return done(f"unmatched replies: {na} {a.unmatched[:2]} vs {nb} {b.unmatched[:2]}")
    if a.events != b.events:
        ea, eb = a.events, b.events
        if both_closed and (ea[:len(eb)] == eb or eb[:len(ea)] == ea):
            v.races.append(f"{na if len(ea) < len(eb) else nb} dropped watch events that "
                           f"{nb if len(ea) < len(eb) else na} sent before closing")
        else:
            j = next((j for j in range(min(len(ea), len(eb))) if ea[j] != eb[j]), None)
            if j is None:
                more = na if len(ea) > len(eb) else nb
                ev = (ea if len(ea) > len(eb) else eb)[min(len(ea), len(eb))]
                return done(f"events: only {more} sent event type={ev[1]}")
            return done(f"events: {na} {_ev(ea[j])} vs {nb} {_ev(eb[j])}")
    return v


JAVA_STALL = ("java stalled: a Java learner answered a prefix of pyzk's replies, then nothing "
              "within the deadline and its grace")


def java_stalled(sides: list[Side], outs: list[Outcome]) -> bool:
    """pyzk ended open and Java hung, every reply and event Java gave equal to pyzk's."""
    kinds = [s.kind for s in sides]
    if sorted(kinds) != ["java", "pyzk"]:
        return False
    p, j = outs[kinds.index("pyzk")], outs[kinds.index("java")]
    if p.end != "sentinel" or j.end != "hang" or p.connect != j.connect:
        return False
    if any(y is not None and y != x for x, y in zip(p.replies, j.replies, strict=True)):
        return False
    return p.events[:len(j.events)] == j.events


def _ev(e: tuple[Any, ...]) -> str:
    if len(e) < 4:
        return f"(after {e[0]} replies, undecodable)"
    return f"(after {e[0]} replies, type={e[1]}, state={e[2]}, path={e[3]})"


# ------------------------------------------------------------------------------------------
# Servers and connections
# ------------------------------------------------------------------------------------------

# --pyzk-cfg: more zoo.cfg lines for the pyzk side (e.g. pyzk.workers=2)
PYZK_EXTRA_CFG: dict[str, str] = {}
# --target: "standalone" (one server per side), or "follower"/"observer" (a 3-member ensemble per
# side, the cases sent to one follower/observer of it: tests/fuzz/ensemble_target.py)
TARGET = {"target": "standalone"}
# The grace (Fuzzer.java_grace) a Java learner gets: it has answered valid cases 2-5 s late.
LEARNER_JAVA_GRACE = 8.0


class FuzzServer(ServerProc):
    """A standalone server set up for fuzzing: no fsync, TTL nodes on, containers never
    reaped during a run, a super digest for the tree walker, long session timeouts."""

    def __init__(self, kind: str, workdir: Path, host: str) -> None:
        cfg = {"forceSync": "no", "extendedTypesEnabled": "true",
               "maxSessionTimeout": str(SESSION_TIMEOUT), "snapCount": "1000000"}
        if kind == "pyzk":
            cfg["znode.container.checkIntervalMs"] = str(SESSION_TIMEOUT)
            cfg["DigestAuthenticationProvider.superDigest"] = SUPER_DIGEST
            cfg.update(PYZK_EXTRA_CFG)
        super().__init__(kind, workdir, host=host, cfg=cfg)
        self.log_pos = 0
        self.crash_counted = False

    @staticmethod
    def java_flags(quiet_server: bool = True) -> list[str]:
        """The -D options; quiet_server: none of org.apache.zookeeper.server's warnings (an
        ensemble keeps them: they say why a member left its quorum)."""
        return ["-Dzookeeper.admin.enableServer=false",
                f"-Dznode.container.checkIntervalMs={SESSION_TIMEOUT}",
                f"-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                *(["-Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server=off"]
                  if quiet_server else [])]

    def command(self, cfg_path: Path) -> list[str]:
        if self.kind == "java":
            return ["java", "-Xmx768m", "-XX:+UseSerialGC", "-cp", JAVA_CLASSPATH,
                    *self.java_flags(),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg_path)]
        return super().command(cfg_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def new_log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_pos)
                data = f.read()
        except OSError:
            return ""
        self.log_pos += len(data)
        return data.decode("utf-8", "replace")


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.frames: list[bytes] = []
        self.closed = False
        self.bad = False
        self.transport: asyncio.Transport | None = None
        self.want: int | None = None  # xid that completes the wait; 0x1_0000_0000 = any frame
        self.waiter: asyncio.Future[None] | None = None
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        off = 0
        n_buf = len(buf)
        while n_buf - off >= 4:
            (n,) = _I.unpack_from(buf, off)
            if n < 0 or n > 64 << 20:
                self.bad = True
                self.frames.append(b"BADFRAME" + bytes(buf[off:off + 16]))
                off = n_buf
                self._wake()
                break
            if n_buf - off - 4 < n:
                break
            f = bytes(buf[off + 4:off + 4 + n])
            off += 4 + n
            self.frames.append(f)
            if self.want is not None and (
                    self.want == 0x1_0000_0000 or (len(f) >= 4 and _I.unpack_from(f)[0] == self.want)):
                self._wake()
        if off:
            del buf[:off]

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.sent += 1
            self.transport.write(data)

    async def wait(self, want: int, timeout: float) -> str:
        """Wait for a frame whose xid is `want` (or any frame), EOF, or the deadline."""
        if self.closed:
            return "closed"
        loop = asyncio.get_running_loop()
        self.want = want
        self.waiter = loop.create_future()
        # Frames that arrived before the wait started count too.
        for f in self.frames:
            if want == 0x1_0000_0000 or (len(f) >= 4 and _I.unpack_from(f)[0] == want):
                self.want = None
                return "sentinel"
        try:
            await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            return "hang"
        finally:
            self.want = None
        if self.frames and (want == 0x1_0000_0000 or (len(self.frames[-1]) >= 4 and
                                                      _I.unpack_from(self.frames[-1])[0] == want)):
            return "sentinel"
        if any(want == 0x1_0000_0000 or (len(f) >= 4 and _I.unpack_from(f)[0] == want)
               for f in self.frames):
            return "sentinel"
        return "closed"

    async def wait_close(self, timeout: float) -> bool:
        if self.closed:
            return True
        loop = asyncio.get_running_loop()
        self.want = -0x7777  # never matches a reply we expect
        self.waiter = loop.create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self.want = None
        return self.closed

    def abort(self) -> None:
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            try:
                if sock is not None:  # RST instead of TIME_WAIT on our side
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            try:
                self.transport.close()
            except RuntimeError:  # the event loop is already gone
                pass
        self.closed = True


def req(xid: int, op: int, build: Callable[[Enc], None] | None = None) -> bytes:
    e = Enc()
    e.i32("xid", xid)
    e.i32("type", op)
    if build:
        build(e)
    return frame(e.out)


def exists_frame(xid: int, path: str = "/") -> bytes:
    return req(xid, 3, lambda e: (e.ustr("path", path), e.boolean("watch", 0)))


PRE_FRAME = exists_frame(PRE_XID)
SENT_FRAME = exists_frame(SENT_XID)
SYNC_FRAME = req(SYNC_XID, 9, lambda e: e.ustr("path", "/"))
CONNECT_FRAME = frame(connect_payload().out)


NULL_SUBOP_PATH = re.compile(r"null\(ops\[\]\.\w+\.path\)|len\(ops\[\]\.\w+\.path\)=-1")


def skip_reason(case: Case) -> str | None:
    """Why a case is not sent with --target follower/observer, else None.

    A check(13) outside multi: Java 3.8.0's leader makes a txn of type check, which no member
    can apply ("Unsupported Txn with type=13"): every Java member leaves the quorum and the
    leader can no longer load its own log, so the Java side is gone until the next epoch (its
    standalone server executes it: known_differences "op=check"; pyzk answers UNIMPLEMENTED and
    closes in both settings).

    A reconfig(16) whose body does not decode: Java's leader decodes ReconfigRequest before
    pRequest2Txn gives the request a header (PrepRequestProcessor.pRequestHelper), so the
    EOFException leaves no txn at all; the follower's CommitProcessor keeps the request at the
    head of its queued local writes, every later commit no longer matches that head and is
    applied as a remote one, unanswered: the session hangs, and so does every later write
    through that follower, new sessions' createSession included (seen: handshakes time out
    until the next epoch). pyzk's leader makes a MARSHALLINGERROR error txn and answers.

    A multi whose sub-op path is null (the mutations that null it: null(...) or len(...)=-1;
    a generated null path still gets through, and known_differences lists the result): see
    "op=multi" there.
    """
    if TARGET["target"] == "standalone":
        return None
    ops = {op for _, op in request_list(case)}
    if 13 in ops:
        return "check(13) outside multi kills a Java ensemble"
    if 16 in ops and case.mut != "valid":
        return "a reconfig body the leader cannot decode wedges a Java follower"
    if 14 in ops and NULL_SUBOP_PATH.search(case.mut):
        return "a multi sub-op with a null path stops a Java ensemble's commits"
    return None


def ensemble_target(kind: str, name: str, workdir: Path) -> EnsembleTarget:
    """A 3-member ensemble of `kind` on the side's addresses, set up as FuzzServer sets up a
    standalone server; the cases go to its follower or observer (TARGET)."""
    cfg = FuzzServer(kind, workdir, "127.0.0.1").cfg
    for k in ("dataDir", "clientPort", "clientPortAddress", "tickTime"):
        cfg.pop(k, None)
    # tickTime 200 (Ensemble): 4 s to sync, 2 s of silence before a learner gives up on its
    # leader, so a busy machine does not make an election in the middle of a run.
    cfg |= {"initLimit": "20", "syncLimit": "10"}
    base = ENSEMBLE_BASE.get(name) or ENSEMBLE_BASE[kind]
    return EnsembleTarget(kind, workdir, base, TARGET["target"], cfg,
                          FuzzServer.java_flags(quiet_server=False), f"{kind}.log")


@dataclass
class Stats:
    frames: int = 0  # request frames sent (case frames; framing blobs counted per frame)
    bytes: int = 0
    connections: int = 0
    crashes: int = 0
    hangs: int = 0
    tracebacks: int = 0
    cases: int = 0


class Side:
    """One server: its process, its lane session, its observer (super) session."""

    def __init__(self, name: str, kind: str, host: str, workroot: Path) -> None:
        self.name, self.kind, self.host = name, kind, host
        self.workroot = workroot
        self.srv: FuzzServer | EnsembleTarget | None = None
        self.keep = False  # --keep: leave the data dir (txn logs) of every epoch
        self.epoch = 0
        self.lane: Conn | None = None
        self.lane_sid = 0
        self.lane_pw = b""
        self.obs: Conn | None = None
        self.obs_sid = 0
        self.zxid = 0
        self.stats = Stats()
        self.traceback_samples: list[str] = []

    def start(self) -> None:
        self.epoch += 1
        wd = self.workroot / f"{self.name}-{self.epoch}"
        self.lane = self.obs = None
        if TARGET["target"] != "standalone":
            self.srv = ensemble_target(self.kind, self.name, wd)
            self.host = self.srv.host
            self.srv.start(timeout=90)
            return
        port = self.srv.port if self.srv is not None else None
        self.srv = FuzzServer(self.kind, wd, self.host)
        if port:
            self.srv.port = port
            self.srv.cfg["clientPort"] = str(port)
        self.srv.start(timeout=60)

    def stop(self) -> None:
        if self.srv is not None:
            for c in (self.lane, self.obs):
                if c is not None:
                    c.abort()
            self.srv.stop()
            if self.srv.workdir.exists() and not self.keep:
                shutil.rmtree(self.srv.datadir, ignore_errors=True)

    def canon(self, frames: list[bytes]) -> list[bytes]:
        """The frames with an ensemble's member addresses replaced (EnsembleTarget.canon)."""
        srv = self.srv
        if not isinstance(srv, EnsembleTarget):
            return list(frames)
        return [srv.canon(f) for f in frames]

    async def open(self) -> Conn:
        assert self.srv is not None
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(Conn, self.host, self.srv.port)
        self.stats.connections += 1
        return proto

    async def handshake(self, c: Conn, timeout: float = 10.0) -> tuple[int, bytes]:
        c.write(CONNECT_FRAME)
        st = await c.wait(0x1_0000_0000, timeout)
        if st != "sentinel":
            raise RuntimeError(f"{self.name}: handshake failed ({st})")
        f = c.frames.pop(0)
        rd = Rd(f)
        rd.i32()
        rd.i32()
        sid = rd.i64()
        pw = rd.buf() or b""
        return sid, pw

    async def ensure_lane(self) -> Conn:
        if self.lane is None or self.lane.closed:
            self.lane = await self.open()
            self.lane_sid, self.lane_pw = await self.handshake(self.lane)
        return self.lane

    async def ensure_obs(self) -> Conn:
        if self.obs is None or self.obs.closed:
            self.obs = await self.open()
            self.obs_sid, _ = await self.handshake(self.obs)
            auth = req(-4, 100, lambda e: (e.i32("type", 0), e.ustr("scheme", "digest"),
                                           e.buf("auth", f"super:{SUPER_PW}".encode())))
            self.obs.write(auth + SENT_FRAME)
            if await self.obs.wait(SENT_XID, 10) != "sentinel":
                raise RuntimeError(f"{self.name}: observer auth failed")
            self.obs.frames.clear()
        return self.obs

    async def obs_calls(self, frames: list[bytes], timeout: float = 60) -> list[bytes]:
        """The replies to `frames` on the observer session, after a `sync "/"`.

        A ZooKeeper server answers a read from its own copy of the tree, with that copy's last
        zxid in the reply header (FinalRequestProcessor: getDataTreeLastProcessedZxid). With
        pyzk.workers > 1 the observer may sit on a worker whose replica is a few txns behind
        the member that just answered the lane's writes; only a sync makes a session see what
        other sessions were answered. Without it a fresh case's zxid base came out low (its
        zxid deltas high: "zxid pyzk-java=+N") and the tree walk could miss the last case's
        nodes."""
        c = await self.ensure_obs()
        c.frames.clear()
        c.write(SYNC_FRAME + b"".join(frames) + SENT_FRAME)
        st = await c.wait(SENT_XID, timeout)
        if st != "sentinel":
            raise RuntimeError(f"{self.name}: observer session {st}")
        out = [f for f in self.canon(c.frames) if _I.unpack_from(f)[0] not in (-1, SYNC_XID)]
        c.frames.clear()
        return out[:-1]

    async def current_zxid(self) -> int:
        got = await self.obs_calls([req(-2, 11)])
        return int(_HDR.unpack_from(got[0])[1]) if got else 0


# ------------------------------------------------------------------------------------------
# The runner
# ------------------------------------------------------------------------------------------

@dataclass
class CaseResult:
    case: Case
    outcomes: list[Outcome]
    cls: str | None
    extra: list[str] = field(default_factory=list)  # crash / traceback / hang notes


class Fuzzer:
    def __init__(self, kinds: list[str], workroot: Path, deadline: float = 3.0,
                 restart_every: int = 3000, log: Callable[[str], None] = print,
                 java_grace: float = 0.0) -> None:
        names: list[str] = []
        for k in kinds:
            names.append(k if k not in names else f"{k}2")
        hosts = dict(HOSTS)
        self.sides: list[Side] = []
        for i, (kind, name) in enumerate(zip(kinds, names, strict=True)):
            host = hosts.get(name) or f"127.0.0.{63 + i}"
            self.sides.append(Side(name, kind, host, workroot))
        self.deadline = deadline
        # Extra seconds a Java side gets after the deadline before its case counts as a hang.
        # A Java learner (three JVMs beside three pyzk members on two cores) has answered
        # valid cases 2-5 s late; pyzk never gets the grace, so its hangs still count at the
        # deadline. java_late counts the cases Java answered in the grace.
        self.java_grace = java_grace
        self.java_late = 0
        self.restart_every = restart_every
        self.classes: Counter[str] = Counter()
        self.examples: dict[str, tuple[int, str]] = {}  # class -> (case k, case name)
        self.tree_classes: Counter[str] = Counter()
        self.log = log
        self.cases_in_epoch = 0
        self.case_labels: dict[int, str] = {}
        self.results_kept: list[CaseResult] = []
        self.keep_results = False
        self.t_start = time.monotonic()
        self.regression_failures: list[str] = []
        self.close_races: Counter[str] = Counter()
        self.kind_time: Counter[str] = Counter()
        self.kind_count: Counter[str] = Counter()
        self.slowest: tuple[float, int, str] = (0.0, -1, "")
        self.order_violations: Counter[str] = Counter()
        self.order_examples: dict[str, int] = {}
        self.race_examples: dict[str, int] = {}
        self.skipped: Counter[str] = Counter()  # why cases were not sent (skip_reason)
        self.show: set[int] = set()  # --show: print these cases in full as a run reaches them

    # -- process management -------------------------------------------------------------
    def start(self) -> None:
        for s in self.sides:
            s.start()

    def stop(self) -> None:
        for s in self.sides:
            s.stop()

    async def restart(self) -> None:
        for s in self.sides:
            s.stop()
        for s in self.sides:
            s.start()
        self.cases_in_epoch = 0
        self.case_labels.clear()

    def check_alive(self, k: int, notes: list[str]) -> bool:
        ok = True
        for s in self.sides:
            assert s.srv is not None
            if not s.srv.alive():
                ok = False
                if not s.srv.crash_counted:
                    s.srv.crash_counted = True
                    s.stats.crashes += 1
                    notes.append(f"CRASH {s.name} after case {k}:\n{s.srv.tail_log(30)}")
        return ok

    def scan_logs(self, k: int, notes: list[str]) -> None:
        for s in self.sides:
            if s.kind != "pyzk" or s.srv is None:
                continue
            text = s.srv.new_log()
            if not text:
                continue
            # pyzk logs JSON lines: an exception is an "exception" key, not a "Traceback" text.
            for marker in ("Traceback", "internal task failed", "Fatal", '"exception":'):
                n = text.count(marker)
                if n:
                    s.stats.tracebacks += n
                    i = text.find(marker)
                    sample = text[max(0, i - 300):i + 1500]
                    notes.append(f"TRACEBACK {s.name} case {k} ({marker} x{n}):\n{sample}")
                    if len(s.traceback_samples) < 20:
                        s.traceback_samples.append(f"case {k}: {sample}")

    # -- one case -----------------------------------------------------------------------
    async def run_side(self, s: Side, case: Case) -> Outcome:
        try:
            return await self._run_side(s, case)
        except (OSError, RuntimeError) as e:
            # Cannot connect or handshake: the server died (check_alive counts the crash) or
            # refuses connections. Recorded as its own end state.
            s.lane = None
            self.log(f"{s.name}: case {case.k}: {e!r}")
            out = Outcome(None, [None] * (len(request_list(case)) + 1), [], [], [], [],
                          "unreachable", [])
            out.roles = [""] * len(out.replies)
            return out

    async def _run_side(self, s: Side, case: Case) -> Outcome:
        data = case.data()
        nframes = len(request_list(case)) + (1 if case.fresh else 0)
        s.stats.frames += nframes
        s.stats.bytes += len(data)
        if case.fresh:
            base = await s.current_zxid()
            c = await s.open()
            c.write(data + SENT_FRAME)
            sid = 0
        else:
            c = await s.ensure_lane()
            c.frames.clear()
            # The sync makes the marker's zxid the server's latest even when the lane is on a
            # pyzk worker whose replica has not yet applied what the member answered on
            # another connection (the last case's closeSession, say): see obs_calls.
            c.write(SYNC_FRAME + PRE_FRAME + data + SENT_FRAME)
            sid = s.lane_sid
            base = s.zxid
        end = await c.wait(SENT_XID, self.deadline)
        if end == "hang" and s.kind == "java" and self.java_grace > 0:
            end = await c.wait(SENT_XID, self.java_grace)
            if end != "hang":
                self.java_late += 1
                self.log(f"{s.name}: case {case.k} answered after the {self.deadline} s deadline")
        if end == "sentinel":
            # A reply that announces a close (session expired, UNIMPLEMENTED, AUTHFAILED):
            # Java may close only after answering the sentinel, so wait for it a little.
            if any(len(f) >= 16 and _HDR.unpack_from(f)[2] in (-6, -112, -115)
                   for f in c.frames):
                if await c.wait_close(1.0):
                    end = "closed"
        elif end == "hang":
            s.stats.hangs += 1
        frames = s.canon(c.frames)
        c.frames.clear()
        if not case.fresh:
            for f in frames:
                if len(f) >= 16 and _I.unpack_from(f)[0] == PRE_XID:
                    base = _HDR.unpack_from(f)[1]
                    break
        out = tokenize(case, frames, end, base, sid, expect_connect=case.fresh)
        for f in frames:
            if len(f) >= 16:
                z = _HDR.unpack_from(f)[1]
                if z > s.zxid and z < 1 << 48:
                    s.zxid = z
        if end != "sentinel" or c.closed:
            c.abort()
            if not case.fresh:
                s.lane = None
        elif case.fresh:
            if case.cleanup and out.sid:
                c.write(req(1, -11))
                await c.wait_close(2.0)
            c.abort()
            out.sid = 0  # cleaned up
        if case.fresh and case.cleanup and out.sid and 0 < out.timeout < SESSION_TIMEOUT:
            await self.close_session(s, out.sid, out.passwd)
        return out

    async def close_session(self, s: Side, sid: int, passwd: bytes) -> None:
        try:
            c = await s.open()
            c.write(frame(connect_payload(sid=sid, passwd=passwd).out) + req(1, -11))
            await c.wait_close(2.0)
            c.abort()
        except OSError:
            pass

    async def run_case(self, case: Case) -> CaseResult:
        t0 = time.monotonic()
        outs = await asyncio.gather(*(self.run_side(s, case) for s in self.sides))
        dt = time.monotonic() - t0
        self.kind_time[case.kind] += dt
        self.kind_count[case.kind] += 1
        if dt > self.slowest[0]:
            self.slowest = (dt, case.k, case.label)
        for s in self.sides:
            s.stats.cases += 1
        # Lanes must be closed on both sides together, or they drift apart.
        if any(s.lane is None for s in self.sides):
            for s in self.sides:
                if s.lane is not None:
                    s.lane.abort()
                    s.lane = None
        notes: list[str] = []
        cls = None
        if len(self.sides) == 2:
            a, b = self.sides
            verdict = compare(case, a.name, outs[0], b.name, outs[1])
            cls = verdict.cls
            if cls is not None and self.java_grace > 0 and java_stalled(self.sides, outs):
                # A Java learner that stops answering past deadline + grace (its ensemble
                # lost its leader on a loaded machine, say) says nothing about pyzk: as long as
                # what it did answer matches pyzk, the case is a tolerated stall, not a class.
                verdict.races.append(JAVA_STALL)
                cls = None
            for key in dict.fromkeys(verdict.races):
                self.close_races[key] += 1
                self.race_examples.setdefault(key, case.k)
                # Also a difference class (matched against known_differences like the others).
                self.classes[f"close-race: {key}"] += 1
                self.examples.setdefault(f"close-race: {key}", (case.k, case.name))
            for msg in verdict.order:
                self.order_violations[msg] += 1
                self.order_examples.setdefault(msg, case.k)
        for s, o in zip(self.sides, outs, strict=True):
            if o.end == "hang":
                notes.append(f"HANG {s.name} case {case.k} {case.label}")
        self.scan_logs(case.k, notes)
        self.check_alive(case.k, notes)
        if case.setacl:
            await self.restore_root_acl()
        if "createSession" in case.label and not case.fresh:
            # createSession in a session may shorten its expiry (Java's trackSession): end the
            # lanes now, or an expiry would land in the middle of a later case.
            for s in self.sides:
                if s.lane is not None and not s.lane.closed:
                    s.lane.write(req(0x5EB7_0003, -11))
                    await s.lane.wait_close(2.0)
                    s.lane.abort()
                elif s.lane_sid:
                    await self.close_session(s, s.lane_sid, s.lane_pw)
                s.lane = None
                s.lane_sid = 0
        if cls is not None:
            self.classes[cls] += 1
            self.examples.setdefault(cls, (case.k, case.name))
        self.case_labels[case.k] = case.label
        if case.expect_java is not None:
            for s, o in zip(self.sides, outs, strict=True):
                if s.kind == "java" and not case.expect_java(o.tokens):
                    self.regression_failures.append(
                        f"{case.name}: java did not do what the issue says ({case.expect_text});"
                        f" got {o.tokens}")
        res = CaseResult(case, outs, cls, notes)
        if self.keep_results:
            self.results_kept.append(res)
        for n in notes:
            self.log(n)
        return res

    async def restore_root_acl(self) -> None:
        try:
            await self._restore_root_acl()
        except (OSError, RuntimeError) as e:
            self.log(f"root ACL check skipped: {e!r}")

    async def _restore_root_acl(self) -> None:
        for s in self.sides:
            got = await s.obs_calls([req(1, 6, lambda e: e.ustr("path", "/"))])
            if not got or _HDR.unpack_from(got[0])[2] != 0:
                continue
            rd = Rd(got[0], 16)
            acl = rd.vec(lambda rd=rd: (rd.i32(), rd.ustr(), rd.ustr()))
            if acl != [(31, "world", "anyone")]:
                await s.obs_calls([req(2, 7, lambda e: (
                    e.ustr("path", "/"), e.vec("acl", [(31, "world", "anyone")], enc_acl),
                    e.i32("version", -1)))])

    # -- trees --------------------------------------------------------------------------
    async def walk(self, s: Side) -> dict[str, tuple[Any, ...]]:
        nodes: dict[str, tuple[Any, ...]] = {}
        level = ["/"]
        for _depth in range(64):
            if not level:
                break
            nxt: list[str] = []
            for i in range(0, len(level), 300):
                chunk = level[i:i + 300]
                frames = []
                for j, p in enumerate(chunk):
                    frames.append(req(3 * j + 1, 12, lambda e, p=p: (e.ustr("path", p),
                                                                      e.boolean("watch", 0))))
                    frames.append(req(3 * j + 2, 4, lambda e, p=p: (e.ustr("path", p),
                                                                     e.boolean("watch", 0))))
                    frames.append(req(3 * j + 3, 6, lambda e, p=p: e.ustr("path", p)))
                got = await s.obs_calls(frames)
                byxid = {}
                for f in got:
                    byxid[_I.unpack_from(f)[0]] = f
                for j, p in enumerate(chunk):
                    entry: list[Any] = []
                    fc, fd, fa = (byxid.get(3 * j + 1), byxid.get(3 * j + 2),
                                  byxid.get(3 * j + 3))
                    children: list[str] = []
                    if fc is not None and _HDR.unpack_from(fc)[2] == 0:
                        rd = Rd(fc, 16)
                        children = sorted(x or "" for x in rd.vec(rd.ustr) or [])
                    if fd is not None and _HDR.unpack_from(fd)[2] == 0:
                        rd = Rd(fd, 16)
                        data = rd.buf()
                        st = Norm(0, -1, "").stat(rd)
                        # (czxid, mzxid, version, cversion, aversion, eo, dlen, nchild, pzxid)
                        if st[0] == "sys":
                            entry += [data, st[2], st[3], st[4] != 0]
                        else:
                            entry += [data, st[2], st[3], st[4], st[5] != 0, st[6], st[7]]
                    else:
                        entry.append(("getData-err", None if fd is None else
                                      _HDR.unpack_from(fd)[2]))
                    if fa is not None and _HDR.unpack_from(fa)[2] == 0:
                        rd = Rd(fa, 16)
                        entry.append(tuple(sorted(
                            (a[0], a[1] or "", a[2] or "")
                            for a in rd.vec(lambda rd=rd: (rd.i32(), rd.ustr(), rd.ustr())) or [])))
                    if p == "/":
                        entry = entry[:1] + entry[2:3]  # root: data and version only
                    nodes[p] = tuple(entry)
                    for ch in children:
                        nxt.append(("/" if p == "/" else p + "/") + ch)
            level = nxt
        return nodes

    async def compare_trees(self) -> None:
        if len(self.sides) != 2:
            return
        a, b = self.sides
        ta, tb = _canon_seq(await self.walk(a)), _canon_seq(await self.walk(b))
        fields = ("data", "version", "cversion", "aversion", "ephemeral", "dataLength",
                  "numChildren", "acl")
        for p in sorted(set(ta) | set(tb)):
            x, y = ta.get(p), tb.get(p)
            if x == y:
                continue
            label = self._label_for(p)
            if x is None or y is None:
                what = f"node only in {a.name if y is None else b.name}"
            else:
                idx = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), 0)
                fname = fields[idx] if len(x) == len(fields) and idx < len(fields) else str(idx)
                what = f"{fname} differs ({a.name} {_short(x[idx])} vs {b.name} {_short(y[idx])})" \
                    if fname in ("ephemeral", "version", "cversion", "aversion") else \
                    f"{fname} differs"
            k = _case_of(p)
            if k >= 0:
                rel = "/R" + p[len(f"/z{k}"):]
                if rel[2:].isdigit() or rel.startswith("/R<seq"):
                    rel = "/R<seq>"
                rel = rel if len(rel) < 24 else rel[:20] + "..."
            else:
                rel = "(outside the case subtrees)"
            cls = f"{label}: tree {rel}: {what}"
            self.tree_classes[cls] += 1
            self.classes[cls] += 1
            self.examples.setdefault(cls, (_case_of(p), ""))

    async def compare_trees_safely(self) -> None:
        try:
            await self.compare_trees()
        except (OSError, RuntimeError) as e:
            self.log(f"tree comparison skipped: {e!r}")

    def _label_for(self, path: str) -> str:
        k = _case_of(path)
        return self.case_labels.get(k, "op=? mut=?") if k >= 0 else "op=tree mut=outside-cases"

    # -- drive --------------------------------------------------------------------------
    async def run_cases(self, cases: Iterable[Case], max_frames: int | None = None,
                        max_seconds: float | None = None, progress_every: float = 30.0) -> None:
        next_progress = time.monotonic() + progress_every
        for case in cases:
            why = skip_reason(case)
            if why is not None:
                self.skipped[why] += 1
                continue
            res = await self.run_case(case)
            self.cases_in_epoch += 1
            if case.k in self.show:
                print_case(case, res, self.sides)
            for s, o in zip(self.sides, res.outcomes, strict=True):
                if o.end == "unreachable" and s.srv is not None and s.srv.proc is not None:
                    # Refusing connections: dying (Java runs shutdown hooks) or wedged.
                    try:
                        s.srv.proc.wait(10)
                    except Exception:  # noqa: BLE001 - still alive: treat as a crash
                        s.stats.crashes += 1
                        s.srv.crash_counted = True
                        self.log(f"CRASH {s.name}: alive but unreachable after case {case.k}")
                        s.srv.stop()
                    else:
                        notes: list[str] = []
                        self.check_alive(case.k, notes)
                        for n in notes:
                            self.log(n)
            if any(s.srv is not None and not s.srv.alive() for s in self.sides):
                await self.compare_trees_safely()
                await self.restart()
            elif self.cases_in_epoch >= self.restart_every:
                await self.compare_trees()
                await self.restart()
            now = time.monotonic()
            if now >= next_progress:
                next_progress = now + progress_every
                self.log(self.progress_line())
            if max_frames is not None and min(s.stats.frames for s in self.sides) >= max_frames:
                break
            if max_seconds is not None and now - self.t_start > max_seconds:
                break
        await self.compare_trees()

    def progress_line(self) -> str:
        el = time.monotonic() - self.t_start
        s0 = self.sides[0].stats
        return (f"[{el:7.1f}s] cases={s0.cases} frames={s0.frames} "
                f"({s0.frames / max(el, 1e-9):.0f}/s) diffs={sum(self.classes.values())} "
                f"classes={len(self.classes)}")

    def summary(self, known: list[tuple[str, str]]) -> dict[str, Any]:
        el = time.monotonic() - self.t_start
        per = {s.name: dict(vars(s.stats), frames_per_s=round(s.stats.frames / max(el, 1e-9)))
               for s in self.sides}
        classes = []
        for cls, n in self.classes.most_common():
            k, name = self.examples[cls]
            kn = match_known(cls, known)
            classes.append({"class": cls, "count": n, "example_case": k, "regression": name,
                            "known": kn})
        return {"elapsed_s": round(el, 1), "servers": per, "classes": classes,
                "time_by_kind": {k: {"cases": self.kind_count[k], "seconds": round(t, 2)}
                                 for k, t in self.kind_time.most_common()},
                "slowest_case": {"seconds": round(self.slowest[0], 3), "case": self.slowest[1],
                                 "label": self.slowest[2]},
                "java_late": self.java_late,
                "regression_expectation_failures": self.regression_failures,
                "skipped": dict(self.skipped),
                "close_races": {k: {"count": n, "example_case": self.race_examples[k]}
                                for k, n in self.close_races.most_common()},
                "order_violations": {k: {"count": n, "example_case": self.order_examples[k]}
                                     for k, n in self.order_violations.most_common()},
                "tracebacks": {s.name: s.traceback_samples for s in self.sides
                               if s.traceback_samples}}


def _canon_seq(nodes: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """Sequential children of "/" created as /z<k><10 digits> take their suffix from the
    root's cversion, which drifts once the servers differed anywhere: number them per case."""
    ren: dict[str, str] = {}
    per_case: dict[int, list[str]] = {}
    for p in nodes:
        head = p[2:] if p.startswith("/z") and p.count("/") == 1 else ""
        if len(head) > 10 and head.isdigit():
            per_case.setdefault(int(head[:-10]), []).append(p)
    for k, ps in per_case.items():
        for j, p in enumerate(sorted(ps)):
            ren[p] = f"/z{k}<seq{j}>"
    if not ren:
        return nodes
    out: dict[str, tuple[Any, ...]] = {}
    for p, v in nodes.items():
        top = "/" + p.split("/")[1] if p != "/" else "/"
        out[ren[top] + p[len(top):] if top in ren else p] = v
    return out


def _short(v: Any) -> str:
    return str(v)[:20]


def _case_of(path: str) -> int:
    if not path.startswith("/z"):
        return -1
    head = path[2:].split("/", 1)[0].split("<", 1)[0]
    if not head.isdigit():
        return -1
    if len(head) > 10 and "/" not in path[2:]:
        return int(head[:-10])  # /z<k><10-digit sequence>: a sequential create of the case root
    return int(head)


def match_known(cls: str, known: list[tuple[str, str]]) -> str | None:
    for pattern, reason in known:
        if fnmatch.fnmatchcase(cls, pattern):
            return reason
    return None


def case_stream(seed: int, start: int = 0, count: int | None = None) -> Iterable[Case]:
    k = start
    while count is None or k < start + count:
        yield Gen(seed, k).gen()
        k += 1


def load_known() -> list[tuple[str, str]]:
    from tests.fuzz import known_differences as kd
    return [(d.pattern, d.reason) for d in kd.KNOWN_DIFFERENCES]


def print_summary(summary: dict[str, Any], out: Callable[[str], None] = print) -> None:
    out(f"elapsed {summary['elapsed_s']} s")
    for name, st in summary["servers"].items():
        out(f"  {name}: cases={st['cases']} frames={st['frames']} ({st['frames_per_s']}/s) "
            f"bytes={st['bytes']} connections={st['connections']} crashes={st['crashes']} "
            f"hangs={st['hangs']} tracebacks={st['tracebacks']}")
    out("time by case kind: " + ", ".join(
        f"{k} {v['cases']} cases {v['seconds']} s" for k, v in summary["time_by_kind"].items()))
    out(f"slowest case: {summary['slowest_case']}")
    if summary.get("java_late"):
        out(f"java answered {summary['java_late']} cases only in the grace after the deadline")
    out(f"differences: {sum(c['count'] for c in summary['classes'])} in "
        f"{len(summary['classes'])} classes")
    for c in summary["classes"]:
        tag = "known" if c["known"] else "NEW"
        reg = f" [{c['regression']}]" if c["regression"] else ""
        out(f"  {c['count']:6d} {tag:5s} {c['class']}  (case {c['example_case']}{reg})")
    for k, v in summary["close_races"].items():
        out(f"  tolerated close race ({v['count']}x, e.g. case {v['example_case']}): {k}")
    for k, v in summary["order_violations"].items():
        out(f"  REPLY ORDER ({v['count']}x, e.g. case {v['example_case']}): {k}")
    for why, n in summary.get("skipped", {}).items():
        out(f"  skipped {n} cases: {why}")
    for f in summary["regression_expectation_failures"]:
        out(f"REGRESSION EXPECTATION: {f}")


def print_case(case: Case, res: CaseResult, sides: list[Side], raw: bool = False) -> None:
    print(f"case {case.k} kind={case.kind} {case.label} fresh={case.fresh}")
    print("bytes (hex, one line per write unit):")
    if not case.fresh:
        print("  [handshake: standard ConnectRequest, timeOut 3600000, on a reused lane session]")
    for f in case.frames:
        print("  " + f.hex())
    print("  sentinel " + SENT_FRAME.hex())
    for s, o in zip(sides, res.outcomes, strict=True):
        print(f"--- {s.name}: end={o.end} session={o.sid:#x}")
        for t in o.tokens:
            print(f"    {t}")
        for f in o.frames if raw else ():
            print(f"    raw {f.hex()[:200]}")
    print(f"difference: {res.cls}")


async def amain(args: argparse.Namespace) -> int:
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    if "java" in kinds and not java_available():
        print("java or /usr/share/java/zookeeper.jar missing", file=sys.stderr)
        return 2
    try:
        import uvloop  # noqa: F401
    except ImportError:
        pass
    workroot = Path(args.workdir or tempfile.mkdtemp(prefix="difffuzz-"))
    grace = args.java_grace if args.java_grace is not None else (
        LEARNER_JAVA_GRACE if args.target != "standalone" else 0.0)
    fz = Fuzzer(kinds, workroot, deadline=args.deadline, restart_every=args.restart_every,
                java_grace=grace)
    for s in fz.sides:
        s.keep = args.keep
    fz.show = {int(x) for x in args.show.split(",") if x}
    known = load_known()
    fz.start()
    try:
        if args.case is not None:
            fz.keep_results = True
            regs = {c.k: c for c in regression_cases()}
            for k in (int(x) for x in str(args.case).split(",")):
                case = regs.get(k) or Gen(args.seed, k).gen()
                fz.results_kept.clear()
                for s in fz.sides:  # a fresh lane session, as after a restart
                    if s.lane is not None:
                        s.lane.abort()
                        s.lane = None
                await fz.run_case(case)
                print_case(case, fz.results_kept[0], fz.sides, raw=args.raw)
                if any(s.srv is not None and not s.srv.alive() for s in fz.sides):
                    print("a server died during this case; restarting both")
                    await fz.restart()
            await fz.compare_trees_safely()
            for cls, n in fz.tree_classes.items():
                print(f"tree x{n}: {cls}")
            return 0
        cases: list[Case] = []
        if args.regressions or (args.frames is None and args.cases is None):
            cases = regression_cases()
        if cases:
            await fz.run_cases(cases)
        if args.frames or args.cases:
            await fz.run_cases(case_stream(args.seed, args.start, args.cases),
                               max_frames=args.frames, max_seconds=args.max_seconds)
    finally:
        fz.stop()
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    summary = fz.summary(known)
    summary["seed"] = args.seed
    print_summary(summary)
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=1, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="difffuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=None, help="stop after N frames per server")
    ap.add_argument("--cases", type=int, default=None, help="stop after N cases")
    ap.add_argument("--start", type=int, default=0, help="first case number")
    ap.add_argument("--case", default=None,
                    help="replay case K (or K1,K2,...) of --seed on fresh servers, print hex")
    ap.add_argument("--raw", action="store_true", help="with --case: print raw reply frames")
    ap.add_argument("--show", default="", metavar="K1,K2,...",
                    help="in a run (--cases/--frames): print these cases as --case does, with "
                         "the state the run's earlier cases left")
    ap.add_argument("--regressions", action="store_true", help="run the regression cases")
    ap.add_argument("--servers", default="pyzk,java")
    ap.add_argument("--report", default=None, help="write a JSON summary here")
    ap.add_argument("--deadline", type=float, default=2.0, help="hang deadline per case, s")
    ap.add_argument("--java-grace", type=float, default=None,
                    help="seconds more a Java side gets before its case is a hang (default "
                         f"{LEARNER_JAVA_GRACE} with --target, 0 standalone)")
    ap.add_argument("--restart-every", type=int, default=3000, help="cases per server epoch")
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep server dirs and logs")
    ap.add_argument("--target", default="standalone", choices=("standalone", *TARGETS),
                    help="standalone servers, or the follower/observer of a 3-member ensemble "
                         "per side (tests/fuzz/ensemble_target.py)")
    ap.add_argument("--ensemble-base", default="", metavar="PYZK_IP,JAVA_IP",
                    help="with --target: the first of each side's three addresses "
                         "(default 127.0.64.11,127.0.64.21)")
    ap.add_argument("--hosts", default="", metavar="PYZK_IP,JAVA_IP",
                    help="standalone: the two servers' addresses (default "
                         f"{HOSTS['pyzk']},{HOSTS['java']}, which CI uses)")
    ap.add_argument("--pyzk-cfg", default="", metavar="KEY=VALUE,...",
                    help="more zoo.cfg lines for pyzk, e.g. pyzk.workers=2")
    args = ap.parse_args(argv)
    PYZK_EXTRA_CFG.update(kv.split("=", 1) for kv in args.pyzk_cfg.split(",") if kv)
    TARGET["target"] = args.target
    if args.hosts:
        HOSTS.update(zip(("pyzk", "java"), args.hosts.split(","), strict=True))
    if args.ensemble_base:
        ENSEMBLE_BASE.update(zip(("pyzk", "java"), args.ensemble_base.split(","), strict=True))
    try:
        import uvloop
        return uvloop.run(amain(args))
    except ImportError:
        return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
