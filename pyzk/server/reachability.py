"""Reachability of a member's addresses for multiAddress.enabled (MultipleAddresses.java):
which of a server's `|`-joined addresses to dial, and whether an open election connection's
peer still answers.

Java asks InetAddress.isReachable, an ICMP echo when the JVM may send one, otherwise a TCP
connection to port 7 (echo), where an answer or a refusal both mean the host is there. pyzk
uses the TCP form always (no raw sockets): a cut link or a dropped route shows as a timeout
or an unreachable-network error, a live host as a connection or a reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Sequence

ECHO_PORT = 7
# Errors that mean the host answered, so it is reachable (a RST to port 7).
_ANSWERED = {errno.ECONNREFUSED, errno.ECONNRESET}


async def is_reachable(host: str, timeout_s: float) -> bool:
    """InetAddress.isReachable(timeout) by a TCP probe of the echo port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, ECHO_PORT), timeout_s)
    except TimeoutError:
        return False
    except OSError as e:
        return e.errno in _ANSWERED
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def all_reachable(addrs: Sequence[tuple[str, int]],
                        timeout_s: float) -> list[tuple[str, int]]:
    """getAllReachableAddresses: every address whose host answers, probed in parallel."""
    found = await asyncio.gather(*(is_reachable(h, timeout_s) for h, _ in addrs))
    return [a for a, ok in zip(addrs, found, strict=True) if ok]


async def all_reachable_or_all(addrs: Sequence[tuple[str, int]],
                               timeout_s: float) -> list[tuple[str, int]]:
    """getAllReachableAddressesOrAll: one address is not probed; none reachable = all."""
    if len(addrs) <= 1:
        return list(addrs)
    return await all_reachable(addrs, timeout_s) or list(addrs)


async def reachable_or_one(addrs: Sequence[tuple[str, int]],
                           timeout_s: float) -> tuple[str, int]:
    """getReachableOrOne: the first address found reachable (probes run in parallel and
    the first to answer yes wins, as Java's parallelStream().findAny()), else the first."""
    if len(addrs) == 1:
        return addrs[0]
    probes = {asyncio.ensure_future(is_reachable(h, timeout_s)): (h, p) for h, p in addrs}
    try:
        for done in asyncio.as_completed(list(probes)):
            if await done:
                for task, addr in probes.items():
                    if task.done() and not task.cancelled() and task.result():
                        return addr
    finally:
        for task in probes:
            task.cancel()
    return addrs[0]
