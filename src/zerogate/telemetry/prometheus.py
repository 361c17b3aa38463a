"""Prometheus exposition through prometheus_client, from a snapshot the loop publishes.

Nothing is observed per task into prometheus_client (its locks would cost on the hot
path): the telemetry loop publishes an immutable ``MetricsView`` once a tick, and a
custom collector turns the latest one into metric families when scraped, from any
thread. Names follow Prometheus conventions (``_total`` counters, ``_seconds``
histograms, ``_ratio`` and ``_bytes`` gauges); labels are bounded: task types beyond
``MAX_TASK_LABELS`` share the label ``other``, and no id is ever a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from zerogate.domain.digest import Digest
from zerogate.telemetry.aggregates import TaskAgg

MAX_TASK_LABELS = 200
MAX_STAGE_LABELS = 200
OTHER = "other"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsView:
    """Everything one scrape shows; built once a tick, never changed after."""

    tasks: Mapping[str, TaskAgg] = field(default_factory=dict)
    open_tasks: Mapping[str, int] = field(default_factory=dict)
    ready_by_priority: Mapping[str, int] = field(default_factory=dict)
    workflows: Mapping[str, int] = field(default_factory=dict)
    resources: Mapping[str, float] = field(default_factory=dict)  # ratios
    load_level: float | None = None
    health_score: float | None = None
    concurrency_limit: int | None = None
    running: int = 0
    features: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    alerts_firing: Mapping[str, int] = field(default_factory=dict)
    bottlenecks: Mapping[tuple[str, str], int] = field(default_factory=dict)
    stage_shares: Mapping[tuple[str, str], float] = field(default_factory=dict)


def bounded_tasks(totals: Mapping[str, TaskAgg]) -> dict[str, TaskAgg]:
    """Copies of ``totals`` with at most MAX_TASK_LABELS names, the rest as ``other``."""
    out: dict[str, TaskAgg] = {}
    for i, name in enumerate(sorted(totals)):
        label = name if i < MAX_TASK_LABELS else OTHER
        agg = out.setdefault(label, TaskAgg())
        agg.merge(totals[name])
    return out


class ViewCollector(Collector):
    """A prometheus_client collector over the latest published view."""

    def __init__(self, source: Callable[[], MetricsView]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        view = self._source()
        yield from _task_families(view.tasks)
        yield from _queue_families(view)
        yield from _governor_families(view)


def _task_families(tasks: Mapping[str, TaskAgg]) -> Iterator[Metric]:
    attempts = CounterMetricFamily("zerogate_task_attempts", "Attempts that ended, by outcome",
                                   labels=["task", "outcome"])
    cpu = CounterMetricFamily("zerogate_task_cpu_seconds", "CPU time of measured attempts",
                              labels=["task"])
    memory = GaugeMetricFamily("zerogate_task_peak_memory_bytes",
                               "Highest peak memory measured for one attempt", labels=["task"])
    duration = HistogramMetricFamily("zerogate_task_duration_seconds",
                                     "Run time of attempts", labels=["task"])
    wait = HistogramMetricFamily("zerogate_task_queue_wait_seconds",
                                 "Time first attempts waited between ready and started",
                                 labels=["task"])
    for name, agg in sorted(tasks.items()):
        for outcome, n in (("completed", agg.completed), ("failed", agg.failed),
                           ("retried", agg.retried)):
            attempts.add_metric([name, outcome], n)
        if agg.cpu_n:
            cpu.add_metric([name], agg.cpu_s)
        if agg.peak_memory:
            memory.add_metric([name], agg.peak_memory)
        duration.add_metric([name], _buckets(agg.duration), agg.duration.total)
        wait.add_metric([name], _buckets(agg.wait), agg.wait.total)
    yield from (attempts, duration, wait, cpu, memory)


def _buckets(d: Digest) -> list[tuple[str, float]]:
    cumulative = [(_le(bound), float(n)) for bound, n in d.cumulative()]
    return [*cumulative, ("+Inf", float(d.count))]


def _le(bound: float) -> str:
    return f"{bound:.6g}"


def _queue_families(view: MetricsView) -> Iterator[Metric]:
    yield _gauge("zerogate_tasks", "Open tasks by state", "state", view.open_tasks)
    yield _gauge("zerogate_ready_tasks", "Ready tasks by priority class", "priority",
                 view.ready_by_priority)
    yield _gauge("zerogate_workflows", "Open workflows by state", "state", view.workflows)
    yield GaugeMetricFamily("zerogate_running_attempts",
                            "Attempts this instance runs now", value=view.running)
    stages = GaugeMetricFamily("zerogate_stage_critical_path_ratio",
                               "Share of sampled runs' critical paths a step took",
                               labels=["workflow", "step"])
    for (workflow, step), share in sorted(view.stage_shares.items())[:MAX_STAGE_LABELS]:
        stages.add_metric([workflow, step], share)
    yield stages


def _governor_families(view: MetricsView) -> Iterator[Metric]:
    yield _gauge("zerogate_resource_usage_ratio", "Use of each resource as the governor "
                 "read it (pressure: PSI some avg10 / 100)", "resource", view.resources)
    for name, text, value in (
            ("zerogate_load_level_ratio", "Graded load: 0 below high, 1 at critical",
             view.load_level),
            ("zerogate_health_score", "Health 0-100", view.health_score),
            ("zerogate_concurrency_limit", "Slots the adaptive limit allows",
             view.concurrency_limit)):
        if value is not None:
            yield GaugeMetricFamily(name, text, value=float(value))
    features = GaugeMetricFamily("zerogate_feature_enabled", "1 when a feature is on",
                                 labels=["feature", "category"])
    for (name, category), is_on in sorted(view.features.items()):
        features.add_metric([name, category], 1.0 if is_on else 0.0)
    yield features
    yield _gauge("zerogate_alerts_firing", "Firing alerts by level", "level", view.alerts_firing)
    found = GaugeMetricFamily("zerogate_bottlenecks_active", "Active bottleneck findings",
                              labels=["kind", "severity"])
    for (kind, severity), n in sorted(view.bottlenecks.items()):
        found.add_metric([kind, severity], n)
    yield found


def _gauge(name: str, text: str, label: str, values: Mapping[str, float]) -> Metric:
    family = GaugeMetricFamily(name, text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class Exposition:
    """A private registry (no global state) serving the latest view as text."""

    def __init__(self) -> None:
        self.view = MetricsView()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ViewCollector(lambda: self.view))
        self._text: tuple[MetricsView, bytes] | None = None

    def publish(self, view: MetricsView) -> None:
        self.view = view  # one reference swap: a scrape in another thread sees old or new

    def text(self) -> bytes:
        """The exposition of the latest view, rendered once per view."""
        view, cached = self.view, self._text
        if cached is not None and cached[0] is view:
            return cached[1]
        text = generate_latest(self.registry)
        self._text = (view, text)
        return text
