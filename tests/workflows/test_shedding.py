"""Built-in templates are shed with their feature's category like any other work: under
CPU load an experimental template waits (with the reason) while essential ones run,
and it runs once the load is gone. Real templates on a real engine and clock; only the
machine's load is scripted."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from zerogate import Engine, EngineConfig, Limits, SqliteStore
from zerogate.adapters.events import EventLog
from zerogate.adapters.scripted_sampler import ScriptedSampler
from zerogate.domain.model import TaskState, WorkflowState
from zerogate.domain.profiles import profile_from_config
from zerogate.domain.resources import ResourceSnapshot
from zerogate.runtime.governor import GovernorConfig
from zerogate.workflows import registry
from zerogate.workflows.mix import request

GIB = 2**30


@dataclass
class Machine:
    cpu: float = 0.2

    def snapshot(self, now: float) -> ResourceSnapshot:
        return ResourceSnapshot(
            taken_at=now, scope="cgroup-v2", cpu_fraction=self.cpu, cpu_limit_cores=2.0,
            memory_used_bytes=GIB, memory_limit_bytes=8 * GIB, memory_fraction=0.125,
            signals=frozenset({"cpu", "memory"}))


async def test_an_experimental_template_waits_while_shed_and_runs_once_back(
        tmp_path: Path) -> None:
    machine = Machine()
    quick = profile_from_config("quick", {"hold_s": 0.4, "interval_s": 0.1})
    config = EngineConfig(limits=Limits(max_running=8), process_workers=2, grace_s=1.0,
                          poll_s=0.1, governor=GovernorConfig(
                              profile="quick", custom_profiles={"quick": quick}))
    events = EventLog()
    engine = Engine(registry(tmp_path / "files"), SqliteStore(tmp_path / "shed.db"),
                    config=config, events=events, sampler=ScriptedSampler(machine.snapshot,
                                                            monotonic=time.monotonic))
    async with engine:
        governor = engine.governor
        assert governor is not None
        machine.cpu = 0.75  # above the high CPU band: experimental features go off
        await asyncio.wait_for(events.wait_for(
            lambda e: e.kind == "feature" and e.state == "email_analysis:off"), 30)
        mail = await engine.submit_template("email_analysis", {"source": {"sample": 3}})
        # an essential template, even at low priority, runs under the same load
        grant = next(r for r in map(request, range(200)) if r.template == "grant_timeline")
        grant_run = await engine.submit_template("grant_timeline", grant.params,
                                                 priority="low")
        assert (await grant_run.wait(timeout_s=30)).state is WorkflowState.COMPLETED
        status = await mail.status()
        first = status.tasks[0]
        assert first.record.state is TaskState.WAITING, first.record.state
        assert first.wait_reason is not None
        assert "feature 'email_analysis' is off" in first.wait_reason
        assert all(t.record.attempt == 0 for t in status.tasks)  # nothing of it ran

        machine.cpu = 0.3
        done = await mail.wait(timeout_s=60)
        assert done.state is WorkflowState.COMPLETED, done.errors
        assert any(s.name == "email_analysis" and s.is_on for s in governor.features.states())
