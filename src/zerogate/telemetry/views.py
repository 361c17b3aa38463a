"""System status and dashboard data as stable JSON structures, from plain inputs.

Status is the worst of what it is told, each with a reason a person can act on:
resources (the governor's health), firing alerts, active bottlenecks, pauses, the
recent failure rate, and whether the store answers. The structures carry a
``schema`` name; a field is only ever added to a schema, never renamed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zerogate.domain.alerts import Alert, AlertLevel, AlertPhase
from zerogate.domain.bottlenecks import Severity, Tracked
from zerogate.domain.health import Health
from zerogate.domain.model import Priority
from zerogate.domain.records import LiveView

STATUS_SCHEMA = "zerogate.status/1"
DASHBOARD_SCHEMA = "zerogate.dashboard/1"
RANK = {"healthy": 0, "degraded": 1, "critical": 2}
DEGRADED_FAILURE_RATE = 0.10
CRITICAL_FAILURE_RATE = 0.50
MIN_ATTEMPTS = 20  # attempts before a failure rate says anything


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusInputs:
    """What status is judged from; every field may be absent."""

    at: float
    health: Health | None = None
    alerts: Sequence[Alert] = ()
    findings: Sequence[Tracked] = ()
    paused: frozenset[str] = frozenset()
    attempts: int = 0  # lately (the last minute)
    failures: int = 0
    store_error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def system_status(i: StatusInputs) -> dict[str, Any]:
    """``{"status": healthy|degraded|critical, "reasons": [...], ...}``."""
    judged: list[tuple[str, str]] = []
    if i.store_error is not None:
        judged.append(("critical", f"the store does not answer: {i.store_error}"))
    if i.health is not None and i.health.status != "healthy":
        judged.append((i.health.status, f"health {i.health.score}/100: {i.health.reason}"))
    for a in i.alerts:
        if a.phase is AlertPhase.FIRING and not a.is_silenced and a.level >= AlertLevel.HIGH:
            judged.append(("critical" if a.level is AlertLevel.CRITICAL else "degraded",
                           f"{a.level.label} alert: {a.message}"))
    for t in i.findings:
        if t.finding.severity >= Severity.MEDIUM:
            level = "critical" if t.finding.severity is Severity.CRITICAL else "degraded"
            judged.append((level, f"{t.finding.severity.label} bottleneck: {t.finding.summary}"))
    if "global" in i.paused:
        judged.append(("degraded", "all work is paused (resume to start work again)"))
    judged += _failures(i.attempts, i.failures)
    status = max((s for s, _ in judged), key=RANK.__getitem__, default="healthy")
    reasons = [r for s, r in sorted(judged, key=lambda x: -RANK[x[0]])]
    return {"schema": STATUS_SCHEMA, "status": status, "reasons": reasons, "at": i.at,
            "health": None if i.health is None else {
                "score": i.health.score, "limiting": i.health.limiting,
                "status": i.health.status, "reason": i.health.reason},
            "paused": sorted(i.paused), **i.extra}


def _failures(attempts: int, failures: int) -> list[tuple[str, str]]:
    if attempts < MIN_ATTEMPTS:
        return []
    rate = failures / attempts
    text = f"{rate:.0%} of the last minute's {attempts} attempts failed"
    if rate >= CRITICAL_FAILURE_RATE:
        return [("critical", text)]
    if rate >= DEGRADED_FAILURE_RATE:
        return [("degraded", text)]
    return []


def queue_view(live: LiveView, now: float, top: int = 20) -> dict[str, Any]:
    """Open work by state, priority, task type and key, and the oldest wait."""
    by_name = sorted(live.ready_by_name.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {"tasks": dict(live.tasks), "workflows": dict(live.workflows),
            "ready_by_priority": {Priority(p).name.lower(): n
                                  for p, n in sorted(live.ready_by_priority.items())},
            "ready_by_task": dict(by_name),
            "ready_by_key": dict(sorted(live.ready_by_key.items())),
            "running_by_key": dict(sorted(live.running_by_key.items())),
            "oldest_wait_s": (None if live.oldest_ready_at is None
                              else max(0.0, now - live.oldest_ready_at))}


def active_workflows(live: LiveView, now: float) -> list[dict[str, Any]]:
    return [{"id": w.workflow_id, "name": w.name, "tenant": w.tenant, "state": w.state.value,
             "priority": Priority(w.priority).name.lower(), "open_tasks": w.open_tasks,
             "total_tasks": w.total_tasks,
             "progress": (1 - w.open_tasks / w.total_tasks) if w.total_tasks else 0.0,
             "age_s": max(0.0, now - w.created_at)} for w in live.active]


def alert_view(a: Alert) -> dict[str, Any]:
    return {"resource": a.resource, "level": a.level.label, "phase": a.phase.value,
            "message": a.message, "started_at": a.started_at, "fired_at": a.fired_at,
            "resolved_at": a.resolved_at, "is_silenced": a.is_silenced}


def recommendations(findings: Sequence[Tracked], extra: Sequence[str] = ()) -> list[str]:
    """What to change, the most severe first, without repeats."""
    out: list[str] = []
    for t in sorted(findings, key=lambda t: -t.finding.severity):
        if t.finding.recommendation not in out:
            out.append(t.finding.recommendation)
    return out + [e for e in extra if e not in out]
