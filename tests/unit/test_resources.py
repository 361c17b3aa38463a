"""Resource parsers, snapshots, and the sampler over fake cgroup trees (G6, G7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerogate.adapters.sampler import SystemSampler, parse_proc_cgroup
from zerogate.adapters.scripted_sampler import ScriptedSampler
from zerogate.domain import resources as res
from zerogate.domain.resources import Pressure, ResourceSnapshot
from zerogate.errors import ResourcesUnavailable
from zerogate.ports import ResourceSampler

GIB = 1 << 30
HOST = 16 * GIB
PSI_TEXT = ("some avg10=1.50 avg60=0.70 avg300=0.20 total=123\n"
            "full avg10=0.25 avg60=0.10 avg300=0.00 total=45\n")


def snapshot(taken_at: float = 100.0, used: int | None = GIB) -> ResourceSnapshot:
    return ResourceSnapshot(
        taken_at=taken_at, scope="host", cpu_fraction=0.5, cpu_limit_cores=2.0,
        memory_used_bytes=used, memory_limit_bytes=HOST, memory_fraction=None,
    )


# ---- pure parsers ----

@pytest.mark.parametrize(("text", "expected"), [
    ("1073741824\n", GIB), ("max\n", HOST), (f"{HOST}\n", HOST), (f"{2 * HOST}\n", HOST),
])
def test_memory_max_v2(text: str, expected: int) -> None:
    assert res.parse_memory_max_v2(text, HOST) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("1073741824\n", GIB), (f"{res.V1_UNLIMITED}\n", HOST), (f"{HOST + 1}\n", HOST),
])
def test_memory_limit_v1(text: str, expected: int) -> None:
    assert res.parse_memory_limit_v1(text, HOST) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("max 100000\n", 4.0), ("150000 100000\n", 1.5), ("50000 100000\n", 0.5),
    ("800000 100000\n", 4.0),
])
def test_cpu_max_v2(text: str, expected: float) -> None:
    assert res.parse_cpu_max_v2(text, 4.0) == expected


@pytest.mark.parametrize(("quota", "expected"), [("-1\n", 4.0), ("50000\n", 0.5)])
def test_cpu_quota_v1(quota: str, expected: float) -> None:
    assert res.parse_cpu_quota_v1(quota, "100000\n", 4.0) == expected


def test_malformed_limits_raise_value_error_for_the_sampler_to_drop() -> None:
    with pytest.raises(ValueError):
        res.parse_memory_max_v2("lots", HOST)
    with pytest.raises(ValueError):
        res.parse_cpu_quota_v1("50000", "0", 4.0)


def test_working_set_excludes_inactive_file_g7() -> None:
    stat = res.parse_memory_stat("anon 100\ninactive_file 700\ntotal_inactive_file 900\n")
    assert stat == {"anon": 100, "inactive_file": 700, "total_inactive_file": 900}
    assert res.working_set(1000, stat, "cgroup-v2") == 300
    assert res.working_set(1000, stat, "cgroup-v1") == 100
    assert res.working_set(500, stat, "cgroup-v1") == 0  # never below zero
    assert res.working_set(500, {}, "cgroup-v2") == 500


def test_psi_with_and_without_full() -> None:
    assert res.parse_psi(PSI_TEXT) == Pressure(some_avg10=1.5, full_avg10=0.25)
    older_cpu = "some avg10=3.00 avg60=1.00 avg300=0.50 total=9\n"
    assert res.parse_psi(older_cpu) == Pressure(some_avg10=3.0, full_avg10=None)
    with pytest.raises(ValueError):
        res.parse_psi("")


def test_cpu_fraction_is_clamped() -> None:
    assert res.cpu_fraction(10.0, 11.0, 0.0, 1.0, 2.0) == 0.5
    assert res.cpu_fraction(10.0, 15.0, 0.0, 1.0, 2.0) == 1.0
    assert res.cpu_fraction(10.0, 9.0, 0.0, 1.0, 2.0) == 0.0  # counter reset
    assert res.cpu_fraction(10.0, 11.0, 1.0, 1.0, 2.0) == 0.0  # no time passed


def test_age_and_staleness_at_two_intervals() -> None:
    snap = snapshot(taken_at=100.0)
    assert snap.age_s(101.5) == 1.5
    assert not snap.is_stale(102.0, interval_s=1.0)
    assert snap.is_stale(102.01, interval_s=1.0)


def test_proc_cgroup_lines() -> None:
    text = "12:cpu,cpuacct:/a\n4:memory:/b/c\n0::/d\n"
    assert parse_proc_cgroup(text) == {"cpu": "/a", "cpuacct": "/a", "memory": "/b/c", "": "/d"}


# ---- the sampler over fake trees (G6) ----

def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def sampler(tmp: Path, files: dict[str, str], proc_cgroup: str | None,
            disk: str = "") -> SystemSampler:
    write(tmp / "cg", files)
    (tmp / "proc" / "self").mkdir(parents=True, exist_ok=True)
    if proc_cgroup is not None:
        (tmp / "proc" / "self" / "cgroup").write_text(proc_cgroup)
    ticks = iter(range(100, 1000))
    return SystemSampler(cgroup_root=tmp / "cg", proc_root=tmp / "proc",
                         disk_paths=(str(tmp / disk),), host_memory=HOST, host_cores=4.0,
                         monotonic=lambda: float(next(ticks)))


def v2_tree(memory_max: str, cpu_max: str = "max 100000", psi: bool = True) -> dict[str, str]:
    files = {
        "cgroup.controllers": "cpu memory io\n",
        "app/memory.max": memory_max, "app/cpu.max": cpu_max,
        "app/memory.current": str(600 << 20),
        "app/memory.stat": f"anon {100 << 20}\ninactive_file {400 << 20}\n",
        "app/cpu.stat": "usage_usec 1000000\nuser_usec 800000\n",
    }
    if psi:
        files |= {f"app/{kind}.pressure": PSI_TEXT for kind in res.PRESSURE_KINDS}
    return files


def v1_tree(limit: str, quota: str = "-1") -> dict[str, str]:
    return {
        "memory/app/memory.limit_in_bytes": limit,
        "memory/memory.limit_in_bytes": str(res.V1_UNLIMITED),
        "memory/app/memory.usage_in_bytes": str(600 << 20),
        "memory/app/memory.stat": f"inactive_file 1\ntotal_inactive_file {400 << 20}\n",
        "cpu,cpuacct/app/cpu.cfs_quota_us": quota, "cpu,cpuacct/app/cpu.cfs_period_us": "100000",
        "cpu,cpuacct/app/cpuacct.usage": "2000000000",
    }


V1_PROC = "5:memory:/app\n3:cpu,cpuacct:/app\n0::/\n"


def test_v2_memory_max_1gib_on_16gib_host_g6(tmp_path: Path) -> None:
    snap = sampler(tmp_path, v2_tree("1073741824\n"), "0::/app\n").sample()
    assert snap.scope == "cgroup-v2"
    assert snap.memory_limit_bytes == GIB
    assert snap.memory_used_bytes == 200 << 20  # inactive page cache excluded (G7)
    assert snap.memory_fraction == pytest.approx(200 / 1024)
    assert snap.cpu_limit_cores == 4.0
    assert snap.pressure["memory"] == Pressure(some_avg10=1.5, full_avg10=0.25)
    # cpu and io rates from the second sample; "own" is this test process, read for real
    assert snap.signals == {"memory", "disk", "pressure", "own"}


def test_v2_max_means_host_and_quota_gives_cores(tmp_path: Path) -> None:
    snap = sampler(tmp_path, v2_tree("max\n", "150000 100000\n"), "0::/app\n").sample()
    assert (snap.memory_limit_bytes, snap.cpu_limit_cores) == (HOST, 1.5)


def test_v2_ancestor_limit_applies(tmp_path: Path) -> None:
    files = v2_tree("max\n") | {"app/memory.max": "max\n", "memory.max": "536870912\n"}
    files["app/job/memory.current"] = "0"
    snap = sampler(tmp_path, files, "0::/app/job\n").sample()
    assert snap.memory_limit_bytes == 512 << 20


def test_v2_second_sample_has_cpu_fraction(tmp_path: Path) -> None:
    s = sampler(tmp_path, v2_tree("max\n"), "0::/app\n")
    s.sample()
    (tmp_path / "cg" / "app" / "cpu.stat").write_text("usage_usec 3000000\n")  # +2 s in 1 s
    snap = s.sample()
    assert snap.cpu_fraction == 0.5  # of 4 cores
    assert "cpu" in snap.signals


def test_v1_value_and_quota(tmp_path: Path) -> None:
    snap = sampler(tmp_path, v1_tree("1073741824\n", "50000\n"), V1_PROC).sample()
    assert snap.scope == "cgroup-v1"
    assert (snap.memory_limit_bytes, snap.cpu_limit_cores) == (GIB, 0.5)
    assert snap.memory_used_bytes == 200 << 20  # total_inactive_file excluded


def test_v1_sentinel_and_no_quota_mean_host(tmp_path: Path) -> None:
    snap = sampler(tmp_path, v1_tree(f"{res.V1_UNLIMITED}\n"), V1_PROC).sample()
    assert (snap.memory_limit_bytes, snap.cpu_limit_cores) == (HOST, 4.0)


def test_v1_separate_cpu_and_cpuacct_mounts(tmp_path: Path) -> None:
    files = {k.replace("cpu,cpuacct/app/cpuacct", "cpuacct/cpuacct")
             .replace("cpu,cpuacct/app", "cpu"): v for k, v in v1_tree("max").items()}
    s = sampler(tmp_path, files | {"memory/app/memory.limit_in_bytes": "1073741824"},
                "4:memory:/app\n2:cpuacct:/\n1:cpu:/\n")
    s.sample()
    (tmp_path / "cg" / "cpuacct" / "cpuacct.usage").write_text("4000000000")
    snap = s.sample()
    assert snap.memory_limit_bytes == GIB
    assert snap.cpu_fraction == 0.5


def test_host_fallback_without_cgroup_files(tmp_path: Path) -> None:
    snap = sampler(tmp_path, {}, None).sample()
    assert snap.scope == "host"
    assert (snap.memory_limit_bytes, snap.cpu_limit_cores) == (HOST, 4.0)
    assert snap.memory_used_bytes is not None and snap.memory_used_bytes > 0
    assert "pressure" not in snap.signals and not snap.pressure


def test_psi_absent_is_said_and_proc_psi_is_used(tmp_path: Path) -> None:
    assert "pressure" not in sampler(tmp_path, v2_tree("max\n", psi=False), "0::/app\n").sample(
    ).signals
    write(tmp_path / "proc", {f"pressure/{kind}": PSI_TEXT for kind in res.PRESSURE_KINDS})
    snap = sampler(tmp_path, v2_tree("max\n", psi=False), "0::/app\n").sample()
    assert set(snap.pressure) == {"cpu", "memory", "io"}


def test_unreadable_file_degrades_the_snapshot(tmp_path: Path) -> None:
    s = sampler(tmp_path, v2_tree("max\n"), "0::/app\n")
    (tmp_path / "cg" / "app" / "memory.stat").unlink()
    snap = s.sample()
    assert snap.memory_used_bytes is None and snap.memory_fraction is None
    assert "memory" not in snap.signals and "pressure" in snap.signals


def test_nothing_readable_raises(tmp_path: Path) -> None:
    s = sampler(tmp_path, v2_tree("max\n", psi=False), "0::/app\n", disk="gone")
    for name in ("memory.current", "cpu.stat"):
        (tmp_path / "cg" / "app" / name).unlink()
    with pytest.raises(ResourcesUnavailable):
        s.sample()


async def test_sample_async_runs_the_sampler(tmp_path: Path) -> None:
    s: ResourceSampler = sampler(tmp_path, v2_tree("1073741824\n"), "0::/app\n")
    assert (await s.sample_async()).memory_limit_bytes == GIB


# ---- the scripted sampler ----

async def test_scripted_sampler_replays_then_repeats_the_last() -> None:
    first, last = snapshot(1.0), snapshot(2.0)
    s: ResourceSampler = ScriptedSampler([first, last])
    assert [s.sample(), await s.sample_async(), s.sample()] == [first, last, last]


def test_scripted_sampler_follows_a_clock() -> None:
    now = [5.0]
    s = ScriptedSampler(lambda t: snapshot(t, used=int(t) * GIB), monotonic=lambda: now[0])
    assert s.sample().memory_used_bytes == 5 * GIB
    now[0] = 7.0
    assert s.sample().taken_at == 7.0


def test_rates_are_per_second_and_never_negative() -> None:
    assert res.rates({"read": 100.0, "write": 50.0}, {"read": 300.0, "write": 40.0}, 2.0) == {
        "read": 100.0, "write": 0.0}
    assert res.rates({"read": 1.0}, {"read": 2.0, "write": 9.0}, 1.0) == {"read": 1.0}
    assert res.rates({"read": 1.0}, {"read": 2.0}, 0.0) == {}
