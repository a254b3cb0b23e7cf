"""RateLogger (ZooKeeperServer.RATE_LOGGER): a repeated WARN message is logged once per
interval with a count, so a client hammering a full quota cannot flood the log.

Pure: the caller passes the time and gets back the lines to log at WARN.
"""

from __future__ import annotations


class RateLogger:
    __slots__ = ("interval_ms", "msg", "value", "timestamp", "count")

    def __init__(self, interval_ms: int = 100) -> None:
        self.interval_ms = interval_ms
        self.msg: str | None = None
        self.value: str | None = None
        self.timestamp = 0
        self.count = 0

    def flush(self) -> list[str]:
        out = []
        if self.msg is not None and self.count > 0:
            line = f"[{self.count} times] " if self.count > 1 else ""
            line += f"Message: {self.msg}"
            if self.value is not None:
                line += f" Last value:{self.value}"
            out.append(line)
        self.msg = None
        self.value = None
        self.count = 0
        return out

    def rate_limit_log(self, msg: str, now_ms: int, value: str | None = None) -> list[str]:
        """rateLimitLog: the WARN lines this message produces now (often none)."""
        if msg == self.msg:
            self.count += 1
            self.value = value
            if now_ms - self.timestamp >= self.interval_ms:
                out = self.flush()
                self.msg, self.timestamp, self.value = msg, now_ms, value
                return out
            return []
        out = self.flush()
        self.msg, self.value, self.timestamp = msg, value, now_ms
        out.append(f"Message:{msg} Value:{'null' if value is None else value}")
        return out
