"""Forecasts that see a ramp coming and ignore a burst (RESOURCES.md rule 8, figure G8).

``Forecaster`` keeps a window of samples: an exponentially smoothed level for display,
and an ordinary least-squares line for the time until a threshold is reached.
``EarlyWarning`` turns that forecast into a warning the way a robust Prometheus
disk-filling alert does: the level above a floor AND the forecast inside the horizon,
both held for several samples. A burst moves neither the fitted line nor the hold
enough to warn. Pure: time comes in as ``t`` and ``now``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from zerogate.errors import InvalidConfig, InvalidInput

MIN_SAMPLES = 3  # two points always fit a line exactly: the slope would be pure noise


@dataclass(frozen=True, slots=True)
class _Line:
    """A least-squares line through the window, kept centred on its means for accuracy."""

    slope_per_s: float
    mean_t: float
    mean_value: float

    def at(self, t: float) -> float:
        return self.mean_value + self.slope_per_s * (t - self.mean_t)


def _fit(samples: deque[tuple[float, float]]) -> _Line | None:
    """Fit the window's samples, or None without enough of them or any time spread."""
    n = len(samples)
    if n < MIN_SAMPLES:
        return None
    mean_t = math.fsum(t for t, _ in samples) / n
    mean_value = math.fsum(v for _, v in samples) / n
    sxx = math.fsum((t - mean_t) ** 2 for t, _ in samples)
    if sxx <= 0.0:
        return None
    sxy = math.fsum((t - mean_t) * (v - mean_value) for t, v in samples)
    return _Line(sxy / sxx, mean_t, mean_value)


class Forecaster:
    """Feed one sample at a time; read a smoothed level and a time to a threshold.

    ``time_to`` waits until the samples span ``min_span_s`` (a quarter of the window by
    default): a line through a few seconds of noise is steep by chance. Without the wait,
    a flat signal 10 points below its threshold (noise sd 2) was forecast to cross
    within two minutes in over a third of simulated starts.
    """

    def __init__(self, window_s: float = 300.0, alpha: float = 0.2, *,
                 min_span_s: float | None = None) -> None:
        min_span_s = window_s / 4 if min_span_s is None else min_span_s
        if not window_s > 0:
            raise InvalidConfig(f"window_s must be positive, got {window_s}")
        if not 0 < alpha <= 1:
            raise InvalidConfig(f"alpha must lie in (0, 1], got {alpha}")
        if not 0 <= min_span_s <= window_s:
            raise InvalidConfig(f"min_span_s must lie in [0, window_s], got {min_span_s}")
        self.window_s = window_s
        self.alpha = alpha
        self.min_span_s = min_span_s
        self._samples: deque[tuple[float, float]] = deque()
        self._level: float | None = None

    def observe(self, t: float, value: float) -> None:
        """Record ``value`` seen at ``t``; samples older than the window are forgotten."""
        if not math.isfinite(value):
            raise InvalidInput(f"a sample must be a finite number, got {value}")
        if self._samples and t < self._samples[-1][0]:
            raise InvalidInput(f"samples must come in time order: {t} is before "
                               f"{self._samples[-1][0]}")
        self._samples.append((t, value))
        while t - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        previous = self._level
        self._level = value if previous is None else previous + self.alpha * (value - previous)

    @property
    def level(self) -> float | None:
        """The exponentially smoothed value, for display; None before the first sample."""
        return self._level

    def slope_per_s(self) -> float | None:
        """The least-squares slope over the window; None with under 3 samples or no spread."""
        line = _fit(self._samples)
        return None if line is None else line.slope_per_s

    def time_to(self, threshold: float, now: float) -> float | None:
        """Seconds from ``now`` until the fitted line reaches ``threshold``.

        The line is anchored at its own fitted value at ``now``, not at the last raw
        sample, so one spike cannot claim the threshold is near. 0.0 when the fitted
        value is already at or above it; None when the line does not rise or there is
        not enough data to fit one, or the samples span less than ``min_span_s``.
        """
        line = _fit(self._samples)
        if line is None or self._samples[-1][0] - self._samples[0][0] < self.min_span_s:
            return None
        gap = threshold - line.at(now)
        if gap <= 0:
            return 0.0
        if line.slope_per_s <= 0:
            return None
        return gap / line.slope_per_s


class EarlyWarning:
    """Step once per sample; warn when a ramp will cross its threshold within the horizon.

    The condition is ``value >= floor`` and an ``eta_s`` (time to threshold) at most
    ``horizon_s``; it must hold for ``hold_samples`` consecutive steps (Prometheus's
    ``for:``), and any step that breaks it starts the count again.
    """

    def __init__(self, floor: float, horizon_s: float, hold_samples: int = 5) -> None:
        if not horizon_s > 0:
            raise InvalidConfig(f"horizon_s must be positive, got {horizon_s}")
        if hold_samples < 1:
            raise InvalidConfig(f"hold_samples must be at least 1, got {hold_samples}")
        self.floor = floor
        self.horizon_s = horizon_s
        self.hold_samples = hold_samples
        self._held = 0

    def step(self, value: float, eta_s: float | None) -> bool:
        """Whether to warn now, given the current ``value`` and forecast ``eta_s``."""
        is_met = value >= self.floor and eta_s is not None and eta_s <= self.horizon_s
        self._held = self._held + 1 if is_met else 0
        return self._held >= self.hold_samples
