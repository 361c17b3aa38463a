"""A Python client for the zerogate HTTP API: ``Client`` (sync) and ``AsyncClient``.

>>> with Client() as zg:  # ZEROGATE_URL and ZEROGATE_API_KEY from the environment
...     run = zg.submit("document_analysis", {"doc": 1})
...     print(zg.wait(run["id"])["state"])

Every endpoint is written once, in ``_Endpoints``, as a ``_Call``: a description of
the request (method, path, query, body) that also says whether sending it twice is
harmless. Each class turns a call into an HTTP exchange in its one ``_send``, and the
same functions decode answers and errors for both, so the two clients cannot drift
apart. Only loops that sleep or stream (``wait``, ``iter_workflows``, ``events``) exist
once per class, because waiting is either blocking or awaited.

Retrying is deliberately narrow. A 429 or 503 answer, or a connection that failed,
is retried (honouring Retry-After, capped at ``MAX_RETRY_AFTER_S``) only when a second
copy of the request cannot do anything the first did not: reads, and submissions,
which always carry an Idempotency-Key (the caller's, or one the client makes up once
per call), so a retried submission returns the first run instead of starting another.
Every other POST, PUT and DELETE is sent exactly once.

The API key is a bearer secret: it is added to each request as it is built and is
never part of the client's repr, an exception's message, or an exception's state.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from zerogate.errors import InvalidConfig, InvalidInput, ZerogateError

__all__ = [
    "DEFAULT_URL",
    "FINISHED",
    "KEY_ENV",
    "MAX_RETRY_AFTER_S",
    "URL_ENV",
    "ApiError",
    "AsyncClient",
    "Client",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NotFoundError",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
]

DEFAULT_URL = "http://127.0.0.1:8765"
URL_ENV = "ZEROGATE_URL"
KEY_ENV = "ZEROGATE_API_KEY"
MAX_RETRY_AFTER_S = 30.0
FINISHED = frozenset({"completed", "failed", "cancelled"})
# The server sends a keepalive comment every 15 s; a stream's reads may wait that long.
_STREAM_READ_S = 60.0
_USER_AGENT = "zerogate-client/1"


# ---------------------------------------------------------------- errors


class ApiError(ZerogateError):
    """The server refused a request, or could not be reached.

    ``status`` is the HTTP status (None when no answer came back), ``code`` the
    machine-readable reason from the error body, ``request_id`` the id the server
    logged the request under (quote it when reporting a problem), ``retry_after_s``
    the server's Retry-After in seconds, and ``details`` the per-field problems of
    a 422. None of them ever holds the API key.
    """

    def __init__(self, status: int | None, code: str, message: str, *,
                 request_id: str | None = None, retry_after_s: float | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after_s = retry_after_s
        self.details = details

    def __str__(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        rid = f", request {self.request_id}" if self.request_id else ""
        return f"{self.message} ({answer}, {self.code}{rid})"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
                f"message={self.message!r}, request_id={self.request_id!r})")


class Unauthorized(ApiError):
    """401: no key, or a key the server does not accept (unknown, revoked, expired)."""


class Forbidden(ApiError):
    """403: the key's role may not do this (or a cross-origin change was refused)."""


class NotFoundError(ApiError):
    """404: no such record, or it belongs to another tenant."""


class Conflict(ApiError):
    """409: the state forbids it (retrying a completed workflow, a reused
    Idempotency-Key with another template, the governor is off ...)."""


class InvalidRequest(ApiError):
    """413 or 422: the request was malformed or too big; nothing was stored."""


class RateLimited(ApiError):
    """429: a quota of the key's tenant; ``retry_after_s`` says when to try again."""


class Unavailable(ApiError):
    """503, or no answer at all: the server is overloaded, stopping, or unreachable."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFoundError, 409: Conflict,
    413: InvalidRequest, 422: InvalidRequest, 429: RateLimited, 503: Unavailable,
}


# ---------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class _Call:
    """One request as data; ``safe`` means sending it again cannot repeat an effect."""

    method: str
    path: str
    params: Mapping[str, str | int | float] = field(default_factory=dict)
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    safe: bool = False


def _get(path: str, **params: str | int | float | None) -> _Call:
    return _Call("GET", path, {k: v for k, v in params.items() if v is not None}, safe=True)


def _change(method: str, path: str, body: Any = None, *,
            idempotency_key: str | None = None) -> _Call:
    if idempotency_key is None:
        return _Call(method, path, body=body)
    return _Call(method, path, body=body, headers={"Idempotency-Key": idempotency_key},
                 safe=True)


def _seg(value: int | str) -> str:
    """A path segment: ids and names are quoted so they cannot change the path."""
    return quote(str(value), safe="")


def _fresh_idempotency_key() -> str:
    return f"zgc-{secrets.token_hex(16)}"


def _submission(template: str, params: Mapping[str, Any] | None,
                priority: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"template": template, "params": dict(params or {})}
    if priority is not None:
        item["priority"] = priority
    return item


def _bulk_item(index: int, item: Mapping[str, Any]) -> dict[str, Any]:
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


def _events_call(workflow_id: int | None, last_event_id: str | None) -> _Call:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    call = _get("/api/events", workflow_id=workflow_id)
    return _Call(call.method, call.path, call.params, headers=headers, safe=True)


# ---------------------------------------------------------------- answers


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either form the header may take."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _json_of(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(response.status_code, "bad_response", "the server answered with "
                       "something that is not JSON: is the URL a zerogate server?",
                       request_id=response.headers.get("x-request-id")) from None


def _as_dict(value: Any, response: httpx.Response) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(response.status_code, "bad_response",
                       f"expected a JSON object from {response.request.url.path}")
    return value


def _as_list(value: Any, response: httpx.Response) -> list[Any]:
    if not isinstance(value, list):
        raise ApiError(response.status_code, "bad_response",
                       f"expected a JSON list from {response.request.url.path}")
    return value


def _backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (0-based) when the server gave no Retry-After:
    doubling, with jitter so many clients do not come back in step."""
    return min(0.25 * 2.0 ** min(attempt, 10), MAX_RETRY_AFTER_S) * (0.5 + random.random() / 2)


def _poll_delay(workflow: dict[str, Any], workflow_id: int, deadline: float | None,
                timeout_s: float | None, poll_s: float) -> float:
    if deadline is None:
        return poll_s
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"workflow {workflow_id} is still {workflow.get('state')} "
                           f"after {timeout_s:g} s")
    return min(poll_s, left)


class _SseReader:
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


# ---------------------------------------------------------------- shared core


class _Core:
    """Configuration, request building, error decoding and the retry rule."""

    def __init__(self, url: str | None, key: str | None, timeout_s: float,
                 retries: int) -> None:
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise InvalidConfig(f"the server URL must start with http:// or https://, "
                                f"got {self.url!r}")
        key = key if key is not None else os.environ.get(KEY_ENV)
        if key and not (key.isascii() and key.isprintable() and " " not in key):
            # Checked here so that httpx never fails on it with the key in its message.
            raise InvalidConfig("the API key has characters an API key never has")
        self._key = key or None
        if not timeout_s > 0:
            raise InvalidConfig("timeout_s must be positive")
        if retries < 0:
            raise InvalidConfig("retries must be 0 or more")
        self.timeout_s = timeout_s
        self.retries = retries

    @property
    def has_key(self) -> bool:
        """Whether requests carry an API key (the key itself is not readable here)."""
        return self._key is not None

    @property
    def key_id(self) -> str | None:
        """The key's public id (``zg_`` and 12 hex digits), or None."""
        if self._key is None:
            return None
        head, sep, _ = self._key[3:].partition("_")
        return f"zg_{head}" if self._key.startswith("zg_") and sep and len(head) == 12 else None

    def __repr__(self) -> str:
        key = "None" if self._key is None else repr(f"{self.key_id or 'zg'}_…")
        return f"{type(self).__name__}(url={self.url!r}, key={key})"

    def _request(self, call: _Call, *, stream: bool = False) -> httpx.Request:
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT, **call.headers}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
        read = max(self.timeout_s, _STREAM_READ_S) if stream else self.timeout_s
        timeout = httpx.Timeout(self.timeout_s, read=read)
        return httpx.Request(call.method, self.url + call.path, params=dict(call.params),
                             json=call.body, headers=headers,
                             extensions={"timeout": timeout.as_dict()})

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _failure(self, response: httpx.Response) -> ApiError:
        """The exception for an error answer (its body already read)."""
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        reason = body.get("reason") if isinstance(body, dict) else None
        message = str(err.get("message") or reason or response.reason_phrase
                      or f"HTTP {response.status_code}")
        details = err.get("details")
        cls = _BY_STATUS.get(response.status_code, ApiError)
        return cls(response.status_code, str(err.get("code") or "http_error"),
                   self._redact(message),
                   request_id=str(err.get("request_id") or response.headers.get("x-request-id")
                                  or "") or None,
                   retry_after_s=_retry_after(response.headers.get("retry-after")),
                   details=details if isinstance(details, list) else None)

    def _unreachable(self, exc: httpx.TransportError, call: _Call) -> Unavailable:
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        message = f"the request to the zerogate server at {self.url} {what}"
        detail = self._redact(str(exc))
        if detail:
            message += f" ({detail})"
        if not call.safe and not isinstance(exc, httpx.ConnectError):
            message += "; it may have been carried out: check before repeating it"
        error = Unavailable(None, "unreachable", message)
        error.__cause__ = exc
        return error

    def _delay(self, call: _Call, attempt: int, error: ApiError) -> float | None:
        """Seconds to wait before sending ``call`` again, or None to give up."""
        if not call.safe or attempt >= self.retries:
            return None
        if not isinstance(error, RateLimited | Unavailable):
            return None
        if error.retry_after_s is not None:
            return min(error.retry_after_s, MAX_RETRY_AFTER_S)
        return _backoff(attempt)

    def _stream_gave_out(self, drops: int) -> float:
        """Seconds before reconnecting an event stream that ended ``drops`` times in a
        row without an event; raises once that passes ``retries``."""
        if drops > self.retries:
            raise Unavailable(None, "stream_ended", f"the event stream from {self.url} "
                              f"ended {drops} times in a row")
        return _backoff(drops - 1)


D = TypeVar("D")  # what a call answering a JSON object returns
L = TypeVar("L")  # ... a JSON list
B = TypeVar("B")  # ... bytes


class _Endpoints(_Core, Generic[D, L, B]):
    """Every endpoint, once. ``D``, ``L`` and ``B`` are the plain types for ``Client``
    and awaitables of them for ``AsyncClient``."""

    def _object(self, call: _Call) -> D:
        raise NotImplementedError

    def _list(self, call: _Call) -> L:
        raise NotImplementedError

    def _bytes(self, call: _Call) -> B:
        raise NotImplementedError

    # work

    def whoami(self) -> D:
        """The calling key: ``key_id``, ``tenant`` and ``role``."""
        return self._object(_get("/api/whoami"))

    def submit(self, template: str, params: Mapping[str, Any] | None = None, *,
               priority: str | None = None, idempotency_key: str | None = None) -> D:
        """Start a workflow from a registered template: ``{id, template, tasks, created}``.

        Without ``idempotency_key`` the client makes one up for this call, so its own
        retries can never start a second run; pass yours to make repeats across calls
        (or processes) return the first run too (``created`` is then false).
        """
        return self._object(_change("POST", "/api/workflows/submit",
                                    _submission(template, params, priority),
                                    idempotency_key=idempotency_key
                                    or _fresh_idempotency_key()))

    def submit_bulk(self, items: Iterable[Mapping[str, Any]], *,
                    idempotency_key: str | None = None) -> D:
        """Start many workflows in one transaction (all or none):
        ``{workflows: [...], tasks}``. Items are ``{template, params, priority?}``."""
        body = {"workflows": [_bulk_item(i, item) for i, item in enumerate(items)]}
        return self._object(_change("POST", "/api/workflows/submit/bulk", body,
                                    idempotency_key=idempotency_key
                                    or _fresh_idempotency_key()))

    def workflow(self, workflow_id: int) -> D:
        return self._object(_get(f"/api/workflows/{_seg(workflow_id)}"))

    def status(self, workflow_id: int) -> D:
        """The workflow, counts of its tasks by state, its progress, and each task with
        the reason it waits."""
        return self._object(_get(f"/api/workflows/status/{_seg(workflow_id)}"))

    def system_status(self) -> D:
        """Health as the key may see it (admins get the full detail)."""
        return self._object(_get("/api/workflows/status"))

    def workflows(self, state: str | None = None, template: str | None = None,
                  before: int | None = None, limit: int = 50) -> D:
        """One page of the tenant's workflows, newest first: ``{items, next_before}``."""
        return self._object(_get("/api/workflows", state=state, template=template,
                                 before=before, limit=limit))

    def tasks(self, workflow_id: int | None = None, state: str | None = None,
              name: str | None = None, before: int | None = None, limit: int = 50) -> D:
        """One page of the tenant's tasks, newest first: ``{items, next_before}``."""
        return self._object(_get("/api/tasks", workflow_id=workflow_id, state=state,
                                 name=name, before=before, limit=limit))

    def task(self, task_id: int) -> D:
        return self._object(_get(f"/api/tasks/{_seg(task_id)}"))

    def cancel(self, workflow_id: int) -> D:
        """Cancel a workflow: queued tasks never start, running ones are stopped."""
        return self._object(_change("POST", f"/api/workflows/{_seg(workflow_id)}/cancel"))

    def cancel_task(self, task_id: int) -> D:
        """Cancel one task and the tasks that depend on it."""
        return self._object(_change("POST", f"/api/tasks/{_seg(task_id)}/cancel"))

    def retry(self, workflow_id: int) -> D:
        """Run the failed, cancelled and skipped tasks of a finished workflow again."""
        return self._object(_change("POST", f"/api/workflows/{_seg(workflow_id)}/retry"))

    def queue(self, active: int | None = None) -> D:
        """The tenant's open work by state, priority, task type and key."""
        return self._object(_get("/api/workflows/queue", active=active))

    def metrics(self) -> D:
        """The tenant's queue and quota (admins also get the system's telemetry)."""
        return self._object(_get("/api/workflows/metrics"))

    def templates(self) -> L:
        """The templates the server accepts, with their parameter schemas."""
        return self._list(_get("/api/workflows/templates"))

    def template(self, name: str) -> D:
        return self._object(_get(f"/api/workflows/templates/{_seg(name)}"))

    # controls

    def pause(self) -> D:
        """Stop starting tasks of every tenant (admin; durable until resumed)."""
        return self._object(_change("POST", "/api/workflows/emergency/pause"))

    def resume(self) -> D:
        return self._object(_change("POST", "/api/workflows/emergency/resume"))

    def stop(self) -> D:
        """Pause, and cancel every open workflow of every tenant (admin)."""
        return self._object(_change("POST", "/api/workflows/emergency/stop"))

    def pause_tenant(self) -> D:
        """Stop starting the caller's own tenant's tasks (operator)."""
        return self._object(_change("POST", "/api/tenant/pause"))

    def resume_tenant(self) -> D:
        return self._object(_change("POST", "/api/tenant/resume"))

    # governor

    def profiles(self) -> D:
        """The performance profiles and the active one: ``{active, profiles}``."""
        return self._object(_get("/api/profiles"))

    def switch_profile(self, name: str) -> D:
        return self._object(_change("PUT", "/api/profiles/active", {"name": name}))

    def features(self) -> L:
        """Each feature, whether it is on, and why."""
        return self._list(_get("/api/features"))

    def set_feature(self, name: str, state: str, for_s: float | None = None) -> D:
        """Force a feature ``on`` or ``off`` (for ``for_s`` seconds, or until changed),
        or give it back to the governor with ``auto``."""
        body: dict[str, Any] = {"state": state}
        if for_s is not None:
            body["for_s"] = for_s
        return self._object(_change("PUT", f"/api/features/{_seg(name)}", body))

    # system views (admin)

    def alerts(self) -> L:
        return self._list(_get("/api/system/alerts"))

    def bottlenecks(self) -> D:
        """``{active, resolved}`` bottleneck findings."""
        return self._object(_get("/api/system/bottlenecks"))

    def recommendations(self) -> L:
        return self._list(_get("/api/system/recommendations"))

    def capacity(self, target_drain_s: float | None = None) -> D:
        """Drain time and needed concurrency; ``{}`` while the server has no plan yet."""
        return self._object(_get("/api/system/capacity", target_drain_s=target_drain_s))

    def dashboard(self) -> D:
        return self._object(_get("/api/system/dashboard"))

    def report(self, format: str = "json", hours: float = 24) -> B:
        """The performance report as the server renders it: JSON, a self-contained HTML
        page, or (``csv``) a zip of CSV tables."""
        return self._bytes(_get("/api/system/report", format=format, hours=hours))

    # keys and audit (admin)

    def keys(self) -> L:
        """Every key's id and metadata (secrets are never stored, so never listed)."""
        return self._list(_get("/api/keys"))

    def create_key(self, tenant: str, role: str, name: str = "",
                   expires_in_s: float | None = None) -> D:
        """A new key; the answer's ``key`` field is the only time it is ever shown."""
        body: dict[str, Any] = {"tenant": tenant, "role": role, "name": name}
        if expires_in_s is not None:
            body["expires_in_s"] = expires_in_s
        return self._object(_change("POST", "/api/keys", body))

    def revoke_key(self, key_id: str) -> D:
        return self._object(_change("DELETE", f"/api/keys/{_seg(key_id)}"))

    def audit(self, action: str | None = None, before: int | None = None,
              limit: int = 100) -> D:
        """One page of the audit trail, newest first: ``{items, next_before}``."""
        return self._object(_get("/api/audit", action=action, before=before, limit=limit))


# ---------------------------------------------------------------- the clients


class Client(_Endpoints[dict[str, Any], list[Any], bytes]):
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

    def _send(self, call: _Call, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(self._request(call, stream=stream), stream=True)
                try:
                    if not (stream and response.is_success):
                        response.read()
                except BaseException:
                    response.close()
                    raise
            except httpx.TransportError as exc:
                error: ApiError = self._unreachable(exc, call)
            else:
                if response.is_success:
                    return response
                error = self._failure(response)
            delay = self._delay(call, attempt, error)
            if delay is None:
                raise error
            attempt += 1
            time.sleep(delay)

    def _object(self, call: _Call) -> dict[str, Any]:
        response = self._send(call)
        return _as_dict(_json_of(response), response)

    def _list(self, call: _Call) -> list[Any]:
        response = self._send(call)
        return _as_list(_json_of(response), response)

    def _bytes(self, call: _Call) -> bytes:
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
        reader = _SseReader(last_event_id)
        drops = 0
        while True:
            response = self._send(_events_call(workflow_id, reader.last_id), stream=True)
            try:
                for line in response.iter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        drops = 0
                        yield event
            except httpx.TransportError:
                pass  # reconnect below, from the last event seen
            finally:
                response.close()
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
            time.sleep(_poll_delay(workflow, workflow_id, deadline, timeout_s, poll_s))


class AsyncClient(_Endpoints[Awaitable[dict[str, Any]], Awaitable[list[Any]],
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

    async def _send(self, call: _Call, *, stream: bool = False) -> httpx.Response:
        attempt = 0
        while True:
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
                error: ApiError = self._unreachable(exc, call)
            else:
                if response.is_success:
                    return response
                error = self._failure(response)
            delay = self._delay(call, attempt, error)
            if delay is None:
                raise error
            attempt += 1
            await asyncio.sleep(delay)

    async def _object(self, call: _Call) -> dict[str, Any]:
        response = await self._send(call)
        return _as_dict(_json_of(response), response)

    async def _list(self, call: _Call) -> list[Any]:
        response = await self._send(call)
        return _as_list(_json_of(response), response)

    async def _bytes(self, call: _Call) -> bytes:
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
        reader = _SseReader(last_event_id)
        drops = 0
        while True:
            response = await self._send(_events_call(workflow_id, reader.last_id),
                                        stream=True)
            try:
                async for line in response.aiter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        drops = 0
                        yield event
            except httpx.TransportError:
                pass  # reconnect below, from the last event seen
            finally:
                await response.aclose()
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
            await asyncio.sleep(_poll_delay(workflow, workflow_id, deadline, timeout_s,
                                            poll_s))
