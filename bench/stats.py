"""Small statistics and the facts that identify a run: machine, commit, time."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with q % of samples at or below it."""
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def git_commit() -> dict[str, object]:
    """HEAD, and whether the working tree differs from it (others may be editing)."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                             check=False)
        return out.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or "unknown",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def machine_info() -> dict[str, object]:
    import psutil

    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "mem_total_mb": round(psutil.virtual_memory().total / 2**20),
        "sqlite": sqlite3.sqlite_version,
        "zerogate": _version("zerogate"),
        "huey": _version("huey"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def append_result(out: Path, name: str, fields: dict[str, object]) -> Path:
    """Append ``fields`` with when, which commit, which machine and its load, as one
    JSON line of ``out/<name>.jsonl``; returns the file."""
    commit = git_commit()
    line = {**fields, "timestamp": timestamp(), "git_commit": commit["commit"],
            "git_dirty": commit["dirty"], "machine": machine_info(),
            "load_avg_1m_after": round(os.getloadavg()[0], 2)}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.jsonl"
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return path
