"""What the server sends back, decoded alike for both clients: JSON bodies, and the
events of a text/event-stream."""

from __future__ import annotations

import json
from typing import Any

import httpx

from zerogate.client.errors import ApiError


def json_of(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(response.status_code, "bad_response", "the server answered with "
                       "something that is not JSON: is the URL a zerogate server?",
                       request_id=response.headers.get("x-request-id")) from None


def as_dict(value: Any, response: httpx.Response) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(response.status_code, "bad_response",
                       f"expected a JSON object from {response.request.url.path}")
    return value


def as_list(value: Any, response: httpx.Response) -> list[Any]:
    if not isinstance(value, list):
        raise ApiError(response.status_code, "bad_response",
                       f"expected a JSON list from {response.request.url.path}")
    return value


class SseReader:
    """Turns the lines of a text/event-stream into event dicts, by the SSE framing
    rules: fields until a blank line, ``:`` comments (keepalives) ignored."""

    def __init__(self, last_id: str | None) -> None:
        self.last_id = last_id
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> dict[str, Any] | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None

    def _dispatch(self) -> dict[str, Any] | None:
        kind, text = self._event or "message", "\n".join(self._data)
        had_data, self._event, self._data = bool(self._data), "", []
        if not had_data:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        event = value if isinstance(value, dict) else {"data": value}
        event.setdefault("kind", kind)
        event["event_id"] = self.last_id
        return event
