"""The commands that run an engine in this process: ``serve`` (the engine and the
HTTP API), ``worker`` (the engine alone, on a registry of yours) and ``demo``."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from rich.table import Table

from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.cli.output import console, progress_bar, state_counts
from zerogate.domain.model import Limits
from zerogate.domain.profiles import PROFILES
from zerogate.errors import InvalidConfig
from zerogate.registry import Registry
from zerogate.runtime.engine import Engine, EngineConfig
from zerogate.runtime.governor import GovernorConfig
from zerogate.telemetry.prometheus import Exposition
from zerogate.workflows import registry as builtin_registry


def add_commands(sub: Any) -> None:
    """Add ``demo``, ``serve`` and ``worker``."""
    _add_demo(sub)
    _add_serve(sub)
    _add_worker(sub)


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run a demo workload on a SQLite store")
    demo.add_argument("--db", type=Path, default=Path("zerogate-demo.db"))
    demo.add_argument("--documents", type=int, default=200)
    demo.add_argument("--folder", type=Path, default=Path("zerogate-demo-files"))
    demo.set_defaults(run=_demo)


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the engine and the HTTP API (the main job)")
    serve.add_argument("--db", type=Path, default=Path("zerogate.db"))
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (beyond loopback only with keys in the store)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--app", default=None,
                       help="module:attribute naming a Registry with templates "
                            "(default: the built-in templates)")
    serve.add_argument("--files", type=Path, default=Path("zerogate-files"),
                       help="folder the built-in templates write their files to")
    serve.add_argument("--config", type=Path, default=None,
                       help="TOML file with [api] limits and [quotas] (see zerogate.config)")
    serve.add_argument("--max-running", type=int, default=64)
    serve.add_argument("--grace", type=float, default=10.0, help="seconds to finish on stop")
    serve.add_argument("--profile", choices=sorted(PROFILES), default="balanced")
    serve.add_argument("--no-governor", action="store_true")
    serve.set_defaults(run=_serve)


def _add_worker(sub: Any) -> None:
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


async def _demo(args: argparse.Namespace) -> int:
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


async def _serve(args: argparse.Namespace) -> int:
    # Imported here: FastAPI and uvicorn take most of a second to import, which every
    # client command would otherwise pay for nothing.
    from zerogate.api.server import ApiServer, bind_socket, bootstrap_key, build
    from zerogate.config import load_settings

    settings = load_settings(args.config)
    registry = (load_registry(args.app) if args.app else builtin_registry(args.files))
    governor = None if args.no_governor else GovernorConfig(profile=args.profile)
    config = EngineConfig(limits=settings.quotas.apply(Limits(max_running=args.max_running)),
                          grace_s=args.grace, governor=governor)
    store = SqliteStore(args.db)
    api = build(lambda hub: Engine(registry, store, config=config, events=hub), settings)
    sock = bind_socket(args.host, args.port)
    await store.open()
    try:
        first_key = await bootstrap_key(store, args.host, time.time())
    except BaseException:
        sock.close()
        raise
    finally:
        await store.close()
    server = ApiServer(api, sock, grace_s=args.grace)

    def ready(s: ApiServer) -> None:
        console.print(f"zerogate serving {len(registry.templates.all())} templates from "
                      f"{args.db} on {s.url}  (stop with Ctrl-C)")
        if first_key is not None:
            console.print("[bold]First start: an admin key was created for tenant "
                          "'default'. It is shown only now; keep it:[/bold]")
            console.print(f"    export ZEROGATE_API_KEY={first_key}", highlight=False,
                          soft_wrap=True)
        console.print(f"    try: zerogate status --url {s.url}", highlight=False)

    await server.serve_until_signalled(on_ready=ready)
    console.print("server stopped")
    return 0


def serve_metrics(exposition: Exposition, port: int) -> None:
    """Serve ``/metrics`` on loopback from a daemon thread (prometheus_client's server)."""
    try:
        start_http_server(port, addr="127.0.0.1", registry=exposition.registry)
    except OSError as exc:
        raise InvalidConfig(f"cannot serve metrics on 127.0.0.1:{port}: {exc}") from exc
    console.print(f"metrics on http://127.0.0.1:{port}/metrics")
