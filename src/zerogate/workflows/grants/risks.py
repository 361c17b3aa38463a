"""The risks to a ``grant_timeline`` deadline, ranked by severity.

Read from the plan: components behind, little or no slack on the critical path, a
chain or a workload longer than the time left, and a close deadline with little done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from zerogate.workflows.grants.dates import EPS

CLOSE_DAYS, CLOSE_SHARE = 30, 0.8  # deadline within 30 days needs 80% of effort done
LOW_SLACK = 3.0  # working days of slack on the critical path that is little
SEVERITY = ("critical", "high", "medium")


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
