"""The load generator of ``bench.api``, run in its own process: ``python -m bench.api_load``.

It must not share the server's process: a generator in the same interpreter would
compete for its GIL and event loop, and its latency would include the server's pauses
twice. The parent writes one JSON plan per line on stdin; the generator answers each
with one line ``RESULT {json}`` on stdout, and stops at end of input.

Plans (``kind``):

- ``open``: an open-loop stream. Request ``i`` is due at ``t0 + i / rate``, whatever
  happened to the earlier ones, so a slow server makes requests overlap and queue
  instead of slowing the generator down (a closed loop hides queueing: it only sends
  when the previous answer is back). Latency is measured from the due time, so time a
  request spent waiting for the generator itself (``lag``) counts against it too; the
  lag is returned so a late generator can be told from a slow server. Each request
  goes out on an idle keep-alive connection, and a new one is opened when none is idle
  (see ``Lanes``). Requests due within ``warmup_s`` are sent but marked, for the parent
  to leave out.
  ``start_at`` (wall clock) lets two generators start together.
- ``bulk``: one request per ``bodies`` entry, one after the other, each timed on the
  client from encoding the JSON body to the decoded JSON answer.
- ``closed``: ``concurrency`` loops sending as fast as answers come, for
  ``duration_s``: what this process can produce at most against that path.

``LoadProcess`` is the parent's handle on one generator.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx

RESULT = "RESULT "
TIMEOUT_S = 30.0
WARM_LANES = 8  # connections opened before the clock starts


class Lanes:
    """Keep-alive connections, one httpx client each, handed to one request at a time.

    One shared ``httpx.AsyncClient`` with many connections costs the generator time
    quadratic in the connections open (on every request start and end, httpcore 1.0's
    pool counts all its connections once for each of them): once a slow second makes
    requests overlap, the generator itself falls behind and the queueing it reports is
    its own.
    A client per connection keeps each request's cost constant. The clients share one
    SSL context: building one per client costs ~0.1 s.
    """

    def __init__(self, plan: dict[str, Any]) -> None:
        self.url = plan["url"]
        self.headers = {"Authorization": f"Bearer {plan['key']}"} if plan.get("key") else {}
        self.ssl = ssl.create_default_context()
        self.idle: list[httpx.AsyncClient] = []
        self.opened: list[httpx.AsyncClient] = []

    def take(self) -> httpx.AsyncClient:
        if self.idle:
            return self.idle.pop()
        http = httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=TIMEOUT_S,
                                 verify=self.ssl, limits=httpx.Limits(
                                     max_connections=1, max_keepalive_connections=1))
        self.opened.append(http)
        return http

    def give(self, http: httpx.AsyncClient) -> None:
        self.idle.append(http)

    async def warm(self, n: int) -> None:
        """Open ``n`` connections (and let httpx do its lazy imports) before timing."""
        clients = [self.take() for _ in range(n)]
        for http in clients:
            await http.get("/healthz")
        self.idle.extend(clients)

    async def close(self) -> None:
        await asyncio.gather(*(http.aclose() for http in self.opened))


def request_args(plan: dict[str, Any]) -> dict[str, Any]:
    """The method and a body encoded once (the same body every time: the generator's
    own cost per request should stay small and constant)."""
    args: dict[str, Any] = {"method": plan.get("method", "GET")}
    if plan.get("body") is not None:
        args["content"] = json.dumps(plan["body"]).encode()
        args["headers"] = {"Content-Type": "application/json"}
    return args


async def wait_until(wall: float | None) -> None:
    if wall is not None:
        await asyncio.sleep(max(0.0, wall - time.time()))


async def open_loop(plan: dict[str, Any]) -> dict[str, Any]:
    rate, paths = float(plan["rate"]), list(plan["paths"])
    warmup_s, duration_s = float(plan.get("warmup_s", 0.0)), float(plan["duration_s"])
    total = round((warmup_s + duration_s) * rate)
    args = request_args(plan)
    rows: list[list[float]] = []
    lanes = Lanes(plan)
    try:
        await lanes.warm(int(plan.get("lanes", WARM_LANES)))
        await wait_until(plan.get("start_at"))
        cpu, t0 = time.process_time(), time.perf_counter()

        async def one(i: int, due: float) -> None:
            began = time.perf_counter()
            http = lanes.take()
            try:
                r = await http.request(url=paths[i % len(paths)], **args)
                status, retry = r.status_code, int("retry-after" in r.headers)
            except httpx.HTTPError:
                status, retry = 0, 0  # a transport error or timeout: counted, never dropped
            ended = time.perf_counter()
            lanes.give(http)
            rows.append([round(due - t0, 6), round(1000 * (ended - due), 3), status, retry,
                         round(1000 * (began - due), 3)])

        tasks = []
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        last_send = time.perf_counter() - t0
        await asyncio.gather(*tasks)
        cpu = time.process_time() - cpu
    finally:
        await lanes.close()
    rows.sort()
    return {"rows": rows, "warmup_s": warmup_s, "rate": rate, "duration_s": duration_s,
            "sent": total, "send_window_s": round(last_send, 4), "cpu_s": round(cpu, 3),
            "connections": len(lanes.opened)}


async def bulk(plan: dict[str, Any]) -> dict[str, Any]:
    out = []
    lanes = Lanes(plan)
    await lanes.warm(1)
    http = lanes.take()
    try:
        for body in plan["bodies"]:
            began = time.perf_counter()
            content = json.dumps(body).encode()
            encoded = time.perf_counter()
            r = await http.post(plan["path"], content=content,
                                headers={"Content-Type": "application/json"})
            answered = time.perf_counter()
            answer = r.json()
            ended = time.perf_counter()
            out.append({"status": r.status_code, "seconds": ended - began,
                        "encode_s": encoded - began, "decode_s": ended - answered,
                        "request_bytes": len(content), "response_bytes": len(r.content),
                        "tasks": tasks_in(answer)})
    finally:
        await lanes.close()
    return {"runs": out}


def tasks_in(answer: Any) -> int | None:
    """Tasks the server says it stored: a bulk answer counts them, a single submission
    maps each task's local id to its id."""
    if not isinstance(answer, dict):
        return None
    tasks = answer.get("tasks")
    return len(tasks) if isinstance(tasks, dict) else tasks if isinstance(tasks, int) else None


async def closed_loop(plan: dict[str, Any]) -> dict[str, Any]:
    args = request_args(plan)
    path, duration_s = plan["paths"][0], float(plan["duration_s"])
    counts: dict[int, int] = {}
    concurrency = int(plan.get("concurrency", 16))
    lanes = Lanes(plan)
    try:
        await lanes.warm(concurrency)
        t0 = time.perf_counter()
        end = t0 + duration_s

        async def loop() -> None:
            http = lanes.take()
            while time.perf_counter() < end:
                r = await http.request(url=path, **args)
                counts[r.status_code] = counts.get(r.status_code, 0) + 1

        cpu = time.process_time()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu
    finally:
        await lanes.close()
    done = sum(counts.values())
    return {"requests": done, "seconds": elapsed, "per_s": done / elapsed,
            "cpu_s": round(cpu, 3), "statuses": {str(k): v for k, v in counts.items()}}


KINDS = {"open": open_loop, "bulk": bulk, "closed": closed_loop}


async def serve() -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        plan = json.loads(line)
        result = await KINDS[plan["kind"]](plan)
        sys.stdout.write(RESULT + json.dumps(result) + "\n")
        sys.stdout.flush()


class LoadProcess:
    """A generator process, driven from the parent's event loop (which also runs the
    server: every wait here is a non-blocking read of the pipe)."""

    def __init__(self, proc: asyncio.subprocess.Process, errors: IO[bytes]) -> None:
        self.proc = proc
        self.errors = errors

    @classmethod
    async def start(cls, cwd: Path) -> LoadProcess:
        errors = tempfile.TemporaryFile()  # noqa: SIM115 (kept open; close() closes it)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.api_load", cwd=cwd, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=errors, limit=2**26)
        return cls(proc, errors)

    async def run(self, plan: dict[str, Any], timeout_s: float = 600.0) -> dict[str, Any]:
        """Send one plan and wait for its result."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(plan) + "\n").encode())
        await self.proc.stdin.drain()
        async with asyncio.timeout(timeout_s):
            while line := (await self.proc.stdout.readline()).decode():
                if line.startswith(RESULT):
                    result: dict[str, Any] = json.loads(line[len(RESULT):])
                    return result
        self.errors.seek(0)
        tail = self.errors.read().decode(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError("the load generator stopped: " + (" | ".join(tail) or "no output"))

    async def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self.errors.close()


if __name__ == "__main__":
    asyncio.run(serve())
