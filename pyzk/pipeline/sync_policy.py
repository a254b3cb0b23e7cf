"""When the txn log is flushed: SyncRequestProcessor's batching rules of Java 3.8.0.

Java appends each write to the log as it takes it from its queue and flushes (write + fsync,
then the replies) when

- the queue stays empty for min(maxWriteQueuePollTime, the rest of flushDelay) -- with the
  default flushDelay 0 that is "as soon as no write is waiting";
- flushDelay > 0 and flushDelay has passed since the last flush (so the first write after a
  quiet spell is flushed at once: the delay only gathers writes under load);
- maxBatchSize writes are waiting to be flushed.

The rules as a pure decision over (now, last flush, batch length); the server's group-commit
task does the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SyncPolicy:
    flush_delay_ms: int = 0  # flushDelay
    max_poll_ms: int = 0  # maxWriteQueuePollTime (Java's default: flushDelay / 3)
    max_batch: int = 1000  # maxBatchSize

    @classmethod
    def from_config(cls, config: Any) -> SyncPolicy:
        return cls(config.flush_delay_ms, config.max_write_queue_poll_ms, config.max_batch_size)

    def take(self, waiting: int) -> int:
        """How many waiting txns one flush takes: Java flushes once maxBatchSize are queued."""
        return min(waiting, self.max_batch)

    def hold_ms(self, batch_len: int, now_ms: float, last_flush_ms: float,
                last_arrival_ms: float) -> float:
        """How much longer to gather before flushing a batch of batch_len (> 0) txns whose
        newest arrived at last_arrival_ms; 0 means flush now.

        Java polls its queue for min(maxWriteQueuePollTime, the rest of flushDelay) after each
        write, and flushes when the poll times out or flushDelay is over. A write that came in
        during the last flush is taken right after it, so counts as arriving then."""
        if batch_len >= self.max_batch or self.flush_delay_ms <= 0:
            return 0.0
        end = last_flush_ms + self.flush_delay_ms
        if now_ms >= end:
            return 0.0
        arrival = max(last_arrival_ms, last_flush_ms)
        deadline = min(arrival + self.max_poll_ms, end)
        return float(min(max(deadline - now_ms, 0.0), self.flush_delay_ms))
