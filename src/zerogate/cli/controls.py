"""The system's status and its emergency controls: ``status``, ``pause``, ``resume``
and ``stop``, through a server or, with ``--db``, on a store file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from zerogate.cli.connection import connect
from zerogate.cli.output import console, print_answer
from zerogate.cli.store import set_store_paused, show_store_status, stop_store
from zerogate.cli.workflows import print_workflow_status
from zerogate.errors import InvalidInput
from zerogate.ports import GLOBAL


def add_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``status``, ``pause``, ``resume`` and ``stop``."""
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


async def _status_command(args: argparse.Namespace) -> int:
    if args.db is not None:
        if args.id is not None:
            raise InvalidInput("status ID asks a server; leave out --db")
        return await show_store_status(args)
    async with connect(args) as c:
        if args.id is not None:
            status = await c.status(args.id)
        else:
            status = await c.system_status()
    render = print_workflow_status if args.id is not None else _print_system_status
    print_answer(status, render, as_json=args.json)
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
            return await stop_store(args)
        args.scope = args.scope or GLOBAL
        return await set_store_paused(args, action == "pause")
    if getattr(args, "scope", None) is not None:
        raise InvalidInput("--scope works with --db only; through a server use --tenant "
                           "for the key's own tenant, or nothing for all work")
    async with connect(args) as c:
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
