"""``python -m bench.relationships --quick`` runs end to end: the template on a real
engine and plain networkx give the same answer, and every step reports its figures.
A smoke test of the benchmark's machinery; its budget is judged in bench/, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_relationship_benchmark_agrees_with_networkx_and_reports_steps(
        tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.relationships", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
        env={**os.environ, "COLUMNS": "200"})
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a budget missed
    assert "Traceback" not in done.stderr, done.stderr
    [line] = (tmp_path / "relationships.jsonl").read_text().splitlines()
    [(edges, size)] = json.loads(line)["sizes"].items()
    assert int(edges) > 0 and size["agree"] is True
    assert size["engine"]["people"] == size["peer"]["people"] > 0
    for step in ("rel_load", "rel_paths", "rel_centrality", "rel_radius"):
        figures = size["engine"]["steps"][step]
        assert figures["seconds"] > 0 and figures["peak_mib"] > 0
