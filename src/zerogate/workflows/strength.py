"""Relationship strength from interaction history: recency, frequency, reciprocity.

Shared by sponsor analysis (meetings, calls, letters) and e-mail analysis (messages),
so one contact scores the same whichever history it comes from. Pure: ``now`` and the
timestamps (seconds since the epoch) come in as arguments.

- recency: ``2 ** (-days_since_last / half_life)``, 1.0 for contact today;
- frequency: interactions weighted by the same decay, saturating:
  ``1 - exp(-weighted / saturation)`` (about 0.63 at ``saturation`` recent contacts);
- reciprocity: ``1 - |ours - theirs| / (ours + theirs)``, 1.0 when both sides start
  as often, 0.0 when only one side ever does;
- score: ``100 * (0.40 recency + 0.35 frequency + 0.25 reciprocity)``, with levels
  strong (>= 70), moderate (>= 40), weak (>= 15), dormant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

DAY = 86_400.0
WEIGHTS = (0.40, 0.35, 0.25)
LEVELS = ((70.0, "strong"), (40.0, "moderate"), (15.0, "weak"), (0.0, "dormant"))


@dataclass(frozen=True, slots=True)
class Interaction:
    """One contact at ``at`` (epoch seconds); ``ours`` if we started it."""

    at: float
    ours: bool


@dataclass(frozen=True, slots=True)
class Strength:
    recency: float
    frequency: float
    reciprocity: float
    score: float
    level: str
    interactions: int
    last_days: float | None

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {"recency": round(self.recency, 4), "frequency": round(self.frequency, 4),
                "reciprocity": round(self.reciprocity, 4), "score": round(self.score, 2),
                "level": self.level, "interactions": self.interactions,
                "last_days": None if self.last_days is None else round(self.last_days, 2)}


def strength(history: Iterable[Interaction], now: float, *, half_life_days: float = 90.0,
             saturation: float = 6.0) -> Strength:
    """Score one relationship's history as of ``now`` (later interactions are ignored)."""
    past = [i for i in history if i.at <= now]
    if not past:
        return Strength(0.0, 0.0, 0.0, 0.0, "dormant", 0, None)
    ages = [(now - i.at) / DAY for i in past]
    recency = _decay(min(ages), half_life_days)
    weighted = sum(_decay(a, half_life_days) for a in ages)
    frequency = 1.0 - math.exp(-weighted / saturation)
    ours = sum(1 for i in past if i.ours)
    reciprocity = 1.0 - abs(ours - (len(past) - ours)) / len(past)
    score = 100.0 * (WEIGHTS[0] * recency + WEIGHTS[1] * frequency + WEIGHTS[2] * reciprocity)
    return Strength(recency, frequency, reciprocity, score, level(score), len(past), min(ages))


def level(score: float) -> str:
    return next(name for floor, name in LEVELS if score >= floor)


def _decay(age_days: float, half_life_days: float) -> float:
    return float(2.0 ** (-max(age_days, 0.0) / half_life_days))
