"""Which requests upgrade a local session to a global one (localSessionsUpgradingEnabled,
QuorumZooKeeperServer.checkUpgradeSession): a create, create2 or multi that makes an
ephemeral node (not createTTL or createContainer)."""

from __future__ import annotations

from ..protocol import records as r
from ..protocol.jute import JuteError
from ..protocol.multi import decode_multi
from ..protocol.opcodes import Op

UPGRADE_OPS = frozenset({Op.CREATE, Op.CREATE2, Op.MULTI})
EPHEMERAL_FLAGS = frozenset({1, 3})  # EPHEMERAL, EPHEMERAL_SEQUENTIAL


def creates_ephemeral(op: int, body: memoryview | bytes) -> bool:
    """Whether a create/create2/multi body asks for an ephemeral node (an unreadable body
    does not: the request fails on its own)."""
    try:
        if op == Op.MULTI:
            ops, _ = decode_multi(body)
            return any(o in (Op.CREATE, Op.CREATE2) and rec.flags in EPHEMERAL_FLAGS
                       for o, rec in ops)
        rec, _ = r.CreateRequest.decode(body, 0)
        return bool(rec.flags in EPHEMERAL_FLAGS)
    except (JuteError, AttributeError):
        return False
