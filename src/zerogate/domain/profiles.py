"""Performance profiles as data: pick one by name, or build one from configuration.

A profile says where each resource's bands sit (RESOURCES.md rule 4: every threshold is
an enter/exit pair with a hold), whether critical work may pass at the last tier, and
whether a memory crisis may cancel a victim. CPU, memory and disk bands are fractions
of the limit (0..1); pressure bands are PSI ``some avg10`` percent (0..100).

The four built-ins form a ladder from most conservative to most permissive:

* ``development`` sheds earliest (CPU 60 %, memory 70 %): a developer's machine is
  shared with an editor, a browser and a debugger, which must stay responsive; nothing
  runs there that is worth more than the developer's own work. It never bypasses and
  never evicts: a task cancelled behind a developer's back makes a bug harder to see.
* ``balanced`` (the default) keeps a margin for the other tenants of a server and lets
  critical work through at the last tier, evicting a victim at critical memory.
* ``performance`` is for a machine dedicated to zerogate: thresholds sit higher.
* ``emergency`` gets critical work through a crisis using the whole machine: the
  thresholds sit near the limits and everything non-essential is shed around the
  critical work, by the bypass at tier 3 and by eviction at critical memory.

Exits sit 10 points under the enter for CPU (a noisy signal) and 5 points for memory
and disk. Every hold is 30 s: a 70/85 % square wave of 10 s period then sheds once and
never restores within 5 minutes (G2), a 120 s period is followed (G3), and a sustained
recovery restores within the hold plus one interval (G5). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from zerogate.domain.thresholds import Band
from zerogate.errors import InvalidConfig

HOLD_S = 30.0
# Pressure is PSI percent already; the other resources are fractions of their limit.
PERCENT_SCALE: Mapping[str, float] = MappingProxyType(
    {"cpu": 100.0, "memory": 100.0, "disk": 100.0, "pressure": 1.0})
BAND_FIELDS = ("cpu_high", "cpu_critical", "memory_high", "memory_critical", "disk",
               "pressure_high", "pressure_critical")
# (lower tier, upper tier) pairs whose bands must nest, so tiers rise and fall in order.
_LADDERS = (("cpu_high", "cpu_critical"), ("memory_high", "memory_critical"),
            ("pressure_high", "pressure_critical"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Pick the thresholds at which the governor sheds, and what it may do at tier 3.

    ``critical_bypass`` lets the critical class through at tier 3; without it only
    essential features pass. ``concurrency_min`` is the number of slots load never takes
    away (so essential work always moves); ``concurrency_max`` caps slots whatever the
    headroom (None: only the engine's own limits).
    """

    name: str
    cpu_high: Band
    cpu_critical: Band
    memory_high: Band
    memory_critical: Band
    disk: Band
    pressure_high: Band
    pressure_critical: Band
    critical_bypass: bool
    evict_on_memory_critical: bool
    interval_s: float = 1.0
    concurrency_min: int = 1
    concurrency_max: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidConfig("a profile needs a non-empty name")
        for name in BAND_FIELDS:
            self._check_range(name)
        for lower, upper in _LADDERS:
            self._check_ladder(lower, upper)
        if not (math.isfinite(self.interval_s) and self.interval_s > 0):
            self._fail("interval_s", f"must be a positive number of seconds, "
                                     f"got {self.interval_s}")
        self._check_concurrency()

    def band(self, name: str) -> Band:
        """The band held in the field ``name`` (e.g. ``"cpu_high"``)."""
        value = getattr(self, name)
        assert isinstance(value, Band)
        return value

    def _check_range(self, name: str) -> None:
        band, limit = self.band(name), 100.0 / scale_of(name)
        if not (band.exit > 0 and band.enter <= limit):
            self._fail(name, f"must enter at most at 100% and exit above 0%, got enter "
                             f"{show(name, band.enter)} and exit {show(name, band.exit)}")

    def _check_ladder(self, lower: str, upper: str) -> None:
        low, up = self.band(lower), self.band(upper)
        if not low.enter < up.enter:
            self._fail(lower, f"enters at {show(lower, low.enter)}, which must lie below "
                              f"{upper}'s {show(upper, up.enter)}")
        if not low.exit < up.exit:
            self._fail(lower, f"exits at {show(lower, low.exit)}, which must lie below "
                              f"{upper}'s exit {show(upper, up.exit)}")

    def _check_concurrency(self) -> None:
        low, high = self.concurrency_min, self.concurrency_max
        if isinstance(low, bool) or not isinstance(low, int) or low < 1:
            self._fail("concurrency_min", f"must be an integer of at least 1, got {low!r}")
        if high is not None and (isinstance(high, bool) or not isinstance(high, int)
                                 or high < low):
            self._fail("concurrency_max", f"must be None or an integer of at least "
                                          f"concurrency_min ({low}), got {high!r}")

    def _fail(self, field_name: str, problem: str) -> None:
        raise InvalidConfig(f"profile {self.name!r}: {field_name} {problem}")


def scale_of(name: str) -> float:
    """What turns a band field's value (fraction or percent) into percent."""
    return PERCENT_SCALE[name.split("_", 1)[0]]


def show(name: str, value: float) -> str:
    """``value`` of the resource or band field ``name`` as a percentage, e.g. ``"77.5%"``."""
    return f"{round(value * scale_of(name), 1):g}%"


def _builtin(name: str, *, cpu: tuple[float, float], memory: tuple[float, float],
             is_strict: bool) -> Profile:
    def band(enter_pct: float, gap_pct: float) -> Band:
        return Band(enter=enter_pct / 100, exit=(enter_pct - gap_pct) / 100, hold_s=HOLD_S)

    pressure = (Band(enter=20.0, exit=10.0, hold_s=HOLD_S),
                Band(enter=50.0, exit=35.0, hold_s=HOLD_S))
    return Profile(
        name=name, cpu_high=band(cpu[0], 10), cpu_critical=band(cpu[1], 10),
        memory_high=band(memory[0], 5), memory_critical=band(memory[1], 5),
        disk=band(90, 5), pressure_high=pressure[0], pressure_critical=pressure[1],
        critical_bypass=not is_strict, evict_on_memory_critical=not is_strict,
    )


PROFILES: Mapping[str, Profile] = MappingProxyType({
    p.name: p for p in (
        _builtin("development", cpu=(60, 80), memory=(70, 85), is_strict=True),
        _builtin("balanced", cpu=(70, 85), memory=(80, 90), is_strict=False),
        _builtin("performance", cpu=(80, 90), memory=(85, 95), is_strict=False),
        _builtin("emergency", cpu=(85, 95), memory=(90, 98), is_strict=False),
    )
})
DEFAULT_PROFILE = "balanced"

_FLAGS = ("critical_bypass", "evict_on_memory_critical")
_KEYS = frozenset((*BAND_FIELDS, *(f"{f}_exit" for f in BAND_FIELDS), *_FLAGS, "hold_s",
                   "interval_s", "concurrency_min", "concurrency_max"))


def profile_from_config(name: str, data: Mapping[str, object],
                        base: Profile = PROFILES[DEFAULT_PROFILE]) -> Profile:
    """Build the profile ``name`` from a configuration table in percent and seconds.

    Keys: every band field (``cpu_high`` ... ``pressure_critical``, ``disk``) and its
    ``<field>_exit`` in percent, ``hold_s`` (for every band), ``interval_s``,
    ``critical_bypass``, ``evict_on_memory_critical``, ``concurrency_min`` and
    ``concurrency_max``. A key left out keeps ``base``'s value; an exit left out sits as
    far under its enter as in ``base``. Raise InvalidConfig naming the key at fault.
    """
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InvalidConfig(f"profile {name!r}: unknown key {unknown[0]!r}; "
                            f"known keys: {', '.join(sorted(_KEYS))}")
    hold_s = _number(name, data, "hold_s", minimum=0.0, is_open=False)
    changes: dict[str, Any] = {"name": name}
    for field_name in BAND_FIELDS:
        changes[field_name] = _band(name, data, field_name, base.band(field_name), hold_s)
    for flag in _FLAGS:
        if flag in data:
            changes[flag] = _flag(name, data, flag)
    interval_s = _number(name, data, "interval_s", minimum=0.0, is_open=True)
    if interval_s is not None:
        changes["interval_s"] = interval_s
    for key in ("concurrency_min", "concurrency_max"):
        if key in data:  # Profile checks these and names the key
            changes[key] = data[key]
    return replace(base, **changes)


def _band(profile: str, data: Mapping[str, object], key: str, base: Band,
          hold_s: float | None) -> Band:
    scale = scale_of(key)
    enter_pct, exit_pct = _percent(profile, data, key), _percent(profile, data, f"{key}_exit")
    enter = base.enter if enter_pct is None else enter_pct / scale
    exit_ = base.exit if exit_pct is None else exit_pct / scale
    if enter_pct is not None and exit_pct is None:
        gap = round((base.enter - base.exit) * scale, 6)
        exit_ = round(enter_pct - gap, 6) / scale
        if exit_ <= 0:
            raise InvalidConfig(f"profile {profile!r}: {key}_exit would be "
                                f"{show(key, exit_)} ({key} {enter_pct:g}% minus {gap:g} "
                                f"points): give {key}_exit")
    if not exit_ < enter:
        raise InvalidConfig(f"profile {profile!r}: {key}_exit ({show(key, exit_)}) must lie "
                            f"below {key} ({show(key, enter)}), or a noisy signal flaps it")
    return Band(enter=enter, exit=exit_, hold_s=base.hold_s if hold_s is None else hold_s)


def _percent(profile: str, data: Mapping[str, object], key: str) -> float | None:
    value = _number(profile, data, key, minimum=0.0, is_open=True)
    if value is not None and value > 100:
        raise InvalidConfig(f"profile {profile!r}: {key} must be a percentage in (0, 100], "
                            f"got {value:g}")
    return value


def _number(profile: str, data: Mapping[str, object], key: str, *, minimum: float,
            is_open: bool) -> float | None:
    """``data[key]`` as a float above ``minimum`` (or at it unless ``is_open``), or None."""
    if key not in data:
        return None
    value = data[key]
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < minimum or (is_open and value == minimum)):
        bound = f"above {minimum:g}" if is_open else f"at least {minimum:g}"
        raise InvalidConfig(f"profile {profile!r}: {key} must be a number {bound}, "
                            f"got {value!r}")
    return float(value)


def _flag(profile: str, data: Mapping[str, object], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise InvalidConfig(f"profile {profile!r}: {key} must be true or false, got {value!r}")
    return value
