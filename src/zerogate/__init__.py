"""zerogate: a resource-aware, durable workflow engine for Python applications.

>>> registry = Registry()
>>> @registry.task
... async def hello(name: str) -> str:
...     return f"hello {name}"
>>> async def main() -> None:
...     async with Engine(registry, SqliteStore("zerogate.db")) as engine:
...         wf = Workflow("greet")
...         wf.add(hello, {"name": "world"})
...         handle = await engine.submit(wf)
...         print(await handle.result())
"""

from __future__ import annotations

from zerogate.adapters.clock import FakeClock, SystemClock
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.domain.model import FailurePolicy, Limits, Priority, RunIn, TaskState, WorkflowState
from zerogate.domain.retry import RetryPolicy
from zerogate.domain.workflow import TaskSpec, WorkflowSpec
from zerogate.errors import (
    EngineClosed,
    InvalidConfig,
    InvalidInput,
    InvalidPayload,
    InvalidWorkflow,
    NotFound,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    TaskTimeout,
    UnknownTask,
    WorkflowFailed,
    ZerogateError,
)
from zerogate.registry import Registry, TaskDef, Workflow
from zerogate.runtime.engine import Engine, EngineConfig
from zerogate.runtime.executor import TaskContext
from zerogate.runtime.handle import TaskStatus, WorkflowHandle, WorkflowStatus

__all__ = [
    "Engine",
    "EngineClosed",
    "EngineConfig",
    "FailurePolicy",
    "FakeClock",
    "InvalidConfig",
    "InvalidInput",
    "InvalidPayload",
    "InvalidWorkflow",
    "Limits",
    "NotFound",
    "Priority",
    "Registry",
    "RetryPolicy",
    "RunIn",
    "SqliteStore",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "SystemClock",
    "TaskContext",
    "TaskDef",
    "TaskSpec",
    "TaskState",
    "TaskStatus",
    "TaskTimeout",
    "UnknownTask",
    "Workflow",
    "WorkflowFailed",
    "WorkflowHandle",
    "WorkflowSpec",
    "WorkflowState",
    "WorkflowStatus",
    "ZerogateError",
]
