"""clientTcpKeepAlive: SO_KEEPALIVE on the server's side of client connections (NIOServerCnxn;
Java's Netty factory does not set it). `ss -tnoe` shows a keepalive timer on a socket that has
it, for either kind of server."""

from __future__ import annotations

import subprocess

from tests.integration.itest_util import raw, wait_for

NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"


def keepalive_on_server_side(host: str, port: int) -> list[bool]:
    """One entry per established socket whose local end is host:port: has it SO_KEEPALIVE?"""
    out = subprocess.run(["ss", "-tnoeH", "state", "established", "src", f"{host}:{port}"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return ["timer:(keepalive" in line for line in out.splitlines() if line.strip()]


def test_client_tcp_keep_alive_sets_so_keepalive(zk_kind, zk_factory) -> None:
    on = zk_factory(clientTcpKeepAlive="true")
    off = zk_factory()
    netty = zk_factory(clientTcpKeepAlive="true", serverCnxnFactory=NETTY)
    clients = [raw(on), raw(off), raw(netty)]
    try:
        assert wait_for(lambda: keepalive_on_server_side(on.host, on.port) == [True], 10,
                        "keepalive on the one client connection")
        for srv in (off, netty):
            assert not any(wait_for(lambda s=srv: keepalive_on_server_side(s.host, s.port), 10,
                                    "the other connections"))
    finally:
        for c in clients:
            c.close()
