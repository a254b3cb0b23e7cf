"""Timing knobs of a quorum member, as Java 3.8.0's QuorumPeer and Observer read them.

- quorumCnxnTimeoutMs: the election sockets' read timeout (QuorumPeer.createCnxnManager);
  when not above 0, tickTime * syncLimit.
- observer.reconnectDelayMs: an observer waits a random time below it before connecting to
  the leader (Observer.waitForReconnectDelay, called from QuorumPeer.findLearnerMaster).
- observer.election.DelayMs: an observer that lost its leader waits a random time below it
  before it looks for a leader again (Observer.waitForObserverElectionDelay; default 200).

A delay of 0 means none; the random draw is ThreadLocalRandom.nextLong(bound): [0, bound).
"""

from __future__ import annotations

from typing import Any, Protocol

# Observer.waitForReconnectDelayHelper's line, for both delays
WAIT_LINE = "Waiting for %s ms before reconnecting with the leader"


def quorum_cnxn_timeout_ms(config: Any) -> int:
    configured = int(config.quorum_cnxn_timeout_ms)
    return configured if configured > 0 else config.tick_time_ms * config.sync_limit


class RandRange(Protocol):
    """What the delays draw from (random.Random): the host passes its generator in."""

    def randrange(self, start: int, /) -> int: ...


def observer_delay_ms(bound_ms: int, rng: RandRange) -> int:
    """A random delay in [0, bound_ms), or 0 when bound_ms is not above 0."""
    if bound_ms <= 0:
        return 0
    return rng.randrange(bound_ms)
