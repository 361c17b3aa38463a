"""The governor inside the engine, on a fake clock and a scripted machine.

Admission stops and resumes with the load (G4, G5), features wait and come back or
fail after their maximum wait, declared resources are reserved, memory-critical
evictions go one at a time with a budget (G11), alert episodes notify once (G12),
and a stall with nothing to evict escalates (G13). Nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from zerogate import (
    Engine,
    EngineConfig,
    FakeClock,
    Limits,
    Registry,
    RetryPolicy,
    TaskContext,
    Workflow,
)
from zerogate.adapters.events import EventLog
from zerogate.adapters.scripted_sampler import ScriptedSampler
from zerogate.domain.alerts import AlertLevel, Notification
from zerogate.domain.model import TaskState, WorkflowState
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.victims import EvictionPolicy
from zerogate.runtime.governor import GovernorConfig
from zerogate.runtime.handle import WorkflowHandle

from .conftest import STORES, Rig

GIB = 2**30
INTERVAL_S = 1.0


@dataclass
class Machine:
    """A machine whose load a test sets; the sampler reads it at the fake clock's time."""

    cpu: float = 0.2
    memory: float = 0.3
    memory_limit: int = 4 * GIB
    cores: float = 2.0
    memory_of: Callable[[], float] | None = None  # memory computed from the engine's state
    cpu_of: Callable[[], float] | None = None

    def snapshot(self, now: float) -> ResourceSnapshot:
        if self.memory_of is not None:
            self.memory = min(self.memory_of(), 1.0)
        if self.cpu_of is not None:
            self.cpu = min(self.cpu_of(), 1.0)
        return ResourceSnapshot(
            taken_at=now, scope="cgroup-v2", cpu_fraction=self.cpu, cpu_limit_cores=self.cores,
            memory_used_bytes=int(self.memory * self.memory_limit),
            memory_limit_bytes=self.memory_limit, memory_fraction=self.memory,
            signals=frozenset({"cpu", "memory"}))


@dataclass
class Governed:
    rig: Rig
    machine: Machine = field(default_factory=Machine)
    notes: list[Notification] = field(default_factory=list)

    def engine(self, limits: Limits | None = None, **governor: object) -> Engine:
        governor.setdefault("alert_callbacks", [self.notes.append])
        # Long leases: over hundreds of fast fake seconds a store thread may lag a heartbeat.
        config = EngineConfig(limits=limits or Limits(), grace_s=0.0, sweep_s=1.0, lease_s=3600,
                              governor=GovernorConfig(**governor))  # type: ignore[arg-type]
        sampler = ScriptedSampler(self.machine.snapshot, monotonic=self.rig.clock.monotonic)
        return Engine(self.rig.registry, STORES[self.rig.store_kind](self.rig.tmp),
                      config=config, clock=self.rig.clock, events=self.rig.events, seed=7,
                      sampler=sampler)

    async def tick(self, seconds: float = INTERVAL_S) -> None:
        """Let fake time pass one sample at a time, so the governor sees every second."""
        for _ in range(int(seconds / INTERVAL_S)):
            await self.rig.clock.advance(INTERVAL_S)
            await asyncio.sleep(0)


async def until(g: Governed, check: Callable[[], Awaitable[bool]], max_s: float) -> float:
    """Tick until ``check`` holds; return the fake seconds it took. Each check reads the
    store, which also lets a store thread finish what the last tick started."""
    waited = 0.0
    while not await check():
        assert waited < max_s, f"still not true after {max_s} fake seconds"
        await g.tick()
        waited += INTERVAL_S
    return waited


def gated(rig: Rig, name: str = "work", **options: object) -> dict[str, asyncio.Event]:
    gates: dict[str, asyncio.Event] = {}

    async def work(ctx: TaskContext) -> str:
        await gates.setdefault(ctx.task, asyncio.Event()).wait()
        return ctx.task

    rig.registry.task(work, name=name, **options)
    return gates


def was_claimed(rig: Rig, handle: WorkflowHandle) -> bool:
    [task_id] = handle.task_ids.values()
    return bool(rig.events.matching("claimed", task_id=task_id))


def one(task: str, id: str, priority: str = "medium") -> Workflow:
    wf = Workflow(id)
    wf.add(task, id=id, priority=priority)
    return wf


async def test_g4_crossing_critical_stops_lower_classes_within_one_interval(rig: Rig) -> None:
    g = Governed(rig)
    gates = gated(rig)
    async with g.engine() as engine:
        await g.tick()
        first = await engine.submit(one("work", "before", "low"))
        await rig.outcome("claimed", first.task_ids["before"])
        g.machine.memory = 0.95  # above balanced's critical 90 %
        await g.tick()
        handles = {p: await engine.submit(one("work", p, p))
                   for p in ("low", "medium", "high", "critical")}
        await rig.outcome("claimed", handles["critical"].task_ids["critical"])
        await g.tick(3)
        for p in ("low", "medium", "high"):
            [task] = (await handles[p].status()).tasks
            assert task.record.state is TaskState.WAITING
            assert task.wait_reason is not None
            assert "is not admitted now" in task.wait_reason
            assert "memory at 95%" in task.wait_reason
            assert "critical threshold 90%" in task.wait_reason
        g.machine.memory = 0.3  # sustained recovery: back within hold (30 s) + one interval
        await g.tick(30)
        for p in ("low", "medium", "high"):
            assert not rig.events.matching("claimed", task_id=handles[p].task_ids[p])
        await g.tick(1)
        for p in ("high", "medium", "low"):
            await rig.outcome("claimed", handles[p].task_ids[p])
        for gate in gates.values():
            gate.set()
        for ident in ("before", "low", "medium", "high", "critical"):
            gates.setdefault(ident, asyncio.Event()).set()
        assert (await engine.wait(first.id)).state is WorkflowState.COMPLETED


async def test_an_experimental_feature_waits_while_shed_and_runs_once_back(rig: Rig) -> None:
    g = Governed(rig)
    rig.registry.feature("email", "experimental")
    rig.registry.feature("billing", "essential")

    @rig.registry.task(feature="email")
    async def read_mail() -> str:
        return "read"

    @rig.registry.task(feature="billing", priority="low")
    async def bill() -> str:
        return "billed"

    async with g.engine() as engine:
        g.machine.cpu = 0.75  # above balanced's high 70 %: experimental goes off
        await g.tick()
        assert rig.events.matching("feature")[-1].state == "email:off"
        mail = await engine.submit(one("read_mail", "mail"))
        billing = await engine.submit(one("bill", "bill", "low"))
        assert await billing.result() == {"bill": "billed"}  # essential passes the class cut
        await g.tick(5)
        [task] = (await mail.status()).tasks
        assert task.record.state is TaskState.WAITING
        assert task.wait_reason is not None and "feature 'email' is off" in task.wait_reason
        assert "cpu at 75%" in task.wait_reason
        g.machine.cpu = 0.3
        await g.tick(31)
        assert rig.events.matching("feature")[-1].state == "email:on"
        assert await mail.result() == {"mail": "read"}


async def test_a_task_of_a_feature_off_past_its_maximum_wait_fails_clearly(rig: Rig) -> None:
    g = Governed(rig)
    rig.registry.feature("excel", "experimental", max_wait_s=60)

    @rig.registry.task(feature="excel")
    async def ingest() -> None:
        return None

    async with g.engine() as engine:
        await g.tick()
        override = engine.governor
        assert override is not None
        override.override("excel", False, reason="maintenance")
        handle = await engine.submit(one("ingest", "sheet"))
        await g.tick(59)
        assert (await handle.status()).tasks[0].record.state is TaskState.WAITING
        async def failed() -> bool:
            return (await engine.store.get_workflow(handle.id)).state is WorkflowState.FAILED

        assert await until(g, failed, 5) >= 1
        [task] = (await handle.status()).tasks
        assert task.record.error is not None
        assert "feature 'excel' was off for longer than its maximum wait of 60 s" in \
            task.record.error
        assert "maintenance" in task.record.error


async def test_declared_memory_is_reserved_within_the_profiles_target(rig: Rig) -> None:
    """4 GiB machine, 0.4 GiB used by others, tasks of 1 GiB that really use it; balanced
    admits up to 80 %: 3.2 GiB. Two fit (2.4 GiB); a third would reach 3.4 GiB."""
    g = Governed(rig)
    gates = gated(rig, memory_mb=1024)
    async with g.engine() as engine:
        g.machine.memory_of = lambda: 0.1 + 0.25 * len(engine._worker.running)
        await g.tick()
        handles = [await engine.submit(one("work", f"w{i}")) for i in range(5)]

        async def claimed(n: int) -> bool:
            await engine.store.count_by_state()  # lets the store thread catch up
            return len([h for h in handles if was_claimed(rig, h)]) >= n

        await until(g, lambda: claimed(2), 5)
        await g.tick(3)  # more samples, with the two running, change nothing
        started = [h for h in handles if was_claimed(rig, h)]
        assert len(started) == 2
        waiting = next(h for h in handles if h not in started)
        [task] = (await waiting.status()).tasks
        assert task.wait_reason is not None and "needs 1,024 MiB memory" in task.wait_reason
        gates.setdefault(next(iter(started[0].task_ids)), asyncio.Event()).set()
        await until(g, lambda: claimed(3), 5)
        await g.tick(3)
        assert len([h for h in handles if was_claimed(rig, h)]) == 3
        for h in handles:
            gates.setdefault(next(iter(h.task_ids)), asyncio.Event()).set()
        await until(g, lambda: claimed(5), 20)


async def test_g11_memory_critical_evicts_one_victim_at_a_time_within_budget(rig: Rig) -> None:
    g = Governed(rig)
    gates = gated(rig, retry=RetryPolicy(max_attempts=3))
    async with g.engine(eviction=EvictionPolicy(budget=3, backoff_s=5)) as engine:
        worker = engine._worker
        victims: list[tuple[int, int]] = []  # (task id, attempt)
        evict = worker.evict

        def evict_one_at_a_time(task_id: int, not_before: float, reason: str) -> bool:
            # "In flight": an evicted attempt that has not ended yet.
            for tid, attempt in victims:
                r = worker.running.get(tid)
                assert r is None or r.claim.attempt != attempt, "two victims in flight"
            victims.append((task_id, worker.running[task_id].claim.attempt))
            return evict(task_id, not_before, reason)

        worker.evict = evict_one_at_a_time  # type: ignore[method-assign]
        base = {"memory": 0.6}
        # Each running task holds 12 % of memory: evicting one gives it back.
        g.machine.memory_of = lambda: base["memory"] + 0.12 * len(worker.running)
        await g.tick()
        handles = {p: await engine.submit(one("work", p, p)) for p in ("low", "medium", "high")}
        ids = {p: h.task_ids[p] for p, h in handles.items()}
        for task_id in ids.values():
            await rig.outcome("claimed", task_id)
        await g.tick(60)  # 0.96: critical; one eviction brings it to 0.84
        assert [e.task_id for e in rig.events.matching("evicted")] == [ids["low"]]
        low = await engine.store.get_task(ids["low"])
        assert low.state is TaskState.WAITING and low.failures == 0
        assert low.error is not None and "evicted: memory critical" in low.error
        for _ in range(6):  # memory comes and goes: the victims come back and go again
            base["memory"] = 0.2
            await until(g, lambda: _all_running(engine, ids), 200)
            base["memory"] = 0.75
            await g.tick(30)
        evicted = [e.task_id for e in rig.events.matching("evicted")]
        assert max(evicted.count(t) for t in ids.values()) == 3  # the budget, then no more
        assert ids["high"] not in evicted or evicted.count(ids["low"]) == 3  # low goes first
        times = [e.at for e in rig.events.matching("evicted")]
        assert all(b - a >= 2 * INTERVAL_S for a, b in itertools.pairwise(times))
        for p in ids:
            gates.setdefault(p, asyncio.Event()).set()
        base["memory"] = 0.2
        for h in handles.values():
            await until(g, lambda h=h: _finished(engine, h.id), 100)


async def _all_running(engine: Engine, ids: dict[str, int]) -> bool:
    counts = await engine.store.count_by_state()  # a store read lets its thread catch up
    return counts.get("running", 0) == len(ids) and all(
        t in engine._worker.running for t in ids.values())


async def _finished(engine: Engine, workflow_id: int) -> bool:
    return (await engine.store.get_workflow(workflow_id)).state is WorkflowState.COMPLETED


async def test_g13_stopped_admission_with_nothing_to_evict_escalates(rig: Rig) -> None:
    g = Governed(rig)
    gated(rig)
    async with g.engine() as engine:
        g.machine.memory = 0.95
        await g.tick()
        await engine.submit(one("work", "queued", "low"))
        await g.tick(239)
        assert not rig.events.matching("escalated")
        await g.tick(2)
        [escalated] = rig.events.matching("escalated")
        assert "nothing can be evicted" in escalated.state
        firing = [n for n in g.notes if n.alert.resource == "admission" and n.kind == "firing"]
        assert len(firing) == 1 and firing[0].alert.level is AlertLevel.CRITICAL
        await g.tick(60)
        assert len(rig.events.matching("escalated")) == 1  # one notification per episode


async def test_g12_memory_alerts_notify_once_per_episode_and_resolve(rig: Rig) -> None:
    g = Governed(rig)
    async with g.engine():
        await g.tick()
        g.machine.memory = 0.93  # critical
        await g.tick(20)
        g.machine.memory = 0.2
        await g.tick(60)
    memory = [(n.alert.level, n.kind) for n in g.notes if n.alert.resource == "memory"]
    assert memory.count((AlertLevel.CRITICAL, "firing")) == 1
    assert memory.count((AlertLevel.CRITICAL, "resolved")) == 1
    assert (AlertLevel.MEDIUM, "firing") not in memory  # silenced by the critical alert


async def test_profile_switch_at_runtime_takes_effect_at_the_next_sample(rig: Rig) -> None:
    g = Governed(rig)
    gated(rig)
    async with g.engine() as engine:
        assert engine.governor is not None
        g.machine.cpu = 0.65
        await g.tick()
        assert engine.governor.decision is not None and engine.governor.decision.tier == 0
        engine.governor.switch_profile("development")  # CPU high 60 %
        await g.tick()
        assert engine.governor.decision.tier == 1
        assert rig.events.matching("profile")[-1].state == "development"
        health = engine.governor.health()
        assert health.limiting == "cpu" and health.score < 80


async def test_g10_twice_the_capacity_offered_still_admits_essential_work(
        tmp_path: Path) -> None:
    """Each running task costs 15 % of the CPU; 4 essential and 5 experimental tasks a
    second arrive, each running 1 s: about twice what fits under the 70 % threshold."""
    rig = Rig(Registry(), FakeClock(), EventLog(), tmp_path, "memory")
    g = Governed(rig)
    rig.registry.feature("reports", "essential")
    rig.registry.feature("labs", "experimental")

    async def one_second() -> None:
        await rig.clock.sleep(1.0)

    rig.registry.task(one_second, name="report", feature="reports")
    rig.registry.task(one_second, name="lab", feature="labs")
    async with g.engine() as engine:
        g.machine.cpu_of = lambda: 0.15 * len(engine._worker.running)
        essential: list[int] = []
        load: list[float] = []
        for second in range(120):
            for i in range(4):
                h = await engine.submit(one("report", f"r{second}-{i}"))
                if second < 110:  # the last ones may still be in the queue at the end
                    essential += h.task_ids.values()
            for i in range(5):
                await engine.submit(one("lab", f"l{second}-{i}"))
            await g.tick()
            load.append(g.machine.cpu)
        claimed = {e.task_id for e in rig.events.matching("claimed")}
        admitted = sum(1 for t in essential if t in claimed)
        assert admitted / len(essential) >= 0.99
        # ...and the machine was protected: admitting everything would pin it at 100 %.
        assert statistics.median(load[60:]) < 0.85
        assert any(e.state == "labs:off" for e in rig.events.matching("feature"))
        counts = await engine.store.count_by_state()
        assert counts.get("waiting", 0) > 100  # the experimental work did wait


async def test_capacity_plans_from_arrivals_service_times_and_the_backlog(rig: Rig) -> None:
    g = Governed(rig)

    @rig.registry.task
    async def two_seconds() -> None:
        await rig.clock.sleep(2.0)

    async with g.engine(Limits(max_running=4), adaptive_concurrency=False) as engine:
        assert await engine.capacity() is None  # no service times yet
        handles = [await engine.submit(one("two_seconds", f"t{i}")) for i in range(40)]
        await until(g, lambda: _finished(engine, handles[3].id), 10)
        plan = await engine.capacity(target_drain_s=10)
        assert plan is not None
        # 4 slots at 2 s each: 2 tasks/s; 36 queued and 40 arrived this minute.
        assert plan.throughput_per_s == 2.0
        assert plan.needed_concurrency > 4 and plan.scaling.action == "scale_up"
        assert "raise concurrency from 4" in plan.scaling.reason


async def test_saturated_cpu_sheds_features_and_low_work_but_medium_work_runs(rig: Rig) -> None:
    g = Governed(rig)
    rig.registry.feature("labs", "standard")
    gated(rig)

    @rig.registry.task(feature="labs")
    async def lab() -> None:
        return None

    async with g.engine() as engine:
        g.machine.cpu = 0.99  # a neighbour holds the CPU: tier 3 for features
        await g.tick()
        medium = await engine.submit(one("work", "medium"))
        low = await engine.submit(one("work", "low", "low"))
        labs = await engine.submit(one("lab", "lab", "high"))
        await rig.outcome("claimed", medium.task_ids["medium"])
        await g.tick(3)
        assert not rig.events.matching("claimed", task_id=low.task_ids["low"])
        [lab_task] = (await labs.status()).tasks
        assert lab_task.wait_reason is not None
        assert "feature 'labs' is off" in lab_task.wait_reason
        [low_task] = (await low.status()).tasks
        assert low_task.wait_reason is not None
        assert "low priority is not admitted now: cpu at 99%" in low_task.wait_reason


async def test_an_attempt_that_finished_before_its_eviction_is_not_marked_evicted(
        rig: Rig) -> None:
    """A victim chosen in the moment its attempt ends: the cancel cannot land, so nothing
    may stay marked (a later attempt of the task would be mistaken for the victim)."""
    g = Governed(rig)
    gates = gated(rig)
    async with g.engine() as engine:
        await g.tick()
        handle = await engine.submit(one("work", "w"))
        task_id = handle.task_ids["w"]
        await rig.outcome("claimed", task_id)
        worker = engine._worker
        running = worker.running[task_id]
        finished = asyncio.get_running_loop().create_task(asyncio.sleep(0))
        await finished
        worker.running[task_id] = replace(running, task=finished)  # done, not yet ended
        assert not worker.evict(task_id, rig.clock.now() + 5, "evicted: test")
        assert task_id not in worker._evicting
        assert not rig.events.matching("evicted")
        worker.running[task_id] = running
        gates.setdefault("w", asyncio.Event()).set()
        await rig.outcome("completed", task_id)
        assert worker._evicting == {}
