"""The completion probability of ``grant_timeline``: will the application be ready?

A normal approximation over the remaining work's estimates, scaled by the pace the
team has shown so far (see ``completion``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from statistics import NormalDist
from typing import Any

from zerogate.workflows.grants.dates import EPS, offset_day

EFFORT_CV = 0.25  # an effort estimate's typical error, as a fraction of the estimate
MIN_VELOCITY = 0.5  # the slowest pace the evidence may imply, against the plan


def completion(p: Mapping[str, Any], team: float) -> dict[str, Any]:
    """Probability of finishing by the deadline, by a normal approximation.

    - velocity: effort earned over the effort the baseline (full efforts, as late as
      the deadline allows) needed done by today. A team behind even that has shown a
      slower pace, and the rest is scaled by it (never below 0.5); a team at or ahead
      of it (or with nothing due yet) keeps the planned pace, 1.0;
    - mean finish: the remaining work ends no sooner than its longest dependency chain
      (L working days) nor than its total shared by the team (T / team); the larger,
      over the velocity;
    - spread: each remaining estimate errs independently by 25% of itself (EFFORT_CV);
      the deviation is the root of the summed squares along the binding bound (the
      chain, or all the work over the team), over the velocity;
    - probability: P(finish <= working days left) under that normal; 1.0 with nothing
      left. A plan with no slack thus has 0.5: on time only if the estimates err short
      as often as long.
    """
    rem = [r["remaining_days"] for r in p["components"]]
    chain = [r["remaining_days"] for r in p["components"] if r["critical"]]
    earned, planned, left = p["earned"], p["planned_to_date"], p["working_days_left"]
    velocity = 1.0 if planned <= earned + EPS else max(MIN_VELOCITY, earned / planned)
    spread = [(p["critical_days"], EFFORT_CV * math.hypot(*chain), "critical path"),
              (sum(rem) / team, EFFORT_CV * math.hypot(*rem) / team, "team capacity")]
    mean, sd, bound = max(spread)
    mean, sd = mean / velocity, sd / velocity
    probability = 1.0 if sum(rem) <= EPS else NormalDist(mean, sd).cdf(left)
    return {"velocity": round(velocity, 4), "mean_days": round(mean, 4),
            "sd_days": round(sd, 4), "bound": bound if sum(rem) > EPS else "done",
            "probability": round(probability, 6), "working_days_left": left,
            "expected_finish": offset_day(date.fromisoformat(p["as_of"]), max(mean, 1.0), 1)}
