"""The engine when things go wrong around it: odd handlers, failing hooks, a dying
store call, shutdown racing a claim. Each test is a defect found in review."""

from __future__ import annotations

import asyncio

import pytest

from zerogate import (
    EngineClosed,
    RetryPolicy,
    TaskContext,
    TaskState,
    Workflow,
    WorkflowState,
)
from zerogate.adapters.events import EventLog
from zerogate.domain.records import ClaimBatch, ClaimRequest, Event

from .conftest import STORES, Rig


async def test_a_handler_raising_cancelled_error_fails_its_attempt(rig: Rig) -> None:
    """An inner task's CancelledError escaping a handler used to leave it running forever."""

    @rig.registry.task(retry=RetryPolicy(max_attempts=2, backoff_s=1, jitter=0))
    async def leaky(ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            inner = asyncio.ensure_future(asyncio.Event().wait())
            inner.cancel()
            await inner  # raises CancelledError although nobody cancelled the handler
        return "second attempt"

    wf = Workflow("leaky")
    wf.add(leaky)
    async with rig.engine() as engine:
        handle = await engine.submit(wf)
        await rig.outcome("retrying", handle.task_ids["leaky"])
        record = (await handle.status()).tasks[0].record
        assert "TaskCancelled" in (record.error or "")
        await rig.clock.advance(1)
        assert await handle.result() == {"leaky": "second attempt"}


async def test_a_failing_event_sink_does_not_stop_the_engine(rig: Rig) -> None:
    class Broken(EventLog):
        def emit(self, event: Event) -> None:
            super().emit(event)
            raise ConnectionError("metrics backend down")

    @rig.registry.task
    async def job() -> int:
        return 1

    rig.events = Broken()
    wf = Workflow("w")
    wf.add(job)
    async with rig.engine() as engine:
        assert await (await engine.submit(wf)).result() == {"job": 1}
        assert await (await engine.submit(wf)).result() == {"job": 1}


async def test_error_text_that_is_not_utf8_is_stored_escaped(rig: Rig) -> None:
    @rig.registry.task(retry=RetryPolicy(max_attempts=1))
    async def opener() -> None:
        raise FileNotFoundError("cannot open report-\udce9t\udce9.csv")

    wf = Workflow("w")
    wf.add(opener)
    async with rig.engine() as engine:
        status = await (await engine.submit(wf)).wait()
        assert "report-\\udce9t\\udce9.csv" in (status.tasks[0].record.error or "")
        second = Workflow("after")
        second.add(opener, id="again")
        assert (await (await engine.submit(second)).wait()).state is WorkflowState.FAILED


async def test_text_the_store_cannot_hold_is_refused_at_submit(rig: Rig) -> None:
    @rig.registry.task
    async def job() -> None:
        return None

    wf = Workflow("w", tenant="bad-\udce9")
    wf.add(job)
    async with rig.engine() as engine:
        with pytest.raises(Exception, match="not valid UTF-8"):
            await engine.submit(wf)
        assert await engine.store.count_by_state() == {}


async def test_an_engine_that_died_refuses_work_and_still_closes(rig: Rig) -> None:
    @rig.registry.task
    async def job() -> int:
        return 1

    store = STORES[rig.store_kind](rig.tmp)

    async def broken_finish(*args: object) -> object:
        raise RuntimeError("a bug in a store")

    store.finish = broken_finish  # type: ignore[method-assign,assignment]
    engine = rig.engine(store=store)
    await engine.start()
    wf = Workflow("w")
    wf.add(job)
    handle = await engine.submit(wf)
    with pytest.raises(EngineClosed):
        await handle.wait()
    with pytest.raises(EngineClosed, match="internal error"):
        await engine.submit(wf)
    with pytest.raises(ExceptionGroup):
        await engine.shutdown()
    with pytest.raises(Exception, match="not open"):
        await store.count_by_state()


async def test_a_claim_in_flight_at_shutdown_is_released_not_started(rig: Rig) -> None:
    ran: list[int] = []

    @rig.registry.task
    async def job(ctx: TaskContext) -> None:
        ran.append(ctx.task_id)

    store = STORES[rig.store_kind](rig.tmp)
    original = store.claim
    in_claim, let_go = asyncio.Event(), asyncio.Event()

    async def slow_claim(request: ClaimRequest) -> ClaimBatch:
        batch = await original(request)
        if batch.claims:
            in_claim.set()
            await let_go.wait()
        return batch

    store.claim = slow_claim  # type: ignore[method-assign]
    engine = rig.engine(store=store)
    await engine.start()
    wf = Workflow("w")
    wf.add(job)
    handle = await engine.submit(wf)
    await in_claim.wait()
    stopping = asyncio.ensure_future(engine.shutdown())
    await asyncio.sleep(0)  # let shutdown begin while the claim is in flight
    let_go.set()
    await stopping
    assert ran == []
    await store.open()
    record = await store.get_task(handle.task_ids["job"])
    await store.close()
    assert (record.state, record.failures, record.owner) == (TaskState.WAITING, 0, None)


async def test_waiting_on_a_stopped_engine_raises_engine_closed(rig: Rig) -> None:
    gate = asyncio.Event()

    @rig.registry.task
    async def slow() -> None:
        await gate.wait()

    wf = Workflow("w")
    wf.add(slow)
    engine = rig.engine()
    await engine.start()
    handle = await engine.submit(wf)
    waiter = asyncio.ensure_future(handle.wait())
    await rig.outcome("claimed", handle.task_ids["slow"])
    await engine.shutdown()
    with pytest.raises(EngineClosed):
        await waiter


async def test_a_shut_down_engine_cannot_be_started_again(rig: Rig) -> None:
    engine = rig.engine()
    async with engine:
        pass
    with pytest.raises(EngineClosed, match="create a new Engine"):
        await engine.start()
