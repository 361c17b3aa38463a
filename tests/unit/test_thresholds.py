"""Bands on simulated time: the anti-flapping figures G1, G2, G3 and G5 of RESOURCES.md."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from zerogate.domain.thresholds import CLEAR, Band, BandState, graded_level, step_band
from zerogate.errors import InvalidConfig

BAND = Band(enter=80.0, exit=70.0, hold_s=30.0)
INTERVAL_S = 1.0


def run(signal: Callable[[float], float], seconds: float,
        band: Band = BAND) -> list[tuple[float, bool]]:
    """Feed one sample per interval; return (time, tripped) at every transition."""
    state, moves, t = CLEAR, [], 0.0
    while t < seconds:
        after = step_band(band, state, signal(t), t)
        if after.is_tripped != state.is_tripped:
            moves.append((t, after.is_tripped))
        state, t = after, t + INTERVAL_S
    return moves


def test_g1_noise_around_the_enter_threshold_trips_once() -> None:
    rng = random.Random(1)
    moves = run(lambda t: 80.0 + rng.uniform(-3, 3), 600)
    assert len(moves) <= 2
    assert moves[0][1] is True


def test_a_single_threshold_would_flap_on_the_same_noise() -> None:
    """The reason for the pair: the same noise on a bare threshold flaps constantly."""
    rng = random.Random(1)
    bare = Band(enter=80.0, exit=79.999, hold_s=0.0)
    assert len(run(lambda t: 80.0 + rng.uniform(-3, 3), 600, bare)) > 100


def test_g2_a_square_wave_faster_than_the_hold_sheds_once_and_holds() -> None:
    """70 % / 85 % alternating every 10 s: at most 1 shed and 1 restore per 5 minutes."""
    moves = run(lambda t: 85.0 if int(t // 10) % 2 == 0 else 70.0, 300)
    assert [tripped for _, tripped in moves] == [True]


def test_g3_a_slow_square_wave_is_followed() -> None:
    """The same wave with a 120 s period: every high phase sheds, every low one restores."""
    moves = run(lambda t: 85.0 if int(t // 60) % 2 == 0 else 60.0, 600)
    assert [tripped for _, tripped in moves] == [True, False] * 5
    for (t_on, _), (t_off, _) in zip(moves[::2], moves[1::2], strict=True):
        assert t_off - t_on == 60.0 + BAND.hold_s  # restored a hold after the drop


def test_g5_sustained_recovery_restores_within_hold_plus_one_interval() -> None:
    moves = run(lambda t: 90.0 if t < 100 else 50.0, 300)
    assert moves[0] == (0.0, True)
    assert moves[1][1] is False and moves[1][0] - 100 <= BAND.hold_s + INTERVAL_S


def test_shedding_is_immediate_and_a_blip_above_exit_restarts_the_hold() -> None:
    state = step_band(BAND, CLEAR, 80.0, 0.0)
    assert state == BandState(True)
    state = step_band(BAND, state, 60.0, 1.0)
    assert state == BandState(True, 1.0)
    state = step_band(BAND, state, 75.0, 20.0)  # above exit: the hold starts over
    assert state == BandState(True)
    state = step_band(BAND, state, 60.0, 21.0)
    assert step_band(BAND, state, 60.0, 50.0).is_tripped
    assert not step_band(BAND, state, 60.0, 51.0).is_tripped


@pytest.mark.parametrize(("value", "level"), [(50, 0.0), (70, 0.0), (77.5, 0.5), (85, 1.0),
                                              (99, 1.0)])
def test_graded_level_scales_between_high_and_critical(value: float, level: float) -> None:
    assert graded_level(value, high=70, critical=85) == pytest.approx(level)


def test_bands_that_would_flap_are_refused() -> None:
    with pytest.raises(InvalidConfig, match="exit"):
        Band(enter=80, exit=80, hold_s=30)
    with pytest.raises(InvalidConfig, match="hold_s"):
        Band(enter=80, exit=70, hold_s=-1)
    with pytest.raises(InvalidConfig, match="high"):
        graded_level(50, high=90, critical=80)
