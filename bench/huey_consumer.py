"""Huey's own consumer with two worker processes: ``python -m bench.huey_consumer``.

Queue polling is tuned in Huey's favour: an idle worker looks again after 1 ms,
backing off to at most 10 ms (Huey's defaults are 100 ms and 10 s), so a benchmark
never waits on a sleeping worker.
"""

from __future__ import annotations

import logging

from huey.consumer import Consumer

from bench.huey_app import huey

WORKERS = 2


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    consumer = Consumer(huey, workers=WORKERS, worker_type="process", periodic=False,
                        initial_delay=0.001, backoff=1.15, max_delay=0.01)
    consumer.run()


if __name__ == "__main__":
    main()
