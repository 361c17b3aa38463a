"""``zerogate demo`` as a newcomer runs it: the server starts, a mixed load of the
built-in templates shows in status and metrics within seconds, and a summary ends it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_the_demo_serves_a_mixed_load_that_shows_within_seconds(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "zerogate.cli", "demo", "--port", "0", "--duration", "12",
               "--rate", "2", "--drain", "40", "--seed", "1"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "COLUMNS": "200"}) as demo:
        assert demo.stdout is not None
        head = "".join(demo.stdout.readline() for _ in range(3))
        url = re.search(r"serving on (http://127\.0\.0\.1:\d+)", head)
        key = re.search(r"ZEROGATE_API_KEY=(zg_[A-Za-z0-9_-]+)", head)
        assert url and key, head
        auth = {"Authorization": f"Bearer {key.group(1)}"}
        started = time.monotonic()
        completed = 0.0
        while time.monotonic() - started < 15 and not completed:
            answer = httpx.get(f"{url.group(1)}/metrics", headers=auth, timeout=10)
            assert answer.status_code == 200, answer.text
            metrics = answer.text
            completed = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                            if line.startswith("zerogate_task_attempts_total{")
                            and 'outcome="completed"' in line)
            time.sleep(0.5)
        assert completed, "no task completed within 15 s of the start"
        dashboard = httpx.get(f"{url.group(1)}/api/system/dashboard", headers=auth,
                              timeout=10).json()
        assert dashboard["task_types"] and dashboard["workflows"]["counts"]
        out, _ = demo.communicate(timeout=240)
    assert demo.returncode == 0, head + out
    assert "this run, per template" in out and "per task type" in out
    # per template: runs and states; on a busy machine the governor may still hold some
    # experimental work when the drain ends, which the summary shows as open
    rows = re.findall(r"│ (\w+)\s+│ (\d+)\s+│ ([a-z0-9, ]+?)\s+│", out)
    completed = {t: int(m.group(1)) for t, _, states in rows
                 if (m := re.search(r"completed (\d+)", states))}
    assert len(rows) >= 5 and sum(int(n) for _, n, _ in rows) >= 20, out
    runs = {t: int(n) for t, n, _ in rows}
    for essential in ("grant_timeline", "sponsor_analysis"):  # never shed: all completed
        assert runs[essential] and completed.get(essential) == runs[essential], out
    for step in ("sponsor_load", "sponsor_influence", "grant_plan"):
        assert step in out
