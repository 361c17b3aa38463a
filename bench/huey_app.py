"""The Huey application of the peer: imported by the driver and by the consumer.

Both processes find the database through the environment (set by ``huey_work``):
``BENCH_HUEY_DB`` is the SQLite file, ``BENCH_HUEY_READY`` a folder where each worker
process leaves a file once it has started.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from huey import SqliteHuey

# fsync=True is synchronous=FULL, as zerogate's default durability; results=True and
# store_none=True make every task write its (None) result, as zerogate does.
huey = SqliteHuey("zerogate-bench", filename=os.environ["BENCH_HUEY_DB"], fsync=True,
                  results=True, store_none=True)


@huey.task()
def noop() -> None:
    return None


@huey.task()
def stamp() -> float:
    return time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes


@huey.on_startup()
def _announce() -> None:
    Path(os.environ["BENCH_HUEY_READY"], f"worker-{os.getpid()}").touch()
