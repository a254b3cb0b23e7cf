"""clientTcpKeepAlive: SO_KEEPALIVE on the server's side of client connections (NIOServerCnxn).
`ss -tnoe` shows a keepalive timer on a socket that has it, for either kind of server."""

from __future__ import annotations

import subprocess

from tests.integration.itest_util import raw, wait_for


def keepalive_on_server_side(host: str, port: int) -> list[bool]:
    """One entry per established socket whose local end is host:port: has it SO_KEEPALIVE?"""
    out = subprocess.run(["ss", "-tnoeH", "state", "established", "src", f"{host}:{port}"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return ["timer:(keepalive" in line for line in out.splitlines() if line.strip()]


def test_client_tcp_keep_alive_sets_so_keepalive(zk_kind, zk_factory) -> None:
    on = zk_factory(clientTcpKeepAlive="true")
    off = zk_factory()
    a, b = raw(on), raw(off)
    try:
        assert wait_for(lambda: keepalive_on_server_side(on.host, on.port) == [True], 10,
                        "keepalive on the one client connection")
        assert not any(wait_for(lambda: keepalive_on_server_side(off.host, off.port), 10,
                                "the other connection"))
    finally:
        a.close()
        b.close()
