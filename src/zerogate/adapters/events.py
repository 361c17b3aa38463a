"""Event sinks: one that drops events, and one that records them for tests and tools."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from zerogate.domain.records import Event


class NullSink:
    """Drops every event."""

    def emit(self, event: Event) -> None:
        return None


class EventLog:
    """Keeps every event in order, and lets a coroutine wait for a matching one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def matching(self, kind: str | None = None, *, task_id: int | None = None,
                 workflow_id: int | None = None) -> list[Event]:
        return [e for e in self.events if (kind is None or e.kind == kind)
                and (task_id is None or e.task_id == task_id)
                and (workflow_id is None or e.workflow_id == workflow_id)]

    async def wait_for(self, predicate: Callable[[Event], bool], count: int = 1) -> list[Event]:
        """Wait until ``count`` recorded events match ``predicate``; return them."""
        while True:
            found = [e for e in self.events if predicate(e)]
            if len(found) >= count:
                return found
            self._changed.clear()
            await self._changed.wait()
