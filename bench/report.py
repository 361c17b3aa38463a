"""Result rows: judged against targets, printed as a table, written as JSON lines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

MET, MISSED, PEER, UNAVAILABLE, ERROR = "met", "MISSED", "peer", "not available", "ERROR"
STYLES = {MET: "green", MISSED: "bold red", PEER: "dim", UNAVAILABLE: "yellow",
          ERROR: "bold red"}


class Check(NamedTuple):
    """One target: its text shows the figure next to the bound, and whether it holds."""

    text: str
    ok: bool


def verdict(checks: list[Check]) -> str:
    return MET if all(c.ok for c in checks) else MISSED


def describe(checks: list[Check]) -> str:
    return "; ".join(f"{c.text} {'ok' if c.ok else 'MISSED'}" for c in checks)


@dataclass
class Row:
    """One case for one engine: the JSON object and the table line."""

    case: str
    engine: str
    store: str
    status: str
    tasks: int | None = None
    seconds: float | None = None
    tasks_per_s: float | None = None
    peer_ratio: float | None = None  # how many times better than Huey, same run
    p50_ms: float | None = None
    p99_ms: float | None = None
    rss_mb: float | None = None
    repeat: int | None = None
    detail: str = ""  # each target with its figure, or why the row has none
    checks: list[dict[str, Any]] = field(default_factory=list)
    runs_seconds: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def table(rows: list[Row], title: str) -> Table:
    t = Table(title=title, show_lines=False)
    for name, justify in (("case", "left"), ("engine", "left"), ("tasks", "right"),
                          ("seconds", "right"), ("tasks/s", "right"), ("vs Huey", "right"),
                          ("p50 ms", "right"), ("p99 ms", "right"), ("RSS MB", "right"),
                          ("n", "right"), ("status", "left"), ("targets and figures", "left")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        t.add_row(r.case, f"{r.engine} ({r.store})", _num(r.tasks, ",d"),
                  _num(r.seconds, ".3f"), _num(r.tasks_per_s, ",.0f"),
                  _num(r.peer_ratio, ".1f", "x"), _num(r.p50_ms, ".2f"), _num(r.p99_ms, ".2f"),
                  _num(r.rss_mb, ",.0f"), _num(r.repeat, "d"),
                  f"[{STYLES[r.status]}]{r.status}[/]", r.detail)
    return t


def _num(value: float | None, spec: str, suffix: str = "") -> str:
    return "" if value is None else f"{value:{spec}}{suffix}"


def write_jsonl(rows: list[Row], meta: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{meta['timestamp']}.jsonl"
    with path.open("w") as out:
        for r in rows:
            out.write(json.dumps({**_rounded(asdict(r)), **meta}) + "\n")
    return path


def _rounded(record: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}


def show(console: Console, rows: list[Row], title: str) -> None:
    console.print(table(rows, title))
