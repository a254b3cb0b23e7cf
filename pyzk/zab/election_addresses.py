"""The election addresses of a member (several under multiAddress.enabled) and the settings
that choose among them (QuorumCnxManager with MultipleAddresses). No I/O: the probes are
passed in by the server (pyzk.server.reachability).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

# SendWorker.asyncValidateIfSocketIsStillReachable: isReachable(500).
VALIDATE_TIMEOUT_S = 0.5

Addr = tuple[str, int]
# One election address, or the several of a multiAddress.enabled server line.
Addrs = Addr | Sequence[Addr]


def addr_list(a: Addrs) -> list[Addr]:
    if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str):
        return [a]
    return list(a)


class MultiAddress:
    """multiAddress.enabled and how addresses are probed (pyzk.server.reachability, passed in
    so this module stays free of the server package)."""

    def __init__(self, enabled: bool = False, check_enabled: bool = True,
                 timeout_s: float = 1.0,
                 pick: Callable[[Sequence[Addr], float], Awaitable[Addr]] | None = None,
                 reachable: Callable[[str, float], Awaitable[bool]] | None = None) -> None:
        self.enabled = enabled
        self.check_enabled = check_enabled
        self.timeout_s = timeout_s
        self.pick = pick            # MultipleAddresses.getReachableOrOne
        self.reachable = reachable  # InetAddress.isReachable


def listen_addrs(addrs: list[Addr], all_ips: bool) -> list[tuple[str | None, int]]:
    """What a member binds for its own quorum or election addresses: each address, or with
    quorumListenOnAllIPs the wildcard address once per distinct port
    (MultipleAddresses.getWildcardAddresses)."""
    if not all_ips:
        return list(addrs)
    ports = sorted({p for _, p in addrs})
    return [(None, p) for p in ports]
