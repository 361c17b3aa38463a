"""Runs one attempt of a handler: on the loop, in a thread, or in a child process."""

from __future__ import annotations

import asyncio
import functools
import importlib
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from zerogate.domain.model import JSON, RunIn
from zerogate.errors import InvalidConfig, TaskTimeout
from zerogate.ports import Clock
from zerogate.registry import TaskDef
from zerogate.runtime.procpool import ProcessPool
from zerogate.telemetry.collector import Usage


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a handler knows about its own run. Plain data, so it crosses processes."""

    task_id: int
    workflow_id: int
    task: str  # the task's id inside its workflow
    attempt: int
    deps: Mapping[str, JSON]  # results of the dependencies, by task id


def call_by_name(module: str, qualname: str, *args: Any, **kwargs: Any) -> Any:
    """Import ``module.qualname`` in this process and call it (a child's entry point)."""
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target(*args, **kwargs)


def measured_call_by_name(module: str, qualname: str, *args: Any,
                          **kwargs: Any) -> tuple[Any, float, int | None]:
    """``call_by_name``, returning the call's CPU time and this process's peak memory.

    The child runs one call at a time, so its CPU time is the call's. The kernel's
    high-water mark is reset before the call where Linux allows it (clear_refs 5), so
    the peak is the call's own; elsewhere it is the process's peak so far.
    """
    _reset_peak()
    began = time.process_time()
    result = call_by_name(module, qualname, *args, **kwargs)
    return result, time.process_time() - began, _peak_bytes()


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak is the process's so far


def _peak_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes there, KiB on Linux


def _thread_measured(call: Callable[[], Any], meter: list[Usage]) -> Any:
    began = time.thread_time()
    try:
        return call()
    finally:
        meter.append((time.thread_time() - began, None))


async def _timed(call: Awaitable[Any], timeout_s: float | None, clock: Clock) -> Any:
    if timeout_s is None:
        return await call
    try:
        async with clock.timeout(timeout_s) as scope:
            return await call
    except TimeoutError:
        if isinstance(scope, asyncio.Timeout) and scope.expired():
            raise TaskTimeout(f"the attempt ran past its timeout of {timeout_s} s") from None
        raise  # a TimeoutError of the handler's own


class Executor:
    """Owns the thread and process pools; both start lazily on first use."""

    def __init__(self, *, threads: int, processes: int, start_method: str = "spawn") -> None:
        if threads < 1 or processes < 1:
            raise InvalidConfig("thread and process worker counts must be at least 1")
        self._threads_n = threads
        self._processes_n = processes
        self._start_method = start_method
        self._threads: ThreadPoolExecutor | None = None
        self._procs: ProcessPool | None = None
        # A timeout counts from when a worker is free, not from the claim: a task that
        # waits for a thread or a process must not time out before it ran at all.
        self._thread_slots = asyncio.Semaphore(threads)
        self._process_slots = asyncio.Semaphore(processes)

    async def invoke(self, tdef: TaskDef, ctx: TaskContext | None, args: Mapping[str, Any],
                     *, timeout_s: float | None, clock: Clock,
                     meter: list[Usage] | None = None) -> Any:
        """Call the handler within ``timeout_s`` of getting a worker; raise TaskTimeout.

        ``ctx`` is given to handlers that take one (else None). Thread and process
        attempts append their CPU time (and, in a process, peak memory) to ``meter``;
        an attempt on the event loop shares its CPU with everything else: no reading.
        """
        lead = () if ctx is None else (ctx,)
        if tdef.run_in is RunIn.ASYNC:
            return await _timed(tdef.fn(*lead, **args), timeout_s, clock)
        if tdef.run_in is RunIn.THREAD:
            async with self._thread_slots:
                call = functools.partial(tdef.fn, *lead, **args)
                if meter is not None:
                    call = functools.partial(_thread_measured, call, meter)
                return await _timed(self._in_thread(call), timeout_s, clock)
        fn = tdef.fn
        async with self._process_slots:
            target = call_by_name if meter is None else measured_call_by_name
            run = self._process_pool().run(
                target, (fn.__module__, fn.__qualname__, *lead), args)
            if meter is None:
                return await _timed(run, timeout_s, clock)
            result, cpu_s, peak = await _timed(run, timeout_s, clock)
            meter.append((cpu_s, peak))
            return result

    async def _in_thread(self, call: Callable[[], Any]) -> Any:
        future = asyncio.get_running_loop().run_in_executor(self._thread_pool(), call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A thread cannot be interrupted. Until it returns, the attempt keeps its
            # lease and slot, so nobody else runs the same task at the same time.
            await asyncio.wait({future})
            raise

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self._threads_n, thread_name_prefix="zerogate-task")
        return self._threads

    def _process_pool(self) -> ProcessPool:
        if self._procs is None:
            self._procs = ProcessPool(size=self._processes_n, start_method=self._start_method)
        return self._procs

    async def close(self, grace_s: float) -> None:
        if self._procs is not None:
            await self._procs.close(grace_s=grace_s)
            self._procs = None
        if self._threads is not None:
            # Threads cannot be interrupted: wait for them off the loop.
            pool, self._threads = self._threads, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
