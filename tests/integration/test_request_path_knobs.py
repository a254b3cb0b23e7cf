"""Request-path zoo.cfg keys, each run against pyzk and Java 3.8.0 with the same client steps.

largeRequestThreshold / largeRequestMaxBytes: requests longer than the threshold count against
the max while in flight (released when answered), and one that would pass the max closes its
connection with no reply (Java's "Rejecting large request" IOException) and counts in mntr's
zk_large_requests_rejected; the session itself lives on.
"""

from __future__ import annotations

import socket

from pyzk.protocol import records as r
from pyzk.protocol.codes import Err
from pyzk.protocol.opcodes import Op
from tests.integration.itest_util import raw

OPEN = [r.ACL(31, r.Id("world", "anyone"))]


def four_letter(host: str, port: int, word: str) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(word.encode())
        out = b""
        while chunk := s.recv(4096):
            out += chunk
    return out.decode()


def test_large_request_over_the_max_closes_the_connection(zk_factory) -> None:
    srv = zk_factory(largeRequestThreshold="1024", largeRequestMaxBytes="4096")
    c = raw(srv)
    try:
        for i in range(8):  # each under the max, released when answered
            assert c.create(f"/large{i}", b"x" * 3000).err == 0
            assert len(c.get(f"/large{i}").body.data) == 3000
        c.send_request(Op.CREATE, r.CreateRequest("/too-big", b"x" * 5000, OPEN, 0))
        assert c.is_closed_by_server(5.0)
    finally:
        c.close()
    other = raw(srv)
    try:
        assert other.exists("/too-big").err == Err.NONODE
        assert other.create("/small", b"x" * 1000).err == 0  # under the threshold: not counted
    finally:
        other.close()
    mntr = four_letter(srv.host, srv.port, "mntr")
    assert "zk_large_requests_rejected\t1\n" in mntr, mntr
