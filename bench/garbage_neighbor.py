"""Garbage neighbour: a failing request must not slow anyone else.

Per server kind (pyzk and Java, same run and settings, each on its own loopback address): a
healthy kazoo client does a steady, rate-limited mix of setData/getData/create/delete, first
alone, then while garbage clients flood the server with malformed input (after a valid
handshake, before it, and connections the server closes), reconnecting each time. Reports the
healthy client's latency percentiles in both phases, their ratio, what the garbage clients got
done, and whether the server survived. Markdown to stdout, JSON to
bench/results/garbage-neighbor-<timestamp>.json. Usage: python -m bench.garbage_neighbor --help
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import multiprocessing as mp
import os
import platform
import random
import statistics
import struct
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from bench.run import HOSTS, _reason, cpu_seconds, java_version, pin_threads
from tests.servers import ServerProc, handshake_ok

REPO = Path(__file__).resolve().parent.parent

GARBAGE_SESSION_MS = 4000  # garbage handshakes ask for the minimum (2 x tickTime) session
ROOT = "/gn"  # the healthy client's subtree; garbage only ever names /gn-garbage paths


# -- jute by hand (garbage must be able to say what the codecs refuse) -------------------------

_I = struct.Struct(">i")
_Q = struct.Struct(">q")


def ji(v: int) -> bytes:
    return _I.pack(v)


def jl(v: int) -> bytes:
    return _Q.pack(v)


def js(s: str) -> bytes:
    b = s.encode()
    return ji(len(b)) + b


def jb(b: bytes) -> bytes:
    return ji(len(b)) + b


def jbool(v: bool) -> bytes:
    return b"\1" if v else b"\0"


def fr(body: bytes) -> bytes:
    """Length-prefixed frame."""
    return ji(len(body)) + body


def req(xid: int, op: int, body: bytes = b"") -> bytes:
    """Request frame: RequestHeader{xid, type} + body."""
    return fr(ji(xid) + ji(op) + body)


def connect_body(timeout_ms: int = GARBAGE_SESSION_MS, session_id: int = 0, last_zxid: int = 0,
                 passwd: bytes = b"\0" * 16, passwd_len: int | None = None) -> bytes:
    """ConnectRequest{protocolVersion, lastZxidSeen, timeOut, sessionId, passwd} + readOnly."""
    plen = len(passwd) if passwd_len is None else passwd_len
    return ji(0) + jl(last_zxid) + ji(timeout_ms) + jl(session_id) + ji(plen) + passwd + b"\0"


class Garbage(NamedTuple):
    handshake: bool  # sent after a valid ConnectRequest/ConnectResponse
    make: Callable[[random.Random, int], bytes]  # (rng, xid) -> bytes to write
    what: str


_UNKNOWN_OPS = (999, 55, 10, -77, 0x7FFFFFFF)
_BAD_PATHS = ("no-slash", "/a//b", "/a/./b", "/gn-garbage/", "/a\x00b", "")
ACL_OPEN = ji(1) + ji(31) + js("world") + js("anyone")  # OPEN_ACL_UNSAFE

GARBAGE: dict[str, Garbage] = {
    # -- before the handshake: the server must refuse and close
    "pre_random": Garbage(False, lambda g, x: fr(g.randbytes(g.randint(8, 60))),
                          "ConnectRequest frame of random bytes"),
    "pre_neg_len": Garbage(False, lambda g, x: ji(-g.randint(2, 2**31 - 1)) + b"\0" * 8,
                           "negative frame length before the handshake"),
    "pre_huge_len": Garbage(False, lambda g, x: ji(0x7FFFFFFF) + b"\0" * 16,
                            "frame length 2^31-1 before the handshake"),
    "pre_http": Garbage(False, lambda g, x: b"GET / HTTP/1.1\r\nHost: zk\r\n\r\n",
                        "an HTTP request on the client port"),
    "pre_truncated_connect": Garbage(False, lambda g, x: fr(connect_body()[:20]),
                                     "ConnectRequest cut after 20 bytes (frame says 20)"),
    "pre_bad_passwd_len": Garbage(False, lambda g, x: fr(connect_body(passwd=b"",
                                                                      passwd_len=-5)),
                                  "ConnectRequest with passwd length -5"),
    "pre_unknown_session": Garbage(False, lambda g, x: fr(connect_body(
        session_id=g.getrandbits(62) | 1, passwd=g.randbytes(16))),
        "reconnect to a session that does not exist (expired, closed)"),
    "pre_future_zxid": Garbage(False, lambda g, x: fr(connect_body(last_zxid=1 << 62)),
                               "ConnectRequest having seen a zxid from the future"),
    # -- after a valid handshake
    "multi_bad_type": Garbage(True, lambda g, x: req(x, 14, ji(9999) + jbool(False) + ji(-1)
                                                       + js("/gn-garbage")),
                              "multi with op type 9999"),
    "multi_truncated": Garbage(True, lambda g, x: req(x, 14, ji(1) + jbool(False) + ji(-1)),
                               "multi: create header, no create body"),
    "multi_no_end": Garbage(True, lambda g, x: req(x, 14, ji(13) + jbool(False) + ji(-1)
                                                     + js("/gn-garbage") + ji(-1)),
                            "multi: one check op, no done=true terminator"),
    "multi_neg_path": Garbage(True, lambda g, x: req(x, 14, ji(1) + jbool(False) + ji(-1)
                                                       + ji(-7) + jb(b"x") + ji(0) + ji(0)
                                                       + ji(-1) + jbool(True) + ji(-1)),
                              "multi: create whose path length is -7"),
    "neg_string_len": Garbage(True, lambda g, x: req(x, 4, ji(-g.randint(2, 1000))
                                                       + jbool(False)),
                              "getData, path length negative (< -1)"),
    "null_path": Garbage(True, lambda g, x: req(x, 4, ji(-1) + jbool(False)),
                         "getData with a null path (length -1)"),
    "huge_string_len": Garbage(True, lambda g, x: req(x, 5, ji(0x7FFFFFF0) + b"/abc"),
                               "setData, path length 2^31-16, 4 bytes follow"),
    "neg_data_len": Garbage(True, lambda g, x: req(x, 5, js("/gn-garbage") + ji(-100)
                                                     + ji(-1)),
                            "setData, data length -100"),
    "unknown_op": Garbage(True, lambda g, x: req(x, g.choice(_UNKNOWN_OPS), b"\0" * 8),
                          "unknown opcode (999, 55, 10, -77, 2^31-1)"),
    "truncated_header": Garbage(True, lambda g, x: fr(b"\0\0\1"),
                                "3-byte frame (RequestHeader needs 8)"),
    "empty_frame": Garbage(True, lambda g, x: fr(b""), "zero-length frame"),
    "truncated_create": Garbage(True, lambda g, x: req(x, 1, js("/gn-garbage/t") + jb(b"x")
                                                         + ji(5)),
                                "create whose ACL vector says 5 and has none"),
    "set_watches_huge": Garbage(True, lambda g, x: req(-8, 101, jl(0) + ji(0x7FFFFFFF)),
                                "setWatches, vector count 2^31-1, nothing follows"),
    "bad_auth_scheme": Garbage(True, lambda g, x: req(-4, 100, ji(0) + js("no-such-scheme")
                                                        + jb(b"junk")),
                               "auth with an unknown scheme"),
    "bad_auth_truncated": Garbage(True, lambda g, x: req(-4, 100, ji(0) + js("digest")
                                                           + ji(50) + b"ab"),
                                  "digest auth, credential length 50, 2 bytes follow"),
    # -- well-formed frames, requests that must fail (kept open: an error reply each)
    "get_nonode": Garbage(True, lambda g, x: req(x, 4, js("/gn-garbage/missing") + jbool(True)),
                          "getData (watch) of a missing node"),
    "create_bad_path": Garbage(True, lambda g, x: req(x, 1, js(g.choice(_BAD_PATHS)) + jb(b"x")
                                                        + ACL_OPEN + ji(0)),
                               "create of an invalid path (relative, //, /., trailing /, NUL)"),
    "create_bad_utf8": Garbage(True, lambda g, x: req(x, 1, ji(4) + b"/\xff\xfe\xfd" + jb(b"x")
                                                        + ACL_OPEN + ji(0)),
                               "create, path bytes not UTF-8"),
    "create_bad_flags": Garbage(True, lambda g, x: req(x, 1, js("/gn-garbage-f") + jb(b"x")
                                                         + ACL_OPEN + ji(g.choice((99, -3)))),
                                "create with CreateMode flags 99 / -3"),
    "create_bad_acl": Garbage(True, lambda g, x: req(x, 1, js("/gn-garbage-a") + jb(b"x")
                                                       + g.choice((ji(0), ji(1) + ji(31)
                                                                   + js("no-such") + js("x")))
                                                       + ji(0)),
                              "create with an empty ACL list / unknown ACL scheme"),
    "create_ttl_bad": Garbage(True, lambda g, x: req(x, 21, js("/gn-garbage-t") + jb(b"x")
                                                       + ACL_OPEN + ji(5) + jl(-5)),
                              "createTTL with ttl -5"),
    "multi_with_read": Garbage(True, lambda g, x: req(x, 14, ji(4) + jbool(False) + ji(-1)
                                                        + js("/") + jbool(False) + ji(-1)
                                                        + jbool(True) + ji(-1)),
                               "write multi holding a getData"),
    "multi_read_write": Garbage(True, lambda g, x: req(x, 22, ji(1) + jbool(False) + ji(-1)
                                                         + js("/gn-garbage-m") + jb(b"x")
                                                         + ACL_OPEN + ji(0) + ji(-1)
                                                         + jbool(True) + ji(-1)),
                                "multiRead holding a create"),
    "check_alone": Garbage(True, lambda g, x: req(x, 13, js("/") + ji(0)),
                           "check (op 13) outside a multi"),
    "add_watch_bad_mode": Garbage(True, lambda g, x: req(x, 106, js("/") + ji(99)),
                                  "addWatch with mode 99"),
    "remove_watches_bad": Garbage(True, lambda g, x: req(x, 18, js("/gn-garbage") + ji(99)),
                                  "removeWatches with watcher type 99"),
    "sasl_garbage": Garbage(True, lambda g, x: req(x, 102, jb(g.randbytes(24))),
                            "SASL token of random bytes (no SASL configured)"),
    "reconfig_garbage": Garbage(True, lambda g, x: req(x, 16, js("server.9=junk") + js("")
                                                         + ji(-1) + jl(-1)),
                                "reconfig on a standalone server, junk members"),
    # -- null strings and negative vector counts where a record holds them (jute allows -1)
    "acl_null_scheme": Garbage(True, lambda g, x: req(x, 1, js("/gn-garbage-n") + jb(b"x")
                                                        + ji(2) + ji(31) + js("world")
                                                        + js("anyone") + ji(31) + ji(-1)
                                                        + js("anyone") + ji(0)),
                               "create, second ACL entry has a null scheme"),
    "acl_null_id": Garbage(True, lambda g, x: req(x, 1, js("/gn-garbage-n") + jb(b"x") + ji(1)
                                                    + ji(31) + js(g.choice(("world", "digest",
                                                                            "ip", "auth")))
                                                    + ji(-1) + ji(0)),
                           "create, ACL id null (world/digest/ip/auth)"),
    "set_acl_null": Garbage(True, lambda g, x: req(x, 7, js("/gn-garbage") + ji(2) + ji(31)
                                                     + ji(-1) + ji(-1) + ji(31) + ji(-1)
                                                     + ji(-1) + ji(-1)),
                            "setACL, two entries with null scheme and id"),
    "neg_vector_len": Garbage(True, lambda g, x: req(x, 1, js("/gn-garbage-v") + jb(b"x")
                                                       + ji(-g.randint(2, 1000)) + ji(0)),
                              "create, ACL vector count negative (< -1)"),
    "auth_null": Garbage(True, lambda g, x: req(-4, 100, ji(0) + g.choice((js("digest"), ji(-1)))
                                                  + ji(-1)),
                         "auth with a null credential (digest or null scheme)"),
    "huge_frame_len": Garbage(True, lambda g, x: ji(0x7FFFFFFF) + b"\0" * 8,
                              "frame length 2^31-1 after the handshake"),
    "neg_frame_len": Garbage(True, lambda g, x: ji(-5) + b"\0" * 8,
                             "frame length -5 after the handshake"),
}


def garbage_frames(kinds: list[str], seed: int = 0) -> Iterator[tuple[str, bool, bytes]]:
    """Endless (kind, needs_handshake, bytes) cycling through kinds, xids counting up."""
    rng = random.Random(seed)
    xid = 0
    while True:
        for k in kinds:
            xid += 1
            g = GARBAGE[k]
            yield k, g.handshake, g.make(rng, xid)


# -- stats ------------------------------------------------------------------------------------

def percentiles(lat_ns: Any) -> dict[str, float]:
    """Nearest-rank p50/p99/p999 and max in ms (NaN when empty), and the count."""
    s = sorted(lat_ns)
    n = len(s)

    def q(p: float) -> float:
        if not n:
            return float("nan")
        # epsilon: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point
        return s[max(0, min(n - 1, math.ceil(p / 100.0 * n - 1e-9) - 1))] / 1e6

    return {"n": n, "p50_ms": round(q(50), 3), "p99_ms": round(q(99), 3),
            "p999_ms": round(q(99.9), 3), "max_ms": round(s[-1] / 1e6, 3) if n else float("nan")}


def _med(vals: list[float]) -> float:
    vals = [v for v in vals if v == v]
    return statistics.median(vals) if vals else float("nan")


def _ratio(a: float, b: float) -> float:
    return a / b if b and a == a and b == b else float("nan")


def _f(v: float, fmt: str = ".2f") -> str:
    return "-" if v != v else format(v, fmt)


# -- garbage clients (run in their own process) -----------------------------------------------

class GStats:
    def __init__(self) -> None:
        self.frames = 0
        self.conns = 0
        self.connect_errors = 0
        self.closed_by_server = 0
        self.outcomes: dict[str, Counter[str]] = {}
        self.recent: deque[tuple[float, str]] = deque(maxlen=16)  # (monotonic, kind) sent
        self.first_connect_error: float | None = None

    def out(self, kind: str, what: str) -> None:
        self.outcomes.setdefault(kind, Counter())[what] += 1


async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One reply frame, None on EOF/reset. A nonsense length ends the connection too."""
    try:
        head = await reader.readexactly(4)
        (n,) = _I.unpack(head)
        if n < 0 or n > (1 << 20):
            return None
        return await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        return None


def _reply_outcome(f: bytes, handshake: bool) -> str:
    if not handshake:
        # A ConnectResponse: timeOut 0 / sessionId 0 means refused.
        if len(f) >= 16:
            _pv, to, sid = struct.unpack_from(">iiq", f, 0)
            return "connect refused" if (to <= 0 or sid == 0) else "session granted"
        return "short reply"
    if len(f) >= 16:
        _xid, _zxid, err = struct.unpack_from(">iqi", f, 0)
        return f"err {err}"
    return "short reply"


async def garbage_conn(host: str, port: int, kind: str, rng: random.Random, st: GStats,
                       timeout: float, frames_per_conn: int, deadline: float) -> None:
    """One connection doing one kind of garbage until the server closes it (or a bound)."""
    g = GARBAGE[kind]
    st.conns += 1
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (TimeoutError, OSError):
        st.connect_errors += 1
        if st.first_connect_error is None:
            st.first_connect_error = time.monotonic()
        await asyncio.sleep(0.01)  # the server may be gone: do not spin
        return
    closed = False
    try:
        if g.handshake:
            writer.write(fr(connect_body()))
            resp = await asyncio.wait_for(_read_frame(reader), timeout)
            if resp is None:
                st.out(kind, "handshake refused")
                st.closed_by_server += 1
                return
        xid = 0
        for _ in range(frames_per_conn if g.handshake else 1):
            xid += 1
            writer.write(g.make(rng, xid))
            st.frames += 1
            st.recent.append((time.monotonic(), kind))
            try:
                f = await asyncio.wait_for(_read_frame(reader), timeout)
            except TimeoutError:
                st.out(kind, "silent")
                return
            if f is None:
                st.out(kind, "closed")
                st.closed_by_server += 1
                closed = True
                return
            st.out(kind, _reply_outcome(f, g.handshake))
            if time.monotonic() > deadline:
                return
        if not g.handshake:
            # Answered before the handshake (e.g. "session expired"): is it then closed?
            try:
                f = await asyncio.wait_for(_read_frame(reader), timeout)
            except TimeoutError:
                f = b""
            if f is None:
                st.out(kind, "then closed")
                st.closed_by_server += 1
                closed = True
    except (ConnectionError, OSError, RuntimeError):  # uvloop: RuntimeError on a closed handle
        st.out(kind, "reset")
        st.closed_by_server += 1
        closed = True
    finally:
        if closed:
            writer.close()
        else:
            writer.transport.abort()  # we end it: RST, no TIME_WAIT pile-up on our side


async def garbage_client(host: str, port: int, kinds: list[str], st: GStats, seed: int,
                         duration: float, timeout: float, frames_per_conn: int,
                         max_frames: int, stop: Any) -> None:
    rng = random.Random(seed)
    order = list(kinds)
    rng.shuffle(order)
    deadline = time.monotonic() + duration
    i = 0
    while time.monotonic() < deadline and st.frames < max_frames and not stop.is_set():
        try:
            await garbage_conn(host, port, order[i % len(order)], rng, st, timeout,
                               frames_per_conn, deadline)
        except Exception as e:  # noqa: BLE001 - keep the counts; note what went wrong
            st.out(order[i % len(order)], f"client error {type(e).__name__}")
            await asyncio.sleep(0.01)
        i += 1


async def _garbage_main(host: str, port: int, kinds: list[str], clients: int, seed: int,
                        duration: float, timeout: float, frames_per_conn: int,
                        max_frames: int, stop: Any) -> dict[str, Any]:
    stats = [GStats() for _ in range(clients)]
    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(
        garbage_client(host, port, kinds, st, seed * 1000 + i, duration, timeout,
                       frames_per_conn, max_frames, stop) for i, st in enumerate(stats))),
        duration + 3 * timeout + 10)
    outcomes: dict[str, Counter[str]] = {}
    for st in stats:
        for k, c in st.outcomes.items():
            outcomes.setdefault(k, Counter()).update(c)
    errs = [st.first_connect_error for st in stats if st.first_connect_error is not None]
    return {"seconds": round(time.monotonic() - t0, 3),
            "frames": sum(st.frames for st in stats),
            "connections": sum(st.conns for st in stats),
            "connect_errors": sum(st.connect_errors for st in stats),
            "closed_by_server": sum(st.closed_by_server for st in stats),
            "outcomes": {k: dict(c) for k, c in sorted(outcomes.items())},
            "first_connect_error": min(errs) if errs else None,
            "recent": [list(st.recent) for st in stats]}


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)


def garbage_process(host: str, port: int, kinds: list[str], clients: int, seed: int,
                    duration: float, timeout: float, frames_per_conn: int, max_frames: int,
                    cpus: tuple[int, ...], nice: int, ready: Any, go: Any, stop: Any,
                    q: Any) -> None:
    try:
        if cpus:
            os.sched_setaffinity(0, set(cpus))
        if nice:
            os.nice(nice)
        ready.set()
        if not go.wait(60):
            q.put({"error": "never told to go"})
            return
        q.put(_run_loop(_garbage_main(host, port, kinds, clients, seed, duration, timeout,
                                      frames_per_conn, max_frames, stop)))
    except BaseException as e:  # report, so the parent does not wait forever
        q.put({"error": repr(e)})


# -- probe: each kind once, alone ---------------------------------------------------------------

async def _probe_one(host: str, port: int, kind: str, timeout: float) -> str:
    st = GStats()
    await garbage_conn(host, port, kind, random.Random(1), st, timeout, 2, time.monotonic() + 60)
    if st.connect_errors:
        return "connect failed"
    c = st.outcomes.get(kind, Counter())
    return ", ".join(f"{k}" + (f" x{v}" if v > 1 else "") for k, v in c.items()) or "-"


def probe(srv: ServerProc, kinds: list[str], timeout: float, restart: Callable[[], ServerProc],
          log: Callable[[str], None]) -> tuple[dict[str, Any], ServerProc]:
    """Send each garbage kind once on its own connection; record the answer and whether the
    server still serves afterwards (restarting it when it died)."""
    out: dict[str, Any] = {}
    for kind in kinds:
        answer = _run_loop(_probe_one(srv.host, srv.port, kind, timeout))
        time.sleep(0.05)
        assert srv.proc is not None
        alive = srv.proc.poll() is None and handshake_ok(srv.host, srv.port, timeout=3)
        row: dict[str, Any] = {"answer": answer, "alive": alive}
        if not alive:
            row["exit_code"] = srv.proc.poll()
            row["log_tail"] = srv.tail_log(30)
            log(f"  {srv.kind}: SERVER DIED after probe {kind!r} ({GARBAGE[kind].what}); "
                f"exit code {row['exit_code']}; log tail:\n{srv.tail_log(12)}")
            srv.stop()
            srv = restart()
        out[kind] = row
    return out, srv


# -- the healthy client -----------------------------------------------------------------------

class Healthy:
    """kazoo client doing set/get/create/delete in turn, one call at a time, at a fixed rate."""

    OPS = ("setData", "getData", "create", "delete")

    def __init__(self, srv: ServerProc, call_timeout: float, tag: str) -> None:
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        logging.getLogger("kazoo").setLevel(logging.CRITICAL)
        self.srv = srv
        self.call_timeout = call_timeout
        self.tag = tag
        self.states: list[tuple[float, str]] = []
        self.zk = KazooClient(hosts=srv.address, timeout=10.0,
                              connection_retry=KazooRetry(max_tries=-1, delay=0.05,
                                                          max_delay=0.5))
        self.zk.add_listener(lambda s: self.states.append((time.monotonic(), str(s))))
        self.zk.start(timeout=15)
        self.zk.ensure_path(f"{ROOT}/c")
        if not self.zk.exists(f"{ROOT}/k"):
            self.zk.create(f"{ROOT}/k", b"0" * 16)
        self.n = 0

    def _op(self, i: int) -> None:
        zk, cycle, op = self.zk, i // 4, i % 4
        t = self.call_timeout
        if op == 0:
            zk.set_async(f"{ROOT}/k", f"{cycle:016d}".encode()).get(timeout=t)
        elif op == 1:
            data, _ = zk.get_async(f"{ROOT}/k").get(timeout=t)
            if data != f"{cycle:016d}".encode():
                raise ValueError(f"getData returned {data!r}, expected cycle {cycle}")
        elif op == 2:
            zk.create_async(f"{ROOT}/c/{self.tag}-{cycle}", b"x" * 16).get(timeout=t)
        else:
            zk.delete_async(f"{ROOT}/c/{self.tag}-{cycle}").get(timeout=t)

    def run(self, duration: float, rate: float, measure: bool = True) -> dict[str, Any]:
        """Issue ops on a fixed schedule for `duration` s (or until the server dies)."""
        proc = self.srv.proc
        assert proc is not None
        lat = {op: array("q") for op in self.OPS}
        every = array("q")
        failures: list[str] = []
        nfail = 0
        first_fail: float | None = None
        died = False
        interval = 1.0 / rate
        states0 = len(self.states)
        t0 = time.monotonic()
        end = t0 + duration
        nxt = t0
        last_check = t0
        late_resets = 0
        # Bounded: one op per slot, at most rate x duration slots plus a margin.
        for _ in range(int(rate * duration * 1.1) + 10):
            now = time.monotonic()
            if now >= end:
                break
            if now - last_check > 0.1:
                last_check = now
                if proc.poll() is not None:
                    died = True
                    break
            if nxt > now:
                time.sleep(nxt - now)
            elif now - nxt > 0.1:  # fell behind (slow replies): drop the backlog, no bursts
                nxt = now
                late_resets += 1
            nxt += interval
            i = self.n
            self.n += 1
            c0 = time.perf_counter_ns()
            try:
                self._op(i)
            except Exception as e:  # noqa: BLE001 - any failure of the healthy client counts
                nfail += 1
                if first_fail is None:
                    first_fail = time.monotonic()
                if len(failures) < 5:
                    failures.append(f"{self.OPS[i % 4]}: {type(e).__name__}: {e}"[:200])
                continue
            d = time.perf_counter_ns() - c0
            lat[self.OPS[i % 4]].append(d)
            every.append(d)
        wall = time.monotonic() - t0
        died = died or proc.poll() is not None
        res = percentiles(every) if measure else {}
        res.update({"ops": len(every), "ops_per_s": round(len(every) / wall, 1),
                    "seconds": round(wall, 3), "failures": nfail, "failure_samples": failures,
                    "first_failure": first_fail, "late_resets": late_resets,
                    "state_changes": [s for _, s in self.states[states0:]],
                    "server_died": died})
        if measure:
            res["per_op"] = {op: percentiles(a) for op, a in lat.items()}
        return res

    def stop(self) -> None:
        def _stop() -> None:
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:  # noqa: BLE001 - best effort on a dead server
                pass
        t = threading.Thread(target=_stop, daemon=True)
        t.start()
        t.join(15)


# -- one measurement --------------------------------------------------------------------------

def start_server(kind: str, base: Path, args: argparse.Namespace) -> ServerProc:
    cfg = {"tickTime": str(args.tick_time), "forceSync": args.force_sync}
    work = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=base))
    return ServerProc(kind, work, host=HOSTS[kind], cfg=cfg).start(timeout=60)


def parse_pin(pin: str) -> tuple[set[int], tuple[int, ...]]:
    """'0' -> server on CPU 0, clients unpinned; '0:1' -> clients on CPU 1; '' -> none."""
    if not pin:
        return set(), ()
    srv, _, cli = pin.partition(":")
    return ({int(x) for x in srv.split(",")},
            tuple(int(x) for x in cli.split(",")) if cli else ())


def pin_text(pin: str) -> str:
    srv, cli = parse_pin(pin)
    if not srv:
        return "unpinned (server and clients share all CPUs)"
    return (f"server pinned to CPU {','.join(map(str, sorted(srv)))}; clients "
            + (f"on CPU {','.join(map(str, cli))}" if cli else "unpinned"))


def death_report(srv: ServerProc, h: dict[str, Any], g: dict[str, Any] | None,
                 t_garbage_start: float) -> dict[str, Any]:
    """What the garbage clients sent in the second before the server went away."""
    assert srv.proc is not None
    marks = [t for t in (h.get("first_failure"), (g or {}).get("first_connect_error"))
             if t is not None]
    t_dead = min(marks) if marks else time.monotonic()
    last: Counter[str] = Counter()
    seq: list[str] = []
    for ring in (g or {}).get("recent", []):
        before = [(t, k) for t, k in ring if t <= t_dead]
        for t, k in before:
            if t_dead - t <= 1.0:
                last[k] += 1
        seq += [f"{k}@{1000 * (t - t_dead):+.0f}ms" for t, k in before[-3:]]
    return {"exit_code": srv.proc.poll(),
            "died_after_s": round(t_dead - t_garbage_start, 3),
            "kinds_sent_last_second": dict(last.most_common()),
            "last_frames_per_client": seq, "log_tail": srv.tail_log(30)}


def measure(srv: ServerProc, kinds: list[str], rep: int, args: argparse.Namespace,
            log: Callable[[str], None]) -> dict[str, Any]:
    assert srv.proc is not None
    srv_cpus, cli_cpus = parse_pin(args.pin)
    if srv_cpus:
        pin_threads(srv.proc.pid, srv_cpus)
    if cli_cpus:
        pin_threads(os.getpid(), set(cli_cpus))
    row: dict[str, Any] = {"repeat": rep}
    healthy = Healthy(srv, args.call_timeout, f"r{rep}")
    try:
        healthy.run(args.warmup, args.rate, measure=False)
        c0, t0 = cpu_seconds(srv.proc.pid), time.monotonic()
        row["alone"] = healthy.run(args.duration, args.rate)
        row["alone"]["server_cpu_pct"] = round(
            100 * (cpu_seconds(srv.proc.pid) - c0) / (time.monotonic() - t0), 1)
        if row["alone"]["server_died"]:
            row["survived"] = False
            row["death"] = death_report(srv, row["alone"], None, t0)
            return row
        ctx = mp.get_context("spawn")
        ready, go, stop, q = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Queue()
        ramp = 0.5
        gp = ctx.Process(target=garbage_process, daemon=True, args=(
            srv.host, srv.port, kinds, args.garbage_clients, args.seed + rep,
            args.duration + ramp + 0.5, args.garbage_timeout, args.frames_per_conn,
            args.max_frames, cli_cpus, args.garbage_nice, ready, go, stop, q))
        gp.start()
        g: dict[str, Any] | None = None
        try:
            if not ready.wait(60):
                raise RuntimeError("garbage process did not start")
            if srv_cpus:
                pin_threads(srv.proc.pid, srv_cpus)
            tg = time.monotonic()
            go.set()
            time.sleep(ramp)
            c0, t0 = cpu_seconds(srv.proc.pid), time.monotonic()
            row["with"] = healthy.run(args.duration, args.rate)
            c1 = cpu_seconds(srv.proc.pid) if srv.proc.poll() is None else c0
            row["with"]["server_cpu_pct"] = round(100 * (c1 - c0) / (time.monotonic() - t0), 1)
            stop.set()
            try:
                g = q.get(timeout=args.garbage_timeout * 3 + 15)
            except Exception:  # noqa: BLE001 - queue.Empty: the child hung; reported below
                g = {"error": "garbage process returned nothing"}
        finally:
            stop.set()
            gp.join(10)
            if gp.is_alive():
                gp.terminate()  # our own child, by its handle
                gp.join(5)
        row["garbage"] = g
        if g and "error" in g:
            log(f"  garbage process error: {g['error']}")
        row["survived"] = srv.proc.poll() is None and row["with"]["failures"] == 0 \
            and not row["with"]["server_died"]
        row["process_alive"] = srv.proc.poll() is None
        if not row["process_alive"]:
            row["death"] = death_report(srv, row["with"], g, tg)
        for ph in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
            row[f"ratio_{ph}"] = round(_ratio(row["with"][ph], row["alone"][ph]), 3)
    finally:
        healthy.stop()
    return row


# -- report -----------------------------------------------------------------------------------

PCT = ("p50_ms", "p99_ms", "p999_ms", "max_ms")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats of one server (repeats where a phase is missing are skipped)."""
    m: dict[str, Any] = {"repeats": len(runs)}
    # Latency medians over the repeats the server survived (a dead one's phase is cut short);
    # deaths and failures are counted over all of them.
    ok = [r for r in runs if "death" not in r] or runs
    for ph in ("alone", "with"):
        rows = [r[ph] for r in ok if ph in r]
        m[ph] = {k: _med([x[k] for x in rows]) for k in (*PCT, "ops", "ops_per_s",
                                                          "server_cpu_pct")}
        m[ph]["failures"] = sum(r[ph]["failures"] for r in runs if ph in r)
    for k in PCT:
        m[f"ratio_{k}"] = _med([r[f"ratio_{k}"] for r in ok if f"ratio_{k}" in r])
    gs = [r["garbage"] for r in runs if r.get("garbage") and "error" not in r["garbage"]]
    m["garbage_frames"] = _med([g["frames"] for g in gs])
    m["garbage_frames_per_s"] = _med([g["frames"] / g["seconds"] for g in gs if g["seconds"]])
    m["garbage_connections"] = _med([g["connections"] for g in gs])
    m["garbage_closed_by_server"] = _med([g["closed_by_server"] for g in gs])
    m["garbage_connect_errors"] = _med([g["connect_errors"] for g in gs])
    m["survived"] = sum(1 for r in runs if r.get("survived"))
    m["deaths"] = sum(1 for r in runs if "death" in r)
    return m


def report(servers: list[str], runs: dict[str, list[dict[str, Any]]],
           probes: dict[str, dict[str, Any]], args: argparse.Namespace,
           ) -> tuple[str, dict[str, Any]]:
    med = {k: summarize(runs[k]) for k in servers if runs.get(k)}
    servers = [k for k in servers if k in med]
    lines = [f"### Healthy client alone vs with a garbage neighbour (medians of {args.repeats}, "
             f"latency over the repeats the server survived; "
             f"{args.duration:g} s per phase after {args.warmup:g} s warm-up; {args.rate:g} "
             f"ops/s offered, sequential setData/getData/create/delete via kazoo; "
             f"{args.garbage_clients} garbage client(s), nice {args.garbage_nice}; "
             f"{pin_text(args.pin)})", "",
             "| server | phase | ops | p50 ms | p99 ms | p999 ms | max ms | failures "
             "| server CPU% |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for k in servers:
        m = med[k]
        for ph, name in (("alone", "alone"), ("with", "with garbage")):
            x = m[ph]
            lines.append(f"| {k} | {name} | {_f(x['ops'], '.0f')} | {_f(x['p50_ms'])} | "
                         f"{_f(x['p99_ms'])} | {_f(x['p999_ms'])} | {_f(x['max_ms'])} | "
                         f"{x['failures']} | {_f(x['server_cpu_pct'], '.0f')} |")
        lines.append(f"| {k} | **with/alone** | | {_f(m['ratio_p50_ms'])} | "
                     f"{_f(m['ratio_p99_ms'])} | {_f(m['ratio_p999_ms'])} | "
                     f"{_f(m['ratio_max_ms'])} | | |")
    lines += ["", "| server | garbage frames | frames/s | connections opened | closed by server "
              "| connect errors | survived (alive, healthy client never failed) |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for k in servers:
        m = med[k]
        lines.append(f"| {k} | {_f(m['garbage_frames'], '.0f')} | "
                     f"{_f(m['garbage_frames_per_s'], '.0f')} | "
                     f"{_f(m['garbage_connections'], '.0f')} | "
                     f"{_f(m['garbage_closed_by_server'], '.0f')} | "
                     f"{_f(m['garbage_connect_errors'], '.0f')} | "
                     f"{m['survived']}/{m['repeats']}"
                     + (f", **server died {m['deaths']}x**" if m["deaths"] else "") + " |")
    if "pyzk" in med and "java" in med:
        p, j = med["pyzk"], med["java"]
        lines += ["", "| pyzk/java | p50 | p99 | p999 | max |", "|---|---:|---:|---:|---:|"]
        for ph, name in (("alone", "alone"), ("with", "with garbage")):
            lines.append(f"| {name} | " + " | ".join(
                _f(_ratio(p[ph][x], j[ph][x])) for x in PCT) + " |")
        lines.append("| with/alone ratio | " + " | ".join(
            _f(_ratio(p[f"ratio_{x}"], j[f"ratio_{x}"])) for x in PCT) + " |")
        lines.append("| garbage frames/s | " + _f(_ratio(p["garbage_frames_per_s"],
                                                        j["garbage_frames_per_s"]))
                     + " | | | |")
    deaths = [(k, r) for k in servers for r in runs[k] if "death" in r]
    if deaths:
        lines += ["", "**Server deaths:**", ""]
        for k, r in deaths:
            d = r["death"]
            lines.append(f"* {k} repeat {r['repeat']}: exit code {d['exit_code']} "
                         f"{d['died_after_s']} s into the garbage; kinds sent in the last "
                         f"second: {d['kinds_sent_last_second'] or '-'}")
    if probes:
        pk = [k for k in servers if k in probes] or list(probes)
        lines += ["", "### How each server answers each garbage kind (one connection each, "
                  "before the repeats)", "",
                  "| kind | what | " + " | ".join(pk) + " |",
                  "|---|---|" + "---|" * len(pk)]
        for kind in probes[pk[0]]:
            cells = []
            for k in pk:
                row = probes[k].get(kind)
                if row is None:
                    cells.append("-")
                else:
                    cells.append(row["answer"] + ("" if row["alive"] else " **SERVER DIED**"))
            lines.append(f"| {kind} | {GARBAGE[kind].what} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines), med


# -- main -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", default="pyzk,java", help="comma list of pyzk,java")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="unmeasured healthy-only seconds before the alone phase")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rate", type=float, default=200.0,
                    help="healthy client's offered ops/s (sequential calls)")
    ap.add_argument("--garbage-clients", type=int, default=2)
    ap.add_argument("--frames-per-conn", type=int, default=8,
                    help="garbage frames per post-handshake connection if the server keeps it")
    ap.add_argument("--garbage-timeout", type=float, default=0.25,
                    help="seconds a garbage client waits for an answer or a close (the probe "
                         "waits at least 2 s)")
    ap.add_argument("--garbage-nice", type=int, default=10,
                    help="nice increment of the garbage process (0: none)")
    ap.add_argument("--max-frames", type=int, default=5_000_000,
                    help="cap on garbage frames per client per phase")
    ap.add_argument("--kinds", default="all", help="comma list of garbage kinds, or all")
    ap.add_argument("--exclude", default="", help="garbage kinds to leave out")
    ap.add_argument("--no-probe", action="store_true",
                    help="skip sending each garbage kind once before the repeats")
    ap.add_argument("--call-timeout", type=float, default=5.0,
                    help="bound on one healthy call (a timeout counts as a failure)")
    ap.add_argument("--pin", default="", metavar="SRV[:CLIENTS]",
                    help="CPU pinning: e.g. 0 (server threads on CPU 0) or 0:1 (clients on "
                         "CPU 1 too); default: unpinned")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tick-time", type=int, default=2000)
    ap.add_argument("--force-sync", default="yes")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    for s in args.servers:
        if s not in HOSTS:
            ap.error(f"unknown server {s}")
    kinds = list(GARBAGE) if args.kinds == "all" else [k for k in args.kinds.split(",") if k]
    excl = {k for k in args.exclude.split(",") if k}
    for k in (*kinds, *excl):
        if k not in GARBAGE:
            ap.error(f"unknown garbage kind {k} (known: {', '.join(GARBAGE)})")
    args.kinds = [k for k in kinds if k not in excl]
    if not args.kinds:
        ap.error("no garbage kinds left")
    if args.rate <= 0 or args.duration <= 0 or args.repeats < 1 or args.garbage_clients < 1:
        ap.error("--rate, --duration, --repeats and --garbage-clients must be positive")
    try:
        parse_pin(args.pin)
    except ValueError:
        ap.error("--pin takes SRV or SRV:CLIENTS, e.g. 0 or 0:1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    log(f"garbage neighbour: {', '.join(args.servers)}; {pin_text(args.pin)}")
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in args.servers}
    probes: dict[str, dict[str, Any]] = {}
    start_errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="pyzk-garbage-") as tmp:
        base = Path(tmp)
        procs: dict[str, ServerProc] = {}
        try:
            for k in args.servers:
                try:
                    procs[k] = start_server(k, base, args)
                except (RuntimeError, TimeoutError, OSError) as e:
                    start_errors[k] = _reason(e)
                    log(f"  {k}: failed to start, left out: {_reason(e)}")
            servers = [k for k in args.servers if k in procs]
            if not args.no_probe:
                log("probe (each garbage kind once):")
                for k in servers:
                    probes[k], procs[k] = probe(procs[k], args.kinds,
                                                max(2.0, args.garbage_timeout),
                                                lambda k=k: start_server(k, base, args), log)
                    died = [kd for kd, row in probes[k].items() if not row["alive"]]
                    log(f"  {k}: {len(probes[k])} kinds"
                        + (f"; SERVER DIED on {', '.join(died)}" if died else ", survived all"))
            log("repeats:")
            for rep in range(args.repeats):
                order = servers if rep % 2 == 0 else list(reversed(servers))
                for k in order:
                    srv = procs[k]
                    assert srv.proc is not None
                    if srv.proc.poll() is not None:
                        log(f"  {k}: restarting (died earlier)")
                        srv.stop()
                        srv = procs[k] = start_server(k, base, args)
                    try:
                        row = measure(srv, args.kinds, rep, args, log)
                    except Exception as e:  # noqa: BLE001 - one bad run must not end the bench
                        row = {"repeat": rep, "error": _reason(e), "survived": False}
                        assert srv.proc is not None
                        if srv.proc.poll() is not None:
                            row["death"] = {"exit_code": srv.proc.poll(), "died_after_s": None,
                                            "kinds_sent_last_second": {},
                                            "log_tail": srv.tail_log(30)}
                    runs[k].append(row)
                    a, w, g = row.get("alone", {}), row.get("with", {}), row.get("garbage") or {}
                    log(f"  {k:4} rep {rep}: alone p50 {a.get('p50_ms')} p99 {a.get('p99_ms')} "
                        f"max {a.get('max_ms')} ms | with p50 {w.get('p50_ms')} "
                        f"p99 {w.get('p99_ms')} max {w.get('max_ms')} ms, failures "
                        f"{w.get('failures')} | garbage {g.get('frames')} frames "
                        f"{g.get('connections')} conns | survived {row.get('survived')}"
                        + (f" | ERROR {row['error']}" if "error" in row else ""))
                    if "death" in row:
                        d = row["death"]
                        log(f"  {k}: SERVER DIED (exit {d['exit_code']}); kinds sent in the "
                            f"last second: {d['kinds_sent_last_second']}; log tail:\n"
                            + "\n".join(d["log_tail"].splitlines()[-12:]))
        finally:
            for srv in procs.values():
                srv.stop()
    table, med = report(args.servers, runs, probes, args)
    print(table)
    doc = {
        "timestamp": stamp,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "pinning": pin_text(args.pin),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "java": java_version(),
                    "loadavg_end": os.getloadavg()},
        "start_errors": start_errors, "probes": probes, "runs": runs, "medians": med,
        "markdown": table,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"garbage-neighbor-{stamp}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
