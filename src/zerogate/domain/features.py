"""The feature registry: which features are on, why, and since when.

The governor sheds features by category as the load rises (experimental first,
essential never: RESOURCES.md rule 5); an operator may force a feature on or off for a
while, and such an override wins over shedding until it expires. Every on/off
transition comes back as a ``FeatureChange``, which the engine publishes as an event.

All times are on one clock of the caller's choosing (the one its tasks' waits are
measured on): the book only compares them. Pure: nothing here reads a clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from zerogate.domain.admission import Category
from zerogate.errors import InvalidConfig, NotFound

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
ON = "on"


@dataclass(frozen=True, slots=True)
class Feature:
    """A switchable part of the application; tasks name it to be shed with it.

    ``max_wait_s`` is how long a ready task of this feature may wait while the feature
    is off before it fails (None: it waits for as long as the feature stays off).
    """

    name: str
    category: Category
    max_wait_s: float | None = 600.0
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InvalidConfig(f"feature name {self.name!r} must be non-empty and use only "
                                f"letters, digits, '_', '.' and '-'")
        if not isinstance(self.category, Category):
            object.__setattr__(self, "category", _category(self.name, self.category))
        wait = self.max_wait_s
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float)
                                 or not math.isfinite(wait) or wait <= 0):
            raise InvalidConfig(f"feature {self.name!r}: max_wait_s must be None or a "
                                f"positive number of seconds, got {wait!r}")


def _category(feature: str, value: object) -> Category:
    try:
        return Category(str(value).lower())
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise InvalidConfig(f"feature {feature!r}: unknown category {value!r}; "
                            f"use one of {names}") from None


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's decision that wins over shedding until ``until`` (None: until cleared)."""

    is_on: bool
    until: float | None
    reason: str

    def describe(self) -> str:
        end = "until cleared" if self.until is None else f"until t={self.until:g}s"
        return f"{self.reason}: forced {'on' if self.is_on else 'off'} {end}"


@dataclass(frozen=True, slots=True)
class FeatureState:
    """Whether a feature is on now, why, and since when it has been so."""

    name: str
    category: Category
    is_on: bool
    reason: str
    since: float
    override: Override | None


@dataclass(frozen=True, slots=True)
class FeatureChange:
    """One feature going on or off: the engine publishes it as an event."""

    name: str
    is_on: bool
    reason: str
    at: float


class FeatureBook:
    """Keep the features of an application and switch them by load and by override.

    The book remembers the last shedding it was told (``apply``), so a feature
    registered or released from an override later lands in the right state at once.
    """

    def __init__(self, features: Iterable[Feature] = ()) -> None:
        self._features: dict[str, Feature] = {}
        self._states: dict[str, FeatureState] = {}
        self._shed: Mapping[Category, str | None] = {}
        self._now = 0.0
        for feature in features:
            self.register(feature)

    def register(self, feature: Feature) -> None:
        """Add ``feature``; registering it again with the same category updates it."""
        known = self._features.get(feature.name)
        if known is not None and known.category != feature.category:
            raise InvalidConfig(f"feature {feature.name!r} is already registered as "
                                f"{known.category.value}, not {feature.category.value}")
        self._features[feature.name] = feature
        if known is None:
            is_on, reason = self._wanted(feature, None)
            self._states[feature.name] = FeatureState(
                feature.name, feature.category, is_on, reason, self._now, None)

    def get(self, name: str) -> Feature:
        """The feature registered under ``name``; raise NotFound if there is none."""
        feature = self._features.get(name)
        if feature is None:
            raise NotFound(f"no feature named {name!r} is registered")
        return feature

    def state(self, name: str) -> FeatureState:
        """The current state of the feature ``name``; raise NotFound if there is none."""
        self.get(name)
        return self._states[name]

    def states(self) -> list[FeatureState]:
        """Every feature's state, sorted by name."""
        return [self._states[name] for name in sorted(self._states)]

    def override(self, name: str, is_on: bool | None, *, now: float,
                 until: float | None = None,
                 reason: str = "manual override") -> list[FeatureChange]:
        """Force ``name`` on or off until ``until`` (None: until cleared); None clears.

        The override wins over shedding, and over the category too: an operator may
        switch even an essential feature off, as a kill switch.
        """
        self.get(name)
        if is_on is not None and until is not None and until <= now:
            raise InvalidConfig(f"an override of {name!r} must end after now "
                                f"(t={now:g}s), not at t={until:g}s")
        forced = None if is_on is None else Override(is_on, until, reason or "manual override")
        self._states[name] = replace(self._states[name], override=forced)
        change = self._settle(name, now)
        return [change] if change else []

    def apply(self, shed: Mapping[Category, str | None], now: float) -> list[FeatureChange]:
        """Switch features by the governor's ``shed`` map (category -> reason, None: on).

        Essential features stay on whatever the map says. Overrides that ended at or
        before ``now`` lapse first. Return one change per feature that flipped.
        """
        self._shed, self._now = dict(shed), now
        changes = []
        for name in sorted(self._states):
            override = self._states[name].override
            if override is not None and override.until is not None and override.until <= now:
                self._states[name] = replace(self._states[name], override=None)
            change = self._settle(name, now)
            if change is not None:
                changes.append(change)
        return changes

    def off_names(self) -> frozenset[str]:
        """The features that are off now."""
        return frozenset(name for name, s in self._states.items() if not s.is_on)

    def essential_names(self) -> frozenset[str]:
        """The features of the essential category (on or forced off)."""
        return frozenset(name for name, f in self._features.items()
                         if f.category == Category.ESSENTIAL)

    def off_since(self, name: str) -> float | None:
        """Since when ``name`` has been off; None when it is on or unknown."""
        state = self._states.get(name)
        return None if state is None or state.is_on else state.since

    def expired_waits(self, now: float) -> dict[str, float]:
        """For each feature off longer than its ``max_wait_s``, the cutoff time.

        A ready task of that feature that has waited since before the cutoff has waited
        longer than ``max_wait_s`` and must fail, naming the feature and why it is off.
        """
        cutoffs = {}
        for name, state in self._states.items():
            wait = self._features[name].max_wait_s
            if not state.is_on and wait is not None and now - state.since > wait:
                cutoffs[name] = now - wait
        return cutoffs

    def _settle(self, name: str, now: float) -> FeatureChange | None:
        state = self._states[name]
        is_on, reason = self._wanted(self._features[name], state.override)
        if is_on == state.is_on:
            self._states[name] = replace(state, reason=reason)  # same switch, fresher why
            return None
        self._states[name] = replace(state, is_on=is_on, reason=reason, since=now)
        return FeatureChange(name, is_on, reason, now)

    def _wanted(self, feature: Feature, override: Override | None) -> tuple[bool, str]:
        if override is not None:
            return override.is_on, override.describe()
        why = self._shed.get(feature.category)
        if feature.category == Category.ESSENTIAL or why is None:
            return True, ON
        return False, f"shed: {why}" if why else "shed"
