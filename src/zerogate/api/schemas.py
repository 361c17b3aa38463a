"""Request and response models of the HTTP API.

Every request model forbids unknown fields: a typo is an error, not a silently ignored
option, and a caller cannot smuggle in what the server sets itself (tenant, state,
attempt, owner). Response models are what the OpenAPI document promises and what
the schemathesis run in CI checks every answer against.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zerogate.domain.model import Priority
from zerogate.domain.records import ApiKeyRecord, TaskRecord, WorkflowRecord

PriorityName = Literal["critical", "high", "medium", "low"]
TaskStateName = Literal["pending", "waiting", "running", "retrying", "completed", "failed",
                        "cancelled", "skipped"]
WorkflowStateName = Literal["pending", "running", "completed", "failed", "cancelled"]
RoleName = Literal["viewer", "operator", "admin"]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- errors


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


# ---------------------------------------------------------------- submitting


class SubmitIn(Strict):
    """One workflow: a registered template and its parameters."""

    template: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)
    priority: PriorityName | None = None


class BulkIn(Strict):
    workflows: Annotated[list[SubmitIn], Field(min_length=1)]


class SubmittedOut(BaseModel):
    id: int
    template: str
    tasks: dict[str, int]
    created: bool = Field(description="false when an Idempotency-Key returned an earlier run")


class BulkOut(BaseModel):
    workflows: list[SubmittedOut]
    tasks: int


# ---------------------------------------------------------------- reading


class WorkflowOut(BaseModel):
    id: int
    template: str
    state: WorkflowStateName
    priority: PriorityName
    open_tasks: int
    created_at: float
    finished_at: float | None

    @classmethod
    def of(cls, r: WorkflowRecord) -> WorkflowOut:
        return cls(id=r.workflow_id, template=r.name, state=r.state.value,
                   priority=priority_name(r.priority), open_tasks=r.open_tasks,
                   created_at=r.created_at, finished_at=r.finished_at)


class TaskOut(BaseModel):
    id: int
    workflow_id: int
    step: str
    name: str
    state: TaskStateName
    priority: PriorityName
    key: str | None
    deps: list[str]
    attempt: int
    failures: int
    result: Any = None
    error: str | None
    created_at: float
    ready_at: float | None
    started_at: float | None
    finished_at: float | None
    wait_reason: str | None = None

    @classmethod
    def of(cls, r: TaskRecord, wait_reason: str | None = None) -> TaskOut:
        return cls(id=r.task_id, workflow_id=r.workflow_id, step=r.local_id, name=r.name,
                   state=r.state.value, priority=priority_name(r.priority), key=r.key,
                   deps=list(r.deps), attempt=r.attempt, failures=r.failures,
                   result=None if r.result_json is None else json.loads(r.result_json),
                   error=r.error, created_at=r.created_at, ready_at=r.ready_at,
                   started_at=r.started_at, finished_at=r.finished_at,
                   wait_reason=wait_reason)


class WorkflowStatusOut(BaseModel):
    workflow: WorkflowOut
    progress: float = Field(description="share of tasks finished, 0 to 1")
    counts: dict[str, int]
    tasks: list[TaskOut]


class WorkflowPage(BaseModel):
    items: list[WorkflowOut]
    next_before: int | None = Field(description="pass as ?before= for the next page")


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_before: int | None


class TemplateOut(BaseModel):
    name: str
    description: str
    params_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    feature: str | None = Field(default=None,
                                description="the feature the governor sheds it with")
    category: str | None = Field(default=None, description="the feature's category")
    cpu: float = Field(default=0.0, description="cores the heaviest step declares")
    memory_mb: float = Field(default=0.0, description="peak memory the heaviest step declares")


class QueueOut(BaseModel):
    tenant: str
    tasks: dict[str, int]
    workflows: dict[str, int]
    ready_by_priority: dict[str, int]
    ready_by_task: dict[str, int]
    ready_by_key: dict[str, int]
    running_by_key: dict[str, int]
    oldest_wait_s: float | None
    active: list[dict[str, Any]]


class QuotaOut(BaseModel):
    rate_per_s: float | None
    burst: int
    max_queued: int | None
    max_running: int | None
    open_tasks: int


class MetricsOut(BaseModel):
    tenant: str
    queue: QueueOut
    quota: QuotaOut
    system: dict[str, Any] | None = Field(
        None, description="installation-wide telemetry; admin keys only")


class SystemStatusOut(BaseModel):
    state: Literal["healthy", "degraded", "critical"]
    paused: bool
    tenant_paused: bool
    reasons: list[str]
    detail: dict[str, Any] | None = Field(None, description="admin keys only")


class ControlOut(BaseModel):
    action: str
    scope: str


class WhoAmIOut(BaseModel):
    key_id: str
    tenant: str
    role: RoleName


# ---------------------------------------------------------------- governor


class FeatureOut(BaseModel):
    name: str
    category: str
    on: bool
    reason: str
    override: str | None


class FeatureIn(Strict):
    state: Literal["on", "off", "auto"]
    for_s: Annotated[float, Field(gt=0, le=30 * 86400)] | None = None


class ProfileIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]


class ProfilesOut(BaseModel):
    active: str | None
    profiles: list[dict[str, Any]]


# ---------------------------------------------------------------- keys and audit


class KeyIn(Strict):
    tenant: Annotated[str, Field(min_length=1, max_length=64)]
    role: RoleName
    name: Annotated[str, Field(max_length=200)] = ""
    expires_in_s: Annotated[float, Field(gt=0, le=10 * 365 * 86400)] | None = None


class KeyOut(BaseModel):
    key_id: str
    tenant: str
    role: RoleName
    name: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    @classmethod
    def of(cls, r: ApiKeyRecord) -> KeyOut:
        return cls(key_id=r.key_id, tenant=r.tenant, role=r.role,  # type: ignore[arg-type]
                   name=r.name, created_at=r.created_at, expires_at=r.expires_at,
                   revoked_at=r.revoked_at)


class NewKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, stored only hashed")


class AuditOut(BaseModel):
    id: int
    at: float
    action: str
    outcome: str
    actor: str | None
    tenant: str | None
    target: str | None
    source: str | None
    request_id: str | None
    detail: Any = None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_before: int | None


def priority_name(p: int) -> PriorityName:
    return Priority(p).name.lower()  # type: ignore[return-value]
