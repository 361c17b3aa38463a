"""Huey peer workloads, run in a child process that drives Huey's real consumer.

Fairness: the consumer (2 worker processes, ``bench.huey_consumer``) is started and
its workers have announced themselves before the clock starts, as zerogate's engine
is started before its clock. The clock then runs from the first enqueue until
Huey's result store holds a result for every task: Huey writes a task's result
(``store_none=True``, so even ``None``) when the task finishes, before it enqueues
the next step of a pipeline, so the count is the durable "completed" of both
engines. Both use SQLite in WAL mode with ``synchronous=FULL``. Huey has no bulk
enqueue, so it enqueues one task per transaction, its normal API, while its
workers already consume; zerogate submits in one ``submit_many`` transaction.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.stats import REPO

POLL_S = 0.005
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


@contextmanager
def consumer(folder: str) -> Iterator[ModuleType]:
    """Start the consumer on a fresh database; yield the Huey app module of the driver."""
    ready = Path(folder, "ready")
    ready.mkdir()
    os.environ["BENCH_HUEY_DB"] = str(Path(folder, "huey.db"))
    os.environ["BENCH_HUEY_READY"] = str(ready)
    app = importlib.import_module("bench.huey_app")
    workers = importlib.import_module("bench.huey_consumer").WORKERS
    with Path(folder, "consumer.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bench.huey_consumer"], cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            _await_workers(proc, ready, workers)
            yield app
        finally:
            _stop(proc)


def _await_workers(proc: subprocess.Popen[bytes], ready: Path, workers: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(list(ready.iterdir())) < workers:
        if proc.poll() is not None:
            raise RuntimeError(f"the Huey consumer exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the Huey consumer's workers did not start")
        time.sleep(POLL_S)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # graceful: workers finish their task and exit
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _await_results(app: ModuleType, expected: int) -> None:
    while app.huey.result_count() < expected:
        time.sleep(POLL_S)


def noop(n: int, folder: str) -> dict[str, Any]:
    with consumer(folder) as app:
        began = time.perf_counter()
        for _ in range(n):
            app.noop()
        enqueued = time.perf_counter()
        _await_results(app, n)
        seconds = time.perf_counter() - began
    return {"tasks": n, "seconds": seconds, "submit_seconds": enqueued - began}


def chains(n: int, folder: str) -> dict[str, Any]:
    """Pipelines of three: ``noop.s().then(noop).then(noop)`` (each step's result,
    None, is passed on as no argument)."""
    with consumer(folder) as app:
        began = time.perf_counter()
        for _ in range(n):
            app.huey.enqueue(app.noop.s().then(app.noop).then(app.noop))
        enqueued = time.perf_counter()
        _await_results(app, 3 * n)
        seconds = time.perf_counter() - began
    return {"tasks": 3 * n, "seconds": seconds, "submit_seconds": enqueued - began}


def latency(n: int, folder: str) -> dict[str, Any]:
    """From the enqueue call to the task's first line, as zerogate's latency case."""
    with consumer(folder) as app:
        latencies = []
        for i in range(10 + n):
            began = time.perf_counter()
            started = app.stamp().get(blocking=True, timeout=30, backoff=1.0,
                                      max_delay=POLL_S)
            if i >= 10:
                latencies.append(started - began)
    return {"tasks": n, "latencies_s": latencies}
