"""``python -m bench``: run the cases, print the table, write the JSON lines."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console

from bench import governor
from bench.cases import CASES as BASE_CASES
from bench.cases import Context
from bench.report import ERROR, Row, show, write_jsonl
from bench.stats import git_commit, machine_info, timestamp

RESULTS = Path(__file__).resolve().parent / "results"
CASES = {**BASE_CASES, "governor": governor.case}  # governor: see bench/governor.py


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="zerogate benchmarks, side by side with Huey.")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 1 repeat unless --repeat is given (CI smoke)")
    parser.add_argument("--case", action="append", choices=list(CASES), metavar="NAME",
                        help=f"run only this case (repeatable): {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, help="runs per measurement; the median is "
                        "reported (default 3, or 1 with --quick)")
    parser.add_argument("--million-repeat", type=int,
                        help="runs of the million case (default: --repeat)")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder for the JSON lines and profiles (default bench/results)")
    parser.add_argument("--no-profile", action="store_true",
                        help="do not re-run a missed zerogate case under cProfile")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1 or (args.million_repeat or 1) < 1:
        parser.error("repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = Console(width=None if sys.stdout.isatty() else 180)
    commit, machine = git_commit(), machine_info()
    meta = {"timestamp": timestamp(), "git_commit": commit["commit"],
            "git_dirty": commit["dirty"], "quick": args.quick, "machine": machine}
    console.print(f"zerogate bench {meta['timestamp']}  commit {str(commit['commit'])[:12]}"
                  f"{' (dirty tree)' if commit['dirty'] else ''}  {machine['cpus']} cpus, "
                  f"{machine['cpu']}, load {machine['load_avg_1m']}")
    ctx = Context(quick=args.quick, repeat=args.repeat,
                  million_repeat=args.million_repeat or args.repeat,
                  profile=not args.no_profile, results=args.out, say=console.print,
                  stamp=str(meta["timestamp"]))
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for name in args.case or list(CASES):
        rows += run_case(ctx, name, console)
    show(console, rows, f"zerogate vs Huey  ({'quick' if args.quick else 'full'}; "
                        f"medians of {args.repeat} runs)")
    console.print(f"wrote {write_jsonl(rows, meta, args.out)}")
    for path in dict.fromkeys(ctx.profiles):
        console.print(f"profile of a miss: {path}")
    return 1 if any(r.status == ERROR for r in rows) else 0


def run_case(ctx: Context, name: str, console: Console) -> list[Row]:
    console.print(f"[bold]{name}[/]")
    began = time.perf_counter()
    try:
        rows = CASES[name](ctx)
    except Exception as exc:  # one broken case must not hide the others' figures
        console.print(f"  [bold red]{name} failed:[/] {exc}")
        rows = [Row(case=name, engine="zerogate", store="-", status=ERROR,
                    detail=f"{type(exc).__name__}: {exc}"[:300])]
    load = os.getloadavg()[0]
    console.print(f"  done in {time.perf_counter() - began:.1f} s (load average {load:.2f})")
    for row in rows:
        row.extra["load_avg_1m_after"] = round(load, 2)
    return rows
