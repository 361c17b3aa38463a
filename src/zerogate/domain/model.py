"""Value objects of the domain: priorities, states, limits and what a user submits."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zerogate.errors import InvalidConfig, InvalidPayload

JSON = Any  # a value json.dumps accepts


class Priority(enum.IntEnum):
    """Priority class; a lower value is served first."""

    CRITICAL = 0
    HIGH = 1
    MEDIUM = 2
    LOW = 3

    @classmethod
    def parse(cls, value: Priority | str | int) -> Priority:
        """Accept a Priority, its name in any case, or its number."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
            return cls(value)
        raise InvalidConfig(
            f"unknown priority {value!r}: use one of critical, high, medium, low"
        )


class TaskState(enum.StrEnum):
    """Lifecycle of one task (see ``zerogate.domain.lifecycle`` for the moves)."""

    PENDING = "pending"  # waits for dependencies or for its workflow to be admitted
    WAITING = "waiting"  # ready; waits for a slot, a resume, or admission
    RUNNING = "running"  # claimed under a lease by one engine instance
    RETRYING = "retrying"  # an attempt failed; waits for its backoff to pass
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # a dependency failed and the workflow skips dependents

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TASK_STATES


TERMINAL_TASK_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED}
)


class WorkflowState(enum.StrEnum):
    """Lifecycle of a workflow run."""

    PENDING = "pending"  # queued behind the running-workflows limit
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.CANCELLED)


class FailurePolicy(enum.StrEnum):
    """What happens to the dependents of a task that failed for good."""

    FAIL = "fail"  # dependents fail, naming the dependency
    SKIP = "skip"  # dependents are skipped


class RunIn(enum.StrEnum):
    """Where a handler runs: on the event loop, in a thread, or in a child process."""

    ASYNC = "async"
    THREAD = "thread"
    PROCESS = "process"


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Concurrency limits; ``None`` means unlimited.

    ``max_running`` is this engine instance's slot count. The others count running
    tasks across every instance sharing the store. ``per_tenant`` is every tenant's
    limit unless ``tenant_limits`` names its own (a tenant's running quota).
    """

    max_running: int = 64
    max_running_workflows: int | None = None
    per_workflow: int | None = None
    per_tenant: int | None = None
    per_key: Mapping[str, int] = field(default_factory=dict)
    default_key_limit: int | None = None
    tenant_limits: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_positive("max_running", self.max_running)
        for name in ("max_running_workflows", "per_workflow", "per_tenant", "default_key_limit"):
            value = getattr(self, name)
            if value is not None:
                _check_positive(name, value)
        for key, value in self.per_key.items():
            _check_positive(f"per_key[{key!r}]", value)
        for tenant, value in self.tenant_limits.items():
            _check_positive(f"tenant_limits[{tenant!r}]", value)

    def key_limit(self, key: str | None) -> int | None:
        if key is None:
            return None
        return self.per_key.get(key, self.default_key_limit)

    def tenant_limit(self, tenant: str) -> int | None:
        return self.tenant_limits.get(tenant, self.per_tenant)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfig(f"{name} must be a whole number of at least 1, got {value!r}")


SCOPE_KINDS = ("workflow", "tenant", "key")


def check_scope(scope: str) -> str:
    """Return a pause scope in its one spelling, or raise InvalidConfig naming the forms."""
    if scope == "global":
        return scope
    kind, sep, name = scope.partition(":")
    if not sep or kind not in SCOPE_KINDS or not name or (
            kind == "workflow" and not name.isdigit()):
        raise InvalidConfig(f"unknown pause scope {scope!r}: use global, workflow:<id>, "
                            "tenant:<name> or key:<key>")
    # One spelling per workflow, so that resuming "workflow:7" clears "workflow:007".
    return f"workflow:{int(name)}" if kind == "workflow" else scope


def dumps_json(value: JSON, *, what: str) -> str:
    """Encode ``value`` as compact JSON or raise InvalidPayload naming ``what``."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"{what} is not JSON-serialisable: {exc}") from exc
