"""Alerts that notify once per episode (RESOURCES.md rule 9, figure G12).

Each sample says a resource's current level, or None when it is fine. A resource at
level L satisfies every level up to L, and each (resource, level) condition lives as an
episode::

    (absent) --true--> pending --true for for_s[level]--> firing --false for clear_s--> resolved
                          |
                          +--false--> dropped, silently

* Pending needs the condition to hold without a break (Prometheus's ``for:``): a
  pending alert whose condition fails once is dropped without a notification.
* A firing episode survives a condition that returns within ``clear_s``: noise around
  a boundary does not open a new episode, so it does not notify again.
* One "firing" notification per episode, and one "resolved" notification for episodes
  whose firing was notified.
* While a higher level of the same resource fires, a lower one is silenced: no
  notification. If the higher one resolves while the lower still holds, the lower one
  is notified then, unless it already was before the higher one fired.

Pure: time comes in as ``now``.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from zerogate.errors import InvalidConfig


class AlertLevel(enum.IntEnum):
    """How bad a resource is; a higher level implies every lower one."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class AlertPhase(enum.StrEnum):
    """Where an alert is in its episode."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One (resource, level) episode as seen at a moment."""

    resource: str
    level: AlertLevel
    phase: AlertPhase
    message: str
    started_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    # A higher level of the resource is firing. On a resolved alert: it never notified.
    is_silenced: bool = False


@dataclass(frozen=True, slots=True)
class Notification:
    """Tell the outside world that an alert started firing or resolved."""

    alert: Alert
    kind: Literal["firing", "resolved"]


# The worse the level, the less time it must hold before it fires.
DEFAULT_FOR_S: Mapping[AlertLevel, float] = {
    AlertLevel.LOW: 60.0, AlertLevel.MEDIUM: 30.0, AlertLevel.HIGH: 10.0,
    AlertLevel.CRITICAL: 0.0,
}


@dataclass(frozen=True, slots=True)
class _Episode:
    """The book's memory of one (resource, level) episode."""

    started_at: float
    message: str
    fired_at: float | None = None
    false_since: float | None = None  # condition false since then, while firing
    is_notified: bool = False


class AlertBook:
    """Feed each resource's level once per sample; send the notifications it returns."""

    def __init__(self, for_s: Mapping[AlertLevel, float] | None = None, *,
                 clear_s: float = 30.0, history_size: int = 1000) -> None:
        merged = {**DEFAULT_FOR_S, **(for_s or {})}
        bad = {level.label: hold for level, hold in merged.items() if not hold >= 0}
        if bad:
            raise InvalidConfig(f"for_s must not be negative, got {bad}")
        if not clear_s >= 0:
            raise InvalidConfig(f"clear_s must not be negative, got {clear_s}")
        if history_size < 1:
            raise InvalidConfig(f"history_size must be at least 1, got {history_size}")
        self._for_s = merged
        self._clear_s = clear_s
        self._episodes: dict[tuple[str, AlertLevel], _Episode] = {}
        self._history: deque[Alert] = deque(maxlen=history_size)

    def observe(self, resource: str, level: AlertLevel | None, now: float,
                message: str) -> list[Notification]:
        """Record ``resource`` at ``level`` (None: fine) at ``now``; return what to send."""
        notes: list[Notification] = []
        # Highest first, so a lower level sees this sample's silencing.
        for each in sorted(AlertLevel, reverse=True):
            is_true = level is not None and level >= each
            notes.extend(self._step(resource, each, is_true, now, message))
        return notes

    def active(self) -> list[Alert]:
        """Pending and firing alerts, the worst level first, then by resource."""
        alerts = [self._snapshot(resource, level, episode)
                  for (resource, level), episode in self._episodes.items()]
        return sorted(alerts, key=lambda a: (-a.level, a.resource))

    def history(self, limit: int = 100) -> list[Alert]:
        """Resolved alerts, newest first, at most ``limit`` of them."""
        if limit < 0:
            raise InvalidConfig(f"limit must not be negative, got {limit}")
        return list(self._history)[::-1][:limit]

    def _step(self, resource: str, level: AlertLevel, is_true: bool, now: float,
              message: str) -> list[Notification]:
        key = (resource, level)
        episode = self._episodes.pop(key, None)
        if episode is None:
            if not is_true:
                return []
            episode = _Episode(started_at=now, message=message)
        if is_true:
            episode = self._hold(episode, level, now, message)
        elif episode.fired_at is None:
            return []  # pending that cleared before firing: dropped silently
        else:
            since = episode.false_since if episode.false_since is not None else now
            episode = replace(episode, message=message, false_since=since)
            if now - since >= self._clear_s:
                return self._resolve(resource, level, episode, now)
        self._episodes[key] = episode
        return self._notify_firing(resource, level, episode, is_true)

    def _hold(self, episode: _Episode, level: AlertLevel, now: float,
              message: str) -> _Episode:
        """The episode after its condition held at ``now``: firing once held for_s."""
        fired_at = episode.fired_at
        if fired_at is None and now - episode.started_at >= self._for_s[level]:
            fired_at = now
        return replace(episode, message=message, fired_at=fired_at, false_since=None)

    def _notify_firing(self, resource: str, level: AlertLevel, episode: _Episode,
                       is_true: bool) -> list[Notification]:
        """Notify a firing episode once, when it holds and nothing above silences it."""
        if (episode.fired_at is None or episode.is_notified or not is_true
                or self._is_silenced(resource, level)):
            return []
        episode = replace(episode, is_notified=True)
        self._episodes[resource, level] = episode
        return [Notification(self._snapshot(resource, level, episode), "firing")]

    def _resolve(self, resource: str, level: AlertLevel, episode: _Episode,
                 now: float) -> list[Notification]:
        alert = replace(self._snapshot(resource, level, episode), phase=AlertPhase.RESOLVED,
                        resolved_at=now, is_silenced=not episode.is_notified)
        self._history.append(alert)
        return [Notification(alert, "resolved")] if episode.is_notified else []

    def _is_silenced(self, resource: str, level: AlertLevel) -> bool:
        """Whether a higher level of the same resource is firing (even while clearing)."""
        return any(
            (episode := self._episodes.get((resource, higher))) is not None
            and episode.fired_at is not None
            for higher in AlertLevel if higher > level)

    def _snapshot(self, resource: str, level: AlertLevel, episode: _Episode) -> Alert:
        phase = AlertPhase.PENDING if episode.fired_at is None else AlertPhase.FIRING
        return Alert(resource, level, phase, episode.message, episode.started_at,
                     episode.fired_at, is_silenced=self._is_silenced(resource, level))
