"""The asyncio AdminServer speaks enough HTTP/1.1 for curl/urllib/monitoring agents: links page,
JSON per command with Java's content type, keep-alive, 404s, 500 where Java fails."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pyzk.fourlw.admin import AdminServer
from pyzk.fourlw.info import ServerSnapshot
from tests.unit.test_fourlw_golden import fake_view

HOST = "127.0.0.61"
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "fourlw"


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   path: str) -> tuple[int, dict[str, str], str]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
    status = int(head[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body.decode()


async def test_admin_server_serves_index_and_commands_over_one_keep_alive_connection() -> None:
    view = fake_view()
    server = AdminServer(lambda: view, HOST, 0)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        status, _, body = await _request(reader, writer, "/commands")
        assert status == 200
        assert body == (GOLDEN / "serving" / "admin" / "_index.html").read_text()
        status, headers, body = await _request(reader, writer, "/commands/ruok")
        assert status == 200 and headers["content-type"] == "application/json"
        assert body == (GOLDEN / "serving" / "admin" / "ruok.json").read_text()
        status, _, body = await _request(reader, writer, "/commands/stmk?traceMask=7")
        assert json.loads(body)["tracemask"] == 7 and view.trace_mask == 7
        status, _, body = await _request(reader, writer, "/commands/nope")
        assert json.loads(body) == {"command": "nope", "error": "Unknown command: nope"}
        status, _, _ = await _request(reader, writer, "/elsewhere")
        assert status == 404
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()


def test_monitor_without_a_running_server_is_an_http_500_like_java() -> None:
    view = ServerSnapshot(is_serving=False)
    server = AdminServer(lambda: view)
    assert server.handle("GET", "/commands/monitor")[0] == 500
    status, _, body = server.handle("GET", "/commands/stats")
    assert status == 200
    assert body == (GOLDEN / "notserving" / "admin" / "stats.json").read_text()


def test_admin_server_is_built_from_zoo_cfg_keys_and_can_be_disabled() -> None:
    assert AdminServer.from_config({"admin.enableServer": "false"}, lambda: None) is None
    s = AdminServer.from_config({"admin.serverPort": "9999", "admin.serverAddress": HOST,
                                 "admin.commandURL": "/cmds"}, lambda: None)
    assert s is not None and (s.host, s.port, s.command_url) == (HOST, 9999, "/cmds")
    assert s.handle("GET", "/cmds/ruok")[0] == 200
    default = AdminServer.from_config({}, lambda: None)
    assert default is not None and (default.host, default.port) == ("0.0.0.0", 8080)
