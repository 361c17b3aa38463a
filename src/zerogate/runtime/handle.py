"""What ``submit`` returns: a handle to await, inspect or cancel one workflow run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zerogate.domain.model import JSON, TaskState, WorkflowState
from zerogate.domain.reasons import Situation, wait_reason
from zerogate.domain.records import TaskRecord, WorkflowRecord
from zerogate.errors import WorkflowFailed

if TYPE_CHECKING:
    from zerogate.runtime.engine import Engine


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """A task as stored, with the reason it waits (None when not waiting)."""

    record: TaskRecord
    wait_reason: str | None


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """A workflow and its tasks at one moment."""

    record: WorkflowRecord
    tasks: list[TaskStatus]

    @property
    def state(self) -> WorkflowState:
        return self.record.state

    @property
    def results(self) -> dict[str, JSON]:
        """Decoded results of the completed tasks, by task id."""
        return {t.record.local_id: json.loads(t.record.result_json) for t in self.tasks
                if t.record.state is TaskState.COMPLETED and t.record.result_json is not None}

    @property
    def errors(self) -> dict[str, str]:
        return {t.record.local_id: t.record.error for t in self.tasks if t.record.error
                and t.record.state is not TaskState.COMPLETED}


class WorkflowHandle:
    """A submitted workflow: ``await handle.result()`` for its task results."""

    def __init__(self, engine: Engine, workflow_id: int, task_ids: dict[str, int],
                 is_new: bool) -> None:
        self.engine = engine
        self.id = workflow_id
        self.task_ids = task_ids
        self.is_new = is_new  # False when an idempotency key returned an earlier run

    def __repr__(self) -> str:
        return f"WorkflowHandle(id={self.id}, tasks={len(self.task_ids)})"

    async def wait(self, timeout_s: float | None = None) -> WorkflowStatus:
        """Wait for the run to finish, whatever its outcome, and return its status."""
        await self.engine.wait(self.id, timeout_s)
        return await self.status()

    async def result(self, timeout_s: float | None = None) -> dict[str, JSON]:
        """Wait, then return results by task id; raise WorkflowFailed if it did not complete."""
        status = await self.wait(timeout_s)
        if status.state is not WorkflowState.COMPLETED:
            raise WorkflowFailed(f"workflow {self.id} ({status.record.name}) ended "
                                 f"{status.state}: {status.errors}", status.errors)
        return status.results

    async def status(self) -> WorkflowStatus:
        return await status_of(self.engine, self.id)

    async def cancel(self) -> None:
        await self.engine.cancel(self.id)


WAITING = frozenset({TaskState.PENDING, TaskState.WAITING, TaskState.RETRYING})


async def status_of(engine: Engine, workflow_id: int,
                    record: WorkflowRecord | None = None) -> WorkflowStatus:
    """Read a workflow (unless ``record`` is it) and explain the wait of each of its
    tasks; pauses and running counts are read only when some task waits."""
    store = engine.store
    record = record or await store.get_workflow(workflow_id)
    tasks = await store.list_tasks(workflow_id)
    if not any(t.state in WAITING for t in tasks):
        return WorkflowStatus(record, [TaskStatus(t, None) for t in tasks])
    situation = Situation(
        dep_states={t.local_id: t.state for t in tasks}, workflow_state=record.state,
        paused=await store.paused_scopes(), running=await store.running_counts(),
        limits=engine.config.limits, now=engine.clock.now(), admission=engine.admission())
    return WorkflowStatus(record, [TaskStatus(t, wait_reason(t, situation)) for t in tasks])
