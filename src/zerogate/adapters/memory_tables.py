"""Rows and indexes of the in-memory store, kept in step so no hot path scans every task.

The ready queue is a heap of ``(effective priority, -rank, id)`` entries with lazy
deletion: a task points at its one live entry (``TaskRow.entry``), and a popped entry
that is not the one its task points at is stale and dropped. Retrying tasks whose
backoff has not ended wait in a second heap keyed by ``not_before``. Workflows wait
for admission in one FIFO per priority, and running tasks are counted per scope as
they start and stop, so limits cost O(1) per task.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from heapq import heappop, heappush
from itertools import islice
from typing import TypeVar, cast

from zerogate.domain.lifecycle import check_move
from zerogate.domain.model import TERMINAL_TASK_STATES, FailurePolicy, TaskState, WorkflowState
from zerogate.domain.records import (
    RERUN_STATES,
    ActiveWorkflow,
    ApiKeyRecord,
    AuditEntry,
    Changes,
    Claim,
    LiveView,
    NewTask,
    NewWorkflow,
    RollupRow,
    Submitted,
    TaskRecord,
    WorkflowRecord,
    check_new_workflow,
    final_workflow_state,
)
from zerogate.domain.scheduling import RunningCounts

S = TaskState
K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
OPEN_STATES = frozenset({S.PENDING, S.WAITING, S.RUNNING, S.RETRYING})
LIVE_STATES = (S.PENDING, S.WAITING, S.RETRYING, S.RUNNING)  # the live view's order
ADMIT_CHUNK = 1000  # as the SQLite store: workflows admitted per claim when unlimited

RollupKey = tuple[str, str, float, str, str]  # resolution, kind, bucket, name, owner
ReadyEntry = tuple[int, int, int]  # (effective priority, -rank, task id): service order
DueEntry = tuple[float, int]  # (not_before, task id)


class WorkflowRow:
    """One workflow run; ``failed`` and ``cancelled`` count its tasks that ended so."""

    __slots__ = ("cancelled", "created_at", "failed", "failure_policy", "finished_at", "id",
                 "idempotency_key", "name", "open_tasks", "priority", "started_at", "state",
                 "tasks", "tenant")

    def __init__(self, wid: int, wf: NewWorkflow, now: float) -> None:
        self.id = wid
        self.name = wf.name
        self.tenant = wf.tenant
        self.state = WorkflowState.PENDING
        self.priority = int(wf.priority)
        self.failure_policy = FailurePolicy(wf.failure_policy)
        self.idempotency_key = wf.idempotency_key
        self.open_tasks = len(wf.tasks)
        self.failed = 0
        self.cancelled = 0
        self.created_at = now
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.tasks: list[TaskRow] = []


class TaskRow:
    """One task, linked to its workflow, its dependencies and its dependents."""

    __slots__ = ("args_json", "attempt", "children", "created_at", "deps_left", "due_entry",
                 "eff", "entry", "error", "failures", "feature", "finished_at", "id", "key",
                 "lease_until", "local_id", "name", "need", "not_before", "owner", "parents",
                 "priority", "rank", "ready_at", "result", "retry_json", "started_at", "state",
                 "tenant", "timeout_s", "traceback", "wf", "wid")

    def __init__(self, tid: int, wf: WorkflowRow, t: NewTask, now: float) -> None:
        self.id = tid
        self.wf = wf
        self.wid = wf.id
        self.tenant = wf.tenant
        self.local_id = t.local_id
        self.name = t.name
        self.args_json = t.args_json
        self.priority = self.eff = int(t.priority)
        self.rank = int(t.rank)
        self.key = t.key
        self.timeout_s = None if t.timeout_s is None else float(t.timeout_s)
        self.retry_json = t.retry_json
        self.feature = t.feature
        self.need = t.need
        self.state = S.PENDING
        # Tasks without dependencies or dependents share one empty tuple: fewer objects
        # for the garbage collector to walk. Parents are in id order, as SQLite lists deps.
        self.parents: list[TaskRow] | tuple[()] = ()
        self.children: list[TaskRow] | tuple[()] = ()
        self.deps_left = 0
        self.attempt = self.failures = 0
        self.owner: str | None = None
        self.lease_until: float | None = None
        self.not_before: float | None = None
        self.result: str | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.created_at = now
        # A task without dependencies is ready from submission: aging counts from there.
        self.ready_at: float | None = None if t.deps else now
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.entry: ReadyEntry | None = None  # the live entry in the ready heap
        self.due_entry: DueEntry | None = None  # the live entry in the backoff heap


def bump(counter: Counter[K], key: K, delta: int) -> None:
    """Add ``delta`` to ``counter[key]``, dropping the key at zero so scans stay short."""
    n = counter.get(key, 0) + delta  # not counter[key]: a missing key costs a Python call
    if n:
        counter[key] = n
    else:
        del counter[key]


class Tables:
    """Every row of the store and the indexes derived from them."""

    def __init__(self) -> None:
        self.tasks: dict[int, TaskRow] = {}
        self.workflows: dict[int, WorkflowRow] = {}
        self.by_key: dict[str, WorkflowRow] = {}  # by idempotency key
        self.next_task = 1
        self.next_workflow = 1
        self.states: dict[TaskState, int] = dict.fromkeys(TaskState, 0)
        self.open: dict[int, TaskRow] = {}  # unfinished tasks; insertion order is id order
        self.running: dict[int, TaskRow] = {}
        self.owned: dict[str, set[int]] = {}  # running task ids by owner
        self.counts = RunningCounts()
        self.ready: list[ReadyEntry] = []
        self.backoff: list[DueEntry] = []  # retrying tasks, until their not_before passes
        self.retry_due: list[DueEntry] = []  # every retry's not_before, for ClaimBatch.next_due
        # Workflows to admit, by priority; ids only grow, so each deque is in id order.
        self.pending: dict[int, deque[WorkflowRow]] = {}
        self.running_workflows = 0
        # Unfinished workflows; ids only grow, so insertion order is id order.
        self.open_workflows: dict[int, WorkflowRow] = {}
        self.paused: set[str] = set()
        self.rollups: dict[RollupKey, RollupRow] = {}
        # Each tenant's rows in id order, so its pages never walk other tenants' rows.
        self.tenant_workflows: dict[str, list[WorkflowRow]] = {}
        self.tenant_tasks: dict[str, list[TaskRow]] = {}
        self.open_by_tenant: Counter[str] = Counter()  # open tasks, for per-tenant quotas
        self.keys: dict[str, ApiKeyRecord] = {}
        self.audit: list[AuditEntry] = []  # in entry_id order
        self.next_audit = 1  # never goes back, as SQLite's AUTOINCREMENT

    # ------------------------------------------------------------ submit

    def insert(self, wf: NewWorkflow, now: float) -> Submitted:
        """Store a workflow whose tasks and dependencies were checked already."""
        w = WorkflowRow(self.next_workflow, wf, now)
        self.next_workflow += 1
        first, self.next_task = self.next_task, self.next_task + len(wf.tasks)
        w.tasks = rows = [TaskRow(first + i, w, t, now) for i, t in enumerate(wf.tasks)]
        ids = {t.local_id: first + i for i, t in enumerate(wf.tasks)}
        tasks, open_tasks = self.tasks, self.open
        for row, t in zip(rows, wf.tasks, strict=True):
            tasks[row.id] = open_tasks[row.id] = row
            if t.deps:
                _link(row, [rows[i - first] for i in sorted(ids[d] for d in t.deps)])
        self.states[S.PENDING] += len(rows)
        self.open_by_tenant[w.tenant] += len(rows)
        self.tenant_tasks.setdefault(w.tenant, []).extend(rows)
        self.tenant_workflows.setdefault(w.tenant, []).append(w)
        self.workflows[w.id] = self.open_workflows[w.id] = w
        if w.idempotency_key is not None:
            self.by_key[w.idempotency_key] = w
        queue = self.pending.get(w.priority)
        if queue is None:
            queue = self.pending[w.priority] = deque()
        queue.append(w)
        return Submitted(w.id, ids, is_new=True)

    def replay(self, key: str) -> Submitted:
        w = self.by_key[key]
        return Submitted(w.id, {t.local_id: t.id for t in w.tasks}, is_new=False)

    # ------------------------------------------------------------ state moves

    def set_state(self, t: TaskRow, state: TaskState) -> None:
        """Move ``t`` and keep every index in step; callers clear ``owner`` afterwards.

        Every move is checked against the lifecycle; the differential test holds the
        SQLite store to the same moves.
        """
        old = t.state
        check_move(old, state)
        states = self.states
        states[old] -= 1
        states[state] += 1
        if old is S.RUNNING:
            self._stop_running(t)
        elif state is S.RUNNING:
            self._start_running(t)
        if state in TERMINAL_TASK_STATES:
            del self.open[t.id]
            bump(self.open_by_tenant, t.tenant, -1)
        t.state = state
        t.entry = t.due_entry = None  # any queued entry of the old state is stale now

    def _start_running(self, t: TaskRow) -> None:
        assert t.owner is not None
        self.running[t.id] = t
        held = self.owned.get(t.owner)
        if held is None:
            held = self.owned[t.owner] = set()
        held.add(t.id)
        c = self.counts  # counted inline: this runs once per claimed task
        c.by_workflow[t.wid] = c.by_workflow.get(t.wid, 0) + 1
        c.by_tenant[t.tenant] = c.by_tenant.get(t.tenant, 0) + 1
        if t.key is not None:
            c.by_key[t.key] = c.by_key.get(t.key, 0) + 1

    def _stop_running(self, t: TaskRow) -> None:
        del self.running[t.id]
        assert t.owner is not None
        held = self.owned[t.owner]
        held.discard(t.id)
        if not held:
            del self.owned[t.owner]
        c = self.counts
        bump(c.by_workflow, t.wid, -1)
        bump(c.by_tenant, t.tenant, -1)
        if t.key is not None:
            bump(c.by_key, t.key, -1)

    def lease(self, t: TaskRow, owner: str, until: float, now: float) -> Claim:
        t.owner = owner
        t.attempt += 1
        t.lease_until = until
        t.started_at = now
        t.not_before = None
        self.set_state(t, S.RUNNING)
        return Claim(task_id=t.id, workflow_id=t.wid, local_id=t.local_id, name=t.name,
                     args_json=t.args_json, attempt=t.attempt, failures=t.failures,
                     timeout_s=t.timeout_s, retry_json=t.retry_json,
                     dep_results=_results(t.parents) if t.parents else {},
                     priority=t.priority, feature=t.feature, need=t.need, key=t.key,
                     ready_at=t.ready_at, started_at=now)

    def release_children(self, t: TaskRow, now: float) -> int:
        """Count down the dependents of a completed task; return how many became ready."""
        n = 0
        for child in t.children:
            if child.state is S.PENDING:
                child.deps_left -= 1
                if child.deps_left == 0:
                    child.ready_at = now
                    self.set_state(child, S.WAITING)
                    self.enqueue(child)
                    n += 1
        return n

    def descendants(self, t: TaskRow) -> list[TaskRow]:
        """Every task that depends on ``t``, directly or not (no order promised)."""
        seen = {t.id}
        out: list[TaskRow] = []
        stack = [t]
        while stack:
            for child in stack.pop().children:
                if child.id not in seen:
                    seen.add(child.id)
                    out.append(child)
                    stack.append(child)
        return out

    def finish_workflow(self, w: WorkflowRow, state: WorkflowState, now: float) -> None:
        if w.state is WorkflowState.RUNNING:
            self.running_workflows -= 1
        del self.open_workflows[w.id]
        w.state = state
        w.finished_at = now

    def retry(self, w: WorkflowRow, now: float) -> int:
        """Run a finished workflow's failed, cancelled and skipped tasks again.

        Not a lifecycle move (a final state has none) but a new run of those tasks, so
        every index is set here by hand. Attempt numbers stay: they fence out zombies
        of the earlier run. The workflow queues for admission as a new one does, and
        its tasks become waiting then. Returns how many are ready from ``now``.
        """
        rerun = [t for t in w.tasks if t.state in RERUN_STATES]
        states, open_tasks = self.states, self.open
        for t in rerun:
            states[t.state] -= 1
            t.state = S.PENDING
            t.failures = 0
            t.eff = t.priority  # it waits afresh, so it ages afresh
            t.result = t.error = t.traceback = t.owner = None
            t.lease_until = t.not_before = t.ready_at = t.started_at = t.finished_at = None
            open_tasks[t.id] = t
        states[S.PENDING] += len(rerun)
        self.open_by_tenant[w.tenant] += len(rerun)
        _restore_id_order(open_tasks)
        ready = 0
        # Every task of ``w`` is completed or reset now, and a completed task never
        # depends on one that did not complete: the reset ones wait for reset ones only.
        for t in rerun:
            t.deps_left = sum(p.state is not S.COMPLETED for p in t.parents)
            if t.deps_left == 0:
                t.ready_at = now
                ready += 1
        w.state = WorkflowState.PENDING
        w.open_tasks = len(rerun)
        w.failed = w.cancelled = 0
        w.started_at = w.finished_at = None
        self.open_workflows[w.id] = w
        _restore_id_order(self.open_workflows)
        queue = self.pending.get(w.priority)
        if queue is None:
            queue = self.pending[w.priority] = deque()
        # In id order, as SQLite admits; cancelled while it waited, it may be queued still.
        if not any(q is w for q in queue):
            queue.insert(next((i for i, q in enumerate(queue) if q.id > w.id), len(queue)), w)
        return ready

    # ------------------------------------------------------------ queues

    def enqueue(self, t: TaskRow) -> None:
        """Queue a waiting or retrying task: in backoff if it has a not_before, else ready."""
        nb = t.not_before
        if nb is None:
            self.push_ready(t)
            return
        heappush(self.retry_due, (nb, t.id))
        self._defer(t, nb)

    def push_ready(self, t: TaskRow) -> None:
        t.entry = entry = (t.eff, -t.rank, t.id)
        heappush(self.ready, entry)

    def _defer(self, t: TaskRow, nb: float) -> None:
        t.entry = None
        t.due_entry = entry = (nb, t.id)
        heappush(self.backoff, entry)

    def pop_ready(self, now: float) -> TaskRow | None:
        """Pop the next claimable task; its entry stays live so ``requeue`` can return it."""
        heap, tasks = self.ready, self.tasks
        while heap:
            entry = heappop(heap)
            t = tasks[entry[2]]
            if t.entry is not entry:
                continue
            nb = t.not_before
            if nb is not None and nb > now:  # a claim with an earlier clock than the last
                self._defer(t, nb)
                continue
            return t
        return None

    def requeue(self, rows: list[TaskRow]) -> None:
        for t in rows:
            assert t.entry is not None
            heappush(self.ready, t.entry)

    def release_due(self, now: float) -> None:
        heap, tasks = self.backoff, self.tasks
        while heap and heap[0][0] <= now:
            entry = heappop(heap)
            t = tasks[entry[1]]
            if t.due_entry is entry:
                t.due_entry = None
                self.push_ready(t)

    def next_due(self) -> float | None:
        """The earliest not_before of a retrying task, due or not, as SQLite's min()."""
        heap, tasks = self.retry_due, self.tasks
        while heap:
            nb, tid = heap[0]
            t = tasks[tid]
            if t.state is S.RETRYING and t.not_before == nb:
                return nb
            heappop(heap)
        return None

    def queued(self) -> list[TaskRow]:
        """Every waiting or retrying task, read off the live heap entries."""
        tasks = self.tasks
        rows = [t for e in self.ready if (t := tasks[e[2]]).entry is e]
        rows += [t for e in self.backoff if (t := tasks[e[1]]).due_entry is e]
        return rows

    def admit(self, cap: int | None, n: int, now: float) -> None:
        """Start pending workflows in (priority, id) order while the cap allows."""
        room = max(ADMIT_CHUNK, 4 * n) if cap is None else cap - self.running_workflows
        for priority in sorted(self.pending):
            queue = self.pending[priority]
            while room > 0 and queue:
                w = queue.popleft()
                if w.state is WorkflowState.PENDING:  # else cancelled while it waited
                    self._start_workflow(w, now)
                    room -= 1
            if not queue:
                del self.pending[priority]
            if room <= 0:
                return

    def _start_workflow(self, w: WorkflowRow, now: float) -> None:
        w.state = WorkflowState.RUNNING
        w.started_at = now
        self.running_workflows += 1
        for t in w.tasks:
            if t.state is S.PENDING and t.deps_left == 0:
                if t.ready_at is None:
                    t.ready_at = now
                self.set_state(t, S.WAITING)
                self.push_ready(t)


def _restore_id_order(rows: dict[int, R]) -> None:
    """Sort ``rows`` back into id order in place, after ids re-entered at the end."""
    ids = list(rows)
    if ids != sorted(ids):
        ordered = sorted(rows.items())
        rows.clear()
        rows.update(ordered)


def newest_first(rows: Sequence[R], ident: Callable[[R], int], before_id: int | None,
                 limit: int, keep: Callable[[R], bool]) -> list[R]:
    """A keyset page of ``rows`` (in ``ident`` order): up to ``limit`` kept rows with ids
    below ``before_id``, highest id first. Costs the rows walked, not all of them."""
    end = len(rows) if before_id is None else bisect_left(rows, before_id, key=ident)
    page: list[R] = []
    for i in range(end - 1, -1, -1):
        if len(page) >= limit:
            break
        if keep(rows[i]):
            page.append(rows[i])
    return page


def _link(row: TaskRow, parents: list[TaskRow]) -> None:
    row.parents = parents
    row.deps_left = len(parents)
    for parent in parents:
        if isinstance(parent.children, list):
            parent.children.append(row)
        else:
            parent.children = [row]


def _results(parents: list[TaskRow] | tuple[()]) -> dict[str, str]:
    # A dependency completed with no result gives None, as the SQLite store does.
    return cast("dict[str, str]", {p.local_id: p.result for p in parents})


# ---------------------------------------------------------------- finishing workflows


class Tally(dict[int, list[int]]):
    """Tasks of each workflow that ended in this call: [ended, failed, cancelled]."""

    def add(self, wid: int, state: TaskState, n: int = 1) -> None:
        row = self.get(wid)
        if row is None:
            row = self[wid] = [0, 0, 0]
        row[0] += n
        # A skipped dependent follows from a failure that is counted already.
        if state is S.FAILED:
            row[1] += n
        elif state is S.CANCELLED:
            row[2] += n


def close_workflows(tb: Tables, tally: Tally, now: float, ch: Changes) -> None:
    """Count the tallied tasks out of their workflows; report those left with none open."""
    closed = []
    for wid, (ended, failed, cancelled) in tally.items():
        w = tb.workflows[wid]
        w.open_tasks -= ended
        w.failed += failed
        w.cancelled += cancelled
        if w.open_tasks == 0:
            state = final_workflow_state(w.failed, w.cancelled)
            tb.finish_workflow(w, state, now)
            closed.append((wid, state))
    ch.finished_workflows += sorted(closed)  # by workflow id, as the SQLite store reports


# ---------------------------------------------------------------- checks and records


def check_batch(tb: Tables, workflows: Sequence[NewWorkflow]) -> set[int]:
    """Return the positions of workflows to insert; raise before anything is stored.

    A workflow whose idempotency key is known, from the store or from earlier in the
    batch, is a replay and is not checked, as the SQLite store does not insert it.
    """
    fresh: set[int] = set()
    keys: set[str] = set()
    for i, wf in enumerate(workflows):
        key = wf.idempotency_key
        if key is not None and (key in tb.by_key or key in keys):
            continue
        check_new_workflow(wf)
        fresh.add(i)
        if key is not None:
            keys.add(key)
    return fresh


def workflow_record(w: WorkflowRow) -> WorkflowRecord:
    return WorkflowRecord(
        workflow_id=w.id, name=w.name, tenant=w.tenant, state=w.state, priority=w.priority,
        failure_policy=w.failure_policy, idempotency_key=w.idempotency_key,
        open_tasks=w.open_tasks, created_at=w.created_at, finished_at=w.finished_at)


def task_record(t: TaskRow) -> TaskRecord:
    return TaskRecord(
        task_id=t.id, workflow_id=t.wid, local_id=t.local_id, name=t.name, state=t.state,
        priority=t.priority, effective_priority=t.eff, rank=t.rank, tenant=t.tenant,
        key=t.key, deps=tuple(p.local_id for p in t.parents), attempt=t.attempt,
        failures=t.failures, owner=t.owner, lease_until=t.lease_until,
        not_before=t.not_before, result_json=t.result, error=t.error, traceback=t.traceback,
        created_at=t.created_at, ready_at=t.ready_at, started_at=t.started_at,
        finished_at=t.finished_at, feature=t.feature, need=t.need)


# ---------------------------------------------------------------- live view


def live_view(tb: Tables, active_limit: int, tenant: str | None = None) -> LiveView:
    """Open work read off the indexes: counters, the queues, and the open workflows.

    A tenant's view filters the same open rows, as the SQLite store does.
    """
    queued = tb.queued()
    open_workflows: Iterable[WorkflowRow] = tb.open_workflows.values()
    if tenant is None:
        states = tb.states
        running = tb.running_workflows
        tasks = {s.value: states[s] for s in LIVE_STATES}
        workflows = {"pending": len(tb.open_workflows) - running, "running": running}
        running_by_key = dict(sorted(tb.counts.by_key.items()))
    else:
        queued = [t for t in queued if t.tenant == tenant]
        mine = Counter(t.state for t in tb.open.values() if t.tenant == tenant)
        tasks = {s.value: mine[s] for s in LIVE_STATES}
        open_workflows = [w for w in open_workflows if w.tenant == tenant]
        by_state = Counter(w.state for w in open_workflows)
        workflows = {"pending": by_state[WorkflowState.PENDING],
                     "running": by_state[WorkflowState.RUNNING]}
        running_by_key = _sorted_counts(t.key for t in tb.running.values()
                                        if t.tenant == tenant and t.key is not None)
    return LiveView(
        tasks=tasks, workflows=workflows,
        ready_by_priority=_sorted_counts(t.priority for t in queued),
        ready_by_name=_sorted_counts(t.name for t in queued),
        ready_by_key=_sorted_counts(t.key for t in queued if t.key is not None),
        running_by_key=running_by_key,
        oldest_ready_at=min((t.ready_at for t in queued if t.ready_at is not None), default=None),
        active=[_active(w) for w in islice(open_workflows, max(active_limit, 0))])


def _sorted_counts(values: Iterable[K]) -> dict[K, int]:
    # Sorted, as the SQLite store gives them, down to the order of the keys.
    return dict(sorted(Counter(values).items()))


def _active(w: WorkflowRow) -> ActiveWorkflow:
    return ActiveWorkflow(workflow_id=w.id, name=w.name, tenant=w.tenant, state=w.state,
                          priority=w.priority, open_tasks=w.open_tasks,
                          total_tasks=len(w.tasks), created_at=w.created_at)
