"""Operations: a real pyzk process logs JSON lines, one per lifecycle event (startup, recovery,
session open/close/expire, refused four-letter word), each carrying the bound server id and,
where one applies, the session id; ordinary requests add no INFO lines."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

import pyzk
from tests.integration.itest_util import wait_for
from tests.servers import ServerProc

HOST = "127.0.0.91"


def open_raw_session(host: str, port: int, timeout_ms: int) -> tuple[socket.socket, int]:
    """A session whose client then goes silent (no pings): it must expire."""
    req = struct.pack(">iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(struct.pack(">i", len(req)) + req)
    head = s.recv(4)
    (n,) = struct.unpack(">i", head)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    (sid,) = struct.unpack_from(">q", body, 8)
    return s, sid


def four_letter(host: str, port: int, word: str) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(word.encode())
        out = b""
        while chunk := s.recv(4096):
            out += chunk
    return out.decode()


def records(path: Path) -> list[dict[str, Any]]:
    """Every line must be one JSON object."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProc]:
    # stdout is not a TTY, so the default log format is JSON.
    proc = ServerProc("pyzk", tmp_path / "logs", host=HOST, cfg={
        "tickTime": "200", "4lw.commands.whitelist": "srvr,ruok"})
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def test_lifecycle_events_are_single_json_lines_with_bound_ids(server: ServerProc) -> None:
    # One session that expires (tickTime 200 -> minimum session timeout 400 ms) ...
    sock, expiring = open_raw_session(server.host, server.port, 400)
    # ... one that the client closes, with ordinary traffic in between ...
    zk = KazooClient(hosts=server.address, timeout=10)
    zk.start(timeout=15)
    closed = zk.client_id[0]
    zk.ensure_path("/logs")
    for _ in range(50):
        zk.get("/logs")
    zk.stop()
    zk.close()
    # ... and a four-letter word the whitelist refuses.
    assert "not in the whitelist" in four_letter(server.host, server.port, "mntr")

    def by_event(event: str) -> list[dict[str, Any]]:
        return [r for r in records(server.log_path) if r.get("event") == event]

    wait_for(lambda: any(r.get("session_id") == hex(expiring) for r in by_event("session expired")),
             timeout=15, what="session expiry logged")
    # the expired session's close is logged once its close txn is applied, just after
    wait_for(lambda: {hex(expiring), hex(closed)}
             <= {r.get("session_id") for r in by_event("session closed")},
             timeout=10, what="both closes logged")
    sock.close()
    recs = records(server.log_path)
    assert all(r["server_id"] == 0 for r in recs), [r for r in recs if "server_id" not in r]
    assert all({"timestamp", "level", "logger", "event"} <= r.keys() for r in recs)

    def once(event: str, **fields: Any) -> dict[str, Any]:
        hits = [r for r in recs if r["event"] == event
                and all(r.get(k) == v for k, v in fields.items())]
        assert len(hits) == 1, (event, fields, hits)
        return hits[0]

    for sid in (expiring, closed):
        assert once("session established", session_id=hex(sid))["level"] == "info"
        assert once("session closed", session_id=hex(sid))["level"] == "info"
    assert once("session expired", session_id=hex(expiring))["level"] == "info"
    assert not [r for r in recs if r["event"] == "session expired"
                and r.get("session_id") == hex(closed)]
    assert once("four-letter word refused: not in the whitelist", word="mntr")["level"] \
        == "warning"
    for event in ("data directory recovered", "serving"):
        assert once(event)["level"] == "info"
    assert once("serving")["version"] == pyzk.__version__
    # 50 reads and their pings added nothing at INFO: the INFO lines are the events above.
    info = [r["event"] for r in recs if r["level"] == "info"]
    assert len(info) < 15, info
