"""Registering task handlers and composing them into workflows.

Only registered handlers can run: a workflow names tasks by their registered name,
and their arguments and results are JSON, never pickles.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

import pydantic

from zerogate.domain.admission import NO_NEED, Category, Need
from zerogate.domain.features import Feature
from zerogate.domain.model import JSON, FailurePolicy, Priority, RunIn, dumps_json
from zerogate.domain.records import NewTask, NewWorkflow
from zerogate.domain.retry import RetryPolicy
from zerogate.domain.workflow import TaskSpec, WorkflowSpec, validate_dag
from zerogate.errors import InvalidConfig, InvalidInput, UnknownTask
from zerogate.templates import Template, Templates

F = TypeVar("F", bound=Callable[..., Any])
P = TypeVar("P", bound=pydantic.BaseModel)


@dataclass(frozen=True, kw_only=True)
class TaskDef:
    """A registered handler and its defaults. Calling it calls the function."""

    name: str
    fn: Callable[..., Any]
    run_in: RunIn
    takes_ctx: bool
    priority: Priority
    key: str | None
    timeout_s: float | None
    retry: RetryPolicy
    feature: str | None = None
    need: Need = NO_NEED
    retry_json: str = ""  # the policy encoded once, not once per submitted task

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_json", self.retry.to_json())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class Registry:
    """The task handlers an engine may run, by name.

    >>> registry = Registry()
    >>> @registry.task(retry=RetryPolicy(max_attempts=5), timeout_s=30)
    ... async def fetch(ctx, url: str) -> dict: ...
    """

    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}
        self._features: dict[str, Feature] = {}
        self.templates = Templates()

    def template(self, *, params: type[P], name: str | None = None, description: str = "",
                 output: type[pydantic.BaseModel] | None = None, feature: str | None = None,
                 ) -> Callable[[Callable[..., Workflow]], Template[P]]:
        """Register a function building a workflow from ``params`` as a template, the
        unit the HTTP API submits (see ``zerogate.templates``). ``output`` models the
        result of its final task; ``feature`` names the (declared) feature its tasks
        belong to, which the template list publishes with their declared resources."""
        if feature is not None and feature not in self._features:
            raise InvalidConfig(f"template feature {feature!r} is not declared; "
                                f"call registry.feature({feature!r}, category) first")

        def register(build: Callable[..., Workflow]) -> Template[P]:
            doc = (build.__doc__ or "").strip().split("\n\n")[0]
            template = Template(name=name or build.__name__, params=params, build=build,
                                description=description or " ".join(doc.split()),
                                output=output, feature=feature)
            self.templates.add(template)
            return template
        return register

    def feature_needs(self, feature: str) -> tuple[Category | None, Need]:
        """A feature's category and the largest resources any of its tasks declares."""
        known = self._features.get(feature)
        needs = [t.need for t in self._tasks.values() if t.feature == feature]
        return (None if known is None else known.category,
                Need(max((n.cpu for n in needs), default=0.0),
                     max((n.memory for n in needs), default=0)))

    def feature(self, name: str, category: Category | str, *, max_wait_s: float | None = 600.0,
                description: str = "") -> Feature:
        """Declare a feature tasks can belong to; under load the governor sheds it by
        category (experimental first, essential never).

        A ready task of a feature that is off waits; after ``max_wait_s`` it fails
        with a message naming the feature (None: it waits as long as the feature is off).
        """
        # Feature parses a category given by name, and names the choices if it is unknown.
        feature = Feature(name, cast(Category, category), max_wait_s, description)
        known = self._features.get(name)
        if known is not None and known != feature:
            raise InvalidConfig(f"feature {name!r} is declared already, as {known.category}")
        self._features[name] = feature
        return feature

    def features(self) -> list[Feature]:
        return [self._features[n] for n in sorted(self._features)]

    @overload
    def task(self, fn: F, /, **options: Any) -> TaskDef: ...

    @overload
    def task(self, fn: None = None, /, **options: Any) -> Callable[[F], TaskDef]: ...

    def task(self, fn: Callable[..., Any] | None = None, /,
             **options: Any) -> TaskDef | Callable[[F], TaskDef]:
        """Register ``fn`` (as a bare decorator, or with options).

        Options: ``name``, ``run_in`` ("async", "thread", "process"; async functions
        default to "async", others to "thread"), ``priority``, ``key``, ``timeout_s``,
        ``retry``; for the resource governor ``feature`` (declared with ``feature()``
        first), ``cpu`` (cores one run uses, e.g. 0.5) and ``memory_mb`` (its peak).
        A handler that has a parameter named ``ctx`` receives a TaskContext.
        """
        if fn is None:
            return lambda f: self._register(f, **options)
        return self._register(fn, **options)

    def _register(self, fn: Callable[..., Any], *, name: str | None = None,
                  run_in: RunIn | str | None = None, priority: Priority | str = "medium",
                  key: str | None = None, timeout_s: float | None = None,
                  retry: RetryPolicy | None = None, feature: str | None = None,
                  cpu: float = 0.0, memory_mb: float = 0.0) -> TaskDef:
        name = name or fn.__name__
        if name in self._tasks:
            raise InvalidConfig(f"a task named {name!r} is registered already")
        if feature is not None and feature not in self._features:
            raise InvalidConfig(f"task {name!r}: feature {feature!r} is not declared; "
                                f"call registry.feature({feature!r}, category) first")
        need = _need(name, cpu, memory_mb)
        mode = RunIn(run_in) if run_in else _default_run_in(fn)
        if mode is RunIn.ASYNC and not inspect.iscoroutinefunction(fn):
            raise InvalidConfig(f"task {name!r}: run_in='async' needs an async function")
        if mode is not RunIn.ASYNC and inspect.iscoroutinefunction(fn):
            raise InvalidConfig(f"task {name!r}: an async function must run_in='async'")
        tdef = TaskDef(name=name, fn=fn, run_in=mode,
                       takes_ctx="ctx" in inspect.signature(fn).parameters,
                       priority=Priority.parse(priority), key=key, timeout_s=timeout_s,
                       retry=retry or RetryPolicy(), feature=feature, need=need)
        self._tasks[name] = tdef
        return tdef

    def get(self, name: str) -> TaskDef:
        try:
            return self._tasks[name]
        except KeyError:
            known = ", ".join(sorted(self._tasks)) or "none"
            raise UnknownTask(f"no task is registered as {name!r} (registered: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def prepare(self, spec: WorkflowSpec, idempotency_key: str | None = None) -> NewWorkflow:
        """Validate ``spec`` against the registry and encode it for the store."""
        for what, text in (("workflow name", spec.name), ("tenant", spec.tenant),
                           ("idempotency key", idempotency_key)):
            _check_text(what, text)
        order = validate_dag(spec.tasks)
        by_id = {t.id: t for t in spec.tasks}
        tasks = tuple(self._new_task(by_id[i], spec) for i in order)
        return NewWorkflow(name=spec.name, tenant=spec.tenant, priority=int(spec.priority),
                           failure_policy=spec.failure_policy, idempotency_key=idempotency_key,
                           tasks=tasks)

    def _new_task(self, t: TaskSpec, wf: WorkflowSpec) -> NewTask:
        tdef = self.get(t.name)
        _check_text("task id", t.id)
        _check_text("task key", t.key)
        priority = t.priority if t.priority is not None else tdef.priority
        return NewTask(
            local_id=t.id, name=t.name, deps=t.deps, rank=t.rank,
            args_json=dumps_json(t.args, what=f"arguments of task {t.id!r}") if t.args else "{}",
            priority=int(priority), key=t.key if t.key is not None else tdef.key,
            timeout_s=t.timeout_s if t.timeout_s is not None else tdef.timeout_s,
            retry_json=t.retry.to_json() if t.retry else tdef.retry_json,
            feature=tdef.feature, need=tdef.need,
        )


def _need(task: str, cpu: float, memory_mb: float) -> Need:
    for what, value in (("cpu", cpu), ("memory_mb", memory_mb)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 <= value < math.inf):
            raise InvalidConfig(f"task {task!r}: {what} must be a number >= 0, got {value!r}")
    return Need(float(cpu), int(memory_mb * 2**20)) if cpu or memory_mb else NO_NEED


def _check_text(what: str, text: str | None) -> None:
    if text is None:
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"the {what} {text!r} is not valid UTF-8 text: {exc}") from None


def _default_run_in(fn: Callable[..., Any]) -> RunIn:
    return RunIn.ASYNC if inspect.iscoroutinefunction(fn) else RunIn.THREAD


class Workflow:
    """Builds a workflow DAG step by step.

    >>> wf = Workflow("etl")
    >>> raw = wf.add(fetch, {"url": "https://example.org"})
    >>> wf.add(parse, after=[raw])
    """

    def __init__(self, name: str, *, tenant: str = "default",
                 priority: Priority | str = Priority.MEDIUM,
                 failure_policy: FailurePolicy | str = FailurePolicy.FAIL) -> None:
        self.name = name
        self.tenant = tenant
        self.priority = Priority.parse(priority)
        self.failure_policy = FailurePolicy(failure_policy)
        self._tasks: list[TaskSpec] = []
        self._ids: set[str] = set()

    def add(self, task: TaskDef | str, args: Mapping[str, JSON] | None = None, *,
            id: str | None = None, after: Iterable[str] = (),
            priority: Priority | str | None = None, rank: int = 0, key: str | None = None,
            timeout_s: float | None = None, retry: RetryPolicy | None = None) -> str:
        """Add a task and return its id, to name it in a later ``after=``."""
        name = task if isinstance(task, str) else task.name
        task_id = id or self._fresh_id(name)
        self._ids.add(task_id)
        self._tasks.append(TaskSpec(
            id=task_id, name=name, args=dict(args or {}), deps=tuple(after),
            priority=None if priority is None else Priority.parse(priority), rank=rank,
            key=key, timeout_s=timeout_s, retry=retry))
        return task_id

    def _fresh_id(self, name: str) -> str:
        if name not in self._ids:
            return name
        n = 2
        while f"{name}-{n}" in self._ids:
            n += 1
        return f"{name}-{n}"

    def spec(self) -> WorkflowSpec:
        return WorkflowSpec(name=self.name, tasks=tuple(self._tasks), tenant=self.tenant,
                            priority=self.priority, failure_policy=self.failure_policy)
