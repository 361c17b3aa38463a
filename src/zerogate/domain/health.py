"""One health score with its reason: 100 is calm, 60 is at a high threshold, 0 at critical.

A resource scores 100 up to as far below ``high`` as ``critical`` lies above it, then
falls linearly to 60 at ``high`` and to 0 at ``critical``. The instance scores as its
worst resource, minus named penalties (a failure rate, ...), and says which resource or
penalty limits it, with the numbers. Stale samples cap the score at 50: an engine that
cannot see its resources does not know it is healthy. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from zerogate.errors import InvalidConfig

Status = Literal["healthy", "degraded", "critical"]

AT_HIGH = 60.0
STALE_CAP = 50
HEALTHY_FROM = 80
DEGRADED_FROM = 40
STALE = "stale samples"


@dataclass(frozen=True, slots=True)
class Reading:
    """One resource's level and its thresholds as fractions (memory at 0.72 of its limit)."""

    value: float
    high: float
    critical: float

    def __post_init__(self) -> None:
        if not 0 <= self.high < self.critical:
            raise InvalidConfig(f"high ({self.high}) must lie within 0 and critical "
                                f"({self.critical})")
        if not 0 <= self.value < math.inf:
            raise InvalidConfig(f"a reading must be finite and not negative, got {self.value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """A score 0..100, what limits it, and a sentence naming the numbers."""

    score: int
    limiting: str | None
    status: Status
    reason: str


def reading_score(reading: Reading) -> float:
    """Score one resource: 100 well below high, 60 at high, 0 at critical, linear between.

    "Well below" is the band's width under high, but at least half-way down to 0: with
    a wide band (PSI pressure: high 20 %, critical 50 %) an idle reading scores 100.
    """
    value, high, critical = reading.value, reading.high, reading.critical
    width = critical - high
    if value >= critical:
        return 0.0
    if value > high:
        return AT_HIGH * (critical - value) / width
    calm = max(high - width, high / 2)
    if value <= calm:
        return 100.0
    return 100.0 - (100.0 - AT_HIGH) * (value - calm) / (high - calm)


def health_score(readings: Mapping[str, Reading], *, is_stale: bool = False,
                 extra: Mapping[str, float] | None = None) -> Health:
    """Score the instance from its worst resource, minus ``extra`` penalties in points."""
    penalties = dict(extra or {})
    _check_penalties(penalties)
    scores = {name: reading_score(reading) for name, reading in readings.items()}
    worst = min(scores, key=scores.__getitem__, default=None)
    base = 100.0 if worst is None else scores[worst]
    # Rounded, not floored: float noise at a band edge (79.99999...) must still read 80.
    score = round(max(0.0, base - sum(penalties.values())))
    limiting, reason = _limiting(worst, base, readings, penalties)
    if is_stale and score > STALE_CAP:
        return _health(STALE_CAP, STALE, f"samples are stale, so the score is capped at "
                                         f"{STALE_CAP} until fresh ones arrive; {reason}")
    if is_stale:
        reason += "; samples are stale"
    return _health(score, limiting, reason)


def _limiting(worst: str | None, base: float, readings: Mapping[str, Reading],
              penalties: Mapping[str, float]) -> tuple[str | None, str]:
    top = max(penalties, key=penalties.__getitem__, default=None)
    resource = None if worst is None or base == 100.0 else describe(worst, readings[worst])
    rest = {name: points for name, points in penalties.items() if points > 0}
    if top is not None and penalties[top] > 100.0 - base:
        del rest[top]
        return top, _sentence(f"{top} costs {penalties[top]:g} points", resource, rest)
    if worst is None or resource is None:
        return None, _sentence("every resource is well below its high threshold", None, rest)
    return worst, _sentence(resource, None, rest)


def describe(name: str, reading: Reading) -> str:
    """Say where a resource stands against its thresholds, in percent."""
    value = f"{name} at {reading.value:.0%}"
    if reading.value >= reading.critical:
        return f"{value} is at or above its critical threshold {reading.critical:.0%}"
    if reading.value > reading.high:
        return f"{value} is above its high threshold {reading.high:.0%}"
    return f"{value} is nearing its high threshold {reading.high:.0%}"


def _sentence(main: str, also: str | None, penalties: Mapping[str, float]) -> str:
    parts = [main] if also is None else [main, also]
    if penalties:
        parts.append("penalties: " + ", ".join(f"{n} -{p:g}" for n, p in penalties.items()))
    return "; ".join(parts)


def _health(score: int, limiting: str | None, reason: str) -> Health:
    return Health(score=score, limiting=limiting, status=status_of(score), reason=reason)


def status_of(score: int) -> Status:
    """Name a score: healthy from 80, degraded from 40, critical below."""
    if score >= HEALTHY_FROM:
        return "healthy"
    return "degraded" if score >= DEGRADED_FROM else "critical"


def _check_penalties(penalties: Mapping[str, float]) -> None:
    for name, points in penalties.items():
        if not 0 <= points < math.inf:
            raise InvalidConfig(f"penalty {name!r} must be finite points, not negative; "
                                f"got {points}")
