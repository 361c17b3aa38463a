"""``AsyncClient``, the asyncio client: the endpoints over ``httpx.AsyncClient``, and
the loops that sleep or stream (``wait``, ``iter_workflows``, ``events``) awaited."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

import httpx

from zerogate.client.answers import SseReader, as_dict, as_list, json_of
from zerogate.client.calls import Call, events_call
from zerogate.client.core import FINISHED
from zerogate.client.endpoints import Endpoints
from zerogate.client.retries import poll_delay


class AsyncClient(Endpoints[Awaitable[dict[str, Any]], Awaitable[list[Any]],
                            Awaitable[bytes]]):
    """The asyncio client (over ``httpx.AsyncClient``): the same methods as ``Client``,
    awaited; ``iter_workflows`` and ``events`` are async iterators. Use it with
    ``async with`` or call ``aclose()``. Close an ``events`` iterator you leave early
    (``contextlib.aclosing``) so its connection is released at once."""

    def __init__(self, url: str | None = None, key: str | None = None, *,
                 timeout_s: float = 30.0, retries: int = 3,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url, key, timeout_s, retries)
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            settled = self._settle(call, attempt, await self._exchange(call, stream))
            if isinstance(settled, httpx.Response):
                return settled
            attempt += 1
            await asyncio.sleep(settled)

    async def _exchange(self, call: Call,
                        stream: bool) -> httpx.Response | httpx.TransportError:
        """As ``Client._exchange``, awaited."""
        try:
            response = await self._http.send(self._request(call, stream=stream),
                                             stream=True)
            try:
                if not (stream and response.is_success):
                    await response.aread()
            except BaseException:
                await response.aclose()
                raise
        except httpx.TransportError as exc:
            return exc
        return response

    async def _object(self, call: Call) -> dict[str, Any]:
        response = await self._send(call)
        return as_dict(json_of(response), response)

    async def _list(self, call: Call) -> list[Any]:
        response = await self._send(call)
        return as_list(json_of(response), response)

    async def _bytes(self, call: Call) -> bytes:
        return (await self._send(call)).content

    async def iter_workflows(self, state: str | None = None, template: str | None = None,
                             before: int | None = None, page_size: int = 50,
                             ) -> AsyncGenerator[dict[str, Any], None]:
        """Every matching workflow, newest first, a page at a time."""
        while True:
            page = await self.workflows(state, template, before, page_size)
            for item in page["items"]:
                yield item
            before = page.get("next_before")
            if before is None:
                return

    async def events(self, workflow_id: int | None = None,
                     last_event_id: str | None = None,
                     ) -> AsyncGenerator[dict[str, Any], None]:
        """As ``Client.events``, as an async iterator."""
        reader = SseReader(last_event_id)
        drops = 0
        while True:
            response = await self._send(events_call(workflow_id, reader.last_id),
                                        stream=True)
            async with contextlib.aclosing(response):
                with contextlib.suppress(httpx.TransportError):  # reconnect below
                    async for line in response.aiter_lines():
                        if (event := reader.feed(line)) is not None:
                            drops = 0
                            yield event
            drops += 1
            await asyncio.sleep(self._stream_gave_out(drops))

    async def wait(self, workflow_id: int, timeout_s: float | None = None,
                   poll_s: float = 0.5) -> dict[str, Any]:
        """As ``Client.wait``, awaited."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            workflow = await self.workflow(workflow_id)
            if workflow.get("state") in FINISHED:
                return workflow
            await asyncio.sleep(poll_delay(workflow, workflow_id, deadline, timeout_s,
                                           poll_s))
