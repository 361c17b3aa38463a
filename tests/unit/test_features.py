"""The feature registry: shedding by category, overrides, and waits that run out."""

from __future__ import annotations

import pytest

from zerogate.domain.admission import Category
from zerogate.domain.features import Feature, FeatureBook, FeatureChange, Override
from zerogate.errors import InvalidConfig, NotFound

WHY = "memory at 91% is above the balanced profile's high threshold 80%"
E, A, S, X = Category.ESSENTIAL, Category.ADVANCED, Category.STANDARD, Category.EXPERIMENTAL
CALM: dict[Category, str | None] = {E: None, S: None, A: None, X: None}


def shed(*categories: Category, why: str = WHY) -> dict[Category, str | None]:
    return {c: (why if c in categories else None) for c in Category}


def book() -> FeatureBook:
    return FeatureBook([Feature("billing", E), Feature("search", S),
                        Feature("reports", A, max_wait_s=60.0),
                        Feature("beta.ui", X, max_wait_s=None)])


# ---- features ----

@pytest.mark.parametrize("name", ["", "two words", "a/b", "ü", "x!"])
def test_feature_names_are_checked(name: str) -> None:
    with pytest.raises(InvalidConfig, match="feature name"):
        Feature(name, S)


def test_feature_names_may_use_dots_dashes_underscores_and_digits() -> None:
    assert Feature("beta.ui-v2_1", X).name == "beta.ui-v2_1"


def test_a_category_may_be_given_by_its_value() -> None:
    assert Feature("f", "experimental").category is X  # type: ignore[arg-type]
    assert Feature("f", "Essential").category is E  # type: ignore[arg-type]
    with pytest.raises(InvalidConfig, match="unknown category 'vital'"):
        Feature("f", "vital")  # type: ignore[arg-type]


@pytest.mark.parametrize("wait", [0, -1.0, True, float("inf"), "10"])
def test_max_wait_must_be_positive_or_none(wait: object) -> None:
    with pytest.raises(InvalidConfig, match="max_wait_s"):
        Feature("f", S, max_wait_s=wait)  # type: ignore[arg-type]


# ---- the book ----

def test_features_start_on_and_are_listed_by_name() -> None:
    b = book()
    assert [s.name for s in b.states()] == ["beta.ui", "billing", "reports", "search"]
    assert all(s.is_on and s.reason == "on" and s.override is None for s in b.states())
    assert b.off_names() == frozenset()
    assert b.essential_names() == {"billing"}


def test_registering_again_needs_the_same_category_and_updates_the_feature() -> None:
    b = book()
    b.apply(shed(A), now=5.0)
    with pytest.raises(InvalidConfig, match="'reports' is already registered as advanced"):
        b.register(Feature("reports", S))
    b.register(Feature("reports", A, max_wait_s=10.0, description="monthly"))
    assert b.get("reports").max_wait_s == 10.0
    assert b.state("reports").since == 5.0 and not b.state("reports").is_on  # state kept


def test_unknown_features_are_not_found() -> None:
    b = book()
    with pytest.raises(NotFound, match="'nope'"):
        b.get("nope")
    with pytest.raises(NotFound, match="'nope'"):
        b.state("nope")
    with pytest.raises(NotFound, match="'nope'"):
        b.override("nope", True, now=0.0)
    assert b.off_since("nope") is None


def test_shedding_switches_features_off_once_and_back_on_once() -> None:
    b = book()
    changes = b.apply(shed(X, A), now=10.0)
    assert changes == [FeatureChange("beta.ui", False, f"shed: {WHY}", 10.0),
                       FeatureChange("reports", False, f"shed: {WHY}", 10.0)]
    assert b.apply(shed(X, A), now=11.0) == []  # no transition, no event
    assert b.off_names() == {"beta.ui", "reports"}
    assert b.off_since("reports") == 10.0 and b.off_since("search") is None
    changes = b.apply(CALM, now=50.0)
    assert [(c.name, c.is_on, c.reason, c.at) for c in changes] == [
        ("beta.ui", True, "on", 50.0), ("reports", True, "on", 50.0)]
    assert b.state("reports").since == 50.0


def test_a_new_reason_is_kept_without_an_event() -> None:
    b = book()
    b.apply(shed(X), now=1.0)
    assert b.apply(shed(X, why="cpu at 99%"), now=2.0) == []
    state = b.state("beta.ui")
    assert (state.reason, state.since) == ("shed: cpu at 99%", 1.0)


def test_essential_is_never_shed_and_a_missing_category_is_kept_on() -> None:
    b = book()
    assert {c.name for c in b.apply(shed(E, S, A, X), now=1.0)} == {
        "search", "reports", "beta.ui"}
    assert b.state("billing").is_on
    assert b.apply({X: WHY}, now=2.0) == [FeatureChange("reports", True, "on", 2.0),
                                          FeatureChange("search", True, "on", 2.0)]


def test_an_empty_reason_still_sheds() -> None:
    b = book()
    b.apply({X: ""}, now=1.0)
    assert b.state("beta.ui").reason == "shed"


def test_a_feature_registered_under_load_starts_off() -> None:
    b = book()
    b.apply(shed(S, A, X), now=30.0)
    b.register(Feature("export", S))
    state = b.state("export")
    assert (state.is_on, state.since, state.reason) == (False, 30.0, f"shed: {WHY}")


def test_an_override_forces_a_feature_on_under_load_until_it_expires() -> None:
    b = book()
    b.apply(shed(X, A), now=0.0)
    changes = b.override("reports", True, now=5.0, until=65.0, reason="month end")
    assert changes == [FeatureChange("reports", True, "month end: forced on until t=65s", 5.0)]
    assert b.state("reports").override == Override(True, 65.0, "month end")
    assert b.apply(shed(X, A), now=64.0) == []  # the override wins over shedding
    assert b.state("reports").is_on
    assert b.apply(shed(X, A), now=65.0) == [
        FeatureChange("reports", False, f"shed: {WHY}", 65.0)]
    assert b.state("reports").override is None


def test_an_override_forces_a_feature_off_and_clearing_restores_it() -> None:
    b = book()
    changes = b.override("search", False, now=3.0)
    assert changes == [FeatureChange("search", False,
                                     "manual override: forced off until cleared", 3.0)]
    assert b.apply(CALM, now=100.0) == []  # no expiry: still off
    assert b.off_since("search") == 3.0
    assert b.override("search", None, now=101.0) == [
        FeatureChange("search", True, "on", 101.0)]
    assert b.override("search", None, now=102.0) == []  # nothing left to clear


def test_clearing_an_override_under_load_lands_in_the_shed_state() -> None:
    b = book()
    b.override("beta.ui", True, now=0.0)
    b.apply(shed(X), now=1.0)
    assert b.state("beta.ui").is_on
    assert b.override("beta.ui", None, now=2.0) == [
        FeatureChange("beta.ui", False, f"shed: {WHY}", 2.0)]


def test_an_override_matching_the_state_emits_nothing_but_is_recorded() -> None:
    b = book()
    assert b.override("search", True, now=1.0, until=10.0) == []
    assert b.state("search").reason == "manual override: forced on until t=10s"
    assert b.state("search").since == 0.0


def test_an_operator_may_switch_an_essential_feature_off() -> None:
    b = book()
    assert b.override("billing", False, now=1.0, reason="kill switch")[0].is_on is False
    assert "billing" in b.off_names() and "billing" in b.essential_names()


def test_an_override_must_end_in_the_future() -> None:
    with pytest.raises(InvalidConfig, match="must end after now"):
        book().override("search", False, now=10.0, until=10.0)


def test_expired_waits_give_the_cutoff_once_the_off_period_passes_max_wait() -> None:
    b = FeatureBook([Feature("reports", A, max_wait_s=60.0),
                     Feature("beta.ui", X, max_wait_s=None), Feature("search", S)])
    b.apply(shed(X, A), now=100.0)
    assert b.expired_waits(now=160.0) == {}  # exactly max_wait_s: not exceeded yet
    assert b.expired_waits(now=161.0) == {"reports": 101.0}
    assert b.expired_waits(now=10_000.0) == {"reports": 9_940.0}  # beta.ui waits forever
    b.apply(CALM, now=10_001.0)
    assert b.expired_waits(now=20_000.0) == {}  # on again: nothing expires


def test_a_forced_off_feature_expires_waits_too() -> None:
    b = FeatureBook([Feature("search", S)])  # the default max_wait_s is 10 minutes
    b.override("search", False, now=0.0)
    assert b.expired_waits(now=600.0) == {}
    assert b.expired_waits(now=601.0) == {"search": 1.0}
