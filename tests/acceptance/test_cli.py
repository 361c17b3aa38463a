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
    done = zerogate("demo", "--offline", "--documents", "12", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "completed: 48" in done.stdout
    again = zerogate("demo", "--offline", "--documents", "12", cwd=tmp_path)  # the same store
    assert again.returncode == 0 and "completed: 48" in again.stdout  # only its own run
    status = zerogate("status", "--db", "zerogate-demo.db", cwd=tmp_path)
    assert "completed 96" in status.stdout and "paused: nothing" in status.stdout


def test_controls_are_durable_and_bad_input_is_explained(tmp_path: Path) -> None:
    assert zerogate("demo", "--offline", "--documents", "1", cwd=tmp_path).returncode == 0
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


def test_report_exports_the_demo_history_as_html_json_and_csv(tmp_path: Path) -> None:
    import csv
    import io
    import zipfile
    from html.parser import HTMLParser

    assert zerogate("demo", "--offline", "--documents", "6", cwd=tmp_path).returncode == 0
    db = ("--db", "zerogate-demo.db")
    done = zerogate("report", *db, "--format", "json", "-o", "r.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == "zerogate.report/1"
    assert report["summary"]["completed"] == 24  # 6 documents x 4 steps
    types = {row["task"]: row for row in report["task_types"]}
    assert sum(row["completed"] for row in types.values()) == 24 and len(types) == 4
    assert report["status"]["status"] == "healthy"

    assert zerogate("report", *db, "--format", "csv", "-o", "r.zip", cwd=tmp_path).returncode == 0
    with zipfile.ZipFile(tmp_path / "r.zip") as z:
        rows = list(csv.DictReader(io.StringIO(z.read("task_types.csv").decode())))
    assert {r["task"] for r in rows} == set(types)
    assert sum(int(r["completed"]) for r in rows) == 24

    assert zerogate("report", *db, "--format", "html", "-o", "r.html", cwd=tmp_path).returncode == 0
    text = (tmp_path / "r.html").read_text()

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.table: str | None = None
            self.cells: list[str] = []
            self.svgs = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.svgs += tag == "svg"
            if tag == "table":
                self.table = dict(attrs).get("id")

        def handle_data(self, data: str) -> None:
            if self.table == "task_types" and data.strip():
                self.cells.append(data.strip())

    cells = Cells()
    cells.feed(text)
    assert set(types) <= set(cells.cells) and cells.svgs >= 5
    assert "http" not in text and "<script" not in text

    status = zerogate("status", *db, "--json", cwd=tmp_path)
    view = json.loads(status.stdout)
    assert view["status"] == "healthy" and view["queue"]["tasks"]["waiting"] == 0
    bad = zerogate("report", *db, "--format", "pdf", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_worker_serves_prometheus_metrics_over_http(tmp_path: Path) -> None:
    import socket
    import time

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "zerogate.cli", "worker", "--app",
               "zerogate.demo:build_registry", "--db", "w.db", "--metrics-port", str(port)]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as worker:
        try:
            assert worker.stdout is not None
            assert f"127.0.0.1:{port}/metrics" in worker.stdout.readline()
            names: set[str] = set()
            deadline = time.monotonic() + 20
            while "zerogate_health_score" not in names and time.monotonic() < deadline:
                time.sleep(0.2)  # the first telemetry tick publishes after a second
                reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                assert reply.status_code == 200
                names = {f.name for f in text_string_to_metric_families(reply.text)}
            assert {"zerogate_tasks", "zerogate_resource_usage_ratio",
                    "zerogate_health_score"} <= names
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
