"""The adaptive limit on simulated time: one update per simulated second."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from zerogate.domain.concurrency import AdaptiveLimit
from zerogate.errors import InvalidConfig

Signal = Callable[[float], float]
# 32 * 0.9 rounded down, step by step, to the minimum 4.
WALK_DOWN = [28, 25, 22, 19, 17, 15, 13, 11, 9, 8, 7, 6, 5, 4]


def make(**overrides: Any) -> AdaptiveLimit:
    settings: dict[str, Any] = {"minimum": 4, "maximum": 32, "initial": 32, **overrides}
    return AdaptiveLimit(**settings)


def saturated(limit: AdaptiveLimit, seconds: int, level: Signal = lambda t: 0.0,
              latency: Callable[[float], float | None] = lambda t: None,
              start: int = 0) -> list[int]:
    """Run with every slot busy; return the limit after each second."""
    trace = []
    for t in range(start, start + seconds):
        trace.append(limit.update(now=t, level=level(t), latency_s=latency(t),
                                  in_flight=limit.limit))
    return trace


def distinct(trace: list[int]) -> list[int]:
    return [v for i, v in enumerate(trace) if i == 0 or v != trace[i - 1]]


def test_sustained_overload_walks_down_to_the_minimum_and_stays() -> None:
    limit = make()
    trace = saturated(limit, 600, level=lambda t: 0.5)
    assert distinct(trace) == WALK_DOWN
    assert trace[-1] == 4 and trace.index(4) == 65  # one step per 5 s cooldown
    assert limit.changes == 0
    assert limit.reason.startswith("held at the minimum 4: load level 0.50")


def test_a_1hz_overload_signal_lowers_the_limit_once_per_cooldown() -> None:
    limit = make()
    assert saturated(limit, 5, level=lambda t: 1.0) == [28] * 5
    assert "the next decrease is allowed in 1 s" in limit.reason
    assert limit.update(now=5, level=1.0, latency_s=None, in_flight=28) == 25


def test_sustained_idle_does_not_grow() -> None:
    limit = make(initial=4)
    for t in range(600):
        assert limit.update(now=t, level=0.0, latency_s=0.1, in_flight=0) == 4
    assert limit.reason == "held at the minimum 4: only 0 of 4 slots in use, more would not help"


def test_half_used_does_not_grow_but_one_free_slot_still_counts_as_used() -> None:
    limit = make(initial=10)
    assert limit.update(now=0, level=0.0, latency_s=None, in_flight=5) == 10
    assert limit.update(now=1, level=0.0, latency_s=None, in_flight=9) == 11


def test_a_limit_of_one_with_nothing_running_is_idle() -> None:
    limit = AdaptiveLimit(minimum=1, maximum=8)
    assert limit.update(now=0, level=0.0, latency_s=None, in_flight=0) == 1
    assert limit.update(now=1, level=0.0, latency_s=None, in_flight=1) == 2


def test_saturated_and_healthy_grows_to_the_maximum_and_stays() -> None:
    limit = make(initial=None)
    trace = saturated(limit, 600)
    assert distinct(trace) == list(range(5, 33))  # +1 per second from the minimum 4
    assert trace[-1] == 32 and limit.changes == 0
    assert limit.reason == "held at the maximum 32: healthy"


def test_growth_waits_for_the_hold_after_overload() -> None:
    limit = make()
    saturated(limit, 1, level=lambda t: 0.5)  # 32 -> 28 at t=0
    trace = saturated(limit, 40, start=1)
    assert trace[:29] == [28] * 29  # t=1..29: less than 30 s without overload
    assert trace[29:32] == [29, 30, 31]  # from t=30 on
    assert limit.changes == 1


def test_a_fast_square_wave_settles_instead_of_reversing() -> None:
    """Level 0 / 0.3 (70 % / 85 %) every 10 s for 10 minutes.

    Bound: at most one reversal a minute (10). Growth needs 30 s without overload and
    the healthy half-periods last 10 s, so the limit can only walk down, then sit.
    """
    limit = make()
    trace = saturated(limit, 600, level=lambda t: 0.3 if int(t // 10) % 2 == 0 else 0.0)
    assert limit.changes <= 10
    assert all(b <= a for a, b in itertools.pairwise(trace))
    assert trace[-1] == 4


def test_without_the_hold_the_same_wave_reverses_every_half_period() -> None:
    """The reason for the hold: a plain cooldown-only AIMD follows every half-period."""
    limit = make(hold_s=0.0)
    saturated(limit, 600, level=lambda t: 0.3 if int(t // 10) % 2 == 0 else 0.0)
    assert limit.changes >= 50


def test_a_slow_square_wave_is_followed_with_at_most_one_reversal_a_minute() -> None:
    """60 s overloaded, 60 s healthy: each healthy phase grows after the 30 s hold."""
    limit = make()
    trace = saturated(limit, 600, level=lambda t: 0.3 if int(t // 60) % 2 == 0 else 0.0)
    for start in range(0, 600, 120):
        overloaded, healthy = trace[start:start + 60], trace[start + 60:start + 120]
        assert overloaded[-1] < overloaded[0] or overloaded[0] == 4
        assert healthy[-1] > healthy[0]
    assert limit.changes == 9  # up at 90, 210, 330, 450, 570; down at 120, 240, 360, 480
    assert limit.changes <= 10


def test_latency_doubling_lowers_the_limit() -> None:
    limit = make(initial=16)
    saturated(limit, 60, latency=lambda t: 0.1)
    assert limit.limit == 32 and limit.baseline_s == pytest.approx(0.1)
    assert limit.update(now=60, level=0.0, latency_s=0.2, in_flight=32) == 28
    assert limit.reason == ("lowered to 28 from 32: median latency 0.200 s is 2.0x the "
                            "baseline 0.100 s (tolerance 2x)")


def test_sustained_slow_latency_keeps_lowering_without_teaching_the_baseline() -> None:
    limit = make()
    saturated(limit, 10, latency=lambda t: 0.1)
    trace = saturated(limit, 30, latency=lambda t: 0.3, start=10)
    assert distinct(trace) == WALK_DOWN[:6]
    assert limit.baseline_s == pytest.approx(0.1)


def test_latency_below_the_tolerance_is_not_overload() -> None:
    limit = make()
    trace = saturated(limit, 120, latency=lambda t: 0.1 if t < 10 else 0.19)
    assert trace == [32] * 120
    assert limit.baseline_s is not None and 0.1 < limit.baseline_s < 0.19  # drifts up slowly


def test_a_single_latency_spike_does_not_move_the_baseline() -> None:
    limit = make()
    saturated(limit, 30, latency=lambda t: 0.1)
    trace = saturated(limit, 60, latency=lambda t: 5.0 if t == 30 else 0.1, start=30)
    assert limit.baseline_s == pytest.approx(0.1)
    assert min(trace) == 28  # one decrease for the spike, then no false alarm
    assert trace[:30] == [28] * 30 and trace[-1] == 32  # regrown after the hold


def test_a_burst_of_fast_samples_does_not_make_normal_latency_look_slow() -> None:
    """Not Netflix's failure: a few quick tasks must not re-measure the minimum."""
    limit = make()
    saturated(limit, 30, latency=lambda t: 0.1)
    trace = saturated(limit, 40, latency=lambda t: 0.001 if t < 50 else 0.1, start=30)
    assert trace == [32] * 40  # 20 samples at 1 ms, then 0.1 s again: never overload
    assert limit.baseline_s is not None and limit.baseline_s > 0.06


def test_a_lasting_faster_normal_is_learned() -> None:
    limit = make()
    saturated(limit, 10, latency=lambda t: 0.2)
    saturated(limit, 300, latency=lambda t: 0.05, start=10)
    assert limit.baseline_s == pytest.approx(0.05, rel=0.01)


def test_at_the_minimum_a_lasting_slower_workload_becomes_the_new_normal() -> None:
    limit = make()
    saturated(limit, 10, latency=lambda t: 0.1)
    trace = saturated(limit, 600, latency=lambda t: 0.4, start=10)
    assert min(trace) == 4
    assert limit.baseline_s is not None and limit.baseline_s > 0.2
    assert trace[-1] > 4  # the limit recovers once slow is the new normal


def test_the_limit_stays_within_its_bounds_on_any_signal() -> None:
    limit = make(initial=10, decrease=0.5, increase=3, cooldown_s=0.0, hold_s=0.0)
    for t in range(2000):
        level = 1.0 if (t * 7919) % 13 < 5 else 0.0
        latency = 0.05 + ((t * 104729) % 17) / 10
        value = limit.update(now=t, level=level, latency_s=latency, in_flight=(t * 31) % 40)
        assert 4 <= value <= 32


def test_every_decrease_takes_at_least_one_slot() -> None:
    limit = AdaptiveLimit(minimum=1, maximum=5, initial=5, decrease=0.99, cooldown_s=0.0)
    trace = saturated(limit, 5, level=lambda t: 1.0)
    assert trace == [4, 3, 2, 1, 1]


def test_a_near_zero_latency_does_not_make_every_sample_an_overload() -> None:
    limit = make()
    saturated(limit, 10, latency=lambda t: 0.0)
    assert saturated(limit, 10, latency=lambda t: 0.0015, start=10) == [32] * 10


def test_the_reason_says_why_growth_waits() -> None:
    limit = make(initial=20)
    limit.update(now=0, level=0.2, latency_s=None, in_flight=20)
    limit.update(now=12, level=0.0, latency_s=None, in_flight=18)
    assert limit.reason == ("held at 18: recovering; growth resumes in 18 s, once 30 s "
                            "passed without overload")


@pytest.mark.parametrize(("settings", "message"), [
    ({"minimum": 0, "maximum": 4}, "minimum"),
    ({"minimum": 5, "maximum": 4}, "maximum"),
    ({"minimum": 2, "maximum": 4, "initial": 5}, "initial"),
    ({"minimum": 2, "maximum": 4, "initial": 1}, "initial"),
    ({"minimum": 2, "maximum": 4, "decrease": 1.0}, "decrease"),
    ({"minimum": 2, "maximum": 4, "decrease": 0.0}, "decrease"),
    ({"minimum": 2, "maximum": 4, "increase": 0}, "increase"),
    ({"minimum": 2, "maximum": 4, "cooldown_s": -1}, "cooldown_s"),
    ({"minimum": 2, "maximum": 4, "hold_s": -1}, "hold_s"),
    ({"minimum": 2, "maximum": 4, "latency_tolerance": 1.0}, "latency_tolerance"),
])
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        AdaptiveLimit(**settings)


@pytest.mark.parametrize(("level", "latency_s", "in_flight", "message"), [
    (-0.1, None, 0, "level"),
    (1.5, None, 0, "level"),
    (float("nan"), None, 0, "level"),
    (0.0, -1.0, 0, "latency_s"),
    (0.0, float("inf"), 0, "latency_s"),
    (0.0, None, -1, "in_flight"),
])
def test_bad_samples_are_refused(level: float, latency_s: float | None, in_flight: int,
                                 message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        make().update(now=0, level=level, latency_s=latency_s, in_flight=in_flight)
