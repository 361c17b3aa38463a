"""zerogate workloads. Each runs inside a fresh child process and returns its figures.

Timing convention: ``time.perf_counter`` from the moment the workload starts building
and submitting work until a store query confirms that every task is ``completed``
(committed, for the SQLite store). The engine is started before the clock starts, as
Huey's consumer is. ``cpu_seconds`` is this process's CPU time (all threads) over the
same window: on a shared machine, tasks per CPU-second move less with the load.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zerogate as zg

POLL_S = 0.005  # completion polling interval (a store query, every few ms)
BULK = 50_000  # workflows per submit_many in the million case
INFLIGHT_SLOTS = 10_000  # Limits.max_running of the inflight case

REG = zg.Registry()
STAMPS: list[float] = []  # perf_counter at the first line of each `stamp` run


class Concurrency:
    """How many `io_wait` handlers are inside their sleep right now, and the peak."""

    now = 0
    peak = 0


@REG.task
async def noop() -> None:
    return None


@REG.task
async def stamp() -> None:
    STAMPS.append(time.perf_counter())


@REG.task
async def io_wait() -> None:
    Concurrency.now += 1
    Concurrency.peak = max(Concurrency.peak, Concurrency.now)
    try:
        await asyncio.sleep(0.5)  # the simulated I/O
    finally:
        Concurrency.now -= 1


# ---------------------------------------------------------------- stores and work


def memory_store_class() -> type | None:
    """The in-memory store, if this checkout has one yet."""
    try:
        module = importlib.import_module("zerogate.adapters.memory_store")
    except ImportError:
        return None
    return getattr(module, "MemoryStore", None)


def make_store(kind: str, folder: str) -> Any:
    if kind == "sqlite":
        return zg.SqliteStore(Path(folder) / "zerogate.db")  # durability="full"
    cls = memory_store_class()
    if cls is None:
        raise RuntimeError("zerogate.adapters.memory_store.MemoryStore is not available")
    return cls()


def singles(task: zg.TaskDef, n: int) -> list[zg.Workflow]:
    out = []
    for _ in range(n):
        wf = zg.Workflow("single")
        wf.add(task)
        out.append(wf)
    return out


def chains(n: int, length: int = 3) -> list[zg.Workflow]:
    out = []
    for _ in range(n):
        wf = zg.Workflow("chain")
        prev = wf.add(noop)
        for _ in range(length - 1):
            prev = wf.add(noop, after=[prev])
        out.append(wf)
    return out


async def wait_all(engine: zg.Engine, last_workflow: int, tasks: int) -> None:
    """Return once the store counts ``tasks`` completed tasks.

    Claims are served in submission order, so the last workflow finishing is the
    cheap signal; a count query then confirms all of them (and is repeated, spaced
    by a few times its own cost, should stragglers remain).
    """
    await engine.wait(last_workflow)
    while True:
        began = time.perf_counter()
        counts = await engine.store.count_by_state()
        bad = {s: n for s, n in counts.items() if s in ("failed", "cancelled", "skipped")}
        if bad:
            raise RuntimeError(f"tasks did not complete: {bad}")
        if counts.get("completed", 0) >= tasks:
            return
        await asyncio.sleep(max(POLL_S, 4 * (time.perf_counter() - began)))


def run(coro_fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    result: dict[str, Any] = asyncio.run(coro_fn(*args))
    return result


# ---------------------------------------------------------------- throughput


async def _throughput(store: Any, build: Callable[[], list[zg.Workflow]], tasks: int,
                      config: zg.EngineConfig | None = None) -> dict[str, Any]:
    async with zg.Engine(REG, store, config=config) as engine:
        began, cpu = time.perf_counter(), time.process_time()
        handles = await engine.submit_many(build())
        submitted = time.perf_counter()
        await wait_all(engine, handles[-1].id, tasks)
        seconds = time.perf_counter() - began
        cpu = time.process_time() - cpu
    return {"tasks": tasks, "seconds": seconds, "cpu_seconds": cpu,
            "submit_seconds": submitted - began}


def durable_noop(n: int, folder: str) -> dict[str, Any]:
    return run(_throughput, make_store("sqlite", folder), lambda: singles(noop, n), n)


def durable_chains(n: int, folder: str) -> dict[str, Any]:
    return run(_throughput, make_store("sqlite", folder), lambda: chains(n), 3 * n)


def memory_noop(n: int, folder: str) -> dict[str, Any]:
    return run(_throughput, make_store("memory", folder), lambda: singles(noop, n), n)


# ---------------------------------------------------------------- latency


async def _latency(store: Any, samples: int, warmup: int) -> dict[str, Any]:
    async with zg.Engine(REG, store) as engine:
        latencies = []
        for i in range(warmup + samples):
            wf = zg.Workflow("one")
            wf.add(stamp)
            began = time.perf_counter()
            handle = await engine.submit(wf)
            await engine.wait(handle.id)
            if i >= warmup:
                latencies.append(STAMPS[-1] - began)
    return {"tasks": samples, "latencies_s": latencies}


def latency_sqlite(n: int, folder: str) -> dict[str, Any]:
    return run(_latency, make_store("sqlite", folder), n, 10)


def latency_memory(n: int, folder: str) -> dict[str, Any]:
    return run(_latency, make_store("memory", folder), n, 10)


# ---------------------------------------------------------------- a million queued


async def _million(store: Any, n: int) -> dict[str, Any]:
    async with zg.Engine(REG, store) as engine:
        await engine.pause()
        began = time.perf_counter()
        last = 0
        for start in range(0, n, BULK):
            handles = await engine.submit_many(singles(noop, min(BULK, n - start)))
            last = handles[-1].id
        queued, cpu = time.perf_counter(), time.process_time()
        await engine.resume()
        await wait_all(engine, last, n)
        drained, cpu = time.perf_counter(), time.process_time() - cpu
    return {"tasks": n, "seconds": drained - queued, "cpu_seconds": cpu,
            "submit_seconds": queued - began}


def million(n: int, folder: str) -> dict[str, Any]:
    return run(_million, make_store("sqlite", folder), n)


# ---------------------------------------------------------------- many in flight


async def _inflight(store: Any, n: int) -> dict[str, Any]:
    config = zg.EngineConfig(limits=zg.Limits(max_running=INFLIGHT_SLOTS))
    figures = await _throughput(store, lambda: singles(io_wait, n), n, config)
    return {**figures, "peak_concurrency": Concurrency.peak}


def inflight(n: int, folder: str) -> dict[str, Any]:
    return run(_inflight, make_store("sqlite", folder), n)
