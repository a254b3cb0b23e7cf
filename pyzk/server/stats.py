"""Server-wide counters read by the four-letter words, AdminServer and metrics.

Plain ints updated on the hot path; exporters read them at scrape time (ServerStats.java).
"""

from __future__ import annotations

import time


class ServerStats:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.reset()
        self.sessions_expired = 0
        self.auth_failed = 0
        self.fsync_count = 0
        self.fsync_total_s = 0.0
        self.fsync_max_s = 0.0
        self.txn_count = 0
        self.batch_max = 0
        self.fsync_slow = 0
        self.fsync_warn_s = 1.0

    def reset(self) -> None:
        self.packets_received = 0
        self.packets_sent = 0
        self.min_latency_ms = 0.0
        self.max_latency_ms = 0.0
        self.total_latency_ms = 0.0
        self.latency_count = 0

    def record_latency(self, ms: float) -> None:
        if self.latency_count == 0 or ms < self.min_latency_ms:
            self.min_latency_ms = ms
        if ms > self.max_latency_ms:
            self.max_latency_ms = ms
        self.total_latency_ms += ms
        self.latency_count += 1

    @property
    def avg_latency_ms(self) -> float:
        return self.total_latency_ms / self.latency_count if self.latency_count else 0.0

    def record_fsync(self, seconds: float, batch: int) -> None:
        self.fsync_count += 1
        self.fsync_total_s += seconds
        self.fsync_max_s = max(self.fsync_max_s, seconds)
        if seconds > self.fsync_warn_s:
            self.fsync_slow += 1
        self.txn_count += batch
        self.batch_max = max(self.batch_max, batch)
