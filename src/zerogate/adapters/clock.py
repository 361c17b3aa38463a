"""Clocks: the system's, and a fake one that tests move by hand."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any


class SystemClock:
    """The real clock: wall time for records, monotonic time for durations."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_event(self, event: asyncio.Event, timeout_s: float | None) -> bool:
        if event.is_set():
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(seconds)


class FakeClock:
    """A clock that stands still until ``advance`` moves it.

    Sleeps, event waits and timeouts registered with it fire when ``advance``
    passes their deadline, so time-based tests take no real time.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing every deadline passed, then let woken tasks run."""
        self._now += seconds
        while self._timers and self._timers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._timers)
            if not fut.done():
                fut.set_result(None)
        for _ in range(5):  # a few loop turns: woken tasks may wake others in turn
            await asyncio.sleep(0)

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if seconds <= 0:
            fut.set_result(None)  # already due: never wait for an advance that may not come
        else:
            heapq.heappush(self._timers, (self._now + seconds, next(self._seq), fut))
        return fut

    async def sleep(self, seconds: float) -> None:
        await self._timer(max(seconds, 0.0))

    async def wait_event(self, event: asyncio.Event, timeout_s: float | None) -> bool:
        if event.is_set():
            return True
        waiter: asyncio.Future[object] = asyncio.ensure_future(event.wait())
        pending: set[asyncio.Future[Any]] = {waiter}
        timer = None if timeout_s is None else self._timer(timeout_s)
        if timer is not None:
            pending.add(timer)
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if timer is not None:
                timer.cancel()
        return event.is_set()

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        return self._timeout(seconds)

    @asynccontextmanager
    async def _timeout(self, seconds: float | None) -> AsyncIterator[object]:
        async with asyncio.timeout(None) as scope:
            if seconds is not None:
                timer = self._timer(seconds)
                loop = asyncio.get_running_loop()
                # When fake time passes the deadline, expire the real scope at once.
                timer.add_done_callback(
                    lambda f: None if f.cancelled() else scope.reschedule(loop.time())
                )
            try:
                yield scope
            finally:
                if seconds is not None:
                    timer.cancel()
