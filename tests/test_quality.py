"""The code base stays typed, linted, and its public API listed: checked as tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import zerogate

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def test_mypy_strict_passes_on_the_package() -> None:
    done = _run("mypy", "src/zerogate")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_passes_on_package_tests_and_benchmarks() -> None:
    done = _run("ruff", "check", "src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_public_api_is_sorted_and_complete() -> None:
    assert zerogate.__all__ == sorted(zerogate.__all__)
    exported = {name for name in dir(zerogate) if not name.startswith("_")}
    modules = {"adapters", "domain", "errors", "ports", "registry", "runtime", "telemetry",
               "annotations", "cli", "demo", "api", "client", "config", "templates",
               "workflows"}
    assert exported - modules == set(zerogate.__all__)
