"""The in-memory store: the SQLite store's semantics at memory speed, without durability.

Use it for unit tests and for runs whose state may die with the process. Every
method makes its whole change without yielding to the event loop, so each call is as
atomic as a SQLite transaction; a call that raises has checked its inputs (and drawn
its random numbers) before changing anything, so it leaves the store as it was.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from zerogate.adapters.memory_tables import (
    OPEN_STATES,
    Tables,
    Tally,
    TaskRow,
    check_batch,
    close_workflows,
    live_view,
    newest_first,
    task_record,
    workflow_record,
)
from zerogate.domain.admission import Admission, Budget
from zerogate.domain.model import FailurePolicy, Limits, TaskState, check_scope
from zerogate.domain.records import (
    ApiKeyRecord,
    AuditEntry,
    Changes,
    ClaimBatch,
    ClaimRequest,
    LiveView,
    NewWorkflow,
    Outcome,
    RollupRow,
    Submitted,
    TaskRecord,
    WorkflowRecord,
    check_outcomes,
    check_retry,
)
from zerogate.domain.retry import RetryDecision, RetryPolicy
from zerogate.domain.scheduling import (
    MAX_SCAN_ROUNDS,
    RunningCounts,
    Scopes,
    full_scopes,
    needs_counts,
    note_full,
    reserve,
)
from zerogate.errors import InvalidInput, NotFound, StoreUnavailable
from zerogate.ports import GLOBAL

P = ParamSpec("P")
R = TypeVar("R")
S = TaskState
CRASHED = ["zerogate.errors.WorkerCrashed"]
STATE_ORDER = sorted(TaskState, key=lambda s: s.value)  # SQLite's GROUP BY order


def _suspends(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Let other tasks run once the call's change is made, as with any real store.

    A store that never yields would let the engine's callers run on without giving
    the tasks they just started, or the claim loop they just woke, a turn.
    """

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        result = await method(*args, **kwargs)
        await asyncio.sleep(0)
        return result

    return call


class MemoryStore:
    """A store in this process's memory: fast, and gone when the process exits.

    It passes the same contract as ``SqliteStore``. Unlike ``SqliteStore(":memory:")``
    its state survives ``close()`` and ``open()`` of the same object, like a file's.
    """

    def __init__(self) -> None:
        self._tables = Tables()
        self._is_open = False

    @_suspends
    async def open(self) -> None:
        self._is_open = True

    @_suspends
    async def close(self) -> None:
        self._is_open = False

    def _t(self) -> Tables:
        if not self._is_open:
            raise StoreUnavailable("the store is not open")
        return self._tables

    # ------------------------------------------------------------ writes

    @_suspends
    async def submit(self, workflows: Sequence[NewWorkflow], now: float) -> list[Submitted]:
        tb = self._t()
        fresh = check_batch(tb, workflows)
        now = float(now)
        return [tb.insert(wf, now) if i in fresh else tb.replay(wf.idempotency_key or "")
                for i, wf in enumerate(workflows)]

    @_suspends
    async def claim(self, request: ClaimRequest) -> ClaimBatch:
        tb = self._t()
        if GLOBAL in tb.paused:
            return ClaimBatch([], None, is_paused=True)
        held = Scopes.paused(tb.paused)
        now = float(request.now)
        tb.admit(request.limits.max_running_workflows, request.n, now)
        rows, has_more = _choose(tb, request, now, held)
        until = float(request.now + request.lease_s)
        claims = [tb.lease(t, request.owner, until, now) for t in rows]
        return ClaimBatch(claims, tb.next_due(), has_more=has_more)

    @_suspends
    async def finish(self, owner: str, outcomes: Sequence[Outcome], now: float) -> Changes:
        tb = self._t()
        check_outcomes(outcomes)
        now = float(now)
        ch, tally = Changes(), Tally()
        for o in _completions(tb, owner, outcomes):
            _apply(tb, owner, o, now, ch, tally)
        for o in outcomes:
            if o.state is not S.COMPLETED:
                _apply(tb, owner, o, now, ch, tally)
        close_workflows(tb, tally, now, ch)
        return ch

    @_suspends
    async def heartbeat(self, owner: str, task_ids: Sequence[int], now: float,
                        lease_s: float) -> list[int]:
        tb = self._t()
        held = tb.owned.get(owner, set())
        until = float(now + lease_s)
        # Only the given ids: a lease the engine forgot about must expire, not live on.
        for tid in task_ids:
            if tid in held:
                tb.tasks[tid].lease_until = until
        return [tid for tid in task_ids if tid not in held]

    @_suspends
    async def reclaim_expired(self, now: float, draw: Callable[[], float]) -> Changes:
        tb = self._t()
        now = float(now)
        expired = sorted((t for t in tb.running.values() if _lease_end(t) < now), key=_lease_order)
        # Decide every task before changing any, so a failing draw or policy changes nothing.
        plans = [(t, t.owner or "", t.attempt, _decide(t, draw)) for t in expired]
        ch, tally = Changes(), Tally()
        for t, owner, attempt, decision in plans:
            error = (f"lease expired: the worker {owner!r} stopped answering during attempt "
                     f"{attempt}")
            state = S.RETRYING if decision.retry else S.FAILED
            outcome = Outcome(task_id=t.id, attempt=attempt, state=state, error=error,
                              not_before=now + decision.delay_s if decision.retry else None)
            _apply(tb, owner, outcome, now, ch, tally)
        close_workflows(tb, tally, now, ch)
        ch.stopped_running = [t.id for t in expired]
        return ch

    @_suspends
    async def promote_aged(self, now: float, aging_s: float) -> int:
        tb = self._t()
        if aging_s == 0:  # SQLite divides by zero to NULL, and NULL promotes nothing
            return 0
        oldest = now - aging_s
        promoted = 0
        for t in tb.queued():
            if t.eff == 0 or _ready_at(t) > oldest:
                continue
            # The SQL's arithmetic: truncating division, not effective_class's floor.
            eff = max(0, t.priority - int((now - _ready_at(t)) / aging_s))
            if t.eff > eff:
                t.eff = eff
                promoted += 1
                if t.entry is not None:  # re-queue under the new key; the old entry goes stale
                    tb.push_ready(t)
        return promoted

    @_suspends
    async def cancel(self, *, now: float, reason: str, workflow_id: int | None = None,
                     task_id: int | None = None) -> Changes:
        tb = self._t()
        now = float(now)
        rows, running = _cancel_scope(tb, workflow_id, task_id)
        ch, tally = Changes(), Tally()
        for t in rows:
            if t.state in OPEN_STATES:
                tb.set_state(t, S.CANCELLED)
                t.error = reason
                t.finished_at = now
                t.owner = t.lease_until = None
                tally.add(t.wid, S.CANCELLED)
        close_workflows(tb, tally, now, ch)
        ch.stopped_running = running
        return ch

    @_suspends
    async def expire_waits(self, feature: str, ready_before: float, error: str,
                           now: float) -> Changes:
        tb = self._t()
        now = float(now)
        ch, tally = Changes(), Tally()
        expired = sorted((t for t in tb.queued()
                          if t.feature == feature and _ready_at(t) < ready_before),
                         key=lambda t: t.id)
        for t in expired:
            tb.set_state(t, S.FAILED)
            t.error, t.finished_at, t.not_before = error, now, None
            tally.add(t.wid, S.FAILED)
            _fail_descendants(tb, t, now, tally)
        close_workflows(tb, tally, now, ch)
        return ch

    @_suspends
    async def retry_workflow(self, workflow_id: int, now: float) -> Changes:
        tb = self._t()
        w = tb.workflows.get(workflow_id)
        if w is None:
            raise NotFound(f"no workflow with id {workflow_id}")
        check_retry(workflow_id, w.state)
        return Changes(became_ready=tb.retry(w, float(now)))

    @_suspends
    async def set_paused(self, scope: str, is_paused: bool, now: float) -> None:
        scope = check_scope(scope)
        paused = self._t().paused
        if is_paused:
            paused.add(scope)
        else:
            paused.discard(scope)

    # ------------------------------------------------------------ reads

    @_suspends
    async def paused_scopes(self) -> frozenset[str]:
        return frozenset(self._t().paused)

    @_suspends
    async def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        w = self._t().workflows.get(workflow_id)
        if w is None:
            raise NotFound(f"no workflow with id {workflow_id}")
        return workflow_record(w)

    @_suspends
    async def get_task(self, task_id: int) -> TaskRecord:
        t = self._t().tasks.get(task_id)
        if t is None:
            raise NotFound(f"no task with id {task_id}")
        return task_record(t)

    @_suspends
    async def list_tasks(self, workflow_id: int) -> list[TaskRecord]:
        w = self._t().workflows.get(workflow_id)
        return [] if w is None else [task_record(t) for t in w.tasks]

    @_suspends
    async def count_by_state(self) -> dict[str, int]:
        states = self._t().states
        return {s.value: states[s] for s in STATE_ORDER if states[s]}

    @_suspends
    async def running_counts(self) -> RunningCounts:
        return self._t().counts.copy()

    @_suspends
    async def live_view(self, active_limit: int = 50, tenant: str | None = None) -> LiveView:
        return live_view(self._t(), active_limit, tenant)

    @_suspends
    async def open_tasks_by_tenant(self) -> dict[str, int]:
        return dict(sorted(self._t().open_by_tenant.items()))

    @_suspends
    async def list_workflows(self, *, tenant: str, state: str | None = None,
                             name: str | None = None, before_id: int | None = None,
                             limit: int = 50) -> list[WorkflowRecord]:
        rows = self._t().tenant_workflows.get(tenant, [])
        page = newest_first(rows, lambda w: w.id, before_id, limit,
                            lambda w: (state is None or w.state == state)
                            and (name is None or w.name == name))
        return [workflow_record(w) for w in page]

    @_suspends
    async def list_task_page(self, *, tenant: str, workflow_id: int | None = None,
                             state: str | None = None, name: str | None = None,
                             before_id: int | None = None,
                             limit: int = 50) -> list[TaskRecord]:
        tb = self._t()
        rows: list[TaskRow]
        if workflow_id is None:
            rows = tb.tenant_tasks.get(tenant, [])
        else:  # as SQLite, through the workflow's own tasks; another tenant's gives none
            w = tb.workflows.get(workflow_id)
            rows = w.tasks if w is not None and w.tenant == tenant else []
        page = newest_first(rows, lambda t: t.id, before_id, limit,
                            lambda t: (state is None or t.state == state)
                            and (name is None or t.name == name))
        return [task_record(t) for t in page]

    # ------------------------------------------------------------ API keys and audit

    @_suspends
    async def save_key(self, key: ApiKeyRecord) -> None:
        keys = self._t().keys
        if key.key_id in keys:
            raise InvalidInput(f"a key with id {key.key_id!r} exists")
        keys[key.key_id] = replace(  # REAL columns give times back as floats
            key, created_at=float(key.created_at), expires_at=_real(key.expires_at),
            revoked_at=_real(key.revoked_at))

    @_suspends
    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._t().keys.get(key_id)

    @_suspends
    async def list_keys(self) -> list[ApiKeyRecord]:
        return sorted(self._t().keys.values(), key=lambda k: (k.created_at, k.key_id))

    @_suspends
    async def revoke_key(self, key_id: str, now: float) -> ApiKeyRecord:
        keys = self._t().keys
        key = keys.get(key_id)
        if key is None:
            raise NotFound(f"no key with id {key_id!r}")
        if key.revoked_at is None:
            key = keys[key_id] = replace(key, revoked_at=float(now))
        return key

    @_suspends
    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        tb = self._t()
        first = tb.next_audit
        tb.audit += [replace(e, entry_id=first + i, at=float(e.at))
                     for i, e in enumerate(entries)]
        tb.next_audit = first + len(entries)

    @_suspends
    async def load_audit(self, *, limit: int = 100, before_id: int | None = None,
                         tenant: str | None = None,
                         action: str | None = None) -> list[AuditEntry]:
        return newest_first(self._t().audit, lambda e: e.entry_id, before_id, limit,
                            lambda e: (tenant is None or e.tenant == tenant)
                            and (action is None or e.action.startswith(action)))

    @_suspends
    async def prune_audit(self, before: float) -> int:
        tb = self._t()
        kept = [e for e in tb.audit if not e.at < before]
        pruned = len(tb.audit) - len(kept)
        tb.audit = kept
        return pruned

    # ------------------------------------------------------------ telemetry rollups

    @_suspends
    async def save_rollups(self, rows: Sequence[RollupRow]) -> None:
        saved = self._t().rollups
        for r in rows:
            # A REAL column gives buckets back as floats, whatever number went in.
            r = replace(r, bucket=float(r.bucket))
            saved[(r.resolution, r.kind, r.bucket, r.name, r.owner)] = r

    @_suspends
    async def load_rollups(self, resolution: str, *, since: float, until: float | None = None,
                           kind: str | None = None) -> list[RollupRow]:
        rows = [r for (res, k, bucket, _, _), r in self._t().rollups.items()
                if res == resolution and since <= bucket and (until is None or bucket < until)
                and (kind is None or k == kind)]
        return sorted(rows, key=lambda r: (r.bucket, r.kind, r.name, r.owner))

    @_suspends
    async def prune_rollups(self, resolution: str, before: float) -> int:
        saved = self._t().rollups
        old = [key for key in saved if key[0] == resolution and key[2] < before]
        for key in old:
            del saved[key]
        return len(old)


# ---------------------------------------------------------------- claim


def _choose(tb: Tables, req: ClaimRequest, now: float,
            held: Scopes) -> tuple[list[TaskRow], bool]:
    """Pick up to ``n`` ready tasks in service order, exactly as the SQLite store does.

    The flag is True when the scan stopped at its round limit, so more may fit.
    """
    if req.n <= 0:
        return [], False
    tb.release_due(now)
    gate = req.admission if req.admission is not None and not req.admission.is_open else None
    if not needs_counts(req.limits) and not held and gate is None:
        return _take(tb, req.n, now), False
    return _walk(tb, req.n, now, req.limits, held, gate)


def _take(tb: Tables, n: int, now: float) -> list[TaskRow]:
    chosen: list[TaskRow] = []
    while len(chosen) < n and (t := tb.pop_ready(now)) is not None:
        chosen.append(t)
    return chosen


def _walk(tb: Tables, n: int, now: float, limits: Limits, held: Scopes,
          gate: Admission | None) -> tuple[list[TaskRow], bool]:
    """Walk the ready queue as the SQLite store's rounds of ``LIMIT n`` scans would.

    Each SQLite round reads the first ``n`` ready rows outside the excluded scopes and
    the governor's filter (including rows it chose or found too big already), picks
    what fits, and excludes the scopes found full before the next round. Replaying
    that window here keeps results identical, including where eight rounds run out
    before ``n`` tasks are found.
    """
    counts = tb.counts.copy() if needs_counts(limits) else RunningCounts()
    excluded = full_scopes(counts, limits)
    excluded.absorb(held)
    budget = Budget.of(gate)
    found = Scopes()
    chosen: list[TaskRow] = []
    aside: list[TaskRow] = []  # passed over, to return to the queue
    too_big: list[TaskRow] = []  # in the window, but over the resource budget
    rounds = window = 0
    has_more = False
    while len(chosen) < n and (t := tb.pop_ready(now)) is not None:
        if excluded.holds(t.wid, t.tenant, t.key) or (
                gate is not None and not gate.passes(t.priority, t.feature)):
            aside.append(t)
            continue
        window += 1
        if note_full(t.wid, t.tenant, t.key, counts, limits, found):
            aside.append(t)
        elif not reserve(budget, t.need):
            too_big.append(t)
        else:
            chosen.append(t)
            counts.add(t.wid, t.tenant, t.key)
            note_full(t.wid, t.tenant, t.key, counts, limits, found)
        if window == n and len(chosen) < n:
            rounds += 1
            if not excluded.absorb(found):
                break
            if rounds == MAX_SCAN_ROUNDS:
                has_more = True
                break
            window = sum(1 for c in (*chosen, *too_big)
                         if not excluded.holds(c.wid, c.tenant, c.key))
    tb.requeue(aside + too_big)
    return chosen, has_more


# ---------------------------------------------------------------- finish


def _completions(tb: Tables, owner: str, outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The completions SQLite applies before other outcomes, in the order it does.

    Its one set-wise UPDATE applies them by task id, and of two completions of one
    attempt the last one wins.
    """
    held: dict[int, Outcome] = {}
    for o in outcomes:
        if o.state is S.COMPLETED:
            t = tb.tasks.get(o.task_id)
            if t is not None and _holds(t, owner, o.attempt):
                held[t.id] = o
    return [held[tid] for tid in sorted(held)]


def _holds(t: TaskRow, owner: str, attempt: int) -> bool:
    """The fence: ``owner`` holds the running task's lease for this ``attempt``."""
    return t.state is S.RUNNING and t.attempt == attempt and t.owner == owner


def _apply(tb: Tables, owner: str, o: Outcome, now: float, ch: Changes, tally: Tally) -> None:
    t = tb.tasks.get(o.task_id)
    if t is None or not _holds(t, owner, o.attempt):
        return  # fenced: another attempt or owner holds the task, or it ended
    state = o.state
    if state is S.COMPLETED:
        t.result, t.error, t.traceback, t.finished_at = o.result_json, None, None, now
        tb.set_state(t, S.COMPLETED)
        if t.children:
            ch.became_ready += tb.release_children(t, now)
    elif state is S.RETRYING:
        t.failures += 1
        t.not_before = None if o.not_before is None else float(o.not_before)
        t.error, t.traceback = o.error, o.traceback
        tb.set_state(t, S.RETRYING)
        tb.enqueue(t)
    elif state is S.FAILED:
        t.failures += 1
        t.error, t.traceback, t.finished_at = o.error, o.traceback, now
        tb.set_state(t, S.FAILED)
        _fail_descendants(tb, t, now, tally)
    else:  # WAITING: a lease released without running to the end (not a failure)
        if o.not_before is not None:  # released with a delay: evicted under memory pressure
            t.not_before, t.error = float(o.not_before), o.error
        tb.set_state(t, S.WAITING)
        tb.enqueue(t)
    t.owner = t.lease_until = None
    ch.accepted.append(t.id)
    if state.is_terminal:
        tally.add(t.wid, state)


def _fail_descendants(tb: Tables, t: TaskRow, now: float, tally: Tally) -> None:
    state = S.SKIPPED if t.wf.failure_policy is FailurePolicy.SKIP else S.FAILED
    error = f"dependency {t.local_id!r} failed"
    n = 0
    for d in tb.descendants(t):
        if d.state in OPEN_STATES:
            d.error, d.finished_at = error, now
            tb.set_state(d, state)  # like SQLite, the owner is left as it was
            n += 1
    if n:
        tally.add(t.wid, state, n)


# ---------------------------------------------------------------- leases and cancel


def _decide(t: TaskRow, draw: Callable[[], float]) -> RetryDecision:
    return RetryPolicy.from_json(t.retry_json).decide(t.failures + 1, CRASHED, draw())


def _lease_end(t: TaskRow) -> float:
    assert t.lease_until is not None
    return t.lease_until


def _lease_order(t: TaskRow) -> tuple[str, float, int]:
    # SQLite reads expired leases through its (owner, lease_until) index.
    return (t.owner or "", _lease_end(t), t.id)


def _real(value: float | None) -> float | None:
    return None if value is None else float(value)


def _ready_at(t: TaskRow) -> float:
    assert t.ready_at is not None  # set whenever a task becomes ready
    return t.ready_at


def _cancel_scope(tb: Tables, workflow_id: int | None,
                  task_id: int | None) -> tuple[list[TaskRow], list[int]]:
    """The tasks to cancel, and those running among them in SQLite's order."""
    if task_id is not None:
        t = tb.tasks.get(task_id)
        rows = [] if t is None else [t, *tb.descendants(t)]
        return rows, sorted(r.id for r in rows if r.state is S.RUNNING)
    if workflow_id is not None:
        w = tb.workflows.get(workflow_id)
        rows = [] if w is None else w.tasks
        return rows, [r.id for r in rows if r.state is S.RUNNING]
    running = sorted(tb.running.values(), key=_lease_order)
    return list(tb.open.values()), [r.id for r in running]
