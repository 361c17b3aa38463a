"""Following and listing work through a server: ``watch`` a workflow until it ends,
list ``workflows`` and the ``queue``, ``cancel`` and ``retry`` a workflow; and how a
workflow's status and ending are printed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from rich.markup import escape

from zerogate.cli.connection import connect
from zerogate.cli.output import (
    clock,
    console,
    new_table,
    print_answer,
    progress_bar,
    state_counts,
    when,
)
from zerogate.client import FINISHED, ApiError, AsyncClient


def add_commands(sub: Any, api: argparse.ArgumentParser) -> None:
    """Add ``watch``, ``workflows``, ``queue``, ``cancel`` and ``retry``."""
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


def print_ending(status: dict[str, Any]) -> None:
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


def print_workflow_status(s: dict[str, Any]) -> None:
    wf = s["workflow"]
    done = _finished(s["counts"])
    console.print(f"workflow {wf['id']} ({escape(wf['template'])}, {wf['priority']}): "
                  f"{wf['state']}, {done}/{len(s['tasks'])} tasks finished "
                  f"({s['progress']:.0%}); created {when(wf['created_at'])}", highlight=False)
    table = new_table(None, "task", "step", "name", "state", "attempt", "why it waits / error")
    for t in s["tasks"]:
        note = t.get("wait_reason") or t.get("error") or ""
        table.add_row(str(t["id"]), escape(t["step"]), escape(t["name"]), t["state"],
                      str(t["attempt"]), escape(note))
    console.print(table)


def _finished(counts: dict[str, int]) -> int:
    """How many tasks are done with, by their counts by state."""
    return sum(n for state, n in counts.items()
               if state in ("completed", "failed", "cancelled", "skipped"))


async def _watch(args: argparse.Namespace) -> int:
    async with connect(args) as c:
        return await watch(c, args.id, poll_s=args.poll)


async def watch(c: AsyncClient, workflow_id: int, *, poll_s: float = 2.0) -> int:
    """A progress bar of a workflow's finished tasks until it ends; 0 if it completed.

    Every event of the workflow wakes a re-read of its status (a burst of events
    costs one read); reads also happen every ``poll_s`` without events, so a stream
    that is refused, drops or misses an event only makes the bar slower.
    """
    changed = asyncio.Event()
    listener = asyncio.create_task(_listen(c, workflow_id, changed))
    try:
        status = await _follow(c, workflow_id, changed, poll_s)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    print_ending(status)
    return 0 if status["workflow"]["state"] == "completed" else 1


async def _listen(c: AsyncClient, workflow_id: int, changed: asyncio.Event) -> None:
    """Set ``changed`` at each event of the workflow, while the stream lasts."""
    with contextlib.suppress(ApiError):
        async with contextlib.aclosing(c.events(workflow_id=workflow_id)) as events:
            async for _ in events:
                changed.set()


async def _follow(c: AsyncClient, workflow_id: int, changed: asyncio.Event,
                  poll_s: float) -> dict[str, Any]:
    """Show the workflow's status on a progress bar, re-read when ``changed`` is set
    or ``poll_s`` has passed, until the workflow ends; returns its last status."""
    status = await c.status(workflow_id)
    wf = status["workflow"]
    with progress_bar() as progress:
        bar = progress.add_task(escape(f"workflow {wf['id']} {wf['template']}"),
                                total=len(status["tasks"]), states="")
        while True:
            counts = status["counts"]
            progress.update(bar, completed=_finished(counts), total=len(status["tasks"]),
                            states=state_counts(counts))
            if status["workflow"]["state"] in FINISHED:
                return status
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), poll_s)
                await asyncio.sleep(0.2)  # let a burst of events settle into one read
            changed.clear()
            status = await c.status(workflow_id)


async def _workflows(args: argparse.Namespace) -> int:
    async with connect(args) as c:
        page = await c.workflows(args.state, args.template, limit=args.limit)
    print_answer(page, lambda page: _print_page(page, args.limit), as_json=args.json)
    return 0


def _print_page(page: dict[str, Any], limit: int) -> None:
    table = new_table("workflows, newest first", "id", "template", "state", "priority",
                      "open tasks", "created", "finished")
    for w in page["items"]:
        table.add_row(str(w["id"]), escape(w["template"]), w["state"], w["priority"],
                      str(w["open_tasks"]), clock(w["created_at"]), clock(w["finished_at"]))
    console.print(table)
    if page.get("next_before") is not None:
        console.print(f"(more: --limit above {limit})")


async def _queue(args: argparse.Namespace) -> int:
    async with connect(args) as c:
        q = await c.queue()
    print_answer(q, _print_queue, as_json=args.json)
    return 0


def _print_queue(q: dict[str, Any]) -> None:
    open_tasks = ", ".join(f"{k} {v}" for k, v in sorted(q["tasks"].items()) if v) or "none"
    console.print(f"tenant {escape(q['tenant'])}: open tasks: {open_tasks}", highlight=False)
    ready = ", ".join(f"{k} {v}" for k, v in q["ready_by_priority"].items() if v)
    if ready:
        console.print(f"ready by priority: {ready}", highlight=False)
    if q.get("oldest_wait_s") is not None:
        console.print(f"oldest ready task has waited {q['oldest_wait_s']:.1f} s")
    if q["active"]:
        table = new_table("active workflows", "id", "template", "state", "priority",
                          "open / total", "age")
        for w in q["active"]:
            table.add_row(str(w["id"]), escape(w["name"]), w["state"], w["priority"],
                          f"{w['open_tasks']}/{w['total_tasks']}", f"{w['age_s']:.0f} s")
        console.print(table)


async def _cancel(args: argparse.Namespace) -> int:
    async with connect(args) as c:
        wf = await c.cancel(args.id)
    print_answer(wf, lambda wf: _print_workflow_line(wf, "cancel requested"), as_json=args.json)
    return 0


async def _retry(args: argparse.Namespace) -> int:
    async with connect(args) as c:
        wf = await c.retry(args.id)
    print_answer(wf, lambda wf: _print_workflow_line(wf, "retrying"), as_json=args.json)
    return 0


def _print_workflow_line(wf: dict[str, Any], what: str) -> None:
    console.print(f"workflow {wf['id']} ({escape(wf['template'])}): {what}; now "
                  f"{wf['state']}", highlight=False)
