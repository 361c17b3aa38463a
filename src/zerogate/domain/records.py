"""Records that cross the store boundary. Plain data; JSON fields stay encoded text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from zerogate.domain.admission import NO_NEED, Admission, Need
from zerogate.domain.model import FailurePolicy, Limits, TaskState, WorkflowState
from zerogate.errors import InvalidTransition, InvalidWorkflow


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTask:
    """A validated task ready to store: defaults resolved, JSON encoded."""

    local_id: str
    name: str
    args_json: str
    deps: tuple[str, ...]
    priority: int
    rank: int
    key: str | None
    timeout_s: float | None
    retry_json: str
    feature: str | None = None
    need: Need = NO_NEED


@dataclass(frozen=True, slots=True, kw_only=True)
class NewWorkflow:
    """A validated workflow; ``tasks`` are in dependency order."""

    name: str
    tenant: str
    priority: int
    failure_policy: FailurePolicy
    idempotency_key: str | None
    tasks: tuple[NewTask, ...]


@dataclass(frozen=True, slots=True)
class Submitted:
    """The ids given to a submitted workflow; ``is_new`` is False on an idempotent replay."""

    workflow_id: int
    task_ids: dict[str, int]
    is_new: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRequest:
    """Ask for up to ``n`` ready tasks, leased to ``owner`` until ``now + lease_s``."""

    owner: str
    n: int
    now: float
    lease_s: float
    limits: Limits
    admission: Admission | None = None  # the governor's decision; None admits all


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A task leased to one owner for one attempt; ``attempt`` is the fencing token."""

    task_id: int
    workflow_id: int
    local_id: str
    name: str
    args_json: str
    attempt: int
    failures: int
    timeout_s: float | None
    retry_json: str
    dep_results: dict[str, str]
    priority: int = 2
    feature: str | None = None
    need: Need = NO_NEED
    key: str | None = None
    ready_at: float | None = None  # when it last became ready (first attempt: its queue wait)
    started_at: float = 0.0  # the claim's time, as stored in the task's started_at


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """Claimed tasks, and when the earliest backoff ends (to sleep until then)."""

    claims: list[Claim]
    next_due: float | None
    is_paused: bool = False
    has_more: bool = False  # the scan stopped early: claim again at once


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The end of one attempt, fenced by ``attempt``.

    ``state`` is COMPLETED, RETRYING (``not_before`` set), FAILED, or WAITING for a
    lease released without running to the end (graceful shutdown).
    """

    task_id: int
    attempt: int
    state: TaskState
    result_json: str | None = None
    error: str | None = None
    traceback: str | None = None
    not_before: float | None = None


@dataclass(slots=True)
class Changes:
    """What a store call changed that the runtime must react to."""

    accepted: list[int] = field(default_factory=list)
    stopped_running: list[int] = field(default_factory=list)
    finished_workflows: list[tuple[int, WorkflowState]] = field(default_factory=list)
    became_ready: int = 0

    def merge(self, other: Changes) -> None:
        self.accepted += other.accepted
        self.stopped_running += other.stopped_running
        self.finished_workflows += other.finished_workflows
        self.became_ready += other.became_ready


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    """A task as stored, for status queries."""

    task_id: int
    workflow_id: int
    local_id: str
    name: str
    state: TaskState
    priority: int
    effective_priority: int
    rank: int
    tenant: str
    key: str | None
    deps: tuple[str, ...]
    attempt: int
    failures: int
    owner: str | None
    lease_until: float | None
    not_before: float | None
    result_json: str | None
    error: str | None
    traceback: str | None
    created_at: float
    ready_at: float | None
    started_at: float | None
    finished_at: float | None
    feature: str | None = None
    need: Need = NO_NEED


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRecord:
    """A workflow run as stored."""

    workflow_id: int
    name: str
    tenant: str
    state: WorkflowState
    priority: int
    failure_policy: FailurePolicy
    idempotency_key: str | None
    open_tasks: int
    created_at: float
    finished_at: float | None


OUTCOME_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.RETRYING, TaskState.FAILED, TaskState.WAITING})


def check_outcomes(outcomes: Sequence[Outcome]) -> None:
    """Refuse a batch holding an outcome state a store cannot apply, before any change."""
    for o in outcomes:
        if o.state not in OUTCOME_STATES:
            raise InvalidTransition(f"an attempt cannot end in state {o.state} (task {o.task_id})")


def check_new_workflow(wf: NewWorkflow) -> None:
    """Refuse duplicate ids and unknown or repeated dependencies, before any change."""
    known: set[str] = set()
    for t in wf.tasks:
        if t.local_id in known:
            raise InvalidWorkflow(f"duplicate task id {t.local_id!r}")
        known.add(t.local_id)
    if not known:
        raise InvalidWorkflow("a workflow needs at least one task")
    for t in wf.tasks:
        if len(set(t.deps)) != len(t.deps):
            raise InvalidWorkflow(f"task {t.local_id!r} names a dependency twice")
        for dep in t.deps:
            if dep not in known:
                raise InvalidWorkflow(f"task {t.local_id!r} depends on unknown task {dep!r}")


# A retried workflow runs these tasks again; completed ones keep their results.
RERUN_STATES = frozenset({TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED})
RETRIABLE_WORKFLOW_STATES = frozenset({WorkflowState.FAILED, WorkflowState.CANCELLED})


def check_retry(workflow_id: int, state: WorkflowState) -> None:
    """Refuse to retry a workflow that is still open or that completed, before any change.

    An open workflow is still running its tasks, and a completed one has nothing to
    run again: retrying either would only duplicate work.
    """
    if state not in RETRIABLE_WORKFLOW_STATES:
        raise InvalidTransition(f"workflow {workflow_id} is {state}: only a failed or "
                                "cancelled workflow can be retried")


def final_workflow_state(failed: int, cancelled: int) -> WorkflowState:
    """A finished workflow failed if any task failed, else cancelled if any was."""
    if failed:
        return WorkflowState.FAILED
    if cancelled:
        return WorkflowState.CANCELLED
    return WorkflowState.COMPLETED


@dataclass(frozen=True, slots=True)
class Event:
    """Something the engine did: ``kind`` is "claimed", a task state, "expired",
    "workflow" or "aged".

    ``state`` is the task's new state; for ``workflow`` events the workflow's; for
    ``aged`` events the number of tasks promoted.
    """

    kind: str
    workflow_id: int | None
    task_id: int | None
    state: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RollupRow:
    """One telemetry record kept in the store, replaced whole on each save.

    ``resolution`` is "minute", "hour", "day" (``bucket`` is the bucket's start in
    epoch seconds) or "finding" (``bucket`` is when the finding was first seen).
    ``kind`` says what ``name`` names ("task", "stage", "resource", "key", "finding").
    Each engine instance (``owner``) writes its own rows; readers merge owners.
    ``data`` is JSON text whose shape belongs to the telemetry layer.
    """

    resolution: str
    bucket: float
    kind: str
    name: str
    owner: str
    data: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveWorkflow:
    """A workflow not finished yet, for the dashboard."""

    workflow_id: int
    name: str
    tenant: str
    state: WorkflowState
    priority: int
    open_tasks: int
    total_tasks: int
    created_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveView:
    """What is queued and running now, read without scanning finished history.

    ``tasks`` counts open tasks by state: pending (waiting for dependencies or for
    their workflow's admission), waiting (ready), retrying and running.
    ``workflows`` counts pending and running workflows. ``ready_*`` count waiting and
    retrying tasks; ``running_by_key`` counts running tasks that have a key.
    ``active`` lists up to the requested number of open workflows, oldest first.
    """

    tasks: dict[str, int]
    workflows: dict[str, int]
    ready_by_priority: dict[int, int]
    ready_by_name: dict[str, int]
    ready_by_key: dict[str, int]
    running_by_key: dict[str, int]
    oldest_ready_at: float | None
    active: list[ActiveWorkflow]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    """An API key as stored: only a digest of its secret, never the secret itself.

    ``key_id`` is the key's visible prefix (``zg_3fa9c2d1e0``), unique, so a request
    names the row to check without the store ever comparing secrets. ``role`` is the
    API's business ("viewer", "operator", "admin"); the store keeps it as text.
    """

    key_id: str
    secret_hash: str
    tenant: str
    role: str
    name: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One line of the audit trail: who did what to what, and how it ended.

    ``outcome`` is "ok", "denied" or "failed"; ``actor`` is the key id, None when
    the request did not authenticate. ``detail`` is JSON text. ``entry_id`` is given
    by the store on append, ascending and never reused, so it can page the trail;
    whatever it holds on the way in is ignored.
    """

    at: float
    action: str
    outcome: str
    actor: str | None = None
    tenant: str | None = None
    target: str | None = None
    source: str | None = None
    request_id: str | None = None
    detail: str | None = None
    entry_id: int = 0
