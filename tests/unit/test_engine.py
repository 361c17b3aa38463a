"""The engine over a fake clock: priorities, dependencies, retries, timeouts, slots,
cancellation, pause and stop, wait reasons, shutdown. Nothing here sleeps."""

from __future__ import annotations

import asyncio

import pytest

from zerogate import (
    EngineClosed,
    InvalidConfig,
    InvalidPayload,
    InvalidWorkflow,
    Limits,
    RetryPolicy,
    TaskContext,
    TaskState,
    UnknownTask,
    Workflow,
    WorkflowFailed,
    WorkflowState,
)
from zerogate.domain.records import ClaimBatch, ClaimRequest
from zerogate.registry import TaskDef

from .conftest import STORES, Rig


def gate_task(rig: Rig, name: str = "gated") -> tuple[TaskDef, dict[str, asyncio.Event]]:
    """A task that blocks until the test opens its gate (one gate per task id)."""
    gates: dict[str, asyncio.Event] = {}

    async def gated(ctx: TaskContext) -> str:
        await gates.setdefault(ctx.task, asyncio.Event()).wait()
        return ctx.task

    return rig.registry.task(gated, name=name), gates


async def test_chain_passes_results_and_completes(rig: Rig) -> None:
    @rig.registry.task
    async def add(ctx: TaskContext, x: int) -> int:
        return x + sum(ctx.deps.values())

    wf = Workflow("sum")
    a = wf.add(add, {"x": 1})
    b = wf.add(add, {"x": 2})
    wf.add(add, {"x": 10}, id="total", after=[a, b])
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        assert await handle.result() == {"add": 1, "add-2": 2, "total": 13}


async def test_priorities_run_critical_first_then_oldest(rig: Rig) -> None:
    order: list[str] = []

    @rig.registry.task
    async def note(ctx: TaskContext) -> None:
        order.append(ctx.task)

    async with rig.engine(Limits(max_running=1)) as engine:
        await engine.pause()
        handles = []
        for name, prio in [("low", "low"), ("med1", "medium"), ("crit", "critical"),
                           ("med2", "medium"), ("high", "high")]:
            wf = Workflow(name)
            wf.add(note, id=name, priority=prio)
            handles.append(await engine.submit(wf))
        await engine.resume()
        for h in handles:
            await h.result()
    assert order == ["crit", "high", "med1", "med2", "low"]


async def test_retry_backs_off_on_the_clock_then_succeeds(rig: Rig) -> None:
    @rig.registry.task(retry=RetryPolicy(max_attempts=3, backoff_s=10, jitter=0))
    async def flaky(ctx: TaskContext) -> int:
        if ctx.attempt < 3:
            raise ConnectionError(f"attempt {ctx.attempt} failed")
        return ctx.attempt

    wf = Workflow("retry")
    wf.add(flaky)
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        tid = handle.task_ids["flaky"]
        await rig.outcome("retrying", tid)
        status = await handle.status()
        assert status.tasks[0].wait_reason and status.tasks[0].wait_reason.startswith("retry:")
        await rig.clock.advance(9)
        assert len(rig.events.matching("claimed", task_id=tid)) == 1
        await rig.clock.advance(1)
        await rig.outcome("retrying", tid, count=2)
        await rig.clock.advance(20)  # second backoff doubles: 20 s
        assert await handle.result() == {"flaky": 3}


async def test_last_failure_dead_letters_with_error_and_traceback(rig: Rig) -> None:
    @rig.registry.task(retry=RetryPolicy(max_attempts=1))
    async def broken() -> None:
        raise ValueError("bad row 17")

    wf = Workflow("fail")
    wf.add(broken)
    wf.add(broken, id="after", after=["broken"])
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        with pytest.raises(WorkflowFailed) as info:
            await handle.result()
        status = await handle.status()
    assert "ValueError: bad row 17" in info.value.errors["broken"]
    assert info.value.errors["after"] == "dependency 'broken' failed"
    task = status.tasks[0].record
    assert task.state is TaskState.FAILED and "raise ValueError" in (task.traceback or "")


async def test_no_retry_on_listed_exception_types(rig: Rig) -> None:
    @rig.registry.task(retry=RetryPolicy(max_attempts=5, no_retry_on=("KeyError",)))
    async def lookup() -> None:
        raise KeyError("missing")

    wf = Workflow("final")
    wf.add(lookup)
    async with rig.engine() as engine:
        status = await (await engine.submit(wf)).wait()
    assert status.tasks[0].record.failures == 1
    assert "is not retried" in (status.tasks[0].record.error or "")


async def test_timeout_fails_the_attempt_and_retry_applies(rig: Rig) -> None:
    sleeping = asyncio.Event()

    @rig.registry.task(timeout_s=5, retry=RetryPolicy(max_attempts=2, backoff_s=1, jitter=0))
    async def slow(ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            sleeping.set()
            await rig.clock.sleep(60)
        return "second attempt is quick"

    wf = Workflow("timeout")
    wf.add(slow)
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        await sleeping.wait()
        await rig.clock.advance(5)
        await rig.outcome("retrying", handle.task_ids["slow"])
        record = (await handle.status()).tasks[0].record
        assert "TaskTimeout" in (record.error or "") and "5" in (record.error or "")
        await rig.clock.advance(1)
        assert await handle.result() == {"slow": "second attempt is quick"}


async def test_result_that_is_not_json_fails_without_retry(rig: Rig) -> None:
    @rig.registry.task(retry=RetryPolicy(max_attempts=3))
    async def weird() -> object:
        return {1, 2}

    wf = Workflow("bad-result")
    wf.add(weird)
    async with rig.engine() as engine:
        status = await (await engine.submit(wf)).wait()
    record = status.tasks[0].record
    assert (record.state, record.failures) == (TaskState.FAILED, 1)
    assert "InvalidPayload" in (record.error or "")


async def test_global_limit_is_never_exceeded(rig: Rig) -> None:
    running, peak = 0, 0
    release, full = asyncio.Event(), asyncio.Event()

    @rig.registry.task
    async def busy() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 3:
            full.set()
        await release.wait()
        running -= 1

    async with rig.engine(Limits(max_running=3)) as engine:
        handles = []
        for _ in range(10):
            wf = Workflow("w")
            wf.add(busy)
            handles.append(await engine.submit(wf))
        await full.wait()
        release.set()
        for h in handles:
            await h.result()
    assert peak == 3


async def test_running_workflow_limit_queues_workflows(rig: Rig) -> None:
    gated, gates = gate_task(rig)
    async with rig.engine(Limits(max_running_workflows=1)) as engine:
        first = Workflow("first")
        first.add(gated, id="one")
        second = Workflow("second")
        second.add(gated, id="two")
        h1, h2 = await engine.submit(first), await engine.submit(second)
        await rig.outcome("claimed", h1.task_ids["one"])
        status = await h2.status()
        assert status.state is WorkflowState.PENDING
        assert status.tasks[0].wait_reason == "workflow slot: 1 workflows are running, the limit"
        gates.setdefault("one", asyncio.Event()).set()
        gates.setdefault("two", asyncio.Event()).set()
        await h2.result()


@pytest.mark.parametrize("ending", ["success", "failure", "cancel", "timeout"])
async def test_key_slot_is_released_after_every_ending(rig: Rig, ending: str) -> None:
    """A second task of the same key (limit 1) starts after the first ends, however."""

    started = asyncio.Event()

    @rig.registry.task(key="db", timeout_s=5, retry=RetryPolicy(max_attempts=1))
    async def first() -> None:
        started.set()
        if ending == "failure":
            raise RuntimeError("failed")
        if ending in ("cancel", "timeout"):
            await rig.clock.sleep(3600)

    @rig.registry.task(key="db")
    async def second() -> str:
        return "ran"

    async with rig.engine(Limits(per_key={"db": 1})) as engine:
        w1, w2 = Workflow("a"), Workflow("b")
        w1.add(first)
        w2.add(second)
        h1 = await engine.submit(w1)
        await started.wait()
        h2 = await engine.submit(w2)
        if ending in ("cancel", "timeout"):
            status = await h2.status()
            assert status.tasks[0].wait_reason == "slot: key 'db' has 1 tasks running, its limit"
        if ending == "cancel":
            await h1.cancel()
        elif ending == "timeout":
            await rig.clock.advance(5)
        assert await h2.result() == {"second": "ran"}
        assert (await engine.store.running_counts()).by_key["db"] == 0


async def test_crashed_workers_slot_is_reclaimed_after_its_lease(rig: Rig) -> None:
    """A task leased to a worker that died holds its key slot only until the lease ends."""

    @rig.registry.task(key="db", retry=RetryPolicy(max_attempts=1))
    async def job() -> str:
        return "ran"

    store = STORES[rig.store_kind](rig.tmp)
    await store.open()
    dead_wf = Workflow("dead")
    dead_wf.add(job)
    [dead] = await store.submit([rig.registry.prepare(dead_wf.spec())], rig.clock.now())
    claimed = await store.claim(ClaimRequest(
        owner="dead-worker", n=1, now=rig.clock.now(), lease_s=30, limits=Limits()))
    assert [c.task_id for c in claimed.claims] == [dead.task_ids["job"]]
    engine = rig.engine(Limits(per_key={"db": 1}), store=store, lease_s=30, sweep_s=5)
    async with engine:
        alive = Workflow("alive")
        alive.add(job)
        handle = await engine.submit(alive)
        status = await handle.status()
        assert status.tasks[0].wait_reason == "slot: key 'db' has 1 tasks running, its limit"
        await rig.clock.advance(35)
        await rig.outcome("expired", dead.task_ids["job"])
        assert await handle.result() == {"job": "ran"}
        lost = await store.get_task(dead.task_ids["job"])
    assert lost.state is TaskState.FAILED and "lease expired" in (lost.error or "")


async def test_cancel_stops_a_running_task_and_its_dependents(rig: Rig) -> None:
    cancelled = asyncio.Event()

    @rig.registry.task
    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @rig.registry.task
    async def after() -> None:
        raise AssertionError("a dependent of a cancelled task must not run")

    wf = Workflow("cancel")
    wf.add(forever)
    wf.add(after, after=["forever"])
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        await rig.outcome("claimed", handle.task_ids["forever"])
        await handle.cancel()
        await cancelled.wait()
        status = await handle.wait()
    assert status.state is WorkflowState.CANCELLED
    assert [t.record.state for t in status.tasks] == [TaskState.CANCELLED] * 2


async def test_pause_holds_new_work_and_survives_restart(rig: Rig) -> None:
    @rig.registry.task
    async def job() -> str:
        return "done"

    wf = Workflow("paused")
    wf.add(job)
    async with rig.engine() as engine:
        await engine.pause()
        handle = await engine.submit(wf)
        status = await handle.status()
        assert status.tasks[0].wait_reason == "paused: everything is paused"
    if rig.store_kind == "memory":
        return  # nothing survives a restart of the in-memory store, by design
    async with rig.engine() as engine:
        status = await engine.status(handle.id)
        assert status.tasks[0].wait_reason == "paused: everything is paused"
        await engine.resume()
        assert (await engine.wait(handle.id)).state is WorkflowState.COMPLETED


async def test_stop_cancels_running_and_queued_and_keeps_records(rig: Rig) -> None:
    gated, _gates = gate_task(rig)
    async with rig.engine(Limits(max_running=1)) as engine:
        handles = []
        for i in range(3):
            wf = Workflow(f"w{i}")
            wf.add(gated)
            handles.append(await engine.submit(wf))
        await rig.outcome("claimed", handles[0].task_ids["gated"])
        await engine.stop()
        states = [(await h.wait()).state for h in handles]
        assert states == [WorkflowState.CANCELLED] * 3
        assert await engine.store.paused_scopes() == frozenset({"global"})
        assert await engine.store.count_by_state() == {"cancelled": 3}


async def test_dependency_wait_reason_names_the_dependency(rig: Rig) -> None:
    gated, gates = gate_task(rig)
    wf = Workflow("deps")
    wf.add(gated, id="first")
    wf.add(gated, id="second", after=["first"])
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        await rig.outcome("claimed", handle.task_ids["first"])
        reasons = [t.wait_reason for t in (await handle.status()).tasks]
        assert reasons == [None, "dependency: waiting for 'first'"]
        gates.setdefault("first", asyncio.Event()).set()
        gates.setdefault("second", asyncio.Event()).set()
        assert await handle.result() == {"first": "first", "second": "second"}


async def test_idempotency_key_returns_the_first_workflow(rig: Rig) -> None:
    @rig.registry.task
    async def job() -> None:
        return None

    wf = Workflow("once")
    wf.add(job)
    async with rig.engine() as engine:
        first = await engine.submit(wf, idempotency_key="order-42")
        again = await engine.submit(wf, idempotency_key="order-42")
        assert (again.id, again.task_ids, again.is_new) == (first.id, first.task_ids, False)
        assert await engine.store.count_by_state() in ({"pending": 1}, {"waiting": 1},
                                                        {"running": 1}, {"completed": 1})


async def test_bad_input_is_refused_with_a_clear_error(rig: Rig) -> None:
    @rig.registry.task
    async def job(x: object = None) -> None:
        return None

    async with rig.engine() as engine:
        unknown = Workflow("unknown")
        unknown.add("nope")
        with pytest.raises(UnknownTask, match="'nope'"):
            await engine.submit(unknown)
        cyclic = Workflow("cycle")
        cyclic.add(job, id="a", after=["c"])
        cyclic.add(job, id="b", after=["a"])
        cyclic.add(job, id="c", after=["b"])
        with pytest.raises(InvalidWorkflow, match="cycle: 'a' -> 'c' -> 'b' -> 'a'"):
            await engine.submit(cyclic)
        not_json = Workflow("payload")
        not_json.add(job, {"x": object()})
        with pytest.raises(InvalidPayload, match="arguments of task 'job'"):
            await engine.submit(not_json)
        with pytest.raises(InvalidConfig, match="unknown priority"):
            Workflow("prio").add(job, priority="urgent")
        assert await engine.store.count_by_state() == {}
    with pytest.raises(InvalidConfig, match="max_running"):
        Limits(max_running=-1)
    with pytest.raises(EngineClosed):
        await engine.submit(Workflow("late"))


async def test_shutdown_releases_unfinished_leases_without_a_failure(rig: Rig) -> None:
    gated, _gates = gate_task(rig)
    wf = Workflow("shutdown")
    wf.add(gated)
    engine = rig.engine(grace_s=2)
    async with engine:
        handle = await engine.submit(wf)
        await rig.outcome("claimed", handle.task_ids["gated"])
        stopping = asyncio.ensure_future(engine.shutdown())
        while not stopping.done():  # move time until the grace period has run out
            await rig.clock.advance(0.5)
        await stopping
    store = engine.store if rig.store_kind == "memory" else STORES[rig.store_kind](rig.tmp)
    await store.open()
    record = await store.get_task(handle.task_ids["gated"])
    await store.close()
    assert (record.state, record.failures, record.owner) == (TaskState.WAITING, 0, None)


async def test_aging_lifts_a_starving_low_priority_task(rig: Rig) -> None:
    order: list[str] = []
    gate = asyncio.Event()

    @rig.registry.task
    async def note(ctx: TaskContext) -> None:
        if ctx.task == "blocker":
            await gate.wait()
        order.append(ctx.task)

    # The lease outlasts the jump below: this test is about aging, not lease expiry.
    async with rig.engine(Limits(max_running=1), aging_s=60, sweep_s=30,
                          lease_s=1000) as engine:
        first = Workflow("blocker")
        first.add(note, id="blocker", priority="critical")
        await engine.submit(first)
        old = Workflow("old")
        old.add(note, id="old-low", priority="low")
        await engine.submit(old)
        await rig.clock.advance(200)  # the low task waited 3+ aging periods: now critical
        await rig.events.wait_for(lambda e: e.kind == "aged")
        new = Workflow("new")
        new.add(note, id="new-high", priority="high")
        handle = await engine.submit(new)
        gate.set()
        await handle.result()
    assert order == ["blocker", "old-low", "new-high"]


async def test_a_due_retry_held_by_a_full_slot_does_not_spin_the_claim_loop(rig: Rig) -> None:
    gated, gates = gate_task(rig)

    @rig.registry.task(key="k", retry=RetryPolicy(max_attempts=2, backoff_s=5, jitter=0))
    async def flaky(ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "second"

    store = STORES[rig.store_kind](rig.tmp)
    claims = 0
    original = store.claim

    async def counting_claim(request: ClaimRequest) -> ClaimBatch:
        nonlocal claims
        claims += 1
        return await original(request)

    store.claim = counting_claim  # type: ignore[method-assign]
    async with rig.engine(Limits(per_key={"k": 1}), store=store) as engine:
        w1 = Workflow("flaky")
        w1.add(flaky)
        h1 = await engine.submit(w1)
        await rig.outcome("retrying", h1.task_ids["flaky"])
        w2 = Workflow("holder")
        w2.add(gated, id="holder", key="k")
        h2 = await engine.submit(w2)
        await rig.outcome("claimed", h2.task_ids["holder"])
        await rig.clock.advance(6)  # the retry is due, but key "k" is full
        before = claims
        for _ in range(50):
            await asyncio.sleep(0)
        assert claims - before <= 2, "the claim loop spins on a due but held retry"
        gates.setdefault("holder", asyncio.Event()).set()
        assert await h1.result() == {"flaky": "second"}
        await h2.result()
