"""The server-sent event stream of state changes, one tenant at a time.

The hub is the engine's EventSink. ``emit`` runs on the engine's hot path, so it only
numbers the event, keeps it in a ring (for ``Last-Event-ID`` resumption) and puts it
on each subscriber's bounded queue. Each subscriber filters for its own tenant:
a workflow's tenant is learnt at submission through this server, or read once from
the store and cached. Events without a workflow (load level, feature and alert
changes) are installation-wide and go to admin keys only.

A subscriber that falls more than ``queue_size`` events behind gets a ``reset`` event
and is dropped back to live events: it must re-read state (a slow reader can never
make the engine wait or the server's memory grow).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from zerogate.api.keys import Principal, Role
from zerogate.domain.records import Event
from zerogate.errors import NotFound
from zerogate.ports import EventSink

KEEPALIVE_S = 15.0


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[tuple[int, Event] | None]
    overflowed: bool = False


class EventHub:
    def __init__(self, read_tenant: Callable[[int], Awaitable[str]], *, ring: int = 10_000,
                 queue_size: int = 4096, cache_size: int = 100_000,
                 forward: EventSink | None = None) -> None:
        self.read_tenant = read_tenant
        self.queue_size = queue_size
        self.cache_size = cache_size
        self.forward = forward
        self._seq = 0
        self._ring: deque[tuple[int, Event]] = deque(maxlen=ring)
        self._subscribers: set[_Subscriber] = set()
        self._tenants: OrderedDict[int, str] = OrderedDict()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def emit(self, event: Event) -> None:
        self._seq += 1
        item = (self._seq, event)
        self._ring.append(item)
        for sub in self._subscribers:
            if sub.overflowed:
                continue
            try:
                sub.queue.put_nowait(item)
            except asyncio.QueueFull:
                sub.overflowed = True
                sub.queue.get_nowait()  # make room for the wake-up that says "reset"
                sub.queue.put_nowait(None)
        if self.forward is not None:
            self.forward.emit(event)

    def remember(self, workflow_id: int, tenant: str) -> None:
        """Note a workflow's tenant (at submission) so its events need no store read."""
        self._tenants[workflow_id] = tenant
        if len(self._tenants) > self.cache_size:
            self._tenants.popitem(last=False)

    async def tenant_of(self, workflow_id: int) -> str | None:
        tenant = self._tenants.get(workflow_id)
        if tenant is None:
            try:
                tenant = await self.read_tenant(workflow_id)
            except NotFound:
                return None
            self.remember(workflow_id, tenant)
        return tenant

    async def stream(self, who: Principal, *, last_id: int | None = None,
                     workflow_id: int | None = None,
                     keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[str]:
        """Yield SSE frames for ``who``'s tenant until the client goes away."""
        sub = _Subscriber(asyncio.Queue(maxsize=self.queue_size))
        self._subscribers.add(sub)
        try:
            yield f"retry: 2000\n: connected as tenant {who.tenant}\n\n"
            if last_id is not None:
                for missed in [i for i in self._ring if i[0] > last_id]:
                    frame = await self._frame(who, missed, workflow_id)
                    if frame:
                        yield frame
            while True:
                try:
                    item: tuple[int, Event] | None = await asyncio.wait_for(
                        sub.queue.get(), keepalive_s)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if item is None:
                    yield (f"id: {self._seq}\nevent: reset\ndata: "
                           '{"reason": "the reader fell behind; re-read state"}\n\n')
                    sub.overflowed = False
                    continue
                frame = await self._frame(who, item, workflow_id)
                if frame:
                    yield frame
        finally:
            self._subscribers.discard(sub)

    async def _frame(self, who: Principal, item: tuple[int, Event],
                     workflow_id: int | None) -> str | None:
        seq, e = item
        if workflow_id is not None and e.workflow_id != workflow_id:
            return None
        if e.workflow_id is None:
            if who.role < Role.ADMIN or workflow_id is not None:
                return None
        elif await self.tenant_of(e.workflow_id) != who.tenant:
            return None
        data = json.dumps({"kind": e.kind, "workflow_id": e.workflow_id,
                           "task_id": e.task_id, "state": e.state, "at": e.at})
        return f"id: {seq}\nevent: {e.kind}\ndata: {data}\n\n"
