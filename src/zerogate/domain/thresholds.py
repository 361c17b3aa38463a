"""Thresholds that do not flap: enter/exit bands with a hold time, and a graded level.

A band trips as soon as a signal reaches ``enter`` (shedding is immediate) and clears
only after the signal stayed below ``exit`` for ``hold_s`` (restoring waits). A single
threshold toggled about 250 times in 10 minutes on a noisy signal where a pair with a
hold toggled once (RESOURCES.md rule 4). Pure: time comes in as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass

from zerogate.errors import InvalidConfig


@dataclass(frozen=True, slots=True)
class Band:
    """Trip at ``enter``; clear after ``hold_s`` spent below ``exit`` (``exit < enter``)."""

    enter: float
    exit: float
    hold_s: float

    def __post_init__(self) -> None:
        if not self.exit < self.enter:
            raise InvalidConfig(f"a band's exit ({self.exit}) must lie below its enter "
                                f"({self.enter}), or a noisy signal flaps it")
        if self.hold_s < 0:
            raise InvalidConfig(f"hold_s must not be negative, got {self.hold_s}")


@dataclass(frozen=True, slots=True)
class BandState:
    """Whether a band is tripped, and since when the signal has been below its exit."""

    is_tripped: bool = False
    below_exit_since: float | None = None


CLEAR = BandState()


def step_band(band: Band, state: BandState, value: float, now: float) -> BandState:
    """The band's state after seeing ``value`` at ``now``."""
    if not state.is_tripped:
        return BandState(True) if value >= band.enter else state
    if value >= band.exit:
        return BandState(True)  # back above exit: the hold starts again from scratch
    since = state.below_exit_since if state.below_exit_since is not None else now
    if now - since >= band.hold_s:
        return CLEAR
    return BandState(True, since)


def graded_level(value: float, high: float, critical: float) -> float:
    """0 below ``high``, 1 at or above ``critical``, linear between (a scaled trigger)."""
    if not high < critical:
        raise InvalidConfig(f"high ({high}) must lie below critical ({critical})")
    return min(max((value - high) / (critical - high), 0.0), 1.0)
