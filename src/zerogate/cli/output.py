"""What the commands print with: the console, JSON, times, tables and progress bars."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()

T = TypeVar("T")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def print_answer(answer: T, render: Callable[[T], None], *, as_json: bool) -> None:
    """Print a command's answer: as JSON (``--json``), else as ``render`` shows it to
    people."""
    if as_json:
        print_json(answer)
    else:
        render(answer)


def when(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def clock(at: float | None) -> str:
    """A time short enough for a table column (the day and the time, local)."""
    return "-" if at is None else time.strftime("%m-%d %H:%M:%S", time.localtime(at))


def new_table(title: str | None, *columns: str) -> Table:
    """A table whose first column (an id) never wraps and whose text columns fold
    rather than cut: ids and names must stay whole to be copied into a command."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, no_wrap=i == 0, overflow="fold")
    return table


def id_ranges(ids: Iterable[int]) -> str:
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


def progress_bar() -> Progress:
    """A bar of finished tasks, with their counts by state (the task's ``states``)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[states]}"), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=False)


def state_counts(counts: Mapping[str, int]) -> str:
    """``completed=3 running=1``: counts by state for a progress bar."""
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
