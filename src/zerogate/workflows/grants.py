"""Template ``grant_timeline``: plan a grant application backwards from its deadline.

Replaces a grant platform's timeline planner. The params describe the application's
components (effort in working days, the fraction done, what each depends on), or a
seed of a generated one. The DAG::

    grant_plan --+-- grant_progress --+-- grant_report
                 +-- grant_risks -----+

- plan: a critical-path schedule in working days (Monday to Friday, numpy's business
  days) from ``as_of`` to the deadline: a forward pass (earliest start and finish of
  the remaining work if it starts today) and a backward pass from the deadline (latest
  start and finish), their difference being the slack; milestones at T-90/T-60/T-30
  and checkpoints every 14 days, each with what must be finished by then;
- progress: the probability of finishing in time (``completion``);
- risks: what threatens the deadline, ranked by severity (``risks``);
- report: all of it, in the output model.
"""

from __future__ import annotations

import graphlib
import math
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pydantic

from zerogate.registry import Registry, Workflow
from zerogate.runtime.executor import TaskContext
from zerogate.workflows.samples import Cast

EFFORT_CV = 0.25  # an effort estimate's typical error, as a fraction of the estimate
MIN_VELOCITY = 0.5  # the slowest pace the evidence may imply, against the plan
MILESTONES = (90, 60, 30)  # days before the deadline
CHECKPOINT_DAYS = 14
CLOSE_DAYS, CLOSE_SHARE = 30, 0.8  # deadline within 30 days needs 80% of effort done
LOW_SLACK = 3.0  # working days of slack on the critical path that is little
SEVERITY = ("critical", "high", "medium")
EPS = 1e-9


class Component(pydantic.BaseModel):
    """One piece of the application."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(min_length=1, max_length=100)
    effort_days: float = pydantic.Field(gt=0, le=1000,
                                        description="working days of one person's effort")
    done: float = pydantic.Field(0.0, ge=0, le=1, description="fraction done so far")
    depends_on: list[str] = pydantic.Field(
        default_factory=list, max_length=100, description="components that finish first")


class GrantParams(pydantic.BaseModel):
    """A grant application to plan: its components, or a sample seed (exactly one)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(min_length=1, max_length=200)
    deadline: date = pydantic.Field(description="submission day (work ends that day)")
    as_of: date = pydantic.Field(description="today, for planning: work starts this day")
    components: list[Component] | None = pydantic.Field(None, min_length=1, max_length=200)
    sample: int | None = pydantic.Field(None, ge=0, le=2**31,
                                        description="seed of a generated component list")
    team: float = pydantic.Field(2.0, gt=0, le=100, description="people working on it, "
                                 "each on one component at a time")

    @pydantic.field_validator("components")
    @classmethod
    def _acyclic(cls, components: list[Component] | None) -> list[Component] | None:
        problems = [] if components is None else dependency_problems(components)
        if problems:
            raise ValueError("; ".join(problems))
        return components

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> GrantParams:
        if (self.components is None) == (self.sample is None):
            raise ValueError("give exactly one of components or sample")
        if self.deadline < self.as_of:
            raise ValueError(f"the deadline {self.deadline} is before as_of {self.as_of}")
        if (self.deadline - self.as_of).days > 3 * 366:
            raise ValueError("the deadline is more than three years after as_of")
        return self


class Planned(pydantic.BaseModel):
    name: str
    effort_days: float
    done: float
    remaining_days: float
    depends_on: list[str]
    earliest_start: date
    earliest_finish: date
    latest_start: date
    latest_finish: date
    slack_days: float = pydantic.Field(description="working days; negative: behind")
    critical: bool
    late: bool = pydantic.Field(description="its latest start is already past")


class Milestone(pydantic.BaseModel):
    label: str
    date: date
    past: bool
    required_done: float = pydantic.Field(ge=0, le=1, description="share of all effort")
    must_finish: list[str]
    must_start: list[str]


class Checkpoint(pydantic.BaseModel):
    date: date
    required_done: float = pydantic.Field(ge=0, le=1)
    finishing: list[str]
    starting: list[str]


class Risk(pydantic.BaseModel):
    severity: Literal["critical", "high", "medium"]
    kind: str
    component: str | None
    days: float | None
    message: str


class GrantOutput(pydantic.BaseModel):
    name: str
    as_of: date
    deadline: date
    working_days_left: int
    total_effort: float
    earned: float
    planned_to_date: float
    velocity: float
    probability: float = pydantic.Field(ge=0, le=1)
    expected_finish: date
    bound: str = pydantic.Field(description="what limits the finish: critical path or team")
    critical_path: list[str]
    plan: list[Planned]
    milestones: list[Milestone]
    checkpoints: list[Checkpoint]
    risks: list[Risk]


# --- validation and calendar -------------------------------------------------------------

def dependency_problems(components: list[Component]) -> list[str]:
    """Duplicate names, unknown or self dependencies, and a cycle, each named."""
    names = [c.name for c in components]
    problems = [f"component {n!r} is listed twice" for n in sorted(set(names))
                if names.count(n) > 1]
    for c in components:
        problems += [f"component {c.name!r} depends on unknown {d!r}"
                     for d in c.depends_on if d not in names]
        problems += [f"component {c.name!r} depends on itself" for d in c.depends_on
                     if d == c.name]
    if not problems:
        try:
            order(components)
        except graphlib.CycleError as exc:
            problems.append(f"dependency cycle: {' -> '.join(reversed(exc.args[1]))} "
                            "(each depends on the next)")
    return problems


def order(components: Iterable[Component]) -> list[str]:
    """Names, each after everything it depends on (graphlib.CycleError on a cycle)."""
    return list(graphlib.TopologicalSorter({c.name: c.depends_on for c in components})
                .static_order())


def workdays(start: date, end: date) -> int:
    """Working days in [start, end) (negative when end is before start)."""
    return int(np.busday_count(start, end))


def workday(as_of: date, offset: int) -> date:
    """The working day ``offset`` working days after as_of (as_of rolled to a workday)."""
    day: np.datetime64 = np.busday_offset(as_of, offset, roll="forward")
    return date.fromisoformat(str(day))


# --- scheduling ------------------------------------------------------------------------

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
                     "earliest_start": _on(as_of, es), "earliest_finish": _on(as_of, es + rem, 1),
                     "latest_start": _on(as_of, ls), "latest_finish": _on(as_of, ls + rem, 1),
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


def _on(as_of: date, offset: float, end: int = 0) -> str:
    """The day a start offset falls on, or (``end``) the day a finish offset ends."""
    t = round(offset, 6)
    return workday(as_of, math.ceil(t) - 1 if end else math.floor(t)).isoformat()


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


# --- progress and risks ----------------------------------------------------------------

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
            "expected_finish": _on(date.fromisoformat(p["as_of"]), max(mean, 1.0), 1)}


def risks(p: Mapping[str, Any], team: float) -> list[dict[str, Any]]:
    """What threatens the deadline, most severe first: components behind (negative
    slack), no or little slack on the critical path, a dependency chain longer than the
    time left, more work than the team can do in it, and a close deadline with little
    done. Within a severity, the most days first."""
    open_ = [r for r in p["components"] if r["remaining_days"] > EPS]
    left, chain = p["working_days_left"], " -> ".join(p["critical_path"])
    out = [_risk("critical", "behind", r["name"], -r["slack_days"],
                 f"{r['name']} is {-r['slack_days']:.1f} working days behind: it had to start "
                 f"by {r['latest_start']} and can start {r['earliest_start']} at the earliest")
           for r in open_ if r["slack_days"] < -EPS]
    slack = min((r["slack_days"] for r in open_ if r["critical"]), default=-1.0)
    if abs(slack) <= EPS:
        out.append(_risk("high", "no_slack", None, 0.0, f"zero slack on the critical path "
                         f"{chain}: any delay there moves the submission"))
    elif EPS < slack < LOW_SLACK:
        out.append(_risk("medium", "little_slack", None, slack, f"only {slack:.1f} working "
                         f"days of slack on the critical path {chain}"))
    if p["critical_days"] > left + EPS:
        out.append(_risk("critical", "chain_too_long", None, p["critical_days"] - left,
                         f"the dependency chain {chain} needs {p['critical_days']:.1f} "
                         f"working days; {left} are left"))
    work = sum(r["remaining_days"] for r in open_)
    if work / team > left + EPS:
        out.append(_risk("high", "capacity", None, work / team - left,
                         f"{work:.1f} days of work remain for a team of {team:g} over {left} "
                         f"working days ({work / team:.1f} each)"))
    days = (date.fromisoformat(p["deadline"]) - date.fromisoformat(p["as_of"])).days
    share = p["earned"] / p["total_effort"]
    if days < CLOSE_DAYS and share < CLOSE_SHARE:
        out.append(_risk("high", "deadline_close", None, float(days),
                         f"the deadline is in {days} days with {share:.0%} of the effort done "
                         f"(under {CLOSE_SHARE:.0%})"))
    return sorted(out, key=lambda r: (SEVERITY.index(r["severity"]), -r["days"], r["message"]))


def _risk(severity: str, kind: str, component: str | None, days: float,
          message: str) -> dict[str, Any]:
    return {"severity": severity, "kind": kind, "component": component,
            "days": round(days, 2), "message": message}


# --- tasks -----------------------------------------------------------------------------

def grant_plan(name: str, as_of: str, deadline: str,
               components: list[dict[str, Any]]) -> dict[str, Any]:
    """Schedule the components backwards from the deadline."""
    parsed = [Component.model_validate(c) for c in components]
    return {"name": name, **plan(parsed, date.fromisoformat(as_of),
                                 date.fromisoformat(deadline))}


def grant_progress(ctx: TaskContext, team: float) -> dict[str, Any]:
    """The probability of finishing in time (see ``completion``)."""
    return completion(ctx.deps["grant_plan"], team)


def grant_risks(ctx: TaskContext, team: float) -> dict[str, Any]:
    """The risks to the deadline, ranked (see ``risks``)."""
    return {"risks": risks(ctx.deps["grant_plan"], team)}


def grant_report(ctx: TaskContext) -> dict[str, Any]:
    """The plan, its milestones and checkpoints, the probability and the risks."""
    p, g = ctx.deps["grant_plan"], ctx.deps["grant_progress"]
    return GrantOutput.model_validate({
        **{k: p[k] for k in ("name", "as_of", "deadline", "working_days_left",
                             "total_effort", "earned", "planned_to_date", "critical_path",
                             "milestones", "checkpoints")},
        **{k: g[k] for k in ("velocity", "probability", "expected_finish", "bound")},
        "plan": p["components"], "risks": ctx.deps["grant_risks"]["risks"],
    }).model_dump(mode="json")


# --- sample data and registration --------------------------------------------------------

def sample_components(seed: int) -> list[Component]:
    """A seeded application: partner agreements and their letters of support, a data
    appendix, budget, narrative, internal review and submission; the earlier pieces
    further along than the later ones."""
    rng = random.Random(seed)
    partners = Cast(seed).orgs(rng.randint(2, 3))
    pace = rng.uniform(0.0, 0.7)

    def part(name: str, low: float, high: float, depth: int, *deps: str) -> Component:
        done = min(max(pace * (1.5 - 0.5 * depth) + rng.uniform(-0.1, 0.1), 0.0), 1.0)
        return Component(name=name, effort_days=round(rng.uniform(low, high), 1),
                         done=round(done * 20) / 20, depends_on=list(deps))

    agreements = [part(f"partner agreement: {o}", 2, 5, 0) for o in partners]
    letters = [part(f"letter of support: {o}", 1, 3, 1, a.name)
               for o, a in zip(partners, agreements, strict=True)]
    parts = [*agreements, *letters, part("data appendix", 4, 8, 0),
             part("budget", 3, 6, 1, *(a.name for a in agreements))]
    parts.append(part("narrative", 8, 15, 1, "data appendix"))
    parts.append(part("internal review", 3, 5, 2, "narrative", "budget",
                      *(x.name for x in letters)))
    return [*parts, part("submission", 0.5, 1.5, 3, "internal review")]


def add_grants(registry: Registry, root: Path) -> None:
    """Declare feature ``grant_timeline``, its tasks and its template (``root`` is
    unused: the template reads and writes no files)."""
    feature = "grant_timeline"
    registry.feature(feature, "essential", description="grant application timeline: "
                     "backwards plan, completion probability and risks")
    steps = [registry.task(fn, run_in="thread", feature=feature, cpu=0.1, memory_mb=5)
             for fn in (grant_plan, grant_progress, grant_risks, grant_report)]

    @registry.template(params=GrantParams, output=GrantOutput, feature=feature)
    def grant_timeline(p: GrantParams) -> Workflow:
        """Plan a grant application backwards from its deadline: critical path,
        milestones, checkpoints, completion probability and ranked risks."""
        parts = p.components if p.components is not None else sample_components(
            p.sample or 0)
        wf = Workflow("grant_timeline")
        first = wf.add(steps[0], {"name": p.name, "as_of": p.as_of.isoformat(),
                                  "deadline": p.deadline.isoformat(),
                                  "components": [c.model_dump() for c in parts]})
        odds = wf.add(steps[1], {"team": p.team}, after=[first])
        threats = wf.add(steps[2], {"team": p.team}, after=[first])
        wf.add(steps[3], after=[first, odds, threats])
        return wf
