"""The task lifecycle as data: what may follow what."""

from __future__ import annotations

import pytest

from zerogate.domain.lifecycle import TRANSITIONS, can_move, check_move, sources_of
from zerogate.domain.model import TERMINAL_TASK_STATES, TaskState
from zerogate.errors import InvalidTransition

S = TaskState


def test_every_state_has_an_entry_and_terminal_states_are_final() -> None:
    assert set(TRANSITIONS) == set(TaskState)
    for state in TERMINAL_TASK_STATES:
        assert TRANSITIONS[state] == frozenset()
        assert state.is_terminal


@pytest.mark.parametrize(("source", "target"), [
    (S.PENDING, S.WAITING), (S.WAITING, S.RUNNING), (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.RETRYING), (S.RETRYING, S.RUNNING), (S.RUNNING, S.WAITING),
    (S.PENDING, S.SKIPPED), (S.RUNNING, S.CANCELLED), (S.RETRYING, S.FAILED),
])
def test_the_moves_a_run_makes_are_allowed(source: TaskState, target: TaskState) -> None:
    assert can_move(source, target)
    assert check_move(source, target) is target


@pytest.mark.parametrize(("source", "target"), [
    (S.PENDING, S.RUNNING), (S.COMPLETED, S.RUNNING), (S.FAILED, S.RETRYING),
    (S.CANCELLED, S.WAITING), (S.WAITING, S.COMPLETED), (S.RUNNING, S.SKIPPED),
    (S.WAITING, S.WAITING),
])
def test_impossible_moves_are_refused_with_both_states_named(source: TaskState,
                                                             target: TaskState) -> None:
    assert not can_move(source, target)
    with pytest.raises(InvalidTransition, match=f"from {source} to {target}"):
        check_move(source, target)


def test_only_a_claim_starts_a_task() -> None:
    assert sources_of(S.RUNNING) == frozenset({S.WAITING, S.RETRYING})
