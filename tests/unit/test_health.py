"""The health score: hand-computed figures for memory with high 80 % and critical 90 %."""

from __future__ import annotations

import itertools

import pytest

from zerogate.domain.health import Reading, describe, health_score, reading_score, status_of
from zerogate.errors import InvalidConfig


def memory(value: float) -> Reading:
    return Reading(value, high=0.80, critical=0.90)


@pytest.mark.parametrize(("value", "score"), [
    (0.0, 100), (0.70, 100),  # at or below 0.80 - (0.90 - 0.80)
    (0.72, 92), (0.75, 80),   # 100 - 40 * (value - 0.70) / 0.10
    (0.80, 60),               # at high
    (0.82, 48), (0.85, 30), (0.87, 18),  # 60 * (0.90 - value) / 0.10
    (0.90, 0), (1.20, 0),     # at and above critical
])
def test_one_resource_scores_linearly_between_its_thresholds(value: float, score: int) -> None:
    assert reading_score(memory(value)) == pytest.approx(score)


def test_the_score_never_rises_with_the_value_and_stays_within_0_and_100() -> None:
    scores = [reading_score(memory(i / 100)) for i in range(0, 121)]
    assert all(0 <= s <= 100 for s in scores)
    assert all(b <= a for a, b in itertools.pairwise(scores))


def test_a_wide_band_is_calm_up_to_half_its_high_threshold() -> None:
    """high 0.3, critical 0.9: a band-width below high would end below 0; half of high
    (0.15) is calm instead, so an idle reading scores 100 and 0.225 scores 80."""
    assert reading_score(Reading(0.0, high=0.3, critical=0.9)) == 100
    assert reading_score(Reading(0.15, high=0.3, critical=0.9)) == 100
    assert reading_score(Reading(0.225, high=0.3, critical=0.9)) == pytest.approx(80)
    assert reading_score(Reading(0.3, high=0.3, critical=0.9)) == pytest.approx(60)


def test_the_worst_resource_is_the_score_and_the_reason() -> None:
    health = health_score({"cpu": Reading(0.50, 0.70, 0.90), "memory": memory(0.87),
                           "disk": Reading(0.81, 0.85, 0.95)})
    assert health.score == 18 and health.limiting == "memory"
    assert health.status == "critical"
    assert health.reason == "memory at 87% is above its high threshold 80%"


def test_a_resource_nearing_high_is_named_while_still_healthy() -> None:
    health = health_score({"memory": memory(0.72), "cpu": Reading(0.1, 0.7, 0.9)})
    assert (health.score, health.limiting, health.status) == (92, "memory", "healthy")
    assert health.reason == "memory at 72% is nearing its high threshold 80%"


def test_at_critical_the_reason_says_critical() -> None:
    health = health_score({"memory": memory(0.93)})
    assert (health.score, health.status) == (0, "critical")
    assert health.reason == "memory at 93% is at or above its critical threshold 90%"


def test_calm_resources_score_100_with_nothing_limiting() -> None:
    health = health_score({"memory": memory(0.30), "cpu": Reading(0.2, 0.7, 0.9)})
    assert health == health_score({})
    assert (health.score, health.limiting, health.status) == (100, None, "healthy")
    assert health.reason == "every resource is well below its high threshold"


def test_a_penalty_is_subtracted_and_limits_when_it_costs_more() -> None:
    health = health_score({"memory": memory(0.72)}, extra={"failure_rate": 20})
    assert (health.score, health.limiting, health.status) == (72, "failure_rate", "degraded")
    assert health.reason == ("failure_rate costs 20 points; memory at 72% is nearing its "
                             "high threshold 80%")


def test_a_resource_that_costs_more_than_the_penalties_stays_limiting() -> None:
    health = health_score({"memory": memory(0.82)},
                          extra={"failure_rate": 10, "retries": 5, "quiet": 0})
    assert (health.score, health.limiting, health.status) == (33, "memory", "critical")
    assert health.reason == ("memory at 82% is above its high threshold 80%; penalties: "
                             "failure_rate -10, retries -5")


def test_penalties_floor_the_score_at_zero() -> None:
    health = health_score({"memory": memory(0.85)}, extra={"failure_rate": 150})
    assert (health.score, health.limiting, health.status) == (0, "failure_rate", "critical")


def test_stale_samples_cap_the_score_at_50() -> None:
    health = health_score({"memory": memory(0.30)}, is_stale=True)
    assert (health.score, health.limiting, health.status) == (50, "stale samples", "degraded")
    assert health.reason.startswith("samples are stale, so the score is capped at 50")


def test_stale_samples_do_not_hide_a_worse_resource() -> None:
    health = health_score({"memory": memory(0.85)}, is_stale=True)
    assert (health.score, health.limiting) == (30, "memory")
    assert health.reason == "memory at 85% is above its high threshold 80%; samples are stale"


@pytest.mark.parametrize(("score", "status"), [(100, "healthy"), (80, "healthy"),
                                               (79, "degraded"), (40, "degraded"),
                                               (39, "critical"), (0, "critical")])
def test_status_bands(score: int, status: str) -> None:
    assert status_of(score) == status


def test_describe_rounds_to_whole_percents() -> None:
    reading = Reading(0.875, 0.7, 0.95)
    assert describe("cpu", reading) == "cpu at 88% is above its high threshold 70%"


@pytest.mark.parametrize(("value", "high", "critical", "message"), [
    (0.5, 0.9, 0.9, "high"), (0.5, 0.95, 0.9, "high"), (0.5, -0.1, 0.9, "high"),
    (-0.1, 0.8, 0.9, "reading"), (float("nan"), 0.8, 0.9, "reading"),
])
def test_bad_readings_are_refused(value: float, high: float, critical: float,
                                  message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        Reading(value, high, critical)


@pytest.mark.parametrize("points", [-5.0, float("nan"), float("inf")])
def test_bad_penalties_are_refused(points: float) -> None:
    with pytest.raises(InvalidConfig, match="failure_rate"):
        health_score({}, extra={"failure_rate": points})
