"""A mergeable histogram of durations, for metrics, history and Prometheus.

Buckets grow by a tenth of a decade (about 26 % each), from 10 µs to about 53 min, so a
quantile read back is within 13 % of the true value; every fifth bound is a
Prometheus bucket (1, 3.16, 10, 31.6 ... ms). Digests of different instances, minutes
or hours add up exactly, which is what makes rollups and multi-instance views honest.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

FIRST_EXPONENT = -50  # 10 ** (-50 / 10) s = 10 µs
BOUNDS: tuple[float, ...] = tuple(10 ** (k / 10) for k in range(FIRST_EXPONENT, 36))
OVERFLOW = len(BOUNDS)  # index of the bucket above the last bound
# Prometheus buckets: every fifth bound from 1 ms (two a decade), plus +Inf implied.
PROMETHEUS_INDEXES: tuple[int, ...] = tuple(range(20, len(BOUNDS), 5))


@dataclass(slots=True)
class Digest:
    """Counts of values per bucket, with their count, sum and maximum."""

    count: int = 0
    total: float = 0.0
    max: float = 0.0
    buckets: dict[int, int] = field(default_factory=dict)

    def add(self, value: float) -> None:
        self.add_sorted((value,))

    def add_sorted(self, values: Sequence[float]) -> None:
        """Add ascending ``values``: cost grows with the buckets they span, not their number."""
        n = len(values)
        if not n:
            return
        self.count += n
        self.total += math.fsum(values)
        self.max = max(self.max, values[-1])
        start = 0
        while start < n:
            index = bisect.bisect_left(BOUNDS, values[start])
            end = n if index == OVERFLOW else bisect.bisect_right(values, BOUNDS[index], start)
            self.buckets[index] = self.buckets.get(index, 0) + end - start
            start = end

    def merge(self, other: Digest) -> None:
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile, interpolated inside its bucket; None when empty."""
        if not self.count:
            return None
        rank, seen = q * self.count, 0
        for index in sorted(self.buckets):
            n = self.buckets[index]
            if seen + n >= rank:
                low = BOUNDS[index - 1] if index > 0 else 0.0
                high = BOUNDS[index] if index < OVERFLOW else self.max
                value = low + (high - low) * ((rank - seen) / n)
                return min(value, self.max)
            seen += n
        return self.max

    def cumulative(self, indexes: Iterable[int] = PROMETHEUS_INDEXES) -> list[tuple[float, int]]:
        """(upper bound, values at or below it) for each bound named by ``indexes``."""
        ordered = sorted(self.buckets.items())
        out: list[tuple[float, int]] = []
        seen, at = 0, 0
        for index in indexes:
            while at < len(ordered) and ordered[at][0] <= index:
                seen += ordered[at][1]
                at += 1
            out.append((BOUNDS[index], seen))
        return out

    def to_json(self) -> dict[str, object]:
        return {"n": self.count, "sum": self.total, "max": self.max,
                "b": {str(k): v for k, v in sorted(self.buckets.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Digest:
        raw = data.get("b", {})
        assert isinstance(raw, Mapping)
        # Our own JSON: counts are ints already; only the keys need converting.
        return cls(count=_int(data.get("n")), total=_float(data.get("sum")),
                   max=_float(data.get("max")), buckets={int(k): v for k, v in raw.items()})


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def exact_quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ascending ``ordered`` (nearest rank); None when empty."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
