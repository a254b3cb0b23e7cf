"""A connection from a learner (or an observer, or a worker process) to the server that
serves it, and the two loops every learner-serving host runs: the reader that feeds its
packets to a core, and the ticker that wakes the core at its deadlines (the leader's
LearnerHandler and a follower's ObserverMaster alike).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from ..protocol.jute import JuteError
from ..zab.packets import PT, Packet, QuorumStreamReader, encode_packet, packet
from .replication import snap_body

if TYPE_CHECKING:
    from ..tree.datatree import DataTree

log = structlog.get_logger("pyzk.leader")


class LearnerConn:
    """One learner's socket and its output buffer (also used by ObserverMasterHost)."""

    __slots__ = ("writer", "sid", "addr", "out")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.sid = -1
        self.addr = str(writer.get_extra_info("peername"))
        self.out: list[bytes] = []  # encoded packets for this loop iteration's single write

    def write_out(self) -> None:
        out = self.out
        if out:
            # A learner that reset its connection is dropped by its reader; until then its
            # packets go nowhere (writing to a closed uvloop transport raises).
            if not self.writer.is_closing():
                self.writer.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def send_snap(self, tree: DataTree, sessions: dict[int, int], zxid: int) -> None:
        """SNAP then the tree's snapshot stream; the tree must be at exactly `zxid` (the
        sync plan was made from it in the same step)."""
        if tree.last_processed_zxid != zxid:
            raise RuntimeError(f"SNAP at {zxid:#x} but the tree is at "
                               f"{tree.last_processed_zxid:#x}")
        self.out.append(encode_packet(packet(PT.SNAP, zxid)))
        self.out.append(snap_body(tree, sessions))
        self.write_out()
        log.info("sent SNAP", learner=self.sid, zxid=hex(zxid))


async def read_learner(reader: asyncio.StreamReader, ln: LearnerConn,
                       feed: Callable[[Packet], bool], stopped: Callable[[], bool],
                       feed_acks: Callable[[list[int]], bool] | None = None) -> str | None:
    """One learner connection's reader (LearnerHandler.run's reads), for the leader and a
    follower's ObserverMaster: every quorum packet goes to `feed` until the peer closes,
    `stopped()` or `feed` returns False (the connection was dropped); returns why the
    connection broke, if it did. With `feed_acks`, each run of ACKs within one chunk read goes
    to it in one call instead (a follower's group commit ACKs a whole batch at once)."""
    stream = QuorumStreamReader()
    try:
        while not stopped():
            data = await reader.read(65536)
            if not data:
                return None
            acks: list[int] = []
            for item in stream.feed(data):
                qp = item.qp
                if feed_acks is not None and qp.type == PT.ACK:
                    acks.append(qp.zxid)
                    continue
                if acks:
                    assert feed_acks is not None
                    if not feed_acks(acks):
                        return None
                    acks = []
                if qp.type in (PT.FOLLOWERINFO, PT.OBSERVERINFO) and qp.data \
                        and len(qp.data) >= 8:
                    # LearnerHandler reads the sid only from 8 bytes or more (for logs here)
                    ln.sid = struct.unpack_from(">q", qp.data, 0)[0]
                if not feed(qp):
                    return None
            if acks:
                assert feed_acks is not None
                if not feed_acks(acks):
                    return None
    except (OSError, JuteError, ValueError) as e:
        return str(e)
    return None


async def tick_core(tick_ms: int, now_ms: Callable[[], int],
                    wakeup_ms: Callable[[], int | None], on_tick: Callable[[int], None]) -> None:
    """Tick a learner-serving core (the leader's, a follower's ObserverMaster) until cancelled:
    at its next deadline (half tick, read timeout), as Java's timed waits and socket timeouts
    do, and at least every quarter tick."""
    step = max(tick_ms // 4, 10) / 1000
    while True:
        wake = wakeup_ms()
        delay = step if wake is None else min(step, max(wake - now_ms() + 1, 1) / 1000)
        await asyncio.sleep(delay)
        on_tick(now_ms())
