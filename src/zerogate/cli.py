"""The ``zerogate`` command: run the demo or a worker, inspect a store, report on it,
pause, resume and stop it."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zerogate.adapters.sampler import SystemSampler
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.domain.model import Limits
from zerogate.domain.policy import Policy
from zerogate.domain.profiles import PROFILES, show
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.thresholds import Band
from zerogate.errors import InvalidConfig, StoreUnavailable, ZerogateError
from zerogate.ports import GLOBAL, Store
from zerogate.registry import Registry
from zerogate.runtime.engine import Engine, EngineConfig
from zerogate.runtime.governor import GovernorConfig, health_of
from zerogate.telemetry.export import FORMATS, write_report
from zerogate.telemetry.logs import configure_logging
from zerogate.telemetry.prometheus import Exposition
from zerogate.telemetry.report import build_report
from zerogate.telemetry.views import StatusInputs, active_workflows, queue_view, system_status

console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        configure_logging(fmt=args.log_format, level=args.log_level)
        return int(asyncio.run(args.run(args)) or 0)
    except ZerogateError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zerogate", description=__doc__)
    p.add_argument("--log-format", choices=("auto", "json", "console"), default="auto",
                   help="structured JSON lines, or readable lines (auto: readable on a terminal)")
    p.add_argument("--log-level", default="WARNING")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a demo workload on a SQLite store")
    demo.add_argument("--db", type=Path, default=Path("zerogate-demo.db"))
    demo.add_argument("--documents", type=int, default=200)
    demo.add_argument("--folder", type=Path, default=Path("zerogate-demo-files"))
    demo.set_defaults(run=_demo)
    worker = sub.add_parser("worker", help="run tasks of a registry until SIGTERM or SIGINT")
    worker.add_argument("--app", required=True,
                        help="module:attribute naming a Registry, or a function returning one")
    worker.add_argument("--db", type=Path, default=Path("zerogate.db"))
    worker.add_argument("--max-running", type=int, default=64)
    worker.add_argument("--grace", type=float, default=10.0, help="seconds to finish on stop")
    worker.add_argument("--profile", choices=sorted(PROFILES), default="balanced",
                        help="the resource governor's performance profile")
    worker.add_argument("--no-governor", action="store_true",
                        help="run without the resource governor")
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    worker.set_defaults(run=_worker)
    report = sub.add_parser("report", help="export a performance report of a store's history")
    report.add_argument("--db", type=Path, default=Path("zerogate.db"))
    report.add_argument("--format", choices=FORMATS, default="html")
    report.add_argument("-o", "--output", type=Path, default=None,
                        help="file to write (csv: a .zip, or a directory); default "
                             "zerogate-report.<format>")
    report.add_argument("--hours", type=float, default=24.0, help="how far back to look")
    report.set_defaults(run=_report)
    resources = sub.add_parser("resources", help="what the governor sees on this machine now")
    resources.add_argument("--profile", choices=sorted(PROFILES), default="balanced")
    resources.add_argument("--samples", type=int, default=3)
    resources.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    resources.set_defaults(run=_resources)
    profiles = sub.add_parser("profiles", help="the built-in performance profiles")
    profiles.set_defaults(run=_profiles)
    for name, fn, text in (("status", _status, "system status and counts of tasks by state"),
                           ("pause", _pause, "stop starting new tasks (durable)"),
                           ("resume", _resume, "start tasks again"),
                           ("stop", _stop, "pause, and cancel all queued and running tasks")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--db", type=Path, default=Path("zerogate.db"))
        if name == "status":
            cmd.add_argument("--json", action="store_true",
                             help="print the status and queue as JSON")
        if name in ("pause", "resume"):
            cmd.add_argument("--scope", default=GLOBAL,
                             help="global, workflow:<id>, tenant:<name> or key:<key>")
        cmd.set_defaults(run=fn)
    return p


async def _demo(args: argparse.Namespace) -> int:
    from zerogate.demo import demo_engine, run_demo

    console.print(f"zerogate demo: {args.documents} documents, 4 tasks each, store {args.db}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[states]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("tasks", total=4 * args.documents, states="")

        def show(done: int, total: int, states: dict[str, int]) -> None:
            text = " ".join(f"{k}={v}" for k, v in sorted(states.items()))
            progress.update(bar, completed=done, total=total, states=text)

        async with demo_engine(args.db) as engine:
            summary = await run_demo(engine, args.folder, args.documents, show)
    table = Table(title="summary")
    for col in ("workflows", "tasks by state", "tasks retried", "seconds", "tasks/s"):
        table.add_column(col)
    total = sum(summary.states.values())
    table.add_row(str(summary.workflows), ", ".join(f"{k}: {v}" for k, v in
                                                    sorted(summary.states.items())),
                  str(summary.retried), f"{summary.seconds:.2f}",
                  f"{total / summary.seconds:.0f}")
    console.print(table)
    return 0 if set(summary.states) == {"completed"} else 1


def load_registry(spec: str) -> Registry:
    """Import ``module:attribute``; the attribute is a Registry or returns one."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidConfig(f"--app must look like 'package.module:registry', got {spec!r}")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidConfig(f"cannot load {spec!r}: {exc}") from exc
    registry = target() if callable(target) and not isinstance(target, Registry) else target
    if not isinstance(registry, Registry):
        raise InvalidConfig(f"{spec!r} is not a zerogate Registry")
    return registry


async def _worker(args: argparse.Namespace) -> int:
    governor = None if args.no_governor else GovernorConfig(profile=args.profile)
    config = EngineConfig(limits=Limits(max_running=args.max_running), grace_s=args.grace,
                          governor=governor)
    engine = Engine(load_registry(args.app), SqliteStore(args.db), config=config)
    if args.metrics_port is not None and engine.telemetry is not None:
        serve_metrics(engine.telemetry.exposition, args.metrics_port)
    await engine.serve(on_ready=lambda: console.print(
        f"worker {engine.owner} serving {args.app} from {args.db}"))
    console.print("worker stopped")
    return 0


def serve_metrics(exposition: Exposition, port: int) -> None:
    """Serve ``/metrics`` on loopback from a daemon thread (prometheus_client's server)."""
    try:
        start_http_server(port, addr="127.0.0.1", registry=exposition.registry)
    except OSError as exc:
        raise InvalidConfig(f"cannot serve metrics on 127.0.0.1:{port}: {exc}") from exc
    console.print(f"metrics on http://127.0.0.1:{port}/metrics")


async def _report(args: argparse.Namespace) -> int:
    store = await _with_store(args.db)
    try:
        now = time.time()
        report = await build_report(store, since=now - args.hours * 3600, until=now, now=now,
                                    status=await offline_status(store, now))
    finally:
        await store.close()
    path = args.output or Path(f"zerogate-report.{'zip' if args.format == 'csv' else args.format}")
    written = write_report(report, path, args.format)
    summary = report["summary"]
    console.print(f"wrote {written}: {summary['tasks']} attempts over {args.hours:g} h, "
                  f"{len(report['bottlenecks'])} bottlenecks")
    return 0


async def offline_status(store: Store, now: float) -> dict[str, Any]:
    """Status as the store alone tells it (no engine: no resources, no live findings)."""
    live = await store.live_view()
    status = system_status(StatusInputs(at=now, paused=await store.paused_scopes(),
                                        extra={"source": "store"}))
    status["queue"] = queue_view(live, now)
    status["active_workflows"] = active_workflows(live, now)
    return status


async def _with_store(db: Path) -> SqliteStore:
    if not db.exists():
        raise StoreUnavailable(f"no store at {db}: give the file with --db")
    store = SqliteStore(db)
    await store.open()
    return store


async def _status(args: argparse.Namespace) -> int:
    store = await _with_store(args.db)
    try:
        if args.json:
            print(json.dumps(await offline_status(store, time.time()), indent=2))
            return 0
        counts = await store.count_by_state()
        paused = sorted(await store.paused_scopes())
    finally:
        await store.close()
    for state, n in sorted(counts.items()):
        console.print(f"{state:>10} {n}")
    console.print(f"paused: {', '.join(paused) if paused else 'nothing'}")
    return 0


async def _set_paused(args: argparse.Namespace, is_paused: bool) -> int:
    store = await _with_store(args.db)
    try:
        await store.set_paused(args.scope, is_paused, time.time())
    finally:
        await store.close()
    console.print(f"{args.scope} {'paused' if is_paused else 'resumed'}")
    return 0


async def _pause(args: argparse.Namespace) -> int:
    return await _set_paused(args, True)


async def _resume(args: argparse.Namespace) -> int:
    return await _set_paused(args, False)


async def _stop(args: argparse.Namespace) -> int:
    store = await _with_store(args.db)
    try:
        await store.set_paused(GLOBAL, True, time.time())
        changes = await store.cancel(now=time.time(), reason="emergency stop (cli)")
    finally:
        await store.close()
    console.print(f"stopped: {len(changes.finished_workflows)} workflows cancelled; "
                  "engines stop their running tasks at their next heartbeat")
    return 0


async def _resources(args: argparse.Namespace) -> int:
    if args.samples < 2:
        raise InvalidConfig("--samples must be at least 2: CPU needs two readings")
    sampler, policy = SystemSampler(), Policy(PROFILES[args.profile])
    for i in range(args.samples):
        if i:
            await asyncio.sleep(args.interval)
        snapshot = await sampler.sample_async()
        decision = policy.step(snapshot, snapshot.taken_at)
    table = Table(title=f"resources ({snapshot.scope}), profile {args.profile}")
    for column in ("signal", "reading"):
        table.add_column(column)
    for name, text in snapshot_rows(snapshot):
        table.add_row(name, text)
    console.print(table)
    health = health_of(decision, policy.profile)
    console.print(f"load level {decision.level:.2f} (limiting: {decision.limiting or 'none'}), "
                  f"tier {decision.tier}; health {health.score}/100 ({health.status}): "
                  f"{health.reason}")
    for category, why in decision.shed.items():
        console.print(f"{category.value:>12}: {'shed: ' + why if why is not None else 'on'}")
    return 0


def snapshot_rows(s: ResourceSnapshot) -> list[tuple[str, str]]:
    """One snapshot as (signal, reading) rows for people."""
    gib = 2**30
    rows = [("cpu", f"{s.cpu_fraction:.0%} of {s.cpu_limit_cores:g} cores"
             if s.cpu_fraction is not None else "no reading"),
            ("memory", f"{(s.memory_used_bytes or 0) / gib:.2f} GiB working set of "
                       f"{s.memory_limit_bytes / gib:.2f} GiB ({s.memory_fraction or 0:.0%})")]
    rows += [(f"disk {path}", f"{used:.0%} used") for path, used in s.disk.items()]
    rows += [(f"pressure {kind}", f"some {p.some_avg10:.1f}%"
              + (f", full {p.full_avg10:.1f}%" if p.full_avg10 is not None else ""))
             for kind, p in s.pressure.items()]
    if "pressure" not in s.signals:
        rows.append(("pressure", "no PSI on this kernel"))
    rows += [(f"io {k}", f"{v / 2**20:.1f} MiB/s") for k, v in s.io_bytes_per_s.items()]
    if s.own is not None:
        rows.append(("this process tree", f"{s.own.processes} processes, "
                                          f"{s.own.rss_bytes / 2**20:.0f} MiB RSS"))
    return rows


async def _profiles(args: argparse.Namespace) -> int:
    table = Table(title="performance profiles (enter / exit, hold)")
    for column in ("profile", "cpu high", "cpu critical", "memory high", "memory critical",
                   "disk", "bypass", "evict"):
        table.add_column(column)
    for name, p in PROFILES.items():
        table.add_row(name, *(_band(field, p.band(field)) for field in (
            "cpu_high", "cpu_critical", "memory_high", "memory_critical", "disk")),
            "yes" if p.critical_bypass else "no", "yes" if p.evict_on_memory_critical else "no")
    console.print(table)
    return 0


def _band(field: str, band: Band) -> str:
    return f"{show(field, band.enter)} / {show(field, band.exit)}, {band.hold_s:g} s"


if __name__ == "__main__":
    sys.exit(main())
