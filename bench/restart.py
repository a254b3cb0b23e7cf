"""Restart time: a standalone server started on a data directory holding N znodes (one snapshot
plus a txn log of setData txns after it), from process start until a ConnectRequest gets a
ConnectResponse, pyzk vs Debian's Java ZooKeeper 3.8 on the *same* files (the formats are
shared). Also reports the load time each server logs. Medians of R starts, interleaved.

    .venv/bin/python -m bench.restart --znodes 100000,1000000 --txns 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pyzk.protocol import records as r
from pyzk.protocol.opcodes import Op
from pyzk.storage import snapshot as sc
from pyzk.storage.datadir import DataDir
from pyzk.storage.logfile import TxnLogWriter
from pyzk.tree.datatree import DataTree
from tests.servers import ServerProc, handshake_ok

REPO = Path(__file__).resolve().parent.parent

HOSTS = {"java": "127.0.0.73", "pyzk": "127.0.0.74"}
OPEN = [r.ACL(31, r.Id("world", "anyone"))]
EPOCH = 1 << 32
FANOUT = 1000  # children per parent znode
JAVA_LOAD = re.compile(r"Snapshot loaded in (\d+) ms")
JAVA_SNAP = re.compile(r"Snapshot taken in (\d+) ms")


def build(data_dir: Path, znodes: int, txns: int) -> None:
    """version-2/snapshot.<z> with `znodes` znodes of 16 bytes under /bench/p<i>, then a log of
    `txns` setData txns on them, in ZooKeeper's formats (written by pyzk's storage code)."""
    t = DataTree()
    ev: list[Any] = []
    zxid = EPOCH
    t.create_node("/bench", b"", OPEN, 0, -1, zxid, 1, ev)
    made = 0
    while made < znodes:
        zxid += 1
        parent = f"/bench/p{made // FANOUT}"
        if made % FANOUT == 0:
            t.create_node(parent, b"", OPEN, 0, -1, zxid, 1, ev)
            zxid += 1
        t.create_node(f"{parent}/n{made % FANOUT}", b"0123456789abcdef", OPEN, 0, -1, zxid,
                      1_700_000_000_000, ev)
        made += 1
    t.last_processed_zxid = zxid
    dd = DataDir(data_dir)
    dd.save_snapshot(sc.capture(t, {}), fsync=False)
    w = TxnLogWriter(dd.log_dir)
    for i in range(txns):
        zxid += 1
        k = (i * 7919) % znodes
        path = f"/bench/p{k // FANOUT}/n{k % FANOUT}"
        hdr = r.TxnHeader(0, 0, zxid, 1_700_000_000_000 + i, Op.SET_DATA)
        w.append(hdr, r.SetDataTxn(path, b"fedcba9876543210", i // znodes + 1))
        if i % 10_000 == 9_999:
            w.flush(fsync=False)
    w.close(fsync=True)


class BigHeapJava(ServerProc):
    """Java with room for 1M znodes (ServerProc's -Xmx512m is for small tests)."""

    def command(self, cfg_path: Path) -> list[str]:
        return ["-Xmx6g" if c.startswith("-Xmx") else c for c in super().command(cfg_path)]


def one_start(kind: str, template: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    srv = BigHeapJava(kind, work, host=HOSTS[kind], cfg={"forceSync": "yes"})
    srv.write_cfg()
    shutil.rmtree(srv.datadir)
    shutil.copytree(template, srv.datadir)
    subprocess.run(["sync"], check=False)
    t0 = time.monotonic()
    cfg = work / "zoo.cfg"
    with open(srv.log_path, "ab") as log:
        srv.proc = subprocess.Popen(srv.command(cfg), stdout=log, stderr=subprocess.STDOUT,
                                    cwd=work, start_new_session=True,
                                    env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = t0 + 300
        while not handshake_ok(srv.host, srv.port, timeout=0.5):
            if srv.proc.poll() is not None:
                raise RuntimeError(f"{kind} exited:\n{srv.tail_log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} did not serve:\n{srv.tail_log()}")
            time.sleep(0.01)
        wall = time.monotonic() - t0
        text = srv.log_path.read_text(errors="replace")
    finally:
        srv.stop()
    out: dict[str, Any] = {"wall_s": round(wall, 3)}
    if kind == "java":
        m, s = JAVA_LOAD.search(text), JAVA_SNAP.search(text)
        out["load_s"] = int(m.group(1)) / 1000 if m else None
        out["startup_snapshot_s"] = int(s.group(1)) / 1000 if s else None
    else:
        for line in text.splitlines():
            if "data directory recovered" in line:
                out["load_s"] = json.loads(line).get("seconds")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--znodes", default="100000,1000000")
    ap.add_argument("--txns", type=int, default=50_000, help="setData txns logged after the snapshot")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--servers", default="java,pyzk")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="pyzk-restart-"))
    results: dict[str, Any] = {}
    try:
        for n in [int(x) for x in args.znodes.split(",")]:
            template = base / f"data-{n}"
            t0 = time.monotonic()
            build(template, n, args.txns)
            print(f"built {n} znodes + {args.txns} txns in {time.monotonic() - t0:.1f} s",
                  file=sys.stderr)
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in args.servers.split(",")}
            for rep in range(args.repeats):
                order = list(runs) if rep % 2 == 0 else list(reversed(runs))
                for kind in order:
                    res = one_start(kind, template, base / f"{kind}-{n}")
                    print(f"  {kind:5} {n:>8} rep {rep}: {res}", file=sys.stderr)
                    runs[kind].append(res)
            results[str(n)] = {k: {"wall_s": statistics.median(x["wall_s"] for x in v),
                                   "load_s": statistics.median(x["load_s"] for x in v
                                                               if x.get("load_s") is not None)
                                   if any(x.get("load_s") is not None for x in v) else None,
                                   "runs": v} for k, v in runs.items()}
            shutil.rmtree(template, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("| znodes | server | start to first session, median s | load as logged, median s |")
    print("|---:|---|---:|---:|")
    for n, per in results.items():
        for k, v in per.items():
            print(f"| {n} | {k} | {v['wall_s']:.3f} | {v['load_s']} |")
        if "java" in per and "pyzk" in per:
            print(f"| {n} | pyzk/java | {per['pyzk']['wall_s'] / per['java']['wall_s']:.2f} | |")
    out = REPO / "bench" / "results" / f"restart-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
