"""Run a built-in template for real: an engine on SQLite, real files, real processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zerogate import Engine, EngineConfig, Limits, Registry, SqliteStore
from zerogate.domain.model import JSON
from zerogate.runtime.handle import WorkflowStatus

AddFn = Callable[[Registry, Path], Any]


@dataclass
class TemplateRig:
    """An engine running one module's templates; ``files`` is their files root."""

    engine: Engine
    files: Path

    async def run(self, template: str, params: Mapping[str, Any], *,
                  tenant: str = "default") -> dict[str, JSON]:
        """Submit, wait, and return the results by task id (WorkflowFailed if it failed)."""
        handle = await self.engine.submit_template(template, params, tenant=tenant)
        return await handle.result(timeout_s=120)

    async def outcome(self, template: str, params: Mapping[str, Any], *,
                      tenant: str = "default") -> WorkflowStatus:
        """Submit and wait, whatever the outcome."""
        handle = await self.engine.submit_template(template, params, tenant=tenant)
        return await handle.wait(timeout_s=120)

    def inbox(self, tenant: str = "default") -> Path:
        folder = self.files / "inbox" / tenant
        folder.mkdir(parents=True, exist_ok=True)
        return folder


@pytest.fixture
def template_rig(tmp_path: Path) -> Callable[[AddFn], Any]:
    """``async with template_rig(add_emails) as rig:``: an engine whose registry holds
    what ``add_emails(registry, files_root)`` registers."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def start(add: AddFn) -> AsyncIterator[TemplateRig]:
        files = tmp_path / "files"
        registry = Registry()
        add(registry, files)
        config = EngineConfig(limits=Limits(max_running=8), process_workers=2, grace_s=1.0)
        async with Engine(registry, SqliteStore(tmp_path / "templates.db"),
                          config=config) as engine:
            yield TemplateRig(engine, files)

    return start
