"""The resource governor's cost: ``python -m bench.governor [--repeat N] [--tasks N] [--quick]``.

The durable no-op workload of ``durable_noop`` (SQLite store, one-task workflows, one
``submit_many``, ``zg_work``'s clock) in three variants, each run in a fresh child:

- ``off``: the default ``EngineConfig`` (no governor);
- ``on``: ``EngineConfig(governor=GovernorConfig())``, the real SystemSampler at 1 s;
- ``declared``: as ``on``, and the no-op declares ``cpu=0.01, memory_mb=1`` and the
  feature ``bench`` (standard), so every claim carries a budget the store applies.

Runs interleave in rounds (the order rotates each round) so noise hits all alike.
Target (the issue): median throughput with the governor on >= 0.99 of off, same run.
Prints a table and appends a JSON line to ``bench/results/governor.jsonl``; with
``--profile`` one more run of each variant goes under cProfile (all threads).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import zerogate as zg
from bench import zg_work
from bench.cases import Context, zg_row
from bench.report import PEER, Check, Row, describe, verdict
from bench.runner import Series, emit, interleaved, run_module, sized
from bench.stats import append_result, median
from zerogate.adapters.sampler import SystemSampler
from zerogate.domain.resources import ResourceSnapshot
from zerogate.runtime.governor import Governor, GovernorConfig

VARIANTS = ("off", "on", "declared")
LABELS = {"off": "governor off", "on": "governor on",
          "declared": "governor on + declared"}
TARGET = 0.99  # throughput with the governor on / off
RESULTS = Path(__file__).resolve().parent / "results"
Say = Callable[[str], None]


# ---------------------------------------------------------------- the child


def declared_noop() -> zg.TaskDef:
    """The no-op again, declaring resources and a feature (in the child's registry)."""
    zg_work.REG.feature("bench", "standard")

    @zg_work.REG.task(name="noop_declared", feature="bench", cpu=0.01, memory_mb=1)
    async def noop_declared() -> None:
        return None

    return noop_declared


class Recording(SystemSampler):
    """The real sampler, noting each sample's time, CPU reading and the tier then in force."""

    def __init__(self) -> None:
        super().__init__()
        self.governor: Governor | None = None
        self.seen: list[tuple[float, float | None, int]] = []

    def sample(self) -> ResourceSnapshot:
        snap = super().sample()
        decision = self.governor.decision if self.governor else None
        self.seen.append((time.perf_counter(), snap.cpu_fraction, decision.tier if decision else 0))
        return snap


async def timed(task: zg.TaskDef, n: int, folder: str,
                config: zg.EngineConfig | None) -> dict[str, Any]:
    """``zg_work._throughput``'s clock and work, keeping the engine to read its governor."""
    sampler = Recording()
    store = zg_work.make_store("sqlite", folder)
    async with zg.Engine(zg_work.REG, store, config=config, sampler=sampler) as engine:
        sampler.governor = engine.governor
        began, cpu = time.perf_counter(), time.process_time()
        handles = await engine.submit_many(zg_work.singles(task, n))
        submitted = time.perf_counter()
        await zg_work.wait_all(engine, handles[-1].id, n)
        ended, cpu = time.perf_counter(), time.process_time() - cpu
        seen = governor_view(engine, sampler, began, ended)
    return {"tasks": n, "seconds": ended - began, "cpu_seconds": cpu,
            "submit_seconds": submitted - began, **seen}


def governor_view(engine: zg.Engine, sampler: Recording, began: float,
                  ended: float) -> dict[str, Any]:
    """What the governor saw inside the timed window, and the highest tier in force."""
    gov = engine.governor
    if gov is None:
        return {}
    inside = [s for s in sampler.seen if began <= s[0] <= ended]
    cpus = [c for _, c, _ in inside if c is not None]
    final = gov.decision.tier if gov.decision else 0
    return {"gov_samples": len(inside), "gov_cpu_max": max(cpus, default=None),
            "gov_tier_max": max([final, *(t for *_, t in inside)]),
            "gov_limit": gov.limit.limit}


def workload(variant: str, size: int, folder: str) -> dict[str, Any]:
    """One timed run of ``variant``."""
    task = declared_noop() if variant == "declared" else zg_work.noop
    config = None if variant == "off" else zg.EngineConfig(governor=GovernorConfig())
    return zg_work.run(timed, task, size, folder, config)


def child(variant: str, size: int, folder: str, profile: str | None) -> None:
    if profile is None:
        figures = workload(variant, size, folder)
    else:
        from bench.profiling import AllThreads

        with AllThreads() as profiler:
            figures = workload(variant, size, folder)
        Path(profile).write_text(profiler.report(top=40))
    emit(figures)


# ---------------------------------------------------------------- the parent


def run_variant(variant: str, size: int, profile: Path | None = None) -> dict[str, Any]:
    """One run of ``variant`` in a fresh process and a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix=f"zgbench-governor-{variant}-") as folder:
        args = ["--child", variant, "--tasks", str(size), "--dir", folder]
        if profile is not None:
            args += ["--profile-to", str(profile)]
        return run_module("bench.governor", f"governor {variant}", args)


def measure(size: int, repeat: int, say: Say) -> dict[str, Series]:
    """``repeat`` rounds of every variant, interleaved."""
    series = {v: Series(f"governor_{v}", size) for v in VARIANTS}
    return interleaved(series, repeat, lambda v: run_variant(v, size), lambda r: say(
        f"  round {r + 1}/{repeat}: " + ", ".join(
            f"{v} {size / series[v].runs[-1]['seconds']:,.0f}/s" for v in VARIANTS)))


def paired(series: dict[str, Series], variant: str, key: str = "seconds") -> float:
    """Median over rounds of (off / variant) for a time: the per-round throughput ratio."""
    pairs = zip(series["off"].runs, series[variant].runs, strict=True)
    return median([off[key] / run[key] for off, run in pairs])


def summary(series: dict[str, Series]) -> dict[str, dict[str, Any]]:
    """Per variant: medians, the ratios vs off, every run's tasks/s."""
    off = series["off"]
    out = {}
    for variant, s in series.items():
        out[variant] = {
            "tasks_per_s": round(s.tasks_per_s, 1), "seconds": round(s.seconds, 4),
            "tasks_per_cpu_s": round(s.tasks_per_cpu_s, 1),
            "ratio": round(s.tasks_per_s / off.tasks_per_s, 4),
            "paired_ratio": round(paired(series, variant), 4),
            "cpu_ratio": round(s.tasks_per_cpu_s / off.tasks_per_cpu_s, 4),
            "runs_tasks_per_s": [round(s.tasks / r["seconds"], 1) for r in s.runs],
            "runs_seconds": s.all_seconds(),
            "runs_cpu_seconds": [round(r["cpu_seconds"], 4) for r in s.runs],
            "submit_seconds": round(s.median("submit_seconds"), 4),
            "runs_governor": [{k: v for k, v in r.items() if k.startswith("gov_")}
                              for r in s.runs] if variant != "off" else [],
        }
    return out


def governor_seen(f: dict[str, Any]) -> str:
    """Samples the governor took inside the timed windows, its CPU readings, top tier."""
    runs = f["runs_governor"]
    if not runs:
        return ""
    samples = "/".join(map(str, sorted({r["gov_samples"] for r in runs})))
    cpus = [r["gov_cpu_max"] for r in runs if r["gov_cpu_max"] is not None]
    cpu = f"CPU up to {max(cpus):.0%}" if cpus else "no CPU reading"
    return f"{samples} samples, {cpu}, tier up to {max(r['gov_tier_max'] for r in runs)}"


def caveat(figures: dict[str, dict[str, Any]]) -> str | None:
    """Say so when no run gave the governor a CPU reading to act on."""
    runs = figures["on"]["runs_governor"] + figures["declared"]["runs_governor"]
    if any(r["gov_cpu_max"] is not None for r in runs):
        return None
    return ("note: no run lasted until the governor's first CPU reading (its first sample, "
            "at engine start, has none; the next comes 1 s later), so its CPU bands never "
            "acted on admission; --tasks 40000 runs long enough to cover several samples")


def checks(figures: dict[str, dict[str, Any]]) -> dict[str, Check]:
    return {v: Check(f"{figures[v]['ratio']:.3f} of off's throughput (>= {TARGET})",
                     figures[v]["ratio"] >= TARGET) for v in VARIANTS[1:]}


# ---------------------------------------------------------------- output


def table(figures: dict[str, dict[str, Any]], title: str) -> Table:
    t = Table(title=title)
    for name in ("variant", "tasks/s", "vs off", "paired vs off", "tasks/CPU-s",
                 "vs off", "runs (tasks/s)", "governor in window", "target"):
        t.add_column(name, justify="left" if name in ("variant", "target") else "right")
    verdicts = checks(figures)
    for variant, f in figures.items():
        check = verdicts.get(variant)
        mark = "" if check is None else ("met" if check.ok else "[bold red]MISSED[/]")
        runs = " ".join(f"{x:,.0f}" for x in f["runs_tasks_per_s"])
        t.add_row(LABELS[variant], f"{f['tasks_per_s']:,.0f}", f"{f['ratio']:.3f}",
                  f"{f['paired_ratio']:.3f}", f"{f['tasks_per_cpu_s']:,.0f}",
                  f"{f['cpu_ratio']:.3f}", runs, governor_seen(f), mark)
    return t


def record(figures: dict[str, dict[str, Any]], size: int, repeat: int, quick: bool,
           out: Path) -> Path:
    verdicts = checks(figures)
    line = {"case": "governor", "tasks": size, "repeat": repeat, "quick": quick,
            "target": TARGET, "status": verdict(list(verdicts.values())),
            "detail": "; ".join(f"{v}: {c.text} {'ok' if c.ok else 'MISSED'}"
                                for v, c in verdicts.items()),
            "variants": figures, "caveat": caveat(figures)}
    return append_result(out, "governor", line)


def profile_all(size: int, out: Path, say: Say) -> list[Path]:
    """One more run of each variant under cProfile, into ``profile-governor-<v>.txt``."""
    paths = []
    for variant in VARIANTS:
        path = out / f"profile-governor-{variant}.txt"
        figures = run_variant(variant, size, profile=path)
        say(f"  profiled {variant}: {size / figures['seconds']:,.0f}/s under cProfile "
            f"-> {path}")
        paths.append(path)
    return paths


# ---------------------------------------------------------------- the `python -m bench` case


def case(ctx: Context) -> list[Row]:
    """``python -m bench --case governor``: one row per variant, judged vs off."""
    size = ctx.size(10_000, 2_000)
    repeat = ctx.repeat if ctx.repeat > 1 else 2  # a ratio of single runs is noise
    ctx.say(f"  governor off/on/declared x{size:,} ({repeat} interleaved rounds)")
    series = measure(size, repeat, ctx.say)
    figures = summary(series)
    verdicts = checks(figures)
    if not all(c.ok for c in verdicts.values()) and ctx.profile:
        ctx.profiles += profile_all(size, ctx.results, ctx.say)
    rows = [zg_row("governor", "sqlite, governor off", series["off"], PEER, [],
                   detail="reference: default EngineConfig")]
    for variant, check in verdicts.items():
        f = figures[variant]
        rows.append(zg_row("governor", f"sqlite, {LABELS[variant]}", series[variant],
                           verdict([check]), [check],
                           detail=f"{describe([check])}; paired {f['paired_ratio']:.3f}, "
                                  f"per CPU-s {f['cpu_ratio']:.3f}",
                           extra={k: f[k] for k in ("ratio", "paired_ratio", "cpu_ratio")}))
    return rows


# ---------------------------------------------------------------- command line


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.governor",
        description="Engine throughput with the resource governor off / on / on with "
                    "declared resources, interleaved in one run.")
    parser.add_argument("--repeat", type=int, help="rounds (default 5, or 2 with --quick)")
    parser.add_argument("--tasks", type=int, help="no-op tasks per run (default 10,000, "
                        "or 2,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    parser.add_argument("--profile", action="store_true",
                        help="then profile one more run of each variant (cProfile)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    return sized(parser, parser.parse_args(argv), repeat=(2, 5), tasks=(2_000, 10_000))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        child(args.child, args.tasks, args.dir, args.profile_to)
        return 0
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(f"governor off/on/declared x{args.tasks:,}, {args.repeat} interleaved rounds")
    figures = summary(measure(args.tasks, args.repeat, console.print))
    console.print(table(figures, f"zerogate throughput, resource governor (medians of "
                                 f"{args.repeat}; target on >= {TARGET} x off)"))
    note = caveat(figures)
    if note:
        console.print(f"[yellow]{note}[/]")
    console.print(f"appended to {record(figures, args.tasks, args.repeat, args.quick, args.out)}")
    if args.profile:
        profile_all(args.tasks, args.out, console.print)
    return 0 if all(c.ok for c in checks(figures).values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
