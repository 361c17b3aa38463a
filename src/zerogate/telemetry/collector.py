"""Per-attempt facts in, per-task-type aggregates out, with the hot path kept to an append.

The worker calls ``ended`` once per attempt: it appends a tuple and returns. Once an
interval, ``drain`` groups what arrived by task type and folds it into: totals since
start (for Prometheus), the open minute, hour and day buckets (for history), and a
short deque of recent ticks (for bottleneck windows). Grouping sorts each type's
durations once, so the cost per attempt is a few list operations done in C.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from zerogate.domain.digest import exact_quantile
from zerogate.domain.model import TaskState
from zerogate.domain.records import Claim, Outcome
from zerogate.telemetry.aggregates import RESOLUTIONS, Agg, TaskAgg, bucket_start

Usage = tuple[float | None, int | None]  # CPU seconds, peak memory bytes
Record = tuple[Claim, Outcome, float, Usage | None]
RECENT_TICKS = 120  # ticks of per-type detail kept for bottleneck windows
MAX_SAMPLES = 512  # run times kept per type and tick for exact window quantiles


@dataclass(slots=True)
class TypeTick:
    """One task type's attempts in one tick."""

    attempts: int = 0
    completed: int = 0
    failures: int = 0  # failed or retrying
    runs: list[float] = field(default_factory=list)  # ascending, at most MAX_SAMPLES
    waits: list[float] = field(default_factory=list)  # ascending, first attempts only
    last_error: str | None = None


@dataclass(slots=True)
class KeyTick:
    done: int = 0
    run_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    """What one drain saw: per task type and per key, over ``span_s`` ending at ``at``."""

    at: float  # wall clock
    span_s: float
    types: dict[str, TypeTick]
    keys: dict[str, KeyTick]


class Collector:
    """Aggregates attempts; ``ended`` is the only method the hot path calls."""

    def __init__(self) -> None:
        self._pending: list[Record] = []
        self.totals: dict[str, TaskAgg] = {}
        self.ticks: deque[Tick] = deque(maxlen=RECENT_TICKS)
        # (resolution, bucket start) -> (kind, name) -> aggregate, until saved and closed
        self.open: dict[tuple[str, float], dict[tuple[str, str], Agg]] = {}
        self.dirty: set[tuple[str, float, str, str]] = set()
        self._last_at: float | None = None

    @property
    def pending(self) -> int:
        """Attempts recorded and not yet drained."""
        return len(self._pending)

    def start(self, now: float) -> None:
        """Count the first tick's span from ``now`` (the wall clock)."""
        self._last_at = now

    def ended(self, claim: Claim, outcome: Outcome, run_s: float,
              usage: Usage | None = None) -> None:
        """Record one attempt's end (the hot path: one append)."""
        self._pending.append((claim, outcome, run_s, usage))

    def drain(self, now: float) -> Tick:
        """Fold in what arrived since the last drain; ``now`` is the wall clock."""
        batch, self._pending = self._pending, []
        span = now - self._last_at if self._last_at is not None else 0.0
        self._last_at = now
        groups: dict[str, list[Record]] = {}
        for rec in batch:
            group = groups.get(rec[0].name)
            if group is None:
                groups[rec[0].name] = [rec]
            else:
                group.append(rec)
        types: dict[str, TypeTick] = {}
        keys: dict[str, KeyTick] = {}
        for name, group in groups.items():
            agg, types[name] = _fold(group, keys)
            self._add("task", name, agg, now)
            self.totals.setdefault(name, TaskAgg()).merge(agg)
        tick = Tick(at=now, span_s=span, types=types, keys=keys)
        self.ticks.append(tick)
        return tick

    def add(self, kind: str, name: str, agg: Agg, at: float) -> None:
        """Fold ``agg`` into the open buckets of every resolution (stages, resources)."""
        self._add(kind, name, agg, at)

    def _add(self, kind: str, name: str, agg: Agg, at: float) -> None:
        for resolution in RESOLUTIONS:
            bucket = bucket_start(resolution, at)
            aggs = self.open.setdefault((resolution, bucket), {})
            old = aggs.get((kind, name))
            if old is None:
                aggs[(kind, name)] = type(agg)()
                old = aggs[(kind, name)]
            old.merge(agg)  # type: ignore[arg-type]
            self.dirty.add((resolution, bucket, kind, name))

    def take_dirty(self) -> list[tuple[str, float, str, str, Agg]]:
        """Rows changed since the last take, to save; the caller puts them back on failure."""
        rows = [(r, b, k, n, self.open[(r, b)][(k, n)]) for r, b, k, n in sorted(self.dirty)]
        self.dirty.clear()
        return rows

    def close_before(self, now: float) -> None:
        """Forget buckets that ended before ``now`` and have nothing left to save."""
        pending = {(r, b) for r, b, _, _ in self.dirty}
        for resolution, bucket in list(self.open):
            ended = bucket + RESOLUTIONS[resolution] <= now
            if ended and (resolution, bucket) not in pending:
                del self.open[(resolution, bucket)]

    def window(self, task: str, min_samples: int, max_ticks: int) -> list[TypeTick]:
        """The newest ticks of ``task``, enough to hold ``min_samples`` attempts if possible."""
        out: list[TypeTick] = []
        seen = 0
        for tick in list(self.ticks)[-max_ticks:][::-1]:
            t = tick.types.get(task)
            if t is not None:
                out.append(t)
                seen += t.attempts
                if seen >= min_samples:
                    break
        return out

    def recent_names(self, ticks: int) -> set[str]:
        names: set[str] = set()
        for tick in list(self.ticks)[-ticks:]:
            names.update(tick.types)
        return names


def _fold(group: list[Record], keys: dict[str, KeyTick]) -> tuple[TaskAgg, TypeTick]:
    """Aggregate one task type's records of one tick."""
    runs = sorted([r[2] for r in group])
    waits = sorted([c.started_at - c.ready_at for c, _, _, _ in group
                    if c.attempt == 1 and c.ready_at is not None])
    states = Counter([r[1].state for r in group])
    agg = TaskAgg(attempts=len(group), completed=states[TaskState.COMPLETED],
                  failed=states[TaskState.FAILED], retried=states[TaskState.RETRYING])
    agg.duration.add_sorted(runs)
    agg.wait.add_sorted([max(w, 0.0) for w in waits])
    _fold_usage(agg, [r[3] for r in group if r[3] is not None])
    _fold_keys(keys, [r for r in group if r[0].key is not None])
    tick = TypeTick(attempts=agg.attempts, completed=agg.completed,
                    failures=agg.failed + agg.retried, runs=_thin(runs), waits=_thin(waits))
    if tick.failures:
        tick.last_error = next((r[1].error for r in reversed(group)
                                if r[1].state is not TaskState.COMPLETED), None)
    return agg, tick


def _fold_usage(agg: TaskAgg, usages: list[Usage]) -> None:
    for cpu_s, peak in usages:
        if cpu_s is not None:
            agg.cpu_s += cpu_s
            agg.cpu_n += 1
        if peak is not None:
            agg.peak_memory = max(agg.peak_memory, peak)


def _fold_keys(keys: dict[str, KeyTick], keyed: list[Record]) -> None:
    for claim, _, run_s, _ in keyed:
        assert claim.key is not None
        k = keys.get(claim.key)
        if k is None:
            k = keys[claim.key] = KeyTick()
        k.done += 1
        k.run_s += run_s


def _thin(ordered: list[float]) -> list[float]:
    """At most MAX_SAMPLES evenly spaced values of ``ordered`` (still ascending)."""
    if len(ordered) <= MAX_SAMPLES:
        return ordered
    step = len(ordered) / MAX_SAMPLES
    return [ordered[int(i * step)] for i in range(MAX_SAMPLES)]


def merge_ticks(ticks: Iterable[TypeTick]) -> TypeTick:
    """One tick holding the attempts of ``ticks`` (quantiles from the merged samples)."""
    out = TypeTick()
    for t in ticks:
        out.attempts += t.attempts
        out.completed += t.completed
        out.failures += t.failures
        out.runs += t.runs
        out.waits += t.waits
        out.last_error = out.last_error or t.last_error
    out.runs.sort()
    out.waits.sort()
    return out


def quantile(ordered: list[float], q: float) -> float:
    value = exact_quantile(ordered, q)
    return 0.0 if value is None else value
