"""One attempt of a claimed task, from arguments to an Outcome the store can apply."""

from __future__ import annotations

import asyncio
import functools
import json
import traceback
from collections.abc import Callable

from zerogate.domain.model import TaskState, dumps_json
from zerogate.domain.records import Claim, Outcome
from zerogate.domain.retry import RetryPolicy, type_names
from zerogate.errors import InvalidInput, TaskCancelled
from zerogate.ports import Clock
from zerogate.registry import Registry
from zerogate.runtime.executor import Executor, TaskContext
from zerogate.telemetry.collector import Usage

MAX_TRACEBACK = 16_000  # characters kept of a traceback, the end being the useful part


@functools.lru_cache(maxsize=256)
def _policy(retry_json: str) -> RetryPolicy:
    return RetryPolicy.from_json(retry_json)


async def run_attempt(claim: Claim, *, registry: Registry, executor: Executor, clock: Clock,
                      draw: Callable[[], float], meter: list[Usage] | None = None) -> Outcome:
    """Run the handler once. Cancellation propagates; every other error is an Outcome.

    ``meter`` receives the attempt's CPU time and peak memory where they are measurable.
    """
    try:
        tdef = registry.get(claim.name)
        args = json.loads(claim.args_json) if claim.args_json != "{}" else {}
        result = await executor.invoke(tdef, _context(claim) if tdef.takes_ctx else None, args,
                                       timeout_s=claim.timeout_s, clock=clock, meter=meter)
        result_json = ("null" if result is None
                       else dumps_json(result, what=f"the result of task {claim.local_id!r}"))
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the engine cancelled this attempt (cancel request, shutdown)
        # The handler raised CancelledError itself (an inner task was cancelled): a
        # failure like any other, or the attempt would end with no outcome at all.
        exc = TaskCancelled(f"attempt {claim.attempt} raised CancelledError from inside")
        return failure(claim, exc, now=clock.now(), draw=draw)
    except Exception as exc:  # the task guard: a handler may raise anything
        return failure(claim, exc, now=clock.now(), draw=draw)
    return Outcome(task_id=claim.task_id, attempt=claim.attempt, state=TaskState.COMPLETED,
                   result_json=result_json)


def _context(claim: Claim) -> TaskContext:
    return TaskContext(task_id=claim.task_id, workflow_id=claim.workflow_id,
                       task=claim.local_id, attempt=claim.attempt,
                       deps={k: json.loads(v) for k, v in claim.dep_results.items()})


def failure(claim: Claim, exc: BaseException, *, now: float, draw: Callable[[], float]) -> Outcome:
    """Map an error to RETRYING or FAILED by the task's retry policy."""
    failures = claim.failures + 1
    decision = _policy(claim.retry_json).decide(failures, type_names(exc), draw())
    error = storable(f"{type(exc).__name__}: {exc}")
    text = storable(_traceback_text(exc))
    if decision.retry and not isinstance(exc, InvalidInput):
        return Outcome(task_id=claim.task_id, attempt=claim.attempt, state=TaskState.RETRYING,
                       error=error, traceback=text, not_before=now + decision.delay_s)
    reason = decision.reason if not isinstance(exc, InvalidInput) else "invalid input"
    return Outcome(task_id=claim.task_id, attempt=claim.attempt, state=TaskState.FAILED,
                   error=f"{error} ({reason})", traceback=text)


def storable(text: str) -> str:
    """Text any store can hold: lone surrogates (from undecodable file names) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _traceback_text(exc: BaseException) -> str:
    remote = getattr(exc, "__zerogate_traceback__", None)
    text = "".join(traceback.format_exception(exc))
    if isinstance(remote, str):
        text = f"{text}\nIn the worker process:\n{remote}"
    return text[-MAX_TRACEBACK:]
