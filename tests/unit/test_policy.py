"""The governor's decision step on simulated time: figures G1-G5 of RESOURCES.md and more.

Each simulation feeds one scripted snapshot per second into a Policy and the decision's
shedding into a FeatureBook with one feature per category, then counts transitions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from zerogate.domain.admission import Admission, Category
from zerogate.domain.features import Feature, FeatureBook, FeatureChange
from zerogate.domain.model import Priority
from zerogate.domain.policy import (
    Decision,
    Policy,
    max_priority,
    midpoint,
    readings,
    tier_bands,
)
from zerogate.domain.profiles import PROFILES, Profile
from zerogate.domain.resources import Pressure, ResourceSnapshot
from zerogate.domain.thresholds import Band

BALANCED, DEVELOPMENT = PROFILES["balanced"], PROFILES["development"]
INTERVAL_S = 1.0
LIMIT = 4 << 30
E, S, A, X = Category.ESSENTIAL, Category.STANDARD, Category.ADVANCED, Category.EXPERIMENTAL
SHEDDABLE = (X, A, S)
Reading = dict[str, float]


def snap(t: float, *, cpu: float | None = None, memory: float | None = None,
         disk: float | None = None, pressure: float | None = None) -> ResourceSnapshot:
    """A host snapshot taken at ``t`` carrying exactly the readings given."""
    given = {"cpu": cpu, "memory": memory, "disk": disk, "pressure": pressure}
    return ResourceSnapshot(
        taken_at=t, scope="host", cpu_fraction=cpu, cpu_limit_cores=2.0,
        memory_used_bytes=None if memory is None else int(memory * LIMIT),
        memory_limit_bytes=LIMIT, memory_fraction=memory,
        disk={} if disk is None else {"/": disk},
        pressure={} if pressure is None else {"io": Pressure(pressure, None)},
        signals=frozenset(name for name, value in given.items() if value is not None),
    )


@dataclass
class Sim:
    policy: Policy
    book: FeatureBook
    decisions: dict[float, Decision] = field(default_factory=dict)
    changes: list[FeatureChange] = field(default_factory=list)

    def run(self, signal: Callable[[float], Reading], start: float, seconds: float) -> Sim:
        t = start
        while t < start + seconds:
            decision = self.policy.step(snap(t, **signal(t)), t)
            self.decisions[t] = decision
            self.changes += self.book.apply(decision.shed, t)
            t += INTERVAL_S
        return self

    def moves(self, category: Category) -> list[tuple[float, bool]]:
        return [(c.at, c.is_on) for c in self.changes if c.name == category.value]


def simulate(signal: Callable[[float], Reading], seconds: float,
             profile: Profile = BALANCED) -> Sim:
    book = FeatureBook(Feature(c.value, c) for c in Category)
    return Sim(Policy(profile), book).run(signal, 0.0, seconds)


def square(resource: str, high: float, low: float, half_period_s: float
           ) -> Callable[[float], Reading]:
    return lambda t: {resource: high if int(t // half_period_s) % 2 == 0 else low}


# ---- G1-G5 ----

@pytest.mark.parametrize(("resource", "enter", "points"), [
    ("cpu", 0.70, 0.01), ("cpu", 0.775, 0.01), ("cpu", 0.85, 0.01),
    ("memory", 0.80, 0.01), ("memory", 0.85, 0.01), ("memory", 0.90, 0.01),
    ("disk", 0.90, 0.01), ("pressure", 20.0, 1.0), ("pressure", 35.0, 1.0),
    ("pressure", 50.0, 1.0),
])
def test_g1_noise_around_an_enter_threshold_switches_each_feature_at_most_twice(
        resource: str, enter: float, points: float) -> None:
    rng = random.Random(f"{resource}{enter}")
    sim = simulate(lambda t: {resource: enter + rng.uniform(-3, 3) * points}, 600)
    assert sim.changes, "the noise reaches the threshold, so something must be shed"
    for category in Category:
        assert len(sim.moves(category)) <= 2, category
    assert sim.moves(E) == []


def test_g2_a_fast_square_wave_sheds_once_and_restores_nothing() -> None:
    """70 % / 85 % CPU alternating every 10 s under balanced, for 10 minutes."""
    sim = simulate(square("cpu", 0.85, 0.70, 10), 600)
    for category in SHEDDABLE:
        for window in (0, 300):
            moves = [m for m in sim.moves(category) if window <= m[0] < window + 300]
            assert sum(not on for _, on in moves) <= 1 and sum(on for _, on in moves) <= 1
        assert sim.moves(category) == [(0.0, False)]
    # CPU stops the low class only: medium and high work slow down, they do not stop.
    assert {d.max_priority for d in sim.decisions.values()} == {Priority.MEDIUM}


def test_g3_a_slow_square_wave_is_followed_where_it_crosses_an_exit() -> None:
    """The same wave with a 120 s period: 70 % stays above the exits of tiers 1 and 2."""
    sim = simulate(square("cpu", 0.85, 0.70, 60), 600)
    assert sim.moves(X) == sim.moves(A) == [(0.0, False)]
    # Below the critical exit (75 %) from each low phase's start: back a hold later.
    assert sim.moves(S) == [(p * 120.0 + offset, on) for p in range(5)
                            for offset, on in ((0.0, False), (90.0, True))]
    assert {sim.decisions[t].max_priority for t in (89.0, 90.0, 120.0)} == {Priority.MEDIUM}


def test_g3_a_slow_wave_through_every_exit_moves_every_category() -> None:
    sim = simulate(square("cpu", 0.85, 0.50, 60), 600)
    for category in SHEDDABLE:
        assert sim.moves(category) == [(p * 120.0 + offset, on) for p in range(5)
                                       for offset, on in ((0.0, False), (90.0, True))]


@pytest.mark.parametrize(("profile", "admitted"), [(BALANCED, Priority.CRITICAL),
                                                   (DEVELOPMENT, -1)])
def test_g4_crossing_critical_stops_the_lower_classes_at_the_first_sample(
        profile: Profile, admitted: int) -> None:
    above = (profile.memory_critical.enter + 0.01)
    sim = simulate(lambda t: {"memory": 0.30 if t < 10 else above}, 11, profile)
    before, after = sim.decisions[9.0], sim.decisions[10.0]
    assert (before.tier, before.max_priority) == (0, Priority.LOW)
    assert (after.tier, after.max_priority) == (3, admitted)
    assert after.shed[S] is not None and (10.0, False) in sim.moves(S)
    admission = Admission(max_priority=after.max_priority, features_off=sim.book.off_names(),
                          essential=sim.book.essential_names())
    assert not admission.passes(Priority.HIGH, None)
    assert admission.passes(Priority.CRITICAL, None) is (admitted == Priority.CRITICAL)
    assert admission.passes(Priority.LOW, "essential")  # essential work still goes
    assert not admission.passes(Priority.CRITICAL, "standard")


@pytest.mark.parametrize(("resource", "high", "low"), [
    ("cpu", 0.95, 0.40), ("memory", 0.95, 0.40), ("disk", 0.95, 0.40),
    ("pressure", 80.0, 5.0),
])
def test_g5_sustained_recovery_restores_within_hold_plus_one_interval(
        resource: str, high: float, low: float) -> None:
    sim = simulate(lambda t: {resource: high if t < 100 else low}, 300)
    for category in SHEDDABLE:
        (shed_at, _), (back_at, is_on) = sim.moves(category)
        assert shed_at == 0.0 and is_on
        # Not a sample earlier than the hold (no flapping), not more than one later.
        assert BALANCED.cpu_high.hold_s <= back_at - 100 <= BALANCED.cpu_high.hold_s + 1


# ---- stale and missing readings (rule 10) ----

def test_a_stale_snapshot_never_trips_anything() -> None:
    policy = Policy(BALANCED)
    policy.step(snap(0.0, cpu=0.5), 0.0)
    decision = policy.step(snap(1.0, cpu=0.99, memory=0.99, disk=0.99), 3.01)
    assert decision.is_stale and decision.tier == 0 and decision.values == {}
    assert decision.max_priority == Priority.LOW and not decision.memory_critical
    assert all(why is None for why in decision.shed.values())
    assert policy.step(snap(1.0, cpu=0.99), 3.0).tier == 3  # two intervals old: fresh


def test_a_stale_snapshot_neither_clears_nor_evicts_nor_runs_a_hold() -> None:
    policy = Policy(BALANCED)
    assert policy.step(snap(0.0, memory=0.95), 0.0).memory_critical
    for now in range(3, 200):
        decision = policy.step(snap(0.0, memory=0.10), float(now))
        assert decision.is_stale and decision.tier == 3 and not decision.memory_critical
        assert decision.level == 1.0 and decision.limiting == "memory"
    assert policy.step(snap(200.0, memory=0.10), 200.0).tier == 3  # the hold starts now
    assert policy.step(snap(229.0, memory=0.10), 229.0).tier == 3
    assert policy.step(snap(230.0, memory=0.10), 230.0).tier == 0


def test_a_missing_signal_keeps_its_bands_and_its_level() -> None:
    policy = Policy(BALANCED)
    policy.step(snap(0.0, memory=0.95, cpu=0.2), 0.0)
    for t in range(1, 300):
        decision = policy.step(snap(float(t), cpu=0.1), float(t))
    assert decision.tier == 3 and decision.values == {"cpu": 0.1}
    assert decision.reasons[2] == ("memory at 95% is above the balanced profile's "
                                   "critical threshold 90%")
    assert (decision.level, decision.limiting) == (1.0, "memory")
    assert not decision.memory_critical  # no fresh memory reading: no eviction


def test_a_missing_signal_never_trips() -> None:
    unlisted = ResourceSnapshot(taken_at=0.0, scope="host", cpu_fraction=0.99,
                                cpu_limit_cores=2.0, memory_used_bytes=None,
                                memory_limit_bytes=LIMIT, memory_fraction=None)
    decision = Policy(BALANCED).step(unlisted, 0.0)
    assert (decision.tier, decision.level, decision.limiting) == (0, 0.0, None)
    assert decision.values == {} and decision.max_priority == Priority.LOW


def test_a_nan_reading_is_unknown_and_does_not_clear_a_band() -> None:
    policy = Policy(BALANCED)
    policy.step(snap(0.0, cpu=0.9), 0.0)
    for t in range(1, 100):
        decision = policy.step(snap(float(t), cpu=math.nan), float(t))
    assert decision.tier == 3 and "cpu" not in decision.values


# ---- runtime profile switch ----

def test_a_switch_applies_the_new_thresholds_at_the_next_step() -> None:
    policy = Policy(BALANCED)
    assert policy.step(snap(0.0, cpu=0.75), 0.0).tier == 1
    policy.switch(DEVELOPMENT)
    assert policy.profile is DEVELOPMENT
    decision = policy.step(snap(1.0, cpu=0.75), 1.0)
    assert (decision.tier, decision.max_priority) == (2, Priority.MEDIUM)  # CPU: low only
    assert decision.reasons[:2] == (
        "cpu at 75% is above the development profile's high threshold 60%",
        "cpu at 75% is above the development profile's elevated threshold 70%")


def test_a_switch_keeps_the_bands_and_lets_them_clear_under_the_new_exits() -> None:
    policy = Policy(DEVELOPMENT)
    policy.step(snap(0.0, cpu=0.75), 0.0)
    policy.switch(BALANCED)
    held = policy.step(snap(1.0, cpu=0.75), 1.0)
    assert held.tier == 2  # balanced would not trip tier 2 at 75 %, but keeps it
    assert held.reasons[1] == ("cpu at 75% has not yet fallen below 67.5%, where the "
                               "balanced profile's elevated threshold 77.5% clears")
    for t in range(2, 33):
        decision = policy.step(snap(float(t), cpu=0.65), float(t))
        assert decision.tier == (2 if t < 32 else 1), t


def test_a_switch_to_a_profile_without_bypass_closes_the_critical_class() -> None:
    policy = Policy(BALANCED)
    assert policy.step(snap(0.0, memory=0.95), 0.0).max_priority == Priority.CRITICAL
    policy.switch(DEVELOPMENT)
    assert policy.step(snap(1.0, memory=0.95), 1.0).max_priority == -1


def test_cpu_at_critical_sheds_every_category_but_stops_only_the_low_class() -> None:
    policy = Policy(BALANCED)
    decision = policy.step(snap(0.0, cpu=0.99), 0.0)
    assert decision.tier == 3 and decision.shed[S] is not None
    assert (decision.class_tier, decision.max_priority) == (1, Priority.MEDIUM)
    assert decision.class_reason == ("cpu at 99% is above the balanced profile's high "
                                     "threshold 70%")
    both = policy.step(snap(1.0, cpu=0.99, memory=0.95), 1.0)
    assert (both.class_tier, both.max_priority) == (3, Priority.CRITICAL)
    assert both.class_reason.startswith("memory at 95%")


# ---- what a decision says ----

@pytest.mark.parametrize(("memory", "reason"), [
    (0.91, "memory at 91% is above the balanced profile's critical threshold 90%"),
    (0.90, "memory at 90% has reached the balanced profile's critical threshold 90%"),
    (0.87, "memory at 87% has not yet fallen below 85%, where the balanced profile's "
           "critical threshold 90% clears"),
    (0.83, "memory at 83% has not yet stayed below 85% for 30s (the balanced profile's "
           "critical threshold 90%)"),
])
def test_reasons_name_resource_value_threshold_and_profile(memory: float, reason: str) -> None:
    policy = Policy(BALANCED)
    policy.step(snap(0.0, memory=0.95), 0.0)
    decision = policy.step(snap(1.0, memory=memory), 1.0)
    assert decision.reasons[2] == reason
    assert decision.shed[S] == reason


def test_each_category_is_shed_with_the_reason_of_its_tier() -> None:
    decision = Policy(BALANCED).step(snap(0.0, memory=0.86), 0.0)
    assert decision.tier == 2
    assert decision.reasons == (
        "memory at 86% is above the balanced profile's high threshold 80%",
        "memory at 86% is above the balanced profile's elevated threshold 85%", "")
    assert decision.shed == {E: None, X: decision.reasons[0], A: decision.reasons[1],
                             S: None}
    assert decision.max_priority == Priority.HIGH and not decision.memory_critical


def test_a_full_disk_is_tier_three_alone_and_sheds_everything_but_essential() -> None:
    decision = Policy(BALANCED).step(snap(0.0, disk=0.95, cpu=0.1), 0.0)
    why = "disk at 95% is above the balanced profile's disk limit 90%"
    assert (decision.tier, decision.reasons) == (3, ("", "", why))
    assert decision.shed == {E: None, X: why, A: why, S: why}
    assert (decision.level, decision.limiting) == (1.0, "disk")
    assert Policy(BALANCED).step(snap(0.0, disk=0.89), 0.0).level == 0.0


def test_the_strongest_resource_gives_the_level_and_the_reason() -> None:
    decision = Policy(BALANCED).step(snap(0.0, cpu=0.775, memory=0.82), 0.0)
    assert decision.level == pytest.approx(0.5) and decision.limiting == "cpu"
    assert decision.reasons[0].startswith("cpu at 77.5% ")
    assert decision.values == {"cpu": 0.775, "memory": 0.82}
    calm = Policy(BALANCED).step(snap(0.0, cpu=0.3, memory=0.3), 0.0)
    assert (calm.level, calm.limiting, calm.tier) == (0.0, None, 0)
    assert calm.reasons == ("", "", "")


def test_a_band_held_by_hysteresis_is_still_the_limiting_resource() -> None:
    policy = Policy(BALANCED)
    policy.step(snap(0.0, cpu=0.72), 0.0)
    decision = policy.step(snap(1.0, cpu=0.65), 1.0)
    assert (decision.level, decision.limiting, decision.tier) == (0.0, "cpu", 1)


def test_memory_critical_holds_through_the_hysteresis_of_the_critical_band() -> None:
    policy = Policy(BALANCED)
    assert policy.step(snap(0.0, memory=0.92), 0.0).memory_critical
    assert policy.step(snap(1.0, memory=0.87), 1.0).memory_critical  # above the exit
    stale = policy.step(snap(1.0, memory=0.87), 4.0)
    assert stale.is_stale and stale.tier == 3 and not stale.memory_critical
    for t in range(2, 32):  # below the exit: critical until the hold has passed
        assert policy.step(snap(float(t), memory=0.80), float(t)).memory_critical
    decision = policy.step(snap(32.0, memory=0.80), 32.0)
    assert not decision.memory_critical and decision.tier == 2


def test_pressure_is_the_larger_of_memory_and_io_stalls() -> None:
    base = snap(0.0, cpu=0.1)
    psi = {"memory": Pressure(40.0, 5.0), "io": Pressure(10.0, None),
           "cpu": Pressure(99.0, None)}
    both = ResourceSnapshot(**{**_fields(base), "pressure": psi,
                               "signals": frozenset({"cpu", "pressure"})})
    assert readings(both)["pressure"] == 40.0
    decision = Policy(BALANCED).step(both, 0.0)
    assert decision.tier == 2 and decision.limiting == "pressure"
    cpu_only = ResourceSnapshot(**{**_fields(base), "pressure": {"cpu": Pressure(99.0, None)},
                                   "signals": frozenset({"cpu", "pressure"})})
    assert "pressure" not in readings(cpu_only)


def test_disk_reads_the_fullest_path() -> None:
    many = ResourceSnapshot(**{**_fields(snap(0.0)), "disk": {"/": 0.5, "/data": 0.93},
                               "signals": frozenset({"disk"})})
    assert readings(many) == {"disk": 0.93}


def _fields(snapshot: ResourceSnapshot) -> dict[str, object]:
    return {name: getattr(snapshot, name) for name in snapshot.__dataclass_fields__}


@pytest.mark.parametrize(("tier", "bypass", "expected"), [
    (0, True, 3), (1, True, 2), (2, True, 1), (3, True, 0),
    (0, False, 3), (1, False, 2), (2, False, 1), (3, False, -1),
])
def test_max_priority_falls_one_class_per_tier(tier: int, bypass: bool,
                                               expected: int) -> None:
    assert max_priority(tier, bypass) == expected


def test_tier_two_sits_midway_and_disk_has_only_tier_three() -> None:
    bands = tier_bands(BALANCED)
    assert bands["cpu"][0] == BALANCED.cpu_high and bands["cpu"][2] == BALANCED.cpu_critical
    assert (bands["cpu"][1].enter, bands["cpu"][1].exit) == pytest.approx((0.775, 0.675))
    assert bands["disk"] == (None, None, BALANCED.disk)
    slow = midpoint(Band(enter=0.7, exit=0.6, hold_s=10), Band(enter=0.9, exit=0.8, hold_s=40))
    assert slow.hold_s == 40  # restoring waits for the longer hold
