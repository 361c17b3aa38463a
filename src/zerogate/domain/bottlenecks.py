"""Bottleneck rules: from what the engine measured to findings that say what to change.

Four kinds, each a pure function of one evaluation's data:

- ``task``: a task type grew slower or failed more against its own baseline, or waits
  much longer than it runs;
- ``key``: a concurrency key sits at its limit while its queue grows; the limit that
  keeps up comes from Little's law (busy slots = arrival rate x service time);
- ``resource``: the governor holds ready work back because a resource is past a
  threshold;
- ``stage``: one step dominates the critical path of a workflow's runs.

A ``FindingBook`` remembers when each finding opened and resolves it after it was
absent from ``clear_after`` evaluations in a row, so a finding that flickers at its
threshold does not open and resolve every second. Pure: time comes in as ``now``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from zerogate.domain.alerts import AlertLevel

# How much a bottleneck costs: the same four levels as resource alerts.
Severity = AlertLevel


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A bottleneck: what, how bad, why (``summary``) and what to do, in numbers."""

    kind: str
    subject: str
    severity: Severity
    summary: str
    recommendation: str
    evidence: Mapping[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject


@dataclass(frozen=True, slots=True, kw_only=True)
class BottleneckRules:
    """Where the rules draw their lines; the defaults suit second-scale evaluations."""

    min_samples: int = 8  # attempts a window needs before it is judged
    baseline_windows: int = 3  # windows learned before a task type can be judged
    slowdown_ratio: float = 2.0  # median run time against the baseline's
    min_slowdown_s: float = 0.005  # ignore growth smaller than this (timer noise)
    failure_rise: float = 0.2  # failure rate above the baseline's, absolute
    wait_ratio: float = 5.0  # median queue wait against median run time
    min_wait_s: float = 1.0
    stage_share: float = 0.6  # of the critical path, for one step to dominate
    min_makespan_s: float = 0.2
    min_runs: int = 3  # sampled workflow runs before a stage is judged
    drain_target_s: float = 60.0  # how fast a recommended limit should drain a backlog


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskWindow:
    """Attempts of one task type lately: counts, and run and wait medians in seconds."""

    task: str
    attempts: int
    failures: int  # attempts that failed or went to retry
    run_p50_s: float
    run_p95_s: float
    wait_p50_s: float | None  # first attempts only; None when none waited
    done_per_s: float
    last_error: str | None = None

    @property
    def failure_rate(self) -> float:
        return self.failures / self.attempts if self.attempts else 0.0


@dataclass(slots=True)
class Baseline:
    """What a task type is normally like: an EWMA of its windows while they are normal."""

    run_p50_s: float = 0.0
    failure_rate: float = 0.0
    windows: int = 0

    def learn(self, w: TaskWindow, alpha: float = 0.2) -> None:
        if self.windows == 0:
            self.run_p50_s, self.failure_rate = w.run_p50_s, w.failure_rate
        else:
            self.run_p50_s += alpha * (w.run_p50_s - self.run_p50_s)
            self.failure_rate += alpha * (w.failure_rate - self.failure_rate)
        self.windows += 1


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyLoad:
    """A concurrency key: its limit, what runs and queues now, and how fast it drains."""

    key: str
    limit: int
    running: int
    queued: int
    queued_before: int  # ``span_s`` ago
    span_s: float
    done_per_s: float
    service_s: float | None  # mean run time of its attempts lately


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceLoad:
    """The governor's view: the resource that holds work back, and by how much."""

    resource: str
    tier: int  # 0: nothing held; 3: only critical or essential work passes
    value: float  # a fraction (percent for pressure)
    exit_value: float  # the reading the resource must fall below to clear
    reason: str
    ready: int  # tasks ready to run while it holds
    capacity: float  # cores or bytes of the limit (0 when unknown)
    holders: Sequence[tuple[str, float]] = ()  # task types by their share of the use
    is_memory_critical: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StageLoad:
    """One step of a workflow as it lay on the critical paths of sampled runs."""

    workflow: str
    step: str
    runs: int
    share: float  # of the makespan, averaged over the runs
    run_s: float  # mean run time on the path
    wait_s: float  # mean wait before it, on the path
    makespan_s: float  # mean makespan of the runs
    path_steps: float  # mean number of steps on the critical path


# ---------------------------------------------------------------- rules


def task_findings(w: TaskWindow, base: Baseline, rules: BottleneckRules) -> list[Finding]:
    """Slowdown, failures and long waits of one task type against its baseline."""
    if w.attempts < rules.min_samples:
        return []
    found = [f for f in (_slowdown(w, base, rules), _failing(w, base, rules),
                         _starved(w, rules)) if f is not None]
    return found


def _slowdown(w: TaskWindow, base: Baseline, rules: BottleneckRules) -> Finding | None:
    if base.windows < rules.baseline_windows or base.run_p50_s <= 0:
        return None
    ratio = w.run_p50_s / base.run_p50_s
    if ratio < rules.slowdown_ratio or w.run_p50_s - base.run_p50_s < rules.min_slowdown_s:
        return None
    busy = w.done_per_s * w.run_p50_s
    return Finding(
        kind="task", subject=f"{w.task}:latency", severity=_grade(ratio, (2, 4, 10)),
        summary=(f"task {w.task!r} takes {_s(w.run_p50_s)} at the median, {ratio:.1f}x its "
                 f"baseline of {_s(base.run_p50_s)} (p95 {_s(w.run_p95_s)}, "
                 f"{w.attempts} attempts)"),
        recommendation=(f"find what {w.task!r} now waits on (a slower dependency, larger "
                        f"inputs); until then it keeps {busy:.1f} slots busy at "
                        f"{w.done_per_s:.1f}/s, {busy - busy / ratio:.1f} more than before"),
        evidence={"run_p50_s": w.run_p50_s, "baseline_p50_s": base.run_p50_s,
                  "ratio": ratio, "attempts": w.attempts})


def _failing(w: TaskWindow, base: Baseline, rules: BottleneckRules) -> Finding | None:
    rate, before = w.failure_rate, base.failure_rate if base.windows else 0.0
    if rate - before < rules.failure_rise or rate < 2 * before:
        return None
    error = f"; the latest error: {w.last_error}" if w.last_error else ""
    return Finding(
        kind="task", subject=f"{w.task}:failures", severity=_grade(rate, (0.2, 0.5, 0.9)),
        summary=(f"task {w.task!r} fails {rate:.0%} of its attempts against a baseline of "
                 f"{before:.0%} ({w.failures} of {w.attempts}){error}"),
        recommendation=(f"fix the cause of the failures; retries of {w.task!r} now cost "
                        f"{w.failures * w.run_p50_s:.1f} s of slot time per window"),
        evidence={"failure_rate": rate, "baseline_rate": before, "attempts": w.attempts})


def _starved(w: TaskWindow, rules: BottleneckRules) -> Finding | None:
    wait = w.wait_p50_s
    if wait is None or wait < rules.min_wait_s or wait < rules.wait_ratio * w.run_p50_s:
        return None
    ratio = wait / max(w.run_p50_s, 1e-6)
    slots = w.done_per_s * w.run_p50_s
    return Finding(
        kind="task", subject=f"{w.task}:waiting", severity=_grade(ratio, (5, 50, 500)),
        summary=(f"task {w.task!r} waits {_s(wait)} at the median for {_s(w.run_p50_s)} "
                 f"of work ({ratio:.0f}x)"),
        recommendation=(f"give {w.task!r} more slots: it keeps {slots:.1f} busy at "
                        f"{w.done_per_s:.1f}/s; see the key, limit or resource findings for "
                        f"what holds it, or add workers"),
        evidence={"wait_p50_s": wait, "run_p50_s": w.run_p50_s, "ratio": ratio})


def key_finding(k: KeyLoad, rules: BottleneckRules) -> Finding | None:
    """A key at its limit whose queue grows, with the limit Little's law asks for."""
    if k.running < k.limit or k.queued == 0 or k.service_s is None:
        return None
    growth_per_s = (k.queued - k.queued_before) / k.span_s if k.span_s > 0 else 0.0
    backlog_s = k.queued * k.service_s / k.limit
    if growth_per_s <= 0 and backlog_s <= rules.drain_target_s:
        return None
    arrival = k.done_per_s + max(growth_per_s, 0.0)
    steady = arrival * k.service_s  # Little's law: busy slots = arrivals x service time
    drain = k.queued * k.service_s / rules.drain_target_s
    needed = max(k.limit + 1, math.ceil(steady + drain))
    return Finding(
        kind="key", subject=k.key, severity=_grade(needed / k.limit, (1.0, 1.5, 3.0, 10.0)),
        summary=(f"key {k.key!r} is at its limit of {k.limit} with {k.queued} queued "
                 f"({growth_per_s:+.1f}/s); arrivals {arrival:.1f}/s x {_s(k.service_s)} "
                 f"service = {steady:.1f} busy slots"),
        recommendation=(f"raise the limit of key {k.key!r} from {k.limit} to {needed} "
                        f"({math.ceil(steady)} keep up, the rest drain the backlog in "
                        f"{rules.drain_target_s:.0f} s), or slow its producers"),
        evidence={"limit": k.limit, "queued": k.queued, "arrival_per_s": arrival,
                  "service_s": k.service_s, "recommended_limit": needed})


def resource_finding(r: ResourceLoad) -> Finding | None:
    """A resource past a threshold that holds ready work back."""
    if r.tier == 0 or r.ready == 0:
        return None
    severity = Severity.CRITICAL if r.is_memory_critical or r.tier >= 3 else Severity(r.tier + 1)
    return Finding(
        kind="resource", subject=r.resource, severity=severity,
        summary=f"{r.reason}; {r.ready} ready tasks wait for it{_holders(r.holders)}",
        recommendation=_resource_advice(r),
        evidence={"value": r.value, "exit_value": r.exit_value, "tier": r.tier,
                  "ready": r.ready})


def _holders(holders: Sequence[tuple[str, float]]) -> str:
    if not holders:
        return ""
    top = ", ".join(f"{name} {share:.0%}" for name, share in holders[:3])
    return f"; its use by task type: {top}"


def _resource_advice(r: ResourceLoad) -> str:
    if r.resource == "memory" and r.capacity > 0:
        extra = r.capacity * (r.value / r.exit_value - 1)
        top = f" or run fewer {r.holders[0][0]!r} at once" if r.holders else ""
        return (f"give the engine {_bytes(extra)} more memory (to fall below "
                f"{r.exit_value:.0%} of {_bytes(r.capacity)}){top}")
    if r.resource == "cpu" and r.capacity > 0:
        extra = r.capacity * (r.value / r.exit_value - 1)
        return (f"add {extra:.1f} cores (to fall below {r.exit_value:.0%} of "
                f"{r.capacity:g}), or lower the concurrency of CPU-heavy task types")
    if r.resource == "disk":
        return f"free disk space: use must fall below {r.exit_value:.0%}"
    return (f"reduce contention: {r.resource} must fall below {r.exit_value:g} "
            "(fewer concurrent tasks, or more capacity)")


def stage_finding(s: StageLoad, rules: BottleneckRules) -> Finding | None:
    """One step that takes most of its workflow's critical path."""
    if (s.runs < rules.min_runs or s.share < rules.stage_share or s.path_steps < 2
            or s.makespan_s < rules.min_makespan_s):
        return None
    on_path = s.share * s.makespan_s
    if s.wait_s > s.run_s:
        advice = (f"it waits {_s(s.wait_s)} for a slot before running {_s(s.run_s)}: "
                  f"raise the limits that hold {s.step!r} to save up to {_s(s.wait_s)} a run")
    else:
        halved = s.makespan_s - s.run_s / 2
        advice = (f"split {s.step!r} into parallel parts or give it more CPU: in two "
                  f"halves a run would take about {_s(halved)} instead of "
                  f"{_s(s.makespan_s)}")
    return Finding(
        kind="stage", subject=f"{s.workflow}/{s.step}", severity=_grade(s.share, (0.75, 0.9, 1.01)),
        summary=(f"step {s.step!r} is {s.share:.0%} of the critical path of workflow "
                 f"{s.workflow!r} ({_s(on_path)} of {_s(s.makespan_s)}, {s.runs} runs)"),
        recommendation=advice,
        evidence={"share": s.share, "run_s": s.run_s, "wait_s": s.wait_s,
                  "makespan_s": s.makespan_s, "runs": s.runs})


def _grade(value: float, bounds: Sequence[float]) -> Severity:
    """LOW below ``bounds[-3]``, then one level up per bound reached (the last three)."""
    level = Severity.LOW
    for bound, severity in zip(bounds[-3:], (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL),
                               strict=True):
        if value >= bound:
            level = severity
    return level


def _s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} µs"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 2**10:.0f} KiB"


# ---------------------------------------------------------------- memory


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracked:
    """A finding as the book holds it: when it was first and last seen, when resolved."""

    finding: Finding
    first_seen: float
    last_seen: float
    resolved_at: float | None = None
    misses: int = 0  # evaluations in a row without it

    def as_dict(self) -> dict[str, object]:
        f = self.finding
        return {"kind": f.kind, "subject": f.subject, "severity": f.severity.label,
                "summary": f.summary, "recommendation": f.recommendation,
                "first_seen": self.first_seen, "last_seen": self.last_seen,
                "resolved_at": self.resolved_at, "evidence": dict(f.evidence)}


class FindingBook:
    """Active findings, and those resolved lately; one ``update`` per evaluation."""

    def __init__(self, *, clear_after: int = 2, keep_resolved: int = 200) -> None:
        self.clear_after = clear_after
        self.active: dict[tuple[str, str], Tracked] = {}
        self.resolved: deque[Tracked] = deque(maxlen=keep_resolved)

    def update(self, found: Iterable[Finding], now: float) -> list[Tracked]:
        """Fold in this evaluation's findings; return those that opened or resolved."""
        changed: list[Tracked] = []
        seen: set[tuple[str, str]] = set()
        for f in found:
            seen.add(f.key)
            old = self.active.get(f.key)
            self.active[f.key] = Tracked(finding=f, first_seen=old.first_seen if old else now,
                                         last_seen=now)
            if old is None:
                changed.append(self.active[f.key])
        for key in [k for k in self.active if k not in seen]:
            t = self.active[key]
            if t.misses + 1 < self.clear_after:
                self.active[key] = replace(t, misses=t.misses + 1)
                continue
            done = replace(self.active.pop(key), resolved_at=now)
            self.resolved.append(done)
            changed.append(done)
        return changed

    def is_active(self, kind: str, subject: str) -> bool:
        return (kind, subject) in self.active

    def ordered(self) -> list[Tracked]:
        """Active findings, the most severe first, then the oldest."""
        return sorted(self.active.values(),
                      key=lambda t: (-t.finding.severity, t.first_seen, t.finding.subject))
