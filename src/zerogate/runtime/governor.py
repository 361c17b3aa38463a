"""The resource governor at run time: sample, decide, admit, shed, evict, warn.

Once a profile interval (1 s by default) the governor loop reads a snapshot off the
event loop and runs the pure parts in order: the policy's bands, the feature book,
the adaptive concurrency limit, forecasts, alerts, and, at critical memory, one
eviction at a time. Claims ask ``admission()`` for the current decision, which the
store applies in the same transaction that leases the work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from zerogate.adapters.notifier import AlertNotifier
from zerogate.domain.admission import Admission, Need
from zerogate.domain.alerts import Alert, AlertBook, AlertLevel, Notification
from zerogate.domain.capacity import CapacityPlan, plan
from zerogate.domain.concurrency import AdaptiveLimit
from zerogate.domain.features import FeatureBook, FeatureChange, FeatureState
from zerogate.domain.forecast import EarlyWarning, Forecaster
from zerogate.domain.health import Health, Reading, health_score
from zerogate.domain.policy import Decision, Policy, tier_bands
from zerogate.domain.profiles import PROFILES, Profile, scale_of, show
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.thresholds import Band
from zerogate.domain.victims import EvictionPolicy, Running, choose_victim
from zerogate.errors import InvalidConfig
from zerogate.ports import Clock, ResourceSampler

log = logging.getLogger("zerogate.governor")

RESOURCES = ("cpu", "memory", "disk", "pressure")
_TIER_ALERTS = {1: AlertLevel.MEDIUM, 2: AlertLevel.HIGH, 3: AlertLevel.CRITICAL}


@dataclass(frozen=True, kw_only=True)
class GovernorConfig:
    """How the governor behaves; every duration is in seconds.

    ``profile`` names a built-in (development, balanced, performance, emergency) or
    one of ``custom_profiles``. ``escalate_after_s``: how long admission may stay
    stopped with nothing to evict before a critical "admission" alert (G13: < 300).
    """

    profile: str = "balanced"
    custom_profiles: Mapping[str, Profile] = field(default_factory=dict)
    adaptive_concurrency: bool = True
    eviction: EvictionPolicy = field(default_factory=EvictionPolicy)
    escalate_after_s: float = 240.0
    forecast_window_s: float = 300.0
    forecast_horizon_s: float = 600.0
    alert_callbacks: Sequence[Callable[[Notification], object]] = ()
    webhook_url: str | None = None
    webhook_allow: Sequence[str] = ()

    def profiles(self) -> dict[str, Profile]:
        return {**PROFILES, **self.custom_profiles}

    def __post_init__(self) -> None:
        if self.profile not in self.profiles():
            raise InvalidConfig(f"unknown profile {self.profile!r}: use one of "
                                f"{', '.join(sorted(self.profiles()))}")
        if not 0 < self.escalate_after_s <= 300:
            raise InvalidConfig("escalate_after_s must lie in (0, 300]")


class Governed(Protocol):
    """What the governor needs from the worker it governs."""

    wake_claim: asyncio.Event

    def running_attempts(self) -> list[Running]: ...

    def evict(self, task_id: int, not_before: float, reason: str) -> bool: ...

    def latency_s(self) -> float | None: ...

    def in_flight(self) -> int: ...

    def reserved(self) -> Need: ...


@dataclass(frozen=True, slots=True)
class ForecastView:
    """A resource's smoothed level, trend, and time until its high threshold."""

    resource: str
    level: float | None
    slope_per_s: float | None
    seconds_to_high: float | None
    is_warning: bool


class Governor:
    """Decides what may start on this machine now, and says why."""

    def __init__(self, config: GovernorConfig, *, sampler: ResourceSampler, clock: Clock,
                 features: FeatureBook, max_running: int, needs_budget: bool,
                 emit: Callable[[str, str], None]) -> None:
        self.config, self.sampler, self.clock, self.features = config, sampler, clock, features
        self._profiles = config.profiles()
        self.policy = Policy(self._profiles[config.profile])
        self._needs_budget, self._emit = needs_budget, emit
        profile = self.policy.profile
        top = min(max_running, profile.concurrency_max or max_running)
        self.limit = AdaptiveLimit(minimum=min(profile.concurrency_min, top), maximum=top,
                                   initial=top)
        self.alerts = AlertBook()
        self.notifier = AlertNotifier(config.alert_callbacks, config.webhook_url,
                                      config.webhook_allow)
        self._forecasts = {r: Forecaster(config.forecast_window_s) for r in RESOURCES}
        self._warnings = {r: EarlyWarning(0.0, config.forecast_horizon_s) for r in RESOURCES}
        self._warning_on: dict[str, bool] = {}
        self.snapshot: ResourceSnapshot | None = None
        self.decision: Decision | None = None
        self._base: Admission | None = None
        self._reserved_at_sample = Need()  # declared by running tasks when last sampled
        self.evictions: dict[int, int] = {}
        self._victim: tuple[int, float] | None = None  # task id, monotonic eviction time
        self._stalled_since: float | None = None

    # ------------------------------------------------------------ the loop

    async def run(self, worker: Governed, stop: asyncio.Event) -> None:
        """Sample and decide once an interval until ``stop`` is set."""
        while True:
            try:
                self.observe(await self.sampler.sample_async(), worker)
            except Exception:  # task guard: one bad sample must not stop the engine
                log.exception("the governor could not take a sample; keeping its last decision")
            if await self.clock.wait_event(stop, self.policy.profile.interval_s):
                return

    def observe(self, snapshot: ResourceSnapshot, worker: Governed) -> Decision:
        """Run one decision step on ``snapshot``; the loop calls it, and so can tests."""
        mono, wall = self.clock.monotonic(), self.clock.now()
        before = self._base
        self.snapshot, self.decision = snapshot, self.policy.step(snapshot, mono)
        self._reserved_at_sample = worker.reserved()
        self._publish(self.features.apply(self.decision.shed, wall))
        self._base = self._admission_base(self.decision)
        if self.config.adaptive_concurrency:
            self.limit.update(now=mono, level=self.decision.level,
                              latency_s=worker.latency_s(), in_flight=worker.in_flight())
        self._forecast(self.decision, mono)
        self._alert(self.decision, wall)
        self._reclaim(self.decision, worker, mono, wall)
        if self._base != before:
            worker.wake_claim.set()  # admission may have loosened
        return self.decision

    # ------------------------------------------------------------ admission

    def admission(self, reserved: Need) -> Admission | None:
        """The decision a claim carries; None before the first sample (admit all)."""
        base = self._base
        if base is None or not self._needs_budget:
            return base
        snap = self.snapshot
        assert snap is not None and self.decision is not None
        profile, fresh = self.policy.profile, not self.decision.is_stale
        # Memory: measured use plus what started since the sample, or what running
        # tasks declared if that is more. CPU: declarations only; measured CPU already
        # sheds features and lowers concurrency, and a busy neighbour must slow this
        # engine down, not stop it.
        since = max(0, reserved.memory - self._reserved_at_sample.memory)
        used_memory = (snap.memory_used_bytes or 0) + since if fresh else 0
        return replace(
            base,
            cpu_free=snap.cpu_limit_cores * profile.cpu_high.enter - reserved.cpu,
            memory_free=(int(snap.memory_limit_bytes * profile.memory_high.enter)
                         - max(reserved.memory, used_memory)))

    def _admission_base(self, d: Decision) -> Admission:
        states = {s.name: s for s in self.features.states()}
        off = self.features.off_names()
        profile = self.policy.profile
        return Admission(
            max_priority=d.max_priority, features_off=off,
            essential=self.features.essential_names(),
            why_class=d.class_reason,
            why_features={name: states[name].reason for name in off},
            why_resources=(f"reservations stay within the {profile.name} profile's high "
                           f"thresholds (CPU {show('cpu', profile.cpu_high.enter)}, memory "
                           f"{show('memory', profile.memory_high.enter)} of the limit)"))

    def concurrency(self, configured: int) -> int:
        """Slots this instance may fill now: the adaptive limit within ``configured``."""
        if not self.config.adaptive_concurrency:
            return configured
        return min(configured, self.limit.limit)

    # ------------------------------------------------------------ controls

    def switch_profile(self, name: str) -> Profile:
        """Use another profile from the next sample on; bands keep their state."""
        try:
            profile = self._profiles[name]
        except KeyError:
            raise InvalidConfig(f"unknown profile {name!r}: use one of "
                                f"{', '.join(sorted(self._profiles))}") from None
        self.policy.switch(profile)
        self._emit("profile", name)
        return profile

    def override(self, name: str, is_on: bool | None, *, for_s: float | None = None,
                 reason: str = "manual override") -> FeatureState:
        """Force a feature on or off (None: back to automatic), optionally for a while."""
        now = self.clock.now()
        until = None if for_s is None else now + for_s
        self._publish(self.features.override(name, is_on, now=now, until=until, reason=reason))
        if self.decision is not None:
            self._base = self._admission_base(self.decision)
        return self.features.state(name)

    def _publish(self, changes: list[FeatureChange]) -> None:
        for change in changes:
            log.info("feature %s is %s: %s", change.name, "on" if change.is_on else "off",
                     change.reason)
            self._emit("feature", f"{change.name}:{'on' if change.is_on else 'off'}")

    # ------------------------------------------------------------ forecasts and alerts

    def _high(self, resource: str) -> Band:
        """The first threshold of ``resource``: its high band, or disk's single limit."""
        high, _, critical = tier_bands(self.policy.profile)[resource]
        band = high or critical
        assert band is not None
        return band

    def _forecast(self, d: Decision, mono: float) -> None:
        for resource, value in d.values.items():
            forecaster, high = self._forecasts[resource], self._high(resource)
            forecaster.observe(mono, value)
            warning = self._warnings[resource]
            warning.floor = high.exit * 0.75  # only a level already well on its way
            self._warning_on[resource] = warning.step(value, forecaster.time_to(high.enter, mono))

    def forecasts(self) -> list[ForecastView]:
        mono = self.clock.monotonic()
        return [ForecastView(r, f.level, f.slope_per_s(), f.time_to(self._high(r).enter, mono),
                             self._warning_on.get(r, False))
                for r, f in self._forecasts.items()]

    def _alert(self, d: Decision, wall: float) -> None:
        if d.is_stale:
            return  # a stale reading neither raises nor clears an alert
        for resource in RESOURCES:
            level, message = self._alert_level(d, resource)
            for note in self.alerts.observe(resource, level, wall, message):
                self.notifier.notify(note)

    def _alert_level(self, d: Decision, resource: str) -> tuple[AlertLevel | None, str]:
        """Critical, high or medium as the value stands against the tier thresholds
        (the alert book's own hold and clear times damp noise); low on a forecast."""
        value = d.values.get(resource)
        if value is None:
            return None, ""
        bands = tier_bands(self.policy.profile)[resource]
        tier = max((k for k, band in enumerate(bands, start=1)
                    if band is not None and value >= band.enter), default=0)
        if tier:
            reason = d.reasons[tier - 1] or f"{resource} at {show(resource, value)}"
            return _TIER_ALERTS[tier], reason
        if self._warning_on.get(resource):
            eta = self._forecasts[resource].time_to(self._high(resource).enter,
                                                    self.clock.monotonic())
            return AlertLevel.LOW, (f"{resource} at {show(resource, value)} is forecast to "
                                    f"reach its high threshold in {eta or 0:.0f} s")
        return None, ""

    def active_alerts(self) -> list[Alert]:
        return self.alerts.active()

    # ------------------------------------------------------------ eviction and escalation

    def _reclaim(self, d: Decision, worker: Governed, mono: float, wall: float) -> None:
        stopped = d.class_tier >= 3 or d.memory_critical
        victim = None
        profile = self.policy.profile
        # Admission follows the band (held through its exit hold); a kill needs the
        # fresh reading itself at or above critical, or memory already coming back
        # would still cost a victim every two samples.
        memory = d.values.get("memory")
        if (d.memory_critical and profile.evict_on_memory_critical and memory is not None
                and memory >= profile.memory_critical.enter):
            victim = self._evict_one(worker, mono, wall)
        reclaimable = victim is not None or self._victim_in_flight(worker, mono)
        if not stopped or reclaimable:
            self._stalled_since = None
        elif self._stalled_since is None:
            self._stalled_since = mono
        self._escalate(d, mono, wall)

    def _victim_in_flight(self, worker: Governed, mono: float) -> bool:
        if self._victim is None:
            return False
        task_id, at = self._victim
        # In flight until its attempt has ended and memory was sampled twice since.
        still_running = any(r.task_id == task_id for r in worker.running_attempts())
        if still_running or mono - at < 2 * self.policy.profile.interval_s:
            return True
        self._victim = None
        return False

    def _evict_one(self, worker: Governed, mono: float, wall: float) -> int | None:
        if self._victim_in_flight(worker, mono):
            return None
        victim = choose_victim(worker.running_attempts(), self.evictions, self.config.eviction)
        if victim is None:
            return None
        count = self.evictions.get(victim.task_id, 0) + 1
        reason = (f"evicted: memory critical ({self.decision.reasons[2] if self.decision else ''});"
                  f" eviction {count} of at most {self.config.eviction.budget}")
        if not worker.evict(victim.task_id, wall + self.config.eviction.delay_s(count), reason):
            return None
        self.evictions[victim.task_id] = count
        self._victim = (victim.task_id, mono)
        log.warning("task %d %s", victim.task_id, reason)
        return victim.task_id

    def _escalate(self, d: Decision, mono: float, wall: float) -> None:
        stalled_s = 0.0 if self._stalled_since is None else mono - self._stalled_since
        level, message = None, ""
        if stalled_s >= self.config.escalate_after_s:
            level = AlertLevel.CRITICAL
            message = (f"admission has been stopped for {stalled_s:.0f} s and nothing can be "
                       f"evicted ({d.reasons[2] or d.reasons[0]}): free memory or CPU on this "
                       f"machine, switch profile, or move work to another instance")
        for note in self.alerts.observe("admission", level, wall, message):
            if note.kind == "firing":
                log.critical("%s", note.alert.message)
                self._emit("escalated", note.alert.message)
            self.notifier.notify(note)

    # ------------------------------------------------------------ reports

    def health(self) -> Health:
        """0-100, naming the resource that limits it."""
        if self.decision is None:
            return health_score({})
        return health_of(self.decision, self.policy.profile)

    def capacity(self, *, backlog: int, arrival_per_s: float, service_s: float,
                 concurrency: int, target_drain_s: float) -> CapacityPlan:
        """How long the backlog takes, and what would drain it within ``target_drain_s``."""
        etas = {f.resource: f.seconds_to_high for f in self.forecasts()}
        level = self.decision.level if self.decision is not None else 0.0
        return plan(backlog=backlog, arrival_per_s=arrival_per_s, service_s=service_s,
                    concurrency=max(concurrency, 1), target_drain_s=target_drain_s,
                    resource_eta_s=etas, resource_level=level)


def health_of(d: Decision, profile: Profile) -> Health:
    """Score a decision's readings against the profile's high and critical thresholds."""
    bands, readings = tier_bands(profile), {}
    for resource, value in d.values.items():
        high, _, critical = bands[resource]
        assert critical is not None
        # Disk has one limit: count 10 points below it as its "high".
        high_enter = high.enter if high is not None else max(critical.enter - 0.1, 0.0)
        to_fraction = scale_of(resource) / 100  # pressure is kept in percent
        readings[resource] = Reading(value * to_fraction, high_enter * to_fraction,
                                     critical.enter * to_fraction)
    return health_score(readings, is_stale=d.is_stale)
