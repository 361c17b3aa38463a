"""The real sampler on this machine, against real memory, page cache and CPU load."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from zerogate.adapters.sampler import CHILDREN_EVERY, SystemSampler, detect_layout

pytestmark = pytest.mark.slow

MB = 1 << 20

# Children end themselves after 30 s (SIGALRM) even if the test dies before its finally.
HOLD_MEMORY = """
import os, signal, sys
signal.alarm(30)
# Random bytes, not a repeated pattern: identical pages may be merged by the host (KSM),
# and the host's use then grows by less than the child holds.
block = os.urandom(300 << 20)
print("ready", flush=True)
sys.stdin.readline()
"""
BURN_CPU = """
import time
print("ready", flush=True)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    pass
"""


@contextmanager
def child(code: str) -> Iterator[subprocess.Popen[str]]:
    """A Python child that printed "ready"; killed on the way out whatever happened."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def used(sampler: SystemSampler) -> int:
    value = sampler.sample().memory_used_bytes
    assert value is not None
    return value


def test_a_real_snapshot_is_complete_and_bounded() -> None:
    sampler = SystemSampler()
    first = sampler.sample()
    time.sleep(0.05)
    snap = sampler.sample()
    assert snap.scope in ("cgroup-v2", "cgroup-v1", "host")
    assert first.cpu_fraction is None and "cpu" not in first.signals
    assert {"cpu", "memory", "disk"} <= snap.signals
    assert snap.memory_limit_bytes > 0 and snap.cpu_limit_cores > 0
    for fraction in (snap.cpu_fraction, snap.memory_fraction, *snap.disk.values()):
        assert fraction is not None and 0.0 <= fraction <= 1.0
    assert snap.taken_at > first.taken_at
    now = time.monotonic()
    assert 0.0 <= snap.age_s(now) < 1.0 and not snap.is_stale(now, interval_s=1.0)
    assert snap.is_stale(snap.taken_at + 2.5, interval_s=1.0)


async def test_sample_async_off_the_loop() -> None:
    snap = await SystemSampler().sample_async()
    assert "memory" in snap.signals


def test_a_child_holding_300_mb_raises_memory_used() -> None:
    sampler = SystemSampler()
    before = used(sampler)
    with child(HOLD_MEMORY):
        during = used(sampler)
    assert during - before >= 200 * MB, (before, during)


def raw_usage(sampler: SystemSampler) -> int | None:
    """The cgroup's usage including page cache, to show the file really was cached."""
    layout = detect_layout(Path("/sys/fs/cgroup"), Path("/proc"))
    names = {"cgroup-v2": "memory.current", "cgroup-v1": "memory.usage_in_bytes"}
    if layout.scope not in names:
        return None
    return int((layout.memory_dirs[0] / names[layout.scope]).read_text())


def test_streaming_a_512_mb_file_leaves_the_working_set_alone_g7(tmp_path: Path) -> None:
    sampler = SystemSampler()
    path = tmp_path / "big.bin"
    before, raw_before = used(sampler), raw_usage(sampler)
    block = os.urandom(MB)
    try:
        with path.open("wb") as out:
            for _ in range(512):
                out.write(block)
        with path.open("rb") as stream:
            while stream.read(4 * MB):
                pass
        after, raw_after = used(sampler), raw_usage(sampler)
    finally:
        path.unlink(missing_ok=True)
    assert after - before < 128 * MB, (before, after)
    if raw_before is not None and raw_after is not None:
        assert raw_after - raw_before > 256 * MB  # the cache was filled, and excluded


def test_a_cpu_burner_shows_in_cpu_fraction() -> None:
    sampler = SystemSampler()
    with child(BURN_CPU):
        sampler.sample()
        time.sleep(1.0)  # the measurement window itself: real CPU needs real time
        snap = sampler.sample()
    assert snap.cpu_fraction is not None and snap.cpu_fraction > 0.2, snap


def test_the_engines_own_processes_are_counted_with_their_memory() -> None:
    sampler = SystemSampler()
    alone = sampler.sample().own
    assert alone is not None and alone.cpu_fraction is None  # a fraction needs two samples
    with child(HOLD_MEMORY):
        # The child list is refreshed every CHILDREN_EVERY samples: it shows by then.
        for _ in range(CHILDREN_EVERY):
            together = sampler.sample().own
    assert together is not None and together.cpu_fraction is not None
    assert together.processes >= alone.processes + 1
    assert together.rss_bytes - alone.rss_bytes >= 200 * MB


def test_writing_a_file_shows_in_host_write_rates(tmp_path: Path) -> None:
    sampler = SystemSampler()
    sampler.sample()
    with (tmp_path / "blob").open("wb") as f:
        for _ in range(64):
            f.write(os.urandom(MB))
        f.flush()
        os.fsync(f.fileno())
    snapshot = sampler.sample()
    assert "io" in snapshot.signals
    assert set(snapshot.io_bytes_per_s) == {"read", "write"}
    assert snapshot.io_bytes_per_s["write"] > 0
