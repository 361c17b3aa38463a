"""A zerogate worker process for the crash tests: ``python crash_worker.py DB LOG --owner W``.

It serves the store until SIGTERM or SIGINT and prints ``ready`` once it is claiming.
Every handler appends ``start`` and ``end`` lines to LOG before it returns, with
O_APPEND, one ``write`` per line and an fsync, so the test can count executions
independently of zerogate, in the order they happened, across SIGKILLs::

    start <task-id> <attempt> <owner> <unix-time>
    end <task-id> <attempt> <owner> <unix-time>

The test imports ``REGISTRY`` from here to build the workflows it submits, so the
worker and the test always agree on task names and retry policies.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any

import zerogate
from zerogate import Limits, RetryPolicy, TaskContext

# Enough attempts that repeated kills never exhaust a task, and short backoffs so a
# reclaimed task runs again at once: a lease expiry counts as a failed attempt.
RETRY = RetryPolicy(max_attempts=50, backoff_s=0.02, multiplier=2.0, max_backoff_s=0.2,
                    jitter=0.5)

REGISTRY = zerogate.Registry()


@dataclass
class _Log:
    fd: int = -1
    owner: str = "?"


LOG = _Log()


def record(kind: str, ctx: TaskContext) -> None:
    line = f"{kind} {ctx.task_id} {ctx.attempt} {LOG.owner} {time.time():.6f}\n"
    os.write(LOG.fd, line.encode())
    os.fsync(LOG.fd)


def _result(ctx: TaskContext) -> dict[str, Any]:
    # The attempts of the dependency results this attempt was given: the test checks
    # they are the attempts whose completions the store recorded.
    dep_attempts = {name: value["attempt"] for name, value in ctx.deps.items()}
    return {"task": ctx.task_id, "attempt": ctx.attempt, "owner": LOG.owner,
            "deps": dep_attempts}


@REGISTRY.task(retry=RETRY)
async def step(ctx: TaskContext, ms: int) -> dict[str, Any]:
    """A bit of asynchronous work on the event loop."""
    record("start", ctx)
    await asyncio.sleep(ms / 1000)
    record("end", ctx)
    return _result(ctx)


@REGISTRY.task(retry=RETRY)
def step_sync(ctx: TaskContext, ms: int) -> dict[str, Any]:
    """A bit of blocking work in a thread (it cannot be interrupted)."""
    record("start", ctx)
    time.sleep(ms / 1000)
    record("end", ctx)
    return _result(ctx)


def parse_log(text: str) -> list[tuple[str, int, int, str, float]]:
    """The log as ``(kind, task_id, attempt, owner, time)`` in the order written."""
    out = []
    for line in text.splitlines():
        kind, task_id, attempt, owner, at = line.split()
        out.append((kind, int(task_id), int(attempt), owner, float(at)))
    return out


async def serve(args: argparse.Namespace) -> None:
    config = zerogate.EngineConfig(
        limits=Limits(max_running=args.max_running), lease_s=args.lease, sweep_s=args.sweep,
        poll_s=0.1, grace_s=args.grace, thread_workers=args.max_running, aging_s=None)
    engine = zerogate.Engine(REGISTRY, zerogate.SqliteStore(args.db), config=config,
                             owner=args.owner, seed=random.randrange(2**32))
    # "ready" is printed once the signal handlers are in and the engine claims work.
    await engine.serve(on_ready=lambda: print("ready", flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db")
    parser.add_argument("log")
    parser.add_argument("--owner", required=True)
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--sweep", type=float, default=0.2)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--max-running", type=int, default=32)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING,
                        format=f"%(asctime)s {args.owner} %(levelname)s %(name)s %(message)s")
    LOG.owner = args.owner
    LOG.fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        asyncio.run(serve(args))
    finally:
        os.close(LOG.fd)


if __name__ == "__main__":
    main()
