"""What the election port's QuorumCnxManager (pyzk.zab.election_transport) holds per remote
sid, and how it reports dialling one: Java logs "Cannot open channel to N at election
address ..." on every failed attempt; pyzk logs the first, then at most once per interval, and
the recovery once."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from pyzk.zab.election_addresses import Addr
from pyzk.zab.packets_election import format_addr

# The transport's log: these lines are its own.
log = logging.getLogger("pyzk.zab.election_transport")

UNREACHABLE_LOG_INTERVAL_S = 30.0


class Peer:
    """One remote sid: the capacity-1 send slot, the live connection and the dialer."""

    def __init__(self) -> None:
        self.slot: bytes | None = None
        self.wake = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.dialing: asyncio.Task[None] | None = None
        self.retry_now = asyncio.Event()  # ends a dialer's back-off: the peer is up
        self.last_sent: bytes | None = None
        self.failed_dials = 0            # since the last successful connection
        self.was_up = False              # a connection was installed once (gone_sids)
        self.unlogged_failures = 0       # since the last "Cannot open channel" line
        self.logged_at: float | None = None


def dial_failed(p: Peer, sid: int, addr: Addr, e: BaseException, connect_timeout_s: float,
                retrying: bool = True) -> None:
    """QuorumCnxManager's "Cannot open channel to N at election address ...", rate-limited
    per peer so that a lone member says every UNREACHABLE_LOG_INTERVAL_S whom it is waiting
    for and why."""
    p.failed_dials += 1
    p.unlogged_failures += 1
    now = asyncio.get_running_loop().time()
    if p.logged_at is not None and now - p.logged_at < UNREACHABLE_LOG_INTERVAL_S:
        return
    if isinstance(e, TimeoutError):
        why = f"no answer within {connect_timeout_s:g} s"
    elif isinstance(e, OSError) and e.errno:
        why = os.strerror(e.errno)
    else:
        why = str(e) or type(e).__name__
    attempts = ("" if p.logged_at is None
                else f" ({p.unlogged_failures} attempts since the last report)")
    log.warning("Cannot open channel to %s at election address %s: %s%s%s", sid,
                format_addr(*addr), why, attempts, "; still trying" if retrying else "")
    p.logged_at = now
    p.unlogged_failures = 0


def dial_worked(p: Peer, sid: int, addr: Addr | None) -> None:
    """A connection to sid exists (we dialled it, or it dialled us): report the recovery once
    and start the rate limit afresh."""
    if p.failed_dials:
        where = f" at election address {format_addr(*addr)}" if addr else ""
        log.info("Connected to %s%s after %s failed attempts", sid, where, p.failed_dials)
    p.failed_dials = p.unlogged_failures = 0
    p.logged_at = None


async def open_election_connection(host: str, port: int, keepalive: bool
                                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain connection to a member's election port. With tcpKeepAlive the socket gets
    SO_KEEPALIVE before it connects, as QuorumCnxManager.initiateConnection sets its options
    before connect(): no moment without it."""
    if not keepalive:
        return await asyncio.open_connection(host, port)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            await loop.sock_connect(sock, sockaddr)
        except OSError as e:
            sock.close()
            error = e
            continue
        except BaseException:  # cancelled (the connect timeout): no socket left open
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)
    raise error
