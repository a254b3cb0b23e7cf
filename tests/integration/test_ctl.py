"""`pyzk ctl` against running pyzk and Java servers: the status table from srvr, any 4LW across
servers, and a non-zero exit when a server does not answer."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import REPO, ServerProc, free_port, java_available

HOST = "127.0.0.151"  # this suite's loopback address
_n = itertools.count()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProc]]:
    base = tmp_path_factory.mktemp("ctl")
    kinds = ["pyzk", "java"] if java_available() else ["pyzk"]
    started = []
    try:
        for kind in kinds:
            started.append(ServerProc(kind, base / f"{kind}-{next(_n)}", host=HOST).start())
        yield started
    finally:
        for srv in started:
            srv.stop()


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyzk", "ctl", *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))


def test_status_table_has_a_row_per_server(servers: list[ServerProc]) -> None:
    res = ctl("status", ",".join(s.address for s in servers))
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["SERVER", "MODE", "ZXID", "NODES", "CONNS", "OUTSTANDING",
                              "AVG_LATENCY", "RTT_MS"]
    assert len(rows) == len(servers)
    for srv, row in zip(servers, rows, strict=True):
        cols = row.split()
        assert cols[0] == srv.address and cols[1] == "standalone"
        assert cols[2].startswith("0x") and int(cols[3]) >= 2  # / and /zookeeper at least
        assert float(cols[7]) >= 0


def test_status_json_and_unreachable_server_exit_one(servers: list[ServerProc]) -> None:
    dead = f"{HOST}:{free_port(HOST)}"
    res = ctl("status", f"{servers[0].address},{dead}", "--json", "--timeout", "2")
    assert res.returncode == 1
    import json

    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows[0]["mode"] == "standalone" and rows[0]["error"] is None
    assert rows[1]["server"] == dead and "Refused" in rows[1]["error"]


def test_any_four_letter_word_across_servers(servers: list[ServerProc]) -> None:
    res = ctl("ruok", ",".join(s.address for s in servers))
    assert res.returncode == 0
    assert res.stdout.splitlines() == [x for s in servers for x in (f"=== {s.address} ===",
                                                                    "imok")]
    one = ctl("conf", servers[0].address)
    assert one.returncode == 0 and f"clientPort={servers[0].port}" in one.stdout


def test_bad_word_is_a_usage_error() -> None:
    assert ctl("toolong", f"{HOST}:2181").returncode == 2


def test_ctl_relays_the_whitelist_refusal(tmp_path: Path) -> None:
    """srvr is always enabled (FourLetterCommands), so status works with any whitelist; other
    words print the server's refusal."""
    srv = ServerProc("pyzk", tmp_path / "wl", host=HOST,
                     cfg={"4lw.commands.whitelist": "ruok"}).start()
    try:
        assert ctl("status", srv.address).returncode == 0
        res = ctl("stat", srv.address)
        assert res.stdout == "stat is not executed because it is not in the whitelist.\n"
    finally:
        srv.stop()


def test_status_row_for_a_refusing_server_is_an_error() -> None:
    from pyzk.ctl import parse_srvr

    row = parse_srvr("h:1", "This ZooKeeper instance is not currently serving requests\n", 1.0)
    assert row.error == "This ZooKeeper instance is not currently serving requests"
    assert row.mode == "-"
