"""``zerogate demo``: the server and a realistic mixed load of the built-in templates.

It starts what ``zerogate serve`` starts (engine, governor, telemetry, HTTP API on
SQLite), creates keys for two demo tenants, and submits the templates of
``zerogate.workflows.mix`` over real HTTP at a steady rate, so status, metrics and
the dashboard show real work within seconds. It prints where to look, a progress
line, and at the end a summary per template and per task type. ``--offline`` runs
the older engine-only document demo instead (no server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.table import Table

from zerogate.cli.engine import open_server
from zerogate.cli.output import console, new_table, progress_bar, state_counts
from zerogate.client import AsyncClient
from zerogate.client.errors import ApiError
from zerogate.domain.model import Limits
from zerogate.runtime.governor import GovernorConfig
from zerogate.runtime.signals import stop_on_signals
from zerogate.telemetry.logs import configure_logging
from zerogate.workflows import registry as builtin_registry
from zerogate.workflows.mix import TENANTS, request

OPEN = ("pending", "ready", "running", "retrying")


@dataclass
class Load:
    """What this run submitted: workflow ids by tenant and template, and refusals."""

    ids: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    refused: Counter[str] = field(default_factory=Counter)

    @property
    def submitted(self) -> int:
        return sum(len(v) for v in self.ids.values())


def add_commands(sub: Any) -> None:
    """Add ``demo``."""
    demo = sub.add_parser("demo", help="serve the API and run a mixed load of the built-in "
                                       "templates on it (--offline: the engine alone)")
    demo.add_argument("--db", type=Path, default=Path("zerogate-demo.db"))
    demo.add_argument("--folder", "--files", dest="folder", type=Path,
                      default=Path("zerogate-demo-files"))
    demo.add_argument("--port", type=int, default=8765, help="0: any free port")
    demo.add_argument("--duration", type=float, default=60.0,
                      help="seconds of load (Ctrl-C ends it early)")
    demo.add_argument("--rate", type=float, default=2.0, help="workflows submitted per second")
    demo.add_argument("--drain", type=float, default=120.0,
                      help="seconds to let submitted work finish before the summary")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--keep-serving", action="store_true",
                      help="after the summary, keep serving until Ctrl-C")
    demo.add_argument("--max-running", type=int, default=16)
    demo.add_argument("--offline", action="store_true",
                      help="no server: the engine alone on a document workload")
    demo.add_argument("--documents", type=int, default=200, help="with --offline")
    demo.set_defaults(run=run_demo_command)


async def run_demo_command(args: argparse.Namespace) -> int:
    if args.offline:
        return await offline_demo(args)

    # The load makes the engine log (bottlenecks found, features shed): to a file, so
    # the console keeps to the progress line and the summary.
    log_path = args.db.with_suffix(".log")
    with log_path.open("a", encoding="utf-8") as log:
        configure_logging(fmt="json", level="INFO", stream=log)
        try:
            return await _live_demo(args, log_path)
        finally:
            configure_logging(fmt=args.log_format, level=args.log_level)


async def _live_demo(args: argparse.Namespace, log_path: Path) -> int:
    from zerogate.api.keys import new_key

    server, _ = await open_server(
        db=args.db, host="127.0.0.1", port=args.port, registry=builtin_registry(args.folder),
        limits=Limits(max_running=args.max_running), governor=GovernorConfig(),
        grace_s=5.0, process_workers=2)
    async with server:
        keys = {}
        for tenant, role in (("default", "admin"), *((t, "operator") for t in TENANTS)):
            key, record = new_key(tenant=tenant, role=role, name="demo", now=time.time())
            await server.engine.store.save_key(record)
            keys[tenant] = key
        _where_to_look(server.url, keys["default"], args, log_path)
        clients = {t: AsyncClient(server.url, keys[t], timeout_s=30) for t in keys}
        try:
            with stop_on_signals() as stop:
                load = await _submit(clients, args, stop)
                if not stop.is_set():
                    await _drain(clients, load, args.drain, stop)
            await _summary(clients, load, args.db)
        finally:
            for client in clients.values():
                await client.aclose()
        if args.keep_serving:
            console.print(f"still serving on {server.url} (Ctrl-C stops)")
            with stop_on_signals() as stop:
                await stop.wait()
    return 0 if load.submitted else 1


async def offline_demo(args: argparse.Namespace) -> int:
    """The engine alone on the document workload (``zerogate demo --offline``)."""
    from zerogate.demo import demo_engine, run_demo

    console.print(f"zerogate demo: {args.documents} documents, 4 tasks each, store {args.db}")
    with progress_bar() as progress:
        bar = progress.add_task("tasks", total=4 * args.documents, states="")

        def show(done: int, total: int, states: dict[str, int]) -> None:
            progress.update(bar, completed=done, total=total, states=state_counts(states))

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


def _where_to_look(url: str, admin_key: str, args: argparse.Namespace, log_path: Path) -> None:
    console.print(f"[bold]zerogate demo[/bold]: serving on {url}, store {args.db}, files under "
                  f"{args.folder}; {args.rate:g} workflows/s for {args.duration:g} s "
                  f"as tenants {', '.join(TENANTS)}")
    console.print("Look around while it runs (in another terminal):", highlight=False)
    for line in (f"export ZEROGATE_URL={url} ZEROGATE_API_KEY={admin_key}",
                 "zerogate status            # health, load level, features",
                 "zerogate workflows         # what runs (as tenant 'default': use the "
                 "API for acme/globex)",
                 "zerogate features          # what the governor sheds",
                 f"curl -s -H \"Authorization: Bearer $ZEROGATE_API_KEY\" {url}/metrics",
                 f"curl -s -H \"Authorization: Bearer $ZEROGATE_API_KEY\" "
                 f"{url}/api/system/dashboard",
                 f"open {url}/docs            # the API, with every template's schema",
                 f"tail -f {log_path}   # structured logs: bottlenecks, shedding, alerts"):
        console.print(f"    {line}", highlight=False, soft_wrap=True)


async def _submit(clients: dict[str, AsyncClient], args: argparse.Namespace,
                  stop: asyncio.Event) -> Load:
    """Submit request after request at ``args.rate`` per second for ``args.duration``."""
    load = Load()
    started = time.monotonic()
    interval = 1.0 / args.rate
    i = 0
    with Live(console=console, refresh_per_second=2, transient=True) as live:
        while time.monotonic() - started < args.duration and not stop.is_set():
            req = request(i, args.seed)
            try:
                done = await clients[req.tenant].submit(req.template, req.params,
                                                        priority=req.priority)
                load.ids[req.tenant][int(done["id"])] = req.template
            except ApiError as exc:
                load.refused[f"{exc.status} {req.template}"] += 1
            i += 1
            live.update(f"submitted {load.submitted}, refused {sum(load.refused.values())}, "
                        f"{time.monotonic() - started:.0f}/{args.duration:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(started + i * interval
                                                        - time.monotonic(), 0.0))
    return load


async def _drain(clients: dict[str, AsyncClient], load: Load, drain_s: float,
                 stop: asyncio.Event) -> None:
    """Wait until the demo tenants have no open tasks, or ``drain_s`` passes."""
    deadline = time.monotonic() + drain_s
    with Live(console=console, refresh_per_second=2, transient=True) as live:
        while time.monotonic() < deadline and not stop.is_set():
            counts: Counter[str] = Counter()
            for tenant in load.ids:
                counts.update((await clients[tenant].queue(active=0))["tasks"])
            still = sum(counts[s] for s in OPEN)
            if not still:
                return
            live.update(f"finishing: {still} tasks open "
                        f"({', '.join(f'{s} {counts[s]}' for s in OPEN if counts[s])}), "
                        f"{deadline - time.monotonic():.0f} s left")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def _summary(clients: dict[str, AsyncClient], load: Load, db: Path) -> None:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tenant, ids in load.ids.items():
        async for wf in clients[tenant].iter_workflows():
            if wf["id"] in ids:
                runs[ids[wf["id"]]].append(wf)
    console.print(template_table(runs))
    if load.refused:
        console.print("refused submissions: " + ", ".join(
            f"{k}: {v}" for k, v in sorted(load.refused.items())))
    report = await clients["default"].report(format="json", hours=1)
    console.print(task_type_table(_json(report)["task_types"]))
    console.print(f"All of it stays in {db}: zerogate report --db {db} --format html "
                  "-o report.html", highlight=False, soft_wrap=True)


def template_table(runs: dict[str, list[dict[str, Any]]]) -> Table:
    """Per template: runs by state and the durations of the finished ones."""
    table = new_table("this run, per template", "template", "runs", "states",
                      "p50 s", "max s")
    for template in sorted(runs):
        wfs = runs[template]
        states = Counter(w["state"] for w in wfs)
        took = [w["finished_at"] - w["created_at"] for w in wfs if w["finished_at"]]
        table.add_row(template, str(len(wfs)),
                      ", ".join(f"{s} {n}" for s, n in sorted(states.items())),
                      _seconds(statistics.median(took) if took else None),
                      _seconds(max(took, default=None)))
    return table


def task_type_table(rows: Iterable[dict[str, Any]]) -> Table:
    """Per task type (each template step), from the last hour's report."""
    table = new_table("per task type (last hour)", "task", "completed", "failed", "p50 s",
                      "p95 s", "wait p50 s", "peak MiB")
    for row in rows:
        peak = row.get("peak_memory_bytes")
        table.add_row(row["task"], str(row["completed"]), str(row["failed"]),
                      _seconds(row["duration_p50_s"]), _seconds(row["duration_p95_s"]),
                      _seconds(row["queue_wait_p50_s"]),
                      "-" if not peak else f"{peak / 2**20:.0f}")
    return table


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _json(data: bytes) -> dict[str, Any]:
    import json
    parsed: dict[str, Any] = json.loads(data)
    return parsed
