"""Runs one workload in this (fresh) process and prints its figures as JSON.

``python -m bench.child WORKLOAD --size N --dir FOLDER [--profile FILE]``; the last
line of stdout is ``RESULT <json>``. The parent measures nothing itself but RSS.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULT = "RESULT "

# name -> (module, function); imported lazily so a Huey run never imports zerogate.
WORKLOADS = {
    "zg_durable_noop": ("bench.zg_work", "durable_noop"),
    "zg_chains": ("bench.zg_work", "durable_chains"),
    "zg_memory_noop": ("bench.zg_work", "memory_noop"),
    "zg_latency_sqlite": ("bench.zg_work", "latency_sqlite"),
    "zg_latency_memory": ("bench.zg_work", "latency_memory"),
    "zg_million": ("bench.zg_work", "million"),
    "zg_inflight": ("bench.zg_work", "inflight"),
    "huey_noop": ("bench.huey_work", "noop"),
    "huey_chains": ("bench.huey_work", "chains"),
    "huey_latency": ("bench.huey_work", "latency"),
}


def workload(name: str) -> Callable[[int, str], dict[str, Any]]:
    module, function = WORKLOADS[name]
    fn: Callable[[int, str], dict[str, Any]] = getattr(importlib.import_module(module), function)
    return fn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--profile", help="also write a cProfile report to this file")
    args = parser.parse_args(argv)
    fn = workload(args.workload)
    if args.profile:
        from bench.profiling import AllThreads

        with AllThreads() as profiler:
            figures = fn(args.size, args.dir)
        Path(args.profile).write_text(profiler.report())
    else:
        figures = fn(args.size, args.dir)
    # ru_maxrss: the kernel's high-water mark of this process, in KiB on Linux.
    figures["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(RESULT + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
