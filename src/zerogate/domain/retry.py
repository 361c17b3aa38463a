"""Retry policy: a pure decision from the attempt count, the error and a random draw."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from zerogate.errors import InvalidConfig


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """``retry`` with a ``delay_s`` to wait, or give up with the ``reason``."""

    retry: bool
    delay_s: float
    reason: str


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with proportional jitter and a cap.

    ``max_attempts`` counts every attempt, the first included: 1 means never retry.
    ``no_retry_on`` holds exception type names (``"ValueError"`` or
    ``"package.module.Error"``); an error whose class or any base matches is final.
    """

    max_attempts: int = 3
    backoff_s: float = 1.0
    multiplier: float = 2.0
    max_backoff_s: float = 300.0
    jitter: float = 0.1
    no_retry_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or self.max_attempts < 1:
            raise InvalidConfig(f"max_attempts must be at least 1, got {self.max_attempts!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise InvalidConfig("backoff_s and max_backoff_s must not be negative")
        if self.multiplier < 1:
            raise InvalidConfig(f"multiplier must be at least 1, got {self.multiplier!r}")
        if not 0 <= self.jitter <= 1:
            raise InvalidConfig(f"jitter must be between 0 and 1, got {self.jitter!r}")

    def delay_s(self, failures: int, draw: float) -> float:
        """Backoff before attempt ``failures + 1``; ``draw`` is uniform in [0, 1).

        The capped exponential is multiplied by a factor in [1 - jitter, 1 + jitter],
        then capped again, so the delay never exceeds ``max_backoff_s``.
        """
        base = min(self.backoff_s * self.multiplier ** max(failures - 1, 0), self.max_backoff_s)
        factor = 1.0 + self.jitter * (2.0 * draw - 1.0)
        return min(base * factor, self.max_backoff_s)

    def decide(self, failures: int, error_types: Iterable[str], draw: float) -> RetryDecision:
        """Decide after the ``failures``-th failed attempt (1 after the first failure)."""
        final = _matching(self.no_retry_on, error_types)
        if final is not None:
            return RetryDecision(False, 0.0, f"{final} is not retried")
        if failures >= self.max_attempts:
            return RetryDecision(False, 0.0, f"gave up after {failures} attempts")
        return RetryDecision(True, self.delay_s(failures, draw), "will retry")

    def to_json(self) -> str:
        return json.dumps(
            [self.max_attempts, self.backoff_s, self.multiplier, self.max_backoff_s,
             self.jitter, list(self.no_retry_on)]
        )

    @classmethod
    def from_json(cls, text: str) -> RetryPolicy:
        a, b, m, cap, j, names = json.loads(text)
        return cls(max_attempts=a, backoff_s=b, multiplier=m, max_backoff_s=cap,
                   jitter=j, no_retry_on=tuple(names))


def _matching(names: tuple[str, ...], error_types: Iterable[str]) -> str | None:
    if not names:
        return None
    wanted = set(names)
    for full in error_types:
        if full in wanted or full.rsplit(".", 1)[-1] in wanted:
            return full
    return None


def type_names(exc: BaseException) -> list[str]:
    """Qualified names of the exception's class and bases, most derived first."""
    return [f"{k.__module__}.{k.__qualname__}" for k in type(exc).__mro__]
