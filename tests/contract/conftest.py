"""Store factories for the shared contract suite: every store must pass every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from zerogate.adapters.memory_store import MemoryStore
from zerogate.adapters.sqlite_store import SqliteStore
from zerogate.ports import Store

FACTORIES: dict[str, Callable[[Path], Store]] = {
    "sqlite-file": lambda tmp: SqliteStore(tmp / "contract.db"),
    "sqlite-memory": lambda tmp: SqliteStore(":memory:"),
    "memory": lambda tmp: MemoryStore(),
}


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = FACTORIES[request.param](tmp_path)
    await s.open()
    yield s
    await s.close()
