"""The critical-path schedule of ``grant_timeline``, planned backwards from the deadline.

A forward pass (earliest start and finish of the remaining work if it starts today)
and a backward pass from the deadline (latest start and finish), their difference
being the slack; milestones at T-90/T-60/T-30 and checkpoints every 14 days, each with
what must be finished by then. ``plan`` returns it all as JSON for the other steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from zerogate.workflows.grants.components import Component, order
from zerogate.workflows.grants.dates import EPS, offset_day, workdays

MILESTONES = (90, 60, 30)  # days before the deadline
CHECKPOINT_DAYS = 14


def forward(components: list[Component], dur: Mapping[str, float]) -> dict[str, float]:
    """Earliest start of each component, in working days from today."""
    deps = {c.name: c.depends_on for c in components}
    start: dict[str, float] = {}
    for name in order(components):
        start[name] = max((start[d] + dur[d] for d in deps[name]), default=0.0)
    return start


def backward(components: list[Component], dur: Mapping[str, float],
             horizon: float) -> dict[str, float]:
    """Latest start of each component so that all finish by ``horizon`` (working days
    from today): a component's latest finish is the earliest latest start among the
    components depending on it, or the horizon."""
    after: dict[str, list[str]] = {c.name: [] for c in components}
    for c in components:
        for d in c.depends_on:
            after[d].append(c.name)
    start: dict[str, float] = {}
    for name in reversed(order(components)):
        start[name] = min((start[s] for s in after[name]), default=horizon) - dur[name]
    return start


def critical_chain(components: list[Component], dur: Mapping[str, float],
                   early: Mapping[str, float]) -> list[str]:
    """The longest chain of remaining work: from the last to finish, back through the
    dependency that finishes latest."""
    deps = {c.name: c.depends_on for c in components}
    name: str | None = max(early, key=lambda n: (early[n] + dur[n], n))
    chain = []
    while name is not None:
        chain.append(name)
        name = max(deps[name], key=lambda d: (early[d] + dur[d], d), default=None)
    return chain[::-1]


def done_by(t: float, late: Mapping[str, float], remaining: Mapping[str, float],
            components: list[Component]) -> float:
    """Share of all effort done at working day ``t`` if each component's remaining
    work runs from its latest start."""
    total = sum(c.effort_days for c in components)
    done = sum(c.effort_days - remaining[c.name] + min(max(t - late[c.name], 0.0),
                                                       remaining[c.name]) for c in components)
    return min(done / total, 1.0)


def plan(components: list[Component], as_of: date, deadline: date) -> dict[str, Any]:
    """The schedule from ``as_of`` to the deadline (see the module docstring), as JSON.

    Offsets are working days from ``as_of``; the baseline (every component with its
    full effort, as late as the deadline allows) says how much should be done by now.
    """
    horizon = workdays(as_of, deadline + timedelta(days=1))
    remaining = {c.name: c.effort_days * (1.0 - c.done) for c in components}
    early = forward(components, remaining)
    late = backward(components, remaining, horizon)
    baseline = backward(components, {c.name: c.effort_days for c in components}, horizon)
    chain = [n for n in critical_chain(components, remaining, early) if remaining[n] > EPS]
    rows = []
    for c in components:
        es, ls, rem = early[c.name], late[c.name], remaining[c.name]
        rows.append({"name": c.name, "effort_days": c.effort_days, "done": c.done,
                     "remaining_days": round(rem, 4), "depends_on": c.depends_on,
                     "earliest_start": offset_day(as_of, es),
                     "earliest_finish": offset_day(as_of, es + rem, 1),
                     "latest_start": offset_day(as_of, ls),
                     "latest_finish": offset_day(as_of, ls + rem, 1),
                     "slack_days": round(ls - es, 4), "critical": c.name in chain,
                     "late": rem > EPS and ls < -EPS})
    due = _due_list(components, late, remaining)
    return {"as_of": as_of.isoformat(), "deadline": deadline.isoformat(),
            "working_days_left": horizon, "components": rows, "critical_path": chain,
            "critical_days": round(max((early[n] + remaining[n] for n in chain), default=0), 4),
            "total_effort": round(sum(c.effort_days for c in components), 4),
            "earned": round(sum(c.effort_days * c.done for c in components), 4),
            "planned_to_date": round(sum(min(max(-baseline[c.name], 0.0), c.effort_days)
                                         for c in components), 4),
            "milestones": _milestones(as_of, deadline, due),
            "checkpoints": _checkpoints(as_of, deadline, due)}


Due = Callable[[float, float], dict[str, Any]]


def _due_list(components: list[Component], late: Mapping[str, float],
              remaining: Mapping[str, float]) -> Due:
    """What the latest schedule finishes and starts in (lo, hi], and the share done by hi."""
    open_ = [c.name for c in components if remaining[c.name] > EPS]

    def due(lo: float, hi: float) -> dict[str, Any]:
        ends = {n: late[n] + remaining[n] for n in open_}
        return {"required_done": round(done_by(hi, late, remaining, components), 4),
                "finishing": [n for n in open_ if lo < ends[n] <= hi + EPS],
                "starting": [n for n in open_ if lo < late[n] <= hi + EPS],
                "underway": [n for n in open_ if late[n] <= hi + EPS < ends[n]]}
    return due


def _milestones(as_of: date, deadline: date, due: Due) -> list[dict[str, Any]]:
    out = []
    for days in MILESTONES:
        day = deadline - timedelta(days=days)
        d = due(-math.inf, workdays(as_of, day + timedelta(days=1)))
        out.append({"label": f"T-{days}", "date": day.isoformat(), "past": day < as_of,
                    "required_done": d["required_done"], "must_finish": d["finishing"],
                    "must_start": d["underway"]})
    return out


def _checkpoints(as_of: date, deadline: date, due: Due) -> list[dict[str, Any]]:
    out, lo = [], -math.inf
    day = as_of + timedelta(days=CHECKPOINT_DAYS)
    while day < deadline:
        hi = workdays(as_of, day + timedelta(days=1))
        d = due(lo, hi)
        out.append({"date": day.isoformat(), "required_done": d["required_done"],
                    "finishing": d["finishing"], "starting": d["starting"]})
        lo, day = hi, day + timedelta(days=CHECKPOINT_DAYS)
    return out
