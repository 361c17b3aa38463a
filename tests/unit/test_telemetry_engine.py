"""Telemetry inside the engine, on a fake clock: planted bottlenecks are named with the
right kind and a recommendation within two sampling intervals of onset; a balanced
run finds nothing; history survives a restart; status, dashboard and Prometheus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from zerogate import Engine, EngineConfig, Limits, Workflow
from zerogate.adapters.scripted_sampler import ScriptedSampler
from zerogate.domain.bottlenecks import Tracked
from zerogate.runtime.governor import GovernorConfig
from zerogate.runtime.observer import TelemetryConfig

from .conftest import STORES, Rig
from .test_governor import Machine

STEP_S = 0.05  # fake time moves in these steps, so task durations are exact
INTERVAL_S = 1.0  # telemetry's sampling interval
# Two intervals, measured to the evaluation that first saw the finding (``first_seen``,
# the tick's own time): with SQLite, the tick's store reads finish a few fake steps
# later, because fake time moves on while the store thread works.
WITHIN_S = 2 * INTERVAL_S + 1e-6


@dataclass
class Load:
    """A scripted workload: handlers sleep on the fake clock for ``delay[name]`` s."""

    rig: Rig
    delay: dict[str, float] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)

    def task(self, name: str, seconds: float, **options: object) -> None:
        self.delay[name] = seconds

        async def handler() -> None:
            self.running[name] = self.running.get(name, 0) + 1
            try:
                await self.rig.clock.sleep(self.delay[name])
            finally:
                self.running[name] -= 1

        self.rig.registry.task(handler, name=name, **options)

    def engine(self, limits: Limits | None = None, machine: Machine | None = None,
               **governor: object) -> Engine:
        config = EngineConfig(limits=limits or Limits(), grace_s=0.0, lease_s=3600,
                              telemetry=TelemetryConfig(interval_s=INTERVAL_S),
                              governor=GovernorConfig(**governor)  # type: ignore[arg-type]
                              if machine is not None else None)
        sampler = None if machine is None else ScriptedSampler(
            machine.snapshot, monotonic=self.rig.clock.monotonic)
        return Engine(self.rig.registry, STORES[self.rig.store_kind](self.rig.tmp),
                      config=config, clock=self.rig.clock, events=self.rig.events, seed=7,
                      sampler=sampler)


async def settle(engine: Engine) -> None:
    """Let the store thread finish what the last step started (its calls queue in order)."""
    for _ in range(2):
        await engine.store.paused_scopes()
        for _ in range(3):
            await asyncio.sleep(0)


async def run_for(engine: Engine, seconds: float,
                  each_second: Callable[[], object] | None = None,
                  stop: Callable[[], bool] | None = None) -> float:
    """Advance fake time in small steps; returns the fake seconds that passed."""
    passed = 0.0
    while passed < seconds - 1e-9:
        if each_second is not None and round(passed / STEP_S) % round(1 / STEP_S) == 0:
            result = each_second()
            if asyncio.iscoroutine(result):
                await result
        await engine.clock.advance(STEP_S)  # type: ignore[attr-defined]
        await settle(engine)
        passed += STEP_S
        if stop is not None and stop():
            break
    return passed


def submitter(engine: Engine, make: Callable[[int], Workflow], per_s: int) -> Callable[[], object]:
    counter = iter(range(10**9))

    async def submit() -> None:
        await engine.submit_many([make(next(counter)) for _ in range(per_s)])
    return submit


def single(name: str, key: str | None = None) -> Callable[[int], Workflow]:
    def make(i: int) -> Workflow:
        wf = Workflow(f"{name}-wf")
        wf.add(name, id="only", key=key)
        return wf
    return make


def chain(name: str, steps: list[str]) -> Callable[[int], Workflow]:
    def make(i: int) -> Workflow:
        wf = Workflow(name)
        before: list[str] = []
        for step in steps:
            wf.add(step, id=step, after=before)
            before = [step]
        return wf
    return make


def active(engine: Engine, kind: str, subject: str) -> Tracked | None:
    assert engine.telemetry is not None
    return engine.telemetry.book.active.get((kind, subject))


async def test_a_balanced_run_finds_no_bottleneck(rig: Rig) -> None:
    load = Load(rig)
    for step in ("fetch", "parse", "store"):
        load.task(step, 0.1)
    async with load.engine(Limits(per_key={"db": 8}), machine=Machine()) as engine:
        await run_for(engine, 30, submitter(engine, chain("etl", ["fetch", "parse", "store"]),
                                            per_s=5))
        assert engine.telemetry is not None
        assert engine.telemetry.book.active == {} and not engine.telemetry.book.resolved
        assert not rig.events.matching("bottleneck")
        assert engine.system_status()["status"] == "healthy"
        stages = engine.telemetry.analyst.stages()
        assert stages and max(s.share for s in stages) < 0.5  # three equal steps


async def test_a_task_type_that_slows_down_is_named_then_resolved(rig: Rig) -> None:
    load = Load(rig)
    load.task("fetch", 0.05)
    async with load.engine() as engine:
        submit = submitter(engine, single("fetch"), per_s=20)
        await run_for(engine, 15, submit)
        assert engine.telemetry is not None and not engine.telemetry.book.active
        load.delay["fetch"] = 0.5  # onset
        onset = engine.clock.now()
        await run_for(engine, 10, submit,
                      stop=lambda: active(engine, "task", "fetch:latency") is not None)
        found = active(engine, "task", "fetch:latency")
        assert found is not None and found.first_seen - onset <= WITHIN_S
        assert found.finding.evidence["ratio"] >= 5  # 0.5 s against 0.05 s
        assert "slots busy" in found.finding.recommendation
        status = engine.system_status()  # 10x slower: a critical finding
        assert status["status"] == "critical" and "'fetch'" in status["reasons"][0]
        load.delay["fetch"] = 0.05
        await run_for(engine, 15, submit)
        assert active(engine, "task", "fetch:latency") is None
        resolved = [t for t in engine.telemetry.book.resolved
                    if t.finding.subject == "fetch:latency"]
        assert resolved and resolved[-1].resolved_at is not None


async def test_a_key_whose_limit_is_too_small_gets_a_limit_by_littles_law(rig: Rig) -> None:
    load = Load(rig)
    load.task("call", 0.2, key="api")
    async with load.engine(Limits(per_key={"api": 1})) as engine:
        onset = engine.clock.now()  # the first submissions
        await run_for(engine, 10, submitter(engine, single("call", key="api"), per_s=10),
                      stop=lambda: active(engine, "key", "api") is not None)
        found = active(engine, "key", "api")
        assert found is not None and found.first_seen - onset <= WITHIN_S
        # 10 arrivals/s x 0.2 s = 2 busy slots, plus what drains the backlog: 2 or 3
        assert 2 <= found.finding.evidence["recommended_limit"] <= 4
        assert "raise the limit of key 'api' from 1 to" in found.finding.recommendation


async def test_a_memory_bound_stage_is_named_as_the_memory_holder(rig: Rig) -> None:
    load = Load(rig)
    load.task("parse", 0.05)
    load.task("excel", 2.0, memory_mb=512)
    machine = Machine(memory=0.3)
    machine.memory_of = lambda: 0.3 + 0.3 * load.running.get("excel", 0)
    async with load.engine(machine=machine, profile="development") as engine:
        assert engine.governor is not None
        governor = engine.governor
        onset: list[float] = []

        def tripped() -> bool:
            if not onset and governor.decision is not None and governor.decision.tier > 0:
                onset.append(engine.clock.now())
            return active(engine, "resource", "memory") is not None

        await run_for(engine, 20, submitter(engine, chain("book", ["parse", "excel"]), per_s=2),
                      stop=tripped)
        assert onset, "memory never crossed a threshold"
        found = active(engine, "resource", "memory")
        assert found is not None and found.first_seen - onset[0] <= WITHIN_S
        assert found.finding.severity.label == "critical"
        assert "excel 100%" in found.finding.summary
        assert "'excel'" in found.finding.recommendation
        assert engine.system_status()["status"] == "critical"


async def test_the_step_that_dominates_the_critical_path(rig: Rig) -> None:
    load = Load(rig)
    load.task("load", 0.1)
    load.task("score", 2.0)
    load.task("save", 0.1)
    async with load.engine() as engine:
        await run_for(engine, 12, submitter(engine, chain("essay", ["load", "score", "save"]),
                                            per_s=1))
        found = active(engine, "stage", "essay/score")
        assert found is not None
        assert found.finding.evidence["share"] > 0.85
        assert "split 'score'" in found.finding.recommendation
        assert active(engine, "stage", "essay/load") is None


async def test_metrics_counts_and_prometheus_names(rig: Rig) -> None:
    load = Load(rig)
    load.task("fetch", 0.05)
    async with load.engine(machine=Machine()) as engine:
        await run_for(engine, 5, submitter(engine, single("fetch"), per_s=10))
        await run_for(engine, 2)
        text = engine.metrics_text().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    attempts = {s.labels["outcome"]: s.value for s in families["zerogate_task_attempts"].samples
                if s.name == "zerogate_task_attempts_total"}
    assert attempts["completed"] == 50 and attempts["failed"] == 0
    duration = families["zerogate_task_duration_seconds"]
    assert duration.type == "histogram"
    count = [s.value for s in duration.samples if s.name.endswith("_count")]
    assert count == [50]
    buckets = {s.labels["le"]: s.value for s in duration.samples if s.name.endswith("_bucket")}
    assert buckets["0.0316228"] == 0 and buckets["0.1"] == 50  # every run took 50 ms
    assert families["zerogate_resource_usage_ratio"].samples
    for family in families.values():
        for sample in family.samples:
            assert not {"task_id", "workflow_id", "id"} & set(sample.labels)


async def test_history_survives_a_restart_and_reports_read_it_back(rig: Rig) -> None:
    load = Load(rig)
    load.task("fetch", 0.05)
    store_kind = rig.store_kind
    async with load.engine() as engine:
        await run_for(engine, 3, submitter(engine, single("fetch"), per_s=10))
        await run_for(engine, 1)
        first = await engine.report(hours=1)
    assert first["summary"]["completed"] == 30
    if store_kind != "sqlite":
        return  # the memory store dies with its engine; nothing to restart from
    async with load.engine() as engine:
        await run_for(engine, 2, submitter(engine, single("fetch"), per_s=5))
        await run_for(engine, 1)
        second = await engine.report(hours=1)
    assert second["summary"]["completed"] == 40  # 30 before the restart, 10 after
    (row,) = second["task_types"]
    assert row["task"] == "fetch" and row["count"] == 40
    assert 0.04 <= row["duration_p50_s"] <= 0.063  # within a bucket of 50 ms
    assert second["trends"] and second["trends"][-1]["completed"] == 40


async def test_dashboard_and_status_are_stable_json(rig: Rig) -> None:
    load = Load(rig)
    load.task("fetch", 0.05)
    load.task("slow", 5.0)
    async with load.engine(machine=Machine()) as engine:
        await run_for(engine, 3, submitter(engine, single("fetch"), per_s=5))
        await engine.submit(single("slow")(0))
        await run_for(engine, 1.5)
        board = await engine.dashboard()
        await engine.pause()
        await run_for(engine, 1)
        paused = engine.system_status()
    json.dumps(board, allow_nan=False)  # plain JSON: no NaN, no objects
    assert set(board) == {"schema", "at", "status", "workflows", "queue", "throughput",
                          "task_types", "resources", "bottlenecks", "resolved",
                          "recommendations", "alerts", "capacity"}
    assert board["schema"] == "zerogate.dashboard/1"
    assert board["status"]["status"] == "healthy" and board["status"]["reasons"] == []
    assert [w["name"] for w in board["workflows"]["active"]] == ["slow-wf"]
    assert board["queue"]["tasks"]["running"] == 1
    types = {r["task"]: r for r in board["task_types"]}
    assert types["fetch"]["completed"] == 15 and types["fetch"]["success_rate"] == 1.0
    assert board["resources"]["profile"] == "balanced"
    assert board["capacity"] is not None and "action" in board["capacity"]
    assert paused["status"] == "degraded" and "paused" in paused["reasons"][0]
