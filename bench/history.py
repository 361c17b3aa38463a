"""Status and dashboard with a long history: ``python -m bench.history [--tasks N] [--repeat N]``.

What is measured: the latency of what an operator's screen calls, on a running engine
whose SQLite store holds ``--tasks`` (default 1,000,000) finished tasks and a month of
telemetry rollups. One child builds the store in a temporary folder (timed apart):
one-task workflows of 20 task types submitted with ``store.submit`` in batches, then
marked completed over the last 30 days by a direct SQL ``UPDATE`` on a connection of
its own (``synchronous=OFF``), plus ~100 open tasks (a keyed task limited to 40 at once:
40 running, 60 waiting) and the rollups of 30 days (hour rows of 20 task types, queue
and resource gauges; day rows; findings), saved with ``store.save_rollups``.

A second, fresh child starts a real ``Engine`` on it (telemetry on, the governor on with
the real sampler, a trickle of 20 tasks/s), waits for 3 telemetry ticks, then times,
round-robin: ``engine.system_status()``, ``await engine.dashboard()``,
``await store.live_view()``, ``engine.metrics_text()`` (``--repeat`` times each, default
200) and ``await engine.report(hours=24)``, ``await engine.report(hours=720)`` and the
peer, ``await store.count_by_state()`` (the naive count: a scan of every task)
(``--report-repeat`` times, default 20).

Target (the issue): status and dashboard under 50 ms at the median and at p95 ("be far
better" than the naive scan, whose ratio to the dashboard is printed).
Prints the build time, a table (median, p95, first call, in ms) and appends a JSON line
to ``bench/results/history.jsonl``; the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import zerogate as zg
from bench.report import MET, Check, describe, verdict
from bench.runner import child_needs_dir, emit, run_module
from bench.stats import append_result, median, percentile
from zerogate.adapters.sqlite_ops import LIVE_STATEMENTS
from zerogate.domain.bottlenecks import Finding, Severity, Tracked
from zerogate.domain.records import NewWorkflow, RollupRow
from zerogate.runtime.governor import GovernorConfig
from zerogate.telemetry.aggregates import GaugeAgg, TaskAgg, bucket_start

HOUR, DAY, DAYS = 3600.0, 86400.0, 30
TYPES = [f"type{i:02d}" for i in range(20)]
BATCH = 50_000  # workflows per store.submit while building
OPEN_TASKS, HOLD_LIMIT = 100, 40  # open keyed tasks; at most this many of them run
TRICKLE_PER_S = 20  # one-task workflows a second submitted while measuring
TICKS = 3  # telemetry ticks to wait for before measuring
TARGET_MS = 50.0
JUDGED = ("status", "dashboard")
PEER = "count_by_state"
RESULTS = Path(__file__).resolve().parent / "results"
DB = "zerogate.db"

REG = zg.Registry()


async def noop() -> None:
    return None


for _name in TYPES:  # the history's task types; the trickle runs them while measuring
    REG.task(name=_name)(noop)


@REG.task(key="hold")
async def hold() -> None:
    """An open task: runs until the engine stops (the key limit keeps 60 waiting)."""
    await asyncio.Event().wait()


# ---------------------------------------------------------------- building the store


def one(name: str) -> zg.Workflow:
    wf = zg.Workflow(name)
    wf.add(REG.get(name))
    return wf


def spec(name: str) -> zg.WorkflowSpec:
    return one(name).spec()


async def submit_history(store: zg.SqliteStore, n: int, start: float) -> None:
    """``n`` one-task workflows, cycling through the types; one transaction a batch."""
    templates: list[NewWorkflow] = [REG.prepare(spec(t)) for t in TYPES]
    for first in range(0, n, BATCH):
        batch = [templates[i % len(TYPES)] for i in range(first, min(first + BATCH, n))]
        await store.submit(batch, start + first / n * DAYS * DAY)


def finish_history(path: Path, n: int, start: float) -> None:
    """Mark tasks 1..n and their workflows completed, spread over ``DAYS`` from ``start``."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous = OFF")
        step = DAYS * DAY / n
        base = "(? + (id - 1) * ?)"
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE tasks SET state = 'completed', attempt = 1, result = 'null',"
            f" created_at = {base}, ready_at = {base},"
            f" started_at = {base} + 0.002 * (1 + id % 5),"
            f" finished_at = {base} + 0.002 * (1 + id % 5) + 0.0005 * (1 + id % 11)"
            " WHERE id <= ?", (start, step) * 4 + (n,))
        db.execute(
            "UPDATE workflows SET state = 'completed', open_tasks = 0,"
            " created_at = t.created_at, started_at = t.started_at, finished_at = t.finished_at"
            " FROM tasks t WHERE t.workflow_id = workflows.id AND t.id <= ?", (n,))
        db.execute("COMMIT")
    finally:
        db.close()


def checkpoint(path: Path) -> float:
    """Fold the WAL into the file (as a long-lived store would be); returns MiB on disk."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return path.stat().st_size / 2**20


def task_agg(rng: random.Random, n: int) -> TaskAgg:
    agg = TaskAgg(attempts=n, completed=n, cpu_s=0.0004 * n, cpu_n=n, peak_memory=2**20)
    agg.duration.add_sorted(sorted(rng.lognormvariate(-6.5, 0.6) for _ in range(n)))
    agg.wait.add_sorted(sorted(rng.lognormvariate(-5.0, 1.0) for _ in range(n)))
    return agg


def gauge(rng: random.Random, mean: float, n: int = 3600) -> GaugeAgg:
    peak = mean * (1.2 + rng.random())
    return GaugeAgg(n=n, total=mean * n, max=min(peak, 1.0) if mean <= 1 else peak)


def finding_row(name: str, at: float, owner: str) -> RollupRow:
    t = Tracked(finding=Finding(kind="task", subject=f"{name}:latency",
                                severity=Severity.MEDIUM,
                                summary=f"{name} ran 3x slower than its usual p50",
                                recommendation=f"look at what {name} waits on",
                                evidence={"ratio": 3.0}),
                first_seen=at, last_seen=at + 600, resolved_at=at + 660)
    return RollupRow(resolution="finding", bucket=at, kind="task", name=f"{name}:latency",
                     owner=owner, data=json.dumps(t.as_dict(), separators=(",", ":")))


def hour_rows(rng: random.Random, hour: float, per_type: int, owner: str) -> list[RollupRow]:
    """One hour of what telemetry saves: per task type, queue gauges, resource gauges."""
    spread = per_type // 10
    rows = [RollupRow(resolution="hour", bucket=hour, kind="task", name=t, owner=owner,
                      data=task_agg(rng, per_type + rng.randint(-spread, spread)).to_json())
            for t in TYPES]
    gauges = {"queue": {"pending": 0.0, "waiting": 3.0, "retrying": 0.0, "running": 8.0},
              "resource": {"cpu": 0.35, "memory": 0.42, "disk": 0.6, "pressure": 2.0,
                           "level": 0.4}}
    rows += [RollupRow(resolution="hour", bucket=hour, kind=kind, name=name, owner=owner,
                       data=gauge(rng, mean).to_json())
             for kind, means in gauges.items() for name, mean in means.items()]
    return rows


def rollups(n: int, start: float) -> list[RollupRow]:
    """A month of rollups: an owner a day (a restart a day), hour and day rows, findings."""
    rng = random.Random(7)
    per_type = max(n // (DAYS * 24 * len(TYPES)), 1)
    first = bucket_start("hour", start)
    rows = []
    for day in range(DAYS):
        owner = f"bench-history:day{day:02d}"
        hours = [hour_rows(rng, first + (day * 24 + h) * HOUR, per_type, owner)
                 for h in range(24)]
        rows += [r for hour in hours for r in hour]
        rows += day_rows(hours, bucket_start("day", first + day * DAY), owner)
        rows += [finding_row(TYPES[(2 * day + k) % len(TYPES)], first + day * DAY + k * 7 * HOUR,
                             owner) for k in range(2)]
    return rows


def day_rows(hours: list[list[RollupRow]], day: float, owner: str) -> list[RollupRow]:
    merged: dict[str, TaskAgg] = {}
    for row in (r for hour in hours for r in hour if r.kind == "task"):
        merged.setdefault(row.name, TaskAgg()).merge(TaskAgg.from_json(row.data))
    return [RollupRow(resolution="day", bucket=day, kind="task", name=name, owner=owner,
                      data=agg.to_json()) for name, agg in merged.items()]


async def build(folder: str, n: int) -> dict[str, Any]:
    """The whole store, each step timed: submit, open tasks, rollups, UPDATE, checkpoint."""
    path = Path(folder) / DB
    start = time.time() - DAYS * DAY
    clock = [time.perf_counter()]
    store = zg.SqliteStore(path, durability="normal")
    async with opened(store):
        await submit_history(store, n, start)
        clock.append(time.perf_counter())
        await store.submit([REG.prepare(spec("hold"))] * OPEN_TASKS, time.time())
        rows = rollups(n, start)
        for i in range(0, len(rows), BATCH):
            await store.save_rollups(rows[i:i + BATCH])
        clock.append(time.perf_counter())
    finish_history(path, n, start)
    clock.append(time.perf_counter())
    size_mb = checkpoint(path)
    clock.append(time.perf_counter())
    steps = ("submit_s", "rollups_s", "update_s", "checkpoint_s")
    return {"tasks": n, "open_tasks": OPEN_TASKS, "rollup_rows": len(rows),
            "db_mb": round(size_mb, 1), "build_s": clock[-1] - clock[0],
            **{k: b - a for k, a, b in zip(steps, clock[:-1], clock[1:], strict=True)}}


@contextlib.asynccontextmanager
async def opened(store: zg.SqliteStore) -> AsyncIterator[zg.SqliteStore]:
    await store.open()
    try:
        yield store
    finally:
        await store.close()


# ---------------------------------------------------------------- measuring


Op = Callable[[], Awaitable[Any]]


def ops(engine: zg.Engine) -> dict[str, Op]:
    """What is timed, by name; sync calls are wrapped (no await inside them)."""
    store = engine.store

    async def status() -> Any:
        return engine.system_status()

    async def metrics() -> Any:
        return engine.metrics_text()

    return {"status": status, "dashboard": engine.dashboard, "live_view": store.live_view,
            "metrics_text": metrics, "report_24h": lambda: engine.report(hours=24),
            "report_30d": lambda: engine.report(hours=24 * DAYS),
            PEER: store.count_by_state}


SLOW = ("report_24h", "report_30d", PEER)


async def trickle(engine: zg.Engine) -> None:
    """A little live work while measuring: ``TRICKLE_PER_S`` one-task workflows a second."""
    i = 0
    while True:
        await engine.submit_many([one(TYPES[(i + k) % len(TYPES)]) for k in range(2)])
        i += 2
        await asyncio.sleep(2 / TRICKLE_PER_S)


async def settle(engine: zg.Engine) -> float:
    """Wait for ``TICKS`` telemetry ticks; returns how long that took."""
    began = time.perf_counter()
    observer = engine.telemetry
    assert observer is not None
    while len(observer.collector.ticks) < TICKS:
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


async def sample(engine: zg.Engine, repeat: int, slow: int) -> dict[str, list[float]]:
    """Round-robin over the ops, so that noise hits each alike; seconds per call."""
    timed = ops(engine)
    out: dict[str, list[float]] = {name: [] for name in timed}
    for r in range(max(repeat, slow)):
        for name, op in timed.items():
            if r >= (slow if name in SLOW else repeat):
                continue
            began = time.perf_counter()
            await op()
            out[name].append(time.perf_counter() - began)
        await asyncio.sleep(0.002)  # let the engine run between rounds
    return out


async def seen(engine: zg.Engine) -> dict[str, Any]:
    """What the screens showed, as a sanity check of the setup."""
    status, dash = engine.system_status(), await engine.dashboard()
    month = await engine.report(hours=24 * DAYS)
    return {"status": status["status"], "reasons": status["reasons"],
            "queue": dash["queue"]["tasks"] if dash["queue"] else None,
            "active_workflows": len(dash["workflows"]["active"]),
            "task_type_rows": len(dash["task_types"]),
            "report_30d_tasks": month["summary"]["tasks"], "report_30d_hours": len(
                month["trends"]), "metrics_bytes": len(engine.metrics_text()),
            "by_state": await engine.store.count_by_state()}


def full_scans(path: Path) -> list[str]:
    """Live-view statements whose plan scans a whole table (reads finished history),
    asked of SQLite on a connection of its own; empty when every one uses an index."""
    db = sqlite3.connect(path)
    try:
        out = []
        for sql in LIVE_STATEMENTS:
            args = ("[]",) if "json_each" in sql else (1,) if "?" in sql else ()
            plan = [r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
            if any(p.startswith("SCAN") and " INDEX " not in p and "VIRTUAL" not in p
                   for p in plan):
                out.append(f"{sql} -> {'; '.join(plan)}")
        return out
    finally:
        db.close()


async def observe(folder: str, repeat: int, slow: int) -> dict[str, Any]:
    config = zg.EngineConfig(governor=GovernorConfig(), grace_s=0.5,
                             limits=zg.Limits(per_key={"hold": HOLD_LIMIT}))
    began = time.perf_counter()
    async with zg.Engine(REG, zg.SqliteStore(Path(folder) / DB), config=config) as engine:
        started = time.perf_counter() - began
        feeding = asyncio.create_task(trickle(engine))
        settled = await settle(engine)
        samples = await sample(engine, repeat, slow)
        context = await seen(engine)
        feeding.cancel()
    return {"start_s": started, "settle_s": settled, "samples": samples, "seen": context,
            "full_scans": full_scans(Path(folder) / DB)}


def child(kind: str, args: argparse.Namespace) -> None:
    if kind == "build":
        figures = asyncio.run(build(args.dir, args.tasks))
    else:
        figures = asyncio.run(observe(args.dir, args.repeat, args.report_repeat))
    emit(figures)


# ---------------------------------------------------------------- the parent


def run_child(kind: str, folder: str, args: argparse.Namespace) -> dict[str, Any]:
    return run_module("bench.history", f"history {kind}", [
        "--child", kind, "--dir", folder, "--tasks", str(args.tasks), "--repeat",
        str(args.repeat), "--report-repeat", str(args.report_repeat)], tail=20)


def latencies(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """Per op, in ms: median and p95 (the first call left out), the first call, n."""
    out = {}
    for name, runs in samples.items():
        ms = [1000 * s for s in runs]
        rest = ms[1:] or ms
        out[name] = {"median_ms": round(median(rest), 3), "p95_ms": round(percentile(rest, 95), 3),
                     "max_ms": round(max(rest), 3), "first_ms": round(ms[0], 3), "n": len(ms)}
    return out


def checks(lat: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Check]:
    """Each judged call at its median and p95, against ``TARGET_MS``."""
    out = {}
    for name in JUDGED:
        for stat in ("median", "p95"):
            value = lat[name][f"{stat}_ms"]
            out[name, stat] = Check(f"{name} {stat} {value:.2f} ms (< {TARGET_MS:.0f} ms)",
                                    value < TARGET_MS)
    return out


def peer_ratio(lat: dict[str, dict[str, Any]]) -> float:
    """How many times faster the dashboard is than the naive count (medians)."""
    return float(lat[PEER]["median_ms"] / max(lat["dashboard"]["median_ms"], 1e-6))


# ---------------------------------------------------------------- output


def build_line(b: dict[str, Any]) -> str:
    return (f"built {b['tasks']:,} finished tasks + {b['open_tasks']} open + "
            f"{b['rollup_rows']:,} rollup rows in {b['build_s']:.1f} s (submit "
            f"{b['submit_s']:.1f} s, open tasks and rollups {b['rollups_s']:.1f} s, UPDATE "
            f"{b['update_s']:.1f} s, checkpoint {b['checkpoint_s']:.1f} s); {b['db_mb']:,.0f} MiB")


def table(lat: dict[str, dict[str, Any]], title: str) -> Table:
    t = Table(title=title)
    for name in ("call", "n", "median ms", "p95 ms", "max ms", "first ms", "target"):
        t.add_column(name, justify="left" if name in ("call", "target") else "right")
    verdicts = checks(lat)
    for name, f in lat.items():
        mark = ""
        if name in JUDGED:
            ok = verdicts[name, "median"].ok and verdicts[name, "p95"].ok
            mark = "PASS" if ok else "[bold red]MISSED[/]"
        elif name == PEER:
            mark = f"peer: {peer_ratio(lat):,.0f}x the dashboard"
        t.add_row(name, str(f["n"]), f"{f['median_ms']:.2f}", f"{f['p95_ms']:.2f}",
                  f"{f['max_ms']:.2f}", f"{f['first_ms']:.2f}", mark)
    return t


def record(args: argparse.Namespace, built: dict[str, Any], observed: dict[str, Any],
           lat: dict[str, dict[str, Any]], out: Path) -> Path:
    found = list(checks(lat).values())
    line = {"case": "history", "tasks": args.tasks, "repeat": args.repeat,
            "report_repeat": args.report_repeat, "target_ms": TARGET_MS,
            "status": verdict(found), "detail": describe(found),
            "checks": [c._asdict() for c in found], "peer_ratio": round(peer_ratio(lat), 1),
            "latency": lat, "build": built,
            "engine": {k: observed[k] for k in ("start_s", "settle_s", "seen", "rss_mb",
                                                "full_scans")}}
    return append_result(out, "history", line)


# ---------------------------------------------------------------- command line


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history",
        description="Status, dashboard and report latency on a store with a long history.")
    parser.add_argument("--tasks", type=int, default=1_000_000,
                        help="finished tasks of history (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=200,
                        help="calls of status, dashboard, live_view, metrics (default 200)")
    parser.add_argument("--report-repeat", type=int, default=20,
                        help="calls of each report and of the naive count (default 20)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--child", choices=("build", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.tasks, args.repeat, args.report_repeat) < 1:
        parser.error("--tasks, --repeat and --report-repeat must be at least 1")
    return child_needs_dir(parser, args)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        child(args.child, args)
        return 0
    console = Console(width=None if sys.stdout.isatty() else 140)
    with tempfile.TemporaryDirectory(prefix="zgbench-history-") as folder:
        console.print(f"building a store with {args.tasks:,} finished tasks in {folder} ...")
        built = run_child("build", folder, args)
        console.print(build_line(built))
        observed = run_child("measure", folder, args)
    lat = latencies(observed["samples"])
    s = observed["seen"]
    console.print(f"engine started in {observed['start_s'] * 1000:.0f} ms, {TICKS} telemetry "
                  f"ticks after {observed['settle_s']:.1f} s; status {s['status']}, queue "
                  f"{s['queue']}, {s['active_workflows']} active workflows, 30-day report "
                  f"{s['report_30d_tasks']:,} tasks over {s['report_30d_hours']} hours")
    console.print(table(lat, f"latency with {args.tasks:,} tasks of history (target: status "
                             f"and dashboard < {TARGET_MS:.0f} ms at the median and p95)"))
    for scan in observed["full_scans"]:
        console.print(f"[yellow]warning: a live-view statement scans a whole table: {scan}[/]")
    found = list(checks(lat).values())
    for c in found:
        console.print(f"  {c.text}: {'PASS' if c.ok else '[bold red]MISSED[/]'}")
    console.print(f"naive count_by_state / dashboard (medians): {peer_ratio(lat):,.1f}x")
    console.print(f"appended to {record(args, built, observed, lat, args.out)}")
    return 0 if verdict(found) == MET else 1


if __name__ == "__main__":
    raise SystemExit(main())
