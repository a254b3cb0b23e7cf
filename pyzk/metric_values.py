"""The metric values the request path updates (ServerMetrics' counters, summaries and their
per-key sets): their own module so the compiled build (pyzk.tools.compiled) can compile them,
apart from pyzk.metrics' Prometheus collector, which subclasses prometheus-client's."""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

RESERVOIR_SIZE = 4096  # AvgMinMaxPercentileCounter.ResettableUniformReservoir.DEFAULT_SIZE
_LONG_MAX, _LONG_MIN = (1 << 63) - 1, -(1 << 63)
_Q4 = Decimal("0.0001")


class Counter:
    """SimpleCounter: one int. `add` is the hot-path call."""
    __slots__ = ("name", "value")

    def __init__(self, name: str) -> None:
        self.name, self.value = name, 0

    def add(self, delta: int = 1) -> None:
        self.value += delta

    def values(self, prefix: str = "") -> list[tuple[str, Any]]:
        return [(prefix + self.name, self.value)]


class Summary:
    """AvgMinMaxCounter (basic) or AvgMinMaxPercentileCounter (advanced, uniform reservoir)."""
    __slots__ = ("name", "advanced", "count", "total", "min", "max", "_res", "_rng", "_w",
                 "_next")

    def __init__(self, name: str, advanced: bool = False) -> None:
        self.name, self.advanced = name, advanced
        self._res: list[int] = []
        self._rng = random.Random()
        self.reset()

    def reset(self) -> None:
        self.count, self.total, self.min, self.max = 0, 0, _LONG_MAX, _LONG_MIN
        self._res = []
        self._w = 1.0
        self._next = 0  # count of the next value to sample (all of them until full)

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        # Every summary samples (Prometheus exports a median even for BASIC ones).
        if self.count < self._next:
            return  # the common case once the reservoir is full: this value is not sampled
        res = self._res
        if len(res) < RESERVOIR_SIZE:
            res.append(value)
            if len(res) == RESERVOIR_SIZE:
                self._skip()
        else:
            res[int(self._rng.random() * RESERVOIR_SIZE)] = value
            self._skip()

    def _skip(self) -> None:
        """Li's Algorithm L: the same uniform sample as Java's algorithm R (one random draw per
        value), but it draws only when a value is kept: the index of the next kept value."""
        rnd = self._rng.random
        self._w *= math.exp(math.log(1.0 - rnd()) / RESERVOIR_SIZE)
        gap = math.log(1.0 - rnd()) / math.log1p(-self._w) if self._w < 1.0 else 0.0
        self._next = self.count + int(gap) + 1

    def avg(self) -> float:
        if self.count == 0:
            return 0.0
        # AvgMinMaxCounter.getAvg: BigDecimal(total/count).setScale(4, HALF_UP)
        return float(Decimal(self.total / self.count).quantize(_Q4, ROUND_HALF_UP))

    def quantile(self, q: float) -> float:
        """Dropwizard UniformSnapshot.getValue over the reservoir."""
        vals = sorted(self._res)
        n = len(vals)
        if n == 0:
            return 0.0
        pos = q * (n + 1)
        if pos < 1:
            return float(vals[0])
        if pos >= n:
            return float(vals[-1])
        lo, hi = vals[int(pos) - 1], vals[int(pos)]
        return lo + (pos - int(pos)) * (hi - lo)

    def values(self, prefix: str = "") -> list[tuple[str, Any]]:
        n = prefix + self.name
        out: list[tuple[str, Any]] = [
            ("avg_" + n, self.avg()), ("min_" + n, 0 if self.count == 0 else self.min),
            ("max_" + n, 0 if self.count == 0 else self.max), ("cnt_" + n, self.count),
            ("sum_" + n, self.total)]
        if self.advanced:
            for label, q in (("p50_", 0.5), ("p95_", 0.95), ("p99_", 0.99), ("p999_", 0.999)):
                out.append((label + n, _java_round(self.quantile(q))))
        return out


def _java_round(x: float) -> int:
    return int(Decimal(x).quantize(Decimal(1), ROUND_HALF_UP))


class SummarySet:
    """AvgMinMaxCounterSet / AvgMinMaxPercentileCounterSet: one Summary per key, named key_name."""

    def __init__(self, name: str, advanced: bool = False) -> None:
        self.name, self.advanced = name, advanced
        self.by_key: dict[str, Summary] = {}

    def add(self, key: str, value: int) -> None:
        s = self.by_key.get(key)
        if s is None:
            s = self.by_key[key] = Summary(f"{key}_{self.name}", self.advanced)
        s.add(value)

    def values(self) -> list[tuple[str, Any]]:
        return [kv for s in self.by_key.values() for kv in s.values()]


class CounterSet:
    def __init__(self, name: str) -> None:
        self.name = name
        self.by_key: dict[str, int] = {}

    def add(self, key: str, delta: int = 1) -> None:
        self.by_key[key] = self.by_key.get(key, 0) + delta

    def values(self) -> list[tuple[str, Any]]:
        return [(f"{k}_{self.name}", v) for k, v in self.by_key.items()]
