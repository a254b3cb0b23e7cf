"""`pyzk ctl`: everyday four-letter-word operations across an ensemble.

`pyzk ctl status h:p[,h:p...]` asks each server `srvr` (the one word Java whitelists by default)
and prints a table: server, mode, zxid, node count, connections, outstanding, avg latency and the
round trip of the srvr call; `pyzk ctl WORD h:p[,...]` prints any 4LW's reply from each server.
Exit status: 0 when every server answered, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

WORDS = ("conf", "cons", "crst", "dump", "envi", "ruok", "srst", "srvr", "stat", "wchs",
         "wchc", "wchp", "mntr", "isro", "hash", "gtmk", "stmk", "dirs")
COLUMNS = (("server", "SERVER"), ("mode", "MODE"), ("zxid", "ZXID"), ("nodes", "NODES"),
           ("connections", "CONNS"), ("outstanding", "OUTSTANDING"),
           ("avg_latency", "AVG_LATENCY"), ("rtt_ms", "RTT_MS"))


def parse_hosts(spec: str, default_port: int = 2181) -> list[tuple[str, int]]:
    """"h1:2181,h2:2182,h3" (a connect string; a /chroot suffix is ignored)."""
    out: list[tuple[str, int]] = []
    for part in spec.split("/", 1)[0].split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("["):
            host, _, rest = part[1:].partition("]")
            out.append((host, int(rest[1:]) if rest.startswith(":") else default_port))
        elif part.count(":") == 1:
            host, port = part.split(":")
            out.append((host, int(port)))
        else:
            out.append((part, default_port))
    if not out:
        raise ValueError(f"no server in {spec!r}")
    return out


def four_letter(host: str, port: int, word: str, timeout: float = 5.0) -> tuple[str, float]:
    """Send one 4LW and read the reply to EOF; (reply text, round trip in ms)."""
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace"), (time.perf_counter() - start) * 1000


@dataclass
class Status:
    server: str
    mode: str = "-"
    zxid: str = "-"
    nodes: str = "-"
    connections: str = "-"
    outstanding: str = "-"
    avg_latency: str = "-"
    rtt_ms: str = "-"
    error: str | None = None


def parse_srvr(server: str, text: str, rtt_ms: float) -> Status:
    """Fields of a srvr reply (Java's StatCommand/`srvr` layout)."""
    st = Status(server, rtt_ms=f"{rtt_ms:.1f}")
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "Mode" not in fields:
        # "srvr is not executed because it is not in the whitelist." or
        # "This ZooKeeper instance is not currently serving requests"
        st.error = text.strip() or "empty reply"
        return st
    st.mode = fields["Mode"]
    st.zxid = fields.get("Zxid", "-")
    st.nodes = fields.get("Node count", "-")
    st.connections = fields.get("Connections", "-")
    st.outstanding = fields.get("Outstanding", "-")
    latency = fields.get("Latency min/avg/max", "")
    st.avg_latency = latency.split("/")[1] if latency.count("/") == 2 else "-"
    return st


def status(hosts: list[tuple[str, int]], timeout: float) -> list[Status]:
    rows = []
    for host, port in hosts:
        name = f"{host}:{port}"
        try:
            text, rtt = four_letter(host, port, "srvr", timeout)
        except OSError as e:
            rows.append(Status(name, error=f"{type(e).__name__}: {e}"))
            continue
        rows.append(parse_srvr(name, text, rtt))
    return rows


def render_table(rows: list[Status]) -> str:
    table = [[h for _, h in COLUMNS]]
    for row in rows:
        d = asdict(row)
        table.append([str(d[k]) for k, _ in COLUMNS])
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in table]
    lines += [f"{row.server}: {row.error}" for row in rows if row.error]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "pyzk ctl") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[1]
                                if __doc__ else None)
    p.add_argument("word", help="status, or any four-letter word (" + ", ".join(WORDS) + ")")
    p.add_argument("hosts", help="host:port[,host:port...] (default port 2181)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per server (default 5)")
    p.add_argument("--json", action="store_true", help="status: one JSON object per server")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        hosts = parse_hosts(args.hosts)
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    if args.word == "status":
        rows = status(hosts, args.timeout)
        if args.json:
            for row in rows:
                print(json.dumps(asdict(row)))
        else:
            print(render_table(rows))
        return 0 if all(r.error is None for r in rows) else 1
    if len(args.word) != 4:
        print(f"{prog}: error: {args.word!r} is not a four-letter word", file=sys.stderr)
        return 2
    failed = False
    for host, port in hosts:
        if len(hosts) > 1:
            print(f"=== {host}:{port} ===")
        try:
            text, _ = four_letter(host, port, args.word, args.timeout)
        except OSError as e:
            print(f"{host}:{port}: {type(e).__name__}: {e}", file=sys.stderr)
            failed = True
            continue
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
    return 1 if failed else 0
