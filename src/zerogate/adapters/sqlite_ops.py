"""Transaction bodies of the SQLite store: plain functions over one open connection.

Each function runs inside a transaction that ``SqliteStore`` opens and commits; none
of them commits by itself. Lists of ids travel as JSON arrays through ``json_each``.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zerogate.adapters.sqlite_schema import TASK_COLUMNS, WORKFLOW_COLUMNS
from zerogate.domain.admission import NO_NEED, Admission, Budget, Need
from zerogate.domain.model import FailurePolicy, TaskState, WorkflowState
from zerogate.domain.records import (
    ActiveWorkflow,
    ApiKeyRecord,
    AuditEntry,
    Changes,
    Claim,
    ClaimBatch,
    ClaimRequest,
    LiveView,
    NewWorkflow,
    Outcome,
    RollupRow,
    Submitted,
    TaskRecord,
    WorkflowRecord,
    check_new_workflow,
    check_outcomes,
    check_retry,
    final_workflow_state,
)
from zerogate.domain.retry import RetryPolicy
from zerogate.domain.scheduling import (
    MAX_SCAN_ROUNDS,
    Candidate,
    RunningCounts,
    Scopes,
    full_scopes,
    needs_counts,
    select_startable,
)
from zerogate.errors import InvalidInput, NotFound

READY = "state IN ('waiting', 'retrying')"
OPEN = "state IN ('pending', 'waiting', 'running', 'retrying')"
ADMIT_CHUNK = 1000  # workflows admitted per claim when their number is unlimited
K = TypeVar("K", int, str)


def ids_json(ids: Iterable[int]) -> str:
    return json.dumps(list(ids))


# ---------------------------------------------------------------- submit


def submit(db: sqlite3.Connection, workflows: Sequence[NewWorkflow], now: float) -> list[Submitted]:
    (next_id,) = db.execute("SELECT coalesce(max(id), 0) + 1 FROM tasks").fetchone()
    out = []
    for wf in workflows:
        known = _known_workflow(db, wf.idempotency_key)
        if known is not None:
            out.append(known)
            continue
        check_new_workflow(wf)  # raising rolls the whole batch back
        out.append(_insert_workflow(db, wf, now, next_id))
        next_id += len(wf.tasks)
    return out


def _known_workflow(db: sqlite3.Connection, key: str | None) -> Submitted | None:
    if key is None:
        return None
    row = db.execute("SELECT id FROM workflows WHERE idempotency_key = ?", (key,)).fetchone()
    if row is None:
        return None
    ids = db.execute("SELECT local_id, id FROM tasks WHERE workflow_id = ?", (row[0],))
    return Submitted(row[0], dict(ids.fetchall()), is_new=False)


def _insert_workflow(db: sqlite3.Connection, wf: NewWorkflow, now: float, first: int) -> Submitted:
    wid = db.execute(
        "INSERT INTO workflows (name, tenant, state, priority, failure_policy, idempotency_key,"
        " open_tasks, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
        (wf.name, wf.tenant, wf.priority, wf.failure_policy.value, wf.idempotency_key,
         len(wf.tasks), now),
    ).lastrowid
    assert wid is not None
    ids = {t.local_id: first + i for i, t in enumerate(wf.tasks)}
    children = Counter(d for t in wf.tasks for d in t.deps)
    db.executemany(
        "INSERT INTO tasks (id, workflow_id, local_id, name, state, priority, eff_priority, rank,"
        " tenant, key, deps_total, deps_left, children, args, timeout_s, retry, created_at,"
        " ready_at, feature, cpu, memory)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        # A task without dependencies is ready from submission: aging counts from there.
        [(ids[t.local_id], wid, t.local_id, t.name, t.priority, t.priority, t.rank, wf.tenant,
          t.key, len(t.deps), len(t.deps), children[t.local_id], t.args_json, t.timeout_s,
          t.retry_json, now, None if t.deps else now, t.feature, t.need.cpu, t.need.memory)
         for t in wf.tasks],
    )
    db.executemany(
        "INSERT INTO edges (parent, child) VALUES (?, ?)",
        [(ids[d], ids[t.local_id]) for t in wf.tasks for d in t.deps],
    )
    return Submitted(wid, ids, is_new=True)


# ---------------------------------------------------------------- claim


def paused_scopes(db: sqlite3.Connection) -> frozenset[str]:
    return frozenset(r[0] for r in db.execute("SELECT scope FROM controls"))


def claim(db: sqlite3.Connection, req: ClaimRequest) -> ClaimBatch:
    paused = paused_scopes(db)
    if "global" in paused:
        return ClaimBatch([], None, is_paused=True)
    admit_workflows(db, req)
    ids, has_more = _choose(db, req, paused)
    claims = _lease(db, req, ids) if ids else []
    (due,) = db.execute("SELECT min(not_before) FROM tasks WHERE state = 'retrying'").fetchone()
    return ClaimBatch(claims, due, has_more=has_more)


def admit_workflows(db: sqlite3.Connection, req: ClaimRequest) -> int:
    """Start pending workflows while the running-workflows limit allows."""
    cap = req.limits.max_running_workflows
    room = max(ADMIT_CHUNK, 4 * req.n)
    if cap is not None:
        (running,) = db.execute("SELECT count(*) FROM workflows WHERE state = 'running'").fetchone()
        room = cap - running
    if room <= 0:
        return 0
    wids = [r[0] for r in db.execute(
        "SELECT id FROM workflows WHERE state = 'pending' ORDER BY priority, id LIMIT ?", (room,))]
    if not wids:
        return 0
    arr = ids_json(wids)
    db.execute("UPDATE workflows SET state = 'running', started_at = ? WHERE id IN "
               "(SELECT value FROM json_each(?))", (req.now, arr))
    return db.execute(
        "UPDATE tasks SET state = 'waiting', ready_at = coalesce(ready_at, ?) WHERE workflow_id IN "
        "(SELECT value FROM json_each(?)) AND state = 'pending' AND deps_left = 0",
        (req.now, arr)).rowcount


def _exclusion_sql(ex: Scopes) -> tuple[str, list[str]]:
    parts, params = [], []
    for column, values in (("workflow_id", ex.workflows), ("tenant", ex.tenants),
                           ("key", ex.keys)):
        if values:
            parts.append(f" AND ({column} IS NULL OR {column} NOT IN "
                         "(SELECT value FROM json_each(?)))")
            params.append(json.dumps(sorted(values)))
    return "".join(parts), params


def _admission_sql(a: Admission | None) -> tuple[str, list[object]]:
    """The governor's class cut and feature switches as a filter on ready rows."""
    if a is None or a.is_open:
        return "", []
    return (" AND (feature IS NULL OR feature NOT IN (SELECT value FROM json_each(?)))"
            " AND (priority <= ? OR feature IN (SELECT value FROM json_each(?)))",
            [json.dumps(sorted(a.features_off)), a.max_priority, json.dumps(sorted(a.essential))])


def _candidate(r: tuple[Any, ...]) -> Candidate:
    return Candidate(r[0], r[1], r[2], r[3], Need(r[4], r[5]) if r[4] or r[5] else NO_NEED)


def _choose(db: sqlite3.Connection, req: ClaimRequest,
            paused: frozenset[str]) -> tuple[list[int], bool]:
    """Chosen task ids in service order; True when the round limit cut the scan short."""
    counts = running_counts(db) if needs_counts(req.limits) else RunningCounts()
    ex = full_scopes(counts, req.limits)
    ex.absorb(Scopes.paused(paused))
    admit_clause, admit_params = _admission_sql(req.admission)
    budget = Budget.of(req.admission)
    chosen: list[int] = []
    seen: set[int] = set()
    for _ in range(MAX_SCAN_ROUNDS):  # each round excludes the scopes the last one filled
        clause, params = _exclusion_sql(ex)
        rows = db.execute(
            f"SELECT id, workflow_id, tenant, key, cpu, memory FROM tasks WHERE {READY}"
            f" AND (not_before IS NULL OR not_before <= ?){clause}{admit_clause}"
            " ORDER BY eff_priority, rank DESC, id LIMIT ?",
            (req.now, *params, *admit_params, req.n),
        ).fetchall()
        sel = select_startable([_candidate(r) for r in rows if r[0] not in seen],
                               free=req.n - len(chosen), running=counts, limits=req.limits,
                               budget=budget)
        chosen += sel.chosen
        seen.update(sel.chosen)
        grown = ex.absorb(sel.full)
        if len(chosen) >= req.n or len(rows) < req.n or not grown:
            return chosen, False
    return chosen, True


def _lease(db: sqlite3.Connection, req: ClaimRequest, ids: list[int]) -> list[Claim]:
    rows = db.execute(
        "UPDATE tasks SET state = 'running', owner = ?, attempt = attempt + 1,"
        " lease_until = ?, started_at = ?, not_before = NULL"
        " WHERE id IN (SELECT value FROM json_each(?))"
        " RETURNING id, workflow_id, local_id, name, args, attempt, failures, timeout_s,"
        " retry, deps_total, priority, feature, cpu, memory, key, ready_at, started_at",
        (req.owner, req.now + req.lease_s, req.now, ids_json(ids)),
    ).fetchall()
    results = _dep_results(db, [r[0] for r in rows if r[9]])
    order = {tid: i for i, tid in enumerate(ids)}
    rows.sort(key=lambda r: order[r[0]])
    return [Claim(task_id=r[0], workflow_id=r[1], local_id=r[2], name=r[3], args_json=r[4],
                  attempt=r[5], failures=r[6], timeout_s=r[7], retry_json=r[8],
                  dep_results=results.get(r[0], {}), priority=r[10], feature=r[11],
                  need=Need(r[12], r[13]) if r[12] or r[13] else NO_NEED, key=r[14],
                  ready_at=r[15], started_at=r[16]) for r in rows]


def _dep_results(db: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    if not ids:
        return out
    for child, local_id, result in db.execute(
        "SELECT e.child, p.local_id, p.result FROM edges e JOIN tasks p ON p.id = e.parent"
        " WHERE e.child IN (SELECT value FROM json_each(?))", (ids_json(ids),)):
        out.setdefault(child, {})[local_id] = result
    return out


def running_counts(db: sqlite3.Connection) -> RunningCounts:
    counts = RunningCounts()
    for wid, tenant, key, n in db.execute(
        "SELECT workflow_id, tenant, key, count(*) FROM tasks WHERE state = 'running'"
        " GROUP BY workflow_id, tenant, key"):
        for _ in range(n):
            counts.add(wid, tenant, key)
    return counts


# ---------------------------------------------------------------- finish


@dataclass
class _Tally:
    """Tasks of each workflow that reached a final state in this transaction."""

    done: Counter[int] = field(default_factory=Counter)
    failed: Counter[int] = field(default_factory=Counter)
    cancelled: Counter[int] = field(default_factory=Counter)

    def add(self, wid: int, state: TaskState, n: int = 1) -> None:
        self.done[wid] += n
        # A skipped dependent follows from a failure that is counted already.
        if state is TaskState.FAILED:
            self.failed[wid] += n
        elif state is TaskState.CANCELLED:
            self.cancelled[wid] += n


FENCE = "WHERE id = ? AND attempt = ? AND owner = ? AND state = 'running'"

# The unary + keeps SQLite off the (owner, lease) index: driven from that index it
# scans the whole JSON array once per running task, quadratic in the batch (30 s for
# 10,000 completions). Driven from json_each, each row is one primary-key lookup.
COMPLETE_MANY = (
    "UPDATE tasks SET state = 'completed', result = j.value ->> 2, error = NULL,"
    " traceback = NULL, finished_at = ?, owner = NULL, lease_until = NULL"
    " FROM json_each(?) AS j"
    " WHERE tasks.id = j.value ->> 0 AND tasks.attempt = j.value ->> 1"
    " AND +tasks.owner = ? AND +tasks.state = 'running'"
    " RETURNING tasks.id, tasks.workflow_id, tasks.children"
)


def finish(db: sqlite3.Connection, owner: str, outcomes: Sequence[Outcome], now: float) -> Changes:
    check_outcomes(outcomes)
    ch, tally = Changes(), _Tally()
    # Completions are the bulk of the traffic: apply them set-wise, a few statements
    # a batch. Outcomes of one batch are independent (a dependent cannot have run
    # before its dependency's completion was committed), so the order is free.
    done = [o for o in outcomes if o.state is TaskState.COMPLETED]
    if done:
        _complete_many(db, owner, done, now, ch, tally)
    for o in outcomes:
        if o.state is not TaskState.COMPLETED:
            _apply(db, owner, o, now, ch, tally)
    _close_workflows(db, tally, now, ch)
    return ch


def _complete_many(db: sqlite3.Connection, owner: str, done: list[Outcome], now: float,
                   ch: Changes, tally: _Tally) -> None:
    rows = db.execute(
        COMPLETE_MANY,
        (now, json.dumps([[o.task_id, o.attempt, o.result_json] for o in done]), owner),
    ).fetchall()
    parents = []
    for task_id, wid, children in rows:
        ch.accepted.append(task_id)
        tally.add(wid, TaskState.COMPLETED)
        if children:
            parents.append(task_id)
    if parents:
        ch.became_ready += _release_children(db, parents, now)


def _apply(db: sqlite3.Connection, owner: str, o: Outcome, now: float, ch: Changes,
           tally: _Tally) -> None:
    assert o.state is not TaskState.COMPLETED, "completions go through _complete_many"
    key = (o.task_id, o.attempt, owner)
    if o.state is TaskState.RETRYING:
        row = db.execute(
            "UPDATE tasks SET state = 'retrying', failures = failures + 1, not_before = ?,"
            f" error = ?, traceback = ?, owner = NULL, lease_until = NULL {FENCE}"
            " RETURNING workflow_id", (o.not_before, o.error, o.traceback, *key)).fetchone()
    elif o.state is TaskState.FAILED:
        row = db.execute(
            "UPDATE tasks SET state = 'failed', failures = failures + 1, error = ?,"
            f" traceback = ?, finished_at = ?, owner = NULL, lease_until = NULL {FENCE}"
            " RETURNING workflow_id, local_id", (o.error, o.traceback, now, *key)).fetchone()
        if row is not None:
            _fail_descendants(db, o.task_id, row[0], row[1], now, tally)
    else:  # WAITING (check_outcomes admits no other): a released lease, not a failure
        # With not_before it is an eviction under memory pressure: it waits that long.
        row = db.execute(
            "UPDATE tasks SET state = 'waiting', owner = NULL, lease_until = NULL,"
            " not_before = ?, error = CASE WHEN ? IS NULL THEN error ELSE ? END"
            f" {FENCE} RETURNING workflow_id",
            (o.not_before, o.not_before, o.error, *key)).fetchone()
    if row is None:
        return
    ch.accepted.append(o.task_id)
    if o.state.is_terminal:
        tally.add(row[0], o.state)


def _release_children(db: sqlite3.Connection, parents: list[int], now: float) -> int:
    """Count down the dependencies of the parents' children; return how many became ready."""
    return db.execute(
        "UPDATE tasks SET deps_left = deps_left - c.n,"
        " state = CASE WHEN deps_left = c.n THEN 'waiting' ELSE state END,"
        " ready_at = CASE WHEN deps_left = c.n THEN ? ELSE ready_at END"
        " FROM (SELECT child, count(*) AS n FROM edges"
        "       WHERE parent IN (SELECT value FROM json_each(?)) GROUP BY child) AS c"
        " WHERE tasks.id = c.child AND tasks.state = 'pending'"
        " RETURNING tasks.state = 'waiting'", (now, ids_json(parents))).fetchall().count((1,))


def descendants(db: sqlite3.Connection, task_id: int) -> list[int]:
    return [r[0] for r in db.execute(
        "WITH RECURSIVE d(id) AS (SELECT child FROM edges WHERE parent = ?"
        " UNION SELECT e.child FROM edges e JOIN d ON e.parent = d.id) SELECT id FROM d",
        (task_id,))]


def _fail_descendants(db: sqlite3.Connection, task_id: int, wid: int, local_id: str,
                      now: float, tally: _Tally) -> None:
    (policy,) = db.execute("SELECT failure_policy FROM workflows WHERE id = ?", (wid,)).fetchone()
    state = TaskState.SKIPPED if policy == FailurePolicy.SKIP.value else TaskState.FAILED
    n = db.execute(
        "UPDATE tasks SET state = ?, error = ?, finished_at = ?"
        f" WHERE id IN (SELECT value FROM json_each(?)) AND {OPEN}",
        (state.value, f"dependency {local_id!r} failed", now,
         ids_json(descendants(db, task_id)))).rowcount
    if n:
        tally.add(wid, state, n)


def _close_workflows(db: sqlite3.Connection, tally: _Tally, now: float, ch: Changes) -> None:
    if not tally.done:
        return
    counts = [[w, n, tally.failed[w], tally.cancelled[w]] for w, n in tally.done.items()]
    rows = db.execute(
        "UPDATE workflows SET open_tasks = open_tasks - d.value ->> 1,"
        " failed = failed + d.value ->> 2, cancelled = cancelled + d.value ->> 3"
        " FROM json_each(?) AS d WHERE workflows.id = d.value ->> 0"
        " RETURNING workflows.id, open_tasks, failed, cancelled", (json.dumps(counts),)).fetchall()
    closed = [(wid, final_workflow_state(failed, cancelled))
              for wid, left, failed, cancelled in rows if left == 0]
    if closed:
        db.execute(
            "UPDATE workflows SET state = j.value ->> 1, finished_at = ? FROM json_each(?) AS j"
            " WHERE workflows.id = j.value ->> 0",
            (now, json.dumps([[wid, state.value] for wid, state in closed])))
        ch.finished_workflows += sorted(closed)


# ---------------------------------------------------------------- leases


def heartbeat(db: sqlite3.Connection, owner: str, ids: Sequence[int], now: float,
              lease_s: float) -> list[int]:
    """Extend the leases of ``ids`` the owner still holds; return those it does not.

    Only the given ids: a lease the engine forgot about must expire, not live forever.
    """
    if not ids:
        return []
    arr = ids_json(ids)
    db.execute("UPDATE tasks SET lease_until = ? WHERE owner = ? AND state = 'running'"
               " AND id IN (SELECT value FROM json_each(?))", (now + lease_s, owner, arr))
    return [r[0] for r in db.execute(
        "SELECT value FROM json_each(?) WHERE value NOT IN"
        " (SELECT id FROM tasks WHERE owner = ? AND state = 'running')", (arr, owner))]


def reclaim_expired(db: sqlite3.Connection, now: float, draw: Callable[[], float]) -> Changes:
    ch, tally = Changes(), _Tally()
    rows = db.execute(
        "SELECT id, attempt, owner, failures, retry FROM tasks"
        " WHERE state = 'running' AND lease_until < ?", (now,)).fetchall()
    for tid, attempt, owner, failures, retry in rows:
        error = f"lease expired: the worker {owner!r} stopped answering during attempt {attempt}"
        decision = RetryPolicy.from_json(retry).decide(
            failures + 1, ["zerogate.errors.WorkerCrashed"], draw())
        state = TaskState.RETRYING if decision.retry else TaskState.FAILED
        outcome = Outcome(task_id=tid, attempt=attempt, state=state, error=error,
                          not_before=now + decision.delay_s if decision.retry else None)
        _apply(db, owner, outcome, now, ch, tally)
    _close_workflows(db, tally, now, ch)
    ch.stopped_running = [r[0] for r in rows]
    return ch


def promote_aged(db: sqlite3.Connection, now: float, aging_s: float) -> int:
    return db.execute(
        "UPDATE tasks SET eff_priority = max(0, priority - CAST((? - ready_at) / ? AS INTEGER))"
        f" WHERE {READY} AND eff_priority > 0 AND ready_at <= ? "
        " AND eff_priority > max(0, priority - CAST((? - ready_at) / ? AS INTEGER))",
        (now, aging_s, now - aging_s, now, aging_s)).rowcount


# ---------------------------------------------------------------- cancel


def cancel(db: sqlite3.Connection, now: float, reason: str, workflow_id: int | None,
           task_id: int | None) -> Changes:
    """Cancel a task and its dependents, a workflow, or (both None) everything open."""
    ch, tally = Changes(), _Tally()
    where, args = _cancel_scope(db, workflow_id, task_id)
    running = [r[0] for r in db.execute(
        f"SELECT id FROM tasks WHERE {where} AND state = 'running'", args)]
    for (wid,) in db.execute(
            "UPDATE tasks SET state = 'cancelled', error = ?, finished_at = ?, owner = NULL,"
            f" lease_until = NULL WHERE {where} AND {OPEN} RETURNING workflow_id",
            (reason, now, *args)).fetchall():
        tally.add(wid, TaskState.CANCELLED)
    _close_workflows(db, tally, now, ch)
    ch.stopped_running = running
    return ch


def _cancel_scope(db: sqlite3.Connection, workflow_id: int | None,
                  task_id: int | None) -> tuple[str, tuple[object, ...]]:
    if task_id is not None:
        ids = [task_id, *descendants(db, task_id)]
        return "id IN (SELECT value FROM json_each(?))", (ids_json(ids),)
    if workflow_id is not None:
        return "workflow_id = ?", (workflow_id,)
    return "1", ()


def expire_waits(db: sqlite3.Connection, feature: str, ready_before: float, error: str,
                 now: float) -> Changes:
    """Fail the ready tasks of a feature that stayed off past their maximum wait."""
    ch, tally = Changes(), _Tally()
    rows = db.execute(
        "UPDATE tasks SET state = 'failed', error = ?, finished_at = ?, not_before = NULL"
        f" WHERE {READY} AND feature = ? AND ready_at < ?"
        " RETURNING id, workflow_id, local_id", (error, now, feature, ready_before)).fetchall()
    for task_id, wid, local_id in sorted(rows):
        tally.add(wid, TaskState.FAILED)
        _fail_descendants(db, task_id, wid, local_id, now, tally)
    _close_workflows(db, tally, now, ch)
    return ch


# ---------------------------------------------------------------- live view

# Each statement names an index over open rows only (tasks_pending, tasks_ready,
# tasks_running, workflows_pending, workflows_running), or tasks_workflow for the listed
# workflows, so the view never reads finished history. Named, not left to the planner:
# left to itself SQLite reads pending workflows in rowid order to skip a sort, walking
# every finished workflow first, and statistics could tempt it into other full scans.
# A tenant's view filters the same open rows: it costs all open work, never history.
WORKFLOW_STATES = ("pending", "running")  # literals: a bound state would miss the index


@dataclass(frozen=True)
class LiveQueries:
    """The live view's statements for one scope: everything, or one tenant."""

    pending: str
    ready: str  # grouped in SQL: one pass over the ready rows, Python sees groups
    running: str
    workflow_count: dict[str, str]
    workflows: dict[str, str]
    totals: str

    @classmethod
    def scoped(cls, scope: str) -> LiveQueries:
        """``scope`` is an extra condition on the rows read ("" or a bound tenant)."""
        return cls(
            pending="SELECT count(*) FROM tasks INDEXED BY tasks_pending"
                    f" WHERE state = 'pending'{scope}",
            ready="SELECT state, priority, name, key, count(*), min(ready_at) FROM tasks"
                  f" INDEXED BY tasks_ready WHERE {READY}{scope} GROUP BY state, priority,"
                  " name, key",
            running="SELECT key, count(*) FROM tasks INDEXED BY tasks_running"
                    f" WHERE state = 'running'{scope} GROUP BY key",
            workflow_count={
                state: f"SELECT count(*) FROM workflows INDEXED BY workflows_{state}"
                       f" WHERE state = '{state}'{scope}"
                for state in WORKFLOW_STATES},
            workflows={
                state: "SELECT id, name, tenant, state, priority, open_tasks, created_at"
                       f" FROM workflows INDEXED BY workflows_{state}"
                       f" WHERE state = '{state}'{scope} ORDER BY id LIMIT ?"
                for state in WORKFLOW_STATES},
            totals="SELECT workflow_id, count(*) FROM tasks INDEXED BY tasks_workflow"
                   " WHERE workflow_id IN (SELECT value FROM json_each(?)) GROUP BY workflow_id",
        )

    @property
    def statements(self) -> tuple[str, ...]:
        return (self.pending, self.ready, self.running, *self.workflow_count.values(),
                *self.workflows.values(), self.totals)


LIVE = LiveQueries.scoped("")
LIVE_TENANT = LiveQueries.scoped(" AND tenant = ?")
LIVE_STATEMENTS = LIVE.statements
LIVE_TENANT_STATEMENTS = LIVE_TENANT.statements


def live_view(db: sqlite3.Connection, active_limit: int, tenant: str | None = None) -> LiveView:
    q, scope = (LIVE, ()) if tenant is None else (LIVE_TENANT, (tenant,))
    tasks = dict.fromkeys(("pending", "waiting", "retrying", "running"), 0)
    (tasks["pending"],) = db.execute(q.pending, scope).fetchone()
    by_priority: Counter[int] = Counter()
    by_name: Counter[str] = Counter()
    by_key: Counter[str] = Counter()
    firsts = []
    for state, priority, name, key, n, first in db.execute(q.ready, scope):
        tasks[state] += n
        by_priority[priority] += n
        by_name[name] += n
        if key is not None:
            by_key[key] += n
        if first is not None:
            firsts.append(first)
    running_by_key: Counter[str] = Counter()
    for key, n in db.execute(q.running, scope):
        tasks["running"] += n
        if key is not None:
            running_by_key[key] += n
    workflows = {state: db.execute(sql, scope).fetchone()[0]
                 for state, sql in q.workflow_count.items()}
    return LiveView(
        tasks=tasks, workflows=workflows, ready_by_priority=_sorted_counts(by_priority),
        ready_by_name=_sorted_counts(by_name), ready_by_key=_sorted_counts(by_key),
        running_by_key=_sorted_counts(running_by_key), oldest_ready_at=min(firsts, default=None),
        active=_active(db, q, scope, active_limit))


def _sorted_counts(counts: Counter[K]) -> dict[K, int]:
    # Sorted, so both stores give the same view, down to the order of its keys.
    return dict(sorted(counts.items()))


def _active(db: sqlite3.Connection, q: LiveQueries, scope: tuple[str, ...],
            limit: int) -> list[ActiveWorkflow]:
    """The first ``limit`` open workflows by id: the first ``limit`` of each state, merged."""
    if limit <= 0:
        return []
    rows = [r for sql in q.workflows.values() for r in db.execute(sql, (*scope, limit))]
    rows = sorted(rows, key=lambda r: r[0])[:limit]
    totals = dict(db.execute(q.totals, (ids_json(r[0] for r in rows),)).fetchall())
    return [ActiveWorkflow(workflow_id=wid, name=name, tenant=tenant, state=WorkflowState(state),
                           priority=priority, open_tasks=open_tasks, total_tasks=totals[wid],
                           created_at=created_at)
            for wid, name, tenant, state, priority, open_tasks, created_at in rows]


# Open tasks per tenant, off the same partial indexes as the live view: one grouped pass
# over each kind of open row.
OPEN_BY_TENANT = tuple(
    f"SELECT tenant, count(*) FROM tasks INDEXED BY {index} WHERE {where} GROUP BY tenant"
    for index, where in (("tasks_pending", "state = 'pending'"), ("tasks_ready", READY),
                         ("tasks_running", "state = 'running'")))


def open_tasks_by_tenant(db: sqlite3.Connection) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for sql in OPEN_BY_TENANT:
        for tenant, n in db.execute(sql):
            counts[tenant] += n
    return _sorted_counts(counts)


# ---------------------------------------------------------------- records and pages


def workflow_record(r: tuple[Any, ...]) -> WorkflowRecord:
    """A row of WORKFLOW_COLUMNS as a record."""
    return WorkflowRecord(
        workflow_id=r[0], name=r[1], tenant=r[2], state=WorkflowState(r[3]), priority=r[4],
        failure_policy=FailurePolicy(r[5]), idempotency_key=r[6], open_tasks=r[7],
        created_at=r[8], finished_at=r[9])


def task_records(db: sqlite3.Connection, where: str, args: Sequence[object],
                 index: str = "", tail: str = "ORDER BY t.id") -> list[TaskRecord]:
    """Tasks matching ``where``, complete with the local ids of their dependencies.

    ``index`` names the index to read through (the pages must not wander into other
    tenants' rows); ``tail`` orders and limits, its parameters last in ``args``.
    """
    indexed = f" INDEXED BY {index}" if index else ""
    rows = db.execute(f"SELECT {TASK_COLUMNS} FROM tasks t{indexed} WHERE {where} {tail}",
                      args).fetchall()
    deps: dict[int, list[str]] = {}
    for child, local_id in db.execute(
            "SELECT e.child, p.local_id FROM edges e JOIN tasks p ON p.id = e.parent"
            " WHERE e.child IN (SELECT value FROM json_each(?)) ORDER BY p.id",
            (ids_json(r[0] for r in rows),)):
        deps.setdefault(child, []).append(local_id)
    return [_task_record(r, tuple(deps.get(r[0], ()))) for r in rows]


def _task_record(r: tuple[Any, ...], deps: tuple[str, ...]) -> TaskRecord:
    return TaskRecord(
        task_id=r[0], workflow_id=r[1], local_id=r[2], name=r[3], state=TaskState(r[4]),
        priority=r[5], effective_priority=r[6], rank=r[7], tenant=r[8], key=r[9], deps=deps,
        attempt=r[10], failures=r[11], owner=r[12], lease_until=r[13], not_before=r[14],
        result_json=r[15], error=r[16], traceback=r[17], created_at=r[18], ready_at=r[19],
        started_at=r[20], finished_at=r[21], feature=r[22], need=Need(r[23], r[24]))


def _page(equal: Sequence[tuple[str, object]], id_column: str, before_id: int | None,
          limit: int) -> tuple[str, list[object]]:
    """A keyset page's WHERE (columns given equal, ids below ``before_id``) and arguments,
    the limit last. Only the filters given become clauses, so the index stays usable."""
    clauses, args = [], []
    for column, value in equal:
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if before_id is not None:
        clauses.append(f"{id_column} < ?")
        args.append(before_id)
    args.append(max(limit, 0))  # SQLite reads a negative LIMIT as none at all
    return " AND ".join(clauses), args


def list_workflows(db: sqlite3.Connection, tenant: str, state: str | None, name: str | None,
                   before_id: int | None, limit: int) -> list[WorkflowRecord]:
    where, args = _page([("tenant", tenant), ("state", state), ("name", name)], "id",
                        before_id, limit)
    return [workflow_record(r) for r in db.execute(
        f"SELECT {WORKFLOW_COLUMNS} FROM workflows INDEXED BY workflows_tenant WHERE {where}"
        " ORDER BY id DESC LIMIT ?", args)]


def list_task_page(db: sqlite3.Connection, tenant: str, workflow_id: int | None,
                   state: str | None, name: str | None, before_id: int | None,
                   limit: int) -> list[TaskRecord]:
    where, args = _page([("t.tenant", tenant), ("t.workflow_id", workflow_id),
                         ("t.state", state), ("t.name", name)], "t.id", before_id, limit)
    # One workflow's tasks are few: read them through its index, not the whole tenant's.
    index = "tasks_tenant" if workflow_id is None else "tasks_workflow"
    return task_records(db, where, args, index, "ORDER BY t.id DESC LIMIT ?")


# ---------------------------------------------------------------- retry


def retry_workflow(db: sqlite3.Connection, workflow_id: int, now: float) -> Changes:
    """Reset the failed, cancelled and skipped tasks of a finished workflow and queue it
    for admission again; completed tasks and every attempt number stay as they are."""
    row = db.execute("SELECT state FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
    if row is None:
        raise NotFound(f"no workflow with id {workflow_id}")
    check_retry(workflow_id, WorkflowState(row[0]))
    # The aged class goes too: the task waits afresh from now, and ages from now.
    ids = [r[0] for r in db.execute(
        "UPDATE tasks SET state = 'pending', failures = 0, eff_priority = priority,"
        " result = NULL, error = NULL, traceback = NULL, owner = NULL, lease_until = NULL,"
        " not_before = NULL, ready_at = NULL, started_at = NULL, finished_at = NULL"
        " WHERE workflow_id = ? AND state IN ('failed', 'cancelled', 'skipped') RETURNING id",
        (workflow_id,)).fetchall()]
    arr = ids_json(ids)
    # Every task of the workflow is now completed or reset: a reset task waits for its
    # reset dependencies only (a completed task never depends on one that did not complete).
    db.execute(
        "UPDATE tasks SET deps_left = (SELECT count(*) FROM edges e JOIN tasks p"
        " ON p.id = e.parent WHERE e.child = tasks.id AND p.state <> 'completed')"
        " WHERE id IN (SELECT value FROM json_each(?))", (arr,))
    ready = db.execute(
        "UPDATE tasks SET ready_at = ? WHERE id IN (SELECT value FROM json_each(?))"
        " AND deps_left = 0", (now, arr)).rowcount
    # Pending, as after submit: the next claim admits it under the running-workflows limit.
    db.execute(
        "UPDATE workflows SET state = 'pending', open_tasks = ?, failed = 0, cancelled = 0,"
        " started_at = NULL, finished_at = NULL WHERE id = ?", (len(ids), workflow_id))
    return Changes(became_ready=ready)


# ---------------------------------------------------------------- API keys and audit

KEY_COLUMNS = "key_id, secret_hash, tenant, role, name, created_at, expires_at, revoked_at"
AUDIT_COLUMNS = ("entry_id, at, action, outcome, actor, tenant, target, source, request_id,"
                 " detail")


def _key(r: tuple[Any, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(key_id=r[0], secret_hash=r[1], tenant=r[2], role=r[3], name=r[4],
                        created_at=r[5], expires_at=r[6], revoked_at=r[7])


def save_key(db: sqlite3.Connection, key: ApiKeyRecord) -> None:
    # Checked, not left to the primary key: a constraint error would read as a store fault.
    if db.execute("SELECT 1 FROM api_keys WHERE key_id = ?", (key.key_id,)).fetchone():
        raise InvalidInput(f"a key with id {key.key_id!r} exists")
    db.execute(f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (key.key_id, key.secret_hash, key.tenant, key.role, key.name, key.created_at,
                key.expires_at, key.revoked_at))


def find_key(db: sqlite3.Connection, key_id: str) -> ApiKeyRecord | None:
    row = db.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?",
                     (key_id,)).fetchone()
    return None if row is None else _key(row)


def list_keys(db: sqlite3.Connection) -> list[ApiKeyRecord]:
    return [_key(r) for r in db.execute(
        f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id")]


def revoke_key(db: sqlite3.Connection, key_id: str, now: float) -> ApiKeyRecord:
    row = db.execute(
        f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?"
        f" RETURNING {KEY_COLUMNS}", (now, key_id)).fetchone()
    if row is None:
        raise NotFound(f"no key with id {key_id!r}")
    return _key(row)


def append_audit(db: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
    db.executemany(
        "INSERT INTO audit (at, action, outcome, actor, tenant, target, source, request_id,"
        " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(e.at, e.action, e.outcome, e.actor, e.tenant, e.target, e.source, e.request_id,
          e.detail) for e in entries])


def load_audit(db: sqlite3.Connection, limit: int, before_id: int | None, tenant: str | None,
               action: str | None) -> list[AuditEntry]:
    where, args = _page([("tenant", tenant)], "entry_id", before_id, limit)
    if action is not None:  # a prefix, compared exactly: LIKE and GLOB have wildcards
        where = " AND ".join(filter(None, (where, "substr(action, 1, ?) = ?")))
        args[-1:-1] = [len(action), action]
    return [AuditEntry(entry_id=r[0], at=r[1], action=r[2], outcome=r[3], actor=r[4],
                       tenant=r[5], target=r[6], source=r[7], request_id=r[8], detail=r[9])
            for r in db.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE {where or '1'}"
                " ORDER BY entry_id DESC LIMIT ?", args)]


def prune_audit(db: sqlite3.Connection, before: float) -> int:
    return db.execute("DELETE FROM audit WHERE at < ?", (before,)).rowcount


# ---------------------------------------------------------------- telemetry rollups


def save_rollups(db: sqlite3.Connection, rows: Sequence[RollupRow]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO telemetry (resolution, kind, bucket, name, owner, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(r.resolution, r.kind, r.bucket, r.name, r.owner, r.data) for r in rows])


def load_rollups(db: sqlite3.Connection, resolution: str, since: float, until: float | None,
                 kind: str | None) -> list[RollupRow]:
    where, args = "resolution = ? AND bucket >= ?", [resolution, since]
    # Clauses only when given: "? IS NULL OR kind = ?" would keep SQLite off the key.
    if until is not None:
        where += " AND bucket < ?"
        args.append(until)
    if kind is not None:
        where += " AND kind = ?"
        args.append(kind)
    return [RollupRow(resolution=r[0], kind=r[1], bucket=r[2], name=r[3], owner=r[4], data=r[5])
            for r in db.execute(
                "SELECT resolution, kind, bucket, name, owner, data FROM telemetry"
                f" WHERE {where} ORDER BY bucket, kind, name, owner", args)]


def prune_rollups(db: sqlite3.Connection, resolution: str, before: float) -> int:
    return db.execute("DELETE FROM telemetry WHERE resolution = ? AND bucket < ?",
                      (resolution, before)).rowcount
