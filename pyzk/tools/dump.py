"""Readable dumps of log and snapshot files and a read-only data-dir check.

Output follows zkTxnLogToolkit (TxnLogToolkit.dump/printTxn) and zkSnapShotToolkit
(SnapshotFormatter.printDetails) closely enough that the two can be compared by eye.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as snapcodec
from pyzk.storage import txnlog
from pyzk.storage.datadir import DataDir
from pyzk.storage.errors import LogFormatError
from pyzk.storage.logfile import logs_from, read_log_file, zxid_from_name
from pyzk.storage.recovery import RecoveryError, recover

Out = Callable[[str], None]

# Request.op2String spellings
_OP_NAMES: dict[int, str] = {Op.CREATE_TTL: "createTtl"}


def op_name(t: int) -> str:
    if t in _OP_NAMES:
        return _OP_NAMES[t]
    try:
        parts = Op(t).name.lower().split("_")
    except ValueError:
        return f"unknown {t}"
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def _text(b: bytes | None) -> str:
    return "" if not b else b.decode("utf-8", "replace")


def _acl_str(acls: list[Any] | None) -> str:
    if acls is None:
        return "null"
    return "[" + ", ".join(f"{a.perms},'{a.id.scheme},'{a.id.id}" for a in acls) + "]"


def txn_str(txn: Any) -> str:
    """TxnLogToolkit.getFormattedTxnStr."""
    if txn is None:
        return ""
    if isinstance(txn, r.CreateTxn):
        return (f"{txn.path},{_text(txn.data)},{_acl_str(txn.acl)},"
                f"{str(txn.ephemeral).lower()},{txn.parentCVersion}")
    if isinstance(txn, r.SetDataTxn):
        return f"{txn.path},{_text(txn.data)},{txn.version}"
    if isinstance(txn, r.CreateContainerTxn):
        return f"{txn.path},{_text(txn.data)},{_acl_str(txn.acl)},{txn.parentCVersion}"
    if isinstance(txn, r.CreateTTLTxn):
        return (f"{txn.path},{_text(txn.data)},{_acl_str(txn.acl)},{txn.parentCVersion},"
                f"{txn.ttl}")
    if isinstance(txn, r.MultiTxn):
        return ";".join(f"{op_name(t.type)}:{_text(t.data)}" for t in txn.txns)
    return ",".join(str(v) for v in txn)


def _when(ms: int) -> str:
    """DateFormat SHORT date, LONG time, en_US, in UTC: "11/24/26, 4:03:55 PM UTC"."""
    try:
        t = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return str(ms)
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year % 100:02d}, {hour}:{t:%M:%S %p} UTC"


def format_txn(entry: txnlog.TxnEntry) -> str:
    h = entry.hdr
    return (f"{_when(h.time)} session {h.clientId & (2**64 - 1):#x} cxid {h.cxid & 0xFFFFFFFF:#x} "
            f"zxid {h.zxid:#x} {op_name(h.type)} {txn_str(entry.txn)}").rstrip()


def dump_log(path: Path, out: Out = print) -> int:
    """zkTxnLogToolkit dump mode; returns a process exit code."""
    data = path.read_bytes()
    try:
        hdr = txnlog.decode_log_header(data, str(path))
    except LogFormatError as e:
        out(f"Invalid magic number for {path.name}: {e}")
        return 2
    out(f"ZooKeeper Transactional Log File with dbid {hdr.dbid} txnlog format version "
        f"{hdr.version}")
    try:
        scan = txnlog.scan_log(data, str(path))
        count = 0
        for _, entry in txnlog.iter_entries(scan, str(path)):
            line = format_txn(entry)
            if entry.digest is not None:
                line += f" digest {entry.digest.version},{entry.digest.treeDigest}"
            out(line)
            count += 1
    except LogFormatError as e:
        out(f"ERROR: {e}")
        return 1
    if scan.torn:
        out(f"Last transaction was partial ({scan.torn}).")
    out(f"EOF reached after {count} txns.")
    return 0


def dump_snapshot(path: Path, out: Out = print, dump_data: bool = False) -> int:
    """zkSnapShotToolkit: znode details, then sessions, then the last zxid."""
    try:
        snap = DataDir.read_snapshot(path)
    except snapcodec.SnapshotFormatError as e:
        out(f"ERROR: {e}")
        return 1
    nodes = {(n.path or "/"): n for n in snap.nodes}
    owners: dict[int, int] = {}
    # SnapshotFormatter prints DataTree.getNodeCount(), which counts the root twice ("" and
    # "/"), as srvr's "Node count" does.
    out(f"ZNode Details (count={len(nodes) + 1}):")
    top = 0
    for p in sorted(nodes):
        n = nodes[p]
        s = n.stat
        out("----")
        out(p)
        out(f"  cZxid = {s.czxid:#016x}")
        out(f"  ctime = {_when(s.ctime)}")
        out(f"  mZxid = {s.mzxid:#016x}")
        out(f"  mtime = {_when(s.mtime)}")
        out(f"  pZxid = {s.pzxid:#016x}")
        out(f"  cversion = {s.cversion}")
        out(f"  dataVersion = {s.version}")
        out(f"  aclVersion = {s.aversion}")
        out(f"  ephemeralOwner = {s.ephemeralOwner & (2**64 - 1):#016x}")
        if dump_data:
            out("  data = " + (base64.b64encode(n.data).decode() if n.data else ""))
        else:
            out(f"  dataLength = {len(n.data) if n.data else 0}")
        top = max(top, s.mzxid, s.pzxid)
        if s.ephemeralOwner:
            owners[s.ephemeralOwner] = owners.get(s.ephemeralOwner, 0) + 1
    out("----")
    out("Session Details (sid, timeout, ephemeralCount):")
    for sid, timeout in snap.sessions:
        out(f"{sid:#016x}, {timeout}, {owners.get(sid, 0)}")
    if snap.digest is not None and snap.digest.zxid > 0:
        out(f"Target zxid digest is: {snap.digest.zxid:x}, {snap.digest.digest}")
    fz = zxid_from_name(path.name, "snapshot")
    out(f"----\nLast zxid: {max(fz, top):#x}")
    return 0


def check_datadir(root: Path, out: Out = print, log_root: Path | None = None) -> int:
    """Verify every snapshot and log file, then run a full recovery; 0 when all is sound."""
    dd = DataDir(root, log_root, autocreate=False)
    bad = 0
    for _, p in dd.snapshots():
        try:
            snap = dd.read_snapshot(p)
            # Counted as srvr's "Node count" and zkSnapShotToolkit's count= (DataTree
            # .getNodeCount: the root sits in Java's map twice, as "" and as "/").
            out(f"snapshot {p.name}: ok, {len(snap.nodes) + 1} nodes, "
                f"{len(snap.sessions)} sessions")
        except snapcodec.SnapshotFormatError as e:
            out(f"snapshot {p.name}: BAD: {e}")
            bad += 1
    for _, p in dd.logs():
        try:
            scan = read_log_file(p)
            entries = list(txnlog.iter_entries(scan, str(p)))
            span = (f"zxid {entries[0][1].hdr.zxid:#x}..{entries[-1][1].hdr.zxid:#x}"
                    if entries else "empty")
            note = f", torn tail: {scan.torn}" if scan.torn else ""
            out(f"log {p.name}: ok, {len(entries)} txns, {span}{note}")
        except LogFormatError as e:
            out(f"log {p.name}: BAD: {e}")
            bad += 1
    try:
        res = recover(dd)
    except (RecoveryError, LogFormatError, ValueError) as e:
        out(f"recovery: FAILED: {e}")
        return 1
    src = res.snapshot_path.name if res.snapshot_path else "empty"
    used = [p.name for p in logs_from(dd.log_dir, res.snapshot_zxid + 1)]
    out(f"recovery: ok from {src} + {res.txns_replayed} txns ({', '.join(used) or 'no logs'}); "
        f"last zxid {res.last_zxid:#x}, {res.tree.node_count()} nodes, "
        f"{len(res.sessions)} sessions")
    return 1 if bad else 0
