"""The task handlers of ``grant_timeline``, one per step of its DAG.

Module-level functions, registered by name (per-step telemetry is by task name). The
plan is small, so it passes between the steps as their JSON results.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from zerogate import TaskContext
from zerogate.workflows.grants.components import Component
from zerogate.workflows.grants.models import GrantOutput
from zerogate.workflows.grants.progress import completion
from zerogate.workflows.grants.risks import risks
from zerogate.workflows.grants.schedule import plan


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
