"""The commands that run an engine in this process: ``serve`` (the engine and the
HTTP API) and ``worker`` (the engine alone, on a registry of yours)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import start_http_server

from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.cli.output import console
from zerogate.domain.model import Limits
from zerogate.domain.profiles import PROFILES
from zerogate.errors import InvalidConfig
from zerogate.ports import Clock
from zerogate.registry import Registry
from zerogate.runtime.engine import Engine, EngineConfig
from zerogate.runtime.governor import GovernorConfig
from zerogate.telemetry.prometheus import Exposition
from zerogate.workflows import registry as builtin_registry
from zerogate.workflows.inputs import prune_work

log = logging.getLogger("zerogate.server")

if TYPE_CHECKING:
    from zerogate.api.app import ApiSettings
    from zerogate.api.server import ApiServer


def add_commands(sub: Any) -> None:
    """Add ``serve`` and ``worker``."""
    _add_serve(sub)
    _add_worker(sub)


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
    serve.add_argument("--keep-work-days", type=float, default=7.0,
                       help="remove template work folders idle for longer (hourly)")
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


async def open_server(*, db: Path, host: str, port: int, registry: Registry,
                      settings: ApiSettings | None = None, limits: Limits,
                      governor: GovernorConfig | None, grace_s: float,
                      process_workers: int | None = None) -> tuple[ApiServer, str | None]:
    """An ApiServer (not yet started) on a SQLite store, and the first admin key if this
    start created one (to print once)."""
    # Imported here: FastAPI and uvicorn take most of a second to import, which every
    # client command would otherwise pay for nothing.
    from zerogate.api.server import ApiServer, bind_socket, bootstrap_key, build

    config = EngineConfig(limits=limits, grace_s=grace_s, governor=governor)
    if process_workers is not None:
        config = dataclasses.replace(config, process_workers=process_workers)
    store = SqliteStore(db)
    api = build(lambda hub: Engine(registry, store, config=config, events=hub), settings)
    sock = bind_socket(host, port)
    await store.open()
    try:
        first_key = await bootstrap_key(store, host, time.time())
    except BaseException:
        sock.close()
        raise
    finally:
        await store.close()
    return ApiServer(api, sock, grace_s=grace_s), first_key


async def _serve(args: argparse.Namespace) -> int:
    from zerogate.config import load_settings

    settings = load_settings(args.config)
    registry = (load_registry(args.app) if args.app else builtin_registry(args.files))
    server, first_key = await open_server(
        db=args.db, host=args.host, port=args.port, registry=registry, settings=settings,
        limits=settings.quotas.apply(Limits(max_running=args.max_running)),
        governor=None if args.no_governor else GovernorConfig(profile=args.profile),
        grace_s=args.grace)

    def ready(s: ApiServer) -> None:
        console.print(f"zerogate serving {len(registry.templates.all())} templates from "
                      f"{args.db} on {s.url}  (stop with Ctrl-C)")
        if first_key is not None:
            console.print("[bold]First start: an admin key was created for tenant "
                          "'default'. It is shown only now; keep it:[/bold]")
            console.print(f"    export ZEROGATE_API_KEY={first_key}", highlight=False,
                          soft_wrap=True)
        console.print(f"    try: zerogate status --url {s.url}", highlight=False)

    pruner = asyncio.create_task(prune_forever(server.engine.clock, args.files,
                                               args.keep_work_days * 86_400))
    try:
        await server.serve_until_signalled(on_ready=ready)
    finally:
        pruner.cancel()
    console.print("server stopped")
    return 0


async def prune_forever(clock: Clock, files: Path, older_than_s: float,
                        every_s: float = 3_600.0) -> None:
    """Remove idle template work folders now and then every ``every_s`` seconds."""
    while True:
        removed = await asyncio.to_thread(prune_work, files, older_than_s=older_than_s,
                                          now=clock.now())
        if removed:
            log.info("removed %d template work folders idle for over %.0f s", removed,
                     older_than_s)
        await clock.sleep(every_s)


def serve_metrics(exposition: Exposition, port: int) -> None:
    """Serve ``/metrics`` on loopback from a daemon thread (prometheus_client's server)."""
    try:
        start_http_server(port, addr="127.0.0.1", registry=exposition.registry)
    except OSError as exc:
        raise InvalidConfig(f"cannot serve metrics on 127.0.0.1:{port}: {exc}") from exc
    console.print(f"metrics on http://127.0.0.1:{port}/metrics")
