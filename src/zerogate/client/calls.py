"""Requests as data: each endpoint builds a ``Call`` (method, path, query, body) that
also says whether sending it twice is harmless, and the clients send it."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from zerogate.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Call:
    """One request as data; ``safe`` means sending it again cannot repeat an effect."""

    method: str
    path: str
    params: Mapping[str, str | int | float] = field(default_factory=dict)
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    safe: bool = False


def get(path: str, **params: str | int | float | None) -> Call:
    return Call("GET", path, {k: v for k, v in params.items() if v is not None}, safe=True)


def change(method: str, path: str, body: Any = None, *,
           idempotency_key: str | None = None) -> Call:
    if idempotency_key is None:
        return Call(method, path, body=body)
    return Call(method, path, body=body, headers={"Idempotency-Key": idempotency_key},
                safe=True)


def seg(value: int | str) -> str:
    """A path segment: ids and names are quoted so they cannot change the path."""
    return quote(str(value), safe="")


def fresh_idempotency_key() -> str:
    return f"zgc-{secrets.token_hex(16)}"


def submission(template: str, params: Mapping[str, Any] | None,
               priority: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"template": template, "params": dict(params or {})}
    if priority is not None:
        item["priority"] = priority
    return item


def bulk_item(index: int, item: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not isinstance(item.get("template"), str):
        raise InvalidInput(f"bulk item {index} must be an object with a 'template' name")
    # Other fields pass through as given: the server names an unknown one (a typo)
    # instead of the client silently dropping it.
    entry = dict(item)
    if entry.get("params") is None:
        entry["params"] = {}
    if entry.get("priority") is None:
        entry.pop("priority", None)
    return entry


def events_call(workflow_id: int | None, last_event_id: str | None) -> Call:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    call = get("/api/events", workflow_id=workflow_id)
    return Call(call.method, call.path, call.params, headers=headers, safe=True)
