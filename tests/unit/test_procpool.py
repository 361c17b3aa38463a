"""ProcessPool: results, remote errors, per-call termination, crashes and shutdown.

The helpers below run in spawned children, which import them by reference from this
module; ``time.sleep`` inside a child is the stand-in for long work that the tests cancel.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable

import pytest

from zerogate.errors import EngineClosed, InvalidConfig, RemoteError, WorkerCrashed
from zerogate.runtime.procpool import TRACEBACK_ATTR, ProcessPool

pytestmark = pytest.mark.slow

LONG_S = 30.0


def add(a: int, b: int = 0) -> int:
    return a + b


def getpid() -> int:
    return os.getpid()


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _inner_failure() -> None:
    raise ValueError("boom from child")


def fail() -> None:
    _inner_failure()


class UnpicklableError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        # Two required args not stored in .args: unpickling calls cls(*args) and fails.
        super().__init__(f"{code}: {reason}")


def fail_unpicklable() -> None:
    raise UnpicklableError(7, "bad thing")


def return_lock() -> threading.Lock:
    return threading.Lock()


def exit_with(code: int) -> None:
    os._exit(code)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def ignore_sigterm() -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return os.getpid()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def child_pids() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    p = ProcessPool(size=2)
    yield p
    await p.close(grace_s=0.0)
    assert child_pids() == set()


@pytest.mark.parametrize("size", [0, -1])
def test_size_below_one_is_invalid(size: int) -> None:
    with pytest.raises(InvalidConfig):
        ProcessPool(size=size)


def test_unknown_start_method_is_invalid() -> None:
    with pytest.raises(InvalidConfig):
        ProcessPool(size=1, start_method="teleport")


async def test_returns_result(pool: ProcessPool) -> None:
    assert await pool.run(add, (2,), {"b": 3}) == 5
    assert await pool.run(add, (4,)) == 4
    assert pool.busy == 0


async def test_exception_reraised_with_child_traceback(pool: ProcessPool) -> None:
    with pytest.raises(ValueError, match="boom from child") as info:
        await pool.run(fail)
    tb_text = getattr(info.value, TRACEBACK_ATTR)
    assert "Traceback" in tb_text
    assert "_inner_failure" in tb_text
    assert await pool.run(add, (1, 1)) == 2


async def test_unpicklable_exception_becomes_remote_error(pool: ProcessPool) -> None:
    with pytest.raises(RemoteError) as info:
        await pool.run(fail_unpicklable)
    err = info.value
    assert err.type_name.endswith("UnpicklableError")
    assert "7: bad thing" in str(err)
    assert "fail_unpicklable" in err.traceback_text
    assert getattr(err, TRACEBACK_ATTR) == err.traceback_text


async def test_unpicklable_result_raises_the_pickling_error(pool: ProcessPool) -> None:
    with pytest.raises(TypeError, match="pickle") as info:
        await pool.run(return_lock)
    assert "return_lock" not in str(info.value)
    assert "Traceback" in getattr(info.value, TRACEBACK_ATTR)


async def test_unpicklable_function_fails_in_caller(pool: ProcessPool) -> None:
    with pytest.raises((pickle.PicklingError, AttributeError)):
        await pool.run(lambda: 1)
    assert child_pids() == set()


async def test_cancel_terminates_only_its_child(pool: ProcessPool) -> None:
    first, second = await asyncio.gather(pool.run(getpid), pool.run(getpid))
    started = time.monotonic()
    doomed = asyncio.create_task(pool.run(time.sleep, (LONG_S,)))
    survivor_pid = await pool.run(pid_after, (0.3,))  # runs alongside the doomed call
    doomed_pid = ({first, second} - {survivor_pid}).pop()
    assert pool.busy == 1
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert time.monotonic() - started < 5
    assert not alive(doomed_pid)
    assert child_pids() == {survivor_pid}
    assert pool.busy == 0
    pids = set(await asyncio.gather(pool.run(pid_after, (0.2,)), pool.run(pid_after, (0.2,))))
    assert survivor_pid in pids
    assert doomed_pid not in pids
    assert len(pids) == 2


async def test_timeout_terminates_child() -> None:
    pool = ProcessPool(size=1)
    try:
        pid = await pool.run(getpid)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await pool.run(time.sleep, (LONG_S,))
        assert not alive(pid)
        assert await pool.run(getpid) != pid
    finally:
        await pool.close()


async def test_child_ignoring_sigterm_is_killed() -> None:
    pool = ProcessPool(size=1)
    try:
        pid = await pool.run(ignore_sigterm)  # the handler stays for the next call
        started = time.monotonic()
        task = asyncio.create_task(pool.run(time.sleep, (LONG_S,)))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await asyncio.shield(task)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not alive(pid)
        assert time.monotonic() - started >= 1.0  # SIGTERM was ignored; SIGKILL followed
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("fn", "args", "pattern"),
    [(exit_with, (3,), r"exit code 3\b"), (kill_self, (), r"exit code -9 \(killed by SIGKILL\)")],
)
async def test_worker_death_raises_worker_crashed(
    pool: ProcessPool, fn: Callable[..., None], args: tuple[int, ...], pattern: str
) -> None:
    with pytest.raises(WorkerCrashed, match=pattern):
        await pool.run(fn, args)
    assert pool.busy == 0
    assert await pool.run(add, (20, 22)) == 42


async def test_more_calls_than_size_queue_fifo_and_complete() -> None:
    pool = ProcessPool(size=1)
    finished: list[int] = []

    async def call(i: int) -> None:
        assert await pool.run(add, (i,)) == i
        finished.append(i)

    try:
        await asyncio.gather(*(call(i) for i in range(6)))
        assert finished == list(range(6))
        assert len(child_pids()) == 1
    finally:
        await pool.close()


async def test_queue_respects_size(pool: ProcessPool) -> None:
    pids = await asyncio.gather(*(pool.run(pid_after, (0.1,)) for _ in range(6)))
    assert len(set(pids)) == 2


async def test_cancelled_waiter_does_not_disturb_running_call() -> None:
    pool = ProcessPool(size=1)
    try:
        running = asyncio.create_task(pool.run(pid_after, (0.3,)))
        queued = asyncio.create_task(pool.run(getpid))
        await asyncio.sleep(0)  # a bare yield: both tasks reach their first await
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        pid = await running
        assert await pool.run(getpid) == pid
    finally:
        await pool.close()


async def test_close_waits_for_calls_within_grace() -> None:
    pool = ProcessPool(size=2)
    call = asyncio.create_task(pool.run(pid_after, (0.3,)))
    await pool.run(getpid)  # makes sure the call above is in flight
    await pool.close(grace_s=10.0)
    assert isinstance(await call, int)
    assert child_pids() == set()


async def test_close_terminates_calls_past_grace_and_rejects_new_work() -> None:
    pool = ProcessPool(size=1)
    pid = await pool.run(getpid)
    long = asyncio.create_task(pool.run(time.sleep, (LONG_S,)))
    queued = asyncio.create_task(pool.run(time.sleep, (LONG_S,)))
    await asyncio.sleep(0)  # a bare yield: the second call is now waiting for the worker
    assert pool.busy == 1
    started = time.monotonic()
    await pool.close(grace_s=0.2)
    assert time.monotonic() - started < 5
    with pytest.raises(EngineClosed):
        await long
    with pytest.raises(EngineClosed):
        await queued
    assert not alive(pid)
    assert child_pids() == set()
    assert threading.active_count() == 1
    with pytest.raises(EngineClosed):
        await pool.run(add, (1,))
    await pool.close()  # idempotent


async def test_close_unused_pool() -> None:
    pool = ProcessPool(size=3)
    await pool.close()
    await pool.close()
    with pytest.raises(EngineClosed):
        await pool.run(add, (1,))
