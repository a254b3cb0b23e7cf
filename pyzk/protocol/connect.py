"""The connect handshake body, with 3.8's lenient trailing readOnly flag.

3.8's ConnectRequest record has no readOnly field; the server reads one more boolean and treats
its absence as an old client, and only echoes readOnly to clients that sent it
(ZooKeeperServer.processConnectRequest / finishSessionInit).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import records as r


class Connect(NamedTuple):
    request: Any  # r.ConnectRequest
    read_only: bool
    old_client: bool


def decode_connect(payload: bytes) -> Connect:
    req, off = r.ConnectRequest.decode(payload, 0)
    if off < len(payload):
        return Connect(req, payload[off] != 0, False)
    return Connect(req, False, True)


def encode_connect_response(timeout_ms: int, session_id: int, passwd: bytes,
                            read_only: bool, old_client: bool) -> bytes:
    out = bytearray(b"\0\0\0\0")
    r.ConnectResponse.encode((0, timeout_ms, session_id, passwd), out)
    if not old_client:
        out.append(1 if read_only else 0)
    out[0:4] = (len(out) - 4).to_bytes(4, "big", signed=True)
    return bytes(out)
