"""The real resource sampler: cgroup v2, then cgroup v1, then the host.

Limits and usage come from this process's own cgroup, found through
``/proc/self/cgroup``; a limit is the smallest one set on the cgroup or any ancestor,
because the kernel enforces each of them. A file that cannot be read drops its signal
from the snapshot instead of raising: a governor must keep running on what it has.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil  # type: ignore[import-untyped]

from zerogate.domain import resources as res
from zerogate.domain.resources import OwnUsage, Pressure, ResourceSnapshot, Scope
from zerogate.errors import ResourcesUnavailable

_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class CgroupLayout:
    """Where this process's cgroup files are: each tuple holds its own directory first,
    then the ancestors up to the mount."""

    scope: Scope
    memory_dirs: tuple[Path, ...] = ()
    cpu_dirs: tuple[Path, ...] = ()
    cpuacct_dir: Path | None = None
    pressure_files: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each controller of ``/proc/self/cgroup`` to its path; "" is the v2 line."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                paths[name] = parts[2]
    return paths


def detect_layout(cgroup_root: Path, proc_root: Path) -> CgroupLayout:
    """Find the cgroup version and this process's directories, or fall back to the host."""
    try:
        paths = parse_proc_cgroup((proc_root / "self" / "cgroup").read_text())
    except OSError:
        paths = {}
    if (cgroup_root / "cgroup.controllers").is_file():
        dirs = _own_and_ancestors(cgroup_root, paths.get("", "/"))
        if (dirs[0] / "memory.current").is_file():
            pressure = _pressure_files([dirs[0]], proc_root, cgroup_first=True)
            return CgroupLayout("cgroup-v2", dirs, dirs, dirs[0], pressure)
    unified = [] if "" not in paths else [_own_and_ancestors(cgroup_root / "unified", paths[""])[0]]
    pressure = _pressure_files(unified, proc_root, cgroup_first=False)
    memory = _v1_dirs(cgroup_root, "memory", paths)
    if memory and (memory[0] / "memory.usage_in_bytes").is_file():
        cpuacct = _v1_dirs(cgroup_root, "cpuacct", paths)
        return CgroupLayout("cgroup-v1", memory, _v1_dirs(cgroup_root, "cpu", paths),
                            cpuacct[0] if cpuacct else None, pressure)
    return CgroupLayout("host", pressure_files=pressure)


def _own_and_ancestors(mount: Path, path: str) -> tuple[Path, ...]:
    # Inside a cgroup namespace or a private mount the path does not exist under the
    # mount: the mount itself is then this process's cgroup.
    own = mount / path.strip("/")
    if not own.is_dir():
        return (mount,)
    dirs = [own]
    while dirs[-1] != mount and dirs[-1] != dirs[-1].parent:
        dirs.append(dirs[-1].parent)
    return tuple(dirs)


def _v1_dirs(cgroup_root: Path, controller: str, paths: Mapping[str, str]) -> tuple[Path, ...]:
    if controller not in paths:
        return ()
    try:
        mounts = sorted(cgroup_root.iterdir())
    except OSError:
        return ()
    # A controller may be mounted alone ("cpu") or with others ("cpu,cpuacct").
    for mount in mounts:
        if controller in mount.name.split(",") and mount.is_dir():
            return _own_and_ancestors(mount, paths[controller])
    return ()


def _pressure_files(
    cgroup_dirs: Sequence[Path], proc_root: Path, *, cgroup_first: bool
) -> dict[str, tuple[Path, ...]]:
    files: dict[str, tuple[Path, ...]] = {}
    for kind in res.PRESSURE_KINDS:
        in_cgroup = tuple(d / f"{kind}.pressure" for d in cgroup_dirs)
        system = (proc_root / "pressure" / kind,)
        files[kind] = in_cgroup + system if cgroup_first else system + in_cgroup
    return files


def _host_cores() -> float:
    try:
        return float(len(os.sched_getaffinity(0)))  # respects cpusets and taskset
    except (AttributeError, OSError):
        return float(psutil.cpu_count() or 1)


def _smallest(dirs: Iterable[Path], read_one: Callable[[Path], _N]) -> _N | None:
    values: list[_N] = []
    for directory in dirs:
        try:
            values.append(read_one(directory))
        except (OSError, ValueError):
            continue  # no limit set at this level (a root cgroup has no limit files)
    return min(values, default=None)


class SystemSampler:
    """Reads this process's CPU, memory, disk and pressure: cheap, sync, thread-safe.

    ``sample`` keeps the previous CPU reading, so the first snapshot has no CPU
    fraction. Call ``sample_async`` from the event loop: it samples in a thread.
    """

    def __init__(
        self,
        *,
        cgroup_root: str | Path = "/sys/fs/cgroup",
        proc_root: str | Path = "/proc",
        disk_paths: Sequence[str] = ("/",),
        host_memory: int | None = None,
        host_cores: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._layout = detect_layout(Path(cgroup_root), Path(proc_root))
        self._host_memory = host_memory or int(psutil.virtual_memory().total)
        self._host_cores = host_cores or _host_cores()
        self._disk_paths = tuple(disk_paths)
        self._monotonic = monotonic
        self._prev_cpu: tuple[float, float] | None = None  # (usage_s, taken_at)
        self._prev_io: tuple[dict[str, float], float] | None = None  # (counters, taken_at)
        self._prev_own: tuple[float, float] | None = None  # (cpu seconds, taken_at)
        self._me = psutil.Process()
        self._children: list[psutil.Process] = []
        self._samples = 0
        self._lock = threading.Lock()

    @property
    def scope(self) -> Scope:
        return self._layout.scope

    def sample(self) -> ResourceSnapshot:
        """Read everything now; raise ResourcesUnavailable only if nothing was readable."""
        with self._lock:  # the CPU baseline must not be shared by two readers at once
            return self._sample()

    async def sample_async(self) -> ResourceSnapshot:
        """``sample`` in a worker thread, so that slow kernel files never block the loop."""
        return await asyncio.to_thread(self.sample)

    def _sample(self) -> ResourceSnapshot:
        taken_at = self._monotonic()
        cpu_limit = self._cpu_limit()
        usage_s = self._cpu_usage_s()
        used = self._memory_used()
        disk = self._disk()
        pressure = self._pressure()
        if usage_s is None and used is None and not disk and not pressure:
            raise ResourcesUnavailable(f"no resource could be read (scope {self.scope})")
        cpu = self._cpu_fraction(usage_s, taken_at, cpu_limit)
        limit = self._memory_limit()
        io = self._io_rates(taken_at)
        own = self._own(taken_at, cpu_limit)
        present = {"cpu": cpu is not None, "memory": used is not None,
                   "disk": bool(disk), "pressure": bool(pressure), "io": bool(io),
                   "own": own is not None}
        return ResourceSnapshot(
            taken_at=taken_at, scope=self.scope, cpu_fraction=cpu, cpu_limit_cores=cpu_limit,
            memory_used_bytes=used, memory_limit_bytes=limit,
            memory_fraction=None if used is None else res.memory_fraction(used, limit),
            disk=disk, pressure=pressure, io_bytes_per_s=io, own=own,
            signals=frozenset(name for name, ok in present.items() if ok),
        )

    def _io_rates(self, t: float) -> dict[str, float]:
        """Host disk read and write bytes per second since the previous sample."""
        try:
            counters = psutil.disk_io_counters(perdisk=False)
        except (OSError, RuntimeError):
            return {}
        if counters is None:  # no disks visible (some containers)
            return {}
        now = {"read": float(counters.read_bytes), "write": float(counters.write_bytes)}
        prev, self._prev_io = self._prev_io, (now, t)
        return {} if prev is None else res.rates(prev[0], now, t - prev[1])

    def _own(self, t: float, cpu_limit: float) -> OwnUsage | None:
        """CPU and memory of this process and its children (the process pool)."""
        # Listing children scans all of /proc (about 1 ms on a busy host): refresh the
        # list every CHILDREN_EVERY samples; a pool's processes live long.
        if self._samples % CHILDREN_EVERY == 0:
            try:
                self._children = self._me.children(recursive=True)
            except psutil.Error:
                return None
        self._samples += 1
        procs = [self._me, *self._children]
        cpu_s, rss = 0.0, 0
        for proc in procs:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu_s += times.user + times.system
                    rss += proc.memory_info().rss
            except psutil.Error:  # a child that exited between listing and reading
                continue
        prev, self._prev_own = self._prev_own, (cpu_s, t)
        fraction = None if prev is None else res.cpu_fraction(prev[0], cpu_s, prev[1], t, cpu_limit)
        return OwnUsage(fraction, rss, len(procs))

    def _memory_limit(self) -> int:
        host, dirs = self._host_memory, self._layout.memory_dirs
        if self.scope == "cgroup-v2":
            limit = _smallest(dirs, lambda d: res.parse_memory_max_v2(_read(d, "memory.max"), host))
        elif self.scope == "cgroup-v1":
            limit = _smallest(
                dirs, lambda d: res.parse_memory_limit_v1(_read(d, "memory.limit_in_bytes"), host))
        else:
            limit = None
        return host if limit is None else limit

    def _cpu_limit(self) -> float:
        host, dirs = self._host_cores, self._layout.cpu_dirs
        if self.scope == "cgroup-v2":
            limit = _smallest(dirs, lambda d: res.parse_cpu_max_v2(_read(d, "cpu.max"), host))
        elif self.scope == "cgroup-v1":
            limit = _smallest(dirs, lambda d: res.parse_cpu_quota_v1(
                _read(d, "cpu.cfs_quota_us"), _read(d, "cpu.cfs_period_us"), host))
        else:
            limit = None
        return host if limit is None else limit

    def _memory_used(self) -> int | None:
        try:
            if self.scope == "host":
                return _host_used()
            own = self._layout.memory_dirs[0]
            v2 = self.scope == "cgroup-v2"
            usage = int(_read(own, "memory.current" if v2 else "memory.usage_in_bytes"))
            stat = res.parse_memory_stat(_read(own, "memory.stat"))
            return res.working_set(usage, stat, "cgroup-v2" if v2 else "cgroup-v1")
        except (OSError, ValueError):
            return None

    def _cpu_usage_s(self) -> float | None:
        try:
            if self.scope == "host":
                return _host_busy_s()
            acct = self._layout.cpuacct_dir
            if acct is None:
                return None
            if self.scope == "cgroup-v2":  # cpu.stat has memory.stat's "key value" lines
                return res.parse_memory_stat(_read(acct, "cpu.stat"))["usage_usec"] / 1e6
            return int(_read(acct, "cpuacct.usage")) / 1e9
        except (OSError, ValueError, KeyError):
            return None

    def _cpu_fraction(self, usage_s: float | None, t: float, limit: float) -> float | None:
        if usage_s is None:
            return None
        prev, self._prev_cpu = self._prev_cpu, (usage_s, t)
        if prev is None:
            return None
        return res.cpu_fraction(prev[0], usage_s, prev[1], t, limit)

    def _disk(self) -> dict[str, float]:
        disk: dict[str, float] = {}
        for path in self._disk_paths:
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue
            # As df counts it: blocks reserved for root are not ours to use.
            usable = usage.used + usage.free
            disk[path] = usage.used / usable if usable else 1.0
        return disk

    def _pressure(self) -> dict[str, Pressure]:
        pressure: dict[str, Pressure] = {}
        for kind, candidates in self._layout.pressure_files.items():
            for path in candidates:
                try:
                    pressure[kind] = res.parse_psi(path.read_text())
                    break
                except (OSError, ValueError):
                    continue  # no PSI here (absent, or the kernel booted with psi=0)
        return pressure


CHILDREN_EVERY = 10  # samples between two listings of the engine's child processes


def _host_used() -> int:
    memory = psutil.virtual_memory()  # "available" already counts reclaimable cache
    return int(memory.total - memory.available)


def _read(directory: Path, name: str) -> str:
    return (directory / name).read_text()


def _host_busy_s() -> float:
    times = psutil.cpu_times()
    # Linux counts guest time inside user and nice already; count it once, as psutil does.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return float(total - times.idle - getattr(times, "iowait", 0.0))
