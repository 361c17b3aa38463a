"""Runs workloads in fresh child processes and summarises repeated runs by median."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
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
