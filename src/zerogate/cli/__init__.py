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
from collections.abc import Sequence

from rich.markup import escape

from zerogate.cli import (
    controls,
    demo,
    engine,
    governor,
    keys,
    report,
    submissions,
    workflows,
)
from zerogate.cli.connection import api_options
from zerogate.cli.engine import load_registry, serve_metrics
from zerogate.cli.governor import snapshot_rows
from zerogate.cli.output import console
from zerogate.cli.store import offline_status
from zerogate.cli.submissions import parse_params, read_bulk
from zerogate.cli.workflows import watch
from zerogate.client import (
    KEY_ENV,
    URL_ENV,
    ApiError,
    Forbidden,
    InvalidRequest,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from zerogate.errors import ZerogateError
from zerogate.telemetry.logs import configure_logging

__all__ = [
    "console",
    "explain",
    "load_registry",
    "main",
    "offline_status",
    "parse_params",
    "read_bulk",
    "serve_metrics",
    "snapshot_rows",
    "watch",
]


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
    api_options(p, top=True)
    # Subcommands take the same options (``zerogate status --url ...``); they are
    # SUPPRESSed there so a subcommand without them keeps what was given before it.
    api = argparse.ArgumentParser(add_help=False)
    api_options(api, top=False)
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    # In the order ``zerogate --help`` lists them.
    demo.add_commands(sub)
    engine.add_commands(sub)
    submissions.add_commands(sub, api)
    workflows.add_commands(sub, api)
    governor.add_features(sub, api)
    submissions.add_templates(sub, api)
    report.add_command(sub, api)
    governor.add_commands(sub, api)
    controls.add_commands(sub, api)
    keys.add_commands(sub, api)
    return p
