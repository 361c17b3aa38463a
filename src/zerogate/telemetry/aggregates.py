"""Aggregates that add up: per task type, per workflow step, per resource.

Each is what one rollup row holds (as JSON); merging two gives the aggregate of their
union, so minutes make hours, instances make the whole, and a restart loses nothing
already saved.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from zerogate.domain.digest import Digest

RESOLUTIONS: dict[str, float] = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


def bucket_start(resolution: str, at: float) -> float:
    """The start (epoch seconds, UTC) of the ``resolution`` bucket holding ``at``."""
    size = RESOLUTIONS[resolution]
    return math.floor(at / size) * size


@dataclass(slots=True)
class TaskAgg:
    """Attempts of one task type (or one workflow step): outcomes, times and use."""

    attempts: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    duration: Digest = field(default_factory=Digest)
    wait: Digest = field(default_factory=Digest)
    cpu_s: float = 0.0
    cpu_n: int = 0  # attempts whose CPU time was measured
    peak_memory: int = 0  # bytes; 0 when never measured

    def merge(self, o: TaskAgg) -> None:
        self.attempts += o.attempts
        self.completed += o.completed
        self.failed += o.failed
        self.retried += o.retried
        self.duration.merge(o.duration)
        self.wait.merge(o.wait)
        self.cpu_s += o.cpu_s
        self.cpu_n += o.cpu_n
        self.peak_memory = max(self.peak_memory, o.peak_memory)

    @property
    def success_rate(self) -> float | None:
        ended = self.completed + self.failed + self.retried
        return self.completed / ended if ended else None

    @property
    def failure_rate(self) -> float | None:
        ended = self.completed + self.failed + self.retried
        return (self.failed + self.retried) / ended if ended else None

    def to_json(self) -> str:
        return json.dumps({"a": self.attempts, "c": self.completed, "f": self.failed,
                           "r": self.retried, "d": self.duration.to_json(),
                           "w": self.wait.to_json(), "cpu": self.cpu_s, "cpun": self.cpu_n,
                           "mem": self.peak_memory}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TaskAgg:
        d: dict[str, Any] = json.loads(text)
        return cls(attempts=int(d.get("a", 0)), completed=int(d.get("c", 0)),
                   failed=int(d.get("f", 0)), retried=int(d.get("r", 0)),
                   duration=Digest.from_json(d.get("d", {})), wait=Digest.from_json(d.get("w", {})),
                   cpu_s=float(d.get("cpu", 0.0)), cpu_n=int(d.get("cpun", 0)),
                   peak_memory=int(d.get("mem", 0)))

    def row(self, span_s: float) -> dict[str, float | int | None]:
        """The report's columns for this aggregate over ``span_s`` seconds."""
        return {"count": self.attempts, "completed": self.completed, "failed": self.failed,
                "retried": self.retried, "success_rate": self.success_rate,
                "duration_mean_s": self.duration.mean,
                "duration_p50_s": self.duration.quantile(0.5),
                "duration_p95_s": self.duration.quantile(0.95),
                "duration_max_s": self.duration.max if self.duration.count else None,
                "queue_wait_p50_s": self.wait.quantile(0.5),
                "queue_wait_p95_s": self.wait.quantile(0.95),
                "cpu_s": self.cpu_s if self.cpu_n else None,
                "peak_memory_bytes": self.peak_memory or None,
                "throughput_per_s": self.completed / span_s if span_s > 0 else 0.0}


@dataclass(slots=True)
class StageAgg:
    """One workflow step over sampled finished runs: how it lay on the critical path."""

    runs: int = 0  # sampled runs that had this step
    on_path: int = 0  # of them, runs where it lay on the critical path
    path_s: float = 0.0  # seconds it contributed to critical paths
    makespan_s: float = 0.0  # summed makespans of the runs it was part of
    run_s: float = 0.0  # summed run time on the path
    wait_s: float = 0.0  # summed wait on the path
    path_steps: int = 0  # summed critical path lengths of the runs
    duration: Digest = field(default_factory=Digest)
    wait: Digest = field(default_factory=Digest)

    def merge(self, o: StageAgg) -> None:
        self.runs += o.runs
        self.on_path += o.on_path
        self.path_s += o.path_s
        self.makespan_s += o.makespan_s
        self.run_s += o.run_s
        self.wait_s += o.wait_s
        self.path_steps += o.path_steps
        self.duration.merge(o.duration)
        self.wait.merge(o.wait)

    @property
    def share(self) -> float:
        return self.path_s / self.makespan_s if self.makespan_s > 0 else 0.0

    def to_json(self) -> str:
        return json.dumps({"n": self.runs, "p": self.on_path, "ps": self.path_s,
                           "ms": self.makespan_s, "rs": self.run_s, "ws": self.wait_s,
                           "k": self.path_steps, "d": self.duration.to_json(),
                           "w": self.wait.to_json()}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StageAgg:
        d: dict[str, Any] = json.loads(text)
        return cls(runs=int(d.get("n", 0)), on_path=int(d.get("p", 0)),
                   path_s=float(d.get("ps", 0.0)), makespan_s=float(d.get("ms", 0.0)),
                   run_s=float(d.get("rs", 0.0)), wait_s=float(d.get("ws", 0.0)),
                   path_steps=int(d.get("k", 0)), duration=Digest.from_json(d.get("d", {})),
                   wait=Digest.from_json(d.get("w", {})))


@dataclass(slots=True)
class GaugeAgg:
    """Readings of one gauge (a resource's use, a queue's length): count, sum, maximum."""

    n: int = 0
    total: float = 0.0
    max: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.max = value if self.n == 1 else max(self.max, value)

    def merge(self, o: GaugeAgg) -> None:
        if o.n:
            self.max = o.max if not self.n else max(self.max, o.max)
        self.n += o.n
        self.total += o.total

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def to_json(self) -> str:
        return json.dumps({"n": self.n, "sum": self.total, "max": self.max},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GaugeAgg:
        d: dict[str, Any] = json.loads(text)
        return cls(n=int(d.get("n", 0)), total=float(d.get("sum", 0.0)),
                   max=float(d.get("max", 0.0)))


Agg = TaskAgg | StageAgg | GaugeAgg
