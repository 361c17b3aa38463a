"""The critical path of one finished workflow run: which steps its makespan was made of.

Walk back from the task that finished last; at each task, the dependency that finished
last is the one it waited for. Each step on the path contributes its wait (from that
dependency's end, or the run's start, to its own start) and its run time. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTimes:
    """One task of a finished run, with its stored times (epoch seconds)."""

    step: str
    deps: tuple[str, ...]
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class PathStep:
    """A step on the critical path: seconds spent waiting for it, then running it."""

    step: str
    wait_s: float
    run_s: float


def critical_path(tasks: Sequence[StepTimes], run_started: float) -> list[PathStep]:
    """The steps of the critical path in run order; empty when nothing ran."""
    by_step: Mapping[str, StepTimes] = {t.step: t for t in tasks}
    ran = [t for t in tasks if t.started_at is not None and t.finished_at is not None]
    if not ran:
        return []
    current: StepTimes | None = max(ran, key=lambda t: (t.finished_at or 0.0, t.step))
    path: list[PathStep] = []
    while current is not None:
        before = _last_dep(current, by_step)
        ready = before.finished_at if before is not None else run_started
        assert current.started_at is not None and current.finished_at is not None
        assert ready is not None
        path.append(PathStep(current.step, max(0.0, current.started_at - ready),
                             max(0.0, current.finished_at - current.started_at)))
        current = before
    path.reverse()
    return path


def _last_dep(t: StepTimes, by_step: Mapping[str, StepTimes]) -> StepTimes | None:
    deps = [by_step[d] for d in t.deps if d in by_step and by_step[d].finished_at is not None
            and by_step[d].started_at is not None]
    return max(deps, key=lambda d: (d.finished_at or 0.0, d.step)) if deps else None
