"""Telemetry's cost: ``python -m bench.telemetry [--repeat N] [--tasks N] [--quick]``.

What is measured: the durable no-op workload of ``durable_noop`` and of
``bench.governor``'s ``off`` variant (SQLite store, one-task workflows, one
``submit_many``, ``zg_work``'s clock) in three variants, each run in a fresh child:

- ``off``: ``EngineConfig(telemetry=None)``, the peer, measured in the same run;
- ``on``: the default ``EngineConfig`` (``TelemetryConfig()``: a tick a second, rollups
  saved every 10 s), the target;
- ``on+governor``: ``EngineConfig(governor=GovernorConfig())`` with telemetry on, the real
  SystemSampler; reported, not judged.

Runs interleave in rounds (the order rotates each round) so noise hits all alike.
Target (the issue): median throughput with telemetry on >= 0.99 of off, same run.
The default size (20,000 tasks, ~2.5 s) spans two telemetry ticks and the first rollup
flush (at the first tick); the table shows what telemetry did inside the timed window.
Prints a table and appends a JSON line to ``bench/results/telemetry.jsonl``.
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

# summary/governor_seen/Recording/governor_view are public in bench.governor;
# _result and _tail are private helpers of bench.runner, imported as bench.governor does.
from bench.governor import Recording, governor_seen, governor_view, summary
from bench.report import MET, MISSED
from bench.runner import Series, emit, interleaved, run_module, sized
from bench.stats import append_result, median
from zerogate.runtime.governor import GovernorConfig
from zerogate.runtime.observer import Observer, TelemetryConfig

VARIANTS = ("off", "on", "on+governor")
LABELS = {"off": "telemetry off", "on": "telemetry on",
          "on+governor": "telemetry on + governor"}
CONFIGS: dict[str, Callable[[], zg.EngineConfig]] = {
    "off": lambda: zg.EngineConfig(telemetry=None),
    "on": lambda: zg.EngineConfig(telemetry=TelemetryConfig()),
    "on+governor": lambda: zg.EngineConfig(governor=GovernorConfig()),
}
TARGET = 0.99  # throughput with telemetry on / off
JUDGED = "on"
RESULTS = Path(__file__).resolve().parent / "results"
Say = Callable[[str], None]


# ---------------------------------------------------------------- the child


class Probe:
    """Notes each telemetry tick (start, wall seconds) and each rollup save (start)."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []
        self.saves: list[float] = []

    def watch(self, engine: zg.Engine) -> None:
        """Wrap this engine's ``Observer.tick`` and ``store.save_rollups`` (instance
        attributes: one ``perf_counter`` and one append per call, once a second)."""
        observer = engine.telemetry
        if observer is None:
            return
        self._wrap_tick(observer)
        store = engine.store
        save = store.save_rollups

        async def noted_save(rows: Any) -> None:
            self.saves.append(time.perf_counter())
            await save(rows)

        store.save_rollups = noted_save  # type: ignore[method-assign]

    def _wrap_tick(self, observer: Observer) -> None:
        tick = observer.tick

        async def noted_tick(worker: Any) -> Any:
            began = time.perf_counter()
            try:
                return await tick(worker)
            finally:
                self.ticks.append((began, time.perf_counter() - began))

        observer.tick = noted_tick  # type: ignore[method-assign]

    def window(self, began: float, ended: float) -> dict[str, Any]:
        inside = [s for t, s in self.ticks if began <= t <= ended]
        return {"tel_ticks": len(inside), "tel_tick_ms": round(1000 * sum(inside), 3),
                "tel_flushes": sum(began <= t <= ended for t in self.saves)}


async def timed(n: int, folder: str, config: zg.EngineConfig) -> dict[str, Any]:
    """``bench.governor.timed``'s clock and work, keeping the engine to watch telemetry."""
    sampler, probe = Recording(), Probe()
    store = zg_work.make_store("sqlite", folder)
    async with zg.Engine(zg_work.REG, store, config=config, sampler=sampler) as engine:
        sampler.governor = engine.governor
        probe.watch(engine)
        began, cpu = time.perf_counter(), time.process_time()
        handles = await engine.submit_many(zg_work.singles(zg_work.noop, n))
        submitted = time.perf_counter()
        await zg_work.wait_all(engine, handles[-1].id, n)
        ended, cpu = time.perf_counter(), time.process_time() - cpu
        seen = governor_view(engine, sampler, began, ended)
    return {"tasks": n, "seconds": ended - began, "cpu_seconds": cpu,
            "submit_seconds": submitted - began, **seen, **probe.window(began, ended)}


def child(variant: str, size: int, folder: str) -> None:
    emit(zg_work.run(timed, size, folder, CONFIGS[variant]()))


# ---------------------------------------------------------------- the parent


def run_variant(variant: str, size: int) -> dict[str, Any]:
    """One run of ``variant`` in a fresh process and a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix="zgbench-telemetry-") as folder:
        return run_module("bench.telemetry", f"telemetry {variant}",
                          ["--child", variant, "--tasks", str(size), "--dir", folder])


def measure(size: int, repeat: int, say: Say) -> dict[str, Series]:
    """``repeat`` rounds of every variant, interleaved."""
    series = {v: Series(f"telemetry_{v}", size) for v in VARIANTS}
    return interleaved(series, repeat, lambda v: run_variant(v, size), lambda r: say(
        f"  round {r + 1}/{repeat}: " + ", ".join(
            f"{v} {size / series[v].runs[-1]['seconds']:,.0f}/s "
            f"({series[v].runs[-1]['seconds']:.2f} s)" for v in VARIANTS)))


def figures_of(series: dict[str, Series]) -> dict[str, dict[str, Any]]:
    """``bench.governor.summary`` plus per-round ratios and what telemetry did."""
    out = summary(series)
    off = series["off"].runs
    for variant, f in out.items():
        runs = series[variant].runs
        f["round_ratios"] = [round(o["seconds"] / r["seconds"], 4)
                             for o, r in zip(off, runs, strict=True)]
        f["runs_telemetry"] = [{k: v for k, v in r.items() if k.startswith("tel_")}
                               for r in runs] if variant != "off" else []
        if variant != "on+governor":
            f["runs_governor"] = []
    return out


def telemetry_seen(f: dict[str, Any]) -> str:
    """Ticks and rollup saves inside the timed windows, and the ticks' wall time."""
    runs = f["runs_telemetry"]
    if not runs:
        return ""
    ticks = "/".join(map(str, sorted({r["tel_ticks"] for r in runs})))
    saves = "/".join(map(str, sorted({r["tel_flushes"] for r in runs})))
    per_tick = [r["tel_tick_ms"] / r["tel_ticks"] for r in runs if r["tel_ticks"]]
    busy = f", {median(per_tick):.1f} ms/tick" if per_tick else ""
    return f"{ticks} ticks, {saves} rollup saves{busy}"


def check(figures: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    ratio = figures[JUDGED]["ratio"]
    return f"{ratio:.3f} of off's throughput (>= {TARGET})", ratio >= TARGET


def caveats(figures: dict[str, dict[str, Any]]) -> list[str]:
    """Say so when a run was too short for telemetry to tick or save inside it."""
    out = []
    seconds = min(min(f["runs_seconds"]) for f in figures.values())
    if seconds <= 1.0:
        out.append(f"note: the shortest run lasted {seconds:.2f} s, not longer than one "
                   "telemetry interval (1 s); raise --tasks to cover ticks and a rollup save")
    runs = figures[JUDGED]["runs_telemetry"]
    if any(r["tel_flushes"] == 0 for r in runs):
        out.append("note: some 'on' runs saw no rollup save inside the timed window")
    return out


# ---------------------------------------------------------------- output


def table(figures: dict[str, dict[str, Any]], title: str) -> Table:
    t = Table(title=title)
    for name in ("variant", "tasks/s", "vs off", "paired vs off", "tasks/CPU-s", "vs off",
                 "runs (k tasks/s)", "per-round vs off", "telemetry in window",
                 "governor in window", "target"):
        t.add_column(name, justify="left" if name in ("variant", "target") else "right")
    ok = check(figures)[1]
    for variant, f in figures.items():
        mark = "" if variant != JUDGED else ("PASS" if ok else "[bold red]MISSED[/]")
        runs = " ".join(f"{x / 1000:.1f}" for x in f["runs_tasks_per_s"])
        t.add_row(LABELS[variant], f"{f['tasks_per_s']:,.0f}", f"{f['ratio']:.3f}",
                  f"{f['paired_ratio']:.3f}", f"{f['tasks_per_cpu_s']:,.0f}",
                  f"{f['cpu_ratio']:.3f}", runs,
                  " ".join(f"{x:.3f}" for x in f["round_ratios"]), telemetry_seen(f),
                  governor_seen(f), mark)
    return t


def record(figures: dict[str, dict[str, Any]], size: int, repeat: int, quick: bool,
           out: Path) -> Path:
    text, ok = check(figures)
    line = {"case": "telemetry", "tasks": size, "repeat": repeat, "quick": quick,
            "target": TARGET, "judged": JUDGED, "status": MET if ok else MISSED,
            "detail": f"{JUDGED}: {text} {'ok' if ok else 'MISSED'}", "variants": figures,
            "caveats": caveats(figures)}
    return append_result(out, "telemetry", line)


# ---------------------------------------------------------------- command line


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.telemetry",
        description="Engine throughput with telemetry off / on / on with the governor, "
                    "interleaved in one run.")
    parser.add_argument("--repeat", type=int, help="rounds (default 7, or 2 with --quick)")
    parser.add_argument("--tasks", type=int, help="no-op tasks per run (default 20,000, "
                        "or 5,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes, a CI smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    return sized(parser, parser.parse_args(argv), repeat=(2, 7), tasks=(5_000, 20_000))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        child(args.child, args.tasks, args.dir)
        return 0
    console = Console(width=None if sys.stdout.isatty() else 180)
    console.print(f"telemetry off/on/on+governor x{args.tasks:,}, "
                  f"{args.repeat} interleaved rounds")
    figures = figures_of(measure(args.tasks, args.repeat, console.print))
    console.print(table(figures, f"zerogate throughput, telemetry (medians of {args.repeat}; "
                                 f"target on >= {TARGET} x off)"))
    for note in caveats(figures):
        console.print(f"[yellow]{note}[/]")
    text, ok = check(figures)
    console.print(f"telemetry on vs off: {text}: {'PASS' if ok else '[bold red]MISSED[/]'}")
    console.print(f"appended to {record(figures, args.tasks, args.repeat, args.quick, args.out)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
