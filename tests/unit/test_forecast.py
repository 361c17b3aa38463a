"""Forecasts on simulated time: figure G8 of RESOURCES.md and the edges of the fit."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable

import pytest

from zerogate.domain.forecast import EarlyWarning, Forecaster
from zerogate.errors import InvalidConfig, InvalidInput

THRESHOLD = 85.0
HORIZON_S = 120.0
FLOOR = 60.0


def ramp(t: float) -> float:
    """40 % to 90 % over 10 minutes: crosses ``THRESHOLD`` at t = 540 s."""
    return 40.0 + 50.0 * t / 600.0


CROSSING_S = 540.0


def noisy(signal: Callable[[float], float], seed: int, sd: float = 2.0,
          seconds: int = 600) -> list[tuple[float, float]]:
    """One sample a second of ``signal`` plus seeded Gaussian noise."""
    rng = random.Random(seed)
    return [(float(t), signal(t) + rng.gauss(0.0, sd)) for t in range(seconds)]


def warnings(samples: list[tuple[float, float]], warning: EarlyWarning,
             forecaster: Forecaster | None = None) -> list[float]:
    """Feed every sample to a forecaster and the warning; return the times it warned."""
    forecaster = forecaster or Forecaster()
    warned = []
    for t, value in samples:
        forecaster.observe(t, value)
        if warning.step(value, forecaster.time_to(THRESHOLD, t)):
            warned.append(t)
    return warned


@pytest.mark.parametrize("seed", range(5))
def test_g8_median_time_to_threshold_error_is_within_25_percent(seed: int) -> None:
    forecaster = Forecaster(window_s=300.0)
    errors = []
    for t, value in noisy(ramp, seed):
        forecaster.observe(t, value)
        if 300 <= t < CROSSING_S:  # the window has filled, the crossing is ahead
            eta = forecaster.time_to(THRESHOLD, t)
            assert eta is not None
            errors.append(abs(eta - (CROSSING_S - t)) / (CROSSING_S - t))
    assert len(errors) == 240
    assert statistics.median(errors) <= 0.25


@pytest.mark.parametrize("seed", range(5))
def test_g8_the_warning_comes_at_least_0_8_of_the_horizon_ahead(seed: int) -> None:
    warned = warnings(noisy(ramp, seed), EarlyWarning(FLOOR, HORIZON_S, hold_samples=5))
    assert warned, "a ramp through the threshold must warn"
    assert warned[0] <= CROSSING_S - 0.8 * HORIZON_S
    # ... and not long before the horizon opens: the forecast, not the floor, decides.
    assert warned[0] >= CROSSING_S - HORIZON_S - 15


@pytest.mark.parametrize("burst", [1, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_g8_a_burst_on_a_flat_signal_never_warns(burst: int, seed: int) -> None:
    samples = noisy(lambda t: 50.0, seed, sd=1.0)
    for t in range(400, 400 + burst):
        samples[t] = (float(t), 99.0)
    assert warnings(samples, EarlyWarning(FLOOR, HORIZON_S, hold_samples=5)) == []


def test_a_single_spike_does_not_move_the_anchored_forecast_inside_the_horizon() -> None:
    """Even with no hold: the line is anchored at its fitted value, not at the spike."""
    forecaster = Forecaster()
    for t, value in noisy(lambda t: 50.0, seed=3, sd=1.0, seconds=400):
        forecaster.observe(t, value)
    forecaster.observe(400.0, 99.0)
    eta = forecaster.time_to(THRESHOLD, 400.0)
    assert eta is not None and eta > 10 * HORIZON_S
    assert not EarlyWarning(FLOOR, HORIZON_S, hold_samples=1).step(99.0, eta)


@pytest.mark.parametrize("seed", range(5))
def test_a_flat_noisy_signal_below_the_floor_never_warns(seed: int) -> None:
    assert warnings(noisy(lambda t: 50.0, seed), EarlyWarning(FLOOR, HORIZON_S)) == []


@pytest.mark.parametrize("seed", range(20))
def test_a_flat_noisy_signal_above_the_floor_never_warns_even_while_warming_up(
        seed: int) -> None:
    """Above the floor only the forecast guards; a few noisy seconds must not fool it."""
    samples = noisy(lambda t: 75.0, seed)
    assert warnings(samples, EarlyWarning(70.0, HORIZON_S, hold_samples=1)) == []


def test_the_forecast_waits_until_the_samples_span_min_span_s() -> None:
    forecaster = Forecaster(window_s=300.0)  # min_span_s defaults to a quarter: 75 s
    for t in range(75):
        forecaster.observe(float(t), float(t))
    assert forecaster.slope_per_s() == pytest.approx(1.0)
    assert forecaster.time_to(100.0, 74.0) is None
    forecaster.observe(75.0, 75.0)
    assert forecaster.time_to(100.0, 75.0) == pytest.approx(25.0)


def test_no_data_gives_no_level_slope_or_forecast() -> None:
    forecaster = Forecaster(min_span_s=0.0)
    assert forecaster.level is None
    assert forecaster.slope_per_s() is None
    assert forecaster.time_to(THRESHOLD, 0.0) is None


def test_two_samples_or_no_time_spread_give_no_slope() -> None:
    forecaster = Forecaster(min_span_s=0.0)
    forecaster.observe(0.0, 10.0)
    forecaster.observe(1.0, 20.0)
    assert forecaster.slope_per_s() is None  # two points fit any line exactly
    same_time = Forecaster(min_span_s=0.0)
    for value in (10.0, 20.0, 30.0):
        same_time.observe(5.0, value)
    assert same_time.slope_per_s() is None
    assert same_time.time_to(100.0, 5.0) is None


def test_a_falling_or_flat_line_below_the_threshold_never_reaches_it() -> None:
    falling, flat = Forecaster(min_span_s=0.0), Forecaster(min_span_s=0.0)
    for t in range(10):
        falling.observe(float(t), 80.0 - t)
        flat.observe(float(t), 50.0)
    assert falling.slope_per_s() == pytest.approx(-1.0)
    assert falling.time_to(THRESHOLD, 9.0) is None
    assert flat.slope_per_s() == pytest.approx(0.0)
    assert flat.time_to(THRESHOLD, 9.0) is None


def test_already_at_or_above_the_threshold_is_zero_seconds_away_even_when_falling() -> None:
    forecaster = Forecaster(min_span_s=0.0)
    for t in range(10):
        forecaster.observe(float(t), 100.0 - t)  # fitted value at t=9 is 91
    assert forecaster.time_to(91.0, 9.0) == 0.0
    assert forecaster.time_to(90.0, 9.0) == 0.0
    assert forecaster.time_to(92.0, 9.0) is None


def test_time_to_extrapolates_the_fitted_line_from_now_not_from_the_last_sample() -> None:
    forecaster = Forecaster(min_span_s=0.0)
    for t, value in [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 9.0)]:
        forecaster.observe(t, value)
    # Least squares through those points: slope 2.8, fitted value at t=3 is 7.2.
    assert forecaster.slope_per_s() == pytest.approx(2.8)
    assert forecaster.time_to(10.0, 3.0) == pytest.approx((10.0 - 7.2) / 2.8)
    # Half a second later the same line is half a second closer: ``now`` moves along it.
    assert forecaster.time_to(10.0, 3.5) == pytest.approx((10.0 - 8.6) / 2.8)


def test_samples_older_than_the_window_are_forgotten() -> None:
    forecaster = Forecaster(window_s=10.0, min_span_s=0.0)
    for t in range(20):  # first falling, then rising for the last 11 seconds
        forecaster.observe(float(t), 100.0 - t if t < 9 else float(t))
    assert forecaster.slope_per_s() == pytest.approx(1.0)


def test_level_is_exponentially_smoothed() -> None:
    forecaster = Forecaster(alpha=0.5)
    forecaster.observe(0.0, 10.0)
    assert forecaster.level == 10.0
    forecaster.observe(1.0, 20.0)
    assert forecaster.level == 15.0
    forecaster.observe(2.0, 20.0)
    assert forecaster.level == 17.5


def test_bad_samples_are_refused() -> None:
    forecaster = Forecaster()
    forecaster.observe(5.0, 1.0)
    with pytest.raises(InvalidInput, match="time order"):
        forecaster.observe(4.0, 1.0)
    with pytest.raises(InvalidInput, match="finite"):
        forecaster.observe(6.0, float("nan"))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"window_s": 0.0}, "window_s"),
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": 1.5}, "alpha"),
    ({"window_s": 10.0, "min_span_s": 11.0}, "min_span_s"),
    ({"min_span_s": -1.0}, "min_span_s"),
])
def test_forecasters_that_cannot_work_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidConfig, match=match):
        Forecaster(**kwargs)


def test_the_warning_needs_floor_and_forecast_held_for_hold_samples() -> None:
    warning = EarlyWarning(floor=60.0, horizon_s=120.0, hold_samples=3)
    assert [warning.step(70.0, 100.0) for _ in range(4)] == [False, False, True, True]
    assert warning.step(70.0, 121.0) is False  # forecast beyond the horizon: count restarts
    assert [warning.step(70.0, 120.0) for _ in range(3)] == [False, False, True]
    assert warning.step(59.9, 10.0) is False  # below the floor
    assert [warning.step(60.0, 0.0) for _ in range(3)] == [False, False, True]
    assert warning.step(90.0, None) is False  # no forecast: no warning
    assert warning.step(90.0, 0.0) is False


@pytest.mark.parametrize(("horizon_s", "hold"), [(0.0, 5), (-1.0, 5), (120.0, 0)])
def test_warnings_that_cannot_work_are_refused(horizon_s: float, hold: int) -> None:
    with pytest.raises(InvalidConfig):
        EarlyWarning(60.0, horizon_s, hold)
