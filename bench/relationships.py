"""relationship_mapping on sample graphs: ``python -m bench.relationships [--repeat N]
[--edges 10000,50000,100000] [--quick]``.

For each size, ``--repeat`` rounds of two variants, each in a fresh child process and
a fresh temporary folder (the order alternates each round so noise hits both alike):

- ``engine``: the template on a real engine (SQLite store, 2 process workers). One
  100-tie run warms the workers first (a server's workers are warm); then the timed
  run, from ``submit_template`` to the workflow's end. Per step: its wall time as the
  store records it (start to end, including any wait for a free worker), and the
  call's CPU time and peak memory (the worker's VmHWM, reset before each call) from
  the engine's telemetry.
- ``peer``: plain networkx in one process, no engine: the same load, then the same
  three analyses one after another on one graph read once. Per step: wall, CPU and
  peak memory measured the same way (``measured_call_by_name``).

Both compute the same answer for a seed, which is checked (a digest of the paths,
centrality and radius). Budget (the module docstring of
``zerogate.workflows.relationships``): a 100,000-tie graph completes within 20 s,
no process step peaks above 250 MiB; and each step's declared ``memory_mb`` is shown
beside its measured peak. Medians are quoted; one JSON line per invocation goes to
``bench/results/relationships.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.runner import child_needs_dir, emit, run_module
from bench.stats import append_result, median
from zerogate import Engine, EngineConfig, Registry, SqliteStore
from zerogate.domain.model import WorkflowState
from zerogate.runtime.executor import measured_call_by_name
from zerogate.workflows.relationships import graphs
from zerogate.workflows.relationships.templates import add_relationships

TEMPLATE = "relationship_mapping"
STEPS = ("rel_load", "rel_paths", "rel_centrality", "rel_radius", "rel_report")
ANALYSES = ("rel_paths", "rel_centrality", "rel_radius")
SIZES = (10_000, 50_000, 100_000)
BUDGET_EDGES, BUDGET_S, BUDGET_MIB = 100_000, 20.0, 250.0
SEED = 42
TIMEOUT_S = 600
RESULTS = Path(__file__).resolve().parent / "results"
MIB = 2**20


# ---------------------------------------------------------------- the children


def digest(paths: Any, centrality: Any, radius: Any) -> str:
    """A short hash of the answer, to check engine and peer agree."""
    text = json.dumps([paths, centrality, radius], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def engine_run(edges: int, folder: Path) -> dict[str, Any]:
    """One warm-up and one timed run of the template on a fresh engine."""
    registry = Registry()
    add_relationships(registry, folder / "files")
    config = EngineConfig(process_workers=2)
    async with Engine(registry, SqliteStore(folder / "bench.db"), config=config) as engine:
        warm = await engine.submit_template(TEMPLATE, {"source": {"sample": 1},
                                                       "sample_edges": 100})
        await warm.result(timeout_s=TIMEOUT_S)
        before = await usage(engine)
        began = time.perf_counter()
        handle = await engine.submit_template(TEMPLATE, {"source": {"sample": SEED},
                                                         "sample_edges": edges})
        status = await handle.wait(timeout_s=TIMEOUT_S)
        seconds = time.perf_counter() - began
        if status.state is not WorkflowState.COMPLETED:
            raise RuntimeError(f"the workflow ended {status.state}: {status.errors}")
        after = await usage(engine)
    out = status.results["rel_report"]
    assert isinstance(out, dict)
    steps = {t.record.local_id: {
        "seconds": (t.record.finished_at or 0.0) - (t.record.started_at or 0.0),
        "cpu_s": after.get(t.record.name, (0.0, 0))[0] - before.get(t.record.name, (0.0, 0))[0],
        "peak_mib": after.get(t.record.name, (0.0, 0))[1] / MIB} for t in status.tasks}
    declared = {name: registry.get(name).need.memory / MIB for name in STEPS}
    return {"seconds": seconds, "steps": steps, "declared_mib": declared,
            "people": out["network"]["people"],
            "digest": digest(out["paths"], out["centrality"], out["radius"])}


async def usage(engine: Engine) -> dict[str, tuple[float, int]]:
    """CPU seconds (summed) and peak memory (bytes) of each task type, from telemetry."""
    report = await engine.report(hours=1)
    return {t["task"]: (t["cpu_s"] or 0.0, t["peak_memory_bytes"] or 0)
            for t in report["task_types"]}


def peer_run(edges: int, folder: Path) -> dict[str, Any]:
    """The same computations with plain networkx in this process."""
    from zerogate.workflows.relationships import templates as rel

    steps: dict[str, dict[str, float]] = {}

    def step(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result, cpu_s, peak = measured_call_by_name(fn.__module__, fn.__qualname__,
                                                    *args, **kwargs)
        steps[name] = {"seconds": time.perf_counter() - began, "cpu_s": cpu_s,
                       "peak_mib": (peak or 0) / MIB}
        return result

    began = time.perf_counter()
    load = step("rel_load", rel.rel_load, {"sample": SEED}, str(folder / "files"), "bench",
                str(folder / "work"), None, None, edges, True)
    graph = step("read_graph", graphs.read_graph, load["graph"])
    paths = step("rel_paths", rel.best_paths, graph, load["from_person"], load["to_person"],
                 max_degrees=7, k=5)
    central = step("rel_centrality", rel.centrality, graph, 20)
    reach = step("rel_radius", rel.radius, graph, load["from_person"])
    return {"seconds": time.perf_counter() - began, "steps": steps, "people": load["people"],
            "digest": digest(paths, central, reach)}


def child(variant: str, edges: int, folder: str) -> None:
    work = Path(folder)
    figures = (asyncio.run(engine_run(edges, work)) if variant == "engine"
               else peer_run(edges, work))
    emit(figures, rss_key="rss_mib")


# ---------------------------------------------------------------- the parent


def run_child(variant: str, edges: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"zgbench-rel-{variant}-") as folder:
        return run_module("bench.relationships", f"{variant} at {edges:,} ties",
                          ["--child", variant, "--edges", str(edges), "--dir", folder],
                          tail=20)


def measure(sizes: list[int], repeat: int, say: Callable[[str], None]) -> dict[int, Any]:
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for edges in sizes:
        runs[edges] = {"engine": [], "peer": []}
        for r in range(repeat):
            for variant in (("engine", "peer") if r % 2 == 0 else ("peer", "engine")):
                runs[edges][variant].append(run_child(variant, edges))
            e, p = runs[edges]["engine"][-1], runs[edges]["peer"][-1]
            say(f"  {edges:,} ties, round {r + 1}/{repeat}: engine {e['seconds']:.2f} s, "
                f"peer {p['seconds']:.2f} s")
    return runs


def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per variant and step, the overhead ratio, and whether answers agreed."""
    out: dict[str, Any] = {"agree": len({r["digest"] for v in runs.values() for r in v}) == 1}
    for variant, rs in runs.items():
        names = rs[0]["steps"].keys()
        out[variant] = {
            "seconds": median([r["seconds"] for r in rs]),
            "runs_seconds": [round(r["seconds"], 3) for r in rs],
            "rss_mib": median([r["rss_mib"] for r in rs]), "people": rs[0]["people"],
            "steps": {n: {k: median([r["steps"][n][k] for r in rs])
                          for k in ("seconds", "cpu_s", "peak_mib")} for n in names}}
    out["declared_mib"] = runs["engine"][0]["declared_mib"]
    out["ratio"] = out["engine"]["seconds"] / out["peer"]["seconds"]
    return out


def checks(figures: dict[int, Any]) -> list[tuple[str, bool]]:
    big = figures.get(BUDGET_EDGES)
    if big is None:
        return []
    eng = big["engine"]
    peak = max(eng["steps"][n]["peak_mib"] for n in STEPS if n != "rel_report")
    return [(f"{BUDGET_EDGES:,} ties in {eng['seconds']:.1f} s (<= {BUDGET_S:.0f} s)",
             eng["seconds"] <= BUDGET_S),
            (f"process step peak {peak:.0f} MiB (<= {BUDGET_MIB:.0f} MiB)", peak <= BUDGET_MIB),
            ("engine and peer give the same answer", all(f["agree"] for f in figures.values()))]


def table(figures: dict[int, Any]) -> Table:
    t = Table(title="relationship_mapping: medians (engine: warm workers; peer: plain networkx)")
    for name in ("ties", "people", "variant", "total s", "step", "wall s", "CPU s",
                 "peak MiB", "declared MiB"):
        t.add_column(name, justify="left" if name in ("variant", "step") else "right")
    for edges, f in figures.items():
        for variant in ("engine", "peer"):
            v = f[variant]
            for i, (step, s) in enumerate(v["steps"].items()):
                declared = f["declared_mib"].get(step) if variant == "engine" else None
                first = i == 0
                t.add_row(f"{edges:,}" if first else "", f"{v['people']:,}" if first else "",
                          variant if first else "",
                          (f"{v['seconds']:.2f} (x{f['ratio']:.2f})" if variant == "engine"
                           else f"{v['seconds']:.2f}") if first else "",
                          step, f"{s['seconds']:.2f}", f"{s['cpu_s']:.2f}",
                          f"{s['peak_mib']:.0f}", f"{declared:.0f}" if declared else "")
        t.add_section()
    return t


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        child(args.child, args.edges_one, args.dir)
        return 0
    console = Console(width=max(Console().width, 120))
    console.print(f"relationship_mapping x {args.edges} ties, {args.repeat} rounds")
    runs = measure(args.edges, args.repeat, console.print)
    figures = {edges: summary(r) for edges, r in runs.items()}
    console.print(table(figures))
    verdicts = checks(figures)
    for text, ok in verdicts:
        console.print(f"  {'met' if ok else '[bold red]MISSED[/]'}: {text}")
    path = append_result(args.out, "relationships", {
        "case": "relationships", "repeat": args.repeat, "quick": args.quick,
        "budget": {"edges": BUDGET_EDGES, "seconds": BUDGET_S, "peak_mib": BUDGET_MIB},
        "checks": [{"text": t, "ok": ok} for t, ok in verdicts],
        "sizes": {str(k): v for k, v in figures.items()}})
    console.print(f"results appended to {path}")
    return 0 if all(ok for _, ok in verdicts) else 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.relationships",
        description="relationship_mapping on sample graphs: engine vs plain networkx.")
    parser.add_argument("--repeat", type=int, help="rounds per size (default 3, 1 if --quick)")
    parser.add_argument("--edges", help="comma-separated sizes (default 10000,50000,100000; "
                        "10000 if --quick)")
    parser.add_argument("--quick", action="store_true", help="one small size, one round")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--child", choices=("engine", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    child_needs_dir(parser, args)
    default = "10000" if args.quick else ",".join(map(str, SIZES))
    args.edges = [int(x) for x in (args.edges or default).split(",")]
    args.edges_one = args.edges[0]
    return args


if __name__ == "__main__":
    raise SystemExit(main())
