"""The engine: what an application holds to submit, await, inspect and control work.

The moving part (claiming, running, writing back) is ``zerogate.runtime.worker``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zerogate.adapters.clock import SystemClock
from zerogate.adapters.sampler import SystemSampler
from zerogate.domain.admission import Admission
from zerogate.domain.capacity import CapacityPlan
from zerogate.domain.features import FeatureBook
from zerogate.domain.model import Limits, Priority
from zerogate.domain.records import WorkflowRecord
from zerogate.domain.workflow import WorkflowSpec
from zerogate.errors import EngineClosed, InvalidConfig, StoreUnavailable
from zerogate.ports import GLOBAL, Clock, EventSink, ResourceSampler, Store
from zerogate.registry import Registry, Workflow
from zerogate.runtime.executor import Executor
from zerogate.runtime.governor import Governor, GovernorConfig
from zerogate.runtime.handle import WorkflowHandle, WorkflowStatus, status_of
from zerogate.runtime.observer import Observer, TelemetryConfig
from zerogate.runtime.signals import stop_on_signals
from zerogate.runtime.worker import Worker
from zerogate.telemetry.report import build_report

log = logging.getLogger("zerogate.engine")
ARRIVAL_WINDOW_S = 60.0  # submissions over this long make the arrival rate


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
    governor: GovernorConfig | None = None  # None: no resource governor
    telemetry: TelemetryConfig | None = field(default_factory=TelemetryConfig)  # None: off

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
    ``owner`` names this instance in leases; a unique suffix is always added, so a
    restarted process never mistakes its predecessor's leases for its own.
    """

    def __init__(self, registry: Registry, store: Store, *, config: EngineConfig | None = None,
                 clock: Clock | None = None, owner: str | None = None,
                 events: EventSink | None = None, seed: int | None = None,
                 sampler: ResourceSampler | None = None) -> None:
        self.registry = registry
        self.store = store
        self.config = config or EngineConfig()
        self.clock: Clock = clock or SystemClock()
        base = owner or f"{os.uname().nodename}:{os.getpid()}"
        self.owner = f"{base}:{uuid.uuid4().hex[:8]}"
        self._executor = Executor(threads=self.config.thread_workers,
                                  processes=self.config.process_workers)
        self.governor = self._governor(sampler)
        self.telemetry = self._observer()
        self._worker = Worker(owner=self.owner, store=store, registry=registry,
                              executor=self._executor, clock=self.clock, config=self.config,
                              events=events, rng=random.Random(seed),
                              on_finished=self._finished, governor=self.governor,
                              observer=self.telemetry)
        self._waiters: dict[int, asyncio.Event] = {}
        self._arrivals: deque[tuple[float, int]] = deque(maxlen=10_000)  # (monotonic, tasks)
        self._main: asyncio.Task[None] | None = None
        self._closed = False
        self._died: BaseException | None = None

    def _governor(self, sampler: ResourceSampler | None) -> Governor | None:
        gc = self.config.governor
        if gc is None:
            return None
        tasks = [self.registry.get(n) for n in self.registry.names()]
        return Governor(
            gc, sampler=sampler or SystemSampler(), clock=self.clock,
            features=FeatureBook(self.registry.features()),
            max_running=self.config.limits.max_running,
            needs_budget=any(t.need for t in tasks),
            emit=lambda kind, state: self._worker.emit(kind, None, None, state))

    def _observer(self) -> Observer | None:
        tc = self.config.telemetry
        if tc is None:
            return None
        return Observer(tc, store=self.store, clock=self.clock, owner=self.owner,
                        limits=self.config.limits, governor=self.governor,
                        emit=lambda kind, state: self._worker.emit(kind, None, None, state))

    async def capacity(self, target_drain_s: float = 600.0) -> CapacityPlan | None:
        """How long the queue takes to drain, and what would drain it in ``target_drain_s``.

        None until a governor runs and some attempts have finished (service times).
        """
        service_s = self._worker.latency_s()
        if self.governor is None or service_s is None:
            return None
        live = await self.store.live_view(active_limit=0)
        backlog = sum(live.tasks.get(s, 0) for s in ("pending", "waiting", "retrying"))
        now = self.clock.monotonic()
        while self._arrivals and self._arrivals[0][0] < now - ARRIVAL_WINDOW_S:
            self._arrivals.popleft()
        arrived = sum(n for _, n in self._arrivals)
        return self.governor.capacity(
            backlog=backlog, arrival_per_s=arrived / ARRIVAL_WINDOW_S,
            service_s=max(service_s, 1e-6),
            concurrency=self.governor.concurrency(self.config.limits.max_running),
            target_drain_s=target_drain_s)

    def admission(self) -> Admission | None:
        """The governor's decision as the next claim will carry it (None: no governor)."""
        if self.governor is None:
            return None
        return self.governor.admission(self._worker.reserved())

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        """Open the store and start claiming work."""
        if self._closed:
            raise EngineClosed("this engine was shut down: create a new Engine to run again")
        if self._main is not None:
            return
        await self.store.open()
        started = asyncio.Event()
        self._main = asyncio.create_task(self._worker.run(started), name="zerogate-engine")
        self._main.add_done_callback(self._main_ended)
        await started.wait()

    def _main_ended(self, main: asyncio.Task[None]) -> None:
        if not main.cancelled() and main.exception() is not None:
            self._died = main.exception()
            log.critical("the engine stopped after an internal error: %r", self._died)
            self._wake_waiters()

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Stop claiming, let running tasks finish for ``grace_s``, release the rest."""
        if self._main is None or self._closed:
            return
        self._closed = True
        try:
            if self._died is None:
                await self._drain(self.config.grace_s if grace_s is None else grace_s)
            await self._main
        finally:
            self._wake_waiters()
            await self._executor.close(grace_s=0)
            await self.store.close()

    async def _drain(self, grace_s: float) -> None:
        worker = self._worker
        await worker.stop_claiming()
        if worker.running:
            worker.idle.clear()
            await self.clock.wait_event(worker.idle, grace_s)
        await worker.release_all()
        worker.stop_loops()

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully.

        The handlers are installed before the engine starts, so a signal that arrives
        while it starts still ends in a graceful shutdown; ``on_ready`` runs once the
        engine claims work.
        """
        try:
            with stop_on_signals() as stop:
                await self.start()
                if on_ready is not None:
                    on_ready()
                await stop.wait()
        finally:
            await self.shutdown()

    # ------------------------------------------------------------ submitting

    async def submit(self, workflow: Workflow | WorkflowSpec, *,
                     idempotency_key: str | None = None) -> WorkflowHandle:
        """Validate and store a workflow; returns once it is committed."""
        (handle,) = await self.submit_many([workflow], idempotency_keys=[idempotency_key])
        return handle

    async def submit_template(self, name: str, params: Mapping[str, Any] | None = None, *,
                              tenant: str = "default", priority: Priority | str | None = None,
                              idempotency_key: str | None = None) -> WorkflowHandle:
        """Submit one of the registry's templates, as the HTTP API does: the parameters
        are validated (TemplateParamsInvalid names each problem) and the tenant stamped."""
        template = self.registry.templates.get(name)
        spec = template.instantiate(params or {}, tenant=tenant, priority=priority)
        return await self.submit(spec, idempotency_key=idempotency_key)

    async def submit_many(self, workflows: Sequence[Workflow | WorkflowSpec], *,
                          idempotency_keys: Sequence[str | None] | None = None,
                          ) -> list[WorkflowHandle]:
        """Store all workflows in one transaction, or none of them."""
        self._check_open()
        keys = [None] * len(workflows) if idempotency_keys is None else list(idempotency_keys)
        if len(keys) != len(workflows):
            raise InvalidConfig("give one idempotency key (or None) per workflow")
        specs = [w.spec() if isinstance(w, Workflow) else w for w in workflows]
        new = [self.registry.prepare(s, k) for s, k in zip(specs, keys, strict=True)]
        done = await self.store.submit(new, self.clock.now())
        self._worker.wake_claim.set()
        self._arrivals.append((self.clock.monotonic(),
                               sum(len(s.task_ids) for s in done if s.is_new)))
        return [WorkflowHandle(self, s.workflow_id, s.task_ids, s.is_new) for s in done]

    def _check_open(self) -> None:
        if self._died is not None:
            raise EngineClosed(f"the engine stopped after an internal error: {self._died!r}")
        if self._main is None or self._closed:
            raise EngineClosed("the engine is not running: use 'async with Engine(...)'")

    # ------------------------------------------------------------ waiting

    async def wait(self, workflow_id: int, timeout_s: float | None = None) -> WorkflowRecord:
        """Wait until the workflow finishes and return its record."""
        deadline = None if timeout_s is None else self.clock.monotonic() + timeout_s
        while True:
            # Register before reading, so a finish between the two cannot be missed.
            event = self._waiters.setdefault(workflow_id, asyncio.Event())
            record = await self._read_workflow(workflow_id)
            if record.state.is_terminal:
                return record
            if self._closed or self._died is not None:
                raise EngineClosed("the engine stopped before the workflow finished")
            left = self.config.poll_s
            if deadline is not None:
                left = min(left, deadline - self.clock.monotonic())
                if left <= 0:
                    raise TimeoutError(f"workflow {workflow_id} is still {record.state}")
            # The poll covers workflows finished by other engine instances.
            await self.clock.wait_event(event, left)

    async def _read_workflow(self, workflow_id: int) -> WorkflowRecord:
        try:
            return await self.store.get_workflow(workflow_id)
        except StoreUnavailable:
            if self._closed:
                raise EngineClosed("the engine stopped before the workflow finished") from None
            raise

    def _finished(self, workflow_id: int) -> None:
        event = self._waiters.pop(workflow_id, None)
        if event is not None:
            event.set()

    def _wake_waiters(self) -> None:
        for event in self._waiters.values():
            event.set()  # each waiter wakes, sees the engine stopped, and raises EngineClosed
        self._waiters.clear()

    async def status(self, workflow_id: int, record: WorkflowRecord | None = None,
                     ) -> WorkflowStatus:
        """The workflow, its tasks, and why each waiting task waits (``record``: the
        workflow as the caller just read it, to save reading it again)."""
        return await status_of(self, workflow_id, record)

    # ------------------------------------------------------------ telemetry

    def system_status(self) -> dict[str, Any]:
        """healthy, degraded or critical, with the reasons ("zerogate.status/1")."""
        return self._observed().status()

    async def dashboard(self) -> dict[str, Any]:
        """What the dashboard shows ("zerogate.dashboard/1"): work, queue, resources,
        bottlenecks, recommendations and alerts."""
        plan = await self.capacity()
        return self._observed().dashboard(capacity_view(plan) if plan is not None else None)

    async def report(self, *, hours: float = 24.0) -> dict[str, Any]:
        """The performance report of the last ``hours`` ("zerogate.report/1"); render it
        with ``zerogate.telemetry.export``."""
        observer = self._observed()
        await observer.flush()
        plan = await self.capacity()
        now = self.clock.now()
        return await build_report(self.store, since=now - hours * 3600, until=now, now=now,
                                  status=observer.status(),
                                  capacity=capacity_view(plan) if plan is not None else None)

    def metrics_text(self) -> bytes:
        """The Prometheus exposition (text format 0.0.4) as of the last telemetry tick."""
        return self._observed().exposition.text()

    def _observed(self) -> Observer:
        if self.telemetry is None:
            raise InvalidConfig("telemetry is off: construct the engine with "
                                "EngineConfig(telemetry=TelemetryConfig())")
        return self.telemetry

    # ------------------------------------------------------------ controls

    async def cancel(self, workflow_id: int, reason: str = "cancelled by request") -> None:
        """Cancel a workflow: queued tasks never start, running ones are stopped."""
        await self.store.get_workflow(workflow_id)
        self._worker.react(await self.store.cancel(now=self.clock.now(), reason=reason,
                                                   workflow_id=workflow_id))

    async def retry(self, workflow_id: int) -> None:
        """Run a failed or cancelled workflow again, keeping the results of what completed.

        Its failed, cancelled and skipped tasks start afresh, with a full retry budget
        and new attempt numbers; the workflow queues for admission like a new one, so
        the claim loop is woken to admit it and start its ready tasks. Raises NotFound,
        or InvalidTransition when the workflow is still open or completed.
        """
        await self.store.retry_workflow(workflow_id, self.clock.now())
        self._worker.wake_claim.set()

    async def cancel_task(self, task_id: int, reason: str = "cancelled by request") -> None:
        """Cancel one task and its dependents."""
        await self.store.get_task(task_id)
        self._worker.react(await self.store.cancel(now=self.clock.now(), reason=reason,
                                                   task_id=task_id))

    async def pause(self, scope: str = GLOBAL) -> None:
        """No new task starts in ``scope``; running tasks finish. Survives restarts."""
        await self.store.set_paused(scope, True, self.clock.now())

    async def resume(self, scope: str = GLOBAL) -> None:
        await self.store.set_paused(scope, False, self.clock.now())
        self._worker.wake_claim.set()

    async def stop(self, reason: str = "emergency stop") -> None:
        """Pause everything, then cancel every queued and running task (records stay)."""
        await self.pause()
        self._worker.react(await self.store.cancel(now=self.clock.now(), reason=reason))


def capacity_view(plan: CapacityPlan) -> dict[str, Any]:
    """A capacity plan as flat JSON-able data."""
    return {"throughput_per_s": plan.throughput_per_s, "drain_s": plan.drain_s,
            "needed_concurrency": plan.needed_concurrency,
            "needed_workers": plan.needed_workers, "utilisation": plan.utilisation,
            "action": str(plan.scaling.action), "reason": plan.scaling.reason}
