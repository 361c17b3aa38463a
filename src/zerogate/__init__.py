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
from zerogate.adapters.sampler import SystemSampler
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.client import AsyncClient, Client
from zerogate.domain.admission import Category
from zerogate.domain.bottlenecks import BottleneckRules
from zerogate.domain.model import FailurePolicy, Limits, Priority, RunIn, TaskState, WorkflowState
from zerogate.domain.profiles import Profile, profile_from_config
from zerogate.domain.retry import RetryPolicy
from zerogate.domain.victims import EvictionPolicy
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
from zerogate.runtime.governor import Governor, GovernorConfig
from zerogate.runtime.handle import TaskStatus, WorkflowHandle, WorkflowStatus
from zerogate.runtime.observer import TelemetryConfig

__all__ = [
    "AsyncClient",
    "BottleneckRules",
    "Category",
    "Client",
    "Engine",
    "EngineClosed",
    "EngineConfig",
    "EvictionPolicy",
    "FailurePolicy",
    "FakeClock",
    "Governor",
    "GovernorConfig",
    "InvalidConfig",
    "InvalidInput",
    "InvalidPayload",
    "InvalidWorkflow",
    "Limits",
    "NotFound",
    "Priority",
    "Profile",
    "Registry",
    "RetryPolicy",
    "RunIn",
    "SqliteStore",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "SystemClock",
    "SystemSampler",
    "TaskContext",
    "TaskDef",
    "TaskSpec",
    "TaskState",
    "TaskStatus",
    "TaskTimeout",
    "TelemetryConfig",
    "UnknownTask",
    "Workflow",
    "WorkflowFailed",
    "WorkflowHandle",
    "WorkflowSpec",
    "WorkflowState",
    "WorkflowStatus",
    "ZerogateError",
    "profile_from_config",
]
