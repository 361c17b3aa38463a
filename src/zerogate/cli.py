"""The ``zerogate`` command: run the demo, inspect a store, pause, resume and stop it."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.domain.model import Limits
from zerogate.errors import InvalidConfig, StoreUnavailable, ZerogateError
from zerogate.ports import GLOBAL
from zerogate.registry import Registry
from zerogate.runtime.engine import Engine, EngineConfig

console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(asyncio.run(args.run(args)) or 0)
    except ZerogateError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zerogate", description=__doc__)
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
    worker.set_defaults(run=_worker)
    for name, fn, text in (("status", _status, "counts of tasks by state"),
                           ("pause", _pause, "stop starting new tasks (durable)"),
                           ("resume", _resume, "start tasks again"),
                           ("stop", _stop, "pause, and cancel all queued and running tasks")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--db", type=Path, default=Path("zerogate.db"))
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
    config = EngineConfig(limits=Limits(max_running=args.max_running), grace_s=args.grace)
    engine = Engine(load_registry(args.app), SqliteStore(args.db), config=config)
    await engine.serve(on_ready=lambda: console.print(
        f"worker {engine.owner} serving {args.app} from {args.db}"))
    console.print("worker stopped")
    return 0


async def _with_store(db: Path) -> SqliteStore:
    if not db.exists():
        raise StoreUnavailable(f"no store at {db}: give the file with --db")
    store = SqliteStore(db)
    await store.open()
    return store


async def _status(args: argparse.Namespace) -> int:
    store = await _with_store(args.db)
    try:
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


if __name__ == "__main__":
    sys.exit(main())
