"""Performance profiles: the built-in ladder, validation, and profiles from configuration."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from zerogate.domain.profiles import (
    BAND_FIELDS,
    DEFAULT_PROFILE,
    PROFILES,
    Profile,
    profile_from_config,
    show,
)
from zerogate.domain.thresholds import Band
from zerogate.errors import InvalidConfig

BALANCED = PROFILES["balanced"]
LADDER = ("development", "balanced", "performance", "emergency")


@pytest.mark.parametrize(("name", "cpu", "memory", "is_permissive"), [
    ("development", (0.60, 0.80), (0.70, 0.85), False),
    ("balanced", (0.70, 0.85), (0.80, 0.90), True),
    ("performance", (0.80, 0.90), (0.85, 0.95), True),
    ("emergency", (0.85, 0.95), (0.90, 0.98), True),
])
def test_builtin_profiles_hold_the_documented_thresholds(
        name: str, cpu: tuple[float, float], memory: tuple[float, float],
        is_permissive: bool) -> None:
    p = PROFILES[name]
    assert p.name == name
    assert (p.cpu_high.enter, p.cpu_critical.enter) == pytest.approx(cpu)
    assert (p.cpu_high.exit, p.cpu_critical.exit) == pytest.approx([c - 0.10 for c in cpu])
    assert (p.memory_high.enter, p.memory_critical.enter) == pytest.approx(memory)
    assert (p.memory_high.exit, p.memory_critical.exit) == pytest.approx(
        [m - 0.05 for m in memory])
    assert (p.disk.enter, p.disk.exit) == pytest.approx((0.90, 0.85))
    assert (p.pressure_high.enter, p.pressure_high.exit) == (20.0, 10.0)
    assert (p.pressure_critical.enter, p.pressure_critical.exit) == (50.0, 35.0)
    assert {p.band(f).hold_s for f in BAND_FIELDS} == {30.0}
    assert p.critical_bypass is is_permissive
    assert p.evict_on_memory_critical is is_permissive
    assert p.interval_s == 1.0


def test_the_ladder_runs_from_development_to_emergency() -> None:
    assert tuple(PROFILES) == LADDER
    for field in ("cpu_high", "cpu_critical", "memory_high", "memory_critical"):
        enters = [PROFILES[name].band(field).enter for name in LADDER]
        assert enters == sorted(enters) and len(set(enters)) == len(enters), field


def test_balanced_is_the_default_and_the_default_base() -> None:
    assert DEFAULT_PROFILE == "balanced"
    assert profile_from_config("mine", {}) == replace(BALANCED, name="mine")


def test_the_builtin_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        PROFILES["balanced"] = PROFILES["development"]  # type: ignore[index]


def _profile(**changes: object) -> Profile:
    return replace(BALANCED, name="custom", **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "field"), [
    ({"cpu_high": Band(enter=0.9, exit=0.6, hold_s=30)}, "cpu_high"),
    ({"memory_high": Band(enter=0.88, exit=0.86, hold_s=30)}, "memory_high"),
    ({"pressure_high": Band(enter=60.0, exit=10.0, hold_s=30)}, "pressure_high"),
    ({"cpu_critical": Band(enter=1.2, exit=0.8, hold_s=30)}, "cpu_critical"),
    ({"disk": Band(enter=0.9, exit=0.0, hold_s=30)}, "disk"),
    ({"pressure_critical": Band(enter=101.0, exit=35.0, hold_s=30)}, "pressure_critical"),
    ({"interval_s": 0.0}, "interval_s"),
    ({"interval_s": math.inf}, "interval_s"),
    ({"concurrency_min": 0}, "concurrency_min"),
    ({"concurrency_min": True}, "concurrency_min"),
    ({"concurrency_max": 0}, "concurrency_max"),
    ({"concurrency_min": 4, "concurrency_max": 3}, "concurrency_max"),
])
def test_a_profile_names_itself_and_the_field_at_fault(changes: dict[str, object],
                                                       field: str) -> None:
    with pytest.raises(InvalidConfig, match=rf"profile 'custom': {field} "):
        _profile(**changes)


def test_a_nameless_profile_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="name"):
        replace(BALANCED, name="")


def test_valid_concurrency_bounds_are_kept() -> None:
    p = _profile(concurrency_min=2, concurrency_max=2)
    assert (p.concurrency_min, p.concurrency_max) == (2, 2)


def test_show_gives_percent_for_fractions_and_pressure() -> None:
    assert show("cpu_high", 0.775) == "77.5%"
    assert show("memory", 0.9) == "90%"
    assert show("pressure_high", 20.0) == "20%"


# ---- profiles from configuration ----

def test_a_custom_profile_reads_percent_and_keeps_the_rest_of_its_base() -> None:
    p = profile_from_config("batch", {"cpu_high": 75, "cpu_high_exit": 65,
                                      "memory_critical": 92, "hold_s": 20,
                                      "critical_bypass": False})
    assert p.name == "batch"
    assert (p.cpu_high.enter, p.cpu_high.exit) == pytest.approx((0.75, 0.65))
    assert (p.memory_critical.enter, p.memory_critical.exit) == pytest.approx((0.92, 0.87))
    assert {p.band(f).hold_s for f in BAND_FIELDS} == {20.0}
    assert p.critical_bypass is False
    assert p.evict_on_memory_critical is True  # from balanced
    assert p.cpu_critical == replace(BALANCED.cpu_critical, hold_s=20.0)
    assert p.memory_high == replace(BALANCED.memory_high, hold_s=20.0)


def test_an_unspecified_exit_keeps_the_gap_of_the_base() -> None:
    p = profile_from_config("x", {"cpu_critical": 88, "disk": 95, "pressure_high": 30},
                            base=PROFILES["development"])
    assert (p.cpu_critical.enter, p.cpu_critical.exit) == pytest.approx((0.88, 0.78))
    assert (p.disk.enter, p.disk.exit) == pytest.approx((0.95, 0.90))
    assert (p.pressure_high.enter, p.pressure_high.exit) == (30.0, 20.0)
    assert p.critical_bypass is False  # from development
    assert p.cpu_high == PROFILES["development"].cpu_high  # holds kept when not given


def test_an_exit_alone_moves_only_the_exit() -> None:
    p = profile_from_config("x", {"memory_high_exit": 70})
    assert (p.memory_high.enter, p.memory_high.exit) == pytest.approx((0.80, 0.70))


def test_other_settings_come_through() -> None:
    p = profile_from_config("x", {"interval_s": 0.5, "evict_on_memory_critical": False,
                                  "concurrency_min": 2, "concurrency_max": 8})
    assert (p.interval_s, p.evict_on_memory_critical) == (0.5, False)
    assert (p.concurrency_min, p.concurrency_max) == (2, 8)
    assert profile_from_config("x", {"concurrency_max": None}).concurrency_max is None


@pytest.mark.parametrize(("data", "key"), [
    ({"cpu_hgih": 75}, "cpu_hgih"),
    ({"cpu_high": "75"}, "cpu_high"),
    ({"cpu_high": True}, "cpu_high"),
    ({"cpu_high": math.nan}, "cpu_high"),
    ({"cpu_high": 0}, "cpu_high"),
    ({"memory_critical": 120}, "memory_critical"),
    ({"pressure_critical": -5}, "pressure_critical"),
    ({"disk_exit": 0}, "disk_exit"),
    ({"cpu_high_exit": 70}, "cpu_high_exit"),  # not below balanced's enter 70
    ({"cpu_high": 75, "cpu_high_exit": 80}, "cpu_high_exit"),
    ({"cpu_high": 5}, "cpu_high_exit"),  # 5 minus a gap of 10 is no exit
    ({"cpu_high": 90}, "cpu_high"),  # above balanced's critical 85
    ({"memory_critical_exit": 74}, "memory_high"),  # exits would no longer nest
    ({"hold_s": -1}, "hold_s"),
    ({"hold_s": "30s"}, "hold_s"),
    ({"interval_s": 0}, "interval_s"),
    ({"critical_bypass": "no"}, "critical_bypass"),
    ({"evict_on_memory_critical": 1}, "evict_on_memory_critical"),
    ({"concurrency_min": "2"}, "concurrency_min"),
    ({"concurrency_min": 2.5}, "concurrency_min"),
    ({"concurrency_max": 0}, "concurrency_max"),
])
def test_bad_configuration_names_the_profile_and_key(data: dict[str, object],
                                                     key: str) -> None:
    with pytest.raises(InvalidConfig, match=rf"profile 'mine'.*\b{key}\b") as caught:
        profile_from_config("mine", data)
    if key == "cpu_hgih":
        assert "known keys" in str(caught.value) and "cpu_high_exit" in str(caught.value)
