"""Runs workloads in fresh child processes and summarises repeated runs by median."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.child import RESULT
from bench.stats import REPO, median, percentile

RSS_SAMPLE_S = 0.05  # the parent samples the child's RSS this often while waiting
TIMEOUT_S = 3600.0


class BenchError(RuntimeError):
    """A workload crashed, hung or printed no result."""


def run_child(workload: str, size: int, profile: Path | None = None) -> dict[str, Any]:
    """Run one workload in a fresh process and a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix=f"zgbench-{workload}-") as folder:
        out, err = Path(folder, "child.out"), Path(folder, "child.err")
        work = Path(folder, "work")
        work.mkdir()
        cmd = [sys.executable, "-m", "bench.child", workload, "--size", str(size),
               "--dir", str(work)]
        if profile is not None:
            cmd += ["--profile", str(profile)]
        with out.open("w") as stdout, err.open("w") as stderr:
            proc = psutil.Popen(cmd, cwd=REPO, stdout=stdout, stderr=stderr)
            sampled_mb = _watch(proc)
        if proc.returncode != 0:
            raise BenchError(f"{workload} exited with code {proc.returncode}: "
                             f"{_tail(err.read_text())}")
        figures = _result(workload, out.read_text())
    figures["rss_mb"] = max(figures.pop("maxrss_mb", 0.0), sampled_mb)
    return figures


def _watch(proc: psutil.Popen) -> float:
    """Wait for the child, sampling its RSS; return the largest sample in MiB."""
    peak, waited = 0, 0.0
    while True:
        with contextlib.suppress(psutil.Error):  # between exit and reaping
            peak = max(peak, proc.memory_info().rss)
        try:
            proc.wait(RSS_SAMPLE_S)
            return peak / 2**20
        except psutil.TimeoutExpired:
            waited += RSS_SAMPLE_S
            if waited > TIMEOUT_S:
                proc.kill()
                proc.wait()
                raise BenchError(f"no result after {TIMEOUT_S:.0f} s") from None


def _result(workload: str, stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT):
            figures: dict[str, Any] = json.loads(line[len(RESULT):])
            return figures
    raise BenchError(f"{workload} printed no result: {_tail(stdout)}")


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


@dataclass
class Series:
    """Repeated runs of one workload at one size."""

    workload: str
    size: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return median([r[key] for r in self.runs])

    @property
    def tasks(self) -> int:
        return int(self.runs[0]["tasks"])

    @property
    def seconds(self) -> float:
        return self.median("seconds")

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.seconds

    @property
    def rss_mb(self) -> float:
        """The worst peak over the repeats (a limit is judged on the worst case)."""
        return float(max(r["rss_mb"] for r in self.runs))

    def latency_ms(self, q: float) -> float:
        """Median over the repeats of each run's q-th percentile, in milliseconds."""
        return 1000 * median([percentile(r["latencies_s"], q) for r in self.runs])

    @property
    def tasks_per_cpu_s(self) -> float:
        return self.tasks / self.median("cpu_seconds")

    def all_seconds(self) -> list[float]:
        return [round(r["seconds"], 4) for r in self.runs if "seconds" in r]

    def run_figures(self) -> list[dict[str, float]]:
        """Each run's scalar figures (latency runs: their p50 and p99 in ms)."""
        out = []
        for run in self.runs:
            figures = {k: round(v, 4) for k, v in run.items() if isinstance(v, int | float)}
            if "latencies_s" in run:
                figures["p50_ms"] = round(1000 * percentile(run["latencies_s"], 50), 3)
                figures["p99_ms"] = round(1000 * percentile(run["latencies_s"], 99), 3)
            out.append(figures)
        return out


def measure(workload: str, size: int, repeat: int) -> Series:
    series = Series(workload, size)
    for _ in range(repeat):
        series.runs.append(run_child(workload, size))
    return series


# ------------------------------------------------- the benchmarks' own child processes

def emit(figures: dict[str, Any], rss_key: str = "rss_mb") -> None:
    """In a child: add this process's peak RSS (MiB) and print the RESULT line."""
    import resource

    # ru_maxrss: the kernel's high-water mark of this process, in KiB on Linux.
    figures[rss_key] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(RESULT + json.dumps(figures), flush=True)


def run_module(module: str, what: str, args: list[str], *, tail: int = 8) -> dict[str, Any]:
    """``python -m module --child ...`` in a fresh process; its RESULT figures, or
    BenchError with the end of its stderr when it fails or prints none."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{what} exited with code {proc.returncode}: "
                         f"{_tail(proc.stderr, tail)}")
    return _result(what, proc.stdout)


def interleaved(series: dict[str, Series], repeat: int,
                run: Callable[[str], dict[str, Any]],
                on_round: Callable[[int], None]) -> dict[str, Series]:
    """``repeat`` rounds of every variant; round r starts at variant r mod n, so a slow
    spell of the shared machine hits every variant alike. ``on_round(r)`` after each."""
    variants = list(series)
    for r in range(repeat):
        shift = r % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            series[variant].runs.append(run(variant))
        on_round(r)
    return series


def sized(parser: argparse.ArgumentParser, args: argparse.Namespace, *,
          repeat: tuple[int, int], tasks: tuple[int, int]) -> argparse.Namespace:
    """Fill ``--repeat`` and ``--tasks`` left out with (quick, full) defaults, refuse
    sizes under 1 and a ``--child`` without ``--dir``."""
    if args.repeat is None:
        args.repeat = repeat[0] if args.quick else repeat[1]
    if args.tasks is None:
        args.tasks = tasks[0] if args.quick else tasks[1]
    if args.repeat < 1 or args.tasks < 1:
        parser.error("--repeat and --tasks must be at least 1")
    return child_needs_dir(parser, args)


def child_needs_dir(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> argparse.Namespace:
    if args.child and not args.dir:
        parser.error("--child needs --dir")
    return args
