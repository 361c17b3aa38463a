"""``Client``, the blocking client: the endpoints over ``httpx.Client``, and the loops
that sleep or stream (``wait``, ``iter_workflows``, ``events``) as plain calls."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from typing import Any

import httpx

from zerogate.client.answers import SseReader, as_dict, as_list, json_of
from zerogate.client.calls import Call, events_call
from zerogate.client.core import FINISHED
from zerogate.client.endpoints import Endpoints
from zerogate.client.retries import poll_delay


class Client(Endpoints[dict[str, Any], list[Any], bytes]):
    """The blocking client (over ``httpx.Client``); use it as a context manager or
    call ``close()``.

    ``url`` defaults to ``$ZEROGATE_URL``, else http://127.0.0.1:8765; ``key`` to
    ``$ZEROGATE_API_KEY``. ``retries`` bounds the retries of one safe request.
    """

    def __init__(self, url: str | None = None, key: str | None = None, *,
                 timeout_s: float = 30.0, retries: int = 3,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url, key, timeout_s, retries)
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            settled = self._settle(call, attempt, self._exchange(call, stream))
            if isinstance(settled, httpx.Response):
                return settled
            attempt += 1
            time.sleep(settled)

    def _exchange(self, call: Call, stream: bool) -> httpx.Response | httpx.TransportError:
        """One exchange: the response, its body read unless a stream starts, or the
        transport error that ended it."""
        try:
            response = self._http.send(self._request(call, stream=stream), stream=True)
            try:
                if not (stream and response.is_success):
                    response.read()
            except BaseException:
                response.close()
                raise
        except httpx.TransportError as exc:
            return exc
        return response

    def _object(self, call: Call) -> dict[str, Any]:
        response = self._send(call)
        return as_dict(json_of(response), response)

    def _list(self, call: Call) -> list[Any]:
        response = self._send(call)
        return as_list(json_of(response), response)

    def _bytes(self, call: Call) -> bytes:
        return self._send(call).content

    def iter_workflows(self, state: str | None = None, template: str | None = None,
                       before: int | None = None, page_size: int = 50,
                       ) -> Generator[dict[str, Any], None, None]:
        """Every matching workflow, newest first, a page at a time."""
        while True:
            page = self.workflows(state, template, before, page_size)
            yield from page["items"]
            before = page.get("next_before")
            if before is None:
                return

    def events(self, workflow_id: int | None = None,
               last_event_id: str | None = None) -> Generator[dict[str, Any], None, None]:
        """State changes of the tenant's work as they happen (one workflow's, with
        ``workflow_id``), from the server-sent event stream. Each event is its JSON
        data (``kind``, ``workflow_id``, ``task_id``, ``state``, ``at``) plus
        ``event_id``, to pass as ``last_event_id`` to resume after it. A ``reset``
        event means events were missed: re-read state. A dropped stream is resumed
        where it broke; the iterator never ends on its own."""
        reader = SseReader(last_event_id)
        drops = 0
        while True:
            response = self._send(events_call(workflow_id, reader.last_id), stream=True)
            # A transport error ends this stream only: reconnect below, from the last event.
            with contextlib.closing(response), contextlib.suppress(httpx.TransportError):
                for line in response.iter_lines():
                    if (event := reader.feed(line)) is not None:
                        drops = 0
                        yield event
            drops += 1
            time.sleep(self._stream_gave_out(drops))

    def wait(self, workflow_id: int, timeout_s: float | None = None,
             poll_s: float = 0.5) -> dict[str, Any]:
        """Poll until the workflow is completed, failed or cancelled; returns it.
        Raises TimeoutError after ``timeout_s`` (None: wait as long as it takes)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            workflow = self.workflow(workflow_id)
            if workflow.get("state") in FINISHED:
                return workflow
            time.sleep(poll_delay(workflow, workflow_id, deadline, timeout_s, poll_s))
