"""The engine's moving part: claim ready tasks, run attempts, write outcomes back.

Four loops share one task group with the attempts they start: claim, write,
heartbeat and sweep. Outcomes are written in batches: one commit carries every
outcome that arrived while the previous commit was in flight.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import statistics
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from zerogate.domain.admission import Need
from zerogate.domain.model import RunIn, TaskState
from zerogate.domain.records import Changes, Claim, ClaimBatch, ClaimRequest, Event, Outcome
from zerogate.domain.victims import Running
from zerogate.errors import InvalidInput, StoreError, TaskCancelled, UnknownTask
from zerogate.ports import Clock, EventSink, Store
from zerogate.registry import Registry
from zerogate.runtime.attempt import failure, run_attempt
from zerogate.runtime.executor import Executor
from zerogate.telemetry.collector import Usage
from zerogate.telemetry.logs import ATTEMPT

if TYPE_CHECKING:
    from zerogate.runtime.engine import EngineConfig
    from zerogate.runtime.governor import Governor
    from zerogate.runtime.observer import Observer

log = logging.getLogger("zerogate.engine")
T = TypeVar("T")
Ended = tuple[Outcome, Usage | None]  # an attempt's outcome and measured use
LATENCY_WINDOW = 200  # attempts whose median duration feeds the adaptive limit


@dataclass(frozen=True, slots=True)
class _Running:
    claim: Claim
    task: asyncio.Task[Ended]
    is_thread: bool  # a thread cannot be interrupted: it keeps its lease until it returns
    started_at: float  # monotonic


class Worker:
    """Runs claimed attempts for one engine; ``on_finished`` hears of ended workflows."""

    def __init__(self, *, owner: str, store: Store, registry: Registry, executor: Executor,
                 clock: Clock, config: EngineConfig, events: EventSink | None,
                 rng: random.Random, on_finished: Callable[[int], None],
                 governor: Governor | None = None, observer: Observer | None = None) -> None:
        self.owner, self.store, self.registry = owner, store, registry
        self.governor, self.observer = governor, observer
        self._collect = observer.collector.ended if observer is not None else None
        self._reserved_cpu, self._reserved_memory = 0.0, 0
        self._durations: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._evicting: dict[int, tuple[float, str]] = {}
        self.executor, self.clock, self.config = executor, clock, config
        self._events, self._rng, self._on_finished = events, rng, on_finished
        self.running: dict[int, _Running] = {}
        self._releasing: set[int] = set()
        self._outbox: list[Outcome] = []
        self.wake_claim = asyncio.Event()
        self._wake_write = asyncio.Event()
        self.idle = asyncio.Event()
        self._stop_claiming = asyncio.Event()
        self._claim_done = asyncio.Event()
        self._stop_loops = asyncio.Event()
        self._group: asyncio.TaskGroup | None = None

    async def run(self, started: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self._claim_loop(), name="zerogate-claim")
            group.create_task(self._write_loop(), name="zerogate-write")
            heartbeat_s = self.config.heartbeat_s or self.config.lease_s / 3
            group.create_task(self._every(self._heartbeat, heartbeat_s), name="zerogate-heartbeat")
            group.create_task(self._every(self._sweep, self.config.sweep_s), name="zerogate-sweep")
            if self.governor is not None:
                group.create_task(self.governor.run(self, self._stop_loops),
                                  name="zerogate-governor")
                group.create_task(self.governor.notifier.run(self._stop_loops),
                                  name="zerogate-alerts")
            if self.observer is not None:
                group.create_task(self.observer.run(self, self._stop_loops),
                                  name="zerogate-telemetry")
            started.set()

    # ------------------------------------------------------------ stopping

    async def stop_claiming(self) -> None:
        """Stop claiming, and wait until no claim is in flight any more."""
        self._stop_claiming.set()
        self.wake_claim.set()
        await self._claim_done.wait()

    async def release_all(self) -> None:
        """Hand back the leases of attempts still running; threads are waited for."""
        left = list(self.running.values())
        for r in left:
            if r.is_thread:
                log.info("waiting for thread task %d: threads cannot be interrupted",
                         r.claim.task_id)
                continue
            self._releasing.add(r.claim.task_id)
            r.task.cancel()
        if left:
            await asyncio.gather(*(r.task for r in left), return_exceptions=True)
            log.info("released or finished %d attempts at shutdown", len(left))

    def stop_loops(self) -> None:
        self._stop_loops.set()
        self._wake_write.set()

    # ------------------------------------------------------------ reacting

    def emit(self, kind: str, workflow_id: int | None, task_id: int | None, state: str) -> None:
        if self._events is None:
            return
        try:
            self._events.emit(Event(kind, workflow_id, task_id, state, self.clock.now()))
        except Exception:  # hook dispatch: a failing sink must not stop the engine
            log.exception("event sink failed on %s of task %s", kind, task_id)

    def react(self, changes: Changes) -> None:
        if self.observer is not None and changes.finished_workflows:
            self.observer.workflows_finished(changes.finished_workflows)
        for workflow_id, state in changes.finished_workflows:
            self.emit("workflow", workflow_id, None, state.value)
            self._on_finished(workflow_id)
        for task_id in changes.stopped_running:
            self.abandon(task_id)
        if changes.became_ready or changes.stopped_running:
            self.wake_claim.set()

    # ------------------------------------------------------------ the governor's view

    def running_attempts(self) -> list[Running]:
        return [Running(task_id=tid, priority=r.claim.priority, started_at=r.started_at,
                        is_retriable=self._is_retriable(r.claim.name),
                        is_interruptible=not r.is_thread, memory=r.claim.need.memory)
                for tid, r in self.running.items() if tid not in self._evicting]

    def _is_retriable(self, name: str) -> bool:
        try:
            return self.registry.get(name).retry.max_attempts > 1
        except UnknownTask:
            return False

    def evict(self, task_id: int, not_before: float, reason: str) -> bool:
        """Stop an attempt to free memory; it runs again after ``not_before``."""
        r = self.running.get(task_id)
        if r is None or r.is_thread or task_id in self._evicting or not r.task.cancel():
            return False  # gone, uninterruptible, being evicted, or it just finished
        self._evicting[task_id] = (not_before, reason)
        self.emit("evicted", r.claim.workflow_id, task_id, "waiting")
        return True

    def latency_s(self) -> float | None:
        """Median duration of the attempts that ended lately."""
        if not self._durations:
            return None
        return statistics.median(self._durations)

    def in_flight(self) -> int:
        return len(self.running)

    def running_needs(self) -> list[tuple[str, int]]:
        """Task type and declared memory of each running attempt."""
        return [(r.claim.name, r.claim.need.memory) for r in self.running.values()]

    def reserved(self) -> Need:
        """Resources the running attempts declared."""
        return Need(self._reserved_cpu, self._reserved_memory)

    def abandon(self, task_id: int) -> None:
        """Stop an attempt whose lease the store says is no longer ours (no outcome)."""
        r = self.running.get(task_id)
        if r is not None:
            r.task.cancel()

    # ------------------------------------------------------------ claiming

    async def _claim_loop(self) -> None:
        try:
            while not self._stop_claiming.is_set():
                self.wake_claim.clear()
                free = self._slots() - len(self.running)
                timeout = self.config.poll_s
                if free > 0:
                    n, asked_at = min(free, self.config.claim_batch), self.clock.now()
                    batch = await self._guard(self._claim, n, asked_at)
                    if batch is not None and (len(batch.claims) == n or batch.has_more):
                        continue  # there may be more ready work: claim again at once
                    if batch is not None:
                        timeout = self._sleep_until_due(batch.next_due, asked_at, timeout)
                await self.clock.wait_event(self.wake_claim, timeout)
        finally:
            self._claim_done.set()

    def _sleep_until_due(self, next_due: float | None, asked_at: float, poll_s: float) -> float:
        """How long to sleep: until the earliest backoff ends, at most ``poll_s``."""
        if next_due is None or next_due <= asked_at:
            # Due when we asked, yet not claimed: a pause or a full scope holds it, and
            # a resume or a freed slot wakes the loop. Do not spin on it.
            return poll_s
        return min(poll_s, max(next_due - self.clock.now(), 0.0))

    def _slots(self) -> int:
        configured = self.config.limits.max_running
        return configured if self.governor is None else self.governor.concurrency(configured)

    async def _claim(self, n: int, now: float) -> ClaimBatch:
        admission = None
        if self.governor is not None:
            admission = self.governor.admission(self.reserved())
        batch = await self.store.claim(ClaimRequest(
            owner=self.owner, n=n, now=now, lease_s=self.config.lease_s,
            limits=self.config.limits, admission=admission))
        for claim in batch.claims:
            if self._stop_claiming.is_set():  # shutdown began while the claim was in flight
                self._record(Outcome(task_id=claim.task_id, attempt=claim.attempt,
                                     state=TaskState.WAITING))
                continue
            self.emit("claimed", claim.workflow_id, claim.task_id, "running")
            self._start(claim)
        return batch

    def _start(self, claim: Claim) -> None:
        assert self._group is not None
        task = self._group.create_task(self._execute(claim))
        self.running[claim.task_id] = _Running(claim, task, self._is_thread(claim.name),
                                               self.clock.monotonic())
        if claim.need:
            self._reserved_cpu += claim.need.cpu
            self._reserved_memory += claim.need.memory
        # A done callback, not a finally: a task cancelled before its first step never
        # runs its body, and its slot must still come back.
        task.add_done_callback(functools.partial(self._ended, claim))

    def _is_thread(self, name: str) -> bool:
        try:
            return self.registry.get(name).run_in is RunIn.THREAD
        except UnknownTask:
            return False

    async def _execute(self, claim: Claim) -> Ended:
        ATTEMPT.set(claim)  # log records of this attempt carry its ids
        meter = None if self._collect is None else list[Usage]()
        outcome = await run_attempt(claim, registry=self.registry, executor=self.executor,
                                    clock=self.clock, draw=self._rng.random, meter=meter)
        self._record(outcome)
        # ``_ended`` hands this to telemetry with the duration it measures anyway.
        return outcome, meter[0] if meter else None

    def _ended(self, claim: Claim, task: asyncio.Task[Ended]) -> None:
        r = self.running.get(claim.task_id)
        if r is not None and r.task is task:  # not a newer attempt of the same task
            del self.running[claim.task_id]
            if claim.need:
                self._reserved_cpu -= claim.need.cpu
                self._reserved_memory -= claim.need.memory
            if not task.cancelled():
                run_s = self.clock.monotonic() - r.started_at
                self._durations.append(run_s)
                if self._collect is not None and task.exception() is None:
                    outcome, usage = task.result()
                    self._collect(claim, outcome, run_s, usage)
        if task.cancelled():
            self._record_cancelled(claim)
        else:  # it finished before an eviction's cancel reached it: its outcome stands
            self._evicting.pop(claim.task_id, None)
        self.wake_claim.set()
        if not self.running:
            self.idle.set()

    def _record_cancelled(self, claim: Claim) -> None:
        evicted = self._evicting.pop(claim.task_id, None)
        if evicted is not None:  # the governor reclaims memory: not a failure either
            self._record(Outcome(task_id=claim.task_id, attempt=claim.attempt,
                                 state=TaskState.WAITING, not_before=evicted[0],
                                 error=evicted[1]))
            return
        if claim.task_id in self._releasing:  # shutdown: hand it back, not a failure
            self._releasing.discard(claim.task_id)
            self._record(Outcome(task_id=claim.task_id, attempt=claim.attempt,
                                 state=TaskState.WAITING))
            return
        # Abandoned (the store ended this lease already: the write is fenced out) or
        # cancelled by something unexpected: record a failure so nothing stays running.
        exc = TaskCancelled(f"attempt {claim.attempt} was cancelled")
        self._record(failure(claim, exc, now=self.clock.now(), draw=self._rng.random))

    def _record(self, outcome: Outcome) -> None:
        self._outbox.append(outcome)
        self._wake_write.set()

    # ------------------------------------------------------------ writing

    async def _write_loop(self) -> None:
        failures_at_stop = 0
        while True:
            await self._wake_write.wait()
            self._wake_write.clear()
            if self._outbox and not await self._flush():
                failures_at_stop += self._stop_loops.is_set()
                if failures_at_stop < 3:
                    continue
                log.error("could not record %d outcomes at shutdown; their leases will "
                          "expire and the tasks run again", len(self._outbox))
                return
            if self._stop_loops.is_set() and not self._outbox and not self.running:
                return

    async def _flush(self) -> bool:
        batch, self._outbox = self._outbox, []
        try:
            changes = await self._guard(self.store.finish, self.owner, batch, self.clock.now())
        except InvalidInput as exc:  # one poison outcome must not block every other
            changes = await self._flush_one_by_one(batch, exc)
        if changes is None:
            self._outbox[:0] = batch  # kept in order; the guard waited before the retry
            self._wake_write.set()
            return False
        self._emit_outcomes(batch, changes.accepted)
        self.react(changes)
        self.wake_claim.set()  # a retry's backoff may now be the earliest deadline
        return True

    async def _flush_one_by_one(self, batch: list[Outcome], exc: InvalidInput) -> Changes | None:
        log.error("the store refused a batch of outcomes (%s): writing them one by one", exc)
        merged = Changes()
        for o in batch:
            try:
                changes = await self._guard(self.store.finish, self.owner, [o], self.clock.now())
            except InvalidInput as bad:
                log.error("dropping the outcome of task %d (%s): its lease will expire and "
                          "the task run again", o.task_id, bad)
                continue
            if changes is None:
                return None
            merged.merge(changes)
        return merged

    def _emit_outcomes(self, batch: list[Outcome], accepted: list[int]) -> None:
        if self._events is None:
            return
        kept = set(accepted)
        for o in batch:
            if o.task_id in kept:
                self.emit(o.state.value, None, o.task_id, o.state.value)

    # ------------------------------------------------------------ upkeep

    async def _every(self, step: Callable[[], Awaitable[None]], interval_s: float) -> None:
        while not await self.clock.wait_event(self._stop_loops, interval_s):
            await self._guard(step)

    async def _heartbeat(self) -> None:
        ids = list(self.running)
        lost = await self.store.heartbeat(self.owner, ids, self.clock.now(), self.config.lease_s)
        for task_id in lost:
            log.warning("task %d is no longer leased to this engine: stopping it", task_id)
            self.abandon(task_id)

    async def _sweep(self) -> None:
        now = self.clock.now()
        if self.governor is not None:
            await self._expire_feature_waits(now)
        changes = await self.store.reclaim_expired(now, self._rng.random)
        for task_id in changes.stopped_running:
            log.warning("lease of task %d expired: its worker stopped answering", task_id)
            self.emit("expired", None, task_id, "expired")
        self.react(changes)
        if self.config.aging_s is not None:
            promoted = await self.store.promote_aged(now, self.config.aging_s)
            if promoted:
                self.emit("aged", None, None, str(promoted))

    async def _expire_feature_waits(self, now: float) -> None:
        assert self.governor is not None
        book = self.governor.features
        for name, cutoff in book.expired_waits(now).items():
            error = (f"feature {name!r} was off for longer than its maximum wait of "
                     f"{book.get(name).max_wait_s:g} s ({book.state(name).reason})")
            self.react(await self.store.expire_waits(name, cutoff, error, now))

    async def _guard(self, fn: Callable[..., Awaitable[T]], *args: object) -> T | None:
        """Run a store call; on a store error log it, wait, and report None."""
        try:
            return await fn(*args)
        except StoreError as exc:
            log.error("store call %s failed: %s", getattr(fn, "__name__", fn), exc)
            await self.clock.wait_event(self._stop_loops, self.config.store_retry_s)
            return None
