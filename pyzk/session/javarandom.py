"""java.util.Random, bit for bit, for session passwords.

A session's password is Random(sessionId ^ 0xB3415C00).nextBytes(16)
(ZooKeeperServer.generatePasswd), so a session can move between pyzk and Java servers.
The LCG constants are the ones documented in java.util.Random's Javadoc.
"""

from __future__ import annotations

_MULT = 0x5DEECE66D
_ADD = 0xB
_MASK = (1 << 48) - 1
SUPER_SECRET = 0xB3415C00


class JavaRandom:
    __slots__ = ("_seed",)

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ _MULT) & _MASK

    def next_bits(self, bits: int) -> int:
        self._seed = (self._seed * _MULT + _ADD) & _MASK
        value = self._seed >> (48 - bits)
        # Java narrows to a signed 32-bit int.
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value & 0x80000000 else value

    def next_int(self) -> int:
        return self.next_bits(32)

    def next_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            rnd = self.next_int()
            for _ in range(min(n - len(out), 4)):
                out.append(rnd & 0xFF)
                rnd >>= 8
        return bytes(out)


def session_password(session_id: int) -> bytes:
    """The 16-byte password Java derives for a session id."""
    return JavaRandom(session_id ^ SUPER_SECRET).next_bytes(16)
