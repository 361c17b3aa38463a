"""The guard in front of every route: request ids, headers, origin, load, body size.

One pure ASGI middleware (no per-request task or copy beyond the body it must count):
1. a request id from ``X-Request-ID`` (if it looks like one) or a fresh one, bound to
   every log record of the request and returned in the response;
2. security headers on every response (nosniff, no caching, a CSP that allows nothing,
   no framing);
3. unsafe methods (POST, PUT, PATCH, DELETE) carrying an ``Origin`` header are refused
   unless it is the server's own origin or an allowed one: a browser page elsewhere
   cannot drive the API with a user's ambient credentials;
4. at most ``max_in_flight`` requests at once (streams excepted): the next one gets 503
   with Retry-After straight away, so accepted requests stay fast under overload;
5. bodies over ``body_limit`` bytes get 413 before anything parses them: a declared
   Content-Length is checked first, and a chunked body is counted as it arrives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zerogate.telemetry.logs import bind, new_request_id

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class Guard:
    def __init__(self, app: ASGIApp, *, body_limit: int, max_in_flight: int,
                 streams: Iterable[str] = (), allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.body_limit = body_limit
        self.max_in_flight = max_in_flight
        self.streams = frozenset(streams)
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self.in_flight = 0
        self.shed = 0  # requests answered 503 because the server was saturated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        rid = headers.get("x-request-id", "")
        if not REQUEST_ID.match(rid):
            rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        send = _with_headers(send, [(b"x-request-id", rid.encode()), *SECURITY_HEADERS])
        method = scope["method"]
        if method in UNSAFE and "origin" in headers and not self._origin_ok(headers, scope):
            await _reject(send, 403, "origin_refused",
                          "cross-origin requests that change state are refused", rid)
            return
        counted = scope["path"] not in self.streams
        if counted and self.in_flight >= self.max_in_flight:
            self.shed += 1
            await _reject(send, 503, "overloaded", "the server is at capacity; retry later",
                          rid, retry_after=1)
            return
        if counted:
            self.in_flight += 1
        try:
            if method in UNSAFE or "content-length" in headers:
                body = await self._body(headers, receive)
                if body is None:
                    await _reject(send, 413, "body_too_large",
                                  f"the request body is over {self.body_limit} bytes", rid)
                    return
                receive = _replay(body, receive)
            with bind(request_id=rid):
                await self.app(scope, receive, send)
        finally:
            if counted:
                self.in_flight -= 1

    def _origin_ok(self, headers: dict[str, str], scope: Scope) -> bool:
        origin = headers["origin"].rstrip("/")
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        return origin == own or origin in self.allowed_origins

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.body_limit):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            message["headers"] = [*message.get("headers", []),
                                  *((k, v) for k, v in extra if k not in present)]
        await send(message)
    return wrapped


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the app the counted body, then the connection's own messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


async def _reject(send: Send, status: int, code: str, message: str, rid: str, *,
                  retry_after: int | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "request_id": rid}}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"),
                          (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
