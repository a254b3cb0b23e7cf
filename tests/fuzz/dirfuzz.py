"""Differential fuzzer for damaged data directories: pyzk vs Java ZooKeeper 3.8.0 (standalone).

A real server of each kind (pyzk, Java) runs a short mixed workload with a small snapCount and
stops, leaving a base data dir with several snapshots and logs. Each case copies one base twice,
applies the same seeded damage to both copies (torn tails, flipped bytes in a header, a CRC, a
length or a body, zeroed ranges, appended garbage, deleted, duplicated or renamed files, empty
files, garbage epoch files), then starts pyzk and Java on their own copy at once and waits,
bounded, for each to start, exit or hang. When both start, the whole tree (paths, data, every
Stat field) and the `srvr` zxid are compared.

pyzk must never print a traceback or hang. Where Java starts pyzk must start with the same tree;
where Java refuses pyzk must refuse. Accepted differences are listed, with their reason, in
tests/fuzz/dirfuzz_known_differences.py.

    python -m tests.fuzz.dirfuzz --seed S --cases N [--case K] [--keep DIR] [--bases pyzk,java]
"""

from __future__ import annotations

import argparse
import fnmatch
import logging
import random
import re
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from pyzk.storage import txnlog
from tests.servers import ServerProc, java_available

PYZK_HOST = "127.0.69.1"
JAVA_HOST = "127.0.69.2"
BASE_HOSTS = {"pyzk": "127.0.69.3", "java": "127.0.69.4"}
START_WAIT = 25.0  # a server that neither answers nor exits within this is "hung"
SESSION_TIMEOUT_S = 40.0  # the workload's sessions: longer than any case, so none expires
CASE_CFG = {"tickTime": "2000", "preAllocSize": "64", "snapCount": "1000000"}
BASE_CFG = {"tickTime": "2000", "preAllocSize": "64", "snapCount": "12"}


# -- the base data dirs -------------------------------------------------------------------------

def _raw_session(host: str, port: int, timeout_ms: int) -> socket.socket:
    """A session whose socket is simply left open: closing it would close the session."""
    req = struct.pack(">iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(struct.pack(">i", len(req)) + req)
    s.recv(64)
    return s


def workload(host: str, port: int, rng: random.Random) -> list[KazooClient]:
    """Creates (persistent, ephemeral, sequential, with an ACL), setData, deletes,
    multis, sessions opened and closed; about 90 txns. Two sessions stay open (their
    ephemerals are in the base) because the server is stopped under them."""
    from kazoo.security import make_digest_acl

    keep = KazooClient(hosts=f"{host}:{port}", timeout=SESSION_TIMEOUT_S)
    keep.start(timeout=15)
    keep.ensure_path("/app/cfg")
    for i in range(6):
        keep.create(f"/app/n{i}", bytes([i]) * rng.randrange(0, 40))
    keep.create("/app/eph", b"e", ephemeral=True)
    keep.create("/app/seq-", b"s", sequence=True)
    keep.create("/app/eseq-", b"es", ephemeral=True, sequence=True)
    keep.create("/app/acl", b"a", acl=[make_digest_acl("u", "p", all=True)])
    for i in range(20):
        keep.set(f"/app/n{rng.randrange(6)}", rng.randbytes(rng.randrange(0, 30)))
        if i % 4 == 0:
            t = keep.transaction()
            t.create(f"/app/m{i}", b"m")
            t.set_data("/app/cfg", str(i).encode())
            t.check("/app/cfg", -1)
            t.commit()
    for i in range(4):
        other = KazooClient(hosts=f"{host}:{port}", timeout=10)
        other.start(timeout=15)
        other.create(f"/app/tmp{i}", b"t", ephemeral=True)
        other.create("/app/oseq-", b"o", sequence=True)
        other.stop()
        other.close()
        keep.delete(f"/app/n{i}")
        keep.create(f"/app/n{i}", b"again")
    keep.create("/app/c", b"")
    keep.create("/app/c/x", b"")
    keep.delete("/app/c/x")
    other = KazooClient(hosts=f"{host}:{port}", timeout=SESSION_TIMEOUT_S)
    other.start(timeout=15)
    other.create("/app/oeph", b"o", ephemeral=True)
    for i in range(10):
        keep.set("/app/cfg", f"last{i}".encode())
    raw = _raw_session(host, port, int(SESSION_TIMEOUT_S * 1000))
    raw.close()  # a session that was created and is never closed (no ephemerals)
    keep.create("/app/last", b"end")
    # The caller stops the server before these clients: their sessions stay in the base.
    return [keep, other]


def build_base(kind: str, work: Path) -> Path:
    """Run a server of `kind` with the workload; returns its stopped data dir (one already
    built in `work` is reused, so a kept work dir replays its cases exactly)."""
    done = work / f"base-{kind}" / "base-done"
    if done.exists():
        return work / f"base-{kind}" / "data"
    rng = random.Random(f"base:{kind}")
    server, _, compression = kind.partition("-")  # "pyzk-gz": gzip snapshots
    srv = ServerProc(server, work / f"base-{kind}", host=BASE_HOSTS[server], cfg=dict(BASE_CFG))
    if compression:
        srv.jvm_flags.append(f"-Dzookeeper.snapshot.compression.method={compression}")
    srv.start(timeout=60)
    clients: list[KazooClient] = []
    try:
        clients = workload(srv.host, srv.port, rng)
    finally:
        srv.stop()
        for c in clients:
            threading.Thread(target=c.stop, daemon=True).start()  # nothing left to close
    v2 = srv.datadir / "version-2"
    snaps = [p for p in v2.iterdir() if p.name.startswith("snapshot.")]
    logs = [p for p in v2.iterdir() if p.name.startswith("log.")]
    if len(snaps) < 2 or len(logs) < 2:
        raise RuntimeError(f"{kind} base has {len(snaps)} snapshots, {len(logs)} logs")
    (srv.datadir / "pyzk.lock").unlink(missing_ok=True)
    done.write_text("")
    return srv.datadir


# -- damage ---------------------------------------------------------------------------------------

@dataclass
class Target:
    """One file of a base's version-2 and what the fuzzer knows of its layout."""

    path: Path
    kind: str  # "log" or "snap"
    role: str  # "log.first", "log.mid", "log.last", "snap.0", "snap.mid", "snap.newest"
    zxid: int
    data_end: int  # end of the last entry (logs) or the file size (snapshots)
    entries: list[tuple[int, int]] = field(default_factory=list)  # (offset, payload length)


def _zxid(name: str) -> int:
    return int(name.split(".")[1], 16)


def targets(v2: Path) -> list[Target]:
    out: list[Target] = []
    logs = sorted((p for p in v2.iterdir() if p.name.startswith("log.")), key=lambda p: _zxid(p.name))
    snaps = sorted((p for p in v2.iterdir() if p.name.startswith("snapshot.")),
                   key=lambda p: _zxid(p.name))
    for i, p in enumerate(logs):
        scan = txnlog.scan_log(p.read_bytes(), p.name)
        role = "log.first" if i == 0 else "log.last" if i == len(logs) - 1 else "log.mid"
        out.append(Target(p, "log", role, _zxid(p.name), scan.end,
                          [(off, len(pl)) for off, pl in scan.entries]))
    for i, p in enumerate(snaps):
        role = "snap.0" if i == 0 else "snap.newest" if i == len(snaps) - 1 else "snap.mid"
        out.append(Target(p, "snap", role, _zxid(p.name), p.stat().st_size))
    return out


def pick(ts: list[Target], rng: random.Random) -> Target:
    """A file to damage: a role first (so the newest snapshot and the last log, which recovery
    reads, are as likely as the many older files), then a file of that role."""
    role = rng.choice(sorted({t.role for t in ts}))
    return rng.choice([t for t in ts if t.role == role])


def _write_at(path: Path, off: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def _flip(path: Path, off: int, rng: random.Random) -> None:
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        if not b:
            return
        f.seek(off)
        f.write(bytes([b[0] ^ rng.randrange(1, 256)]))


def _entry_region(t: Target, rng: random.Random, region: str) -> int:
    """A byte offset in `region` of a random entry of log `t`."""
    off, n = rng.choice(t.entries)
    if region == "crc":
        return off + rng.randrange(8)
    if region == "len":
        return off + 8 + rng.randrange(4)
    if region == "eor":
        return off + 12 + n
    if region == "hdr":  # TxnHeader: clientId, cxid, zxid, time, type (28 bytes)
        return off + 12 + rng.randrange(min(28, n))
    return off + 12 + rng.randrange(n)


def _name(t: Target, zxid: int) -> str:
    """The file name `t` would have at `zxid` (a snapshot keeps its stream's extension)."""
    ext = "".join(f".{x}" for x in t.path.name.split(".")[2:])
    return f"{'log' if t.kind == 'log' else 'snapshot'}.{zxid:x}{ext}"


Mutator = Callable[[Path, list[Target], random.Random], str]


def m_trunc(v2: Path, ts: list[Target], rng: random.Random) -> str:
    t = pick(ts, rng)
    where = rng.choice(["header", "tail", "anywhere", "entry-boundary"])
    if where == "header":
        size = rng.randrange(0, 16 if t.kind == "log" else 40)
    elif where == "tail":
        if t.kind == "log" and t.entries:
            off, n = t.entries[-1]
            size = off + 1 + rng.randrange(12 + n)
        else:
            size = max(0, t.data_end - 1 - rng.randrange(min(40, t.data_end)))
    elif where == "entry-boundary" and t.kind == "log" and t.entries:
        size = rng.choice(t.entries)[0]
    else:
        size = rng.randrange(0, t.data_end + 1)
    _truncate(t.path, size)
    return f"trunc-{where} {t.role}"


def m_flip(v2: Path, ts: list[Target], rng: random.Random) -> str:
    t = pick(ts, rng)
    if t.kind == "log" and t.entries:
        region = rng.choice(["filehdr", "crc", "len", "hdr", "body", "eor"])
        off = rng.randrange(16) if region == "filehdr" else _entry_region(t, rng, region)
    else:
        region = rng.choice(["head", "tail", "body"])
        if region == "head":
            off = rng.randrange(min(40, t.data_end))
        elif region == "tail":  # the digest and the seal
            off = t.data_end - 1 - rng.randrange(min(40, t.data_end))
        else:
            off = rng.randrange(t.data_end)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        _flip(t.path, off, rng)
        off = min(off + rng.randrange(0, 3), max(0, t.data_end - 1))
    return f"flip-{region} {t.role}"


def m_zero(v2: Path, ts: list[Target], rng: random.Random) -> str:
    t = pick(ts, rng)
    off = rng.randrange(max(1, t.data_end))
    n = rng.choice([1, 4, 8, 16, 64, 512])
    _write_at(t.path, off, bytes(min(n, max(1, t.data_end - off))))
    return f"zero {t.role}"


def m_append(v2: Path, ts: list[Target], rng: random.Random) -> str:
    t = pick(ts, rng)
    what = rng.choice(["garbage", "zeros", "garbage-after-data"])
    data = (bytes(rng.randrange(1, 300)) if what == "zeros"
            else rng.randbytes(rng.randrange(1, 300)))
    if what == "garbage-after-data":
        _write_at(t.path, t.data_end, data)
    else:
        with open(t.path, "ab") as f:
            f.write(data)
    return f"append-{what} {t.role}"


def m_files(v2: Path, ts: list[Target], rng: random.Random) -> str:
    t = pick(ts, rng)
    what = rng.choice(["delete", "duplicate", "rename", "empty", "new-empty"])
    same = sorted(x.zxid for x in ts if x.kind == t.kind)
    other = rng.choice([t.zxid + rng.randrange(1, 6), max(0, t.zxid - rng.randrange(1, 6)),
                        rng.choice(same) + 1, max(same) + rng.randrange(1, 40)])
    dest = v2 / _name(t, other)
    if what == "delete":
        t.path.unlink()
    elif what == "duplicate":
        if dest != t.path:
            shutil.copyfile(t.path, dest)
    elif what == "rename":
        if dest != t.path:
            t.path.rename(dest)
    elif what == "empty":
        _truncate(t.path, 0)
    else:
        dest = v2 / _name(t, max(same) + rng.randrange(1, 40))
        dest.write_bytes(b"")
    return f"file-{what} {t.role}"


def m_epoch(v2: Path, ts: list[Target], rng: random.Random) -> str:
    name = rng.choice(["acceptedEpoch", "currentEpoch", "updatingEpoch"])
    content = rng.choice([b"", b"garbage", b"-1", b"99999999999999999999", b"1\n2",
                          rng.randbytes(8), b"0", b"3"])
    (v2 / name).write_bytes(content)
    return f"epoch-{name}"


MUTATORS: list[tuple[Mutator, int]] = [(m_trunc, 4), (m_flip, 5), (m_zero, 2), (m_append, 2),
                                       (m_files, 3), (m_epoch, 1)]


def mutate(v2: Path, rng: random.Random) -> list[str]:
    """1-2 damages, chosen by rng, to the files of version-2 `v2` (a pristine base copy)."""
    done = []
    for _ in range(rng.choice([1, 1, 1, 2])):
        ts = [t for t in layout(v2) if t.path.exists() and t.data_end > 0]
        if not ts:
            break
        fn = rng.choices([m for m, _ in MUTATORS], [w for _, w in MUTATORS])[0]
        done.append(fn(v2, ts, rng))
    return done


def layout(v2: Path) -> list[Target]:
    """targets() of a copy: the first damage sees the pristine layout; a later damage sees the
    layout the damaged files still show (files it cannot parse get the role "damaged")."""
    try:
        return targets(v2)
    except (ValueError, OSError):
        return [Target(p, "log" if p.name.startswith("log.") else "snap", "damaged",
                       _zxid(p.name), p.stat().st_size)
                for p in v2.iterdir()
                if p.name.startswith(("log.", "snapshot.")) and p.stat().st_size]


# -- running a case -------------------------------------------------------------------------------

def four_letter(host: str, port: int, cmd: bytes, timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(cmd)
            out = b""
            while len(out) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
            return out.decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Side:
    kind: str
    outcome: str = "hung"  # "started", "refused", "hung"
    zxid: int | None = None
    tree: dict[str, tuple[bytes, tuple[int, ...]]] | None = None
    log_tail: str = ""
    log_text: str = ""
    reason: str = ""
    traceback: bool = False
    walk_error: str = ""


_PATHS = re.compile(r"/\S*/(?=[\w.]+)")
_NAMES = re.compile(r"\b(log|snapshot)\.[0-9a-f]+\b")
_NUMS = re.compile(r"\b(0x[0-9a-f]+|\d+)\b")


def refusal_reason(kind: str, text: str) -> str:
    """Why a server refused, in a form that names no path, offset or zxid: pyzk's "startup
    failed" error, Java's exception after "exiting abnormally"."""
    reason = ""
    if kind == "pyzk":
        for line in text.splitlines():
            if '"startup failed"' in line:
                m = re.search(r'"error": "((?:[^"\\]|\\.)*)"', line)
                reason = m.group(1) if m else line
                break
    else:
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "exiting abnormally" in line and i + 1 < len(lines):
                reason = lines[i + 1]
                break
    reason = _NAMES.sub(r"\1.Z", _PATHS.sub("", reason))
    return _NUMS.sub("N", reason)[:200]


def _srvr_zxid(text: str) -> int | None:
    for line in text.splitlines():
        if line.startswith("Zxid:"):
            return int(line.split(":", 1)[1].strip(), 16)
    return None


def walk(host: str, port: int) -> dict[str, tuple[bytes, tuple[int, ...]]]:
    """Every znode: path -> (data, Stat as a tuple), through one kazoo session."""
    kz = KazooClient(hosts=f"{host}:{port}", timeout=10, connection_retry={"max_tries": 3},
                     auth_data=[("digest", "u:p")])
    kz.start(timeout=10)
    out: dict[str, tuple[bytes, tuple[int, ...]]] = {}
    try:
        todo = ["/"]
        while todo and len(out) < 100000:
            p = todo.pop()
            try:
                data, st = kz.get(p)
                kids = kz.get_children(p)
            except NoNodeError:
                continue
            out[p] = (data, tuple(st))
            todo.extend((p.rstrip("/") + "/" + k) for k in kids)
    finally:
        kz.stop()
        kz.close()
    return out


def wait_outcome(srv: ServerProc, side: Side, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert srv.proc is not None
        if srv.proc.poll() is not None:
            side.outcome = "refused"
            return
        z = _srvr_zxid(four_letter(srv.host, srv.port, b"srvr", timeout=1.0))
        if z is not None:
            side.outcome, side.zxid = "started", z
            return
        time.sleep(0.1)
    side.outcome = "hung"


def run_side(srv: ServerProc, side: Side) -> None:
    try:
        srv.write_cfg()
        srv.start(timeout=0.0)
    except (TimeoutError, RuntimeError):
        pass  # start() waits for a handshake; wait_outcome judges instead
    wait_outcome(srv, side, time.monotonic() + START_WAIT)
    if side.outcome == "started":
        try:
            side.tree = walk(srv.host, srv.port)
        except Exception as e:  # noqa: BLE001 - any failure is a finding, not a crash
            side.walk_error = f"{type(e).__name__}: {e}"


@dataclass
class CaseResult:
    case: int
    base: str
    damage: list[str]
    pyzk: Side
    java: Side | None
    classes: list[str]
    details: list[str] = field(default_factory=list)


def compare_trees(a: dict[str, tuple[bytes, tuple[int, ...]]],
                  b: dict[str, tuple[bytes, tuple[int, ...]]]) -> list[str]:
    names = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
             "ephemeralOwner", "dataLength", "numChildren", "pzxid")
    out = []
    for p in sorted(set(a) | set(b)):
        if p not in a:
            out.append(f"only java has {p}")
        elif p not in b:
            out.append(f"only pyzk has {p}")
        elif a[p][0] != b[p][0]:
            out.append(f"data of {p}")
        else:
            for n, x, y in zip(names, a[p][1], b[p][1], strict=True):
                if x != y:
                    out.append(f"{n} of {p}: pyzk {x:#x} java {y:#x}")
    return out


def _hx(z: int | None) -> str:
    return "none" if z is None else f"{z:#x}"


def damaged_files(base: Path, copy: Path) -> set[str]:
    """Names of files a damage changed, added or removed."""
    names = {p.name for p in base.iterdir()} | {p.name for p in copy.iterdir()}
    out = set()
    for n in names:
        a, b = base / n, copy / n
        if not (a.exists() and b.exists()) or a.read_bytes() != b.read_bytes():
            out.add(n)
    return out


def unread_by_pyzk(changed: set[str], pyzk_log: str, data: Path) -> bool:
    """Whether every damaged file is one recovery need not read: a log that ends before the
    snapshot pyzk started from (a later log starts at or before that snapshot's zxid + 1, so
    none of its txns is replayed) or a snapshot older than that one."""
    m = re.search(r'"snapshot": "\S*/snapshot\.([0-9a-f]+)[^"]*"', pyzk_log)
    if not m or not changed:
        return False
    snap = int(m.group(1), 16)
    names = [_zxid(p.name) for p in (data / "version-2").iterdir()
             if p.name.startswith("log.")]
    window = max((z for z in names if z <= snap + 1), default=-1)
    return all(_zxid(n) < window if n.startswith("log.")
               else n.startswith("snapshot.") and _zxid(n) < snap for n in changed)


def java_leaked_failed_snapshot(j: Side, p: Side, wd: Path,
                                prepare: Callable[[Path], list[str]]) -> bool:
    """Whether Java's tree differs only because FileSnap.deserialize reads each fallback
    snapshot into the DataTree and sessions map a newer, failed snapshot partly filled: Java
    started again on the same damaged dir minus the snapshots it failed on gives pyzk's tree."""
    failed = re.findall(r"problem reading snap file \S*/(snapshot\.[\w.]+)", j.log_text)
    if not failed:
        return False
    shutil.rmtree(wd, ignore_errors=True)
    prepare(wd / "data")
    for name in failed:
        (wd / "data" / "version-2" / name).unlink(missing_ok=True)
    srv = ServerProc("java", wd, host=JAVA_HOST, cfg=dict(CASE_CFG))
    again = Side("java")
    try:
        run_side(srv, again)
    finally:
        srv.stop(signal.SIGKILL)
    shutil.rmtree(wd, ignore_errors=True)
    return (again.outcome == "started" and again.tree is not None and p.tree is not None
            and not compare_trees(p.tree, again.tree) and again.zxid == p.zxid)


def run_case(seed: int, case: int, bases: dict[str, Path], work: Path,
             java: bool = True) -> CaseResult:
    rng = random.Random(f"{seed}:{case}")
    base_kind = rng.choice(sorted(bases))
    damage: list[str] = []
    sides: dict[str, ServerProc] = {}

    changed: set[str] = set()

    def prepare(data: Path) -> list[str]:
        shutil.copytree(bases[base_kind], data)
        done = mutate(data / "version-2", random.Random(f"{seed}:{case}:damage"))
        changed.update(damaged_files(bases[base_kind] / "version-2", data / "version-2"))
        return done

    for kind, host in (("pyzk", PYZK_HOST), ("java", JAVA_HOST)):
        if kind == "java" and not java:
            continue
        wd = work / f"case{case}-{kind}"
        shutil.rmtree(wd, ignore_errors=True)
        damage = prepare(wd / "data")
        sides[kind] = ServerProc(kind, wd, host=host, cfg=dict(CASE_CFG))
    results = {k: Side(k) for k in sides}
    threads = [threading.Thread(target=run_side, args=(sides[k], results[k])) for k in sides]
    for t in threads:
        t.start()
    for t in threads:
        t.join(START_WAIT + 60)
    for srv in sides.values():
        srv.stop(signal.SIGKILL if srv.kind == "java" else signal.SIGTERM)
    for k, srv in sides.items():
        results[k].log_tail = srv.tail_log(30)
        text = srv.log_path.read_text(errors="replace") if srv.log_path.exists() else ""
        results[k].traceback = "Traceback (most recent call last)" in text
        results[k].log_text = text
        if results[k].outcome == "refused":
            results[k].reason = refusal_reason(k, text)
    p = results["pyzk"]
    j = results.get("java")
    classes: list[str] = []
    details: list[str] = []
    what = f"base={base_kind} {' + '.join(damage)}"
    if p.traceback:
        classes.append(f"{what}: pyzk TRACEBACK")
    if p.outcome == "hung":
        classes.append(f"{what}: pyzk HUNG")
    if j is not None:
        if p.outcome != j.outcome:
            if p.outcome == "started" and unread_by_pyzk(changed, p.log_text,
                                                         sides["pyzk"].datadir):
                what += " [damage only in files pyzk need not read]"
            pr = f" ({p.reason})" if p.reason else ""
            jr = f" ({j.reason})" if j.reason else ""
            classes.append(f"{what}: pyzk {p.outcome}{pr} vs java {j.outcome}{jr}")
        elif p.outcome == "started":
            if p.walk_error or j.walk_error:
                classes.append(f"{what}: walk pyzk {p.walk_error!r} java {j.walk_error!r}")
            elif p.tree is not None and j.tree is not None:
                diffs = compare_trees(p.tree, j.tree)
                details.extend(diffs[:20])
                if p.zxid != j.zxid:
                    details.append(f"zxid pyzk {_hx(p.zxid)} java {_hx(j.zxid)}")
                if (diffs or p.zxid != j.zxid) and java_leaked_failed_snapshot(
                        j, p, work / f"case{case}-java2", prepare):
                    classes.append(f"{what}: tree: java kept state of a snapshot it failed "
                                   "to read")
                elif diffs:
                    classes.append(f"{what}: tree {diffs[0]} ({len(diffs)} differences)")
                elif p.zxid != j.zxid:
                    classes.append(f"{what}: zxid pyzk {_hx(p.zxid)} vs java {_hx(j.zxid)}")
    return CaseResult(case, base_kind, damage, p, j, classes, details)


# -- known differences and the driver -------------------------------------------------------------

def known(cls: str) -> str | None:
    from .dirfuzz_known_differences import KNOWN_DIFFERENCES
    for k in KNOWN_DIFFERENCES:
        if fnmatch.fnmatchcase(cls, k.pattern):
            return k.reason
    return None


def build_bases(work: Path, kinds: list[str]) -> dict[str, Path]:
    out = {}
    for kind in kinds:
        if kind.startswith("java") and not java_available():
            continue
        out[kind] = build_base(kind, work)
    return out


OUTCOMES: Counter[tuple[str, str]] = Counter()  # (pyzk, java) outcome -> cases, this process


def run(seed: int, cases: list[int], work: Path, kinds: list[str], seconds: float | None = None,
        verbose: bool = True) -> tuple[int, list[CaseResult]]:
    """Run the cases (stopping after `seconds`); returns (cases run, results with classes)."""
    bases = build_bases(work, kinds)
    java = java_available()
    t0 = time.monotonic()
    found: list[CaseResult] = []
    n = 0
    for case in cases:
        if seconds is not None and time.monotonic() - t0 > seconds:
            break
        res = run_case(seed, case, bases, work, java)
        n += 1
        OUTCOMES[(res.pyzk.outcome, res.java.outcome if res.java else "-")] += 1
        outcome = f"pyzk {res.pyzk.outcome}" + (f" java {res.java.outcome}" if res.java else "")
        if verbose:
            print(f"case {case}: base={res.base} {' + '.join(res.damage)}: {outcome}", flush=True)
        if res.classes:
            found.append(res)
            if verbose:
                for c in res.classes:
                    reason = known(c)
                    print(f"  {'known' if reason else 'NEW'}: {c}", flush=True)
                for d in res.details:
                    print(f"    {d}", flush=True)
                if any(known(c) is None for c in res.classes):
                    print("  --- pyzk log ---\n" + res.pyzk.log_tail, flush=True)
                    if res.java:
                        print("  --- java log ---\n" + res.java.log_tail[-3000:], flush=True)
        for kind in ("pyzk", "java"):
            if not res.classes:
                shutil.rmtree(work / f"case{case}-{kind}", ignore_errors=True)
    return n, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dirfuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--case", type=int, action="append", help="run only this case (repeatable)")
    ap.add_argument("--bases", default="pyzk,java,pyzk-gz,java-gz",
                    help="which servers build base data dirs (-gz: gzip snapshots)")
    ap.add_argument("--keep", type=Path, help="work directory to keep (default: a temp dir)")
    args = ap.parse_args(argv)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    work = args.keep or Path(tempfile.mkdtemp(prefix="dirfuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = args.case or list(range(args.cases))
    n, found = run(args.seed, cases, work, args.bases.split(","))
    new = sorted({c for r in found for c in r.classes if known(c) is None})
    print(f"{n} cases, {len(found)} with differences, {len(new)} unknown classes "
          f"(work dir {work})")
    for (po, jo), count in sorted(OUTCOMES.items()):
        print(f"  pyzk {po} / java {jo}: {count}")
    from .dirfuzz_known_differences import KNOWN_DIFFERENCES
    for k in KNOWN_DIFFERENCES:
        hits = sum(1 for r in found for c in r.classes if known(c) == k.reason)
        if hits:
            print(f"  known x{hits}: {k.pattern}")
    for c in new:
        print(f"  NEW {c}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
