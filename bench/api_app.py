"""The server under test in ``bench.api``: a small registry and a real ``ApiServer``.

Defined here rather than imported from ``tests/`` so the benchmark does not depend on
test fixtures. The server is wired as ``zerogate serve`` wires it (``build``, the
tenants' running quotas applied to the scheduler's limits, telemetry on), on a SQLite
store in a folder the caller owns, listening on an ephemeral loopback port. The
resource governor is off by default: its sampler and admission bands react to the
machine's load, which here includes the load generator, and would make runs less
comparable; ``governor=True`` turns it on as ``zerogate serve`` does.

The listening socket comes from ``zerogate.api.server.bind_socket``, as in ``zerogate
serve`` (it is marked TCP so that accepted connections get TCP_NODELAY; this benchmark
found the ~40 ms delayed-ACK stall that a socket of protocol 0 causes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from zerogate import Engine, EngineConfig, Limits, Registry, SqliteStore
from zerogate.api.app import Api, ApiSettings
from zerogate.api.keys import new_key
from zerogate.api.server import ApiServer, bind_socket, build
from zerogate.runtime.governor import GovernorConfig
from zerogate.workflows.examples import add_examples

MAX_RUNNING = 64  # ``zerogate serve --max-running``'s default


def make_registry() -> Registry:
    """``greet``: one task; ``fan``: ``n`` independent no-op tasks (one workflow)."""
    return add_examples(Registry())


@dataclass
class Server:
    """A started server and the keys the load generator presents, by (tenant, role)."""

    server: ApiServer
    api: Api
    keys: dict[tuple[str, str], str]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def engine(self) -> Engine:
        return self.api.engine

    async def stop(self) -> None:
        await self.server.stop()


async def start(folder: Path, settings: ApiSettings, keys: list[tuple[str, str]], *,
                governor: bool = False) -> Server:
    """A running server on ``folder/zerogate.db`` with a key per (tenant, role)."""
    registry = make_registry()
    config = EngineConfig(limits=settings.quotas.apply(Limits(max_running=MAX_RUNNING)),
                          grace_s=1.0, governor=GovernorConfig() if governor else None)
    store = SqliteStore(folder / "zerogate.db")
    api = build(lambda hub: Engine(registry, store, config=config, events=hub), settings)
    server = ApiServer(api, bind_socket("127.0.0.1", 0), grace_s=1.0)
    await server.start()
    made = {}
    for tenant, role in keys:
        key, record = new_key(tenant=tenant, role=role, name=f"bench {tenant} {role}",
                              now=time.time())
        await store.save_key(record)
        made[(tenant, role)] = key
    return Server(server, api, made)
