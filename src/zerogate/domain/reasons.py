"""Why a task is not running yet, in words a user can act on. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from zerogate.domain.admission import Admission
from zerogate.domain.model import Limits, TaskState, WorkflowState
from zerogate.domain.records import TaskRecord
from zerogate.domain.scheduling import Candidate, RunningCounts, blocking_scope


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """What surrounds a task when its wait is explained."""

    dep_states: Mapping[str, TaskState]
    workflow_state: WorkflowState
    paused: frozenset[str]
    running: RunningCounts
    limits: Limits
    now: float
    admission: Admission | None = None  # the governor's current decision


def wait_reason(task: TaskRecord, s: Situation) -> str | None:
    """Return why ``task`` waits, or None when it is running or finished.

    The most fundamental reason comes first: a dependency, then a pause, then the
    backoff of a retry, then admission of the workflow, then the resource governor
    (naming the resource and threshold), then a full slot.
    """
    if task.state not in (TaskState.PENDING, TaskState.WAITING, TaskState.RETRYING):
        return None
    open_deps = [d for d in task.deps if s.dep_states.get(d) is not TaskState.COMPLETED]
    if open_deps:
        return "dependency: waiting for " + ", ".join(repr(d) for d in open_deps)
    paused = _paused_scope(task, s.paused)
    if paused is not None:
        return f"paused: {paused} is paused"
    if task.state is TaskState.RETRYING and task.not_before and task.not_before > s.now:
        when = datetime.fromtimestamp(task.not_before, UTC).isoformat(timespec="seconds")
        return f"retry: backing off until {when} after attempt {task.attempt} failed"
    if task.state is TaskState.PENDING and s.limits.max_running_workflows is not None:
        return _admission_reason(s)
    held = s.admission.held_by(task.priority, task.feature, task.need) if s.admission else None
    if held is not None:
        return f"governor: {held}"
    scope = blocking_scope(Candidate(task.task_id, task.workflow_id, task.tenant, task.key),
                           s.running, s.limits)
    if scope is not None:
        return f"slot: {scope}"
    return "queued: waiting for a free slot behind work of equal or higher priority"


def _admission_reason(s: Situation) -> str:
    if s.workflow_state is WorkflowState.PENDING:
        return f"workflow slot: {s.limits.max_running_workflows} workflows are running, the limit"
    return "queued: about to become ready"


def _paused_scope(task: TaskRecord, paused: frozenset[str]) -> str | None:
    for scope in ("global", f"workflow:{task.workflow_id}", f"tenant:{task.tenant}",
                  f"key:{task.key}"):
        if scope in paused:
            return "everything" if scope == "global" else scope
    return None
