"""The zerogate command: serve the engine and its HTTP API, drive a server through
the API (submit, watch, control, report, keys), or work on a store file directly.

Commands that talk to a server take --url ($ZEROGATE_URL, default
http://127.0.0.1:8765) and --key ($ZEROGATE_API_KEY; prefer the variable: a command
line is visible to other users of the machine). status, pause, resume, stop, report
and keys given --db FILE work on that store file instead, without a server
("keys create --db" is how a server that will listen beyond loopback gets its first
key). Errors exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zerogate.adapters.sampler import SystemSampler
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.api.keys import new_key
from zerogate.client import (
    DEFAULT_URL,
    FINISHED,
    KEY_ENV,
    URL_ENV,
    ApiError,
    AsyncClient,
    Forbidden,
    InvalidRequest,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from zerogate.domain.model import Limits
from zerogate.domain.policy import Policy
from zerogate.domain.profiles import PROFILES, show
from zerogate.domain.resources import ResourceSnapshot
from zerogate.domain.thresholds import Band
from zerogate.errors import InvalidConfig, InvalidInput, StoreUnavailable, ZerogateError
from zerogate.ports import GLOBAL, Store
from zerogate.registry import Registry
from zerogate.runtime.engine import Engine, EngineConfig
from zerogate.runtime.governor import GovernorConfig, health_of
from zerogate.telemetry.export import FORMATS, write_report
from zerogate.telemetry.logs import configure_logging
from zerogate.telemetry.prometheus import Exposition
from zerogate.telemetry.report import build_report
from zerogate.telemetry.views import StatusInputs, active_workflows, queue_view, system_status
from zerogate.workflows import registry as builtin_registry

console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        configure_logging(fmt=args.log_format, level=args.log_level)
        return int(asyncio.run(args.run(args)) or 0)
    except ApiError as exc:
        _error(explain(exc))
        return 2
    except ZerogateError as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130


def _error(text: str) -> None:
    # Escaped (a server's message is not markup) and never wrapped (one line to grep).
    console.print(f"[red]error:[/red] {escape(text)}", soft_wrap=True, highlight=False)


def explain(exc: ApiError) -> str:
    """What an API error means to someone at a terminal, and what to do about it."""
    rid = f" (request id {exc.request_id})" if exc.request_id else ""
    if isinstance(exc, Unauthorized):
        return (f"the server refused the key: set {KEY_ENV} or --key to a valid key "
                "(unknown, revoked and expired keys are refused alike)")
    if isinstance(exc, Forbidden):
        return f"this key may not do that: {exc.message}{rid}"
    if isinstance(exc, RateLimited):
        after = f"; try again in {exc.retry_after_s:g} s" if exc.retry_after_s else ""
        return f"{exc.message}{after}{rid}"
    if isinstance(exc, Unavailable) and exc.status is None:
        return (f"{exc.message}. Is `zerogate serve` running there? "
                f"(set {URL_ENV} or --url)")
    if isinstance(exc, InvalidRequest) and exc.details:
        problems = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
                             for d in exc.details)
        return f"{exc.message} [{problems}]{rid}"
    return f"{exc.message}{rid}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zerogate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log-format", choices=("auto", "json", "console"), default="auto",
                   help="structured JSON lines, or readable lines (auto: readable on a terminal)")
    p.add_argument("--log-level", default="WARNING")
    _api_options(p, top=True)
    # Subcommands take the same options (``zerogate status --url ...``); they are
    # SUPPRESSed there so a subcommand without them keeps what was given before it.
    api = argparse.ArgumentParser(add_help=False)
    _api_options(api, top=False)
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a demo workload on a SQLite store")
    demo.add_argument("--db", type=Path, default=Path("zerogate-demo.db"))
    demo.add_argument("--documents", type=int, default=200)
    demo.add_argument("--folder", type=Path, default=Path("zerogate-demo-files"))
    demo.set_defaults(run=_demo)
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
    _work_commands(sub, api)
    report = sub.add_parser("report", parents=[api],
                            help="export a performance report (from the server, or --db)")
    report.add_argument("--db", type=Path, default=None,
                        help="read this store file instead of asking a server")
    report.add_argument("--format", choices=FORMATS, default="html")
    report.add_argument("-o", "--output", type=Path, default=None,
                        help="file to write (csv: a .zip, or a directory); default "
                             "zerogate-report.<format>")
    report.add_argument("--hours", type=float, default=24.0, help="how far back to look")
    report.set_defaults(run=_report_command)
    resources = sub.add_parser("resources", help="what the governor sees on this machine now")
    resources.add_argument("--profile", choices=sorted(PROFILES), default="balanced")
    resources.add_argument("--samples", type=int, default=3)
    resources.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    resources.set_defaults(run=_resources)
    profiles = sub.add_parser(
        "profiles", parents=[api], help="performance profiles: the server's (with a key), "
        "else the built-in ones")
    profiles.add_argument("--switch", metavar="NAME", default=None,
                          help="make NAME the server's active profile (admin)")
    profiles.add_argument("--builtin", action="store_true",
                          help="show the built-in profiles without asking a server")
    profiles.add_argument("--json", action="store_true", help="print the server's answer")
    profiles.set_defaults(run=_profiles_command)
    for name, fn, text in (("status", _status_command, "system status; with ID, a workflow "
                            "and its tasks (--db: counts of a store's tasks by state)"),
                           ("pause", _pause_command, "stop starting new tasks (durable)"),
                           ("resume", _resume_command, "start tasks again"),
                           ("stop", _stop_command,
                            "pause, and cancel all queued and running tasks")):
        cmd = sub.add_parser(name, parents=[api], help=text)
        cmd.add_argument("--db", type=Path, default=None,
                         help="work on this store file directly instead of through a server")
        if name == "status":
            cmd.add_argument("id", type=int, nargs="?", default=None, metavar="ID",
                             help="a workflow id")
            cmd.add_argument("--json", action="store_true", help="print the status as JSON")
        if name in ("pause", "resume"):
            cmd.add_argument("--tenant", action="store_true",
                             help="only the key's own tenant (operator), not all work")
            cmd.add_argument("--scope", default=None,
                             help="with --db: global, workflow:<id>, tenant:<name> or key:<key>")
        cmd.set_defaults(run=fn)
    _keys_commands(sub, api)
    return p


def _api_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    p.add_argument("--url", default=default,
                   help=f"the server (default ${URL_ENV}, else {DEFAULT_URL})")
    p.add_argument("--key", default=default,
                   help=f"API key (default ${KEY_ENV}; prefer the variable: command lines "
                        "are visible to other users)")


def _work_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    submit = sub.add_parser("submit", parents=[api], help="start a workflow from a template")
    submit.add_argument("template")
    submit.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter; VALUE is read as JSON when it parses (1, true, "
                             "[1,2]), else as text; repeat for more")
    submit.add_argument("--params", default=None, metavar="JSON",
                        help="parameters as one JSON object (-p values override it)")
    submit.add_argument("--priority", choices=("critical", "high", "medium", "low"))
    submit.add_argument("--idempotency-key", default=None, metavar="K",
                        help="submitting again with the same K returns the first run")
    submit.add_argument("--wait", action="store_true",
                        help="wait for the workflow to end (exit 1 unless it completed)")
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(run=_submit)
    bulk = sub.add_parser("bulk", parents=[api],
                          help="start many workflows at once, all or none")
    bulk.add_argument("file", help="a JSON list or JSON lines of {template, params, priority?};"
                                   " - reads standard input")
    bulk.add_argument("--idempotency-key", default=None, metavar="K")
    bulk.add_argument("--json", action="store_true")
    bulk.set_defaults(run=_bulk)
    watch = sub.add_parser("watch", parents=[api],
                           help="follow a workflow until it ends (exit 1 unless it completed)")
    watch.add_argument("id", type=int, metavar="ID")
    watch.add_argument("--poll", type=float, default=2.0,
                       help="seconds between reads when no event arrives")
    watch.set_defaults(run=_watch)
    workflows = sub.add_parser("workflows", parents=[api], help="the tenant's workflows")
    workflows.add_argument("--state", choices=("pending", "running", "completed", "failed",
                                               "cancelled"))
    workflows.add_argument("--template", default=None)
    workflows.add_argument("--limit", type=int, default=20)
    workflows.add_argument("--json", action="store_true")
    workflows.set_defaults(run=_workflows)
    queue = sub.add_parser("queue", parents=[api], help="the tenant's open work")
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(run=_queue)
    for name, text in (("cancel", "cancel a workflow"),
                       ("retry", "run a finished workflow's failed tasks again")):
        cmd = sub.add_parser(name, parents=[api], help=text)
        cmd.add_argument("id", type=int, metavar="ID")
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(run=_cancel if name == "cancel" else _retry)
    features = sub.add_parser("features", parents=[api],
                              help="the governor's features; --set overrides one (admin)")
    features.add_argument("--set", nargs=2, metavar=("NAME", "STATE"), default=None,
                          help="STATE is on, off or auto (back to the governor)")
    features.add_argument("--for", dest="for_s", type=float, default=None, metavar="SECONDS",
                          help="with --set: only for this long")
    features.add_argument("--json", action="store_true")
    features.set_defaults(run=_features)
    templates = sub.add_parser("templates", parents=[api],
                               help="the templates the server accepts")
    templates.add_argument("--json", action="store_true")
    templates.set_defaults(run=_templates)


def _keys_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="API keys: create, list, revoke (admin, or --db)")
    ksub = keys.add_subparsers(required=True, metavar="ACTION")
    db_help = "work on this store file directly (creating it for 'create')"
    create = ksub.add_parser("create", parents=[api], help="create a key; shown only once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument("--expires-in", type=float, default=None, metavar="SECONDS")
    create.add_argument("--db", type=Path, default=None, help=db_help)
    create.add_argument("--json", action="store_true")
    create.set_defaults(run=_keys_create)
    listing = ksub.add_parser("list", parents=[api], help="every key's id and metadata")
    listing.add_argument("--db", type=Path, default=None, help=db_help)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_keys_list)
    revoke = ksub.add_parser("revoke", parents=[api], help="revoke a key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.add_argument("--db", type=Path, default=None, help=db_help)
    revoke.set_defaults(run=_keys_revoke)


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


# ---------------------------------------------------------------- through the API


def _client(args: argparse.Namespace) -> AsyncClient:
    """A client from --url/--key or the environment; refuses to start without a key
    (every API command needs one, and saying so beats a 401)."""
    key = getattr(args, "key", None) or os.environ.get(KEY_ENV)
    if not key:
        raise InvalidConfig(f"no API key: set {KEY_ENV} or --key (zerogate serve prints "
                            "the first admin key when it creates a store)")
    return AsyncClient(getattr(args, "url", None), key)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _when(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _clock(at: float | None) -> str:
    """A time short enough for a table column (the day and the time, local)."""
    return "-" if at is None else time.strftime("%m-%d %H:%M:%S", time.localtime(at))


def _table(title: str | None, *columns: str) -> Table:
    """A table whose first column (an id) never wraps and whose text columns fold
    rather than cut: ids and names must stay whole to be copied into a command."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, no_wrap=i == 0, overflow="fold")
    return table


def _ranges(ids: Iterable[int]) -> str:
    """``1-4, 7``: many ids as a short line."""
    spans: list[list[int]] = []
    for i in sorted(ids):
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    text = [str(a) if a == b else f"{a}-{b}" for a, b in spans]
    return ", ".join(text[:20]) + (f", ... ({len(text) - 20} more ranges)" if len(text) > 20
                                   else "")


def parse_params(params_json: str | None, pairs: Sequence[str]) -> dict[str, Any]:
    """Template parameters from ``--params JSON`` and ``-p key=value`` (which wins).

    A value is JSON when it parses as JSON (``1``, ``true``, ``[1, 2]``, ``"1"``), so
    numbers arrive as numbers; anything else is the text itself.
    """
    params: dict[str, Any] = {}
    if params_json is not None:
        try:
            params = json.loads(params_json)
        except ValueError as exc:
            raise InvalidInput(f"--params is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise InvalidInput("--params must be a JSON object, like '{\"doc\": 1}'")
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(f"-p takes key=value, got {pair!r}")
        try:
            params[name] = json.loads(text)
        except ValueError:
            params[name] = text
    return params


async def _submit(args: argparse.Namespace) -> int:
    params = parse_params(args.params, args.param)
    async with _client(args) as c:
        run = await c.submit(args.template, params, priority=args.priority,
                             idempotency_key=args.idempotency_key)
        if not args.wait:
            if args.json:
                _print_json(run)
            else:
                again = "" if run.get("created", True) else " (already submitted: the first run)"
                console.print(f"submitted workflow {run['id']} ({escape(run['template'])}, "
                              f"{len(run['tasks'])} tasks){again}", highlight=False)
            return 0
        if not args.json:
            console.print(f"submitted workflow {run['id']} ({escape(run['template'])}, "
                          f"{len(run['tasks'])} tasks); waiting for it to end", highlight=False)
        done = await c.wait(run["id"])
        status = await c.status(run["id"])
    if args.json:
        _print_json(status)
    else:
        _print_ending(status)
    return 0 if done["state"] == "completed" else 1


def _print_ending(status: dict[str, Any]) -> None:
    wf = status["workflow"]
    tasks = status["tasks"]
    took = ("" if wf.get("finished_at") is None
            else f" in {wf['finished_at'] - wf['created_at']:.1f} s")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status["counts"].items()))
    colour = "green" if wf["state"] == "completed" else "red"
    console.print(f"workflow {wf['id']} ({escape(wf['template'])}) [{colour}]{wf['state']}"
                  f"[/{colour}]{took}: {len(tasks)} tasks ({counts})", highlight=False)
    for t in tasks:
        if t["state"] == "failed" and t.get("error"):
            console.print(f"  task {t['id']} {escape(t['step'])} failed: {escape(t['error'])}",
                          highlight=False, soft_wrap=True)


def read_bulk(text: str, source: str) -> list[dict[str, Any]]:
    """Workflows to submit from a JSON list, or from JSON lines (one object a line)."""
    items: list[Any]
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"{source} is not a JSON list: {exc}") from None
    else:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError as exc:
                raise InvalidInput(f"{source} line {n} is not JSON: {exc}") from None
    if not items:
        raise InvalidInput(f"{source} holds no workflows")
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("template"), str):
            raise InvalidInput(f"{source}: workflow {n} must be an object with a "
                               "'template' name, like {\"template\": \"t\", \"params\": {}}")
    return items


async def _bulk(args: argparse.Namespace) -> int:
    if args.file == "-":
        text, source = sys.stdin.read(), "standard input"
    else:
        try:
            text, source = Path(args.file).read_text(encoding="utf-8"), args.file
        except OSError as exc:
            raise InvalidInput(f"cannot read {args.file}: {exc.strerror}") from None
    items = read_bulk(text, source)
    async with _client(args) as c:
        out = await c.submit_bulk(items, idempotency_key=args.idempotency_key)
    if args.json:
        _print_json(out)
        return 0
    runs = out["workflows"]
    new = sum(1 for r in runs if r.get("created", True))
    again = "" if new == len(runs) else f" ({len(runs) - new} were already submitted)"
    console.print(f"submitted {len(runs)} workflows ({out['tasks']} tasks){again}: "
                  f"ids {_ranges(r['id'] for r in runs)}", highlight=False, soft_wrap=True)
    return 0


async def _status_command(args: argparse.Namespace) -> int:
    if args.db is not None:
        if args.id is not None:
            raise InvalidInput("status ID asks a server; leave out --db")
        return await _status(args)
    async with _client(args) as c:
        if args.id is not None:
            status = await c.status(args.id)
        else:
            status = await c.system_status()
    if args.json:
        _print_json(status)
    elif args.id is not None:
        _print_workflow_status(status)
    else:
        _print_system_status(status)
    return 0


def _print_system_status(s: dict[str, Any]) -> None:
    colour = {"healthy": "green", "degraded": "yellow"}.get(s["state"], "red")
    console.print(f"status: [{colour}]{s['state']}[/{colour}]")
    console.print(f"paused: {'all work (global)' if s['paused'] else 'no'}"
                  f"{'; this tenant is paused' if s.get('tenant_paused') else ''}")
    health = (s.get("detail") or {}).get("health")
    if health:
        console.print(f"health: {health['score']}/100 ({escape(str(health['reason']))})",
                      highlight=False)
    for reason in s.get("reasons", []):
        console.print(f"  - {escape(reason)}", highlight=False, soft_wrap=True)


def _print_workflow_status(s: dict[str, Any]) -> None:
    wf = s["workflow"]
    done = sum(n for state, n in s["counts"].items()
               if state in ("completed", "failed", "cancelled", "skipped"))
    console.print(f"workflow {wf['id']} ({escape(wf['template'])}, {wf['priority']}): "
                  f"{wf['state']}, {done}/{len(s['tasks'])} tasks finished "
                  f"({s['progress']:.0%}); created {_when(wf['created_at'])}", highlight=False)
    table = _table(None, "task", "step", "name", "state", "attempt", "why it waits / error")
    for t in s["tasks"]:
        note = t.get("wait_reason") or t.get("error") or ""
        table.add_row(str(t["id"]), escape(t["step"]), escape(t["name"]), t["state"],
                      str(t["attempt"]), escape(note))
    console.print(table)


async def _watch(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        return await watch(c, args.id, poll_s=args.poll)


async def watch(c: AsyncClient, workflow_id: int, *, poll_s: float = 2.0) -> int:
    """A progress bar of a workflow's finished tasks until it ends; 0 if it completed.

    Every event of the workflow wakes a re-read of its status (a burst of events
    costs one read); reads also happen every ``poll_s`` without events, so a stream
    that is refused, drops or misses an event only makes the bar slower.
    """
    changed = asyncio.Event()

    async def listen() -> None:
        with contextlib.suppress(ApiError):
            async with contextlib.aclosing(c.events(workflow_id=workflow_id)) as events:
                async for _ in events:
                    changed.set()

    listener = asyncio.create_task(listen())
    try:
        status = await c.status(workflow_id)
        wf = status["workflow"]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[states]}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(escape(f"workflow {wf['id']} {wf['template']}"),
                                    total=len(status["tasks"]), states="")
            while True:
                counts = status["counts"]
                done = sum(n for state, n in counts.items()
                           if state in ("completed", "failed", "cancelled", "skipped"))
                progress.update(bar, completed=done, total=len(status["tasks"]),
                                states=" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
                if status["workflow"]["state"] in FINISHED:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), poll_s)
                    await asyncio.sleep(0.2)  # let a burst of events settle into one read
                changed.clear()
                status = await c.status(workflow_id)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    _print_ending(status)
    return 0 if status["workflow"]["state"] == "completed" else 1


async def _workflows(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        page = await c.workflows(args.state, args.template, limit=args.limit)
    if args.json:
        _print_json(page)
        return 0
    table = _table("workflows, newest first", "id", "template", "state", "priority",
                   "open tasks", "created", "finished")
    for w in page["items"]:
        table.add_row(str(w["id"]), escape(w["template"]), w["state"], w["priority"],
                      str(w["open_tasks"]), _clock(w["created_at"]), _clock(w["finished_at"]))
    console.print(table)
    if page.get("next_before") is not None:
        console.print(f"(more: --limit above {args.limit})")
    return 0


async def _queue(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        q = await c.queue()
    if args.json:
        _print_json(q)
        return 0
    open_tasks = ", ".join(f"{k} {v}" for k, v in sorted(q["tasks"].items()) if v) or "none"
    console.print(f"tenant {escape(q['tenant'])}: open tasks: {open_tasks}", highlight=False)
    ready = ", ".join(f"{k} {v}" for k, v in q["ready_by_priority"].items() if v)
    if ready:
        console.print(f"ready by priority: {ready}", highlight=False)
    if q.get("oldest_wait_s") is not None:
        console.print(f"oldest ready task has waited {q['oldest_wait_s']:.1f} s")
    if q["active"]:
        table = _table("active workflows", "id", "template", "state", "priority",
                       "open / total", "age")
        for w in q["active"]:
            table.add_row(str(w["id"]), escape(w["name"]), w["state"], w["priority"],
                          f"{w['open_tasks']}/{w['total_tasks']}", f"{w['age_s']:.0f} s")
        console.print(table)
    return 0


async def _cancel(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        wf = await c.cancel(args.id)
    return _print_workflow_line(args, wf, "cancel requested")


async def _retry(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        wf = await c.retry(args.id)
    return _print_workflow_line(args, wf, "retrying")


def _print_workflow_line(args: argparse.Namespace, wf: dict[str, Any], what: str) -> int:
    if args.json:
        _print_json(wf)
    else:
        console.print(f"workflow {wf['id']} ({escape(wf['template'])}): {what}; now "
                      f"{wf['state']}", highlight=False)
    return 0


async def _pause_command(args: argparse.Namespace) -> int:
    return await _control(args, "pause")


async def _resume_command(args: argparse.Namespace) -> int:
    return await _control(args, "resume")


async def _stop_command(args: argparse.Namespace) -> int:
    return await _control(args, "stop")


async def _control(args: argparse.Namespace, action: str) -> int:
    if args.db is not None:
        if getattr(args, "tenant", False):
            raise InvalidInput("--tenant works through a server; with --db use "
                               "--scope tenant:<name>")
        if action == "stop":
            return await _stop(args)
        args.scope = args.scope or GLOBAL
        return await _set_paused(args, action == "pause")
    if getattr(args, "scope", None) is not None:
        raise InvalidInput("--scope works with --db only; through a server use --tenant "
                           "for the key's own tenant, or nothing for all work")
    async with _client(args) as c:
        if getattr(args, "tenant", False):
            out = await (c.pause_tenant() if action == "pause" else c.resume_tenant())
        else:
            out = await {"pause": c.pause, "resume": c.resume, "stop": c.stop}[action]()
    done = {"pause": "paused", "resume": "resumed", "stop": "stopped"}[action]
    console.print(f"{escape(out['scope'])} {done}", highlight=False)
    if action == "stop":
        console.print("open workflows are being cancelled; work stays paused until "
                      "`zerogate resume`")
    return 0


async def _profiles_command(args: argparse.Namespace) -> int:
    has_key = bool(getattr(args, "key", None) or os.environ.get(KEY_ENV))
    if args.switch is None and (args.builtin or not has_key):
        return await _profiles(args)
    async with _client(args) as c:
        out = await (c.switch_profile(args.switch) if args.switch else c.profiles())
    if args.json:
        _print_json(out)
        return 0
    table = Table(title=f"server profiles (active: {out['active']})")
    for column in ("profile", "cpu high", "cpu critical", "memory high", "memory critical",
                   "concurrency", "bypass"):
        table.add_column(column)
    for p in out["profiles"]:
        mark = " *" if p["name"] == out["active"] else ""
        table.add_row(f"{p['name']}{mark}", f"{p['cpu_high']:.0%}", f"{p['cpu_critical']:.0%}",
                      f"{p['memory_high']:.0%}", f"{p['memory_critical']:.0%}",
                      f"{p['concurrency_min']}-{p['concurrency_max']}",
                      "yes" if p["critical_bypass"] else "no")
    console.print(table)
    if args.switch:
        console.print(f"active profile: {escape(str(out['active']))}", highlight=False)
    return 0


async def _features(args: argparse.Namespace) -> int:
    if args.for_s is not None and args.set is None:
        raise InvalidInput("--for goes with --set NAME STATE")
    if args.set is not None and args.set[1] not in ("on", "off", "auto"):
        raise InvalidInput(f"a feature's state is on, off or auto, not {args.set[1]!r}")
    async with _client(args) as c:
        if args.set is not None:
            one = await c.set_feature(args.set[0], args.set[1], args.for_s)
            if args.json:
                _print_json(one)
            else:
                console.print(f"{escape(one['name'])}: {'on' if one['on'] else 'off'} "
                              f"({escape(one['override'] or one['reason'])})", highlight=False)
            return 0
        features = await c.features()
    if args.json:
        _print_json(features)
        return 0
    table = _table("features", "feature", "category", "on", "why", "override")
    for f in features:
        table.add_row(escape(f["name"]), f["category"], "yes" if f["on"] else "no",
                      escape(f["reason"]), escape(f["override"] or ""))
    console.print(table)
    return 0


async def _templates(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        templates = await c.templates()
    if args.json:
        _print_json(templates)
        return 0
    table = _table("templates", "template", "parameters (* required)", "description")
    for t in templates:
        schema = t["params_schema"]
        required = set(schema.get("required", []))
        params = ", ".join(f"{name}{'*' if name in required else ''}: {p.get('type', 'any')}"
                           for name, p in schema.get("properties", {}).items())
        table.add_row(escape(t["name"]), escape(params), escape(t["description"]))
    console.print(table)
    return 0


async def _report_command(args: argparse.Namespace) -> int:
    if args.db is not None:
        return await _report(args)
    async with _client(args) as c:
        data = await c.report(args.format, args.hours)
    path = args.output or Path(f"zerogate-report.{'zip' if args.format == 'csv' else args.format}")
    try:
        if args.format == "csv" and path.suffix.lower() != ".zip":
            path.mkdir(parents=True, exist_ok=True)  # a directory of CSV files, as with --db
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for name in z.namelist():
                    # Only the base name: a member path cannot write outside the folder.
                    (path / Path(name).name).write_bytes(z.read(name))
        else:
            _write_file(path, data)
    except OSError as exc:
        raise InvalidConfig(f"cannot write {path}: {exc.strerror}") from None
    if args.format == "json":
        report = json.loads(data)
        console.print(f"wrote {path}: {report['summary']['tasks']} attempts over "
                      f"{args.hours:g} h, {len(report['bottlenecks'])} bottlenecks",
                      highlight=False)
    else:
        console.print(f"wrote {path} ({len(data)} bytes)", highlight=False)
    return 0


def _write_file(path: Path, data: bytes) -> None:
    """Through a sibling temporary file, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


# ---------------------------------------------------------------- keys


async def _keys_create(args: argparse.Namespace) -> int:
    if args.db is not None:
        created = not args.db.exists()
        now = time.time()
        key, record = new_key(tenant=args.tenant, role=args.role, name=args.name, now=now,
                              expires_at=None if args.expires_in is None
                              else now + args.expires_in)
        store = SqliteStore(args.db)
        await store.open()
        try:
            await store.save_key(record)
        finally:
            await store.close()
        if created:
            console.print(f"created the store {args.db}", highlight=False)
        out: dict[str, Any] = {"key": key, "key_id": record.key_id, "tenant": record.tenant,
                               "role": record.role, "name": record.name,
                               "created_at": record.created_at,
                               "expires_at": record.expires_at, "revoked_at": None}
    else:
        async with _client(args) as c:
            out = await c.create_key(args.tenant, args.role, args.name, args.expires_in)
    if args.json:
        _print_json(out)
        return 0
    expires = "never expires" if out["expires_at"] is None else \
        f"expires {_when(out['expires_at'])}"
    console.print(f"created key {out['key_id']} for tenant {escape(out['tenant'])}, role "
                  f"{out['role']} ({expires})", highlight=False)
    console.print("[bold yellow]This key is shown only now: the store keeps only its "
                  "hash. Keep it somewhere safe:[/bold yellow]")
    console.print(f"    export {KEY_ENV}={out['key']}", highlight=False, soft_wrap=True)
    return 0


async def _keys_list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]]
    if args.db is not None:
        store = await _with_store(args.db)
        try:
            rows = [{"key_id": k.key_id, "tenant": k.tenant, "role": k.role, "name": k.name,
                     "created_at": k.created_at, "expires_at": k.expires_at,
                     "revoked_at": k.revoked_at} for k in await store.list_keys()]
        finally:
            await store.close()
    else:
        async with _client(args) as c:
            rows = await c.keys()
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        console.print("no keys")
        return 0
    now = time.time()
    table = _table("API keys", "key id", "tenant", "role", "name", "created", "state")
    for k in rows:
        state = ("revoked " + _clock(k["revoked_at"]) if k["revoked_at"] is not None
                 else "expired" if k["expires_at"] is not None and k["expires_at"] <= now
                 else "active" if k["expires_at"] is None
                 else "active until " + _clock(k["expires_at"]))
        table.add_row(k["key_id"], escape(k["tenant"]), k["role"], escape(k["name"]),
                      _clock(k["created_at"]), state)
    console.print(table)
    return 0


async def _keys_revoke(args: argparse.Namespace) -> int:
    if args.db is not None:
        store = await _with_store(args.db)
        try:
            await store.revoke_key(args.key_id, time.time())
        finally:
            await store.close()
        console.print(f"revoked {escape(args.key_id)} (a running server stops accepting it "
                      "within seconds)", highlight=False)
        return 0
    async with _client(args) as c:
        await c.revoke_key(args.key_id)
    console.print(f"revoked {escape(args.key_id)}", highlight=False)
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
