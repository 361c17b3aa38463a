"""Starting work through a server: ``submit`` one workflow, ``bulk`` many at once,
and the ``templates`` they may start from."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape

from zerogate.cli.connection import connect
from zerogate.cli.output import console, id_ranges, new_table, print_answer
from zerogate.cli.workflows import print_ending
from zerogate.errors import InvalidInput


def add_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``submit`` and ``bulk``."""
    submit = sub.add_parser("submit", parents=[api], help="start a workflow from a template")
    submit.add_argument("template")
    submit.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter; VALUE is read as JSON when it parses (1, true, "
                             "[1,2]), else as text; repeat for more")
    submit.add_argument("--params", default=None, metavar="JSON",
                        help="parameters as one JSON object (-p values override it)")
    submit.add_argument("-f", "--file", action="append", default=[], metavar="KEY=PATH",
                        help="send a local file inline as parameter KEY ({\"text\": ...}, "
                             "or {\"base64\": ...} when it is not UTF-8 text)")
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


def add_templates(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``templates``."""
    templates = sub.add_parser("templates", parents=[api],
                               help="the templates the server accepts")
    templates.add_argument("--json", action="store_true")
    templates.set_defaults(run=_templates)


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


def inline_files(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``KEY=PATH`` pairs as template sources: a file's text, or its bytes in base64."""
    sources = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise InvalidInput(f"--file takes KEY=PATH, got {pair!r}")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        try:
            sources[name] = {"text": data.decode("utf-8")}
        except UnicodeDecodeError:
            sources[name] = {"base64": base64.b64encode(data).decode("ascii")}
    return sources


async def _submit(args: argparse.Namespace) -> int:
    params = {**parse_params(args.params, args.param), **inline_files(args.file)}
    async with connect(args) as c:
        run = await c.submit(args.template, params, priority=args.priority,
                             idempotency_key=args.idempotency_key)
        if not args.wait:
            print_answer(run, _print_submitted, as_json=args.json)
            return 0
        if not args.json:
            console.print(f"submitted workflow {run['id']} ({escape(run['template'])}, "
                          f"{len(run['tasks'])} tasks); waiting for it to end", highlight=False)
        done = await c.wait(run["id"])
        status = await c.status(run["id"])
    print_answer(status, print_ending, as_json=args.json)
    return 0 if done["state"] == "completed" else 1


def _print_submitted(run: dict[str, Any]) -> None:
    again = "" if run.get("created", True) else " (already submitted: the first run)"
    console.print(f"submitted workflow {run['id']} ({escape(run['template'])}, "
                  f"{len(run['tasks'])} tasks){again}", highlight=False)


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
    async with connect(args) as c:
        out = await c.submit_bulk(items, idempotency_key=args.idempotency_key)
    print_answer(out, _print_submitted_bulk, as_json=args.json)
    return 0


def _print_submitted_bulk(out: dict[str, Any]) -> None:
    runs = out["workflows"]
    new = sum(1 for r in runs if r.get("created", True))
    again = "" if new == len(runs) else f" ({len(runs) - new} were already submitted)"
    console.print(f"submitted {len(runs)} workflows ({out['tasks']} tasks){again}: "
                  f"ids {id_ranges(r['id'] for r in runs)}", highlight=False, soft_wrap=True)


async def _templates(args: argparse.Namespace) -> int:
    async with connect(args) as c:
        templates = await c.templates()
    print_answer(templates, _print_templates, as_json=args.json)
    return 0


def _print_templates(templates: list[Any]) -> None:
    table = new_table("templates", "template", "parameters (* required)", "description")
    for t in templates:
        schema = t["params_schema"]
        required = set(schema.get("required", []))
        params = ", ".join(f"{name}{'*' if name in required else ''}: {p.get('type', 'any')}"
                           for name, p in schema.get("properties", {}).items())
        table.add_row(escape(t["name"]), escape(params), escape(t["description"]))
    console.print(table)
