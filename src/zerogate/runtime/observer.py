"""The telemetry loop: once an interval, fold attempts into metrics, look for
bottlenecks, and save history to the store.

The worker's only cost is ``collector.ended`` (an append) and ``workflow_finished``
(an append, bounded a tick). Everything else happens here, once an interval: the
drain, one ``live_view`` query (open work only), the critical paths of a few sampled
finished runs, the rules, and every ``flush_s`` one ``save_rollups`` transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from zerogate.domain.alerts import AlertPhase
from zerogate.domain.bottlenecks import BottleneckRules, FindingBook, ResourceLoad, Tracked
from zerogate.domain.critical_path import StepTimes, critical_path
from zerogate.domain.model import Limits, Priority
from zerogate.domain.policy import tier_bands
from zerogate.domain.records import LiveView, RollupRow, TaskRecord
from zerogate.errors import InvalidConfig, StoreError
from zerogate.ports import Clock, Store
from zerogate.telemetry.aggregates import GaugeAgg, StageAgg
from zerogate.telemetry.analysis import Analyst, RunPath, holders
from zerogate.telemetry.collector import Collector
from zerogate.telemetry.prometheus import Exposition, MetricsView, bounded_tasks
from zerogate.telemetry.views import (
    DASHBOARD_SCHEMA,
    StatusInputs,
    active_workflows,
    alert_view,
    queue_view,
    recommendations,
    system_status,
)

if TYPE_CHECKING:
    from zerogate.runtime.governor import Governor

log = logging.getLogger("zerogate.telemetry")
DAY = 86400.0
LIVE_BUDGET = 0.005  # share of the store's time the live view may take


@dataclass(frozen=True, kw_only=True)
class TelemetryConfig:
    """How often telemetry evaluates and saves, and how long history is kept (seconds)."""

    interval_s: float = 1.0
    flush_s: float = 10.0
    retention_s: Mapping[str, float] = field(default_factory=lambda: {
        "minute": 2 * DAY, "hour": 35 * DAY, "day": 400 * DAY, "finding": 35 * DAY})
    sample_runs: int = 8  # finished workflow runs analysed a tick, at most
    rules: BottleneckRules = field(default_factory=BottleneckRules)

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.flush_s > 0):
            raise InvalidConfig("telemetry interval_s and flush_s must be positive")
        unknown = set(self.retention_s) - {"minute", "hour", "day", "finding"}
        if unknown:
            raise InvalidConfig(f"unknown retention {sorted(unknown)}: use minute, hour, "
                                "day or finding")


class Observed(Protocol):
    """What telemetry reads from the worker."""

    def running_needs(self) -> list[tuple[str, int]]: ...

    def in_flight(self) -> int: ...


class Observer:
    """Owns the collector, the analyst and the finding book of one engine instance."""

    def __init__(self, config: TelemetryConfig, *, store: Store, clock: Clock, owner: str,
                 limits: Limits, governor: Governor | None,
                 emit: Callable[[str, str], None]) -> None:
        self.config, self.store, self.clock, self.owner = config, store, clock, owner
        self.limits, self.governor, self._emit = limits, governor, emit
        self.collector = Collector()
        self.analyst = Analyst(config.rules)
        self.book = FindingBook()
        self.live: LiveView | None = None
        self._live_due = 0.0
        self.paused: frozenset[str] = frozenset()
        self.store_error: str | None = None
        self.exposition = Exposition()
        self._finished: list[int] = []
        self._unsaved: list[Tracked] = []
        self._flushed_at: float | None = None
        self._pruned_at: float | None = None

    def workflows_finished(self, finished: Sequence[tuple[int, object]]) -> None:
        """Offer finished runs for critical-path analysis (a few are kept a tick)."""
        room = self.config.sample_runs - len(self._finished)
        if room > 0:
            self._finished += [wid for wid, _ in finished[:room]]

    async def run(self, worker: Observed, stop: asyncio.Event) -> None:
        """Evaluate once an interval until ``stop``; save what is left on the way out."""
        self.collector.start(self.clock.now())
        began, ticks = self.clock.monotonic(), 0
        while True:
            # A fixed cadence: the time a tick takes does not push the next one back.
            ticks += 1
            due = began + ticks * self.config.interval_s - self.clock.monotonic()
            if await self.clock.wait_event(stop, max(due, 0.0)):
                break
            try:
                await self.tick(worker)
                self.store_error = None
            except StoreError as exc:
                self.store_error = str(exc)
                log.error("telemetry could not read or save (%s); trying again next tick", exc)
        try:
            await self.flush()
        except StoreError as exc:
            log.error("telemetry could not save its last metrics at shutdown: %s", exc)

    async def tick(self, worker: Observed) -> list[Tracked]:
        """One evaluation; returns the findings that opened or resolved."""
        now = self.clock.now()
        self.collector.drain(now)
        if self.live is None or now >= self._live_due:
            await self._read_live(now)
        await self._sample_runs(now)
        self._gauges(now)
        found = self.analyst.evaluate(self.collector, self.live, self.limits,
                                      self.resource_load(worker), now)
        changed = self.book.update(found, now)
        for t in changed:
            self._announce(t)
        self._unsaved += changed
        self.exposition.publish(self.metrics_view(worker))
        if self._flushed_at is None or now - self._flushed_at >= self.config.flush_s:
            await self.flush()
        if self._pruned_at is None or now - self._pruned_at >= 3600:
            await self.prune(now)
        return changed

    async def _read_live(self, now: float) -> None:
        """Read open work; with a long queue, less often than every tick.

        The scan of ready tasks grows with the queue and runs on the store's one
        thread, which claims and finishes work too: reading at most every
        ``took / LIVE_BUDGET`` seconds keeps telemetry's share of it under 0.5 %.
        """
        began = self.clock.monotonic()
        self.live = await self.store.live_view()
        self.paused = await self.store.paused_scopes()
        took = self.clock.monotonic() - began
        self._live_due = now + max(0.0, took / LIVE_BUDGET - self.config.interval_s / 2)

    def _announce(self, t: Tracked) -> None:
        f = t.finding
        if t.resolved_at is None:
            log.warning("bottleneck (%s, %s): %s; %s", f.kind, f.severity.label, f.summary,
                        f.recommendation)
            self._emit("bottleneck", f"{f.kind}:{f.subject}")
        else:
            log.info("bottleneck resolved (%s): %s", f.kind, f.subject)
            self._emit("bottleneck_resolved", f"{f.kind}:{f.subject}")

    # ------------------------------------------------------------ runs

    async def _sample_runs(self, now: float) -> None:
        ids, self._finished = self._finished, []
        for wid in ids:
            tasks = await self.store.list_tasks(wid)
            wf = await self.store.get_workflow(wid)
            steps = [StepTimes(step=t.local_id, deps=t.deps, started_at=t.started_at,
                               finished_at=t.finished_at) for t in tasks]
            path = critical_path(steps, wf.created_at)
            end = max((t.finished_at for t in tasks if t.finished_at is not None),
                      default=wf.created_at)
            run = RunPath(workflow=wf.name, makespan_s=max(end - wf.created_at, 0.0),
                          path=path, steps=frozenset(s.step for s in steps))
            self.analyst.add_run(run)
            self._fold_stage(run, tasks_by_step={t.local_id: t for t in tasks}, now=now)

    def _fold_stage(self, run: RunPath, tasks_by_step: Mapping[str, TaskRecord],
                    now: float) -> None:
        on_path = {p.step: p for p in run.path}
        for step in sorted(run.steps):
            agg = StageAgg(runs=1, makespan_s=run.makespan_s, path_steps=len(run.path))
            t = tasks_by_step[step]
            if t.started_at is not None and t.finished_at is not None:
                agg.duration.add(max(t.finished_at - t.started_at, 0.0))
            if t.ready_at is not None and t.started_at is not None:
                agg.wait.add(max(t.started_at - t.ready_at, 0.0))
            if (p := on_path.get(step)) is not None:
                agg.on_path, agg.path_s = 1, p.run_s + p.wait_s
                agg.run_s, agg.wait_s = p.run_s, p.wait_s
            self.collector.add("stage", f"{run.workflow}/{step}", agg, now)

    # ------------------------------------------------------------ gauges

    def _gauges(self, now: float) -> None:
        live = self.live
        if live is not None:
            for state, n in live.tasks.items():
                self._gauge("queue", state, float(n), now)
        g = self.governor
        if g is not None and g.decision is not None:
            for resource, value in g.decision.values.items():
                self._gauge("resource", resource, value, now)
            self._gauge("resource", "level", g.decision.level, now)

    def _gauge(self, kind: str, name: str, value: float, now: float) -> None:
        agg = GaugeAgg()
        agg.add(value)
        self.collector.add(kind, name, agg, now)

    def resource_load(self, worker: Observed) -> ResourceLoad | None:
        """What the governor holds back now, and why; None without a governor."""
        g = self.governor
        if g is None or g.decision is None or g.snapshot is None or g.decision.tier == 0:
            return None
        d, snap = g.decision, g.snapshot
        resource = d.limiting or "cpu"
        bands = tier_bands(g.policy.profile)[resource]
        band = bands[d.tier - 1] or bands[2]
        live = self.live
        held = 0 if live is None else sum(n for p, n in live.ready_by_priority.items()
                                          if p > d.max_priority)
        capacity = {"memory": float(snap.memory_limit_bytes),
                    "cpu": snap.cpu_limit_cores}.get(resource, 0.0)
        return ResourceLoad(
            resource=resource, tier=d.tier, value=d.values.get(resource, 0.0),
            exit_value=band.exit if band is not None else 0.0,
            reason=d.reasons[d.tier - 1] or d.class_reason, ready=held, capacity=capacity,
            holders=holders(self._declared(worker)) if resource == "memory" else (),
            is_memory_critical=d.memory_critical)

    def _declared(self, worker: Observed) -> list[tuple[str, int]]:
        """Memory of running attempts: declared, else the peak their type was measured at."""
        out = []
        for name, memory in worker.running_needs():
            total = self.collector.totals.get(name)
            out.append((name, memory or (total.peak_memory if total is not None else 0)))
        return out

    # ------------------------------------------------------------ views

    def metrics_view(self, worker: Observed) -> MetricsView:
        """What a Prometheus scrape shows until the next tick."""
        g, live = self.governor, self.live
        view: dict[str, Any] = {
            "tasks": bounded_tasks(self.collector.totals), "running": worker.in_flight(),
            "bottlenecks": Counter((t.finding.kind, t.finding.severity.label)
                                   for t in self.book.active.values()),
            "stage_shares": {(s.workflow, s.step): s.share for s in self.analyst.stages()}}
        if live is not None:
            view.update(open_tasks=live.tasks, workflows=live.workflows,
                        ready_by_priority={Priority(p).name.lower(): n
                                           for p, n in live.ready_by_priority.items()})
        if g is not None:
            view.update(features={(f.name, f.category.value): f.is_on
                                  for f in g.features.states()},
                        alerts_firing=Counter(a.level.label for a in g.active_alerts()
                                              if a.phase is AlertPhase.FIRING),
                        concurrency_limit=g.limit.limit, health_score=g.health().score)
            if g.decision is not None:
                view.update(load_level=g.decision.level, resources={
                    k: v / 100 if k == "pressure" else v for k, v in g.decision.values.items()})
        return MetricsView(**view)

    def recent(self, seconds: float = 60.0) -> tuple[int, int, int]:
        """Attempts, completions and failures of the last ``seconds``."""
        ticks = [t for t in self.collector.ticks if t.at >= self.clock.now() - seconds]
        attempts = sum(tt.attempts for t in ticks for tt in t.types.values())
        done = sum(tt.completed for t in ticks for tt in t.types.values())
        return attempts, done, attempts - done

    def status(self) -> dict[str, Any]:
        """healthy, degraded or critical, with the reasons (see ``telemetry.views``)."""
        g = self.governor
        attempts, _, failures = self.recent()
        return system_status(StatusInputs(
            at=self.clock.now(), health=g.health() if g is not None else None,
            alerts=g.active_alerts() if g is not None else (), findings=self.book.ordered(),
            paused=self.paused, attempts=attempts, failures=failures,
            store_error=self.store_error,
            extra={"profile": g.policy.profile.name if g is not None else None,
                   "owner": self.owner}))

    def dashboard(self, capacity: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Everything the dashboard shows, as one JSON-able structure."""
        now, g, live = self.clock.now(), self.governor, self.live
        attempts, done, failures = self.recent()
        active = self.book.ordered()
        extra = [str(capacity["reason"])] if capacity and capacity.get("reason") else []
        return {
            "schema": DASHBOARD_SCHEMA, "at": now, "status": self.status(),
            "workflows": {"active": active_workflows(live, now) if live else [],
                          "counts": dict(live.workflows) if live else {}},
            "queue": queue_view(live, now) if live else None,
            "throughput": {"attempts_per_s": attempts / 60, "completed_per_s": done / 60,
                           "failed_per_s": failures / 60, "series": self._series()},
            "task_types": self._type_rows(),
            "resources": self._resources(),
            "bottlenecks": [t.as_dict() for t in active],
            "resolved": [t.as_dict() for t in reversed(self.book.resolved)][:20],
            "recommendations": recommendations(active, extra),
            "alerts": [alert_view(a) for a in g.active_alerts()] if g is not None else [],
            "capacity": dict(capacity) if capacity else None,
        }

    def _series(self) -> list[dict[str, float]]:
        return [{"at": t.at, "completed": sum(x.completed for x in t.types.values()),
                 "failed": sum(x.failures for x in t.types.values())}
                for t in list(self.collector.ticks)[-60:]]

    def _type_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name in sorted(self.collector.totals):
            w = self.analyst.task_window(self.collector, name)
            rows.append({"task": name, **self.collector.totals[name].row(0.0),
                         "recent_p50_s": w.run_p50_s if w else None,
                         "recent_wait_p50_s": w.wait_p50_s if w else None})
        return rows

    def _resources(self) -> dict[str, Any] | None:
        g = self.governor
        if g is None:
            return None
        d, h = g.decision, g.health()
        return {"profile": g.policy.profile.name,
                "level": d.level if d else None, "limiting": d.limiting if d else None,
                "values": dict(d.values) if d else {},
                "health": {"score": h.score, "status": h.status, "reason": h.reason},
                "concurrency_limit": g.limit.limit,
                "forecasts": [asdict(f) for f in g.forecasts()],
                "features": [{"name": f.name, "category": f.category.value, "on": f.is_on,
                              "reason": f.reason} for f in g.features.states()]}

    # ------------------------------------------------------------ history

    async def flush(self) -> None:
        """Save changed rollups and findings in one transaction."""
        now = self.clock.now()
        if self.collector.pending:  # what ended since the last tick (a run may be shorter)
            self.collector.drain(now)
        dirty = self.collector.take_dirty()
        findings, self._unsaved = self._unsaved, []
        rows = [RollupRow(resolution=r, bucket=b, kind=k, name=n, owner=self.owner,
                          data=agg.to_json()) for r, b, k, n, agg in dirty]
        rows += [self._finding_row(t) for t in {id(t): t for t in
                                                [*findings, *self.book.active.values()]}.values()]
        try:
            if rows:
                await self.store.save_rollups(rows)
        except StoreError:
            self.collector.dirty.update((r, b, k, n) for r, b, k, n, _ in dirty)
            self._unsaved[:0] = findings
            raise
        self._flushed_at = now
        self.collector.close_before(now)

    def _finding_row(self, t: Tracked) -> RollupRow:
        return RollupRow(resolution="finding", bucket=t.first_seen, kind=t.finding.kind,
                         name=t.finding.subject, owner=self.owner,
                         data=json.dumps(t.as_dict(), separators=(",", ":")))

    async def prune(self, now: float) -> int:
        """Delete history older than its retention; returns the rows deleted."""
        deleted = 0
        for resolution, keep_s in self.config.retention_s.items():
            deleted += await self.store.prune_rollups(resolution, now - keep_s)
        self._pruned_at = now
        return deleted

