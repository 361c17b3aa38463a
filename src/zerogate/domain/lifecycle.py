"""The task state machine: which moves are legal, as data."""

from __future__ import annotations

from zerogate.domain.model import TaskState
from zerogate.errors import InvalidTransition

S = TaskState

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.PENDING: frozenset({S.WAITING, S.FAILED, S.SKIPPED, S.CANCELLED}),
    S.WAITING: frozenset({S.RUNNING, S.FAILED, S.SKIPPED, S.CANCELLED}),
    # RUNNING -> WAITING is a released lease (graceful shutdown), not a failure.
    S.RUNNING: frozenset({S.COMPLETED, S.RETRYING, S.FAILED, S.CANCELLED, S.WAITING}),
    S.RETRYING: frozenset({S.RUNNING, S.FAILED, S.SKIPPED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SKIPPED: frozenset(),
}


def can_move(source: TaskState, target: TaskState) -> bool:
    """True when the lifecycle allows ``source -> target``."""
    return target in TRANSITIONS[source]


def check_move(source: TaskState, target: TaskState) -> TaskState:
    """Return ``target`` or raise InvalidTransition naming both states."""
    if not can_move(source, target):
        raise InvalidTransition(f"a task cannot move from {source} to {target}")
    return target


def sources_of(target: TaskState) -> frozenset[TaskState]:
    """Every state from which ``target`` can be reached in one move."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)
