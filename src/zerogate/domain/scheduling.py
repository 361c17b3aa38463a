"""Which ready tasks may start now, and why the others wait. Pure functions over data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zerogate.domain.admission import NO_NEED, Budget, Need
from zerogate.domain.model import Limits

MAX_SCAN_ROUNDS = 8  # rescans of the ready queue per claim, each excluding full scopes


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ready task, as the store saw it, in service order."""

    task_id: int
    workflow_id: int
    tenant: str
    key: str | None
    need: Need = NO_NEED


@dataclass(slots=True)
class RunningCounts:
    """Tasks running right now across all instances, by concurrency scope."""

    by_workflow: Counter[int] = field(default_factory=Counter)
    by_tenant: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)

    def add(self, workflow_id: int, tenant: str, key: str | None) -> None:
        self.by_workflow[workflow_id] += 1
        self.by_tenant[tenant] += 1
        if key is not None:
            self.by_key[key] += 1

    def copy(self) -> RunningCounts:
        return RunningCounts(self.by_workflow.copy(), self.by_tenant.copy(), self.by_key.copy())


@dataclass(slots=True)
class Scopes:
    """Workflows, tenants and keys whose ready tasks a claim passes over: full or paused."""

    workflows: set[int] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)

    @classmethod
    def paused(cls, scopes: Iterable[str]) -> Scopes:
        """The scoped pauses among ``scopes`` (valid ones, as ``check_scope`` admits)."""
        held = cls()
        for scope in scopes:
            kind, _, name = scope.partition(":")
            if kind == "workflow" and name.isdigit():
                held.workflows.add(int(name))
            elif kind == "tenant":
                held.tenants.add(name)
            elif kind == "key":
                held.keys.add(name)
        return held

    def __bool__(self) -> bool:
        return bool(self.workflows or self.tenants or self.keys)

    def holds(self, workflow_id: int, tenant: str, key: str | None) -> bool:
        return (workflow_id in self.workflows or tenant in self.tenants
                or (key is not None and key in self.keys))

    def absorb(self, other: Scopes) -> bool:
        """Add ``other``'s scopes; True when that added any."""
        before = len(self.workflows) + len(self.tenants) + len(self.keys)
        self.workflows |= other.workflows
        self.tenants |= other.tenants
        self.keys |= other.keys
        return len(self.workflows) + len(self.tenants) + len(self.keys) > before


@dataclass(frozen=True, slots=True)
class Selection:
    """Chosen task ids, and the scopes found full (to exclude from the next scan)."""

    chosen: list[int]
    full: Scopes


def _full_flags(workflow_id: int, tenant: str, key: str | None, running: RunningCounts,
                limits: Limits) -> tuple[bool, bool, bool]:
    per_wf, per_tenant = limits.per_workflow, limits.tenant_limit(tenant)
    cap = limits.key_limit(key)
    return (per_wf is not None and running.by_workflow[workflow_id] >= per_wf,
            per_tenant is not None and running.by_tenant[tenant] >= per_tenant,
            key is not None and cap is not None and running.by_key[key] >= cap)


def note_full(workflow_id: int, tenant: str, key: str | None, running: RunningCounts,
              limits: Limits, into: Scopes) -> bool:
    """Add the task's scopes that are at their limit to ``into``; True if any is."""
    wf_full, tenant_full, key_full = _full_flags(workflow_id, tenant, key, running, limits)
    if wf_full:
        into.workflows.add(workflow_id)
    if tenant_full:
        into.tenants.add(tenant)
    if key_full and key is not None:
        into.keys.add(key)
    return wf_full or tenant_full or key_full


def blocking_scope(c: Candidate, running: RunningCounts, limits: Limits) -> str | None:
    """Say which concurrency scope keeps ``c`` from starting, or None if none does."""
    wf_full, tenant_full, key_full = _full_flags(c.workflow_id, c.tenant, c.key, running, limits)
    if wf_full:
        return f"workflow {c.workflow_id} has {limits.per_workflow} tasks running, its limit"
    if tenant_full:
        return f"tenant {c.tenant!r} has {limits.tenant_limit(c.tenant)} tasks running, its limit"
    if key_full:
        return f"key {c.key!r} has {limits.key_limit(c.key)} tasks running, its limit"
    return None


def select_startable(
    candidates: Sequence[Candidate], *, free: int, running: RunningCounts, limits: Limits,
    budget: Budget | None = None,
) -> Selection:
    """Take candidates in order while slots are free, honouring every scope's limit.

    ``running`` and ``budget`` are updated in place with the chosen tasks, so a caller
    that scans again continues from what is left. A task whose declared resources do
    not fit the budget is passed over; a smaller one behind it may still start.
    """
    chosen: list[int] = []
    full = Scopes()
    for c in candidates:
        if len(chosen) >= free:
            break
        if note_full(c.workflow_id, c.tenant, c.key, running, limits, full):
            continue
        if not reserve(budget, c.need):
            continue
        chosen.append(c.task_id)
        running.add(c.workflow_id, c.tenant, c.key)
        note_full(c.workflow_id, c.tenant, c.key, running, limits, full)
    return Selection(chosen, full)


def reserve(budget: Budget | None, need: Need) -> bool:
    """Take ``need`` from ``budget`` if it fits; False (and nothing taken) if not."""
    if budget is None or not need:
        return True
    if not budget.fits(need):
        return False
    budget.take(need)
    return True


def effective_class(base: int, ready_at: float, now: float, aging_s: float | None) -> int:
    """Priority class after aging: one class up for every ``aging_s`` spent waiting."""
    if aging_s is None or now <= ready_at:
        return base
    # Truncating division, as the stores' SQL computes it (floor can differ by rounding).
    return max(0, base - int((now - ready_at) / aging_s))


def full_scopes(running: RunningCounts, limits: Limits) -> Scopes:
    """Scopes already at their limit before a scan, so the scan can skip them."""
    per_wf = limits.per_workflow
    return Scopes(
        {w for w, n in running.by_workflow.items() if per_wf is not None and n >= per_wf},
        {t for t, n in running.by_tenant.items() if _at_cap(limits.tenant_limit(t), n)},
        {k for k, n in running.by_key.items() if _at_cap(limits.key_limit(k), n)})


def _at_cap(cap: int | None, n: int) -> bool:
    return cap is not None and n >= cap


def needs_counts(limits: Limits) -> bool:
    """True when any store-wide scope is limited, so running counts must be read."""
    return (limits.per_workflow is not None or limits.per_tenant is not None
            or bool(limits.per_key) or limits.default_key_limit is not None
            or bool(limits.tenant_limits))
