"""Which ready tasks may start now, and why the others wait. Pure functions over data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from zerogate.domain.model import Limits

MAX_SCAN_ROUNDS = 8  # rescans of the ready queue per claim, each excluding full scopes


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ready task, as the store saw it, in service order."""

    task_id: int
    workflow_id: int
    tenant: str
    key: str | None


@dataclass(slots=True)
class RunningCounts:
    """Tasks running right now across all instances, by concurrency scope."""

    by_workflow: Counter[int] = field(default_factory=Counter)
    by_tenant: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)

    def add(self, c: Candidate) -> None:
        self.by_workflow[c.workflow_id] += 1
        self.by_tenant[c.tenant] += 1
        if c.key is not None:
            self.by_key[c.key] += 1


@dataclass(frozen=True, slots=True)
class Selection:
    """Chosen task ids, and the scopes found full (to exclude from the next scan)."""

    chosen: list[int]
    full_workflows: frozenset[int]
    full_tenants: frozenset[str]
    full_keys: frozenset[str]


def _full_scopes_of(c: Candidate, running: RunningCounts, limits: Limits) -> list[str]:
    """Scopes of ``c`` that are at their limit, as ``"w:<id>"``, ``"t:<tenant>"``, ``"k:<key>"``."""
    full = []
    per_wf = limits.per_workflow
    if per_wf is not None and running.by_workflow[c.workflow_id] >= per_wf:
        full.append(f"w:{c.workflow_id}")
    if limits.per_tenant is not None and running.by_tenant[c.tenant] >= limits.per_tenant:
        full.append(f"t:{c.tenant}")
    cap = limits.key_limit(c.key)
    if c.key is not None and cap is not None and running.by_key[c.key] >= cap:
        full.append(f"k:{c.key}")
    return full


def blocking_scope(c: Candidate, running: RunningCounts, limits: Limits) -> str | None:
    """Say which concurrency scope keeps ``c`` from starting, or None if none does."""
    full = _full_scopes_of(c, running, limits)
    if not full:
        return None
    kind, _, name = full[0].partition(":")
    if kind == "w":
        return f"workflow {name} has {limits.per_workflow} tasks running, its limit"
    if kind == "t":
        return f"tenant {name!r} has {limits.per_tenant} tasks running, its limit"
    return f"key {name!r} has {limits.key_limit(name)} tasks running, its limit"


def select_startable(
    candidates: Sequence[Candidate], *, free: int, running: RunningCounts, limits: Limits
) -> Selection:
    """Take candidates in order while slots are free, honouring every scope's limit.

    ``running`` is updated in place with the chosen tasks, so a caller that scans
    again continues from the counts as they now are.
    """
    chosen: list[int] = []
    full: set[str] = set()
    for c in candidates:
        if len(chosen) >= free:
            break
        if not _full_scopes_of(c, running, limits):
            chosen.append(c.task_id)
            running.add(c)
        full.update(_full_scopes_of(c, running, limits))
    return Selection(
        chosen,
        frozenset(int(s[2:]) for s in full if s[0] == "w"),
        frozenset(s[2:] for s in full if s[0] == "t"),
        frozenset(s[2:] for s in full if s[0] == "k"),
    )


def effective_class(base: int, ready_at: float, now: float, aging_s: float | None) -> int:
    """Priority class after aging: one class up for every ``aging_s`` spent waiting."""
    if aging_s is None or now <= ready_at:
        return base
    # Truncating division, as the stores' SQL computes it (floor can differ by rounding).
    return max(0, base - int((now - ready_at) / aging_s))


def full_scopes(running: RunningCounts, limits: Limits) -> tuple[set[int], set[str], set[str]]:
    """Scopes already at their limit before a scan, so the scan can skip them."""
    wf = {w for w, n in running.by_workflow.items()
          if limits.per_workflow is not None and n >= limits.per_workflow}
    tn = {t for t, n in running.by_tenant.items()
          if limits.per_tenant is not None and n >= limits.per_tenant}
    ky = {k for k, n in running.by_key.items() if _at_cap(limits.key_limit(k), n)}
    return wf, tn, ky


def _at_cap(cap: int | None, n: int) -> bool:
    return cap is not None and n >= cap


def needs_counts(limits: Limits) -> bool:
    """True when any store-wide scope is limited, so running counts must be read."""
    return (limits.per_workflow is not None or limits.per_tenant is not None
            or bool(limits.per_key) or limits.default_key_limit is not None)

