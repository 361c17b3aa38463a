"""Resource readings as values, and the pure parsers that turn kernel text into them.

Nothing here reads a file or a clock: the sampler adapter reads the text and the
monotonic time, then calls these functions. Parsers raise ``ValueError`` on text they
cannot understand; the adapter turns that into a missing signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["cgroup-v2", "cgroup-v1", "host"]
CgroupVersion = Literal["cgroup-v2", "cgroup-v1"]

# What cgroup v1 reports as "no limit" (PAGE_COUNTER_MAX pages of 4 KiB).
V1_UNLIMITED = 9223372036854771712

SIGNALS = ("cpu", "memory", "disk", "pressure", "io", "own")
PRESSURE_KINDS = ("cpu", "memory", "io")

# Inactive page cache the kernel can drop at once, per cgroup version. v1 wants the
# hierarchical total because memory.usage_in_bytes counts the child cgroups too.
_INACTIVE_FILE_KEY: dict[CgroupVersion, str] = {
    "cgroup-v2": "inactive_file",
    "cgroup-v1": "total_inactive_file",
}


@dataclass(frozen=True)
class Pressure:
    """PSI ``avg10`` in percent: ``some`` stalls, and ``full`` (thrashing) when reported."""

    some_avg10: float
    full_avg10: float | None


@dataclass(frozen=True)
class OwnUsage:
    """What the engine's own process tree uses: CPU as a fraction of the limit, RSS."""

    cpu_fraction: float | None  # None on the first sample (a fraction needs two)
    rss_bytes: int
    processes: int


@dataclass(frozen=True, kw_only=True)
class ResourceSnapshot:
    """One reading of the resources this process may use, within its scope.

    A signal the sampler could not read is absent from ``signals`` and its fields are
    None or empty; a governor must treat it as unknown, never as idle. ``cpu`` is
    present from the second sample on, because a fraction needs two readings.
    """

    taken_at: float  # monotonic seconds
    scope: Scope
    cpu_fraction: float | None  # 0..1 of cpu_limit_cores
    cpu_limit_cores: float
    memory_used_bytes: int | None  # working set: excludes inactive page cache
    memory_limit_bytes: int
    memory_fraction: float | None
    disk: Mapping[str, float] = field(default_factory=dict)  # path -> used fraction
    pressure: Mapping[str, Pressure] = field(default_factory=dict)
    signals: frozenset[str] = frozenset()
    io_bytes_per_s: Mapping[str, float] = field(default_factory=dict)  # "read"/"write", host
    own: OwnUsage | None = None  # this engine's process and its children (worker processes)

    def age_s(self, now_monotonic: float) -> float:
        return max(0.0, now_monotonic - self.taken_at)

    def is_stale(self, now_monotonic: float, interval_s: float) -> bool:
        """True when older than two intervals: such a reading must never trigger a kill."""
        return self.age_s(now_monotonic) > 2 * interval_s


def parse_memory_max_v2(text: str, host_total: int) -> int:
    """The effective limit from cgroup v2 ``memory.max``; "max" means the host total."""
    value = text.strip()
    if value == "max":
        return host_total
    return min(int(value), host_total)


def parse_memory_limit_v1(text: str, host_total: int) -> int:
    """The effective limit from ``memory.limit_in_bytes``; the v1 sentinel means host."""
    value = int(text.strip())
    if value == V1_UNLIMITED or value >= host_total or value < 0:
        return host_total
    return value


def parse_cpu_max_v2(text: str, host_cores: float) -> float:
    """Cores allowed by cgroup v2 ``cpu.max`` ("quota period"); "max" means the host."""
    quota, _, period = text.strip().partition(" ")
    if quota == "max":
        return host_cores
    return _cores(int(quota), int(period or "100000"), host_cores)


def parse_cpu_quota_v1(quota_text: str, period_text: str, host_cores: float) -> float:
    """Cores allowed by ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``; -1 means host."""
    quota = int(quota_text.strip())
    if quota < 0:
        return host_cores
    return _cores(quota, int(period_text.strip()), host_cores)


def _cores(quota: int, period: int, host_cores: float) -> float:
    if quota <= 0 or period <= 0:
        raise ValueError(f"CPU quota {quota} over period {period} is not a limit")
    return min(quota / period, host_cores)


def parse_memory_stat(text: str) -> dict[str, int]:
    """``memory.stat`` as a mapping of counter name to value."""
    stat: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            stat[key] = int(value)
    return stat


def working_set(usage_bytes: int, stat: Mapping[str, int], version: CgroupVersion) -> int:
    """Usage minus inactive page cache, as the kubelet counts it; never below 0."""
    return max(0, usage_bytes - stat.get(_INACTIVE_FILE_KEY[version], 0))


def parse_psi(text: str) -> Pressure:
    """A PSI file (``some avg10=... avg60=...`` lines); ``full`` is None when absent."""
    avg10: dict[str, float] = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        for item in fields:
            name, _, value = item.partition("=")
            if name == "avg10":
                avg10[kind] = float(value)
    if "some" not in avg10:
        raise ValueError(f"no 'some avg10' in PSI text {text!r}")
    return Pressure(some_avg10=avg10["some"], full_avg10=avg10.get("full"))


def cpu_fraction(
    prev_usage_s: float, usage_s: float, prev_t: float, t: float, limit_cores: float
) -> float:
    """CPU seconds used between two readings over what the limit allowed, in [0, 1]."""
    allowed_s = (t - prev_t) * limit_cores
    if allowed_s <= 0:
        return 0.0
    return min(1.0, max(0.0, (usage_s - prev_usage_s) / allowed_s))


def rates(prev: Mapping[str, float], now: Mapping[str, float], seconds: float) -> dict[str, float]:
    """Per-second rates of counters between two readings; a counter that went back is 0."""
    if seconds <= 0:
        return {}
    return {k: max(0.0, (v - prev[k]) / seconds) for k, v in now.items() if k in prev}


def memory_fraction(used_bytes: int, limit_bytes: int) -> float:
    """Working set over the limit, in [0, 1]."""
    if limit_bytes <= 0:
        return 1.0
    return min(1.0, max(0.0, used_bytes / limit_bytes))
