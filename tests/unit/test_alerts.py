"""Alert episodes on simulated time: figure G12 of RESOURCES.md and the silencing rules."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable

import pytest

from zerogate.domain.alerts import (
    DEFAULT_FOR_S,
    Alert,
    AlertBook,
    AlertLevel,
    AlertPhase,
    Notification,
)
from zerogate.errors import InvalidConfig

LOW, MEDIUM, HIGH, CRITICAL = AlertLevel
CUTS = ((90.0, CRITICAL), (80.0, HIGH), (70.0, MEDIUM), (60.0, LOW))
CLEAR_S = 30.0

Sent = tuple[float, str, AlertLevel, str]  # (time, resource, level, kind)


def level_of(value: float) -> AlertLevel | None:
    return next((level for cut, level in CUTS if value >= cut), None)


def feed(book: AlertBook, resource: str, levels: Iterable[AlertLevel | None],
         start: float = 0.0) -> list[Sent]:
    """One sample a second from ``start``; return every notification as (t, r, level, kind)."""
    sent = []
    for i, level in enumerate(levels):
        t = start + i
        sent += [(t, n.alert.resource, n.alert.level, n.kind)
                 for n in book.observe(resource, level, t, f"{resource} {level!r} at {t}")]
    return sent


def steady(level: AlertLevel | None, seconds: int) -> list[AlertLevel | None]:
    return [level] * seconds


def g12_signal(seed: int) -> list[float]:
    """Ten minutes of memory that climbs, flickers across every boundary, and recovers."""
    rng = random.Random(seed)
    phases = [(90, 65.0, 3.0), (110, 70.0, 4.0), (120, 85.0, 3.0), (120, 90.0, 3.0),
              (60, 84.0, 3.0), (100, 50.0, 3.0)]  # (seconds, centre, uniform noise)
    return [centre + rng.uniform(-noise, noise)
            for seconds, centre, noise in phases for _ in range(seconds)]


def test_g12_a_flickering_signal_notifies_once_per_episode() -> None:
    values = g12_signal(seed=12)
    levels = [level_of(v) for v in values]
    flips = sum(a != b for a, b in itertools.pairwise(levels))
    assert flips > 100  # the noise really crosses the boundaries
    critical = [t for t, v in enumerate(values) if v >= 90.0]
    book = AlertBook(clear_s=CLEAR_S)
    sent = feed(book, "memory", levels)
    assert sent == [
        (60.0, "memory", LOW, "firing"),  # low held from the start: for_s 60
        (210.0, "memory", HIGH, "firing"),  # medium only flickered: never held 30 s
        (critical[0], "memory", CRITICAL, "firing"),
        (critical[-1] + 1 + CLEAR_S, "memory", CRITICAL, "resolved"),
        (530.0, "memory", HIGH, "resolved"),
        (530.0, "memory", LOW, "resolved"),
    ]
    # Medium fired by 230 under the firing high, so it was silenced throughout.
    medium = [a for a in book.history() if a.level is MEDIUM]
    assert len(medium) == 1 and medium[0].is_silenced
    assert medium[0].fired_at is not None and 210.0 < medium[0].fired_at <= 230.0
    assert book.active() == []


@pytest.mark.parametrize("seed", range(10))
def test_g12_every_notification_belongs_to_a_real_episode(seed: int) -> None:
    """On random walks: firing and resolved alternate, each justified by the signal."""
    rng = random.Random(seed)
    book = AlertBook(clear_s=CLEAR_S)
    history: dict[str, list[AlertLevel | None]] = defaultdict(list)
    walks = {"memory": 70.0, "cpu": 70.0}
    sent: list[tuple[int, Notification]] = []
    for t in range(1200):
        for resource, value in walks.items():
            walks[resource] = value = min(max(value + rng.gauss(0, 2), 30.0), 100.0)
            level = level_of(value + rng.uniform(-4, 4))
            history[resource].append(level)
            sent += [(t, n) for n in book.observe(resource, level, t, "")]
    assert sum(n.kind == "resolved" for _, n in sent) >= 2  # the walks do cross back
    kinds: dict[tuple[str, AlertLevel], list[str]] = defaultdict(list)
    for t, n in sent:
        resource, level = n.alert.resource, n.alert.level
        kinds[resource, level].append(n.kind)
        holds = [x is not None and x >= level for x in history[resource]]
        if n.kind == "firing":
            fired_at = n.alert.fired_at
            assert fired_at is not None and holds[t]
            assert all(holds[int(fired_at - DEFAULT_FOR_S[level]):int(fired_at) + 1])
        else:  # stayed false for clear_s: the same episode could not have continued
            assert not any(holds[t - int(CLEAR_S):t + 1])
    for sequence in kinds.values():
        assert sequence[::2] == ["firing"] * len(sequence[::2])
        assert sequence[1::2] == ["resolved"] * len(sequence[1::2])


def test_critical_fires_at_once_and_silences_the_lower_levels_of_its_resource_only() -> None:
    book = AlertBook()
    sent = []
    for t in range(21):
        sent += feed(book, "memory", [CRITICAL], start=t)
        sent += feed(book, "cpu", [HIGH], start=t)
    assert sent == [(0.0, "memory", CRITICAL, "firing"), (10.0, "cpu", HIGH, "firing")]
    seen = [(a.level, a.resource, a.phase, a.is_silenced) for a in book.active()]
    assert seen == [
        (CRITICAL, "memory", AlertPhase.FIRING, False),
        (HIGH, "cpu", AlertPhase.FIRING, False),
        (HIGH, "memory", AlertPhase.FIRING, True),
        (MEDIUM, "cpu", AlertPhase.PENDING, True),
        (MEDIUM, "memory", AlertPhase.PENDING, True),
        (LOW, "cpu", AlertPhase.PENDING, True),
        (LOW, "memory", AlertPhase.PENDING, True),
    ]


def test_a_silenced_level_is_notified_when_the_higher_one_resolves_and_it_still_holds() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    sent = feed(book, "memory", steady(CRITICAL, 50) + steady(HIGH, 150) + steady(None, 31))
    assert sent == [
        (0.0, "memory", CRITICAL, "firing"),
        (80.0, "memory", CRITICAL, "resolved"),
        (80.0, "memory", HIGH, "firing"),  # fired at 10 under critical: notified now
        (230.0, "memory", HIGH, "resolved"),
    ]
    history = book.history()
    assert [(a.level, a.is_silenced) for a in history] == [
        (LOW, True), (MEDIUM, True), (HIGH, False), (CRITICAL, False)]
    high = history[2]
    assert (high.started_at, high.fired_at, high.resolved_at) == (0.0, 10.0, 230.0)
    assert high.phase is AlertPhase.RESOLVED


def test_the_deferred_notification_carries_the_original_fired_at() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    feed(book, "memory", steady(CRITICAL, 50) + steady(HIGH, 30))
    [resolved, firing] = book.observe("memory", HIGH, 80.0, "memory at 85 %")
    assert (resolved.kind, resolved.alert.level) == ("resolved", CRITICAL)
    assert firing.kind == "firing"
    assert firing.alert == Alert("memory", HIGH, AlertPhase.FIRING, "memory at 85 %",
                                 started_at=0.0, fired_at=10.0)


def test_a_silenced_level_that_clears_with_the_higher_one_never_notifies() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    sent = feed(book, "memory", steady(CRITICAL, 100) + steady(None, 31))
    assert sent == [(0.0, "memory", CRITICAL, "firing"), (130.0, "memory", CRITICAL, "resolved")]


def test_a_level_notified_before_the_higher_one_fired_is_not_notified_again() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    sent = feed(book, "memory",
                steady(HIGH, 100) + steady(CRITICAL, 50) + steady(HIGH, 150) + steady(None, 31))
    assert sent == [
        (10.0, "memory", HIGH, "firing"),
        (100.0, "memory", CRITICAL, "firing"),
        (180.0, "memory", CRITICAL, "resolved"),
        (330.0, "memory", HIGH, "resolved"),
    ]


def test_a_silenced_level_that_is_clearing_is_not_notified_when_the_silence_lifts() -> None:
    """'Still holds' means now: a lower level inside its own clear_s stays quiet."""
    book = AlertBook(clear_s=CLEAR_S)
    # Critical false from 50; high false from 50, back at 60, false again from 70.
    sent = feed(book, "memory", steady(CRITICAL, 50) + steady(None, 10) + steady(HIGH, 10)
                + steady(None, 31))
    assert sent == [(0.0, "memory", CRITICAL, "firing"), (80.0, "memory", CRITICAL, "resolved")]
    # Low was still pending at 50: dropped. High and medium resolved later, unnotified.
    assert [(a.level, a.resolved_at, a.is_silenced) for a in book.history()] == [
        (MEDIUM, 100.0, True), (HIGH, 100.0, True), (CRITICAL, 80.0, False)]


def test_a_pending_alert_that_clears_before_for_s_is_dropped_silently() -> None:
    book = AlertBook()
    assert feed(book, "memory", steady(HIGH, 9) + steady(None, 1)) == []
    assert book.active() == []
    assert book.history() == []


def test_pending_needs_an_unbroken_hold() -> None:
    """Prometheus's ``for:``: a single false sample restarts the count."""
    book = AlertBook()
    assert feed(book, "memory", (steady(HIGH, 9) + steady(None, 1)) * 10) == []
    [firing] = feed(book, "memory", steady(HIGH, 11), start=100.0)
    assert firing == (110.0, "memory", HIGH, "firing")


def test_a_condition_back_within_clear_s_continues_the_same_episode() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    sent = feed(book, "cpu", steady(HIGH, 40) + steady(None, 29) + steady(HIGH, 31))
    assert sent == [(10.0, "cpu", HIGH, "firing")]
    [high] = [a for a in book.active() if a.level is HIGH]
    assert (high.phase, high.started_at, high.fired_at) == (AlertPhase.FIRING, 0.0, 10.0)
    assert feed(book, "cpu", steady(None, 31), start=100.0) == [
        (130.0, "cpu", HIGH, "resolved")]


def test_a_condition_back_after_clear_s_is_a_new_episode() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    sent = feed(book, "cpu", steady(HIGH, 40) + steady(None, 31) + steady(HIGH, 11))
    assert sent == [(10.0, "cpu", HIGH, "firing"), (70.0, "cpu", HIGH, "resolved"),
                    (81.0, "cpu", HIGH, "firing")]


def test_an_alert_clearing_is_still_active_and_firing() -> None:
    book = AlertBook(clear_s=CLEAR_S)
    feed(book, "cpu", steady(HIGH, 20) + steady(None, 10))
    [high] = [a for a in book.active() if a.level is HIGH]
    assert high.phase is AlertPhase.FIRING and high.resolved_at is None
    assert {a.level for a in book.active()} == {HIGH}  # medium and low were pending: dropped


def test_notifications_carry_the_latest_message() -> None:
    book = AlertBook(clear_s=0.0)
    assert book.observe("disk", CRITICAL, 0.0, "disk 95 %")[0].alert.message == "disk 95 %"
    [resolved] = book.observe("disk", None, 1.0, "disk 40 %")
    assert (resolved.kind, resolved.alert.message, resolved.alert.resolved_at) == (
        "resolved", "disk 40 %", 1.0)


def test_for_s_overrides_merge_over_the_defaults() -> None:
    book = AlertBook({HIGH: 0.0})
    assert feed(book, "memory", [HIGH]) == [(0.0, "memory", HIGH, "firing")]
    assert feed(AlertBook(), "memory", [HIGH]) == []


def test_history_is_newest_first_bounded_and_limited() -> None:
    book = AlertBook(clear_s=0.0, history_size=3)
    for i in range(5):
        book.observe(f"r{i}", CRITICAL, float(i), "")
        book.observe(f"r{i}", None, float(i), "")
    assert [a.resource for a in book.history()] == ["r4", "r3", "r2"]
    assert [a.resource for a in book.history(limit=2)] == ["r4", "r3"]
    assert book.history(limit=0) == []


def test_levels_order_and_have_labels() -> None:
    assert LOW < MEDIUM < HIGH < CRITICAL
    assert [level.label for level in AlertLevel] == ["low", "medium", "high", "critical"]
    assert [str(phase) for phase in AlertPhase] == ["pending", "firing", "resolved"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"for_s": {HIGH: -1.0}}, "for_s"),
    ({"clear_s": -1.0}, "clear_s"),
    ({"history_size": 0}, "history_size"),
])
def test_books_that_cannot_work_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidConfig, match=match):
        AlertBook(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfig, match="limit"):
        AlertBook().history(limit=-1)
