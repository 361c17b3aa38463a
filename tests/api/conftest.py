"""A real server for API tests: SQLite store, the engine, uvicorn on a loopback port,
and keys of every role for two tenants. Requests go over real HTTP (httpx)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest

from zerogate import Engine, EngineConfig, Limits, Registry, SqliteStore, Workflow
from zerogate.api.app import Api, ApiSettings
from zerogate.api.keys import new_key
from zerogate.api.server import ApiServer, bind_socket, build
from zerogate.domain.retry import RetryPolicy
from zerogate.workflows.examples import FanParams, add_examples, fan_out, one_task

ROLES = ("viewer", "operator", "admin")
TENANTS = ("acme", "globex")


class SleepParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    seconds: float = pydantic.Field(ge=0, le=60)


class FailParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    marker: str = pydantic.Field(min_length=1, max_length=300)


def make_registry(flaky_dir: Path) -> Registry:
    reg = add_examples(Registry())  # greet and fan
    reg.feature("extras", "experimental")

    @reg.task
    async def nap(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    @reg.task(retry=RetryPolicy(max_attempts=1))
    async def fails_once(marker: str) -> str:
        """Fails until a file named ``marker`` exists (tests create it to let it pass)."""
        if not (flaky_dir / marker).exists():
            raise RuntimeError(f"no file {marker} yet")
        return "passed"

    @reg.task
    async def after(x: int = 0) -> int:
        return x

    @reg.task(feature="extras")
    async def extra(x: int = 0) -> int:
        return x

    @reg.template(params=SleepParams, description="One task that sleeps")
    def sleep(p: SleepParams) -> Workflow:
        return one_task("sleep", nap, {"seconds": p.seconds})

    @reg.template(params=FanParams, description="Optional work the governor may shed")
    def optional(p: FanParams) -> Workflow:
        return fan_out("optional", extra, p.n, arg="x")

    @reg.template(params=FailParams, description="A task that fails until told not to, "
                  "then a dependent step")
    def flaky(p: FailParams) -> Workflow:
        wf = Workflow("flaky", failure_policy="skip")
        first = wf.add(fails_once, {"marker": p.marker})
        wf.add(after, {"x": 1}, after=[first])
        return wf

    return reg


@dataclass
class Served:
    server: ApiServer
    api: Api
    keys: dict[tuple[str, str], str]
    flaky_dir: Path
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, tenant: str = "acme", role: str = "admin", **kw: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[(tenant, role)]}"}
        c = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **kw)
        self.clients.append(c)
        return c

    def anonymous(self) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=self.url, timeout=30)
        self.clients.append(c)
        return c

    async def wait_state(self, client: httpx.AsyncClient, workflow_id: int,
                         states: tuple[str, ...] = ("completed", "failed", "cancelled"),
                         timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            r = await client.get(f"/api/workflows/{workflow_id}")
            assert r.status_code == 200, r.text
            if r.json()["state"] in states:
                return dict(r.json())
            assert time.monotonic() < deadline, f"workflow still {r.json()['state']}"
            await asyncio.sleep(0.02)


ServeFactory = Callable[..., Any]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeFactory]:
    """``await serve(settings=..., limits=..., **engine_config)`` starts a server."""
    started: list[Served] = []

    async def start(settings: ApiSettings | None = None, limits: Limits | None = None,
                    store: Any = None, sampler: Any = None, **config: Any) -> Served:
        flaky = tmp_path / "flaky"
        flaky.mkdir(exist_ok=True)
        registry = make_registry(flaky)
        settings = settings or ApiSettings()
        cfg = EngineConfig(limits=settings.quotas.apply(limits or Limits()), grace_s=1.0,
                           poll_s=0.05, **config)
        store = store or SqliteStore(tmp_path / f"api-{len(started)}.db")
        api = build(lambda hub: Engine(registry, store, config=cfg, events=hub,
                                       sampler=sampler), settings)
        server = ApiServer(api, bind_socket("127.0.0.1", 0), grace_s=1.0)
        await server.start()
        keys = {}
        for tenant in TENANTS:
            for role in ROLES:
                key, record = new_key(tenant=tenant, role=role, name=f"{tenant}-{role}",
                                      now=time.time())
                await api.engine.store.save_key(record)
                keys[(tenant, role)] = key
        served = Served(server, api, keys, flaky)
        started.append(served)
        return served

    yield start
    for s in started:
        for c in s.clients:
            await c.aclose()
        await s.server.stop()


@pytest.fixture
async def served(serve: ServeFactory) -> Served:
    result: Served = await serve()
    return result
