"""The governor's decision step: from a resource snapshot to tiers, shedding and a cut.

Each resource has up to three tier bands: tier 1 is its profile's high band, tier 3 its
critical band, tier 2 the band midway between them; disk has a single limit, which is
tier 3 (a full disk stops all but essential work). Tier ``k`` sheds the ``k`` first
categories of ``SHED_ORDER`` and stops the ``k`` lowest priority classes; at tier 3 the
critical class still passes when the profile allows a bypass.

CPU is the exception for priority classes: it sheds features at every tier but stops
only the low class (``CPU_CLASS_TIER``). Saturated CPU slows work down, it loses
nothing, and the adaptive concurrency limit is the lever for it. Letting CPU stop
medium and high work stalled the engine for as long as a neighbour used one core of
two (throughput 0.06 of ungoverned in ``bench/governor.py``), and would make a
CPU-bound workload throttle itself in bursts a hold long. Memory, disk and pressure,
whose exhaustion breaks things, follow the whole ladder.

Readings the policy cannot trust never move a band (RESOURCES.md rule 10): a missing
signal keeps its bands and its last level as they were, and a stale snapshot moves
nothing at all, so neither can trip, clear or evict. Pure: time comes in as ``now``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zerogate.domain.admission import SHED_ORDER, TIER_CLASSES, Category
from zerogate.domain.model import Priority
from zerogate.domain.profiles import Profile, show
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.thresholds import Band, BandState, graded_level, step_band

RESOURCES = ("cpu", "memory", "disk", "pressure")
TIERS = (1, 2, 3)
_LABELS = {1: "high threshold", 2: "elevated threshold", 3: "critical threshold"}
CPU_CLASS_TIER = 1  # the highest tier CPU load applies to priority classes
_STALLS = ("memory", "io")  # PSI kinds that mean work is waiting on memory or the disk

TierBands = tuple[Band | None, Band | None, Band | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the governor should do after one snapshot.

    ``level`` is the graded load (0 below every high threshold, 1 at a critical one) and
    ``limiting`` the resource that sets it; ``tier`` (0..3) is what the hysteresis
    bands hold, so it may stay up after the level fell. ``reasons[k - 1]`` says why
    tier ``k`` is tripped ("" when it is not). ``values`` are the readings taken from
    this snapshot, in each resource's unit (fractions; percent for pressure).
    """

    level: float
    limiting: str | None
    tier: int
    reasons: tuple[str, str, str]
    shed: dict[Category, str | None]
    max_priority: int
    class_tier: int  # the tier that cuts priority classes (CPU counts up to tier 1)
    class_reason: str
    memory_critical: bool
    is_stale: bool
    values: dict[str, float]


class Policy:
    """Turn snapshots into decisions under a profile, remembering the bands between steps."""

    def __init__(self, profile: Profile) -> None:
        self._profile = profile
        self._bands = tier_bands(profile)
        self._states: dict[tuple[str, int], BandState] = {}
        self._last: dict[str, float] = {}  # last trusted reading per resource

    @property
    def profile(self) -> Profile:
        return self._profile

    def switch(self, profile: Profile) -> None:
        """Use ``profile`` from the next step on; tripped bands stay tripped until then."""
        self._profile = profile
        self._bands = tier_bands(profile)

    def step(self, snapshot: ResourceSnapshot, now: float) -> Decision:
        """Step every band with ``snapshot`` seen at ``now`` (monotonic) and decide."""
        is_stale = snapshot.is_stale(now, self._profile.interval_s)
        values = {} if is_stale else readings(snapshot)
        for resource, value in values.items():
            # The observation time, so that a hold counts the time the signal was seen low.
            self._step_resource(resource, value, snapshot.taken_at)
        self._last.update(values)
        return self._decide(values, is_stale)

    def _step_resource(self, resource: str, value: float, at: float) -> None:
        for tier, band in zip(TIERS, self._bands[resource], strict=True):
            if band is not None:
                key = (resource, tier)
                self._states[key] = step_band(band, self._state(key), value, at)

    def _decide(self, values: dict[str, float], is_stale: bool) -> Decision:
        tier = max((self._tier(r) for r in RESOURCES), default=0)
        reasons = (self._reason(1), self._reason(2), self._reason(3))
        class_tier = max(self._class_tier(r) for r in RESOURCES)
        class_reason = self._reason(class_tier, [r for r in RESOURCES
                                                 if self._class_tier(r) >= class_tier])
        strongest = max(RESOURCES, key=self._strength)
        return Decision(
            level=self._level(strongest),
            limiting=strongest if self._strength(strongest) > (0.0, 0) else None,
            tier=tier, reasons=reasons, shed=shed_map(tier, reasons),
            max_priority=max_priority(class_tier, self._profile.critical_bypass),
            class_tier=class_tier, class_reason=class_reason if class_tier else "",
            memory_critical=(not is_stale and "memory" in values
                             and self._state(("memory", 3)).is_tripped),
            is_stale=is_stale, values=values,
        )

    def _state(self, key: tuple[str, int]) -> BandState:
        return self._states.get(key, BandState())

    def _class_tier(self, resource: str) -> int:
        tier = self._tier(resource)
        return min(tier, CPU_CLASS_TIER) if resource == "cpu" else tier

    def _tier(self, resource: str) -> int:
        return max((t for t in TIERS if self._state((resource, t)).is_tripped), default=0)

    def _level(self, resource: str) -> float:
        value = self._last.get(resource)
        high, _, critical = self._bands[resource]
        if value is None or critical is None:
            return 0.0
        if high is None:  # a single limit: nothing to grade between
            return 1.0 if value >= critical.enter else 0.0
        return graded_level(value, high.enter, critical.enter)

    def _strength(self, resource: str) -> tuple[float, int]:
        return self._level(resource), self._tier(resource)

    def _reason(self, tier: int, among: list[str] | None = None) -> str:
        if tier == 0:
            return ""
        tripped = [r for r in among or RESOURCES if self._state((r, tier)).is_tripped]
        if not tripped:
            return ""
        resource = max(tripped, key=self._strength)
        band = self._bands[resource][tier - 1]
        assert band is not None  # only a band that exists can be tripped
        label = "disk limit" if resource == "disk" else _LABELS[tier]
        where = f"the {self._profile.name} profile's {label} {show(resource, band.enter)}"
        return explain(resource, self._last.get(resource), band, where)


def tier_bands(profile: Profile) -> dict[str, TierBands]:
    """Each resource's bands for tiers 1, 2 and 3 under ``profile`` (None: no such tier)."""
    bands: dict[str, TierBands] = {"disk": (None, None, profile.disk)}
    for resource in ("cpu", "memory", "pressure"):
        high = profile.band(f"{resource}_high")
        critical = profile.band(f"{resource}_critical")
        bands[resource] = (high, midpoint(high, critical), critical)
    return bands


def midpoint(high: Band, critical: Band) -> Band:
    """The band halfway between ``high`` and ``critical``, holding as long as the longer."""
    return Band(enter=(high.enter + critical.enter) / 2, exit=(high.exit + critical.exit) / 2,
                hold_s=max(high.hold_s, critical.hold_s))


def readings(snapshot: ResourceSnapshot) -> dict[str, float]:
    """The readings of ``snapshot`` per resource; a signal it lacks is left out.

    Disk is the fullest path; pressure the larger of the memory and io ``some avg10``.
    """
    found: dict[str, float | None] = {
        "cpu": snapshot.cpu_fraction,
        "memory": snapshot.memory_fraction,
        "disk": max(snapshot.disk.values(), default=None),
        "pressure": max((snapshot.pressure[k].some_avg10 for k in _STALLS
                         if k in snapshot.pressure), default=None),
    }
    # A NaN would clear a tripped band (it is never above exit): treat it as unknown.
    return {r: v for r, v in found.items()
            if r in snapshot.signals and v is not None and math.isfinite(v)}


def explain(resource: str, value: float | None, band: Band, where: str) -> str:
    """Why ``band`` of ``resource`` is tripped at ``value``; ``where`` names the threshold."""
    if value is None:
        return f"{resource} has no reading; {where} stays tripped as last seen"
    reading = f"{resource} at {show(resource, value)}"
    if value >= band.enter:
        return f"{reading} {'is above' if value > band.enter else 'has reached'} {where}"
    below = show(resource, band.exit)
    if value >= band.exit:
        return f"{reading} has not yet fallen below {below}, where {where} clears"
    return f"{reading} has not yet stayed below {below} for {band.hold_s:g}s ({where})"


def shed_map(tier: int, reasons: tuple[str, str, str]) -> dict[Category, str | None]:
    """Each category's shedding reason at ``tier`` (None: kept on); essential never goes."""
    shed: dict[Category, str | None] = {Category.ESSENTIAL: None}
    for k, category in enumerate(SHED_ORDER, start=1):
        # The reason of the lowest tripped tier at or above k, the one closest to k.
        shed[category] = next((r for r in reasons[k - 1:] if r), "") if tier >= k else None
    return shed


def max_priority(tier: int, critical_bypass: bool) -> int:
    """The numerically highest priority class admitted at ``tier`` (-1: none)."""
    if tier == 0:
        return int(Priority.LOW)
    if tier == 3 and not critical_bypass:
        return -1
    return int(TIER_CLASSES[tier - 1]) - 1  # the class just above the one that stops here
