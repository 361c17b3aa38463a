"""R2: SIGKILL of the server during bulk submits, many times over one store.

Every batch is all or nothing; every acknowledged id survives; replaying a batch's
Idempotency-Key after the crash creates no duplicates, whether or not the killed
request had committed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

BATCH = 100  # workflows per bulk request (4 tasks each)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> str | None:
        """Start and wait until ready; the first admin key if this start printed one."""
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zerogate.cli", "serve", "--db", "crash.db", "--port",
             str(self.port), "--files", "files", "--no-governor", "--grace", "1"],
            cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "COLUMNS": "200"})
        assert self.proc.stdout is not None
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, "".join(self.output)
            time.sleep(0.05)
        else:
            raise AssertionError("server not ready: " + "".join(self.output))
        keys = [m.group(1) for line in self.output
                for m in [re.search(r"ZEROGATE_API_KEY=(\S+)", line)] if m]
        return keys[0] if keys else None

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        time.sleep(0.1)  # let the reader thread see the end of the output
        self.proc.stdout.close()

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._close()
        return code


def batch(n: int) -> dict[str, Any]:
    return {"workflows": [{"template": "document_analysis",
                           "params": {"doc": n * BATCH + i, "words": 10, "rounds": 1}}
                          for i in range(BATCH)]}


@pytest.mark.slow
def test_sigkill_during_bulk_submit_loses_no_acknowledged_batch_and_duplicates_none(
        tmp_path: Path) -> None:
    server = Server(tmp_path)
    key = server.start()
    assert key is not None
    headers = {"Authorization": f"Bearer {key}"}
    httpx.post(f"{server.url}/api/workflows/emergency/pause", headers=headers).raise_for_status()
    rng = random.Random(5)
    acknowledged: dict[int, list[int]] = {}
    unknown: list[int] = []
    n = 0
    try:
        for _ in range(3):
            stop = threading.Event()

            def submit_until_killed(stop: threading.Event = stop) -> None:
                nonlocal n
                with httpx.Client(base_url=server.url, headers=headers, timeout=10) as c:
                    while not stop.is_set():
                        i = n
                        n += 1
                        try:
                            r = c.post("/api/workflows/submit/bulk", json=batch(i),
                                       headers={"Idempotency-Key": f"batch-{i}"})
                        except httpx.HTTPError:
                            unknown.append(i)  # the server died with it in flight
                            return
                        assert r.status_code == 201, r.text
                        acknowledged[i] = [w["id"] for w in r.json()["workflows"]]

            t = threading.Thread(target=submit_until_killed)
            t.start()
            time.sleep(rng.uniform(0.3, 1.2))
            server.kill()
            stop.set()
            t.join(timeout=30)
            assert server.start() is None  # a restart never prints a new key
        assert acknowledged and unknown
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as c:
            for ids in acknowledged.values():  # every acknowledged id is there
                for wid in (ids[0], ids[-1]):
                    assert c.get(f"/api/workflows/{wid}").status_code == 200
            for i in rng.sample(sorted(acknowledged), min(8, len(acknowledged))):
                ids = acknowledged[i]
                again = c.post("/api/workflows/submit/bulk", json=batch(i),
                               headers={"Idempotency-Key": f"batch-{i}"})
                assert again.status_code == 200 and [
                    w["id"] for w in again.json()["workflows"]] == ids
            for i in unknown:  # committed or not, a replay leaves exactly one copy
                r = c.post("/api/workflows/submit/bulk", json=batch(i),
                           headers={"Idempotency-Key": f"batch-{i}"})
                assert r.status_code in (200, 201)
    finally:
        assert server.stop() == 0, "".join(server.output)
    db = sqlite3.connect(tmp_path / "crash.db")
    per_key = db.execute(
        "SELECT substr(idempotency_key, 1, instr(idempotency_key, '#') - 1), count(*) "
        "FROM workflows GROUP BY 1").fetchall()
    db.close()
    counts = dict(per_key)
    expected = {f"default/batch-{i}" for i in (*acknowledged, *unknown)}
    assert set(counts) == expected  # no batch half-stored, none missing
    assert set(counts.values()) == {BATCH}  # each stored once, whole
