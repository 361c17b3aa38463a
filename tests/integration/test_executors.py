"""Thread and process tasks on the real clock and a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from zerogate import (
    Engine,
    EngineConfig,
    Registry,
    RetryPolicy,
    SqliteStore,
    TaskContext,
    TaskState,
    Workflow,
    WorkflowState,
)
from zerogate.adapters.events import EventLog


def square(x: int) -> int:
    return x * x


def pid_then_hang(ctx: TaskContext, pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    while True:  # CPU-bound and deaf to cooperation: only termination stops it
        pass


def sum_deps(ctx: TaskContext) -> int:
    return sum(ctx.deps.values())


def build(tmp: Path) -> tuple[Registry, Engine, EventLog]:
    registry = Registry()
    registry.task(square, name="square_thread", run_in="thread")
    registry.task(square, name="square_process", run_in="process")
    registry.task(sum_deps, run_in="process")
    registry.task(pid_then_hang, run_in="process", timeout_s=30,
                  retry=RetryPolicy(max_attempts=1))
    events = EventLog()
    engine = Engine(registry, SqliteStore(tmp / "z.db"),
                    config=EngineConfig(process_workers=2, grace_s=1), events=events)
    return registry, engine, events


async def test_thread_and_process_tasks_pass_results(tmp_path: Path) -> None:
    _, engine, _ = build(tmp_path)
    wf = Workflow("mixed")
    wf.add("square_thread", {"x": 3})
    wf.add("square_process", {"x": 4})
    wf.add("sum_deps", after=["square_thread", "square_process"])
    async with engine:
        result = await (await engine.submit(wf)).result(timeout_s=60)
    assert result == {"square_thread": 9, "square_process": 16, "sum_deps": 25}


async def _pid_of(pid_file: Path) -> int:
    for _ in range(600):  # bounded wait for a separate process to start (at most 30 s)
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        await asyncio.sleep(0.05)
    raise AssertionError("the process task never started")


@pytest.mark.slow
async def test_cancelling_a_process_task_terminates_its_process(tmp_path: Path) -> None:
    _, engine, _ = build(tmp_path)
    pid_file = tmp_path / "pid"
    wf = Workflow("hang")
    wf.add("pid_then_hang", {"pid_file": str(pid_file)})
    async with engine:
        handle = await engine.submit(wf)
        pid = await _pid_of(pid_file)
        await handle.cancel()
        status = await handle.wait(timeout_s=30)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"process {pid} still alive after cancel")
    assert status.state is WorkflowState.CANCELLED
    assert status.tasks[0].record.state is TaskState.CANCELLED


@pytest.mark.slow
async def test_process_task_timeout_terminates_and_records_it(tmp_path: Path) -> None:
    registry = Registry()
    registry.task(pid_then_hang, run_in="process", timeout_s=1.0,
                  retry=RetryPolicy(max_attempts=1))
    registry.task(square, run_in="process")
    engine = Engine(registry, SqliteStore(tmp_path / "z.db"),
                    config=EngineConfig(process_workers=1))
    pid_file = tmp_path / "pid"
    wf = Workflow("timeout")
    wf.add("pid_then_hang", {"pid_file": str(pid_file)})
    warm = Workflow("warm")
    warm.add("square", {"x": 2})
    async with engine:
        # Start the child first: on a loaded machine its start-up alone can take the 1 s
        # this test gives the task, and the test is about the timeout, not the start-up.
        assert await (await engine.submit(warm)).result(timeout_s=60) == {"square": 4}
        status = await (await engine.submit(wf)).wait(timeout_s=60)
        pid = await _pid_of(pid_file)
    record = status.tasks[0].record
    assert record.state is TaskState.FAILED
    assert "TaskTimeout" in (record.error or "")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def slow_sum(seconds: float) -> float:
    time.sleep(seconds)  # a blocking call in a thread: the work a thread task does
    return seconds


async def test_shutdown_waits_for_thread_tasks_and_records_their_result(tmp_path: Path) -> None:
    """A thread cannot be interrupted: handing its lease back while it runs would let
    another worker run the same task at the same time. Its result is kept instead."""
    registry = Registry()
    registry.task(slow_sum, run_in="thread")
    events = EventLog()
    store = SqliteStore(tmp_path / "z.db")
    engine = Engine(registry, store, config=EngineConfig(grace_s=0.05), events=events)
    wf = Workflow("thread")
    wf.add("slow_sum", {"seconds": 0.5})
    await engine.start()
    handle = await engine.submit(wf)
    await events.wait_for(lambda e: e.kind == "claimed")
    await engine.shutdown()
    await store.open()
    record = await store.get_task(handle.task_ids["slow_sum"])
    await store.close()
    assert (record.state, record.result_json, record.failures) == (TaskState.COMPLETED, "0.5", 0)


async def test_a_timeout_counts_from_a_free_worker_not_from_the_claim(tmp_path: Path) -> None:
    """With one thread, the second task waits 0.4 s for it; its 0.6 s timeout must not
    fire while it waits (it used to fail before it ever ran)."""
    registry = Registry()
    registry.task(slow_sum, run_in="thread", timeout_s=0.6, retry=RetryPolicy(max_attempts=1))
    engine = Engine(registry, SqliteStore(tmp_path / "z.db"),
                    config=EngineConfig(thread_workers=1))
    async with engine:
        handles = []
        for _ in range(2):
            wf = Workflow("queued")
            wf.add("slow_sum", {"seconds": 0.4})
            handles.append(await engine.submit(wf))
        states = [(await h.wait(timeout_s=30)).state for h in handles]
    assert states == [WorkflowState.COMPLETED] * 2


def hold_memory(mb: int) -> int:
    block = bytearray(mb * 2**20)  # zero pages still count once written
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


def burn_cpu(seconds: float) -> float:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return seconds


async def test_process_and_thread_attempts_report_cpu_time_and_peak_memory(
        tmp_path: Path) -> None:
    registry = Registry()
    registry.task(hold_memory, name="hold_big", run_in="process")
    registry.task(hold_memory, name="hold_small", run_in="process")
    registry.task(burn_cpu, name="burn_process", run_in="process")
    registry.task(burn_cpu, name="burn_thread", run_in="thread")
    engine = Engine(registry, SqliteStore(tmp_path / "z.db"),
                    config=EngineConfig(process_workers=1, grace_s=1))
    async with engine:
        for name, args in (("hold_big", {"mb": 300}), ("hold_small", {"mb": 20}),
                           ("burn_process", {"seconds": 0.3}),
                           ("burn_thread", {"seconds": 0.3})):
            wf = Workflow("usage")
            wf.add(name, args)
            await (await engine.submit(wf)).result(timeout_s=60)
        assert engine.telemetry is not None
        engine.telemetry.collector.drain(time.time())
        totals = engine.telemetry.collector.totals
    # One child ran both: its peak was reset between them, so the small attempt did not
    # inherit the big one's high-water mark.
    assert 300 * 2**20 <= totals["hold_big"].peak_memory < 400 * 2**20
    assert 20 * 2**20 <= totals["hold_small"].peak_memory < 150 * 2**20
    assert totals["hold_small"].cpu_n == 1
    assert 0.25 <= totals["burn_process"].cpu_s < 1.0
    assert 0.25 <= totals["burn_thread"].cpu_s < 1.0
    assert totals["burn_thread"].peak_memory == 0  # a thread's memory is not its own
