"""Turn the collector's recent ticks, the live queue and sampled runs into findings.

The analyst keeps what the rules need across evaluations: each task type's baseline
(learned only from windows that were not anomalous, so a slowdown never becomes the
new normal while it is being reported), each key's queue length a few evaluations
back, and the critical paths of recently finished workflow runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zerogate.domain.bottlenecks import (
    Baseline,
    BottleneckRules,
    Finding,
    KeyLoad,
    ResourceLoad,
    StageLoad,
    TaskWindow,
    key_finding,
    resource_finding,
    stage_finding,
    task_findings,
)
from zerogate.domain.critical_path import PathStep
from zerogate.domain.model import Limits
from zerogate.domain.records import LiveView
from zerogate.telemetry.collector import Collector, merge_ticks, quantile

KEY_SPAN = 5  # evaluations over which a key's queue growth is measured
STAGE_RUNS = 50  # recent runs per workflow the stage rule looks at
WINDOW_TICKS = 30  # ticks a task window may reach back to find enough attempts


@dataclass(frozen=True, slots=True)
class RunPath:
    """One finished run's critical path, and every step it had."""

    workflow: str
    makespan_s: float
    path: Sequence[PathStep]
    steps: frozenset[str]


class Analyst:
    """Evaluates the rules once a tick and remembers what they compare against."""

    def __init__(self, rules: BottleneckRules | None = None) -> None:
        self.rules = rules or BottleneckRules()
        self.baselines: dict[str, Baseline] = {}
        self._queued: deque[tuple[float, dict[str, int]]] = deque(maxlen=KEY_SPAN + 1)
        self._running: deque[dict[str, int]] = deque(maxlen=2)
        self._done: deque[tuple[float, dict[str, tuple[int, float]]]] = deque(maxlen=KEY_SPAN)
        self.runs: dict[str, deque[RunPath]] = {}

    def add_run(self, run: RunPath) -> None:
        self.runs.setdefault(run.workflow, deque(maxlen=STAGE_RUNS)).append(run)

    def evaluate(self, collector: Collector, live: LiveView | None, limits: Limits,
                 resource: ResourceLoad | None, now: float) -> list[Finding]:
        """All findings of this evaluation (``now`` is the wall clock)."""
        found = self._tasks(collector)
        if live is not None:
            found += self._keys(collector, live, limits, now)
        if resource is not None and (f := resource_finding(resource)) is not None:
            found.append(f)
        found += [f for s in self.stages() if (f := stage_finding(s, self.rules)) is not None]
        return found

    # ------------------------------------------------------------ task types

    def _tasks(self, collector: Collector) -> list[Finding]:
        found: list[Finding] = []
        if not collector.ticks:
            return found
        for task in collector.ticks[-1].types:
            window = self.task_window(collector, task)
            if window is None:
                continue
            base = self.baselines.setdefault(task, Baseline())
            these = task_findings(window, base, self.rules)
            if not these and window.attempts >= self.rules.min_samples:
                base.learn(window)
            found += these
        return found

    def task_window(self, collector: Collector, task: str) -> TaskWindow | None:
        ticks = collector.window(task, self.rules.min_samples, WINDOW_TICKS)
        if not ticks:
            return None
        t = merge_ticks(ticks)
        span = _span(collector, len(ticks))
        return TaskWindow(task=task, attempts=t.attempts, failures=t.failures,
                          run_p50_s=quantile(t.runs, 0.5), run_p95_s=quantile(t.runs, 0.95),
                          wait_p50_s=quantile(t.waits, 0.5) if t.waits else None,
                          done_per_s=t.attempts / span if span > 0 else 0.0,
                          last_error=t.last_error)

    # ------------------------------------------------------------ keys

    def _keys(self, collector: Collector, live: LiveView, limits: Limits,
              now: float) -> list[Finding]:
        if collector.ticks:
            last = collector.ticks[-1]
            self._done.append((last.span_s, {k: (v.done, v.run_s) for k, v in last.keys.items()}))
        self._queued.append((now, dict(live.ready_by_key)))
        self._running.append(dict(live.running_by_key))
        then, before = self._queued[0]
        found: list[Finding] = []
        for key, queued in live.ready_by_key.items():
            limit = limits.key_limit(key)
            if limit is None:
                continue
            # The most that ran at either of the last two looks: a slot freed a moment
            # ago and not yet refilled still counts as a key at its limit.
            running = max(r.get(key, 0) for r in self._running)
            load = KeyLoad(key=key, limit=limit, running=running,
                           queued=queued, queued_before=before.get(key, 0), span_s=now - then,
                           done_per_s=self._key_rate(key), service_s=self._key_service(key))
            if (f := key_finding(load, self.rules)) is not None:
                found.append(f)
        return found

    def _key_rate(self, key: str) -> float:
        span = sum(s for s, _ in self._done)
        done = sum(d.get(key, (0, 0.0))[0] for _, d in self._done)
        return done / span if span > 0 else 0.0

    def _key_service(self, key: str) -> float | None:
        done = sum(d.get(key, (0, 0.0))[0] for _, d in self._done)
        run_s = sum(d.get(key, (0, 0.0))[1] for _, d in self._done)
        return run_s / done if done else None

    # ------------------------------------------------------------ stages

    def stages(self) -> list[StageLoad]:
        """Every step of every workflow with sampled runs, as the stage rule sees it."""
        out: list[StageLoad] = []
        for workflow, runs in self.runs.items():
            out += stage_loads(workflow, list(runs))
        return out


def stage_loads(workflow: str, runs: Sequence[RunPath]) -> list[StageLoad]:
    """Per step: its mean share of the runs' critical paths, with run and wait times."""
    if not runs:
        return []
    makespan = sum(r.makespan_s for r in runs) / len(runs)
    path_steps = sum(len(r.path) for r in runs) / len(runs)
    totals: dict[str, list[float]] = {}  # step -> [share sum, run sum, wait sum]
    for r in runs:
        for p in r.path:
            t = totals.setdefault(p.step, [0.0, 0.0, 0.0])
            t[0] += (p.run_s + p.wait_s) / r.makespan_s if r.makespan_s > 0 else 0.0
            t[1] += p.run_s
            t[2] += p.wait_s
    n = len(runs)
    return [StageLoad(workflow=workflow, step=step, runs=n, share=t[0] / n, run_s=t[1] / n,
                      wait_s=t[2] / n, makespan_s=makespan, path_steps=path_steps)
            for step, t in sorted(totals.items())]


def _span(collector: Collector, ticks: int) -> float:
    return sum(t.span_s for t in list(collector.ticks)[-ticks:])


def holders(declared: Sequence[tuple[str, int]]) -> list[tuple[str, float]]:
    """Task types by their share of the memory running attempts declared, largest first."""
    by_name: dict[str, int] = {}
    for name, memory in declared:
        by_name[name] = by_name.get(name, 0) + memory
    total = sum(by_name.values())
    if not total:
        return []
    return sorted(((n, m / total) for n, m in by_name.items() if m),
                  key=lambda x: (-x[1], x[0]))


def ready_total(live: LiveView | None) -> int:
    if live is None:
        return 0
    return live.tasks.get("waiting", 0) + live.tasks.get("retrying", 0)


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)
