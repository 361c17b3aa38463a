"""The performance report: history read back from the store's rollups, as plain data.

Works with or without a running engine (``zerogate report`` reads the store alone):
hour rows give the per-type and per-step tables and the hourly trends; finding rows
give the bottlenecks, active and resolved. The shape is "zerogate.report/1", which
``zerogate.telemetry.export`` renders as JSON, CSV or HTML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from zerogate.domain.records import RollupRow
from zerogate.ports import Store
from zerogate.telemetry.aggregates import GaugeAgg, StageAgg, TaskAgg

SCHEMA = "zerogate.report/1"
HOUR = 3600.0


async def build_report(store: Store, *, since: float, until: float, now: float,
                       status: Mapping[str, Any] | None = None,
                       capacity: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report of ``since``..``until`` (epoch seconds) from the store's history."""
    start = since - since % HOUR
    # One read per kind: the primary key (resolution, kind, bucket) serves each range.
    rows = {kind: await store.load_rollups("hour", since=start, until=until, kind=kind)
            for kind in ("task", "stage", "resource")}
    found = await store.load_rollups("finding", since=0.0)
    span = max(min(until, now) - since, 1.0)
    tasks = [(row, TaskAgg.from_json(row.data)) for row in rows["task"]]
    by_type = _merge_by_name(tasks)
    everything = TaskAgg()
    for agg in by_type.values():
        everything.merge(agg)
    return {
        "schema": SCHEMA, "generated_at": now, "window": {"since": since, "until": until},
        "summary": _summary(everything, span),
        "task_types": [{"task": name, **_task_row(agg, span)} for name, agg in
                       sorted(by_type.items(), key=lambda kv: (-kv[1].attempts, kv[0]))],
        "stages": _stages([(r, StageAgg.from_json(r.data)) for r in rows["stage"]]),
        "trends": trends(tasks, [(r, GaugeAgg.from_json(r.data)) for r in rows["resource"]],
                         now=now),
        "bottlenecks": [f for f in findings_of(found) if _float(f.get("last_seen")) >= since],
        "capacity": dict(capacity) if capacity is not None else None,
        "status": dict(status) if status is not None else {"status": "unknown", "reasons": []},
    }


A = TypeVar("A", TaskAgg, StageAgg, GaugeAgg)


def _merge_by_name(rows: Sequence[tuple[RollupRow, A]]) -> dict[str, A]:
    out: dict[str, A] = {}
    for row, agg in rows:
        if row.name in out:
            out[row.name].merge(agg)
        else:
            out[row.name] = type(agg)()
            out[row.name].merge(agg)
    return out


def _summary(agg: TaskAgg, span_s: float) -> dict[str, Any]:
    row = agg.row(span_s)
    return {"tasks": agg.attempts, "completed": agg.completed, "failed": agg.failed,
            "retried": agg.retried, "cancelled": 0, "success_rate": row["success_rate"],
            "throughput_per_s": row["throughput_per_s"],
            "duration_p50_s": row["duration_p50_s"], "duration_p95_s": row["duration_p95_s"],
            "queue_wait_p50_s": row["queue_wait_p50_s"]}


def _task_row(agg: TaskAgg, span_s: float) -> dict[str, Any]:
    row = agg.row(span_s)
    row.pop("throughput_per_s")
    return row


def _stages(rows: Sequence[tuple[RollupRow, StageAgg]]) -> list[dict[str, Any]]:
    out = []
    for name, agg in _merge_by_name(rows).items():
        workflow, _, step = name.rpartition("/")
        out.append({"workflow": workflow, "step": step, "runs": agg.runs,
                    "duration_p50_s": agg.duration.quantile(0.5),
                    "wait_p50_s": agg.wait.quantile(0.5), "critical_path_share": agg.share})
    return sorted(out, key=lambda r: (r["workflow"], -r["critical_path_share"], r["step"]))


def trends(tasks: Sequence[tuple[RollupRow, TaskAgg]],
           gauges: Sequence[tuple[RollupRow, GaugeAgg]], *, now: float) -> list[dict[str, Any]]:
    """One row per hour: throughput, latency, failure rate and resource use."""
    hours: dict[float, tuple[TaskAgg, dict[str, GaugeAgg]]] = {}
    for row, agg in tasks:
        hours.setdefault(row.bucket, (TaskAgg(), {}))[0].merge(agg)
    for row, g in gauges:
        hours.setdefault(row.bucket, (TaskAgg(), {}))[1].setdefault(row.name, GaugeAgg()).merge(g)
    out = []
    for hour in sorted(hours):
        done, by_name = hours[hour]
        elapsed = max(min(HOUR, now - hour), 1.0)
        out.append({"hour": hour, "completed": done.completed, "failed": done.failed,
                    "throughput_per_s": done.completed / elapsed,
                    "duration_p50_s": done.duration.quantile(0.5),
                    "duration_p95_s": done.duration.quantile(0.95),
                    "failure_rate": done.failure_rate,
                    "cpu_percent": _percent(by_name.get("cpu")),
                    "memory_percent": _percent(by_name.get("memory"))})
    return out


def _percent(g: GaugeAgg | None) -> float | None:
    mean = g.mean if g is not None else None
    return None if mean is None else mean * 100


def findings_of(rows: Sequence[RollupRow]) -> list[dict[str, Any]]:
    """Saved findings, one per (kind, subject, first seen): the latest save of each,
    active first (most severe first), then resolved, the latest first."""
    latest: dict[tuple[str, str, float], dict[str, Any]] = {}
    for row in rows:
        data = json.loads(row.data)
        key = (row.kind, row.name, row.bucket)
        old = latest.get(key)
        if old is None or _float(data.get("last_seen")) >= _float(old.get("last_seen")):
            latest[key] = data
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(latest.values(), key=lambda d: (
        d.get("resolved_at") is not None, order.get(str(d.get("severity")), 4),
        -_float(d.get("resolved_at") or d.get("first_seen"))))


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
