"""Per-tenant quotas and server-wide load shedding, answered with 429 or 503.

Three per-tenant limits, each configurable per tenant with a default:
- ``rate_per_s`` / ``burst``: requests a key's tenant may make (a token bucket);
- ``max_queued``: open tasks (pending, waiting, retrying, running) it may have;
  a submission that would pass it is refused whole;
- ``max_running``: tasks it may run at once. This one does not refuse anything:
  it becomes the tenant's concurrency limit in the scheduler (``Limits.tenant_limits``)
  and extra work waits in the queue with the reason shown.

Server-wide, ``max_in_flight`` requests are handled at once; beyond that a request
is answered 503 with Retry-After at once instead of queueing, so the requests that
are accepted stay fast under overload.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from zerogate.domain.model import Limits
from zerogate.errors import InvalidConfig, InvalidInput


@dataclass(frozen=True, kw_only=True)
class Quota:
    """One tenant's limits; None means unlimited."""

    rate_per_s: float | None = 200.0
    burst: int = 400
    max_queued: int | None = 1_000_000
    max_running: int | None = None

    def __post_init__(self) -> None:
        if self.rate_per_s is not None and not (0 < self.rate_per_s < math.inf):
            raise InvalidConfig("rate_per_s must be a positive number, or None")
        if self.burst < 1:
            raise InvalidConfig("burst must be at least 1")
        for name in ("max_queued", "max_running"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise InvalidConfig(f"{name} must be at least 1, or None")


@dataclass(frozen=True, kw_only=True)
class Quotas:
    default: Quota = field(default_factory=Quota)
    tenants: Mapping[str, Quota] = field(default_factory=dict)

    def of(self, tenant: str) -> Quota:
        return self.tenants.get(tenant, self.default)

    def apply(self, limits: Limits) -> Limits:
        """``limits`` with the running quotas as tenant concurrency limits (the
        scheduler enforces them across instances; extra work waits, it is not refused)."""
        per_tenant = self.default.max_running or limits.per_tenant
        own = {t: q.max_running for t, q in self.tenants.items() if q.max_running is not None}
        return dataclasses.replace(limits, per_tenant=per_tenant,
                                   tenant_limits={**limits.tenant_limits, **own})


class QuotaExceeded(Exception):
    """A tenant passed one of its quotas; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimiter:
    """A token bucket per tenant, on the monotonic clock."""

    def __init__(self, quotas: Quotas, clock: Callable[[], float] = time.monotonic) -> None:
        self.quotas = quotas
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)

    def take(self, tenant: str) -> None:
        quota = self.quotas.of(tenant)
        if quota.rate_per_s is None:
            return
        now = self.clock()
        tokens, at = self._buckets.get(tenant, (float(quota.burst), now))
        tokens = min(float(quota.burst), tokens + (now - at) * quota.rate_per_s)
        if tokens < 1.0:
            self._buckets[tenant] = (tokens, now)
            raise QuotaExceeded(
                f"tenant {tenant!r} is over its rate of {quota.rate_per_s:g} requests/s",
                (1.0 - tokens) / quota.rate_per_s)
        self._buckets[tenant] = (tokens - 1.0, now)


class QueueQuota:
    """Refuses submissions that would take a tenant past ``max_queued`` open tasks.

    Open counts come from the store at most every ``refresh_s`` (one query for all
    tenants, reading open work only); tasks this process accepted since are added,
    so a burst between two reads cannot overshoot by more than other instances add.
    """

    def __init__(self, quotas: Quotas, read: Callable[[], Awaitable[dict[str, int]]], *,
                 refresh_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.quotas = quotas
        self.read = read
        self.refresh_s = refresh_s
        self.clock = clock
        self._counts: dict[str, int] = {}
        self._read_at = -math.inf

    async def admit(self, tenant: str, tasks: int) -> None:
        limit = self.quotas.of(tenant).max_queued
        if limit is None:
            return
        if tasks > limit:
            raise InvalidInput(f"this submission holds {tasks} tasks, more than tenant "
                               f"{tenant!r} may ever have open ({limit}): split it")
        now = self.clock()
        if now - self._read_at >= self.refresh_s:
            self._counts = await self.read()
            self._read_at = now
        open_now = self._counts.get(tenant, 0)
        if open_now + tasks > limit:
            raise QuotaExceeded(
                f"tenant {tenant!r} has {open_now} open tasks; {tasks} more would pass its "
                f"quota of {limit}", max(self.refresh_s, 1.0))
        self._counts[tenant] = open_now + tasks
