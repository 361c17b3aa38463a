"""The command line as a user runs it: in a subprocess, on a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def zerogate(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerogate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_demo_runs_to_completion_and_prints_a_summary(tmp_path: Path) -> None:
    done = zerogate("demo", "--documents", "12", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "completed: 48" in done.stdout
    again = zerogate("demo", "--documents", "12", cwd=tmp_path)  # the same store file
    assert again.returncode == 0 and "completed: 48" in again.stdout  # only its own run
    status = zerogate("status", "--db", "zerogate-demo.db", cwd=tmp_path)
    assert "completed 96" in status.stdout and "paused: nothing" in status.stdout


def test_controls_are_durable_and_bad_input_is_explained(tmp_path: Path) -> None:
    assert zerogate("demo", "--documents", "1", cwd=tmp_path).returncode == 0
    db = ("--db", "zerogate-demo.db")
    assert zerogate("pause", *db, "--scope", "tenant:acme", cwd=tmp_path).returncode == 0
    assert "tenant:acme" in zerogate("status", *db, cwd=tmp_path).stdout
    bad = zerogate("pause", *db, "--scope", "workflow:abc", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown pause scope 'workflow:abc'" in bad.stdout
    assert zerogate("resume", *db, "--scope", "tenant:acme", cwd=tmp_path).returncode == 0
    assert "paused: nothing" in zerogate("status", *db, cwd=tmp_path).stdout
    stop = zerogate("stop", *db, cwd=tmp_path)
    assert stop.returncode == 0 and "paused: global" in zerogate("status", *db,
                                                                   cwd=tmp_path).stdout
    missing = zerogate("status", "--db", "nope.db", cwd=tmp_path)
    assert missing.returncode == 2 and "no store at nope.db" in missing.stdout


def test_worker_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "zerogate.cli", "worker", "--app",
               "zerogate.demo:build_registry", "--db", "w.db", "--grace", "2"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as worker:
        try:
            assert worker.stdout is not None
            assert "serving zerogate.demo:build_registry" in worker.stdout.readline()
            worker.send_signal(signal.SIGTERM)  # the line is printed once handlers are in
            assert worker.wait(timeout=30) == 0
            assert "worker stopped" in worker.stdout.read()
        finally:
            if worker.poll() is None:
                worker.kill()


@pytest.mark.slow
def test_benchmarks_run_side_by_side_with_huey(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--case", "durable_noop", "--case", "chains",
         "--no-profile", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    [results] = tmp_path.glob("*.jsonl")
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    engines = {(r["case"], r["engine"].split()[0]) for r in rows}
    assert engines >= {("durable_noop", "zerogate"), ("durable_noop", "huey"),
                       ("chains", "zerogate"), ("chains", "huey")}
    assert all(r["tasks_per_s"] > 0 for r in rows if r.get("tasks_per_s") is not None)


def test_resources_and_profiles_show_what_the_governor_sees(tmp_path: Path) -> None:
    done = zerogate("resources", "--samples", "2", "--interval", "0.2",
                    "--profile", "development", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("profile development", "cpu", "working set", "this process tree",
                 "health", "experimental:"):
        assert text in done.stdout, text
    one = zerogate("resources", "--samples", "1", cwd=tmp_path)
    assert one.returncode == 2 and "at least 2" in one.stdout
    table = zerogate("profiles", cwd=tmp_path)
    assert table.returncode == 0
    for name in ("develo", "balanc", "perfor", "emerge"):
        assert name in table.stdout
