"""An adaptive global concurrency limit: AIMD with a latency gradient that does not flap.

Netflix's concurrency-limits and Envoy's adaptive concurrency move a limit by latency
(RESOURCES.md); ours also listens to the governor's graded load level and borrows rule
4 of the thresholds: shrinking is immediate, growing waits.

- Overload is a load level above 0, or a median latency at ``latency_tolerance`` times
  the baseline or more. The limit then drops to ``decrease`` times itself (by 1 at
  least), at most once per ``cooldown_s``, so a 1 Hz signal cannot collapse it in
  seconds.
- It grows by ``increase`` per update only after ``hold_s`` without overload (and
  ``cooldown_s`` after the last drop), and only while it is used: an idle engine has no
  evidence that more would be safe.
- The baseline is a low, slowly learned estimate of healthy latency that is never
  re-measured by lowering the limit (re-measuring the minimum is what causes Netflix's
  bursts of rejections). Each sample's pull is clipped to the tolerance band, and slow
  samples teach it nothing, except at the minimum: there the latency is the workload's
  own, and it slowly becomes the new normal.

Load alternating every 10 s (level 0 / 0.3) reverses a hold-less AIMD about 60 times
in 10 minutes; with the 30 s hold it never grows back and settles without reversing.
Pure: time comes in as ``now``.
"""

from __future__ import annotations

import math

from zerogate.errors import InvalidConfig

# A median under a millisecond is clock resolution, not speed; ratios of it mean nothing.
_LATENCY_FLOOR_S = 0.001
# A faster normal is learned within about 20 samples, a slower one within about 100: a
# low estimate makes rising latency prove itself before it stops counting as overload.
_FALL_WEIGHT = 0.05
_RISE_WEIGHT = 0.01


class AdaptiveLimit:
    """Adapt the engine's global concurrency limit: call ``update`` about once a second."""

    __slots__ = ("_baseline_s", "_changes", "_cooldown_s", "_decrease", "_direction",
                 "_hold_s", "_increase", "_last_decrease", "_last_overload", "_limit",
                 "_max", "_min", "_reason", "_tolerance")

    def __init__(self, *, minimum: int, maximum: int, initial: int | None = None,
                 decrease: float = 0.9, increase: int = 1, cooldown_s: float = 5.0,
                 latency_tolerance: float = 2.0, hold_s: float = 30.0) -> None:
        _check_settings(minimum, maximum, initial, decrease, increase, cooldown_s,
                        latency_tolerance, hold_s)
        self._min, self._max = minimum, maximum
        self._decrease, self._increase = decrease, increase
        self._cooldown_s, self._hold_s, self._tolerance = cooldown_s, hold_s, latency_tolerance
        # Start low: a cold engine earns slots by using them, it is not handed them.
        self._limit = minimum if initial is None else initial
        self._baseline_s: float | None = None
        self._last_decrease: float | None = None
        self._last_overload: float | None = None
        self._direction = 0
        self._changes = 0
        self._reason = f"starting at {self._limit}, within {minimum}..{maximum}"

    @property
    def limit(self) -> int:
        """The number of tasks the engine may run at once right now."""
        return self._limit

    @property
    def reason(self) -> str:
        """Why the limit is what it is, as a sentence for a dashboard."""
        return self._reason

    @property
    def changes(self) -> int:
        """How often the limit reversed direction (a drop after a rise, or the reverse)."""
        return self._changes

    @property
    def baseline_s(self) -> float | None:
        """The healthy latency that slow samples are compared with (None before any)."""
        return self._baseline_s

    def update(self, *, now: float, level: float, latency_s: float | None,
               in_flight: int) -> int:
        """Feed one sample (load level 0..1, median latency, tasks running); get the limit."""
        _check_sample(level, latency_s, in_flight)
        ratio = self._latency_ratio(latency_s)
        is_slow = ratio is not None and ratio >= self._tolerance
        why = self._overload(level, latency_s, ratio)
        if latency_s is not None:
            self._learn(latency_s, is_slow=is_slow)
        if why is None:
            self._grow(now, in_flight)
        else:
            self._last_overload = now
            self._shrink(now, why)
        return self._limit

    def _latency_ratio(self, latency_s: float | None) -> float | None:
        if latency_s is None or self._baseline_s is None:
            return None
        return max(latency_s, _LATENCY_FLOOR_S) / self._baseline_s

    def _overload(self, level: float, latency_s: float | None,
                  ratio: float | None) -> str | None:
        if level > 0:
            return f"load level {level:.2f} is above the high threshold"
        if latency_s is None or ratio is None or ratio < self._tolerance:
            return None
        return (f"median latency {latency_s:.3f} s is {ratio:.1f}x the baseline "
                f"{self._baseline_s:.3f} s (tolerance {self._tolerance:g}x)")

    def _learn(self, latency_s: float, *, is_slow: bool) -> None:
        sample = max(latency_s, _LATENCY_FLOOR_S)
        base = self._baseline_s
        if base is None:
            self._baseline_s = sample
            return
        if is_slow and self._limit > self._min:
            return  # the overload the baseline exists to detect must not become normal
        # Clipped, so one burst of cache hits or one stall moves it by a bounded step.
        sample = min(max(sample, base / self._tolerance), base * self._tolerance)
        weight = _FALL_WEIGHT if sample < base else _RISE_WEIGHT
        self._baseline_s = base + weight * (sample - base)

    def _shrink(self, now: float, why: str) -> None:
        if self._limit == self._min:
            self._reason = self._held(why)
            return
        since = _since(self._last_decrease, now)
        if since < self._cooldown_s:
            wait = math.ceil(self._cooldown_s - since)
            self._reason = self._held(f"{why}; the next decrease is allowed in {wait} s")
            return
        before = self._limit
        self._move(max(self._min, min(before - 1, math.floor(before * self._decrease))))
        self._last_decrease = now
        self._reason = f"lowered to {self._limit} from {before}: {why}"

    def _grow(self, now: float, in_flight: int) -> None:
        blocker = self._growth_blocker(now, in_flight)
        if blocker is not None:
            self._reason = self._held(blocker)
            return
        before = self._limit
        self._move(min(self._max, before + self._increase))
        self._reason = (f"raised to {self._limit} from {before}: healthy with {in_flight} "
                        f"of {before} slots in use")

    def _growth_blocker(self, now: float, in_flight: int) -> str | None:
        if self._limit == self._max:
            return "healthy"
        wait = max(self._hold_s - _since(self._last_overload, now),
                   self._cooldown_s - _since(self._last_decrease, now))
        if wait > 0:
            return (f"recovering; growth resumes in {math.ceil(wait)} s, once "
                    f"{self._hold_s:g} s passed without overload")
        # One slot of slack: a slot freed between two tasks still counts as used.
        if in_flight < max(self._limit - 1, 1):
            return f"only {in_flight} of {self._limit} slots in use, more would not help"
        return None

    def _move(self, new: int) -> None:
        direction = (new > self._limit) - (new < self._limit)
        if direction and self._direction and direction != self._direction:
            self._changes += 1
        if direction:
            self._direction = direction
        self._limit = new

    def _held(self, why: str) -> str:
        if self._limit == self._max:
            return f"held at the maximum {self._limit}: {why}"
        if self._limit == self._min:
            return f"held at the minimum {self._limit}: {why}"
        return f"held at {self._limit}: {why}"


def _since(then: float | None, now: float) -> float:
    return math.inf if then is None else now - then


def _check_settings(minimum: int, maximum: int, initial: int | None, decrease: float,
                    increase: int, cooldown_s: float, tolerance: float, hold_s: float) -> None:
    rules = [
        (minimum >= 1, f"minimum must be at least 1, got {minimum}"),
        (maximum >= minimum, f"maximum ({maximum}) must not lie below minimum ({minimum})"),
        (initial is None or minimum <= initial <= maximum,
         f"initial ({initial}) must lie within {minimum}..{maximum}"),
        (0 < decrease < 1, f"decrease must lie strictly between 0 and 1, got {decrease}"),
        (increase >= 1, f"increase must be at least 1, got {increase}"),
        (cooldown_s >= 0, f"cooldown_s must not be negative, got {cooldown_s}"),
        (hold_s >= 0, f"hold_s must not be negative, got {hold_s}"),
        (tolerance > 1, f"latency_tolerance must exceed 1, or healthy latency counts as "
                        f"overload; got {tolerance}"),
    ]
    for is_ok, message in rules:
        if not is_ok:
            raise InvalidConfig(message)


def _check_sample(level: float, latency_s: float | None, in_flight: int) -> None:
    if not 0 <= level <= 1:
        raise InvalidConfig(f"level must lie within 0..1, got {level}")
    if latency_s is not None and not 0 <= latency_s < math.inf:
        raise InvalidConfig(f"latency_s must be a finite, non-negative time, got {latency_s}")
    if in_flight < 0:
        raise InvalidConfig(f"in_flight must not be negative, got {in_flight}")
