"""Which running task to stop when memory is critical, and when to try it again.

One victim at a time (RESOURCES.md rule 7): the lowest priority, retriable, newest
attempt; never one evicted ``budget`` times already, never a thread task (it cannot be
interrupted, so stopping it frees nothing), never critical priority work. An eviction
is not a failure: the task waits out a backoff of its own and runs again. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zerogate.errors import InvalidConfig

CRITICAL = 0  # Priority.CRITICAL: the work the profile lets through even at tier 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Running:
    """A running attempt as the victim choice sees it."""

    task_id: int
    priority: int  # a higher number is a lower priority
    started_at: float
    is_retriable: bool  # its retry policy allows another attempt
    is_interruptible: bool  # async and process tasks; not thread tasks
    memory: int  # bytes it declared (0: unknown)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvictionPolicy:
    """How often one task may be evicted, and how long it waits after each eviction."""

    budget: int = 3
    backoff_s: float = 30.0
    max_backoff_s: float = 600.0

    def __post_init__(self) -> None:
        if self.budget < 1 or self.backoff_s <= 0 or self.max_backoff_s < self.backoff_s:
            raise InvalidConfig("eviction budget must be >= 1 and backoffs positive, "
                                "max_backoff_s at least backoff_s")

    def delay_s(self, evictions: int) -> float:
        """Backoff after the ``evictions``-th eviction of one task: doubling, capped."""
        return float(min(self.backoff_s * 2.0 ** max(evictions - 1, 0), self.max_backoff_s))


def choose_victim(running: Iterable[Running], evictions: Mapping[int, int],
                  policy: EvictionPolicy) -> Running | None:
    """The attempt to stop: lowest priority, then newest, then largest declared memory."""
    eligible = [r for r in running
                if r.is_retriable and r.is_interruptible and r.priority > CRITICAL
                and evictions.get(r.task_id, 0) < policy.budget]
    if not eligible:
        return None
    return max(eligible, key=lambda r: (r.priority, r.started_at, r.memory, r.task_id))
