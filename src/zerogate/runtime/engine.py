"""The engine: claims ready tasks from the store, runs them, and writes back outcomes.

One task group owns every background loop (claim, write, heartbeat, sweep) and every
running attempt. Outcomes are written in batches: one commit carries as many
completions as arrived while the previous commit was in flight.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import signal
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from zerogate.adapters.clock import SystemClock
from zerogate.adapters.events import NullSink
from zerogate.domain.model import Limits, TaskState
from zerogate.domain.records import (
    Changes,
    Claim,
    ClaimBatch,
    ClaimRequest,
    Event,
    Outcome,
    WorkflowRecord,
)
from zerogate.domain.workflow import WorkflowSpec
from zerogate.errors import EngineClosed, InvalidConfig, StoreError
from zerogate.ports import GLOBAL, Clock, EventSink, Store
from zerogate.registry import Registry, Workflow
from zerogate.runtime.attempt import run_attempt
from zerogate.runtime.executor import Executor
from zerogate.runtime.handle import WorkflowHandle, WorkflowStatus, status_of

log = logging.getLogger("zerogate.engine")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Timing and sizing of an engine; every duration is in seconds."""

    limits: Limits = field(default_factory=Limits)
    lease_s: float = 30.0
    heartbeat_s: float | None = None  # default: a third of the lease
    sweep_s: float = 5.0  # how often expired leases are reclaimed and waits aged
    aging_s: float | None = 300.0  # one priority class up per this much waiting
    poll_s: float = 1.0  # longest sleep of the claim loop (work from other instances)
    claim_batch: int = 2048
    grace_s: float = 10.0
    thread_workers: int = 16
    process_workers: int = max(os.cpu_count() or 1, 1)
    store_retry_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("lease_s", "sweep_s", "poll_s", "store_retry_s"):
            if getattr(self, name) <= 0:
                raise InvalidConfig(f"{name} must be positive")
        if self.aging_s is not None and self.aging_s <= 0:
            raise InvalidConfig("aging_s must be positive, or None to turn aging off")
        if self.grace_s < 0 or self.claim_batch < 1:
            raise InvalidConfig("grace_s must not be negative and claim_batch at least 1")
        if self.heartbeat_s is not None and not 0 < self.heartbeat_s < self.lease_s:
            raise InvalidConfig("heartbeat_s must be positive and shorter than lease_s")


class Engine:
    """Runs workflows from a store. Use ``async with Engine(...) as engine:``.

    A submission returns once it is committed; results are awaited on the handle.
    """

    def __init__(self, registry: Registry, store: Store, *, config: EngineConfig | None = None,
                 clock: Clock | None = None, owner: str | None = None,
                 events: EventSink | None = None, seed: int | None = None) -> None:
        self.registry = registry
        self.store = store
        self.config = config or EngineConfig()
        self.clock: Clock = clock or SystemClock()
        self.events: EventSink = events or NullSink()
        self._emitting = events is not None
        self.owner = owner or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rng = random.Random(seed)
        self._executor = Executor(threads=self.config.thread_workers,
                                  processes=self.config.process_workers)
        self._running: dict[int, asyncio.Task[None]] = {}
        self._releasing: set[int] = set()
        self._outbox: list[Outcome] = []
        self._waiters: dict[int, asyncio.Event] = {}
        self._wake_claim = asyncio.Event()
        self._wake_write = asyncio.Event()
        self._idle = asyncio.Event()
        self._stop_claiming = asyncio.Event()
        self._stop_loops = asyncio.Event()
        self._group: asyncio.TaskGroup | None = None
        self._main: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._closed = False

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        """Open the store and start claiming work."""
        if self._main is not None:
            return
        await self.store.open()
        self._main = asyncio.create_task(self._run(), name="zerogate-engine")
        await self._started.wait()

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self._claim_loop(), name="zerogate-claim")
            group.create_task(self._write_loop(), name="zerogate-write")
            group.create_task(self._every(self._heartbeat, self._heartbeat_s()),
                              name="zerogate-heartbeat")
            group.create_task(self._every(self._sweep, self.config.sweep_s), name="zerogate-sweep")
            self._started.set()

    def _heartbeat_s(self) -> float:
        return self.config.heartbeat_s or self.config.lease_s / 3

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Stop claiming, let running tasks finish for ``grace_s``, release the rest."""
        if self._main is None or self._closed:
            return
        self._closed = True
        self._stop_claiming.set()
        self._wake_claim.set()
        grace = self.config.grace_s if grace_s is None else grace_s
        if self._running:
            self._idle.clear()
            await self.clock.wait_event(self._idle, grace)
        await self._release_all()
        self._stop_loops.set()
        self._wake_write.set()
        await self._main
        await self._executor.close(grace_s=0)
        await self.store.close()
        self._fail_waiters()

    async def _release_all(self) -> None:
        left = list(self._running.items())
        for task_id, task in left:
            self._releasing.add(task_id)
            task.cancel()
        if left:
            await asyncio.gather(*(t for _, t in left), return_exceptions=True)
            log.info("released %d leases at shutdown", len(left))

    def _fail_waiters(self) -> None:
        for event in self._waiters.values():
            event.set()  # each waiter wakes, sees the engine closed, and raises EngineClosed
        self._waiters.clear()

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully.

        The handlers are installed before the engine starts, so a signal that arrives
        while it starts still ends in a graceful shutdown; ``on_ready`` runs once the
        engine claims work.
        """
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            if on_ready is not None:
                on_ready()
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.shutdown()

    # ------------------------------------------------------------ submitting

    async def submit(self, workflow: Workflow | WorkflowSpec, *,
                     idempotency_key: str | None = None) -> WorkflowHandle:
        """Validate and store a workflow; returns once it is committed."""
        (handle,) = await self.submit_many([workflow], idempotency_keys=[idempotency_key])
        return handle

    async def submit_many(self, workflows: Sequence[Workflow | WorkflowSpec], *,
                          idempotency_keys: Sequence[str | None] | None = None,
                          ) -> list[WorkflowHandle]:
        """Store all workflows in one transaction, or none of them."""
        self._check_open()
        keys = list(idempotency_keys or [None] * len(workflows))
        if len(keys) != len(workflows):
            raise InvalidConfig("give one idempotency key (or None) per workflow")
        specs = [w.spec() if isinstance(w, Workflow) else w for w in workflows]
        new = [self.registry.prepare(s, k) for s, k in zip(specs, keys, strict=True)]
        done = await self.store.submit(new, self.clock.now())
        self._wake_claim.set()
        return [WorkflowHandle(self, s.workflow_id, s.task_ids, s.is_new) for s in done]

    def _check_open(self) -> None:
        if self._main is None or self._closed:
            raise EngineClosed("the engine is not running: use 'async with Engine(...)'")

    # ------------------------------------------------------------ waiting

    async def wait(self, workflow_id: int, timeout_s: float | None = None) -> WorkflowRecord:
        """Wait until the workflow finishes and return its record."""
        deadline = None if timeout_s is None else self.clock.monotonic() + timeout_s
        while True:
            # Register before reading, so a finish between the two cannot be missed.
            event = self._waiters.setdefault(workflow_id, asyncio.Event())
            record = await self.store.get_workflow(workflow_id)
            if record.state.is_terminal:
                return record
            if self._closed:
                raise EngineClosed("the engine shut down before the workflow finished")
            left = self.config.poll_s
            if deadline is not None:
                left = min(left, deadline - self.clock.monotonic())
                if left <= 0:
                    raise TimeoutError(f"workflow {workflow_id} is still {record.state}")
            # The poll covers workflows finished by other engine instances.
            await self.clock.wait_event(event, left)

    def _react(self, changes: Changes) -> None:
        now = self.clock.now()
        for workflow_id, state in changes.finished_workflows:
            self.events.emit(Event("workflow", workflow_id, None, state.value, now))
            event = self._waiters.pop(workflow_id, None)
            if event is not None:
                event.set()
        for task_id in changes.stopped_running:
            self._abandon(task_id)
        if changes.became_ready or changes.stopped_running:
            self._wake_claim.set()

    async def status(self, workflow_id: int) -> WorkflowStatus:
        """The workflow, its tasks, and why each waiting task waits."""
        return await status_of(self, workflow_id)

    # ------------------------------------------------------------ controls

    async def cancel(self, workflow_id: int, reason: str = "cancelled by request") -> None:
        """Cancel a workflow: queued tasks never start, running ones are stopped."""
        await self.store.get_workflow(workflow_id)
        self._react(await self.store.cancel(now=self.clock.now(), reason=reason,
                                            workflow_id=workflow_id))

    async def cancel_task(self, task_id: int, reason: str = "cancelled by request") -> None:
        """Cancel one task and its dependents."""
        await self.store.get_task(task_id)
        self._react(await self.store.cancel(now=self.clock.now(), reason=reason,
                                            task_id=task_id))

    async def pause(self, scope: str = GLOBAL) -> None:
        """No new task starts in ``scope``; running tasks finish. Survives restarts."""
        await self.store.set_paused(scope, True, self.clock.now())

    async def resume(self, scope: str = GLOBAL) -> None:
        await self.store.set_paused(scope, False, self.clock.now())
        self._wake_claim.set()

    async def stop(self, reason: str = "emergency stop") -> None:
        """Pause everything, then cancel every queued and running task (records stay)."""
        await self.pause()
        self._react(await self.store.cancel(now=self.clock.now(), reason=reason))

    # ------------------------------------------------------------ claiming

    async def _claim_loop(self) -> None:
        while not self._stop_claiming.is_set():
            self._wake_claim.clear()
            free = self.config.limits.max_running - len(self._running)
            timeout = self.config.poll_s
            if free > 0:
                n, asked_at = min(free, self.config.claim_batch), self.clock.now()
                batch = await self._guard(self._claim, n, asked_at)
                if batch is not None and (len(batch.claims) == n or batch.has_more):
                    continue  # there may be more ready work: claim again at once
                if batch is not None:
                    timeout = self._sleep_until_due(batch.next_due, asked_at, timeout)
            await self.clock.wait_event(self._wake_claim, timeout)

    def _sleep_until_due(self, next_due: float | None, asked_at: float, poll_s: float) -> float:
        """How long to sleep: until the earliest backoff ends, at most ``poll_s``."""
        if next_due is None or next_due <= asked_at:
            # Due when we asked, yet not claimed: a pause or a full scope holds it, and
            # a resume or a freed slot wakes the loop. Do not spin on it.
            return poll_s
        return min(poll_s, max(next_due - self.clock.now(), 0.0))

    async def _claim(self, n: int, now: float) -> ClaimBatch:
        batch = await self.store.claim(ClaimRequest(
            owner=self.owner, n=n, now=now, lease_s=self.config.lease_s,
            limits=self.config.limits))
        for claim in batch.claims:
            if self._emitting:
                self.events.emit(Event("claimed", claim.workflow_id, claim.task_id, "running",
                                       self.clock.now()))
            self._start(claim)
        return batch

    def _start(self, claim: Claim) -> None:
        assert self._group is not None
        task = self._group.create_task(self._execute(claim))
        self._running[claim.task_id] = task
        # A done callback, not a finally: a task cancelled before its first step never
        # runs its body, and its slot must still come back.
        task.add_done_callback(functools.partial(self._ended, claim))

    async def _execute(self, claim: Claim) -> None:
        outcome = await run_attempt(claim, registry=self.registry, executor=self._executor,
                                    clock=self.clock, draw=self._rng.random)
        self._record(outcome)

    def _ended(self, claim: Claim, task: asyncio.Task[None]) -> None:
        self._running.pop(claim.task_id, None)
        # Cancelled by a cancel request (the store holds the outcome already) or by
        # shutdown (hand the task back without counting a failure).
        if task.cancelled() and claim.task_id in self._releasing:
            self._record(Outcome(task_id=claim.task_id, attempt=claim.attempt,
                                 state=TaskState.WAITING))
        self._wake_claim.set()
        if not self._running:
            self._idle.set()

    def _record(self, outcome: Outcome) -> None:
        self._outbox.append(outcome)
        self._wake_write.set()

    def _abandon(self, task_id: int) -> None:
        task = self._running.get(task_id)
        if task is not None:
            task.cancel()

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
            if self._stop_loops.is_set() and not self._outbox:
                return

    async def _flush(self) -> bool:
        batch, self._outbox = self._outbox, []
        changes = await self._guard(self.store.finish, self.owner, batch, self.clock.now())
        if changes is None:
            self._outbox[:0] = batch  # kept in order; the guard waited before the retry
            self._wake_write.set()
            return False
        self._emit_outcomes(batch, changes.accepted)
        self._react(changes)
        self._wake_claim.set()  # a retry's backoff may now be the earliest deadline
        return True

    def _emit_outcomes(self, batch: list[Outcome], accepted: list[int]) -> None:
        if not self._emitting:
            return
        now, kept = self.clock.now(), set(accepted)
        for o in batch:
            if o.task_id in kept:
                self.events.emit(Event(o.state.value, None, o.task_id, o.state.value, now))

    # ------------------------------------------------------------ upkeep

    async def _every(self, step: Callable[[], Awaitable[None]], interval_s: float) -> None:
        stop = self._stop_loops
        while not await self.clock.wait_event(stop, interval_s):
            await self._guard(step)

    async def _heartbeat(self) -> None:
        lost = await self.store.heartbeat(self.owner, list(self._running), self.clock.now(),
                                          self.config.lease_s)
        for task_id in lost:
            log.warning("task %d is no longer leased to this engine: stopping it", task_id)
            self._abandon(task_id)

    async def _sweep(self) -> None:
        now = self.clock.now()
        changes = await self.store.reclaim_expired(now, self._rng.random)
        for task_id in changes.stopped_running:
            log.warning("lease of task %d expired: its worker stopped answering", task_id)
            self.events.emit(Event("expired", None, task_id, "expired", now))
        self._react(changes)
        if self.config.aging_s is not None:
            await self.store.promote_aged(now, self.config.aging_s)

    async def _guard(self, fn: Callable[..., Awaitable[T]], *args: object) -> T | None:
        """Run a store call; on a store error log it, wait, and report None."""
        try:
            return await fn(*args)
        except StoreError as exc:
            log.error("store call %s failed: %s", getattr(fn, "__name__", fn), exc)
            await self.clock.wait_event(self._stop_loops, self.config.store_retry_s)
            return None
