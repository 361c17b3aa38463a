"""A fake-clock engine over each store, with an event log to await what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from zerogate import Engine, EngineConfig, FakeClock, Limits, Registry, SqliteStore
from zerogate.adapters.events import EventLog
from zerogate.adapters.memory_store import MemoryStore
from zerogate.ports import Store

STORES: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda tmp: SqliteStore(tmp / "engine.db"),
    "memory": lambda tmp: MemoryStore(),
}


@dataclass
class Rig:
    """What an engine test needs at hand."""

    registry: Registry
    clock: FakeClock
    events: EventLog
    tmp: Path
    store_kind: str

    def engine(self, limits: Limits | None = None, store: Store | None = None,
               **config: object) -> Engine:
        # No grace by default: a failing assertion must not wait out a grace period on
        # a fake clock that nobody advances any more.
        config.setdefault("grace_s", 0.0)
        cfg = EngineConfig(limits=limits or Limits(), **config)  # type: ignore[arg-type]
        return Engine(self.registry, store or STORES[self.store_kind](self.tmp),
                      config=cfg, clock=self.clock, events=self.events, seed=7)

    async def outcome(self, kind: str, task_id: int, count: int = 1) -> None:
        await self.events.wait_for(lambda e: e.kind == kind and e.task_id == task_id, count)


@pytest.fixture(params=sorted(STORES))
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    yield Rig(Registry(), FakeClock(), EventLog(), tmp_path, request.param)
