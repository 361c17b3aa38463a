"""The command line against a real server, both in subprocesses as a user runs them:
``python -m zerogate serve`` on a fresh SQLite store, then client commands that find
it through ZEROGATE_URL and ZEROGATE_API_KEY."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openpyxl

DATA = Path(__file__).resolve().parents[1] / "workflows" / "data"
KEY_LINE = re.compile(r"export ZEROGATE_API_KEY=(zg_\S+)")
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("ZEROGATE_")}
BASE_ENV["COLUMNS"] = "200"  # rich wraps at 80 columns off a terminal


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def zerogate(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerogate", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**BASE_ENV, **(env or {})})


Done = subprocess.CompletedProcess[str]


def together(*calls: Callable[[], Done]) -> list[Done]:
    """Independent commands at the same time: each pays a second of imports, and this
    file must stay fast."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def ok(*results: Done) -> list[str]:
    for done in results:
        assert done.returncode == 0, (done.args, done.stdout, done.stderr)
    return [done.stdout for done in results]


def final(printed: str, step: str) -> Any:
    """The result of ``step`` in a ``status --json`` answer."""
    [task] = [t for t in json.loads(printed)["tasks"] if t["step"] == step]
    assert task["state"] == "completed", task
    return task["result"]


@dataclass
class Server:
    url: str
    printed: list[str]

    @property
    def first_key(self) -> str | None:
        found = [m.group(1) for line in self.printed if (m := KEY_LINE.search(line))]
        return found[0] if found else None


@contextlib.contextmanager
def serving(tmp_path: Path, db: str = "zg.db") -> Iterator[Server]:
    """``zerogate serve`` until the block ends; then SIGTERM, and it must exit 0."""
    port = free_port()
    command = [sys.executable, "-m", "zerogate", "serve", "--db", db, "--port", str(port),
               "--files", str(tmp_path / "files"), "--grace", "5"]
    with (tmp_path / f"serve-{port}.log").open("w") as log, subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=log, text=True,
            env=BASE_ENV) as proc:
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:  # a thread, so a silent server cannot hang the test
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            printed: list[str] = []
            deadline = time.monotonic() + 30
            while not any("try: zerogate status" in line for line in printed):
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, f"serve ended early: {printed}"
                printed.append(line)
            server = Server(f"http://127.0.0.1:{port}", printed)
            while httpx.get(f"{server.url}/readyz", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "never ready"
                time.sleep(0.05)
            yield server
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert code == 0, (tmp_path / f"serve-{port}.log").read_text()


def test_the_cli_drives_a_server(tmp_path: Path) -> None:
    (tmp_path / "many.jsonl").write_text(
        "".join(json.dumps({"template": "document_analysis",
                            "params": {"doc": d, "words": 20, "rounds": 10}}) + "\n"
                for d in (3, 4, 5)))
    with serving(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        key = server.first_key
        assert key is not None and key.startswith("zg_")
        env = {"ZEROGATE_URL": server.url, "ZEROGATE_API_KEY": key}
        cli = functools.partial(zerogate, cwd=tmp_path, env=env)

        def cli_as(with_key: str, *args: str) -> Callable[[], Done]:
            return functools.partial(zerogate, *args, cwd=tmp_path,
                                     env={**env, "ZEROGATE_API_KEY": with_key})

        def api(path: str, with_key: str = key) -> httpx.Response:
            return http.get(path, headers={"Authorization": f"Bearer {with_key}"})

        [done] = ok(cli("submit", "document_analysis", "-p", "doc=1", "-p", "words=200",
                        "-p", "rounds=100", "--wait"))
        assert "completed" in done and "4 tasks" in done
        wid = int(re.search(r"submitted workflow (\d+)", done).group(1))  # type: ignore[union-attr]

        # local files sent inline (text, and binary as base64), and one in the inbox
        book = openpyxl.Workbook()
        book.active.append(["Sponsor", "Email"])
        book.active.append(["Cedar Arts Trust", "not-an-address"])
        book.save(tmp_path / "book.xlsx")
        (tmp_path / "history.csv").write_text(
            "date,contact,organisation,kind,direction,amount\n"
            "2026-01-05,Dara Okafor,Cedar Arts Trust,meeting,ours,\n"
            "2026-02-10,Dara Okafor,Cedar Arts Trust,gift,theirs,5000\n")
        inbox = tmp_path / "files" / "inbox" / "default"
        inbox.mkdir(parents=True)
        (inbox / "thread.mbox").write_bytes((DATA / "emails" / "thread.mbox").read_bytes())
        # experimental features the governor may shed on a busy machine: held on here
        # (shedding itself is tested in tests/workflows/test_shedding.py)
        for feature in ("excel_processing", "email_analysis"):
            held = http.put(f"/api/features/{feature}", json={"state": "on", "for_s": 600},
                            headers={"Authorization": f"Bearer {key}"})
            assert held.status_code == 200, held.text
        excel, sponsors, mail = ok(*together(
            functools.partial(cli, "submit", "excel_processing", "-f", "source=book.xlsx",
                              "-p", 'types={"Email": "email"}', "--wait", "--json"),
            functools.partial(cli, "submit", "sponsor_analysis", "-f", "source=history.csv",
                              "--wait", "--json"),
            functools.partial(cli, "submit", "email_analysis", "-p",
                              'source={"file": "thread.mbox"}', "--wait", "--json")))
        excel_report = final(excel, "excel_report")
        assert excel_report["records"] == 1
        assert excel_report["issues_by_kind"] == {"wrong_type": 1}
        assert final(sponsors, "sponsor_report")["sponsors"][0]["organisation"] == (
            "Cedar Arts Trust")
        assert final(mail, "email_report")["totals"]["messages"] > 1

        system, one, listed, queued, bulk, made = ok(*together(
            functools.partial(cli, "status"), functools.partial(cli, "status", str(wid)),
            functools.partial(cli, "workflows", "--json"), functools.partial(cli, "queue"),
            functools.partial(cli, "bulk", "many.jsonl"),
            functools.partial(cli, "keys", "create", "--tenant", "acme", "--role", "viewer",
                              "--name", "bot")))
        assert re.search(r"status: (healthy|degraded|critical)", system)
        assert "completed, 4/4 tasks finished" in one
        assert all(step in one for step in ("generate", "words", "digest", "report"))
        assert wid in [w["id"] for w in json.loads(listed)["items"]]
        assert "open tasks" in queued
        ids = re.search(r"submitted 3 workflows \(12 tasks\): ids (\d+)-(\d+)", bulk)
        assert ids is not None and int(ids.group(2)) - int(ids.group(1)) == 2
        assert "shown only now" in made
        bot = KEY_LINE.search(made).group(1)  # type: ignore[union-attr]
        bot_id = bot[:15]  # zg_ and 12 hex digits

        forbidden, *rest = together(
            cli_as(bot, "pause"),
            functools.partial(cli, "watch", ids.group(2)),
            functools.partial(cli, "bulk", "-", "--json", stdin=json.dumps(
                [{"template": "document_analysis", "params": {"doc": 6}}])),
            functools.partial(cli, "keys", "list"),
            functools.partial(cli, "report", "--format", "json", "-o", "r.json",
                              "--hours", "1"))
        watched, from_stdin, keys, report = ok(*rest)
        assert forbidden.returncode == 2 and "may not do that" in forbidden.stdout
        assert f"workflow {ids.group(2)}" in watched and "4/4" in watched
        assert "completed" in watched
        assert json.loads(from_stdin)["tasks"] == 4
        assert bot_id in keys
        assert "wrote r.json" in report
        report_doc = json.loads((tmp_path / "r.json").read_text())
        assert report_doc["schema"] == "zerogate.report/1" and report_doc["summary"]["tasks"]
        assert api("/api/whoami", bot).json()["tenant"] == "acme"

        ok(cli("keys", "revoke", bot_id))
        as_revoked, bad, paused = together(
            cli_as(bot, "status"), cli_as("zg_000000000000_" + "A" * 43, "status"),
            functools.partial(cli, "pause"))
        for refused in (as_revoked, bad):
            assert refused.returncode == 2
            assert "the server refused the key: set ZEROGATE_API_KEY or --key" in refused.stdout
        assert "A" * 43 not in bad.stdout + bad.stderr
        assert "global paused" in ok(paused)[0]
        assert api("/api/workflows/status").json()["paused"] is True

        resumed, tenant_paused = ok(*together(functools.partial(cli, "resume"),
                                              functools.partial(cli, "pause", "--tenant")))
        assert "global resumed" in resumed and "tenant:default paused" in tenant_paused
        status = api("/api/workflows/status").json()
        assert status["paused"] is False and status["tenant_paused"] is True
        ok(cli("resume", "--tenant"))
        assert api("/api/workflows/status").json()["tenant_paused"] is False

    with serving(tmp_path) as again:  # the same store: its keys stand, none is printed
        assert again.first_key is None
        assert not any("First start" in line for line in again.printed)
        listed_again = httpx.get(f"{again.url}/api/workflows", timeout=10,
                                 headers={"Authorization": f"Bearer {key}"})
        assert len(listed_again.json()["items"]) == 8


def test_serve_refuses_a_public_address_on_a_store_without_keys(tmp_path: Path) -> None:
    refused = zerogate("serve", "--db", "zg.db", "--host", "0.0.0.0", "--port",
                       str(free_port()), "--files", "files", cwd=tmp_path)
    assert refused.returncode != 0
    assert "refusing to listen on 0.0.0.0" in refused.stdout
    assert "ZEROGATE_API_KEY=" not in refused.stdout
    assert zerogate("keys", "list", "--db", "zg.db", cwd=tmp_path).stdout.strip() == "no keys"

    made = zerogate("keys", "create", "--db", "zg.db", "--tenant", "ops", "--role", "admin",
                    "--name", "first", cwd=tmp_path)
    assert made.returncode == 0 and "shown only now" in made.stdout
    key = KEY_LINE.search(made.stdout).group(1)  # type: ignore[union-attr]
    listed = json.loads(zerogate("keys", "list", "--db", "zg.db", "--json",
                                 cwd=tmp_path).stdout)
    assert [(k["tenant"], k["role"], k["revoked_at"]) for k in listed] == [("ops", "admin",
                                                                            None)]
    assert key.startswith(listed[0]["key_id"] + "_")
    assert zerogate("keys", "revoke", listed[0]["key_id"], "--db", "zg.db",
                    cwd=tmp_path).returncode == 0
    listed = json.loads(zerogate("keys", "list", "--db", "zg.db", "--json",
                                 cwd=tmp_path).stdout)
    assert listed[0]["revoked_at"] is not None
    missing = zerogate("keys", "revoke", "zg_000000000000", "--db", "zg.db", cwd=tmp_path)
    assert missing.returncode == 2


def test_missing_keys_servers_and_bad_arguments_are_explained(tmp_path: Path) -> None:
    dead = {"ZEROGATE_API_KEY": "zg_000000000000_" + "A" * 43,
            "ZEROGATE_URL": f"http://127.0.0.1:{free_port()}"}
    run = functools.partial(zerogate, cwd=tmp_path, env=dead)
    no_key, nobody, *bad = together(
        functools.partial(zerogate, "status", cwd=tmp_path),
        functools.partial(run, "queue"),
        functools.partial(run, "submit", "t", "-p", "novalue"),
        functools.partial(run, "submit", "t", "--params", "[1]"),
        functools.partial(run, "pause", "--scope", "global"),
        functools.partial(run, "features", "--for", "5"))
    assert no_key.returncode == 2 and "no API key: set ZEROGATE_API_KEY or --key" in no_key.stdout
    assert nobody.returncode == 2 and "Is `zerogate serve` running there?" in nobody.stdout
    for done in bad:  # refused before any request: no "cannot reach" after a wait
        assert done.returncode == 2 and "error:" in done.stdout, done.args
        assert "zerogate server at" not in done.stdout, done.args
