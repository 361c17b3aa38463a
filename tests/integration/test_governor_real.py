"""The governor on the real clock and the real sampler, against a real memory hog.

A child process allocates and touches a bounded block of memory; the governor, reading
this process's cgroup through ``SystemSampler``, must cross its critical memory band,
stop admitting a medium-priority task while saying why, and admit it again once the
child has gone and memory stayed below the exits for the hold time. The profile's
memory thresholds are placed just above this machine's current reading, so the test
needs neither a full machine nor a small cgroup.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from zerogate import (
    Engine,
    EngineConfig,
    GovernorConfig,
    Registry,
    SqliteStore,
    SystemSampler,
    TaskState,
    Workflow,
    WorkflowState,
    profile_from_config,
)
from zerogate.adapters.events import EventLog
from zerogate.domain.profiles import show
from zerogate.domain.resources import ResourceSnapshot

pytestmark = pytest.mark.slow

GIB = 1 << 30
HOLD_S = 1.0
INTERVAL_S = 0.2
BOUND_S = 10.0  # generous real-time bound on every wait: the machine is shared

# The child allocates argv[1] bytes, touches every page, says "ready", and exits when
# it reads a line (or after 30 s by SIGALRM, should the test die before its finally).
HOG = """
import signal, sys
signal.alarm(30)
block = bytearray(int(sys.argv[1]))
block[::4096] = b"\\x01" * len(range(0, len(block), 4096))
print("ready", flush=True)
sys.stdin.readline()
"""


class CpuBlindSampler:
    """The real ``SystemSampler`` with its CPU signal left out.

    On a shared machine CPU is often read host-wide (cgroup v1 with cpuacct at the root)
    and other tenants can saturate both cores within one 0.2 s window; a saturated CPU
    band at level 1 would tie with memory and could name CPU in the wait reason. Memory,
    disk, pressure, limits and timing all stay the real sampler's.
    """

    def __init__(self, inner: SystemSampler) -> None:
        self.inner = inner

    def sample(self) -> ResourceSnapshot:
        snap = self.inner.sample()
        return replace(snap, cpu_fraction=None, signals=snap.signals - {"cpu"})

    async def sample_async(self) -> ResourceSnapshot:
        return await asyncio.to_thread(self.sample)


def baseline(sampler: SystemSampler) -> tuple[float, int]:
    """The highest memory fraction of a few real samples, and the memory limit."""
    fractions, limit = [], 0
    for _ in range(5):
        snap = sampler.sample()
        assert snap.memory_fraction is not None, "this machine gives no memory reading"
        fractions.append(snap.memory_fraction)
        limit = snap.memory_limit_bytes
        time.sleep(0.05)
    return max(fractions), limit


async def until(check: Callable[[], Awaitable[bool] | bool], what: str,
                bound_s: float = BOUND_S) -> float:
    """Poll ``check`` every 50 ms until it holds; return the real seconds it took."""
    start = time.monotonic()
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - start
        assert time.monotonic() - start < bound_s, f"{what}: not within {bound_s} s"
        await asyncio.sleep(0.05)


async def test_a_real_memory_hog_stops_admission_and_it_comes_back(tmp_path: Path) -> None:
    began = time.monotonic()
    m0, limit = baseline(SystemSampler())
    available = psutil.virtual_memory().available
    # Sized to what the machine can spare; a machine that cannot spare 128 MiB fails
    # the test (a missing resource is a failure here, never a skip).
    hog = min(int(1.5 * GIB), int(0.12 * limit), available // 4)
    assert hog >= 128 * 2**20 and limit * (1 - m0) >= 2 * hog, (
        f"cannot afford a {hog >> 20} MiB child: {available >> 20} MiB available, "
        f"limit {limit >> 20} MiB at {m0:.1%}")
    step = hog / limit  # the fraction of the limit the child adds
    high, critical = m0 + 0.3 * step, m0 + 0.5 * step
    profile = profile_from_config("real-memory", {
        "memory_high": 100 * high, "memory_high_exit": 100 * (m0 + 0.2 * step),
        "memory_critical": 100 * critical, "memory_critical_exit": 100 * (m0 + 0.4 * step),
        # Out of the way: only memory is under test (other tenants share disk and PSI).
        "disk": 99.0, "disk_exit": 95.0,
        "pressure_high": 99.0, "pressure_high_exit": 90.0,
        "pressure_critical": 100.0, "pressure_critical_exit": 95.0,
        "hold_s": HOLD_S, "interval_s": INTERVAL_S, "evict_on_memory_critical": False,
    })

    registry = Registry()
    gate = asyncio.Event()

    async def bystander() -> str:
        await gate.wait()
        return "done"

    async def probe() -> str:
        return "admitted"

    registry.task(bystander, priority="low")
    registry.task(probe, priority="medium")
    events = EventLog()
    config = EngineConfig(grace_s=1.0, governor=GovernorConfig(
        profile=profile.name, custom_profiles={profile.name: profile}))
    engine = Engine(registry, SqliteStore(tmp_path / "engine.db"), config=config,
                    events=events, sampler=CpuBlindSampler(SystemSampler()))
    governor = engine.governor
    assert governor is not None
    child: subprocess.Popen[str] | None = None
    try:
        async with engine:
            await until(lambda: governor.decision is not None and governor.decision.tier == 0,
                        "a first decision at tier 0")

            # Unrelated low-priority work already running when memory goes critical.
            wf = Workflow("bystander")
            wf.add("bystander", id="bystander")
            busy = await engine.submit(wf)
            busy_id = busy.task_ids["bystander"]
            await until(lambda: bool(events.matching("claimed", task_id=busy_id)),
                        "the bystander claimed")

            child = subprocess.Popen([sys.executable, "-c", HOG, str(hog)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None and child.stdin is not None
            line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), BOUND_S)
            assert line.strip() == "ready", f"the child did not allocate: {line!r}"
            ready = time.monotonic()

            def is_critical() -> bool:
                d = governor.decision
                return d is not None and d.tier == 3 and d.memory_critical

            await until(is_critical, "memory critical after the child allocated")
            snap = governor.snapshot
            assert snap is not None and snap.memory_fraction is not None
            assert snap.memory_fraction >= critical, (snap.memory_fraction, critical)

            wf = Workflow("probe")
            wf.add("probe", id="probe", priority="medium")
            handle = await engine.submit(wf)
            probe_id = handle.task_ids["probe"]
            held_until = time.monotonic() + 1.0
            while time.monotonic() < held_until:  # about 1 s of real time: still held
                [task] = (await handle.status()).tasks
                assert task.record.state is TaskState.WAITING, task.record
                reason = task.wait_reason
                assert reason is not None
                assert reason.startswith("governor: medium priority is not admitted now: ")
                assert "memory at " in reason and "critical threshold" in reason, reason
                assert show("memory", critical) in reason, reason
                assert not events.matching("claimed", task_id=probe_id)
                await asyncio.sleep(0.1)

            # The hog goes; admission must come back, but only after the hold.
            freed_at = time.time()
            child.stdin.write("free\n")
            child.stdin.flush()
            await asyncio.wait_for(asyncio.to_thread(child.wait), BOUND_S)
            assert await asyncio.wait_for(handle.result(), BOUND_S) == {"probe": "admitted"}
            [claimed] = events.matching("claimed", task_id=probe_id)
            assert claimed.at - freed_at >= HOLD_S, "admitted before the hold had passed"
            d = governor.decision
            # Medium work is admitted from tier 2 down; tiers clear one hold at a time.
            assert d is not None and d.tier <= 1 and not d.memory_critical, d
            await until(lambda: governor.decision is not None and governor.decision.tier == 0,
                        "every tier clear once the hog is gone")

            # Nobody was evicted: the bystander ran through on its first attempt.
            assert not events.matching("evicted") and governor.evictions == {}
            record = await engine.store.get_task(busy_id)
            assert record.state is TaskState.RUNNING and record.attempt == 1, record
            assert record.error is None, record
            gate.set()
            assert (await busy.wait(BOUND_S)).state is WorkflowState.COMPLETED
            print(f"m0 {m0:.2%}, hog {hog >> 20} MiB of {limit >> 20} MiB, critical at "
                  f"{critical:.2%}, critical {ready - began:.1f} s in, recovered "
                  f"{claimed.at - freed_at:.2f} s after the free")
    finally:
        if child is not None:
            child.kill()
            child.wait(timeout=30)
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()
