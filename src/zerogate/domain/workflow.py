"""What a user submits: task specs composed into a workflow DAG, and its validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from zerogate.domain.model import JSON, FailurePolicy, Priority
from zerogate.domain.retry import RetryPolicy
from zerogate.errors import InvalidConfig, InvalidWorkflow

RANK_MAX = 2**31  # ranks order tasks inside a class; any store's integer holds them


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One task of a workflow: which handler, its JSON arguments and dependencies.

    ``id`` is unique inside its workflow; ``deps`` name other ids of the same
    workflow. ``None`` fields take the handler's defaults at submit time.
    """

    id: str
    name: str
    args: Mapping[str, JSON] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    priority: Priority | None = None
    rank: int = 0
    key: str | None = None
    timeout_s: float | None = None
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise InvalidWorkflow(f"task id must be a non-empty string, got {self.id!r}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise InvalidConfig(f"task {self.id!r}: timeout_s must be positive")
        rank = self.rank
        if isinstance(rank, bool) or not isinstance(rank, int) or abs(rank) > RANK_MAX:
            raise InvalidConfig(f"task {self.id!r}: rank must be a whole number within "
                                f"±{RANK_MAX}, got {self.rank!r}")


@dataclass(frozen=True, kw_only=True)
class WorkflowSpec:
    """A DAG of tasks submitted together under one name and tenant."""

    name: str
    tasks: tuple[TaskSpec, ...]
    tenant: str = "default"
    priority: Priority = Priority.MEDIUM
    failure_policy: FailurePolicy = FailurePolicy.FAIL


def validate_dag(tasks: Sequence[TaskSpec]) -> list[str]:
    """Return task ids in a dependency-respecting order, or raise InvalidWorkflow.

    The error names the duplicate id, the missing dependency, or the whole cycle
    (``a -> b -> a``), so a user can fix the workflow at once.
    """
    if not tasks:
        raise InvalidWorkflow("a workflow needs at least one task")
    by_id: dict[str, TaskSpec] = {}
    for spec in tasks:
        if spec.id in by_id:
            raise InvalidWorkflow(f"duplicate task id {spec.id!r}")
        by_id[spec.id] = spec
    for spec in tasks:
        for dep in spec.deps:
            if dep not in by_id:
                raise InvalidWorkflow(f"task {spec.id!r} depends on unknown task {dep!r}")
            if dep == spec.id:
                raise InvalidWorkflow(f"task {spec.id!r} depends on itself")
    return _topological_order(by_id)


def _topological_order(by_id: Mapping[str, TaskSpec]) -> list[str]:
    # Iterative DFS with colours so a 10,000-deep chain cannot hit the recursion limit.
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(by_id, white)
    order: list[str] = []
    for root in by_id:
        if colour[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        colour[root] = grey
        while stack:
            node, i = stack[-1]
            deps = by_id[node].deps
            if i == len(deps):
                stack.pop()
                colour[node] = black
                order.append(node)
                continue
            stack[-1] = (node, i + 1)
            dep = deps[i]
            if colour[dep] == grey:
                raise InvalidWorkflow(f"dependency cycle: {_cycle_text(stack, dep)}")
            if colour[dep] == white:
                colour[dep] = grey
                stack.append((dep, 0))
    return order


def _cycle_text(stack: list[tuple[str, int]], again: str) -> str:
    path = [node for node, _ in stack]
    cycle = [*path[path.index(again):], again]
    # The stack walks from dependent to dependency; show it in that direction.
    return " -> ".join(f"{node!r}" for node in cycle)
