"""Capacity plans with hand-computed figures (Little's law: throughput = slots / service)."""

from __future__ import annotations

from typing import Any

import pytest

from zerogate.domain.capacity import CapacityPlan, Scaling, plan
from zerogate.errors import InvalidConfig

# 9 slots x 0.5 s = 18 tasks/s against 13 arriving: 12,000 drain at 5/s in 2,400 s.
# Within 600 s: (13 + 12,000 / 600) x 0.5 = 16.5, so 17 slots.
BUSY: dict[str, Any] = {"backlog": 12_000, "arrival_per_s": 13.0, "service_s": 0.5,
                        "concurrency": 9, "target_drain_s": 600.0}
NEED = "backlog 12,000 drains in 40 min at 5.0 tasks/s; 17 slots drain it in 10 min"


def test_a_draining_backlog_with_headroom_scales_up() -> None:
    result = plan(**BUSY)
    assert result == CapacityPlan(
        throughput_per_s=18.0, drain_s=2400.0, needed_concurrency=17, needed_workers=None,
        utilisation=result.utilisation,
        scaling=Scaling("scale_up", f"{NEED}; raise concurrency from 9 to 17"))
    assert result.utilisation == pytest.approx(13 * 0.5 / 9)


def test_near_the_resource_limit_it_scales_out_and_counts_workers() -> None:
    result = plan(**BUSY, per_worker=8, resource_level=0.6)
    assert result.needed_workers == 3  # ceil(17 / 8)
    assert result.scaling == Scaling("scale_out", (
        f"{NEED}, but resources are near their limit (level 0.60); at 8 slots per worker "
        "that is 3 workers"))


def test_a_level_of_exactly_one_half_is_already_near_the_limit() -> None:
    assert plan(**BUSY, resource_level=0.5).scaling.action == "scale_out"
    assert plan(**BUSY, resource_level=0.49).scaling.action == "scale_up"


def test_a_resource_forecast_to_cross_during_the_drain_scales_out() -> None:
    result = plan(**BUSY, resource_eta_s={"cpu": 900.0, "memory": 360.0, "disk": None,
                                          "io": 500.0})
    assert result.scaling == Scaling("scale_out", (
        f"{NEED}, but memory is forecast to reach its threshold in 6 min"))


def test_forecasts_beyond_the_drain_do_not_stop_scaling_up() -> None:
    result = plan(**BUSY, resource_eta_s={"cpu": 601.0, "disk": None})
    assert result.scaling.action == "scale_up"
    assert plan(**BUSY, resource_eta_s={"cpu": 600.0}).scaling.action == "scale_out"


def test_a_backlog_that_never_drains() -> None:
    # 10 slots x 1 s = 10 tasks/s against 12: grows by 2/s. (12 + 500 / 120) x 1 = 16.2.
    result = plan(backlog=500, arrival_per_s=12.0, service_s=1.0, concurrency=10,
                  target_drain_s=120.0)
    assert (result.throughput_per_s, result.drain_s) == (10.0, None)
    assert result.needed_concurrency == 17
    assert result.utilisation == pytest.approx(1.2)
    assert result.scaling == Scaling("scale_up", (
        "backlog 500 never drains: 12.0 tasks/s arrive, 10.0 complete; 17 slots drain it in "
        "2 min; raise concurrency from 10 to 17"))


def test_arrivals_outpacing_completions_with_no_backlog_yet() -> None:
    result = plan(backlog=0, arrival_per_s=12.0, service_s=1.0, concurrency=10,
                  target_drain_s=600.0)
    assert (result.drain_s, result.needed_concurrency) == (None, 12)
    assert result.scaling.reason == ("a backlog builds: 12.0 tasks/s arrive, 10.0 complete; "
                                     "12 slots keep up; raise concurrency from 10 to 12")


def test_low_utilisation_without_backlog_scales_down() -> None:
    # 10 slots x 0.5 s = 20 tasks/s; 4 arrive: 4 x 0.5 / 10 = 20 % busy, 2 slots suffice.
    result = plan(backlog=0, arrival_per_s=4.0, service_s=0.5, concurrency=10,
                  target_drain_s=600.0)
    assert (result.drain_s, result.needed_concurrency) == (0.0, 2)
    assert result.utilisation == pytest.approx(0.2)
    assert result.scaling == Scaling("scale_down", (
        "utilisation 20% with no backlog: 2 slots would carry 4.0 tasks/s"))


def test_no_arrivals_at_all_still_suggests_one_slot() -> None:
    result = plan(backlog=0, arrival_per_s=0.0, service_s=1.0, concurrency=4,
                  target_drain_s=60.0)
    assert result.needed_concurrency == 0
    assert result.scaling.reason == ("utilisation 0% with no backlog: 1 slot would carry "
                                     "0.0 tasks/s")


def test_enough_slots_hold() -> None:
    # 8 tasks/s against 5: 100 drain at 3/s in 33 s; (5 + 100 / 60) x 1 = 6.7, so 7 <= 8.
    result = plan(backlog=100, arrival_per_s=5.0, service_s=1.0, concurrency=8,
                  target_drain_s=60.0)
    assert result.drain_s == pytest.approx(100 / 3)
    assert result.needed_concurrency == 7
    assert result.scaling == Scaling("hold", (
        "backlog 100 drains in 33 s at 3.0 tasks/s; 8 slots run at 62% utilisation"))


def test_low_utilisation_with_a_backlog_holds() -> None:
    result = plan(backlog=10, arrival_per_s=1.0, service_s=1.0, concurrency=10,
                  target_drain_s=600.0)
    assert result.utilisation == pytest.approx(0.1)
    assert result.scaling.action == "hold"


def test_utilisation_of_exactly_30_percent_holds() -> None:
    result = plan(backlog=0, arrival_per_s=3.0, service_s=1.0, concurrency=10,
                  target_drain_s=600.0)
    assert result.scaling.action == "hold"
    assert result.scaling.reason == "no backlog; 10 slots run at 30% utilisation"


def test_balanced_rates_drain_nothing_and_grow_nothing() -> None:
    balanced: dict[str, Any] = {"arrival_per_s": 5.0, "service_s": 1.0, "concurrency": 5,
                "target_drain_s": 60.0}
    assert plan(backlog=0, **balanced).drain_s == 0.0
    assert plan(backlog=1, **balanced).drain_s is None


def test_float_noise_does_not_ask_for_an_extra_slot() -> None:
    result = plan(backlog=0, arrival_per_s=0.1 + 0.2, service_s=10.0, concurrency=3,
                  target_drain_s=60.0)
    assert result.needed_concurrency == 3


def test_workers_round_up_and_are_reported_for_every_action() -> None:
    assert plan(**BUSY, per_worker=17).needed_workers == 1
    assert plan(**BUSY, per_worker=16).needed_workers == 2
    assert plan(**{**BUSY, "concurrency": 40}, per_worker=4).needed_workers == 5


@pytest.mark.parametrize(("change", "message"), [
    ({"backlog": -1}, "backlog"),
    ({"arrival_per_s": -0.1}, "arrival_per_s"),
    ({"arrival_per_s": float("nan")}, "arrival_per_s"),
    ({"service_s": 0.0}, "service_s"),
    ({"service_s": float("inf")}, "service_s"),
    ({"concurrency": 0}, "concurrency"),
    ({"target_drain_s": 0.0}, "target_drain_s"),
    ({"per_worker": 0}, "per_worker"),
    ({"resource_level": 1.5}, "resource_level"),
    ({"resource_level": -0.1}, "resource_level"),
    ({"resource_eta_s": {"memory": -5.0}}, "memory"),
])
def test_bad_arguments_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        plan(**{**BUSY, **change})
